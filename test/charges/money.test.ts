import { describe, expect, it } from 'vitest';
import { formatBrlAmount, MAX_CENTAVOS, parseBrlAmount } from '../../src/modules/charges/money.ts';
import type { AmountFailureReason } from '../../src/modules/charges/money.ts';
import { seededRandom } from './seeded-random.ts';

/** What a JSON client's literal becomes once our HTTP layer has parsed the body. */
const jsonNumber = (literal: string): unknown => (JSON.parse(`{"amount":${literal}}`) as { amount: unknown }).amount;

describe('parseBrlAmount', () => {
  it.each<[unknown, bigint]>([
    ['150.00', 15000n],
    ['150', 15000n],
    ['150.5', 15050n],
    ['0.01', 1n],
    ['0.10', 10n],
    ['1', 100n],
    ['007.50', 750n],
    [' 150.00 ', 15000n],
    ['9999999999999.99', MAX_CENTAVOS],
    [150.5, 15050n],
    [150, 15000n],
    [jsonNumber('150.00'), 15000n],
    [jsonNumber('150.50'), 15050n],
    [0.01, 1n],
    // Each of these is off by a fraction of a centavo when multiplied by 100 as a float.
    [0.29, 29n],
    [1.15, 115n],
    [1.1, 110n],
    [19.99, 1999n],
    [4.35, 435n],
    [1234567.89, 123456789n],
    [jsonNumber('9999999999999.99'), MAX_CENTAVOS],
  ])('reads %s as %s centavos', (input, centavos) => {
    expect(parseBrlAmount(input)).toEqual({ ok: true, centavos });
  });

  it.each<[unknown, AmountFailureReason]>([
    ['-1', 'negative'],
    ['-0.01', 'negative'],
    ['-0', 'negative'],
    [-1, 'negative'],
    [-0.01, 'negative'],
    [Number.NaN, 'not_finite'],
    [Number.POSITIVE_INFINITY, 'not_finite'],
    [Number.NEGATIVE_INFINITY, 'not_finite'],
    ['NaN', 'invalid_format'],
    ['Infinity', 'invalid_format'],
    ['1e2', 'exponent'],
    ['1E2', 'exponent'],
    ['1.5e+2', 'exponent'],
    ['-1e2', 'exponent'],
    ['.5e1', 'exponent'],
    [1e21, 'too_large'],
    [1e300, 'too_large'],
    [1e-7, 'too_many_decimals'],
    ['1.234', 'too_many_decimals'],
    ['150.000', 'too_many_decimals'],
    [1.234, 'too_many_decimals'],
    [1.005, 'too_many_decimals'],
    [0.1 + 0.2, 'too_many_decimals'],
    ['1,50', 'invalid_format'],
    ['1.500,00', 'invalid_format'],
    ['', 'invalid_format'],
    ['   ', 'invalid_format'],
    ['.5', 'invalid_format'],
    ['5.', 'invalid_format'],
    ['+5', 'invalid_format'],
    ['0x10', 'invalid_format'],
    ['R$ 10,00', 'invalid_format'],
    ['10 00', 'invalid_format'],
    ['١٠', 'invalid_format'],
    ['abc', 'invalid_format'],
    ['10000000000000.00', 'too_large'],
    ['9007199254740992', 'too_large'],
    [1e13, 'too_large'],
    // 16 significant digits: the double prints as 90071992547409.9, a centavo away from what
    // was sent, so the magnitude limit has to refuse it.
    [jsonNumber('90071992547409.91'), 'too_large'],
    [2 ** 53, 'too_large'],
    ['0', 'zero'],
    ['0.00', 'zero'],
    [0, 'zero'],
    [-0, 'zero'],
    [null, 'invalid_type'],
    [undefined, 'invalid_type'],
    [true, 'invalid_type'],
    [{}, 'invalid_type'],
    [[150], 'invalid_type'],
    [15000n, 'invalid_type'],
  ])('refuses %s (%s)', (input, reason) => {
    const result = parseBrlAmount(input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe(reason);
      expect(result.message).not.toBe('');
    }
  });

  it('refuses a megabyte of digits at once', () => {
    const started = performance.now();
    expect(parseBrlAmount('9'.repeat(1_000_000))).toMatchObject({ ok: false, reason: 'too_large' });
    expect(parseBrlAmount(`${'9'.repeat(1_000_000)}x`)).toMatchObject({ ok: false, reason: 'invalid_format' });
    expect(parseBrlAmount(`${'9'.repeat(1_000_000)}e5`)).toMatchObject({ ok: false, reason: 'exponent' });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('accepts zero only when asked to', () => {
    expect(parseBrlAmount('0.00', { allowZero: true })).toEqual({ ok: true, centavos: 0n });
    expect(parseBrlAmount(0, { allowZero: true })).toEqual({ ok: true, centavos: 0n });
  });

  it('reads every amount up to R$ 1 000.00 exactly, as a string and as a JSON number', () => {
    const wrong: unknown[] = [];
    for (let centavos = 0n; centavos <= 100_000n; centavos++) {
      const text = formatBrlAmount(centavos);
      for (const input of [text, jsonNumber(text)]) {
        const result = parseBrlAmount(input, { allowZero: true });
        if (!result.ok || result.centavos !== centavos) wrong.push({ input, result });
      }
    }
    expect(wrong).toEqual([]);
  });

  it('reads generated amounts up to the maximum exactly, in every written form', () => {
    const random = seededRandom(20261122);
    const wrong: unknown[] = [];
    for (let round = 0; round < 20_000; round++) {
      // Spread over every magnitude, not only the largest ones.
      const centavos = (random.bigint(random.int(1, 50)) % MAX_CENTAVOS) + 1n;
      const reais = centavos / 100n;
      const cents = centavos % 100n;
      const forms = [formatBrlAmount(centavos)];
      if (cents === 0n) forms.push(String(reais));
      if (cents % 10n === 0n) forms.push(`${reais}.${cents / 10n}`);
      for (const input of forms.flatMap((form) => [form, jsonNumber(form)])) {
        const result = parseBrlAmount(input);
        if (!result.ok || result.centavos !== centavos) wrong.push({ input, centavos, result });
      }
    }
    expect(wrong).toEqual([]);
  });

  it('refuses every amount just above the maximum', () => {
    for (let extra = 1n; extra <= 1000n; extra++) {
      const text = formatBrlAmount(MAX_CENTAVOS + extra);
      expect(parseBrlAmount(text)).toMatchObject({ ok: false, reason: 'too_large' });
      expect(parseBrlAmount(jsonNumber(text))).toMatchObject({ ok: false, reason: 'too_large' });
    }
  });

  it('refuses a third decimal digit whatever it is', () => {
    const random = seededRandom(7);
    for (let round = 0; round < 2000; round++) {
      const text = `${random.int(0, 1_000_000)}.${String(random.int(0, 99)).padStart(2, '0')}${random.int(1, 9)}`;
      expect(parseBrlAmount(text)).toMatchObject({ ok: false, reason: 'too_many_decimals' });
      expect(parseBrlAmount(jsonNumber(text))).toMatchObject({ ok: false, reason: 'too_many_decimals' });
    }
  });
});

describe('formatBrlAmount', () => {
  it.each<[bigint, string]>([
    [0n, '0.00'],
    [1n, '0.01'],
    [10n, '0.10'],
    [99n, '0.99'],
    [100n, '1.00'],
    [15000n, '150.00'],
    [15050n, '150.50'],
    [-150n, '-1.50'],
    [-1n, '-0.01'],
    [MAX_CENTAVOS, '9999999999999.99'],
    [2n ** 64n, '184467440737095516.16'],
  ])('writes %s centavos as %s', (centavos, text) => {
    expect(formatBrlAmount(centavos)).toBe(text);
  });
});
