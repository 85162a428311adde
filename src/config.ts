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
    .describe('PostgreSQL connection URL. Unset: an embedded PostgreSQL (PGlite) in DATA_DIR.'),
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
    .describe('Redis URL for pub/sub shared by all instances. Unset: in-process pub/sub (one instance).'),
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
  return { ...config, GRAPHIQL: config.GRAPHIQL ?? config.NODE_ENV !== 'production' };
}

/** The process's own configuration, for the entry points (server and CLI). */
export const loadProcessConfig = (overrides: Partial<Config> = {}): Config => loadConfig(process.env, overrides);
