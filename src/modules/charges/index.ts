import { requiredFlag, UsageError } from '../../cli/args.ts';
import type { Db } from '../../db/database.ts';
import type { DomainModule } from '../index.ts';
import { callbackSecret, rotateCallbackSecret, startCallbackWorker } from './callbacks.ts';
import { chargesResourceOf, routes } from './rest.ts';
import { chargesRuntime } from './runtime.ts';
import { startScheduler } from './scheduler.ts';
import { createCustomer, findCustomerByCpfCnpj } from './service.ts';

/** The legacy document's example customer, so its create example finds a known customer. */
export const DEMO_CUSTOMER = { name: 'Maria Francisca', cpfCnpj: '85239112002', phone: '11999999999', email: 'maria@mail.me' } as const;

async function requireMerchantRow(db: Db, merchantId: string): Promise<string> {
  if (!(await db.merchant.findUnique({ where: { id: merchantId } }))) throw new UsageError(`no merchant ${merchantId}`);
  return merchantId;
}

export const chargesModule: DomainModule = {
  name: 'charges',
  routes,
  // iPag's envelope: a string code and the resource the request addressed.
  refusals: {
    paths: ['/service/resources/charges'],
    body: (refusal, request) => ({ code: String(refusal.status), message: refusal.message, resource: chargesResourceOf(request) }),
  },
  start: async (deps) => {
    const stops: (() => Promise<void>)[] = [];
    if (deps.config.CHARGES_CALLBACK_POLL_MS > 0) {
      const worker = startCallbackWorker(deps, deps.config.CHARGES_CALLBACK_POLL_MS);
      chargesRuntime(deps).kickCallbacks = worker.kick;
      stops.push(worker.stop);
      worker.kick();
    }
    if (deps.config.CHARGES_SCHEDULER_INTERVAL_MS > 0) stops.push(startScheduler(deps, deps.config.CHARGES_SCHEDULER_INTERVAL_MS));
    return async () => {
      chargesRuntime(deps).kickCallbacks = () => {};
      for (const stop of stops) await stop();
    };
  },
  seedDemo: async (db, merchant) => {
    if (await findCustomerByCpfCnpj(db, merchant.merchantId, DEMO_CUSTOMER.cpfCnpj)) return;
    await createCustomer(db, merchant.merchantId, DEMO_CUSTOMER, new Date());
  },
  commands: {
    'charge-callback-secret show': {
      usage: 'charge-callback-secret show --merchant ID   (the secret charge callbacks are signed with)',
      run: async (db, args) => {
        const merchantId = await requireMerchantRow(db, requiredFlag(args, 'merchant'));
        return { merchantId, secret: await callbackSecret(db, merchantId, new Date()) };
      },
    },
    'charge-callback-secret rotate': {
      usage: 'charge-callback-secret rotate --merchant ID',
      run: async (db, args) => {
        const merchantId = await requireMerchantRow(db, requiredFlag(args, 'merchant'));
        return { merchantId, secret: await rotateCallbackSecret(db, merchantId, new Date()) };
      },
    },
  },
};
