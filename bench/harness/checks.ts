/**
 * Correctness after the run, with the server stopped: every balance equals what the load
 * generator saw acknowledged (no lost update, nothing applied twice), the ledger verifies, and
 * every event the load committed was published.
 */
import { ledgerVerify, platformTotals } from './platform.ts';
import { rawTotals } from './postgres.ts';
import type { Row } from './report.ts';

const SCENARIO = 'checks';

/** What one top-up of 10,000 credits with the bench fee rule (1 %, min 1, max 50,000). */
export const TOP_UP_CREDITED = 9_900n;
/** The amount of each bench recharge payment. */
export const RECHARGE_AMOUNT = 1_000n;
/**
 * How long the server idles after the load before it stops: the outbox relay's time to publish
 * what the last requests committed. A relay that kept up needs a few rounds of it.
 */
export const RELAY_GRACE_MS = 2000;

function equality(check: string, found: Record<string, bigint>, expected: bigint, unit = 'acknowledged'): Row {
  const pass = Object.values(found).every((value) => value === expected);
  return {
    scenario: SCENARIO,
    check,
    candidate: Object.entries(found)
      .map(([name, value]) => `${name} ${value}`)
      .join(', '),
    baseline: `${unit} ${expected}`,
    ratio: null,
    target: 'equal',
    pass,
  };
}

export interface CheckInput {
  env: NodeJS.ProcessEnv;
  merchantId: string;
  poolSlug: string;
  hotSlug: string;
  walletId: string | null;
  rechargeUsed: boolean;
  /** PostgreSQL of the raw baselines, and which of them ran. */
  rawUrl: string | null;
  rawRan: { hot: boolean; batch: boolean };
  acknowledged: Record<string, number>;
}

export async function correctness(input: CheckInput): Promise<Row[]> {
  const ack = (key: string) => BigInt(input.acknowledged[key] ?? 0);
  const rows: Row[] = [];
  const totals = await platformTotals(input.env, input.merchantId, [input.poolSlug, input.hotSlug], input.walletId);
  for (const [slug, label] of [
    [input.poolSlug, 'pool group (10,000 pockets)'],
    [input.hotSlug, 'hot group (one pocket)'],
  ] as const) {
    const group = totals.groups[slug]!;
    rows.push(
      equality(`${label}: balances = acknowledged charges`, { 'funding paid': group.spent, 'pocket balances': group.pocketBalances, 'recorded charges': group.charges }, ack(slug)),
    );
  }
  rows.push({
    scenario: SCENARIO,
    check: `events unpublished ${RELAY_GRACE_MS / 1000} s after the load (the relay kept up)`,
    candidate: `${totals.unpublishedEvents} events`,
    baseline: '',
    ratio: null,
    target: '= 0',
    pass: totals.unpublishedEvents === 0n,
  });
  if (input.walletId) {
    rows.push(equality('wallet balance = acknowledged top-ups × 9,900', { balance: totals.walletBalance ?? 0n }, ack(`wallet:${input.walletId}`) * TOP_UP_CREDITED, 'expected'));
  }
  if (input.rechargeUsed) {
    rows.push(equality('recharge balances = acknowledged commits × 1,000', { balances: totals.rechargeBalances }, ack('recharge-commits') * RECHARGE_AMOUNT, 'expected'));
  }
  if (input.rawUrl) {
    const raw = await rawTotals(input.rawUrl);
    if (input.rawRan.hot) rows.push(equality('raw hot row = acknowledged updates', { balance: raw.hotBalance }, ack('raw-hot')));
    if (input.rawRan.batch) rows.push(equality('raw batches = acknowledged rows', { spent: raw.poolSpent, balances: raw.poolBalances, rows: raw.poolCharges }, ack('raw-batch')));
  }
  const verify = await ledgerVerify(input.env);
  let summary = verify.output.trim().split('\n').slice(0, 3).join(' ');
  try {
    const parsed = JSON.parse(verify.output) as { ok: boolean; violations?: unknown[] };
    summary = parsed.ok ? 'ok' : `${parsed.violations?.length ?? '?'} violations`;
  } catch {
    // not JSON: an error message, shown as it is
  }
  rows.push({ scenario: SCENARIO, check: 'npm run cli -- ledger verify', candidate: summary, baseline: '', ratio: null, target: 'ok', pass: verify.code === 0, data: { output: verify.output } });
  return rows;
}
