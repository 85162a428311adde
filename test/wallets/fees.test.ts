import { describe, expect, it } from 'vitest';
import { calculateFee, selectRule, termsProblem, type FeeTerms } from '../../src/modules/wallets/fees.ts';
import { encodeLegacyJson, JsonDecimal, numberTokens } from '../../src/modules/wallets/legacy-json.ts';
import { formatMajorAmount, MAX_AMOUNT, parseMajorAmount } from '../../src/modules/wallets/money.ts';

const terms = (partial: Partial<FeeTerms>): FeeTerms => ({ fixed: 0n, percentBasisPoints: 0, min: null, max: null, ...partial });
const fee = (amount: bigint, partial: Partial<FeeTerms>) => calculateFee(amount, terms(partial)).fee;

describe('calculateFee', () => {
  it('rounds the percentage part half up to the minor unit', () => {
    expect(fee(49n, { percentBasisPoints: 100 })).toBe(0n); // 0.49
    expect(fee(50n, { percentBasisPoints: 100 })).toBe(1n); // 0.50 rounds up
    expect(fee(150n, { percentBasisPoints: 100 })).toBe(2n); // 1.50 rounds up
    expect(fee(250n, { percentBasisPoints: 100 })).toBe(3n); // 2.50 rounds up, not to even
    expect(fee(1n, { percentBasisPoints: 5000 })).toBe(1n); // 0.5
    expect(fee(1n, { percentBasisPoints: 4999 })).toBe(0n); // 0.4999
    expect(fee(3n, { percentBasisPoints: 1 })).toBe(0n); // 0.0003
    expect(fee(5000n, { percentBasisPoints: 1 })).toBe(1n); // 0.5 exactly
    expect(fee(4999n, { percentBasisPoints: 1 })).toBe(0n);
  });

  it('rounds to the cent for two-decimal currencies (amounts are minor units)', () => {
    // USD 10.05 at 2.5 % = 25.125 cents → 25; USD 10.20 at 2.5 % = 25.5 cents → 26.
    expect(fee(1005n, { percentBasisPoints: 250 })).toBe(25n);
    expect(fee(1020n, { percentBasisPoints: 250 })).toBe(26n);
    expect(fee(1010n, { percentBasisPoints: 250 })).toBe(25n); // 25.25
  });

  it('adds the fixed part to the rounded percentage part', () => {
    expect(calculateFee(1000n, terms({ fixed: 10n, percentBasisPoints: 150 }))).toEqual({ percentPart: 15n, fee: 25n });
    expect(fee(1n, { fixed: 7n })).toBe(7n);
  });

  it('raises to the minimum and lowers to the maximum, boundaries included', () => {
    const bounded = { fixed: 0n, percentBasisPoints: 100, min: 5n, max: 100n };
    expect(fee(100n, bounded)).toBe(5n); // 1 < min
    expect(fee(450n, bounded)).toBe(5n); // 4.5 → 5 = min
    expect(fee(500n, bounded)).toBe(5n); // exactly min
    expect(fee(600n, bounded)).toBe(6n); // between
    expect(fee(10_000n, bounded)).toBe(100n); // exactly max
    expect(fee(10_049n, bounded)).toBe(100n); // 100.49 → 100
    expect(fee(10_050n, bounded)).toBe(100n); // 100.5 → 101 > max
    expect(fee(1_000_000n, bounded)).toBe(100n);
    expect(fee(1n, { min: 3n, max: 3n, percentBasisPoints: 9000 })).toBe(3n); // a flat fee
    expect(fee(10n, { fixed: 20n, max: 15n })).toBe(15n); // the maximum caps the fixed part too
  });

  it('charges nothing with zero terms, and the whole amount at 100 %', () => {
    expect(calculateFee(123_456n, terms({}))).toEqual({ percentPart: 0n, fee: 0n });
    expect(fee(123_456n, { percentBasisPoints: 10_000 })).toBe(123_456n);
  });

  it('stays exact at the largest amount', () => {
    expect(fee(MAX_AMOUNT, { percentBasisPoints: 9999 })).toBe((MAX_AMOUNT * 9999n + 5000n) / 10_000n);
    expect(fee(MAX_AMOUNT, { percentBasisPoints: 9999 })).toBe(999_899_999_999_999n);
  });

  it('matches the definition on generated cases', () => {
    let state = 20_240_601;
    const random = (bound: number) => {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      return state % bound;
    };
    for (let i = 0; i < 5000; i++) {
      const amount = BigInt(random(2_000_000_000)) * BigInt(random(1000) + 1);
      const percentBasisPoints = random(10_001);
      const fixed = BigInt(random(500));
      const min = random(3) === 0 ? null : BigInt(random(1000));
      const max = random(3) === 0 ? null : (min ?? 0n) + BigInt(random(1_000_000));
      const { percentPart, fee: result } = calculateFee(amount, { fixed, percentBasisPoints, min, max });
      // Half up: the rounded part is within half a unit, and an exact half goes up.
      const error = percentPart * 10_000n - amount * BigInt(percentBasisPoints);
      expect(error > -5000n && error <= 5000n).toBe(true);
      let expected = fixed + percentPart;
      if (min !== null && expected < min) expected = min;
      if (max !== null && expected > max) expected = max;
      expect(result).toBe(expected);
    }
  });
});

