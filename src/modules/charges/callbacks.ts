/**
 * Charge callbacks: a signed POST to the charge's callback_url after every status change of the
 * charge or of one of its installments.
 *
 * - Durable: a delivery row is written in the same transaction as the status change, so a crash
 *   or restart loses none; the worker sends what is due.
 * - Signed the Standard Webhooks way with the merchant's secret: `webhook-id` (the delivery id,
 *   the same on every retry, so receivers can drop duplicates), `webhook-timestamp` (the
 *   attempt's time) and `webhook-signature`.
 * - Retried after any answer but a 2xx, and after a timeout or a network error, with exponential
 *   backoff and ±20 % jitter (10 s doubling up to 1 h) until 24 h after the delivery was queued
 *   (or last redelivered); a failed attempt after that marks it failed. A redirect is a failure:
 *   it is never followed.
 * - The URL is checked again at every send, after DNS resolution and pinned to the checked
 *   addresses (ssrf-guard.ts); a URL that now points at a forbidden address fails at once.
 * - Claimed with SKIP LOCKED and leased while sending: several instances never send one
 *   delivery at the same time.
 */
import type { Db } from '../../db/database.ts';
import { transact, type Deps } from '../../deps.ts';
import { notFound } from '../../errors.ts';
import type { ChargeCallbackDelivery } from '../../generated/prisma/client.ts';
import { uuidv7 } from '../../lib/ids.ts';
import { callbackUrlOptions } from './runtime.ts';
import { safeFetch } from './ssrf-guard.ts';
import { generateWebhookSecret, signWebhook } from './webhook-signature.ts';

export const RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;
export const FIRST_RETRY_MS = 10_000;
export const MAX_RETRY_MS = 60 * 60 * 1000;
const CLAIM_BATCH = 10;
const USER_AGENT = 'payments-platform-charges/1.0';
/** Refusals that another try cannot fix: the URL itself is not allowed. */
const PERMANENT_REFUSALS = new Set(['invalid_url', 'unsupported_scheme', 'credentials_in_url', 'forbidden_address']);

/** Delay before retry `attempt` (1 = after the first failure): min(10 s × 2^(n-1), 1 h) ± 20 %. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const base = Math.min(FIRST_RETRY_MS * 2 ** Math.min(attempt - 1, 30), MAX_RETRY_MS);
  return Math.round(base * (0.8 + 0.4 * random()));
}

export const newDeliveryId = (now: Date) => `msg_${uuidv7(now.getTime()).replaceAll('-', '')}`;

/** The merchant's signing secret, created on first use. */
export async function callbackSecret(db: Db, merchantId: string, now: Date): Promise<string> {
  await db.$executeRawUnsafe(
    `INSERT INTO charge_callback_secrets (merchant_id, secret, created_at) VALUES ($1, $2, $3::timestamptz) ON CONFLICT DO NOTHING`,
    merchantId,
    generateWebhookSecret(),
    now.toISOString(),
  );
  const row = await db.chargeCallbackSecret.findUniqueOrThrow({ where: { merchantId } });
  return row.secret;
}

/** Replaces the signing secret; callbacks sent from now on are signed with the new one. */
export async function rotateCallbackSecret(db: Db, merchantId: string, now: Date): Promise<string> {
  const secret = generateWebhookSecret();
  await db.chargeCallbackSecret.upsert({
    where: { merchantId },
    create: { merchantId, secret, createdAt: now },
    update: { secret, createdAt: now },
  });
  return secret;
}

export interface CallbackToQueue {
  merchantId: string;
  chargeId: number;
  url: string;
  event: string;
  data: unknown;
}

/** Queues callbacks inside the caller's transaction (the one making the status change). */
export async function queueCallbacks(db: Db, callbacks: CallbackToQueue[], now: Date): Promise<void> {
  if (callbacks.length === 0) return;
  await db.chargeCallbackDelivery.createMany({
    data: callbacks.map((callback) => {
      const id = newDeliveryId(now);
      return {
        id,
        merchantId: callback.merchantId,
        chargeId: callback.chargeId,
        event: callback.event,
        url: callback.url,
        body: JSON.stringify({ id, type: callback.event, timestamp: now.toISOString(), data: callback.data }),
        status: 'pending',
        nextAttemptAt: now,
        retryUntil: new Date(now.getTime() + RETRY_WINDOW_MS),
        createdAt: now,
        updatedAt: now,
      };
    }),
  });
}

/**
 * Sends a delivery again (same id and body), with a fresh 24 h of retries. While a worker is sending
 * it, the redelivery waits for that attempt (see record): sent again at once if it did not get
 * through, never by a second worker at the same time.
 */
export async function redeliverCallback(deps: Deps, merchantId: string, deliveryId: string): Promise<ChargeCallbackDelivery> {
  const now = deps.clock.now();
  const changed = await deps.prisma.$executeRawUnsafe(
    `UPDATE charge_callback_deliveries
     SET status = 'pending', retry_until = $4::timestamptz, updated_at = $3::timestamptz,
         redelivery_asked = coalesce(leased_until > $3::timestamptz, false),
         next_attempt_at = CASE WHEN leased_until > $3::timestamptz THEN next_attempt_at ELSE $3::timestamptz END
     WHERE id = $1 AND merchant_id = $2`,
    deliveryId,
    merchantId,
    now.toISOString(),
    new Date(now.getTime() + RETRY_WINDOW_MS).toISOString(),
  );
  if (changed === 0) throw notFound('Callback delivery');
  return deps.prisma.chargeCallbackDelivery.findUniqueOrThrow({ where: { id: deliveryId } });
}

