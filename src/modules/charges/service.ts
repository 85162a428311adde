/**
 * Charges: customers, one-off charges split into installments and recurring ones, their
 * payments and statuses.
 *
 * Invariants kept here:
 * - Every change to a charge or its installments runs in one transaction that first locks the
 *   charge row (`FOR UPDATE`); the charge lock is always taken before any installment row, so
 *   concurrent changes serialise per charge and never deadlock.
 * - Statuses are worked out by model.ts from the installments and the calendar date in
 *   CHARGES_TIME_ZONE, and stored. `settleStatuses` compares and writes them; each change
 *   records an event (`charge.<status>`, `installment.<status>`, topic CHARGE) and queues a
 *   callback in that same transaction.
 * - An installment is paid once, in full (its amount less its discount): the ledger transfer
 *   `installment:<id>:payment` from `charges-clearing:BRL` (money from outside, no floor) to
 *   `charges-merchant:BRL` (floor 0) is keyed so that a second payment is impossible.
 */
import type { Db } from '../../db/database.ts';
import { transact, type Deps } from '../../deps.ts';
import { AppError, notFound } from '../../errors.ts';
import { recordEvents, type NewEvent } from '../../events/outbox.ts';
import type { Charge, ChargeCustomer, ChargeInstallment, Prisma as PrismaNs } from '../../generated/prisma/client.ts';
import { idempotent } from '../../idempotency/idempotency.ts';
import { createTransfers, openAccounts } from '../../ledger/ledger.ts';
import { randomHex, uuidv7 } from '../../lib/ids.ts';
import { queueCallbacks, type CallbackToQueue } from './callbacks.ts';
import type { IsoDate } from './dates.ts';
import { legacyCharge, legacyInstallment, type ChargeRecord, type LegacyContext } from './legacy-json.ts';
import {
  calendarDateIn,
  CHARGE_TOPIC,
  chargeStatus,
  CURRENCY,
  fromDbDate,
  installmentStatus,
  isSettled,
  remainingOf,
  toDbDate,
  type ChargeStatus,
  type ChargeType,
  type PaymentMethod,
} from './model.ts';
import { chargesRuntime, callbackUrlOptions, publicBaseUrl } from './runtime.ts';
import { dueDateAt, installmentSchedule, type Interval } from './schedule.ts';
import { checkCallbackUrl } from './ssrf-guard.ts';
import { ChargeInputError, fieldError, type CallbackUrlCheck, type ChargeChanges, type ChargeDraft, type CustomerDraft } from './validation.ts';

export type { ChargeRecord };

export const CLEARING_ACCOUNT = `charges-clearing:${CURRENCY}`;
export const MERCHANT_ACCOUNT = `charges-merchant:${CURRENCY}`;

/**
 * Before this date nothing is judged overdue: a charge is created `pending` even when its first
 * due date is already past (the document's own example is due in 2020), and the scheduler's
 * next round marks it overdue, with its callback.
 */
const NOTHING_OVERDUE: IsoDate = '0000-00-00';
/** Occurrences a recurring charge issues in one go at most (catching up after downtime). */
const MAX_ISSUED_AT_ONCE = 100;

const INCLUDE_RECORD = { customer: true, installments: { orderBy: { number: 'asc' } } } as const satisfies PrismaNs.ChargeInclude;

export const todayOf = (deps: Deps): IsoDate => calendarDateIn(deps.config.CHARGES_TIME_ZONE, deps.clock.now());

export const paymentLinkOf = (deps: Deps, charge: Pick<Charge, 'paymentToken'>): string =>
  `${publicBaseUrl(deps)}/vpos?billing=${charge.paymentToken}`;

export const legacyContext = (deps: Deps): LegacyContext => ({
  timeZone: deps.config.CHARGES_TIME_ZONE,
  paymentLink: (charge) => paymentLinkOf(deps, charge),
});

/**
 * Refuses callback URLs that are not http(s) or resolve to loopback, private, link-local or
 * metadata addresses. A name that does not resolve yet is accepted (the document's own example,
 * `api.ipag.test`, never does): every send checks it again, after resolving it.
 */
