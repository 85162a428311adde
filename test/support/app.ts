import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import { readFileSync } from 'node:fs';
import { inject } from 'vitest';
import WebSocket from 'ws';
import { buildApp, type App } from '../../src/app.ts';
import { createMerchant, createOperator, type CreateMerchantInput, type MerchantCredentials } from '../../src/auth/credentials.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { openPgliteSnapshot } from '../../src/db/database.ts';
import type { Clock } from '../../src/deps.ts';

/**
 * The real server on a loopback port, against the embedded database (in memory) or, when
 * DATABASE_URL and REDIS_URL are set, against PostgreSQL and Redis: the same suites run on both.
 */
export interface TestApp {
  app: App;
  url: string;
  /** POST /graphql with the given Authorization header value (or none); typed when given a generated document. */
  graphql<T, V>(document: TypedDocumentNode<T, V>, variables?: V, options?: RequestOptions): Promise<GraphQLResponse<T>>;
  graphql<T = any>(query: string, variables?: Record<string, unknown>, options?: RequestOptions): Promise<GraphQLResponse<T>>;
  /** Any HTTP request; a non-string body is sent as JSON. */
  request(method: string, path: string, options?: RequestOptions & { body?: unknown }): Promise<HttpResponse>;
  merchant(input?: Partial<CreateMerchantInput>): Promise<MerchantCredentials>;
  operator(): Promise<string>;
  stop(): Promise<void>;
}

export interface RequestOptions {
  authorization?: string | null;
  headers?: Record<string, string>;
}

export interface GraphQLResponse<T> {
  status: number;
  data: T;
  errors?: { message: string; extensions?: Record<string, any>; path?: (string | number)[] }[];
  extensions?: Record<string, any>;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  text: string;
  json: any;
}

export const usesPostgres = Boolean(process.env.DATABASE_URL);

/** A clock tests move by hand. */
export class TestClock implements Clock {
  constructor(private current = new Date()) {}
  now(): Date {
    return new Date(this.current);
  }
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export const token = (credentials: MerchantCredentials) => `Token ${credentials.token}`;
export const basic = (key: string, secret: string) => `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;

let snapshot: Blob | undefined;

/**
 * Without DATABASE_URL, and unless the test gives a data folder of its own (to restart on it), an
 * in-memory embedded database loaded from the run's migrated snapshot (see global-setup).
 */
async function snapshotDatabase(config: Config) {
  const file = config.DATABASE_URL || !config.DATA_DIR.startsWith('memory://') ? null : inject('pgliteSnapshot');
  if (!file) return undefined;
  snapshot ??= new Blob([readFileSync(file)]);
  return openPgliteSnapshot(snapshot);
}

export async function startApp(overrides: Partial<Config> = {}, options: { clock?: Clock } = {}): Promise<TestApp> {
  const config = loadConfig(
    { ...process.env, DATA_DIR: 'memory://', LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent', NODE_ENV: 'test' },
    { PORT: 0, HOST: '127.0.0.1', OUTBOX_POLL_MS: 200, RATE_LIMIT_OPERATIONS_PER_MINUTE: 0, ...overrides },
  );
  const app = await buildApp(config, { ...options, database: await snapshotDatabase(config) });
  let url: string;
  try {
    url = await app.listen();
  } catch (error) {
    await app.stop();
    throw error;
  }

  const request: TestApp['request'] = async (method, path, requestOptions = {}) => {
    const headers: Record<string, string> = { ...requestOptions.headers };
    if (requestOptions.authorization) headers.authorization = requestOptions.authorization;
    let body: string | undefined;
    if (requestOptions.body !== undefined) {
      body = typeof requestOptions.body === 'string' ? requestOptions.body : JSON.stringify(requestOptions.body);
      headers['content-type'] ??= 'application/json';
    }
    const response = await fetch(`${url}${path}`, { method, headers, body, redirect: 'manual' });
    const text = await response.text();
    let json: unknown = undefined;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, headers: response.headers, text, json };
  };

  return {
    app,
    url,
    request,
    graphql: async (document: string | TypedDocumentNode<unknown, unknown>, variables?: unknown, requestOptions: RequestOptions = {}) => {
      const query = typeof document === 'string' ? document : print(document);
      const response = await request('POST', '/graphql', { ...requestOptions, body: { query, variables } });
      return { status: response.status, ...(response.json as object) } as GraphQLResponse<any>;
    },
    merchant: (input = {}) => createMerchant(app.deps.prisma, { name: 'Test merchant', ...input }),
    operator: async () => `Bearer ${(await createOperator(app.deps.prisma)).token}`,
    stop: () => app.stop(),
  };
}

/** A graphql-ws client of the test server, authenticating with `authorization`, that never reconnects. */
export function wsClient(t: Pick<TestApp, 'url'>, authorization: string, options: Partial<ClientOptions> = {}): Client {
  return createClient({ url: `${t.url.replace('http', 'ws')}/graphql`, webSocketImpl: WebSocket, connectionParams: { authorization }, retryAttempts: 0, ...options });
}

/** The ledger's invariants, checked after a suite's money moved. */
export async function expectLedgerBalanced(testApp: TestApp): Promise<void> {
  const { verifyLedger } = await import('../../src/ledger/ledger.ts');
  const result = await verifyLedger(testApp.app.deps.prisma);
  if (result.violations.length > 0) throw new Error(`ledger violations: ${JSON.stringify(result.violations)}`);
}

/** Polls until `check` answers something: PostgreSQL does not announce that a backend waits for a lock. */
export async function until<T>(check: () => Promise<T | undefined>): Promise<T> {
  for (;;) {
    const found = await check();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** How many of this database's backends wait for a lock while running a statement that contains `text` (PostgreSQL only). */
export async function lockWaits(t: TestApp, text: string): Promise<number> {
  const [row] = await t.app.deps.sql.$queryRawUnsafe<{ count: number }[]>(
    `SELECT count(*)::int AS count FROM pg_stat_activity
     WHERE datname = current_database() AND wait_event_type = 'Lock' AND position($1 in query) > 0`,
    text,
  );
  return row!.count;
}
