import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SandboxCardProcessor } from '../../src/modules/charges/card-processor.ts';
import { configureCharges } from '../../src/modules/charges/runtime.ts';
import { runSchedulerRound } from '../../src/modules/charges/scheduler.ts';
import { expectLedgerBalanced, startApp, TestClock, type TestApp } from '../support/app.ts';
import { basicOf, CHARGES_PATH, createLegacyCharge, customer, MANUAL, merchantBalance, paymentTransfers } from './support.ts';

let t: TestApp;
const clock = new TestClock(new Date('2030-03-01T15:00:00Z'));
const processor = new SandboxCardProcessor();
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