export const callbackUrlCheck =
  (deps: Deps): CallbackUrlCheck =>
  async (url) => {
    const check = await checkCallbackUrl(url, callbackUrlOptions(deps));
    if (check.ok || check.reason === 'unresolvable') return null;
    return `Callback url is refused: ${check.message}`;
  };

/** A charge id as the API shows it (the legacy numeric id); null when it cannot be one. */
export function parseChargeId(value: unknown): number | null {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^\d{1,10}$/.test(text)) return null;
  const id = Number(text);
  return id >= 1 && id <= 2_147_483_647 ? id : null;
}

/** Runs `fn` in one transaction, then wakes the callback worker for what it queued. */
async function commit<T>(deps: Deps, fn: (tx: Db) => Promise<T>): Promise<T> {
  const result = await transact(deps, fn);
  chargesRuntime(deps).kickCallbacks();
  return result;
}

async function lockCharge(tx: Db, merchantId: string, chargeId: number): Promise<Charge | null> {
  const rows = await tx.$queryRawUnsafe<{ id: number }[]>(`SELECT id FROM charges WHERE id = $1 AND merchant_id = $2 FOR UPDATE`, chargeId, merchantId);
  return rows[0] ? tx.charge.findUniqueOrThrow({ where: { id: chargeId } }) : null;
}

/**
 * A locked charge's installments (one of them, with `number`), locked too and read after the
 * lock. A card debit takes an installment's lease without the charge's lock (see debits.ts):
 * a writer that checks the lease must hold the installment, so that a debit starting meanwhile
 * waits for it, then finds the installment paid or gone and leaves the card alone.
 */
async function lockInstallments(tx: Db, chargeId: number, number?: number): Promise<ChargeInstallment[]> {
  await tx.$queryRawUnsafe(
    `SELECT id FROM charge_installments WHERE charge_id = $1 AND ($2::int IS NULL OR number = $2::int) ORDER BY number FOR UPDATE`,
    chargeId,
    number ?? null,
  );
  return tx.chargeInstallment.findMany({ where: { chargeId, ...(number !== undefined ? { number } : {}) }, orderBy: { number: 'asc' } });
}

/**
 * A card debit of the installment is under way, or was sent and its answer never came (in doubt,
 * until the scheduler asks the processor again): its processor may have approved it.
 */
const debitInFlight = (installment: ChargeInstallment, now: Date): boolean =>
  !isSettled(installment) && ((installment.debitLeaseUntil !== null && installment.debitLeaseUntil > now) || installment.debitKey !== null);

/** An installment's columns once no card debit is under way or in doubt. */
export const NO_DEBIT_IN_FLIGHT = { debitLeaseUntil: null, debitKey: null, debitCard: null, debitAmount: null } as const;

export function findCharge(db: Db, merchantId: string, chargeId: number): Promise<ChargeRecord | null> {
  return db.charge.findFirst({ where: { id: chargeId, merchantId }, include: INCLUDE_RECORD });
}

async function readCharge(db: Db, chargeId: number): Promise<ChargeRecord> {
  return db.charge.findUniqueOrThrow({ where: { id: chargeId }, include: INCLUDE_RECORD });
}

// ---------------------------------------------------------------------------------------------
// Customers

/** The merchant's customer with this CPF/CNPJ, brought up to date, or a new one. */
async function upsertCustomer(tx: Db, merchantId: string, draft: CustomerDraft, now: Date): Promise<number> {
  const [row] = await tx.$queryRawUnsafe<{ id: number }[]>(
    `INSERT INTO charge_customers (merchant_id, name, cpf_cnpj, phone, email, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6::timestamptz, $6::timestamptz)
     ON CONFLICT (merchant_id, cpf_cnpj) DO UPDATE SET
       name = EXCLUDED.name,
       phone = COALESCE(EXCLUDED.phone, charge_customers.phone),
       email = COALESCE(EXCLUDED.email, charge_customers.email),
       updated_at = EXCLUDED.updated_at
     RETURNING id`,
    merchantId,
    draft.name,
    draft.cpfCnpj,
    draft.phone,
    draft.email,
    now.toISOString(),
  );
  return row!.id;
}

