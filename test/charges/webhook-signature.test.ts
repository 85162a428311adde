import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TOLERANCE_SECONDS,
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
} from '../../src/modules/charges/webhook-signature.ts';
import type { WebhookRejection } from '../../src/modules/charges/webhook-signature.ts';

// The vector the Standard Webhooks and Svix libraries test themselves with.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const SECONDS = 1614265330;
const BODY = '{"test": 2432232314}';
const PUBLISHED_SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
const AT = new Date(SECONDS * 1000);

/** The scheme written out from the spec, with nothing shared with the module. */
function independentSignature(secret: string, id: string, seconds: number, body: string | Buffer): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const content = Buffer.concat([Buffer.from(`${id}.${seconds}.`), Buffer.from(body)]);
  return `v1,${createHmac('sha256', key).update(content).digest('base64')}`;
}

describe('signWebhook', () => {
  it('reproduces the published Standard Webhooks vector', () => {
    expect(independentSignature(SECRET, ID, SECONDS, BODY)).toBe(PUBLISHED_SIGNATURE);
    expect(signWebhook({ id: ID, timestamp: AT, body: BODY, secret: SECRET })).toEqual({
      'webhook-id': ID,
      'webhook-timestamp': '1614265330',
      'webhook-signature': PUBLISHED_SIGNATURE,
    });
  });

  it('matches the independent computation for generated secrets, ids, times and bodies', () => {
    for (let round = 0; round < 200; round++) {
      const secret = generateWebhookSecret();
      const id = `msg_${round}_${secret.slice(-8).replace(/[+/=]/g, 'x')}`;
      const seconds = 1_700_000_000 + round * 7919;
      const body = JSON.stringify({ round, text: 'ação çñ 🚀', amount: '150.00' });
      const headers = signWebhook({ id, timestamp: new Date(seconds * 1000 + 999), body, secret });
      expect(headers['webhook-timestamp']).toBe(String(seconds));
      expect(headers['webhook-signature']).toBe(independentSignature(secret, id, seconds, body));
    }
  });

  it('signs bytes and the same text identically', () => {
    const text = '{"amount":"150.00","name":"Conceição"}';
    const fromText = signWebhook({ id: ID, timestamp: AT, body: text, secret: SECRET });
    const fromBytes = signWebhook({ id: ID, timestamp: AT, body: new TextEncoder().encode(text), secret: SECRET });
    expect(fromBytes).toEqual(fromText);
  });

  it('throws on an id that would blur the signed content', () => {
    expect(() => signWebhook({ id: 'msg.1', timestamp: AT, body: BODY, secret: SECRET })).toThrow(TypeError);
    expect(() => signWebhook({ id: '', timestamp: AT, body: BODY, secret: SECRET })).toThrow(TypeError);
  });

  it.each([
    ['no prefix', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['another prefix', 'whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['not base64', 'whsec_not base64 at all!!!!!!!!!!!!'],
    ['16 bytes', `whsec_${Buffer.alloc(16, 1).toString('base64')}`],
    ['65 bytes', `whsec_${Buffer.alloc(65, 1).toString('base64')}`],
    ['empty', 'whsec_'],
  ])('throws on a malformed secret (%s)', (_, secret) => {
    expect(() => signWebhook({ id: ID, timestamp: AT, body: BODY, secret })).toThrow(TypeError);
    expect(() => verifyWebhook({ headers: {}, body: BODY, secret, now: AT })).toThrow(TypeError);
  });
});

describe('generateWebhookSecret', () => {
  it('makes whsec_ secrets of 32 random bytes', () => {
    const secrets = new Set(Array.from({ length: 100 }, () => generateWebhookSecret()));
    expect(secrets.size).toBe(100);
    for (const secret of secrets) {
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    }
  });
});

describe('verifyWebhook', () => {
  const signed = { 'webhook-id': ID, 'webhook-timestamp': String(SECONDS), 'webhook-signature': PUBLISHED_SIGNATURE };

  it('accepts the published vector', () => {
    expect(verifyWebhook({ headers: signed, body: BODY, secret: SECRET, now: AT })).toEqual({
      ok: true,
      id: ID,
      timestamp: AT,
    });
  });

  it('accepts fetch Headers, upper-case keys and a raw body in bytes', () => {
    expect(verifyWebhook({ headers: new Headers(signed), body: BODY, secret: SECRET, now: AT }).ok).toBe(true);
    const shouting = Object.fromEntries(Object.entries(signed).map(([key, value]) => [key.toUpperCase(), value]));
    expect(verifyWebhook({ headers: shouting, body: Buffer.from(BODY), secret: SECRET, now: AT }).ok).toBe(true);
  });

  it('round-trips what signWebhook produces', () => {
    for (let round = 0; round < 100; round++) {
      const secret = generateWebhookSecret();
      const body = JSON.stringify({ round });
      const headers = signWebhook({ id: `msg_${round}`, timestamp: AT, body, secret });
      expect(verifyWebhook({ headers, body, secret, now: AT }).ok).toBe(true);
      expect(verifyWebhook({ headers, body, secret: generateWebhookSecret(), now: AT }).ok).toBe(false);
    }
  });

  it('accepts any v1 signature in the list, as during a secret rotation', () => {
    const rotated = independentSignature(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, ID, SECONDS, BODY);
    for (const list of [
      `${rotated} ${PUBLISHED_SIGNATURE}`,
      `v1,bm9wZQ== ${PUBLISHED_SIGNATURE}`,
      `v1a,${PUBLISHED_SIGNATURE.slice(3)} ${PUBLISHED_SIGNATURE}`,
      // What Node makes of two webhook-signature headers.
      `${rotated}, ${PUBLISHED_SIGNATURE}`,
    ]) {
      const result = verifyWebhook({ headers: { ...signed, 'webhook-signature': list }, body: BODY, secret: SECRET, now: AT });
      expect(result.ok).toBe(true);
    }
    const repeated = { ...signed, 'webhook-signature': [rotated, PUBLISHED_SIGNATURE] };
    expect(verifyWebhook({ headers: repeated, body: BODY, secret: SECRET, now: AT }).ok).toBe(true);
  });

  it.each<[string, Record<string, string>, string, WebhookRejection]>([
    ['a changed body', signed, '{"test": 2432232315}', 'no_matching_signature'],
    ['a body with a trailing newline', signed, `${BODY}\n`, 'no_matching_signature'],
    ['a changed id', { ...signed, 'webhook-id': 'msg_other' }, BODY, 'no_matching_signature'],
    ['a changed timestamp', { ...signed, 'webhook-timestamp': String(SECONDS + 1) }, BODY, 'no_matching_signature'],
    ['a zero-padded timestamp', { ...signed, 'webhook-timestamp': `0${SECONDS}` }, BODY, 'no_matching_signature'],
    ['an asymmetric signature only', { ...signed, 'webhook-signature': `v1a,${PUBLISHED_SIGNATURE.slice(3)}` }, BODY, 'no_matching_signature'],
    ['an unknown version', { ...signed, 'webhook-signature': `v2,${PUBLISHED_SIGNATURE.slice(3)}` }, BODY, 'no_matching_signature'],
    ['a bare signature', { ...signed, 'webhook-signature': PUBLISHED_SIGNATURE.slice(3) }, BODY, 'no_matching_signature'],
    ['a truncated signature', { ...signed, 'webhook-signature': PUBLISHED_SIGNATURE.slice(0, -4) }, BODY, 'no_matching_signature'],
    ['a longer signature', { ...signed, 'webhook-signature': `${PUBLISHED_SIGNATURE.slice(0, -1)}AAAA` }, BODY, 'no_matching_signature'],
    ['a signature that is not base64', { ...signed, 'webhook-signature': 'v1,!!!!' }, BODY, 'no_matching_signature'],
    ['a hex signature', { ...signed, 'webhook-signature': `v1,${'ab'.repeat(32)}` }, BODY, 'no_matching_signature'],
    ['no id', { 'webhook-timestamp': signed['webhook-timestamp'], 'webhook-signature': PUBLISHED_SIGNATURE }, BODY, 'missing_header'],
    ['no timestamp', { 'webhook-id': ID, 'webhook-signature': PUBLISHED_SIGNATURE }, BODY, 'missing_header'],
    ['no signature', { 'webhook-id': ID, 'webhook-timestamp': String(SECONDS) }, BODY, 'missing_header'],
    ['an empty signature', { ...signed, 'webhook-signature': '' }, BODY, 'missing_header'],
    ['a timestamp in milliseconds', { ...signed, 'webhook-timestamp': String(SECONDS * 1000) }, BODY, 'invalid_timestamp'],
    ['a negative timestamp', { ...signed, 'webhook-timestamp': '-1' }, BODY, 'invalid_timestamp'],
    ['a fractional timestamp', { ...signed, 'webhook-timestamp': `${SECONDS}.5` }, BODY, 'invalid_timestamp'],
    ['a date as timestamp', { ...signed, 'webhook-timestamp': AT.toISOString() }, BODY, 'invalid_timestamp'],
  ])('refuses %s', (_, headers, body, reason) => {
    const result = verifyWebhook({ headers, body, secret: SECRET, now: AT });
    expect(result).toMatchObject({ ok: false, reason });
  });

  it('accepts timestamps within the tolerance either way, inclusive, and no further', () => {
    const at = (offsetSeconds: number) => new Date((SECONDS + offsetSeconds) * 1000);
    const verify = (now: Date, toleranceSeconds?: number) =>
      verifyWebhook({ headers: signed, body: BODY, secret: SECRET, now, ...(toleranceSeconds === undefined ? {} : { toleranceSeconds }) });
    expect(DEFAULT_TOLERANCE_SECONDS).toBe(300);
    expect(verify(at(300)).ok).toBe(true);
    expect(verify(at(-300)).ok).toBe(true);
    expect(verify(at(301))).toMatchObject({ ok: false, reason: 'timestamp_too_old' });
    expect(verify(at(-301))).toMatchObject({ ok: false, reason: 'timestamp_too_new' });
    expect(verify(at(60), 60).ok).toBe(true);
    expect(verify(at(61), 60)).toMatchObject({ ok: false, reason: 'timestamp_too_old' });
    expect(verify(new Date()).ok).toBe(false);
  });

  it('checks the timestamp before trusting a valid signature, so replays fail', () => {
    const headers = signWebhook({ id: ID, timestamp: AT, body: BODY, secret: SECRET });
    const aDayLater = new Date(AT.getTime() + 86_400_000);
    expect(verifyWebhook({ headers, body: BODY, secret: SECRET, now: aDayLater })).toMatchObject({
      ok: false,
      reason: 'timestamp_too_old',
    });
  });
});
