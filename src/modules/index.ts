import type { OpenAPIHono } from '@hono/zod-openapi';
import type { MerchantCredentials } from '../auth/credentials.ts';
import type { CliCommand } from '../cli/commands.ts';
import type { Db } from '../db/database.ts';
import type { Deps } from '../deps.ts';
import type { HttpEnv } from '../http/rest.ts';
import { chargesModule } from './charges/index.ts';
import { invoicesModule } from './invoices/index.ts';
import { pocketsModule } from './pockets/index.ts';
import { rechargeModule } from './recharge/index.ts';
import { walletsModule } from './wallets/index.ts';

/** A refusal the HTTP layer makes itself: a body over its size limit, a rate limit, a method or path no route serves. */
export interface Refusal {
  code: 'PAYLOAD_TOO_LARGE' | 'RATE_LIMITED' | 'NOT_FOUND';
  status: 413 | 429 | 404;
  message: string;
}

/** What a domain module contributes besides its GraphQL fields (registered in graphql/schema.ts). */
export interface DomainModule {
  name: string;
  routes?: (deps: Deps) => OpenAPIHono<HttpEnv>;
  /** Seeds the module's demo objects for the demo merchant; must be idempotent. */
  seedDemo?: (db: Db, merchant: MerchantCredentials) => Promise<void>;
  /** Operator CLI commands, keyed by their two words, e.g. `pocket-group create`. */
  commands?: Record<string, CliCommand>;
  /** The module's legacy path prefixes and its error body for the HTTP layer's refusals, in the API's own envelope. */
  refusals?: { paths: string[]; body(refusal: Refusal, request: Request): unknown };
  /** Background work started with the server (schedules, in-process services); answers how to stop it. */
  start?: (deps: Deps) => void | Promise<() => Promise<void>>;
}

export const modules: DomainModule[] = [pocketsModule, rechargeModule, invoicesModule, walletsModule, chargesModule];

export const legacyRoutes = (deps: Deps) => modules.flatMap((module) => (module.routes ? [module.routes(deps)] : []));