export async function createCustomer(db: Db, merchantId: string, draft: CustomerDraft, now: Date): Promise<ChargeCustomer> {
  const id = await upsertCustomer(db, merchantId, draft, now);
  return db.chargeCustomer.findUniqueOrThrow({ where: { id } });
}

export function findCustomerByCpfCnpj(db: Db, merchantId: string, cpfCnpj: string): Promise<ChargeCustomer | null> {
  return db.chargeCustomer.findUnique({ where: { merchantId_cpfCnpj: { merchantId, cpfCnpj } } });
}

// ---------------------------------------------------------------------------------------------
// Schedules

interface Cadence {
  dueDate: Date;
  interval: string;
  frequency: number;
  lastChargeDate: Date | null;
  installmentCount: number;
}

/** The due date of occurrence `number` (from 1), or null past the last charge date or the calendar. */
function occurrenceDue(charge: Cadence, number: number): IsoDate | null {
  let due: IsoDate;
  try {
    due = dueDateAt(fromDbDate(charge.dueDate), charge.interval as Interval, charge.frequency, number - 1);
  } catch {
    return null;
  }
  return charge.lastChargeDate && due > fromDbDate(charge.lastChargeDate) ? null : due;
}

/**
 * Where a recurring charge stands: occurrence `next` is issued at once while it is among the
 * first `installmentCount`, and otherwise once occurrence `next - installmentCount` is past due,
 * so that `installmentCount` occurrences due today or later are always out.
 */
function pointerAt(charge: Cadence, next: number): { nextOccurrence: number | null; issueAfter: Date | null } {
  if (occurrenceDue(charge, next) === null) return { nextOccurrence: null, issueAfter: null };
  const gate = next > charge.installmentCount ? occurrenceDue(charge, next - charge.installmentCount) : null;
  return { nextOccurrence: next, issueAfter: gate === null ? null : toDbDate(gate) };
}

async function insertInstallments(tx: Db, charge: Charge, items: { number: number; dueDate: IsoDate; amount: bigint }[], now: Date): Promise<void> {
  if (items.length === 0) return;
  await tx.chargeInstallment.createMany({
    data: items.map((item) => ({
      id: uuidv7(now.getTime()),
      merchantId: charge.merchantId,
      chargeId: charge.id,
      number: item.number,
      dueDate: toDbDate(item.dueDate),
      amount: item.amount,
      status: charge.isActive ? 'pending' : 'canceled',
      createdAt: now,
      updatedAt: now,
    })),
  });
}

/** Issues what a recurring charge owes up to `today` (see pointerAt); answers how many. */
async function issueOccurrences(tx: Db, charge: Charge, today: IsoDate, now: Date): Promise<number> {
  if (charge.type !== 'recurring' || !charge.isActive) return 0;
  let pointer = { nextOccurrence: charge.nextOccurrence, issueAfter: charge.issueAfter };
  const items: { number: number; dueDate: IsoDate; amount: bigint }[] = [];
  while (pointer.nextOccurrence !== null && items.length < MAX_ISSUED_AT_ONCE) {
    if (pointer.issueAfter !== null && !(fromDbDate(pointer.issueAfter) < today)) break;
    const number = pointer.nextOccurrence;
    items.push({ number, dueDate: occurrenceDue(charge, number)!, amount: charge.amount });
    pointer = pointerAt(charge, number + 1);
  }
  await insertInstallments(tx, charge, items, now);
  if (pointer.nextOccurrence !== charge.nextOccurrence || pointer.issueAfter?.getTime() !== charge.issueAfter?.getTime()) {
    await tx.charge.update({ where: { id: charge.id }, data: pointer });
  }
  return items.length;
}

/** Lays out a charge's installments from scratch: the whole split (normal) or the first occurrences (recurring). */
async function layOutInstallments(tx: Db, charge: Charge, today: IsoDate, now: Date): Promise<void> {
  if (charge.type === 'normal') {
    const schedule = installmentSchedule({
      total: charge.amount,
      firstDueDate: fromDbDate(charge.dueDate),
      installments: charge.installmentCount,
      interval: charge.interval as Interval,
      frequency: charge.frequency,
    });
    if (!schedule.ok) throw fieldError(schedule.reason === 'amount_below_installments' ? 'amount' : 'due_date', schedule.message);
    await insertInstallments(tx, charge, schedule.installments, now);
    return;
  }
  const pointer = pointerAt(charge, 1);
  const reset = await tx.charge.update({ where: { id: charge.id }, data: pointer });
  await issueOccurrences(tx, reset, today, now);
}