describe('fee rules', () => {
  it('refuses impossible terms', () => {
    expect(termsProblem(terms({ fixed: -1n }))).toMatch(/fixed/);
    expect(termsProblem(terms({ percentBasisPoints: 10_001 }))).toMatch(/percentBasisPoints/);
    expect(termsProblem(terms({ percentBasisPoints: 1.5 }))).toMatch(/percentBasisPoints/);
    expect(termsProblem(terms({ min: 10n, max: 9n }))).toMatch(/min must not exceed max/);
    expect(termsProblem(terms({ min: -1n }))).toMatch(/min/);
    expect(termsProblem(terms({ min: 5n, max: 5n, percentBasisPoints: 10_000 }))).toBeNull();
  });

  it('prefers the rule for the exact payment mode over the one for any mode', () => {
    const any = { id: 'any', paymentMode: null };
    const card = { id: 'card', paymentMode: 1 };
    expect(selectRule([any, card], 1)).toBe(card);
    expect(selectRule([any, card], 2)).toBe(any);
    expect(selectRule([card], 2)).toBeNull();
    expect(selectRule([], 1)).toBeNull();
  });
});

describe('amounts', () => {
  const parse = (text: string, currency: string) => {
    const result = parseMajorAmount(text, currency);
    return result.ok ? result.amount : result.problem;
  };

  it('reads whole rials; zeros after the point are harmless, other decimals are refused', () => {
    expect(parse('100', 'IRR')).toBe(100n);
    expect(parse('100.0', 'IRR')).toBe(100n);
    expect(parse('100.5', 'IRR')).toBe('TOO_PRECISE');
    expect(parse('0', 'IRR')).toBe(0n);
    expect(parse('-5', 'IRR')).toBe(-5n);
    expect(parse('999999999999999', 'IRR')).toBe(MAX_AMOUNT);
    expect(parse('1000000000000000', 'IRR')).toBe('TOO_LARGE');
  });

  it('reads cents exactly, including what a float would get wrong', () => {
    expect(parse('10.05', 'USD')).toBe(1005n);
    expect(parse('10.5', 'USD')).toBe(1050n);
    expect(parse('10.050', 'USD')).toBe(1005n);
    expect(parse('0.01', 'USD')).toBe(1n);
    expect(parse('10.055', 'USD')).toBe('TOO_PRECISE');
    // JSON.parse would read this as exactly 100.
    expect(parse('100.0000000000000001', 'USD')).toBe('TOO_PRECISE');
    expect(parse('1.234', 'KWD')).toBe(1234n);
  });

  it('refuses what is not a plain decimal', () => {
    for (const text of ['1e2', '1E+2', '01', '.5', '5.', '+5', '', ' 5', '0x10', '1'.repeat(41)]) {
      expect(parse(text, 'USD')).toBe('NOT_A_DECIMAL');
    }
  });

  it('formats minor units with all of the currency\'s digits', () => {
    expect(formatMajorAmount(1005n, 'USD')).toBe('10.05');
    expect(formatMajorAmount(5n, 'USD')).toBe('0.05');
    expect(formatMajorAmount(0n, 'USD')).toBe('0.00');
    expect(formatMajorAmount(-5n, 'USD')).toBe('-0.05');
    expect(formatMajorAmount(100n, 'IRR')).toBe('100');
    expect(formatMajorAmount(1234n, 'KWD')).toBe('1.234');
  });
});

describe('legacy JSON', () => {
  it('finds the source text of numbers by path', () => {
    const text =
      '{"note":"a \\"txn_amount\\": 5, {[","txn_amount": 100.10 ,"charges_info":{"total_charges":1.50,"charges":[]},"list":[1,{"txn_amount":7}],"a.b":-2}';
    const tokens = numberTokens(text);
    expect(tokens.get(['txn_amount'])).toBe('100.10');
    expect(tokens.get(['charges_info', 'total_charges'])).toBe('1.50');
    expect(tokens.get(['list', 1, 'txn_amount'])).toBe('7');
    expect(tokens.get(['list', 0])).toBe('1');
    expect(tokens.get(['a.b'])).toBe('-2');
    expect(tokens.get(['missing'])).toBeUndefined();
  });

  it('takes the last of repeated members, as JSON.parse does', () => {
    expect(numberTokens('{"txn_amount":1,"txn_amount":2e3}').get(['txn_amount'])).toBe('2e3');
    expect(numberTokens('{"txn_amount":1,"txn_amount":"x"}').get(['txn_amount'])).toBe('1');
  });

  it('writes decimals digit for digit', () => {
    const text = encodeLegacyJson({ a: new JsonDecimal('1.50'), b: 'x"y', c: [1, null, undefined], d: undefined, e: 5n, f: true });
    expect(text).toBe('{"a":1.50,"b":"x\\"y","c":[1,null,null],"e":5,"f":true}');
    expect(JSON.parse(text)).toEqual({ a: 1.5, b: 'x"y', c: [1, null, null], e: 5, f: true });
    expect(() => new JsonDecimal('1e5')).toThrow();
  });
});
