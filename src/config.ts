import { z } from 'zod';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', ''])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const postgresUrl = z
  .string()
  .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL');

/**
 * Every environment variable the platform reads, with its meaning. This is the only module
 * that looks at process.env; everything else receives a Config.
 */
const schema = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'])
    .default('development')
    .describe('development, production or test. Production turns GraphiQL off unless GRAPHIQL says otherwise.'),
  PORT: z.coerce.number().int().min(0).max(65535).default(4000).describe('TCP port to listen on (0 picks a free one).'),
  HOST: z.string().min(1).default('0.0.0.0').describe('Interface to listen on.'),
  DATABASE_URL: postgresUrl
    .optional()
    .describe(
      'PostgreSQL connection URL. Unset: an embedded PostgreSQL (PGlite) in DATA_DIR. Hot paths use named prepared statements: behind PgBouncer, use session pooling, or transaction pooling with PgBouncer 1.21 or later and `max_prepared_statements` set.',
    ),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10).describe('Connections in the PostgreSQL pool.'),
  DATA_DIR: z
    .string()
    .min(1)
    .default('./data')
    .describe('Folder of the embedded database when DATABASE_URL is unset; memory:// keeps it in memory only.'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional()
    .describe('Redis URL for pub/sub and rate limits shared by all instances. Unset: in-process pub/sub and rate limits (one instance).'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info')
    .describe('Minimum level of the JSON logs written to stdout.'),
  DEMO: bool.default(false).describe('Seed the demo merchant whose credentials are the legacy documents\' own examples.'),
  GRAPHIQL: bool.optional().describe('Serve GraphiQL at /graphql. Default: on outside production.'),
  OAUTH_TOKEN_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(86_400)
    .default(3600)
    .describe('Lifetime of OAuth2 access tokens issued by POST /oauth/token.'),
  CREDENTIAL_CACHE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(2000)
    .describe('How long a resolved credential is cached per process; revocation in another process takes effect within it.'),
  OUTBOX_POLL_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(60_000)
    .default(1000)
    .describe('How often the outbox relay looks for events that were not yet published (after a Redis outage, or from another process).'),
  EVENT_RETENTION_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .default(24 * 7)
    .describe('Published events older than this are pruned from the event log.'),
  SUBSCRIPTIONS_PER_CONNECTION: z.coerce
    .number()
    .int()
    .min(1)
    .default(100)
    .describe('Subscriptions one graphql-ws connection may hold at once; past it a subscription is refused with TOO_MANY_SUBSCRIPTIONS.'),
  SUBSCRIPTIONS_PER_MERCHANT: z.coerce
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe('Subscriptions (graphql-ws and SSE) one merchant may hold at once on one server instance; past it a subscription is refused with TOO_MANY_SUBSCRIPTIONS.'),
  SUBSCRIPTION_QUEUE_LIMIT: z.coerce
    .number()
    .int()
    .min(1)
    .default(1000)
    .describe('Events a subscription may have waiting for a client that has read none for a second (ten times as many for one still reading); past it the client is dropped as a slow consumer (WebSocket close 4008, SSE stream ended).'),
  WS_MAX_BUFFERED_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(4 * 1024 * 1024)
    .describe('Bytes a WebSocket may have queued for sending; past it the connection is closed with 4008 (slow consumer).'),
  WS_IDLE_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(5 * 60_000)
    .describe('A graphql-ws connection without any subscription for this long is closed with 1000 (idle); 0 keeps idle connections open.'),
  WS_CONNECTION_INIT_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(10_000)
    .describe('How long a new graphql-ws connection may take to send connection_init before it is closed with 4408.'),
  SHUTDOWN_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(10_000)
    .describe('How long SIGTERM waits for in-flight requests before closing connections.'),
  INVOICES_MERCHANT_ID: z
    .string()
    .min(1)
    .optional()
    .describe('The merchant the invoice API\'s legacy routes serve when a request carries no credentials. Default: the demo merchant in demo mode, else none.'),
  INVOICES_REQUIRE_CREDENTIALS: bool
    .default(false)
    .describe('Make the invoice API\'s legacy routes refuse requests without merchant credentials (401).'),
  PUBLIC_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe('The URL payers and gateways reach this server at, for gateway callback URLs and ready-to-pay links. Default: http://localhost:PORT.'),
  READY_TO_PAY_LINK_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(365 * 24 * 3600)
    .default(7 * 24 * 3600)
    .describe('How long a ready-to-pay link can be opened to pay, unless the admin who makes it gives another lifetime.'),
  SANDBOX_GATEWAY: bool
    .optional()
    .describe('Start the sandbox gateway (Zarinpal and Shepa emulation) in-process on loopback and send every gateway call to it. Default: on in demo mode.'),
  ZARINPAL_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .default('https://payment.zarinpal.com')
    .describe('Zarinpal REST v4 host (https://sandbox.zarinpal.com for Zarinpal\'s own sandbox).'),
  ZARINPAL_GRAPHQL_URL: z
    .url({ protocol: /^https?$/ })
    .default('https://next.zarinpal.com/api/v4/graphql/')
    .describe('Zarinpal\'s GraphQL API, for refunds other than a whole reverse within 30 minutes (AddRefund).'),
  SHEPA_BASE_URL: z
    .url({ protocol: /^https?$/ })
    .default('https://merchant.shepa.com')
    .describe('Shepa API host (https://sandbox.shepa.com for Shepa\'s own sandbox).'),
  GATEWAY_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(120_000)
    .default(10_000)
    .describe('How long a call to a payment gateway may take; past it the payment is left for reconciliation.'),
  RECONCILE_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(60_000)
    .describe('How often waiting invoice payments are reconciled with their gateway; 0 turns the schedule off (`cli payments reconcile` still works).'),
  PAYMENT_RECONCILE_AFTER_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(5 * 60_000)
    .describe('How long a payment waits for its callback before reconciliation asks the gateway about it.'),
  PAYMENT_EXPIRE_AFTER_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .default(60 * 60_000)
    .describe('A payment still unpaid this long after the payer was sent to the gateway expires.'),
  CHARGES_TIME_ZONE: z
    .string()
    .refine((zone) => {
      try {
        new Intl.DateTimeFormat('en-CA', { timeZone: zone });
        return true;
      } catch {
        return false;
      }
    }, 'must be an IANA time zone, e.g. America/Sao_Paulo')
    .default('America/Sao_Paulo')
    .describe('The time zone whose calendar date decides when a charge installment is due or overdue.'),
  CHARGES_SCHEDULER_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(60_000)
    .describe('How often the charges scheduler issues recurring installments, marks overdue ones and runs auto-debits; 0 turns it off.'),
  CHARGES_CALLBACK_POLL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(1000)
    .describe('How often due charge callbacks are looked for (they are also sent right after the change that queued them); 0 turns delivery off.'),
  CHARGES_CALLBACK_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(50)
    .max(60_000)
    .default(5000)
    .describe('How long a charge callback receiver may take to answer before the attempt counts as failed and is retried.'),
  CHARGES_CALLBACK_ALLOW_PRIVATE: bool
    .default(false)
    .describe('Let charge callback_url point at loopback, private, link-local and other non-public addresses (development and tests only).'),
  CHARGES_CALLBACK_ALLOW_HOSTS: z
    .string()
    .optional()
    .describe('Comma-separated hosts (`host` or `host:port`) charge callbacks may reach even though they resolve to non-public addresses.'),
  GRAPHQL_MAX_DEPTH: z.coerce
    .number()
    .int()
    .min(1)
    .default(12)
    .describe('Deepest selection a GraphQL operation may nest (fragments count their own depth).'),
  GRAPHQL_MAX_ALIASES: z.coerce.number().int().min(0).default(30).describe('Most aliases one GraphQL operation may use.'),
  GRAPHQL_MAX_DIRECTIVES: z.coerce.number().int().min(0).default(50).describe('Most directives one GraphQL operation may use.'),
  GRAPHQL_MAX_TOKENS: z.coerce
    .number()
    .int()
    .min(1)
    .default(2000)
    .describe('Most lexical tokens a GraphQL document may hold; the parser stops at the limit, before building the document.'),
  GRAPHQL_MAX_COST: z.coerce
    .number()
    .int()
    .min(1)
    .default(5000)
    .describe('Highest cost of a GraphQL operation: 2 per object and 1 per scalar field, multiplied by 1.5 for each level of depth.'),
  GRAPHQL_INTROSPECTION: bool.optional().describe('Answer GraphQL introspection (__schema, __type). Default: on outside production.'),
  GRAPHQL_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024)
    .describe('Largest GraphQL request body (query and variables); larger ones are answered 413.'),
  REST_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .default(1024 * 1024)
    .describe('Largest body of a legacy REST or OAuth request; larger ones are answered 413 in the route\'s own error format.'),
  RATE_LIMIT_OPERATIONS_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(0)
    .default(600)
    .describe('Operations one credential may run per minute (each root field of a GraphQL operation, each REST request); 0 turns rate limiting off.'),
  RATE_LIMIT_MERCHANT_OPERATIONS_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(0)
    .default(3000)
    .describe('Operations all credentials of one merchant together may run per minute; 0: no merchant-wide budget.'),
  RATE_LIMIT_REDIS_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(10_000)
    .default(250)
    .describe('How long a rate-limit check waits for Redis before the process falls back to its own in-memory counters.'),
});

