import type { Client } from 'graphql-ws';
import type { Prisma } from '../../src/db/database.ts';
import type { TestApp } from '../support/app.ts';

/**
 * Counts every use of the database handle that resolvers and services reach through the request's
 * context (`deps.prisma`). Zero uses while an attack is answered proves no resolver ran; the
 * background jobs that share the handle are switched off by `quietApp`.
 */
export function spyOnResolvers(t: TestApp): { readonly calls: number; restore(): void } {
  const deps = t.app.deps as { prisma: Prisma };
  const real = deps.prisma;
  let calls = 0;
  deps.prisma = new Proxy(real, {
    get(target, property) {
      calls++;
      const value = Reflect.get(target, property) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return {
    get calls() {
      return calls;
    },
    restore: () => {
      deps.prisma = real;
    },
  };
}

/** Configuration that keeps background work (which also uses `deps.prisma`) from running. */
export const quietApp = { CHARGES_CALLBACK_POLL_MS: 0, CHARGES_SCHEDULER_INTERVAL_MS: 0, RECONCILE_INTERVAL_MS: 0 } as const;

export { wsClient } from '../support/app.ts';

export interface WsOutcome {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, any> }[];
}

/** Runs one operation over graphql-ws and answers its first result, or the errors it was refused with. */
export function wsOperation(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<WsOutcome> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const stop = client.subscribe(
      { query, variables },
      {
        next: (result) => {
          if (settled) return;
          settled = true;
          stop();
          resolve(result as WsOutcome);
        },
        error: (error) => {
          if (settled) return;
          settled = true;
          if (Array.isArray(error)) resolve({ errors: error as WsOutcome['errors'] });
          else reject(error instanceof Error ? error : new Error(JSON.stringify(error)));
        },
        complete: () => {
          if (!settled) reject(new Error('completed without a result'));
        },
      },
    );
  });
}