// ---------------------------------------------------------------------------------------------
// Statuses, events and callbacks

interface StatusChange {
  event: string;
  installment: ChargeInstallment | null;
  status: string;
  previous: string;
}

/**
 * Works out and stores the statuses of a locked charge and its installments; every change gets
 * its event and, when the charge has a callback URL, its callback, in the caller's transaction.
 */
async function settleStatuses(tx: Db, deps: Deps, chargeId: number, today: IsoDate, now: Date, extraEvents: NewEvent[] = []): Promise<ChargeRecord> {
  const charge = await readCharge(tx, chargeId);
  const states = charge.installments.map((installment) => ({ ...installment, dueDate: fromDbDate(installment.dueDate) }));
  const changes: StatusChange[] = [];
  for (const [index, installment] of charge.installments.entries()) {
    const status = installmentStatus(charge, states[index]!, today);
    if (status === installment.status) continue;
    await tx.chargeInstallment.update({ where: { id: installment.id }, data: { status, updatedAt: now } });
    changes.push({ event: `installment.${status}`, installment: { ...installment, status }, status, previous: installment.status });
  }
  const status = chargeStatus({ type: charge.type as ChargeType, isActive: charge.isActive, moreToIssue: charge.nextOccurrence !== null }, states, today);
  if (status !== charge.status) {
    await tx.charge.update({ where: { id: charge.id }, data: { status, updatedAt: now } });
    changes.push({ event: `charge.${status}`, installment: null, status, previous: charge.status });
  }
  const events: NewEvent[] = [
    ...extraEvents,
    ...changes.map((change) => ({
      merchantId: charge.merchantId,
      type: change.event,
      topic: CHARGE_TOPIC,
      objectId: String(charge.id),
      data: {
        chargeId: charge.id,
        status: change.status,
        previousStatus: change.previous,
        ...(change.installment ? { installmentNumber: change.installment.number } : {}),
      },
    })),
  ];
  await recordEvents(tx, events, now);
  if (changes.length === 0) return charge;
  const current = await readCharge(tx, chargeId);
  if (current.callbackUrl) {
    const context = legacyContext(deps);
    const document = legacyCharge(current, context);
    const callbacks: CallbackToQueue[] = changes.map((change) => {
      const installment = change.installment ? current.installments.find((item) => item.id === change.installment!.id) : undefined;
      return {
        merchantId: current.merchantId,
        chargeId: current.id,
        url: current.callbackUrl!,
        event: change.event,
        data: { charge: document, ...(installment ? { installment: legacyInstallment(installment, current, context) } : {}) },
      };
    });
    await queueCallbacks(tx, callbacks, now);
  }
  return current;
}

const chargeEvent = (charge: Pick<Charge, 'merchantId' | 'id'>, type: string, data: Record<string, unknown> = {}): NewEvent => ({
  merchantId: charge.merchantId,
  type,
  topic: CHARGE_TOPIC,
  objectId: String(charge.id),
  data: { chargeId: charge.id, ...data },
});

// ---------------------------------------------------------------------------------------------
// Create, update, deactivate

