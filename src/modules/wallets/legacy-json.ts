/**
 * Exact JSON numbers for the legacy wallet API, whose amounts are JSON numbers with decimals.
 * JSON.parse turns `100.10` into a float; Node 20 has no reviver access to the source text, so
 * the source text of each number is read by a small scanner over the (already validated) body,
 * and answers are written by an encoder that prints decimals digit for digit.
 */

/** A decimal written into a JSON answer as a number, exactly as given. */
export class JsonDecimal {
  constructor(readonly text: string) {
    if (!/^-?(0|[1-9]\d*)(\.\d+)?$/.test(text)) throw new Error(`not a decimal: ${text}`);
  }
}

/** JSON text of `value`, where JsonDecimal and bigint values are written as plain numbers. */
export function encodeLegacyJson(value: unknown): string {
  if (value instanceof JsonDecimal) return value.text;
  if (typeof value === 'bigint') return value.toString();
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return `[${value.map(encodeLegacyJson).join(',')}]`;
  if (typeof value === 'object') {
    const members = Object.entries(value as Record<string, unknown>).filter(([, member]) => member !== undefined);
    return `{${members.map(([key, member]) => `${JSON.stringify(key)}:${encodeLegacyJson(member)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

function stringEnd(text: string, start: number): number {
  for (let i = start + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  return text.length;
}

interface Frame {
  kind: 'object' | 'array';
  key: string;
  index: number;
  expectingKey: boolean;
}

/**
 * The source text of every number of a valid JSON document, by path (member names, array
 * indexes). Where a member name repeats, the last one wins, as with JSON.parse.
 */
export function numberTokens(text: string): { get(path: (string | number)[]): string | undefined } {
  const found = new Map<string, string>();
  const stack: Frame[] = [];
  const here = () => JSON.stringify(stack.map((frame) => (frame.kind === 'object' ? frame.key : frame.index)));
  let i = 0;
  while (i < text.length) {
    const char = text[i]!;
    const top = stack.at(-1);
    if (char === '"') {
      const end = stringEnd(text, i);
      if (top?.kind === 'object' && top.expectingKey) {
        top.key = JSON.parse(text.slice(i, end)) as string;
        top.expectingKey = false;
      }
      i = end;
    } else if (char === '{' || char === '[') {
      stack.push({ kind: char === '{' ? 'object' : 'array', key: '', index: 0, expectingKey: char === '{' });
      i++;
    } else if (char === '}' || char === ']') {
      stack.pop();
      i++;
    } else if (char === ',') {
      if (top?.kind === 'object') top.expectingKey = true;
      else if (top) top.index++;
      i++;
    } else if (char === '-' || (char >= '0' && char <= '9')) {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0] ?? char;
      found.set(here(), token);
      i += token.length;
    } else i++;
  }
  return { get: (path) => found.get(JSON.stringify(path)) };
}
