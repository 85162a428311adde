import { randomBytes, randomUUID } from 'node:crypto';

/** The time part of the last millisecond's ids: printing a time in hex costs more than the rest of an id. */
let prefixTime = Number.NaN;
let prefix = '';

/**
 * A UUID version 7 (RFC 9562): 48-bit millisecond time, version 7, variant 10, random rest. The
 * random bits are a version 4 UUID's (from Node's pooled entropy, far cheaper than reading random
 * bytes per id), whose version digit gives way to 7 and whose variant is already 10.
 */
export function uuidv7(now: number = Date.now()): string {
  if (now !== prefixTime) {
    const time = now.toString(16).padStart(12, '0');
    prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`;
    prefixTime = now;
  }
  return prefix + randomUUID().slice(15);
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export function isUuidV7(value: string): boolean {
  return UUID_V7.test(value);
}

/** `bytes` random bytes as lowercase hex: wallet and company ids are 32 hex characters. */
export function randomHex(bytes = 16): string {
  return randomBytes(bytes).toString('hex');
}

/** An unguessable secret with a readable prefix telling what it is. */
export function secret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}
