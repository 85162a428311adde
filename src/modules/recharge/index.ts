import { requiredFlag, stringFlag, UsageError, type ParsedArgs } from '../../cli/args.ts';
import { systemClock, type Deps } from '../../deps.ts';
import type { DomainModule } from '../index.ts';
import { routes } from './rest.ts';
import { createRechargeProvider, expireRechargePayments, findRechargeProvider, listRechargeProviders, parameterDefinitions } from './service.ts';

const SWEEP_INTERVAL_MS = 5_000;
const SWEEP_BATCH = 100;

/** Rolls back overdue payments on a timer; reads and commits also expire them lazily, so this only bounds the delay. */
export function startExpirySweep(deps: Deps, intervalMs = SWEEP_INTERVAL_MS): () => Promise<void> {
  let running: Promise<void> | null = null;
  const sweep = () => {
    if (running) return;
    running = (async () => {
      try {
        let expired: number;
        do expired = await expireRechargePayments(deps, { limit: SWEEP_BATCH });
        while (expired === SWEEP_BATCH);
      } catch (error) {
        deps.logger.warn({ err: (error as Error).message }, 'recharge expiry sweep failed; it runs again shortly');
      }
    })().finally(() => {
      running = null;
    });
  };
  const timer = setInterval(sweep, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

function jsonFlag(args: ParsedArgs, name: string): unknown {
  const value = stringFlag(args, name);
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch {
    throw new UsageError(`--${name} takes JSON, e.g. '[{"name":"phone","type":"string","required":true}]'`);
  }
}

function integerFlag(args: ParsedArgs, name: string): number | undefined {
  const value = stringFlag(args, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,9}$/.test(value)) throw new UsageError(`--${name} takes a whole number`);
  return Number(value);
}

const showProvider = (provider: Awaited<ReturnType<typeof listRechargeProviders>>[number]) => ({
  id: provider.id,
  merchantId: provider.merchantId,
  reference: provider.reference,
  name: provider.name,
  description: provider.description,
  currency: provider.currency,
  expiresInSeconds: provider.expiresInSeconds,
  params: parameterDefinitions(provider),
  createdAt: provider.createdAt,
});

export const DEMO_PROVIDER = {
  reference: 'demo-topup',
  name: 'Demo top-up',
  description: 'Credits a user with any amount; the phone number is required.',
  params: [{ name: 'phone', type: 'string', required: true }],
};

export const rechargeModule: DomainModule = {
  name: 'recharge',
  routes,
  refusals: { paths: ['/v3/rechargeProviders'], body: (refusal) => ({ error: refusal.code, message: refusal.message }) },
  // A manual clock (the tests') does not move in real time: whoever moves it runs the sweep itself.
  start: async (deps) => (deps.clock === systemClock ? startExpirySweep(deps) : async () => {}),
  // The demo merchant's OAuth client (demo-client) already has the scope `credit` and the right "Manage payments".
  seedDemo: async (db, merchant) => {
    if (await findRechargeProvider(db, merchant.merchantId, DEMO_PROVIDER.reference)) return;
    await createRechargeProvider(db, { merchantId: merchant.merchantId, ...DEMO_PROVIDER }, new Date());
  },
  commands: {
    'recharge-provider create': {
      usage:
        'recharge-provider create --merchant ID --reference REF --name NAME [--description TEXT] [--params JSON] [--currency IRR] [--expires-in SECONDS]',
      run: async (db, args) => {
        const merchantId = requiredFlag(args, 'merchant');
        if (!(await db.merchant.findUnique({ where: { id: merchantId } }))) throw new UsageError(`no merchant ${merchantId}`);
        const expiresInSeconds = integerFlag(args, 'expires-in');
        const description = stringFlag(args, 'description');
        const currency = stringFlag(args, 'currency');
        const provider = await createRechargeProvider(
          db,
          {
            merchantId,
            reference: requiredFlag(args, 'reference'),
            name: requiredFlag(args, 'name'),
            params: jsonFlag(args, 'params'),
            ...(description !== undefined ? { description } : {}),
            ...(currency !== undefined ? { currency } : {}),
            ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
          },
          new Date(),
        );
        return showProvider(provider);
      },
    },
    'recharge-provider list': {
      usage: 'recharge-provider list --merchant ID',
      run: async (db, args) => ({ providers: (await listRechargeProviders(db, requiredFlag(args, 'merchant'))).map(showProvider) }),
    },
  },
};
