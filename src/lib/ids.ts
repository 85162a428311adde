import { randomBytes } from 'node:crypto';

/** A UUID version 7 (RFC 9562): 48-bit millisecond time, version 7, variant 10, random rest. */
export function uuidv7(now: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(now, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
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
