import type { Deps } from '../../deps.ts';
import type { DomainModule } from '../index.ts';
import { invoiceCommands } from './commands.ts';
import { startInProcessSandbox } from './connectors.ts';
import { insertInvoice } from './records.ts';
import { invoiceRoutes } from './rest.ts';
import { reconcilePayments } from './settlement.ts';

/** Runs reconciliation every RECONCILE_INTERVAL_MS (0: never); runs never overlap. */
function scheduleReconciliation(deps: Deps): () => Promise<void> {
  if (deps.config.RECONCILE_INTERVAL_MS === 0) return async () => {};
  let running: Promise<void> | null = null;
  const run = () => {
    if (running) return;
    running = reconcilePayments(deps)
      .then(
        (report) => {
          if (report.checked + report.reversalsRetried > 0) deps.logger.info({ report }, 'invoice payments reconciled');
        },
        (error: unknown) => deps.logger.warn({ err: (error as Error).message }, 'invoice payment reconciliation failed; it runs again later'),
      )
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(run, deps.config.RECONCILE_INTERVAL_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

export const invoicesModule: DomainModule = {
  name: 'invoices',
  routes: invoiceRoutes,
  refusals: { paths: ['/invoice/', '/payment/', '/admin/payment/'], body: (refusal) => ({ error: refusal.code, message: refusal.message }) },
  commands: invoiceCommands,
  start: async (deps) => {
    const stopSandbox = await startInProcessSandbox(deps);
    const stopSchedule = scheduleReconciliation(deps);
    return async () => {
      await stopSchedule();
      await stopSandbox?.();
    };
  },
  /** One unpaid demo invoice, so `invoices` shows something and can be paid through the sandbox. */
  seedDemo: async (db, merchant) => {
    if (await db.invoice.findFirst({ where: { merchantId: merchant.merchantId } })) return;
    await insertInvoice(db, merchant.merchantId, { title: 'Demo invoice', totalAmount: 150_000n, mobile: '09120000000', email: null }, new Date());
  },
};
