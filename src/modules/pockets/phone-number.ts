const CANONICAL = /^989\d{9}$/;

// Persian (U+06F0…) and Arabic-Indic (U+0660…) digits, as a user's keyboard may type them.
const LOCAL_DIGITS = /[\u06F0-\u06F9\u0660-\u0669]/g;

function asciiDigits(value: string): string {
  return value.replace(LOCAL_DIGITS, (digit) => String(digit.charCodeAt(0) - (digit >= '\u06F0' ? 0x06f0 : 0x0660)));
}

/**
 * An Iranian mobile number in its canonical form, `98` and the ten national digits
 * (`989120000000`), or null. Accepts the forms users send: `989120000000`, `+989120000000`,
 * `00989120000000`, `09120000000` and `9120000000`, with Persian or Arabic-Indic digits, and with
 * spaces or hyphens between groups of digits.
 */
export function canonicalPhoneNumber(value: string): string | null {
  if (CANONICAL.test(value)) return value;
  if (value.length > 32) return null;
  const compact = asciiDigits(value.trim()).replace(/[\s-]/g, '');
  const match = /^(?:\+98|0098|98|0)?(9\d{9})$/.exec(compact);
  return match ? `98${match[1]}` : null;
}
