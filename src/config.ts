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
    .describe('development, production or test. Production hides GraphiQL, introspection and error details.'),
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
});

export type Config = z.infer<typeof schema>;

export const configDescriptions: Record<string, string | undefined> = Object.fromEntries(
  Object.entries(schema.shape).map(([name, field]) => [name, field.description]),
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
