import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxCardProcessor, type DebitRequest } from '../../src/modules/charges/card-processor.ts';
import { configureCharges } from '../../src/modules/charges/runtime.ts';
import { runSchedulerRound } from '../../src/modules/charges/scheduler.ts';
import { expectLedgerBalanced, startApp, TestClock, token, until, usesPostgres, type TestApp } from '../support/app.ts';
import {
  basicOf,
  CHARGES_PATH,
  createLegacyCharge,
  customer,
  holdMerchantAccount,
  MANUAL,
  merchantBalance,
  paymentTransfers,
  waitingFor,
} from './support.ts';

/** The sandbox, whose next debit can be held in flight until the test lets it go, or have its answer lost. */
class HoldingProcessor extends SandboxCardProcessor {
  #held: { arrive: () => void; released: Promise<void> } | null = null;
  #loseNext = false;

  /** The next debit is carried out, and its answer never comes back. */
  loseNextAnswer(): void {
    this.#loseNext = true;
  }

  holdNext(): { arrived: Promise<void>; release: () => void } {
    let arrive!: () => void;
    let release!: () => void;
    const arrived = new Promise<void>((resolve) => (arrive = resolve));
    this.#held = { arrive, released: new Promise<void>((resolve) => (release = resolve)) };
    return { arrived, release };
  }

  override async debit(request: DebitRequest) {
    const held = this.#held;
    if (held) {
      this.#held = null;
      held.arrive();
      await held.released;
    }
    const outcome = await super.debit(request);
    if (this.#loseNext) {
      this.#loseNext = false;
      throw new Error('socket hang up');
    }
    return outcome;
  }
}

let t: TestApp;
const clock = new TestClock(new Date('2030-03-01T15:00:00Z'));
const processor = new HoldingProcessor();
beforeAll(async () => {
  t = await startApp({ ...MANUAL, PUBLIC_BASE_URL: 'https://pay.example.com' }, { clock });
  configureCharges(t.app.deps, { processor });
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const billingOf = (charge: { attributes: { links: { payment: string } } }) => new URL(charge.attributes.links.payment).searchParams.get('billing')!;

const pay = (billing: string, installment: number, cardToken: string) =>
  t.request('POST', '/vpos', {
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ billing, installment: String(installment), card_token: cardToken }).toString(),
  });

/** A new charge whose first installment the payer paid by card on the payment page, the processor's answer lost: answered 402, the card charged. */
async function lostDebit(amount: number, dueDate: string, cardToken: string) {
  const m = await t.merchant();
  const charge = await createLegacyCharge(t, m, { amount, description: 'x', due_date: dueDate, customer: customer() });
  const debits = processor.debits.length;
  processor.loseNextAnswer();
  expect((await pay(billingOf(charge), 1, cardToken)).status).toBe(402);
  expect(processor.debits.length).toBe(debits + 1);
  return { m, charge, debits };
}

