import { describe, expect, it } from 'vitest';
import { legacyAmount } from '../../src/modules/charges/legacy-json.ts';
import { calendarDateIn, chargeStatus, formatPhone, installmentStatus, legacyTimestamp, type InstallmentState } from '../../src/modules/charges/model.ts';
import { MAX_CENTAVOS } from '../../src/modules/charges/money.ts';
import { ChargeInputError, validateChargeChanges, validateNewCharge } from '../../src/modules/charges/validation.ts';

const TODAY = '2030-05-10';
const open = (dueDate: string, amount = 100n): InstallmentState => ({ dueDate, amount, paidAmount: 0n, discount: 0n });
const paid = (dueDate: string, amount = 100n): InstallmentState => ({ dueDate, amount, paidAmount: amount - 10n, discount: 10n });
const normal = { type: 'normal' as const, isActive: true, moreToIssue: false };
const recurring = { type: 'recurring' as const, isActive: true, moreToIssue: true };

describe('installment status', () => {
  it('is paid when paid (discount included), canceled when the charge is off, overdue after its due date', () => {
    expect(installmentStatus(normal, paid('2030-01-01'), TODAY)).toBe('paid');
    expect(installmentStatus({ isActive: false }, paid('2030-01-01'), TODAY)).toBe('paid');
    expect(installmentStatus({ isActive: false }, open('2030-01-01'), TODAY)).toBe('canceled');
    expect(installmentStatus(normal, open('2030-05-09'), TODAY)).toBe('overdue');
    expect(installmentStatus(normal, open(TODAY), TODAY)).toBe('pending');
  });
});

describe('charge status', () => {
  it.each([
    ['normal, nothing paid', normal, [open('2030-06-01'), open('2030-07-01')], 'pending'],
    ['normal, one of two paid', normal, [paid('2030-06-01'), open('2030-07-01')], 'partially_paid'],
    ['normal, all paid', normal, [paid('2030-06-01'), paid('2030-07-01')], 'paid'],
    ['normal, one overdue, one paid', normal, [paid('2030-04-01'), open('2030-05-01')], 'overdue'],
    ['normal, inactive', { ...normal, isActive: false }, [paid('2030-06-01'), open('2030-07-01')], 'canceled'],
    ['normal, inactive after being paid', { ...normal, isActive: false }, [paid('2030-06-01')], 'paid'],
    ['recurring, current one open', recurring, [paid('2030-04-01'), open('2030-06-01')], 'pending'],
    ['recurring, up to date', recurring, [paid('2030-04-01'), paid('2030-05-01')], 'paid'],
    ['recurring, one overdue', recurring, [open('2030-04-01'), open('2030-06-01')], 'overdue'],
    ['recurring, last one paid', { ...recurring, moreToIssue: false }, [paid('2030-04-01'), paid('2030-05-01')], 'finished'],
    ['recurring, last one open', { ...recurring, moreToIssue: false }, [paid('2030-04-01'), open('2030-06-01')], 'pending'],
    ['recurring, inactive', { ...recurring, isActive: false }, [paid('2030-04-01')], 'canceled'],
    ['recurring, inactive once finished', { ...recurring, isActive: false, moreToIssue: false }, [paid('2030-04-01')], 'finished'],
    ['recurring, none issued yet', recurring, [], 'pending'],
  ] as const)('%s: %s', (_name, charge, installments, expected) => {
    expect(chargeStatus(charge, [...installments], TODAY)).toBe(expected);
  });
});

describe('calendar and legacy formats', () => {
  it('takes the date in the configured zone', () => {
    expect(calendarDateIn('America/Sao_Paulo', new Date('2030-01-11T02:59:59Z'))).toBe('2030-01-10');
    expect(calendarDateIn('America/Sao_Paulo', new Date('2030-01-11T03:00:00Z'))).toBe('2030-01-11');
    expect(calendarDateIn('UTC', new Date('2030-01-11T00:00:00Z'))).toBe('2030-01-11');
    expect(legacyTimestamp('America/Sao_Paulo', new Date('2020-09-08T17:09:14Z'))).toBe('2020-09-08 14:09:14');
  });

  it('writes phones as the document does and amounts as exact JSON numbers', () => {
    expect(formatPhone('11999999999')).toBe('11 99999-9999');
    expect(formatPhone('1133334444')).toBe('11 3333-4444');
    expect(legacyAmount(15000n)).toBe(150);
    expect(legacyAmount(15050n)).toBe(150.5);
    expect(legacyAmount(1n)).toBe(0.01);
    expect(JSON.stringify(legacyAmount(MAX_CENTAVOS))).toBe('9999999999999.99');
  });
});

describe('validation', () => {
  const accept = async () => null;
  it('applies the document\'s defaults', async () => {
    const draft = await validateNewCharge({ amount: 150, description: ' x ', due_date: '1/2/2030', customer: { name: 'A' } }, { checkCallbackUrl: accept, legacy: true });
    expect(draft).toMatchObject({
      amount: 15000n,
      description: 'x',
      dueDate: '2030-02-01',
      type: 'normal',
      interval: 'month',
      frequency: 1,
      installments: 1,
      autoDebit: false,
      isActive: true,
      lastChargeDate: null,
      callbackUrl: null,
      customer: { name: 'A', cpfCnpj: null, phone: null, email: null },
    });
  });

  it('refuses GraphQL-only fields on the legacy API and reports them by their GraphQL names to GraphQL', async () => {
    const legacy = await validateNewCharge({ amount: 1, description: 'x', due_date: '2030-01-01', customer_id: 1, card_token: 't' }, { checkCallbackUrl: accept, legacy: true }).catch((e) => e);
    expect(legacy).toBeInstanceOf(ChargeInputError);
    expect(Object.keys(legacy.fields).sort()).toEqual(['card_token', 'customer', 'customer_id']);
    const graphql = await validateChargeChanges({ due_date: 'soon', last_charge_date: null }, { checkCallbackUrl: accept, legacy: false }).catch((e) => e);
    expect(graphql.field).toBe('dueDate');
    expect(await validateChargeChanges({ last_charge_date: null, callback_url: '' }, { checkCallbackUrl: accept, legacy: true })).toEqual({ lastChargeDate: null, callbackUrl: null });
  });
});
