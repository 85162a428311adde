import { Redis } from 'ioredis';
import type { Principal } from '../auth/principal.ts';
import type { Config } from '../config.ts';
import type { Clock } from '../deps.ts';
import type { Logger } from '../logger.ts';

export const RATE_WINDOW_MS = 60_000;

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  readonly enabled: boolean;
  /**
   * Takes `operations` from the budgets of the caller's credential and merchant for the current
   * minute, or nothing when either budget would be exceeded: a refused request costs nothing.
   */
  consume(principal: Principal, operations: number): Promise<RateDecision>;
  /** Where budgets are counted now: `shared` (Redis), `local` (no Redis configured), `fallback` (Redis unreachable), `off`. */
  counting(): 'off' | 'local' | 'shared' | 'fallback';
  /** Waits (a bounded time) for the shared counters' connection, so that the first requests use it. */
  connect(): Promise<void>;
  close(): Promise<void>;
}

interface Budget {
  key: string;
  limit: number;
}

function budgetsOf(config: Config, principal: Principal): Budget[] {
  const budgets: Budget[] = [{ key: `credential:${principal.credentialId}`, limit: config.RATE_LIMIT_OPERATIONS_PER_MINUTE }];
  if (principal.kind === 'merchant' && config.RATE_LIMIT_MERCHANT_OPERATIONS_PER_MINUTE > 0) {
    budgets.push({ key: `merchant:${principal.merchantId}`, limit: config.RATE_LIMIT_MERCHANT_OPERATIONS_PER_MINUTE });
  }
  return budgets;
}

/** Fixed one-minute windows, numbered from the epoch, so that every instance agrees on them. */
function windowOf(now: number): { index: number; retryAfterSeconds: number } {
  const index = Math.floor(now / RATE_WINDOW_MS);
  return { index, retryAfterSeconds: Math.max(1, Math.ceil(((index + 1) * RATE_WINDOW_MS - now) / 1000)) };
}

/** Counters in this process: for one instance, and the fallback while Redis cannot be reached. */
class MemoryCounters {
  #window = -1;
  readonly #used = new Map<string, number>();

  take(budgets: Budget[], operations: number, windowIndex: number): boolean {
    if (windowIndex !== this.#window) {
      this.#used.clear();
      this.#window = windowIndex;
    }
    if (budgets.some((budget) => (this.#used.get(budget.key) ?? 0) + operations > budget.limit)) return false;
    for (const budget of budgets) this.#used.set(budget.key, (this.#used.get(budget.key) ?? 0) + operations);
    return true;
  }
}

// KEYS: the budgets' counters for this window. ARGV: operations, counter lifetime (ms), then each
// budget's limit. Checks every budget before taking from any, atomically.
const TAKE_SCRIPT = `
local operations = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') + operations > tonumber(ARGV[i + 2]) then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('INCRBY', key, operations)
  redis.call('PEXPIRE', key, ARGV[2])
end
return 1`;

export function createRateLimiter(config: Config, clock: Clock, logger: Logger): RateLimiter {
  const enabled = config.RATE_LIMIT_OPERATIONS_PER_MINUTE > 0;
  const local = new MemoryCounters();
  const redis =
    enabled && config.REDIS_URL
      ? new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: (attempt) => Math.min(attempt * 200, 2000) })
      : null;
  let warnedAt = 0;
  redis?.on('error', (error: Error) => {
    if (Date.now() - warnedAt > 10_000) {
      warnedAt = Date.now();
      logger.warn({ err: error.message }, 'rate limiter cannot reach redis; counting in this process');
    }
  });

  async function takeShared(budgets: Budget[], operations: number, windowIndex: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>(
      (_, reject) =>
        (timer = setTimeout(() => {
          // A connection that stopped answering is dropped and made again: until it is ready, checks
          // fall back at once instead of each waiting out the timeout, and no late reply can be
          // paired with a later command.
          redis!.disconnect(true);
          reject(new Error('redis timeout'));
        }, config.RATE_LIMIT_REDIS_TIMEOUT_MS)),
    );
    try {
      if (redis!.status !== 'ready') throw new Error(`redis is ${redis!.status}`);
      const answer = await Promise.race([
        redis!.eval(
          TAKE_SCRIPT,
          budgets.length,
          ...budgets.map((budget) => `ratelimit:${budget.key}:${windowIndex}`),
          operations,
          RATE_WINDOW_MS * 2,
          ...budgets.map((budget) => budget.limit),
        ),
        deadline,
      ]);
      return answer === 1;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    enabled,
    consume: async (principal, operations) => {
      if (!enabled || operations <= 0) return { allowed: true };
      const budgets = budgetsOf(config, principal);
      const window = windowOf(clock.now().getTime());
      let allowed: boolean;
      if (redis) {
        try {
          allowed = await takeShared(budgets, operations, window.index);
        } catch (error) {
          // Redis unreachable: neither refuse every request (a payments API stays up) nor let
          // them all through; each instance enforces the limits on its own until Redis is back.
          if (Date.now() - warnedAt > 10_000) {
            warnedAt = Date.now();
            logger.warn({ err: (error as Error).message }, 'rate limiter cannot reach redis; counting in this process');
          }
          allowed = local.take(budgets, operations, window.index);
        }
      } else {
        allowed = local.take(budgets, operations, window.index);
      }
      return allowed ? { allowed: true } : { allowed: false, retryAfterSeconds: window.retryAfterSeconds };
    },
    counting: () => (!enabled ? 'off' : !redis ? 'local' : redis.status === 'ready' ? 'shared' : 'fallback'),
    connect: async () => {
      if (!redis || redis.status === 'ready') return;
      let timer: NodeJS.Timeout | undefined;
      let onReady = () => {};
      await new Promise<void>((resolve) => {
        onReady = () => resolve();
        timer = setTimeout(resolve, 2000);
        redis.once('ready', onReady);
      });
      clearTimeout(timer);
      redis.off('ready', onReady);
    },
    close: async () => {
      if (redis) await redis.quit().catch(() => redis.disconnect());
    },
  };
}