export async function createCharge(
  deps: Deps,
  merchantId: string,
  draft: ChargeDraft,
  idempotencyKey: string | null = null,
): Promise<{ charge: ChargeRecord; replayed: boolean }> {
  const { value: chargeId, replayed } = await idempotent(
    deps,
    { merchantId, key: idempotencyKey, scope: 'charges:createCharge', payload: draft },
    async (tx) => {
      const now = deps.clock.now();
      let customerId: number;
      if (draft.customerId !== null) {
        const customer = await tx.chargeCustomer.findFirst({ where: { id: draft.customerId, merchantId } });
        if (!customer) throw fieldError('customer_id', 'Customer not found');
        customerId = customer.id;
      } else {
        customerId = await upsertCustomer(tx, merchantId, draft.customer!, now);
      }
      const charge = await tx.charge.create({
        data: {
          merchantId,
          customerId,
          amount: draft.amount,
          description: draft.description,
          type: draft.type,
          interval: draft.interval,
          frequency: draft.frequency,
          installmentCount: draft.installments,
          dueDate: toDbDate(draft.dueDate),
          lastChargeDate: draft.lastChargeDate ? toDbDate(draft.lastChargeDate) : null,
          callbackUrl: draft.callbackUrl,
          autoDebit: draft.autoDebit,
          isActive: draft.isActive,
          status: draft.isActive ? 'pending' : 'canceled',
          paymentToken: randomHex(16),
          cardToken: draft.cardToken,
          createdAt: now,
          updatedAt: now,
        },
      });
      await layOutInstallments(tx, charge, todayOf(deps), now);
      await settleStatuses(tx, deps, charge.id, NOTHING_OVERDUE, now, [chargeEvent(charge, 'charge.created')]);
      return charge.id;
    },
  );
  chargesRuntime(deps).kickCallbacks();
  return { charge: await readCharge(deps.prisma, chargeId), replayed };
}

/**
 * Changes a charge. Amount and first due date lay the installments out again, so they can only
 * change while nothing is paid; a recurring charge's last charge date cannot move before an
 * occurrence already issued. Deactivating cancels what is unpaid and stops a recurring charge;
 * reactivating resumes it from today on (occurrences that fell due meanwhile are skipped).
 */
export async function updateCharge(deps: Deps, merchantId: string, chargeId: number, changes: ChargeChanges): Promise<ChargeRecord> {
  return commit(deps, async (tx) => {
    const charge = await lockCharge(tx, merchantId, chargeId);
    if (!charge) throw notFound('Charge');
    const now = deps.clock.now();
    const today = todayOf(deps);
    const installments = await lockInstallments(tx, chargeId);
    const anyPaid = installments.some(isSettled);
    const amountChanges = changes.amount !== undefined && changes.amount !== charge.amount;
    const dueDateChanges = changes.dueDate !== undefined && changes.dueDate !== fromDbDate(charge.dueDate);
    if (anyPaid && amountChanges) throw fieldError('amount', 'Amount cannot be changed once an installment is paid');
    if (anyPaid && dueDateChanges) throw fieldError('due_date', 'Due date cannot be changed once an installment is paid');
    // Laying the installments out again would take away the one a card debit is about to pay.
    if ((amountChanges || dueDateChanges) && installments.some((installment) => debitInFlight(installment, now))) {
      throw new ChargeInputError({ [amountChanges ? 'amount' : 'due_date']: ['A card debit of an installment is in progress; retry in a few minutes.'] }, 'CONFLICT');
    }
    const dueDate = changes.dueDate ?? fromDbDate(charge.dueDate);
    const lastChargeDate = changes.lastChargeDate !== undefined ? changes.lastChargeDate : charge.lastChargeDate && fromDbDate(charge.lastChargeDate);
    if (lastChargeDate && lastChargeDate < dueDate) throw fieldError('last_charge_date', 'Last charge date must not be before the due date');
    const relayOut = amountChanges || dueDateChanges;
    const lastIssued = installments.at(-1);
    if (charge.type === 'recurring' && !relayOut && lastChargeDate && lastIssued && lastChargeDate < fromDbDate(lastIssued.dueDate)) {
      throw fieldError('last_charge_date', `Last charge date must not be before ${fromDbDate(lastIssued.dueDate)}, the due date of an installment already issued`);
    }

    const reactivated = changes.isActive === true && !charge.isActive;
    let updated = await tx.charge.update({
      where: { id: chargeId },
      data: {
        ...(changes.amount !== undefined ? { amount: changes.amount } : {}),
        ...(changes.description !== undefined ? { description: changes.description } : {}),
        ...(changes.dueDate !== undefined ? { dueDate: toDbDate(changes.dueDate) } : {}),
        ...(changes.lastChargeDate !== undefined ? { lastChargeDate: changes.lastChargeDate ? toDbDate(changes.lastChargeDate) : null } : {}),
        ...(changes.callbackUrl !== undefined ? { callbackUrl: changes.callbackUrl } : {}),
        ...(changes.autoDebit !== undefined ? { autoDebit: changes.autoDebit } : {}),
        ...(changes.isActive !== undefined ? { isActive: changes.isActive } : {}),
        ...(changes.cardToken !== undefined ? { cardToken: changes.cardToken } : {}),
        updatedAt: now,
      },
    });
    if (relayOut) {
      await tx.chargeInstallment.deleteMany({ where: { chargeId } });
      await layOutInstallments(tx, updated, today, now);
    } else if (updated.type === 'recurring') {
      let next = (lastIssued?.number ?? 0) + 1;
      if (reactivated) {
        for (let due = occurrenceDue(updated, next); due !== null && due < today; due = occurrenceDue(updated, next)) next++;
      }
      updated = await tx.charge.update({ where: { id: chargeId }, data: pointerAt(updated, next) });
      await issueOccurrences(tx, updated, today, now);
    }
    return settleStatuses(tx, deps, chargeId, today, now, [chargeEvent(updated, 'charge.updated')]);
  });
}