interface ClaimedDelivery {
  id: string;
  merchant_id: string;
  url: string;
  body: string;
}

interface AttemptResult {
  responseStatus: number | null;
  error: string | null;
  permanent: boolean;
}

async function send(deps: Deps, delivery: ClaimedDelivery, secret: string, now: Date): Promise<AttemptResult> {
  const headers = {
    'content-type': 'application/json',
    'user-agent': USER_AGENT,
    ...signWebhook({ id: delivery.id, timestamp: now, body: delivery.body, secret }),
  };
  try {
    const result = await safeFetch(
      delivery.url,
      { method: 'POST', headers, body: delivery.body, signal: AbortSignal.timeout(deps.config.CHARGES_CALLBACK_TIMEOUT_MS) },
      { ...callbackUrlOptions(deps), maxRedirects: 0 },
    );
    if (!result.ok) return { responseStatus: null, error: `${result.reason}: ${result.message}`, permanent: PERMANENT_REFUSALS.has(result.reason) };
    await result.response.body?.cancel().catch(() => {});
    const status = result.response.status;
    return status >= 200 && status < 300
      ? { responseStatus: status, error: null, permanent: false }
      : { responseStatus: status, error: `HTTP ${status}`, permanent: false };
  } catch (error) {
    const name = (error as Error).name;
    const message = name === 'TimeoutError' || name === 'AbortError' ? `no answer within ${deps.config.CHARGES_CALLBACK_TIMEOUT_MS} ms` : (error as Error).message;
    return { responseStatus: null, error: message.slice(0, 500), permanent: false };
  }
}

/**
 * Records an attempt on the delivery as it is now (locked): its attempt count, and a redelivery
 * asked while the attempt was under way (with a fresh retry window), which sends it again at once
 * unless this attempt got through.
 */
async function record(deps: Deps, delivery: ClaimedDelivery, result: AttemptResult, attemptedAt: Date): Promise<void> {
  const now = deps.clock.now();
  const delivered = result.error === null;
  await transact(deps, async (tx) => {
    const [current] = await tx.$queryRawUnsafe<{ attempts: number; retry_until: Date; redelivery_asked: boolean }[]>(
      `SELECT attempts, retry_until, redelivery_asked FROM charge_callback_deliveries WHERE id = $1 FOR UPDATE`,
      delivery.id,
    );
    const attempt = current!.attempts + 1;
    const redelivery = current!.redelivery_asked;
    const giveUp = !delivered && !redelivery && (result.permanent || now.getTime() >= current!.retry_until.getTime());
    await tx.chargeCallbackAttempt.create({
      data: { id: uuidv7(now.getTime()), deliveryId: delivery.id, number: attempt, attemptedAt, responseStatus: result.responseStatus, error: result.error },
    });
    await tx.chargeCallbackDelivery.update({
      where: { id: delivery.id },
      data: {
        attempts: attempt,
        status: delivered ? 'delivered' : giveUp ? 'failed' : 'pending',
        nextAttemptAt: delivered || giveUp || redelivery ? now : new Date(now.getTime() + retryDelayMs(attempt)),
        leasedUntil: null,
        redeliveryAsked: false,
        lastStatus: result.responseStatus,
        lastError: result.error,
        ...(delivered ? { deliveredAt: now } : {}),
        updatedAt: now,
      },
    });
  });
}

/**
 * Sends every delivery due now (of the given merchants, or all), in batches; answers how many
 * attempts were made. Each is claimed (and leased past the send timeout) in one statement, so two
 * workers never take the same one; a worker that dies while sending leaves it to the next round
 * once the lease has run out.
 */
export async function deliverDueCallbacks(deps: Deps, merchantIds: string[] | null = null): Promise<number> {
  let made = 0;
  for (;;) {
    const now = deps.clock.now();
    const lease = new Date(now.getTime() + deps.config.CHARGES_CALLBACK_TIMEOUT_MS + 30_000);
    const claimed = await deps.prisma.$queryRawUnsafe<ClaimedDelivery[]>(
      `WITH due AS (
         SELECT id FROM charge_callback_deliveries
         WHERE status = 'pending' AND next_attempt_at <= $1::timestamptz AND (leased_until IS NULL OR leased_until <= $1::timestamptz)
           AND ($4::text[] IS NULL OR merchant_id = ANY($4::text[]))
         ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
       UPDATE charge_callback_deliveries d SET leased_until = $3::timestamptz
       FROM due WHERE d.id = due.id
       RETURNING d.id, d.merchant_id, d.url, d.body`,
      now.toISOString(),
      CLAIM_BATCH,
      lease.toISOString(),
      merchantIds,
    );
    await Promise.all(
      claimed.map(async (delivery) => {
        const attemptedAt = deps.clock.now();
        const secret = await callbackSecret(deps.prisma, delivery.merchant_id, attemptedAt);
        const result = await send(deps, delivery, secret, attemptedAt);
        await record(deps, delivery, result, attemptedAt);
      }),
    );
    made += claimed.length;
    if (claimed.length < CLAIM_BATCH) return made;
  }
}

/** Polls for due deliveries and sends them; `kick` asks for a round at once. Rounds never overlap. */
export function startCallbackWorker(deps: Deps, pollMs: number): { kick: () => void; stop: () => Promise<void> } {
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const kick = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await deliverDueCallbacks(deps);
        } catch (error) {
          deps.logger.warn({ err: (error as Error).message }, 'charge callback round failed; deliveries stay queued');
        }
      } while (again && !stopped);
    })().finally(() => {
      running = null;
    });
  };
  const timer = setInterval(kick, pollMs);
  timer.unref();
  return {
    kick,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
