/**
 * What the harness asks of the load worker (bench/load/worker.ts) and what it answers: one JSON
 * object per line on the worker's stdin and stdout.
 */

/** One kind of request an HTTP load run sends, built afresh for every request where it must be unique. */
export type HttpProgram =
  /** The same request every time (reads, the floor). `graphql` makes a body with `"errors"` count as a failure. */
  | { type: 'static'; method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string; graphql?: boolean }
  /**
   * `batch` charges of amount 1 with fresh UUIDv7 tokens, on consecutive pockets from a random start:
   * `chargePockets` on /graphql, or the legacy `POST /badje/v1/pockets/{slug}/charge/`.
   */
  | { type: 'charge'; via: 'graphql' | 'rest'; authorization: string; groupSlug: string; pockets: number; batch: number }
  /** `topUpWallet` with a fresh idempotency key. */
  | { type: 'topup'; authorization: string; walletId: string; txnCode: string }
  /** `createRechargePayment`; the ids created are appended to `idsFile` when the run ends. */
  | { type: 'recharge-create'; authorization: string; provider: string; idsFile?: string }
  /** `commitRechargePayment` of the ids in `idsFile`, each once, in order. */
  | { type: 'recharge-commit'; authorization: string; idsFile: string }
  /** Each connection cycles through the parts, one request each. */
  | { type: 'mixed'; parts: HttpProgram[] };

/** Raw SQL on PostgreSQL, the physical baselines (tables made by bench/harness/raw-sql.ts). */
export type PgProgram =
  /** One conditional `UPDATE … RETURNING` per charge on one row, autocommit. */
  | { type: 'hot-update'; pocketId: number }
  /** One transaction per batch: the group's total, one multi-row INSERT … ON CONFLICT DO NOTHING, the pockets' balances. */
  | { type: 'batch-insert'; groupId: number; firstPocketId: number; pockets: number; batch: number };

export type Job =
  | {
      kind: 'http';
      url: string;
      connections: number;
      /** Seconds; ignored when `amount` is set. */
      duration: number;
      /** A fixed number of requests instead of a duration. */
      amount?: number;
      timeoutSeconds: number;
      program: HttpProgram;
    }
  | { kind: 'pg'; databaseUrl: string; connections: number; duration: number; program: PgProgram }
  | { kind: 'ws-open'; url: string; count: number; authorization: string }
  | { kind: 'ws-close' }
  /** graphql-ws connections, one subscription each, kept open until `subs-collect`. */
  | { kind: 'subs-open'; url: string; authorization: string; subscriptions: { key: string; query: string; variables: Record<string, unknown> }[] }
  /**
   * Waits until every subscription has what it should (or `quietMs` pass without a delivery),
   * then closes them and reports. `expected` lists the published events; a subscription whose
   * key is `own:<objectId>` expects that object's events, any other key expects them all.
   */
  | { kind: 'subs-collect'; expected: { id: string; objectId: string }[]; quietMs: number; timeoutMs: number };

export interface SubscriptionResult {
  subscriptions: number;
  expected: number;
  delivered: number;
  lost: number;
  duplicated: number;
  /** Deliveries whose id is not larger than the last one the subscription received. */
  outOfOrder: number;
  /** From the event's occurredAt to its arrival, over every delivery. */
  latencyMs: { p50: number; p99: number; max: number };
  /** From the first event's occurredAt to the last arrival. */
  windowMs: number;
  perSecond: number;
  /** Subscriptions closed by the server, by close code. */
  closed: Record<string, number>;
  errors: string[];
}

export interface LoadResult {
  /** Requests (or SQL operations) answered. */
  requests: number;
  /** Answered and judged a success (2xx and, for GraphQL, no error in the body). */
  ok: number;
  failed: number;
  elapsedMs: number;
  perSecond: number;
  latencyMs: { mean: number; p50: number; p99: number; max: number };
  /** Connection errors and timeouts (requests that may or may not have been applied). */
  errors: number;
  timeouts: number;
  /** Charges (amount 1 each) acknowledged as successful, by pocket group slug or raw table. */
  acknowledged: Record<string, number>;
  /** Items of a batch answered as failed (PocketChargeError) or SQL rows not written. */
  failedItems: number;
  /** The first few failing answers, for the report. */
  failureSamples: string[];
}

/** Pocket `index` of the bench groups: 989120000000, 989120000001, … */
export const pocketPhone = (index: number) => `98912${String(index).padStart(7, '0')}`;

export type WorkerReply = { id: number; result: unknown } | { id: number; error: string };
