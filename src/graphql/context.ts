import type { Principal } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import type { Logger } from '../logger.ts';

export interface GraphQLContext {
  deps: Deps;
  principal: Principal | null;
  requestId: string;
  logger: Logger;
  /** From the `Idempotency-Key` header; a mutation's own `idempotencyKey` argument wins. */
  idempotencyKey: string | null;
  /** Set when a mutation answered from a stored result; reported in `extensions.idempotency`. */
  idempotency: { key: string; replayed: boolean }[];
}