export const deactivateCharge = (deps: Deps, merchantId: string, chargeId: number) => updateCharge(deps, merchantId, chargeId, { isActive: false });

// ---------------------------------------------------------------------------------------------
// Payments

export interface PaymentInput {
  method: PaymentMethod;
  /** The processor's authorization id, or the merchant's own reference for an external payment. */
  reference: string | null;
  discount?: bigint;
  paymentDate?: IsoDate;
}

/**
 * Records the payment of one installment, in full less its discount, inside the caller's
 * transaction; the charge must be locked already. Throws CONFLICT when it is paid already.
 */
async function recordPayment(tx: Db, deps: Deps, charge: Charge, installment: ChargeInstallment, payment: PaymentInput): Promise<ChargeInstallment> {
  const now = deps.clock.now();
  if (isSettled(installment)) throw new AppError('CONFLICT', `Installment ${installment.number} is already paid.`, 'number');
  const discount = payment.discount ?? installment.discount;
  if (discount < 0n || discount >= installment.amount) {
    throw new AppError('VALIDATION_FAILED', 'A discount is zero or more and less than the installment amount.', 'discount');
  }
  const amount = remainingOf({ ...installment, discount });
  const accounts = await openAccounts(tx, [
    { merchantId: charge.merchantId, name: CLEARING_ACCOUNT, kind: 'charges_clearing', currency: CURRENCY, floor: null },
    { merchantId: charge.merchantId, name: MERCHANT_ACCOUNT, kind: 'charges_merchant', currency: CURRENCY, floor: 0n },
  ]);
  const [outcome] = await createTransfers(
    tx,
    [
      {
        merchantId: charge.merchantId,
        key: `installment:${installment.id}:payment`,
        debitAccountId: accounts.get(CLEARING_ACCOUNT)!.id,
        creditAccountId: accounts.get(MERCHANT_ACCOUNT)!.id,
        amount,
        currency: CURRENCY,
        code: 'charge.installment_payment',
      },
    ],
    now,
  );
  if (!outcome!.ok) {
    if (outcome!.reason === 'DUPLICATE_KEY') throw new AppError('CONFLICT', `Installment ${installment.number} is already paid.`, 'number');
    throw new Error(`ledger refused an installment payment: ${outcome!.reason}`);
  }
  return tx.chargeInstallment.update({
    where: { id: installment.id },
    data: {
      paidAmount: amount,
      discount,
      paymentDate: toDbDate(payment.paymentDate ?? todayOf(deps)),
      paidAt: now,
      paymentMethod: payment.method,
      paymentReference: payment.reference,
      transferId: outcome!.transfer.id,
      ...NO_DEBIT_IN_FLIGHT,
      updatedAt: now,
    },
  });
}