describe('payment link', () => {
  it('shows the charge to the payer and takes a card payment into the ledger', async () => {
    const m = await t.merchant();
    const charge = await createLegacyCharge(t, m, {
      amount: '300.00',
      description: 'Mensalidade <escola>',
      due_date: '10/03/2030',
      installments: 3,
      customer: customer({ name: 'Joana' }),
      callback_url: 'https://merchant.invalid/cb',
    });
    const billing = billingOf(charge);
    expect(charge.attributes.links.payment).toBe(`https://pay.example.com/vpos?billing=${billing}`);

    const page = await t.request('GET', `/vpos?billing=${billing}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    // No other site may frame it, nor anything load into it but its own style.
    expect(page.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.text).toContain('Mensalidade &#60;escola&#62;');
    expect(page.text).toContain('R$ 100,00');
    expect(page.text.match(/data-status="pending"/g)).toHaveLength(3);

    const paid = await pay(billing, 1, 'tok_visa_4242');
    expect(paid.status).toBe(200);
    expect(paid.text).toContain('Installment 1 is paid');
    expect(await merchantBalance(t, m.merchantId)).toBe(10000n);
    const shown = await t.request('GET', `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(m) });
    expect(shown.json.attributes.status).toBe('partially_paid');
    expect(shown.json.attributes.installments.data[0]).toMatchObject({
      paid_amount: 100,
      payment_date: '2030-03-01',
      payment: { method: 'payment_link', reference: expect.stringMatching(/^sandbox_/), amount: 100, paid_at: '2030-03-01 12:00:00' },
    });
    const deliveries = await t.app.deps.prisma.chargeCallbackDelivery.findMany({ where: { chargeId: charge.id } });
    expect(deliveries.map((delivery) => delivery.event).sort()).toEqual(['charge.partially_paid', 'installment.paid']);

    const again = await pay(billing, 1, 'tok_visa_4242');
    expect(again.status).toBe(409);
    expect(await merchantBalance(t, m.merchantId)).toBe(10000n);
  });

  it('answers a declined card without moving money, and lets the payer try another card at once', async () => {
    const m = await t.merchant();
    const charge = await createLegacyCharge(t, m, { amount: 50, description: 'x', due_date: '2030-03-10', customer: customer() });
    const declined = await pay(billingOf(charge), 1, 'tok_poor_0002');
    expect(declined.status).toBe(402);
    expect(declined.text).toContain('declined');
    const failed = await pay(billingOf(charge), 1, 'tok_down_0003');
    expect(failed.status).toBe(402);
    expect(await merchantBalance(t, m.merchantId)).toBe(0n);
    const ok = await pay(billingOf(charge), 1, 'tok_rich_0001');
    expect(ok.status).toBe(200);
    expect(await merchantBalance(t, m.merchantId)).toBe(5000n);
  });

  it('pays an installment once when the payer submits many times at once', async () => {
    const m = await t.merchant();
    const charge = await createLegacyCharge(t, m, { amount: 80, description: 'x', due_date: '2030-03-10', customer: customer() });
    const before = processor.debits.length;
    const answers = await Promise.all(Array.from({ length: 6 }, () => pay(billingOf(charge), 1, 'tok_twice_0001')));
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    expect(processor.debits.length - before).toBe(1);
    expect(await paymentTransfers(t, m.merchantId)).toHaveLength(1);
    expect(await merchantBalance(t, m.merchantId)).toBe(8000n);
  });

  it('keeps the installments while a card debit is in flight, and records the debit', async () => {
    const m = await t.merchant();
    const charge = await createLegacyCharge(t, m, { amount: 90, description: 'x', due_date: '2030-03-10', installments: 3, customer: customer() });
    const debit = processor.holdNext();
    const paying = pay(billingOf(charge), 1, 'tok_slow_0001');
    await debit.arrived;

    // Laying the installments out again would take away the one being paid.
    const legacy = await t.request('PUT', `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(m), body: { amount: '120.00' } });
    expect(legacy.status).toBe(406);
    expect(legacy.json.message).toEqual({ amount: ['A card debit of an installment is in progress; retry in a few minutes.'] });
    const UPDATE = `mutation ($id: ID!, $input: UpdateChargeInput!) { updateCharge(id: $id, input: $input) { __typename ... on AppError { code field } } }`;
    const moved = await t.graphql(UPDATE, { id: String(charge.id), input: { dueDate: '2030-04-10' } }, { authorization: token(m) });
    expect(moved.data.updateCharge).toEqual({ __typename: 'AppError', code: 'CONFLICT', field: 'dueDate' });
    // A change that keeps the installments goes through.
    const renamed = await t.request('PUT', `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(m), body: { description: 'y' } });
    expect(renamed.status).toBe(200);

    debit.release();
    expect((await paying).status).toBe(200);
    const installments = await t.app.deps.prisma.chargeInstallment.findMany({ where: { chargeId: charge.id }, orderBy: { number: 'asc' } });
    expect(installments.map((installment) => [installment.number, installment.amount, installment.status])).toEqual([
      [1, 3000n, 'paid'],
      [2, 3000n, 'pending'],
      [3, 3000n, 'pending'],
    ]);
    expect(await merchantBalance(t, m.merchantId)).toBe(3000n);
  });

  // The embedded database runs one transaction at a time: the race needs PostgreSQL.
  it.runIf(usesPostgres)('leaves the card alone while the merchant records a payment of the same installment', async () => {
    const m = await t.merchant();
    const charge = await createLegacyCharge(t, m, { amount: 40, description: 'x', due_date: '2030-03-10', installments: 2, customer: customer() });
    // The first payment opens the merchant's charges account, which the test then holds.
    expect((await pay(billingOf(charge), 1, 'tok_first_0001')).status).toBe(200);
    const debits = processor.debits.length;
    const account = await holdMerchantAccount(t, m.merchantId);
    const external = t.graphql(
      `mutation ($id: ID!) { payChargeInstallment(chargeId: $id, number: 2) { __typename ... on AppError { code } } }`,
      { id: String(charge.id) },
      { authorization: token(m) },
    );
    // The merchant's payment has checked the installment and waits at the ledger, in its transaction.
    const recording = await until(async () => (await waitingFor(t, account.pid))[0]);
    const paying = pay(billingOf(charge), 2, 'tok_late_0001');
    // The payer's request either waits for the merchant's transaction or has reached the processor.
    await until(async () => (processor.debits.length > debits || (await waitingFor(t, recording)).length > 0 ? true : undefined));
    await account.release();

    expect((await external).data.payChargeInstallment).toEqual({ __typename: 'MutationPayChargeInstallmentSuccess' });
    expect((await paying).status).toBe(409);
    expect(processor.debits.length).toBe(debits);
    const second = await t.app.deps.prisma.chargeInstallment.findFirstOrThrow({ where: { chargeId: charge.id, number: 2 } });
    expect(second).toMatchObject({ status: 'paid', paymentMethod: 'external' });
    expect(await merchantBalance(t, m.merchantId)).toBe(4000n);
  });

  it('charges the card once when a debit\'s answer is lost: the payer\'s next try finds it approved', async () => {
    const { m, charge, debits } = await lostDebit(70, '2030-03-10', 'tok_lost_0001');
    // In doubt: the merchant cannot record another payment of it meanwhile.
    const external = await t.graphql(
      `mutation ($id: ID!) { payChargeInstallment(chargeId: $id, number: 1) { __typename ... on AppError { code } } }`,
      { id: String(charge.id) },
      { authorization: token(m) },
    );
    expect(external.data.payChargeInstallment).toEqual({ __typename: 'AppError', code: 'CONFLICT' });
    clock.advance(6 * 60 * 1000);
    const again = await pay(billingOf(charge), 1, 'tok_other_0001');
    expect(again.status).toBe(200);
    expect(processor.debits.length).toBe(debits + 1);
    const installment = await t.app.deps.prisma.chargeInstallment.findFirstOrThrow({ where: { chargeId: charge.id, number: 1 } });
    expect(installment).toMatchObject({ status: 'paid', paymentMethod: 'payment_link', debitKey: null, debitCard: null, debitAmount: null });
    expect(await merchantBalance(t, m.merchantId)).toBe(7000n);
  });

  it('has the scheduler ask about a payment-page debit whose answer was lost, and record it', async () => {
    const { m, charge, debits } = await lostDebit(30, '2030-04-10', 'tok_lost_0004');
    clock.advance(6 * 60 * 1000);
    await runSchedulerRound(t.app.deps, { merchantIds: [m.merchantId] });
    const installment = await t.app.deps.prisma.chargeInstallment.findFirstOrThrow({ where: { chargeId: charge.id, number: 1 } });
    expect(installment).toMatchObject({ status: 'paid', paymentMethod: 'payment_link', debitKey: null });
    expect(processor.debits.length).toBe(debits + 1);
    expect(await paymentTransfers(t, m.merchantId)).toHaveLength(1);
    expect(await merchantBalance(t, m.merchantId)).toBe(3000n);
  });

  it('keeps the card of an auto-debit charge for the next installments', async () => {
    const m = await t.merchant();
    const charge = await createLegacyCharge(t, m, { amount: 60, description: 'x', due_date: '2030-03-05', installments: 2, auto_debit: true, customer: customer() });
    expect((await pay(billingOf(charge), 1, 'tok_keep_0001')).status).toBe(200);
    clock.advance(new Date('2030-04-05T15:00:00Z').getTime() - clock.now().getTime());
    await runSchedulerRound(t.app.deps, { merchantIds: [m.merchantId] });
    const second = await t.app.deps.prisma.chargeInstallment.findFirstOrThrow({ where: { chargeId: charge.id, number: 2 } });
    expect(second).toMatchObject({ status: 'paid', paymentMethod: 'auto_debit' });
    expect(processor.debits.filter((debit) => debit.cardToken === 'tok_keep_0001')).toHaveLength(2);
    expect((await t.request('GET', `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(m) })).json.attributes.status).toBe('paid');
  });

  it('refuses unknown links, inactive charges and malformed forms', async () => {
    const m = await t.merchant();
    const charge = await createLegacyCharge(t, m, { amount: 10, description: 'x', due_date: '2030-05-10', customer: customer() });
    expect((await t.request('GET', '/vpos?billing=0123456789abcdef0123456789abcdef')).status).toBe(404);
    expect((await t.request('GET', '/vpos')).status).toBe(404);
    expect((await pay('0123456789abcdef0123456789abcdef', 1, 'tok_x_0001')).status).toBe(404);
    expect((await pay(billingOf(charge), 7, 'tok_x_0001')).status).toBe(404);
    expect((await pay(billingOf(charge), 1, 'bad token!')).status).toBe(400);
    expect((await t.request('POST', '/vpos', { body: { billing: billingOf(charge), installment: '1', card_token: 'tok_x_0001' } })).status).toBe(400);
    await t.request('PUT', `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(m), body: { is_active: false } });
    expect((await pay(billingOf(charge), 1, 'tok_x_0001')).status).toBe(410);
    const page = await t.request('GET', `/vpos?billing=${billingOf(charge)}`);
    expect(page.text).toContain('no longer active');
    expect(await merchantBalance(t, m.merchantId)).toBe(0n);
  });
});
