import { describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { PAYMENT_STATES, planTransition, type PaymentAction, type PaymentState } from '../../src/modules/recharge/state-machine.ts';
import { parseParameterDefinitions, parseUserId, validatePaymentParams } from '../../src/modules/recharge/validation.ts';

const now = new Date('2030-01-01T00:00:00Z');
const later = new Date('2030-01-01T00:15:00Z');
const status = (state: PaymentState, expired = false, expiresAt = later) => ({ state, expired, expiresAt });

function outcome(state: PaymentState, action: PaymentAction, expired = false): string {
  try {
    const step = planTransition(status(state, expired), action, now);
    return step.kind === 'apply' ? step.to : step.kind;
  } catch (error) {
    return (error as AppError).code;
  }
}

describe('the payment state machine', () => {
  it('allows exactly the listed transitions', () => {
    const table = Object.fromEntries(
      PAYMENT_STATES.map((state) => [state, Object.fromEntries((['update', 'commit', 'rollback', 'expire'] as const).map((a) => [a, outcome(state, a)]))]),
    );
    expect(table).toEqual({
      pending: { update: 'pending', commit: 'committed', rollback: 'rolled_back', expire: 'rolled_back' },
      committed: { update: 'INVALID_STATE_TRANSITION', commit: 'replay', rollback: 'INVALID_STATE_TRANSITION', expire: 'INVALID_STATE_TRANSITION' },
      rolled_back: { update: 'INVALID_STATE_TRANSITION', commit: 'INVALID_STATE_TRANSITION', rollback: 'replay', expire: 'replay' },
    });
  });

  it('asks to expire an overdue pending payment first, and then refuses commit and update as EXPIRED', () => {
    for (const action of ['commit', 'update', 'rollback'] as const) {
      expect(planTransition(status('pending', false, now), action, now)).toEqual({ kind: 'expire-first' });
    }
    expect(outcome('rolled_back', 'commit', true)).toBe('EXPIRED');
    expect(outcome('rolled_back', 'update', true)).toBe('EXPIRED');
    expect(outcome('rolled_back', 'rollback', true)).toBe('replay');
  });
});

describe('provider parameter definitions', () => {
  it('adds the amount when the merchant did not define it, and normalises fixed values to strings', () => {
    expect(parseParameterDefinitions([{ name: 'phone', type: 'string', required: true }])).toEqual([
      { name: 'amount', type: 'integer', required: true },
      { name: 'phone', type: 'string', required: true },
    ]);
    expect(parseParameterDefinitions([{ name: 'amount', type: 'integer', fixed: 5000 }, { name: 'vip', type: 'boolean', fixed: true }])).toEqual([
      { name: 'amount', type: 'integer', required: false, fixed: '5000' },
      { name: 'vip', type: 'boolean', required: false, fixed: 'true' },
    ]);
  });

  const refused: [string, unknown, string][] = [
    ['not an array', { amount: 'integer' }, 'params'],
    ['unknown type', [{ name: 'x', type: 'float' }], 'params[0].type'],
    ['bad name', [{ name: '1x', type: 'string' }], 'params[0].name'],
    ['duplicate name', [{ name: 'x', type: 'string' }, { name: 'x', type: 'integer' }], 'params[1].name'],
    ['unknown key', [{ name: 'x', type: 'string', default: 'y' }], 'params[0].default'],
    ['amount as string', [{ name: 'amount', type: 'string' }], 'params[0].type'],
    ['optional amount', [{ name: 'amount', type: 'integer', required: false }], 'params[0].required'],
    ['fixed amount not positive', [{ name: 'amount', type: 'integer', fixed: '0' }], 'params[0].fixed'],
    ['fixed value of the wrong type', [{ name: 'n', type: 'integer', fixed: 'abc' }], 'params[0].fixed'],
  ];
  for (const [name, input, field] of refused) {
    it(`refuses ${name}`, () => {
      expect(() => parseParameterDefinitions(input)).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED', field }));
    });
  }
});

describe('payment parameters', () => {
  const definitions = parseParameterDefinitions([
    { name: 'phone', type: 'string', required: true },
    { name: 'count', type: 'integer' },
    { name: 'constructor', type: 'string' },
    { name: 'operator', type: 'string', fixed: 'MCI' },
  ]);

  it('spells scalars as strings, fills fixed values and reads the amount exactly', () => {
    expect(validatePaymentParams(definitions, { amount: '9007199254740991', phone: '0912', count: 3 })).toEqual({
      params: { amount: '9007199254740991', phone: '0912', count: '3', operator: 'MCI' },
      amount: 9007199254740991n,
    });
  });

  it('does not take inherited object properties for parameters', () => {
    expect(validatePaymentParams(definitions, { amount: '1', phone: '1' }).params).not.toHaveProperty('constructor');
  });

  it('names the parameter at fault', () => {
    expect(() => validatePaymentParams(definitions, { phone: '1' })).toThrow(expect.objectContaining({ field: 'params.amount' }));
    expect(() => validatePaymentParams(definitions, { amount: '1.0', phone: '1' })).toThrow(expect.objectContaining({ field: 'params.amount' }));
    expect(() => validatePaymentParams(definitions, { amount: 1.5, phone: '1' })).toThrow(expect.objectContaining({ field: 'params.amount' }));
    expect(() => validatePaymentParams(definitions, { amount: '1', phone: '1', operator: 'Irancell' })).toThrow(
      expect.objectContaining({ field: 'params.operator' }),
    );
    expect(() => validatePaymentParams(definitions, { amount: '1', phone: '1', count: 'many' })).toThrow(expect.objectContaining({ field: 'params.count' }));
    expect(() => validatePaymentParams(definitions, ['1'])).toThrow(expect.objectContaining({ field: 'params' }));
  });

  it('reads user ids as integers or strings of digits, below 2^53', () => {
    expect(parseUserId(42)).toBe(42n);
    expect(parseUserId('0042')).toBe(42n);
    for (const bad of [-1, 1.5, '1e3', '', null, 2 ** 53, '9007199254740992']) {
      expect(() => parseUserId(bad)).toThrow(AppError);
    }
  });
});
