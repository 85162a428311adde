/**
 * Whether a value holds a string (or an object key) that PostgreSQL text cannot store: an unpaired
 * surrogate, which JSON can carry as a `\ud800` escape, or NUL. The database driver refuses such
 * text, so it is dealt with at the edge instead of failing deep inside a transaction: GraphQL
 * refuses such variables, legacy requests have it replaced (below).
 */
export function hasUnstorableText(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return UNSTORABLE.test(value);
  if (depth > 64 || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((item) => hasUnstorableText(item, depth + 1));
  return Object.entries(value).some(([key, item]) => UNSTORABLE.test(key) || hasUnstorableText(item, depth + 1));
}

// With the `u` flag a proper pair is one code point, so only unpaired halves match.
const UNSTORABLE = /\p{Surrogate}|\u0000/u;

export const ILL_FORMED_TEXT_MESSAGE = 'The request contains text that cannot be stored: an unpaired surrogate or a NUL character.';

/**
 * JSON text with every `\uXXXX` escape of an unpaired surrogate (or of NUL) replaced by `\ufffd`,
 * the replacement character, as a UTF-8 encoder does for the former; everything else is left byte
 * for byte (some routes read numbers from the source text). Answers null when there was nothing
 * to replace.
 */
export function replaceUnstorableEscapes(text: string): string | null {
  if (!/\\u([dD][89a-fA-F]|0000)/.test(text)) return null;
  let out = '';
  let changed = false;
  let i = 0;
  const code = (at: number) => (text[at] === '\\' && text[at + 1] === 'u' ? Number.parseInt(text.slice(at + 2, at + 6), 16) : Number.NaN);
  while (i < text.length) {
    const char = text[i]!;
    if (char !== '\\') {
      out += char;
      i++;
      continue;
    }
    if (text[i + 1] !== 'u') {
      out += text.slice(i, i + 2);
      i += 2;
      continue;
    }
    const unit = code(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = code(i + 6);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out += text.slice(i, i + 12);
        i += 12;
        continue;
      }
    }
    if ((unit >= 0xd800 && unit <= 0xdfff) || unit === 0) {
      out += '\\ufffd';
      changed = true;
    } else {
      out += text.slice(i, i + 6);
    }
    i += 6;
  }
  return changed ? out : null;
}

/** A URL's `%00` (NUL) as `%EF%BF%BD` (U+FFFD), for the same reason; null when there is none. */
export function replaceNulInUrl(url: string): string | null {
  return /%00/.test(url) ? url.replace(/%00/g, '%EF%BF%BD') : null;
}

/**
 * A form body's NUL as U+FFFD, for the same reason; null when there is none. URL-encoded, NUL is
 * `%00` or a raw byte, and becomes `%EF%BF%BD`; in multipart fields, which are not percent-decoded,
 * only the raw byte is NUL.
 */
export function replaceNulInForm(text: string, multipart: boolean): string | null {
  if (multipart) return text.includes('\u0000') ? text.replaceAll('\u0000', '\uFFFD') : null;
  return /%00|\u0000/.test(text) ? text.replace(/%00|\u0000/g, '%EF%BF%BD') : null;
}
