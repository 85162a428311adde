/**
 * Standard Webhooks symmetric signatures (https://www.standardwebhooks.com, spec v1):
 * `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
 * bytes behind a `whsec_<base64>` secret, so merchants can verify us with any Standard
 * Webhooks or Svix library.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
export const DEFAULT_TOLERANCE_SECONDS = 300;

// The spec asks for at least 24 random bytes and at most 64.
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const SIGNATURE_BYTES = 32;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// A type, not an interface, so that it is assignable to `HeadersInit` and header records.
export type WebhookHeaders = {
  readonly 'webhook-id': string;
  readonly 'webhook-timestamp': string;
  readonly 'webhook-signature': string;
};

/** Fetch `Headers`, or Node's `IncomingHttpHeaders`-like record (any key case). */
export type WebhookHeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

export type WebhookRejection =
  | 'missing_header'
  | 'invalid_timestamp'
  | 'timestamp_too_old'
  | 'timestamp_too_new'
  | 'no_matching_signature';

export type WebhookVerification =
  | { readonly ok: true; readonly id: string; readonly timestamp: Date }
  | { readonly ok: false; readonly reason: WebhookRejection; readonly message: string };

export interface SignWebhookInput {
  readonly id: string;
  /** Sent as whole seconds. */
  readonly timestamp: Date;
  /** Exactly the bytes that will be sent. */
  readonly body: string | Uint8Array;
  readonly secret: string;
}

export interface VerifyWebhookInput {
  readonly headers: WebhookHeaderSource;
  /** The raw body as received, before any JSON parsing. */
  readonly body: string | Uint8Array;
  readonly secret: string;
  readonly toleranceSeconds?: number;
  readonly now?: Date;
}

/** `whsec_` and 32 random bytes in base64. */
export function generateWebhookSecret(): string {
  return `${WEBHOOK_SECRET_PREFIX}${randomBytes(32).toString('base64')}`;
}

/** Throws on a malformed secret, or an id holding a `.` (it would blur the signed content). */
export function signWebhook({ id, timestamp, body, secret }: SignWebhookInput): WebhookHeaders {
  if (id === '' || id.includes('.')) throw new TypeError('webhook id must be non-empty and hold no "."');
  const seconds = String(Math.floor(timestamp.getTime() / 1000));
  const signature = hmac(secretKey(secret), id, seconds, body).toString('base64');
  return { 'webhook-id': id, 'webhook-timestamp': seconds, 'webhook-signature': `v1,${signature}` };
}

/**
 * Accepts when the timestamp is within `toleranceSeconds` of `now` either way and any `v1`
 * signature of the space-separated list (several during a secret rotation) matches.
 * Throws on a malformed secret: that is our configuration, not the sender's fault.
 */
export function verifyWebhook({
  headers,
  body,
  secret,
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
  now = new Date(),
}: VerifyWebhookInput): WebhookVerification {
  const key = secretKey(secret);
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatures) {
    return rejection('missing_header', 'webhook-id, webhook-timestamp and webhook-signature are required');
  }
  if (!/^\d{1,12}$/.test(timestampText)) {
    return rejection('invalid_timestamp', 'webhook-timestamp must be whole seconds since the epoch');
  }
  const timestamp = Number(timestampText);
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (timestamp < nowSeconds - toleranceSeconds) return rejection('timestamp_too_old', 'webhook-timestamp is too old');
  if (timestamp > nowSeconds + toleranceSeconds) return rejection('timestamp_too_new', 'webhook-timestamp is in the future');

  const expected = hmac(key, id, timestampText, body);
  for (const entry of signatures.split(' ')) {
    // Node joins repeated headers with ", ", leaving a trailing comma on all but the last.
    const [version, encoded] = entry.replace(/,$/, '').split(',');
    if (version !== 'v1' || encoded === undefined || !BASE64.test(encoded)) continue;
    const candidate = Buffer.from(encoded, 'base64');
    if (candidate.length === SIGNATURE_BYTES && timingSafeEqual(candidate, expected)) {
      return { ok: true, id, timestamp: new Date(timestamp * 1000) };
    }
  }
  return rejection('no_matching_signature', 'No webhook-signature matches the body');
}

function hmac(key: Buffer, id: string, seconds: string, body: string | Uint8Array): Buffer {
  return createHmac('sha256', key).update(`${id}.${seconds}.`).update(body).digest();
}

function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : undefined;
  const key = encoded !== undefined && BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
  if (!key || key.length < MIN_SECRET_BYTES || key.length > MAX_SECRET_BYTES) {
    throw new TypeError(`webhook secret must be ${WEBHOOK_SECRET_PREFIX} and ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES} bytes in base64`);
  }
  return key;
}

function header(headers: WebhookHeaderSource, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name || value === undefined) continue;
    return typeof value === 'string' ? value : value.join(' ');
  }
  return undefined;
}

function rejection(reason: WebhookRejection, message: string): WebhookVerification {
  return { ok: false, reason, message };
}
