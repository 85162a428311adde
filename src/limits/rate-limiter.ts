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

/**
 * With Redis, each instance takes budget in leases: at least what the request needs, and a
 * hundredth of the limit when it can, then counts them down in the process, so that a busy
 * credential costs one Redis call per lease instead of one per request. Leases never exceed what
 * is left in Redis, so all instances together still take at most the limit; what an instance has
 * leased and not used is lost to the others until the next window (at most a hundredth of the
 * limit per instance), and small limits (under 200) are leased one operation at a time, exactly.
 */
const LEASE_FRACTION = 100;

/** The budget this process has leased from Redis, per budget and window, and how much of it it used. */
class Leases {
  #newest = -1;
  readonly #leases = new Map<string, { window: number; granted: number; used: number }>();

  of(key: string, windowIndex: number): { granted: number; used: number } {
    if (windowIndex > this.#newest) {
      // Kept: the window before, for requests that started in it.
      for (const [id, lease] of this.#leases) if (lease.window < windowIndex - 1) this.#leases.delete(id);
      this.#newest = windowIndex;
    }
    const id = `${windowIndex}:${key}`;
    let lease = this.#leases.get(id);
    if (!lease) this.#leases.set(id, (lease = { window: windowIndex, granted: 0, used: 0 }));
    return lease;
  }
}

// KEYS: the budgets' counters for this window. ARGV: counter lifetime (ms), then per budget its
// limit, what the request needs beyond this instance's lease, and the lease it would like. Refuses
// (returns nil) when any budget cannot cover what is needed, else takes, atomically, for each
// budget what is wanted or what is left, and returns what it took.
const LEASE_SCRIPT = `
local taken = {}
for i, key in ipairs(KEYS) do
  local limit, need = tonumber(ARGV[i * 3 - 1]), tonumber(ARGV[i * 3])
  local left = limit - tonumber(redis.call('GET', key) or '0')
  if left < need then return nil end
  taken[i] = need > 0 and math.min(left, tonumber(ARGV[i * 3 + 1])) or 0
end
for i, key in ipairs(KEYS) do
  if taken[i] > 0 then
    redis.call('INCRBY', key, taken[i])
    redis.call('PEXPIRE', key, ARGV[1])
  end
end
return taken`;

export function createRateLimiter(config: Config, clock: Clock, logger: Logger): RateLimiter {
  const enabled = config.RATE_LIMIT_OPERATIONS_PER_MINUTE > 0;
  const local = new MemoryCounters();
  const leases = new Leases();
  /** Lease requests under way, by credential: concurrent requests of one caller wait for one another's. */
  const leasing = new Map<string, Promise<unknown>>();
  const redis =
    enabled && config.REDIS_URL
      ? new Redis(config.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: (attempt) => Math.min(attempt * 200, 2000) })
      : null;
  // Sent by its SHA once Redis knows it (EVALSHA), not as the script's text on every call.
  redis?.defineCommand('takeLeases', { lua: LEASE_SCRIPT });
  let warnedAt = 0;
  redis?.on('error', (error: Error) => {
    if (Date.now() - warnedAt > 10_000) {
      warnedAt = Date.now();
      logger.warn({ err: error.message }, 'rate limiter cannot reach redis; counting in this process');
    }
  });

  /** What the leases cannot cover of `operations`, per budget (0 where they can). */
  const shortfall = (budgets: Budget[], operations: number, windowIndex: number) =>
    budgets.map((budget) => {
      const lease = leases.of(budget.key, windowIndex);
      return Math.max(0, operations - (lease.granted - lease.used));
    });

  /** Asks Redis for leases covering `needs`; answers what it took per budget, or null when refused. */
  async function lease(budgets: Budget[], needs: number[], windowIndex: number): Promise<number[] | null> {
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
      const args = budgets.flatMap((budget, i) => [budget.limit, needs[i]!, Math.max(needs[i]!, Math.floor(budget.limit / LEASE_FRACTION))]);
      const answer = await Promise.race([
        (redis as Redis & { takeLeases(...args: (string | number)[]): Promise<number[] | null> }).takeLeases(
          budgets.length,
          ...budgets.map((budget) => `ratelimit:${budget.key}:${windowIndex}`),
          RATE_WINDOW_MS * 2,
          ...args,
        ),
        deadline,
      ]);
      return answer;
    } finally {
      clearTimeout(timer);
    }
  }

  async function takeShared(budgets: Budget[], operations: number, windowIndex: number): Promise<boolean> {
    const caller = budgets[0]!.key;
    for (;;) {
      const needs = shortfall(budgets, operations, windowIndex);
      if (needs.some((need) => need > 0)) {
        const pending = leasing.get(caller);
        if (pending) {
          await pending;
          continue;
        }
        const asked = lease(budgets, needs, windowIndex);
        const settled = asked.then(
          () => undefined,
          () => undefined,
        );
        leasing.set(caller, settled);
        void settled.then(() => leasing.delete(caller));
        const taken = await asked;
        if (!taken) return false;
        budgets.forEach((budget, i) => (leases.of(budget.key, windowIndex).granted += taken[i]!));
        continue;
      }
      // Taken in the same turn as the leases were found sufficient: no other request came between.
      for (const budget of budgets) leases.of(budget.key, windowIndex).used += operations;
      return true;
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
