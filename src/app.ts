import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Authenticator } from './auth/credentials.ts';
import type { Config } from './config.ts';
import { openDatabase, type Database } from './db/database.ts';
import { seedDemo } from './demo.ts';
import { systemClock, type Clock, type Deps } from './deps.ts';
import { createMemoryBus, createRedisBus } from './events/bus.ts';
import { OutboxRelay } from './events/outbox.ts';
import { SubscriptionRegistry } from './events/subscriptions.ts';
import { createGraphQL } from './graphql/yoga.ts';
import { createRequestListener } from './http/listener.ts';
import { createHttpApp, withStorableUrl } from './http/rest.ts';
import { attachWebSocketServer } from './http/websocket.ts';
import { createRateLimiter } from './limits/rate-limiter.ts';
import { createLogger, type Logger } from './logger.ts';
import { modules } from './modules/index.ts';

export interface App {
  deps: Deps;
  database: Database;
  /** The whole HTTP app as a fetch handler, for in-process tests. */
  fetch(request: Request): Promise<Response>;
  /** Every HTTP route as registered (method and path pattern, middleware included), for audits of the surface. */
  routes(): { method: string; path: string }[];
  /** Listens on the configured port (0: a free one); answers the base URL. */
  listen(): Promise<string>;
  /** Stops accepting, finishes in-flight requests, closes WebSockets, the relay, Redis and the database. */
  stop(): Promise<void>;
}

export interface AppOptions {
  clock?: Clock;
  logger?: Logger;
  /** An open database to use instead of the configured one; the app closes it when it stops. */
  database?: Database;
}

export async function buildApp(config: Config, options: AppOptions = {}): Promise<App> {
  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const database = options.database ?? (await openDatabase(config));
  const { prisma } = database;
  const busOptions = { queueLimit: config.SUBSCRIPTION_QUEUE_LIMIT };
  const bus = config.REDIS_URL ? createRedisBus(config.REDIS_URL, logger, busOptions) : createMemoryBus(busOptions);
  const relay = new OutboxRelay(database.sql, bus, logger, { pollMs: config.OUTBOX_POLL_MS, retentionHours: config.EVENT_RETENTION_HOURS });
  const clock = options.clock ?? systemClock;
  const limiter = createRateLimiter(config, clock, logger);
  await limiter.connect();
  const deps: Deps = {
    config,
    prisma,
    sql: database.sql,
    bus,
    relay,
    logger,
    clock,
    auth: new Authenticator(prisma, config.CREDENTIAL_CACHE_MS, clock),
    subscriptions: new SubscriptionRegistry({ perConnection: config.SUBSCRIPTIONS_PER_CONNECTION, perOwner: config.SUBSCRIPTIONS_PER_MERCHANT }),
    limiter,
  };
  if (config.DEMO) await seedDemo(database);
  const yoga = createGraphQL(deps);
  const inFlight = { count: 0 };
  const http = createHttpApp(deps, yoga, database, inFlight);
  relay.start();
  const stopModules: (() => Promise<void>)[] = [];
  for (const module of modules) {
    const stopModule = await module.start?.(deps);
    if (stopModule) stopModules.push(stopModule);
  }

  let server: Server | null = null;
  let sockets: { close(): Promise<void> } | null = null;
  return {
    deps,
    database,
    fetch: async (request) => http.fetch(withStorableUrl(request)),
    routes: () => http.routes.map(({ method, path }) => ({ method, path })),
    listen: async () => {
      server = createServer(createRequestListener(deps, yoga, http, withStorableUrl, inFlight));
      sockets = attachWebSocketServer(server, yoga, deps);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(config.PORT, config.HOST, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : config.HOST;
      return `http://${host}:${port}`;
    },
    stop: async () => {
      if (server) {
        const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
        await sockets?.close();
        const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
        while (inFlight.count > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
        // What is left is streaming responses (SSE) and idle keep-alive sockets.
        server.closeAllConnections();
        await closed;
      }
      for (const stopModule of stopModules.reverse()) await stopModule();
      await relay.stop();
      await bus.close();
      await limiter.close();
      await database.close();
    },
  };
}
