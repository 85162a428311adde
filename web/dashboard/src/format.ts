const fractionDigits = new Map<string, number>();

/** Minor units of an ISO 4217 currency, as the browser's locale data knows them (IRR 0, BRL 2). */
function digitsOf(currency: string): number {
  let digits = fractionDigits.get(currency);
  if (digits === undefined) {
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      digits = 0;
    }
    fractionDigits.set(currency, digits);
  }
  return digits;
}

/** An amount in minor units (a decimal string, never a float) with its currency: "1,500 IRR", "12.30 BRL". */
export function money(minor: string | null | undefined, currency: string): string {
  if (minor === null || minor === undefined) return '—';
  const negative = minor.startsWith('-');
  const digits = digitsOf(currency);
  const units = (negative ? minor.slice(1) : minor).padStart(digits + 1, '0');
  const whole = units.slice(0, units.length - digits).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const fraction = digits > 0 ? `.${units.slice(units.length - digits)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction} ${currency}`;
}

/** Sums decimal strings exactly. */
export const addMinor = (a: string, b: string): string => (BigInt(a) + BigInt(b)).toString();

export function time(iso: string): string {
  return new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

export function dateTime(iso: string): string {
  return new Date(iso).toLocaleString();
}

export const label = (value: string): string => value.toLowerCase().replace(/_/g, ' ');

/** Elements built from data: text always goes in as text, never as markup. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | undefined> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) element.setAttribute(name, value);
  for (const child of children) if (child !== null && child !== undefined) element.append(child);
  return element;
}