export type Config = z.infer<typeof schema>;

export const configDescriptions: Record<string, string | undefined> = Object.fromEntries(
  Object.entries(schema.shape).map(([name, field]) => [name, field.description]),
);

/** Each variable's default, as it would be written in the environment. */
export const configDefaults: Record<string, string | undefined> = Object.fromEntries(
  Object.entries(schema.shape).map(([name, field]) => {
    const parsed = (field as z.ZodType).safeParse(undefined);
    return [name, parsed.success && parsed.data !== undefined ? String(parsed.data) : undefined];
  }),
);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses and validates the environment once. Empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env, overrides: Partial<Config> = {}): Config {
  const known = Object.fromEntries(
    Object.keys(schema.shape)
      .map((name) => [name, env[name]] as const)
      .filter(([, value]) => value !== undefined && value !== ''),
  );
  const parsed = schema.safeParse(known);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        const name = String(issue.path[0] ?? '?');
        return `${name}: ${issue.message} (${configDescriptions[name] ?? ''})`;
      }),
    );
  }
  const config = { ...parsed.data, ...overrides };
  return {
    ...config,
    GRAPHIQL: config.GRAPHIQL ?? config.NODE_ENV !== 'production',
    GRAPHQL_INTROSPECTION: config.GRAPHQL_INTROSPECTION ?? config.NODE_ENV !== 'production',
  };
}

/** The process's own configuration, for the entry points (server and CLI). */
export const loadProcessConfig = (overrides: Partial<Config> = {}): Config => loadConfig(process.env, overrides);
