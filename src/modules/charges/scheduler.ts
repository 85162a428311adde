/**
 * The charges scheduler: one job per process, run every CHARGES_SCHEDULER_INTERVAL_MS. Each round
 * issues the occurrences recurring charges owe, marks installments past their due date overdue,
 * and runs the auto-debits that are due. Every step claims its rows with SKIP LOCKED (and
 * debits take a lease), so several instances may run it at once: each charge or installment is
 * taken by one of them. Time comes from deps.clock.
 */
import type { Deps } from '../../deps.ts';
import { runAutoDebits, type AutoDebitReport } from './debits.ts';
import { EVERY_MERCHANT, issueRecurringInstallments, markOverdueInstallments, type WorkScope } from './service.ts';

export interface SchedulerReport {
  recurringCharges: number;
  overdueCharges: number;
  debits: AutoDebitReport;
}

export async function runSchedulerRound(deps: Deps, scope: WorkScope = EVERY_MERCHANT): Promise<SchedulerReport> {
  const recurringCharges = await issueRecurringInstallments(deps, scope);
  const overdueCharges = await markOverdueInstallments(deps, scope);
  const debits = await runAutoDebits(deps, scope);
  return { recurringCharges, overdueCharges, debits };
}

/** Runs a round now and then every `intervalMs`; rounds never overlap. Answers how to stop. */
export function startScheduler(deps: Deps, intervalMs: number): () => Promise<void> {
  let running: Promise<void> | null = null;
  const round = () => {
    if (running) return;
    running = runSchedulerRound(deps)
      .then(
        () => {},
        (error: unknown) => deps.logger.warn({ err: (error as Error).message }, 'charges scheduler round failed; it runs again shortly'),
      )
      .finally(() => {
        running = null;
      });
  };
  const timer = setInterval(round, intervalMs);
  timer.unref();
  round();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