/** Records a payment the merchant received elsewhere (cash, bank transfer, another gateway). */
export async function recordExternalPayment(
  deps: Deps,
  merchantId: string,
  input: { chargeId: number; number: number; discount?: bigint; paymentDate?: IsoDate; reference?: string | null },
  idempotencyKey: string | null = null,
): Promise<{ installment: ChargeInstallment; replayed: boolean }> {
  const { value: installmentId, replayed } = await idempotent(
    deps,
    { merchantId, key: idempotencyKey, scope: 'charges:payChargeInstallment', payload: input },
    async (tx) => {
      const charge = await lockCharge(tx, merchantId, input.chargeId);
      if (!charge) throw notFound('Charge');
      if (!charge.isActive) throw new AppError('INVALID_STATE_TRANSITION', 'The charge is deactivated; reactivate it to record a payment.', 'chargeId');
      const [installment] = await lockInstallments(tx, charge.id, input.number);
      if (!installment) throw new AppError('NOT_FOUND', `The charge has no installment ${input.number}.`, 'number');
      const now = deps.clock.now();
      if (debitInFlight(installment, now)) {
        throw new AppError('CONFLICT', 'A card debit of this installment is in progress or awaits the processor\'s answer; retry in a few minutes.', 'number');
      }
      const paid = await recordPayment(tx, deps, charge, installment, {
        method: 'external',
        reference: input.reference ?? null,
        ...(input.discount !== undefined ? { discount: input.discount } : {}),
        ...(input.paymentDate !== undefined ? { paymentDate: input.paymentDate } : {}),
      });
      await settleStatuses(tx, deps, charge.id, todayOf(deps), now);
      return paid.id;
    },
  );
  chargesRuntime(deps).kickCallbacks();
  return { installment: await deps.prisma.chargeInstallment.findUniqueOrThrow({ where: { id: installmentId } }), replayed };
}

/**
 * Records a card payment the processor approved (auto-debit or payment link). The money was
 * taken, so this records it even if the charge was deactivated in the meantime.
 */
export async function recordCardPayment(
  deps: Deps,
  input: { installmentId: string; method: 'auto_debit' | 'payment_link'; authorizationId: string; cardToken: string; countsAsDebitAttempt: boolean },
): Promise<ChargeRecord> {
  return commit(deps, async (tx) => {
    const installment = await tx.chargeInstallment.findUniqueOrThrow({ where: { id: input.installmentId } });
    const charge = (await lockCharge(tx, installment.merchantId, installment.chargeId))!;
    const now = deps.clock.now();
    const fresh = await tx.chargeInstallment.findUniqueOrThrow({ where: { id: input.installmentId } });
    await recordPayment(tx, deps, charge, fresh, { method: input.method, reference: input.authorizationId });
    if (input.countsAsDebitAttempt) {
      await tx.chargeInstallment.update({ where: { id: fresh.id }, data: { debitAttempts: { increment: 1 }, lastDebitError: null } });
    }
    // Paying through the link with a card puts it on file for the charge's next auto-debits.
    if (input.method === 'payment_link' && charge.autoDebit && charge.cardToken !== input.cardToken) {
      await tx.charge.update({ where: { id: charge.id }, data: { cardToken: input.cardToken, updatedAt: now } });
    }
    return settleStatuses(tx, deps, charge.id, todayOf(deps), now);
  });
}

// ---------------------------------------------------------------------------------------------
// Scheduler work (each claims its charges with SKIP LOCKED: concurrent schedulers share the work)

const CLAIM_BATCH = 25;
const MAX_ROUNDS = 40;

/**
 * Limits a round of background work to some merchants: an operator catching one merchant up
 * now, and test suites that share one database. Null: every merchant.
 */
export interface WorkScope {
  merchantIds: string[] | null;
}
export const EVERY_MERCHANT: WorkScope = { merchantIds: null };

async function claimAndSettle(
  deps: Deps,
  scope: WorkScope,
  claimSql: string,
  work: (tx: Db, charge: Charge, today: IsoDate, now: Date) => Promise<void>,
): Promise<number> {
  let done = 0;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const claimed = await commit(deps, async (tx) => {
      const today = todayOf(deps);
      const now = deps.clock.now();
      const rows = await tx.$queryRawUnsafe<{ id: number }[]>(claimSql, today, CLAIM_BATCH, scope.merchantIds);
      for (const row of rows) {
        const charge = await tx.charge.findUniqueOrThrow({ where: { id: row.id } });
        await work(tx, charge, today, now);
        await settleStatuses(tx, deps, charge.id, today, now);
      }
      return rows.length;
    });
    done += claimed;
    if (claimed < CLAIM_BATCH) break;
  }
  return done;
}

/** Issues the occurrences recurring charges owe by today; answers how many charges it worked on. */
export function issueRecurringInstallments(deps: Deps, scope: WorkScope = EVERY_MERCHANT): Promise<number> {
  return claimAndSettle(
    deps,
    scope,
    `SELECT id FROM charges
     WHERE type = 'recurring' AND is_active AND next_occurrence IS NOT NULL AND (issue_after IS NULL OR issue_after < $1::date)
       AND ($3::text[] IS NULL OR merchant_id = ANY($3::text[]))
     ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    async (tx, charge, today, now) => {
      await issueOccurrences(tx, charge, today, now);
    },
  );
}

/** Marks installments past their due date overdue (and their charges); answers how many charges changed. */
export function markOverdueInstallments(deps: Deps, scope: WorkScope = EVERY_MERCHANT): Promise<number> {
  return claimAndSettle(
    deps,
    scope,
    `SELECT c.id FROM charges c
     WHERE c.is_active AND ($3::text[] IS NULL OR c.merchant_id = ANY($3::text[])) AND EXISTS (
       SELECT 1 FROM charge_installments i WHERE i.charge_id = c.id AND i.status = 'pending' AND i.due_date < $1::date)
     ORDER BY c.id LIMIT $2 FOR UPDATE SKIP LOCKED`,
    async () => {},
  );
}

// ---------------------------------------------------------------------------------------------
// Queries

export interface ChargeFilter {
  statuses?: ChargeStatus[] | null;
  customerId?: number | null;
  /** Charges with an installment due on or after this date. */
  dueFrom?: IsoDate | null;
  /** Charges with an installment due on or before this date. */
  dueTo?: IsoDate | null;
  isActive?: boolean | null;
}

export function chargeWhere(merchantId: string, filter: ChargeFilter): PrismaNs.ChargeWhereInput {
  const due = {
    ...(filter.dueFrom ? { gte: toDbDate(filter.dueFrom) } : {}),
    ...(filter.dueTo ? { lte: toDbDate(filter.dueTo) } : {}),
  };
  return {
    merchantId,
    ...(filter.statuses?.length ? { status: { in: filter.statuses } } : {}),
    ...(filter.customerId ? { customerId: filter.customerId } : {}),
    ...(filter.isActive !== null && filter.isActive !== undefined ? { isActive: filter.isActive } : {}),
    ...(filter.dueFrom || filter.dueTo ? { installments: { some: { dueDate: due } } } : {}),
  };
}

/** A page of the merchant's charges, newest first, for the legacy list route. */
export async function listCharges(db: Db, merchantId: string, filter: ChargeFilter, page: number, perPage: number) {
  const where = chargeWhere(merchantId, filter);
  const [total, charges] = await Promise.all([
    db.charge.count({ where }),
    db.charge.findMany({ where, include: INCLUDE_RECORD, orderBy: { id: 'desc' }, skip: (page - 1) * perPage, take: perPage }),
  ]);
  return { total, charges };
}

export function findChargeByPaymentToken(db: Db, token: string): Promise<ChargeRecord | null> {
  if (!/^[0-9a-f]{32}$/.test(token)) return Promise.resolve(null);
  return db.charge.findUnique({ where: { paymentToken: token }, include: INCLUDE_RECORD });
}

export interface ChargeTotals {
  status: ChargeStatus;
  type: ChargeType;
  currency: string;
  count: number;
  amount: bigint;
}

/** Charges per status, type and currency: how many, and their amount. */
export async function chargeTotals(db: Db, merchantId: string): Promise<ChargeTotals[]> {
  const rows = await db.charge.groupBy({
    by: ['status', 'type', 'currency'],
    where: { merchantId },
    _count: { _all: true },
    _sum: { amount: true },
    orderBy: [{ status: 'asc' }, { type: 'asc' }, { currency: 'asc' }],
  });
  return rows.map((row) => ({
    status: row.status as ChargeStatus,
    type: row.type as ChargeType,
    currency: row.currency,
    count: row._count._all,
    amount: row._sum.amount ?? 0n,
  }));
}
