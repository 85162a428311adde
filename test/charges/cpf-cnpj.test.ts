import { describe, expect, it } from 'vitest';
import { formatCpfCnpj, parseCpfCnpj } from '../../src/modules/charges/cpf-cnpj.ts';
import type { TaxIdFailureReason } from '../../src/modules/charges/cpf-cnpj.ts';
import { seededRandom } from './seeded-random.ts';

// Written differently from the module on purpose: weights counted from the right (2, 3, …,
// wrapping after 9 for CNPJ), and the `(10 × sum) mod 11` form of the CPF rule.
function referenceCpfDigit(body: string): number {
  let sum = 0;
  for (let index = 0; index < body.length; index++) sum += Number(body[index]) * (body.length + 1 - index);
  return ((sum * 10) % 11) % 10;
}

function referenceCnpjDigit(body: string): number {
  let sum = 0;
  for (let fromRight = 0; fromRight < body.length; fromRight++) {
    const character = body[body.length - 1 - fromRight]!;
    sum += (character.charCodeAt(0) - '0'.charCodeAt(0)) * (2 + (fromRight % 8));
  }
  const remainder = sum % 11;
  return remainder < 2 ? 0 : 11 - remainder;
}

function referenceCpf(body: string): string {
  const first = referenceCpfDigit(body);
  return `${body}${first}${referenceCpfDigit(`${body}${first}`)}`;
}

function referenceCnpj(body: string): string {
  const first = referenceCnpjDigit(body);
  return `${body}${first}${referenceCnpjDigit(`${body}${first}`)}`;
}

const ALPHANUMERIC = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

describe('parseCpfCnpj', () => {
  it.each<[string, 'cpf' | 'cnpj', string]>([
    ['123.456.789-09', 'cpf', '12345678909'],
    ['12345678909', 'cpf', '12345678909'],
    ['852.391.120-02', 'cpf', '85239112002'],
    ['529.982.247-25', 'cpf', '52998224725'],
    ['  529 982 247 25 ', 'cpf', '52998224725'],
    ['529982247-25', 'cpf', '52998224725'],
    ['12.345.678/0001-95', 'cnpj', '12345678000195'],
    ['12345678000195', 'cnpj', '12345678000195'],
    ['11.222.333/0001-81', 'cnpj', '11222333000181'],
    ['11222333000181', 'cnpj', '11222333000181'],
    // The Receita Federal's alphanumeric CNPJ example.
    ['12.ABC.345/01DE-35', 'cnpj', '12ABC34501DE35'],
    ['12ABC34501DE35', 'cnpj', '12ABC34501DE35'],
    ['12.abc.345/01de-35', 'cnpj', '12ABC34501DE35'],
  ])('accepts %s as a %s', (input, kind, normalized) => {
    expect(parseCpfCnpj(input)).toEqual({ ok: true, kind, normalized });
  });

  it.each<[unknown, TaxIdFailureReason]>([
    ['', 'empty'],
    [' .-/ ', 'empty'],
    [12345678909, 'invalid_type'],
    [null, 'invalid_type'],
    ['123.456.789-00', 'invalid_check_digits'],
    ['123.456.789-19', 'invalid_check_digits'],
    ['123.456.789-08', 'invalid_check_digits'],
    ['12.345.678/0001-96', 'invalid_check_digits'],
    ['12.345.678/0001-05', 'invalid_check_digits'],
    ['12.ABC.345/01DE-36', 'invalid_check_digits'],
    ['12.ABD.345/01DE-35', 'invalid_check_digits'],
    ['1234567890', 'invalid_length'],
    ['123456789090', 'invalid_length'],
    ['1234567800019', 'invalid_length'],
    ['123456780001950', 'invalid_length'],
    ['123.456.789_09', 'invalid_characters'],
    ['123,456,789-09', 'invalid_characters'],
    ['123.456.789-0９', 'invalid_characters'],
    ['123.45A.789-09', 'invalid_characters'],
    ['12.ABC.345/01DE-3A', 'invalid_characters'],
    ['ABC', 'invalid_length'],
  ])('refuses %j (%s)', (input, reason) => {
    const result = parseCpfCnpj(input);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.reason).toBe(reason);
      expect(result.message).not.toBe('');
    }
  });

  it('refuses every all-same-digit number, though their check digits add up', () => {
    for (let digit = 0; digit <= 9; digit++) {
      const cpf = String(digit).repeat(11);
      const cnpj = String(digit).repeat(14);
      expect(parseCpfCnpj(cpf)).toMatchObject({ ok: false, reason: 'repeated_digits' });
      expect(parseCpfCnpj(formatCpfCnpj(cpf))).toMatchObject({ ok: false, reason: 'repeated_digits' });
      expect(parseCpfCnpj(cnpj)).toMatchObject({ ok: false, reason: 'repeated_digits' });
      expect(parseCpfCnpj(formatCpfCnpj(cnpj))).toMatchObject({ ok: false, reason: 'repeated_digits' });
    }
    expect(referenceCpf('000000000')).toBe('00000000000');
    expect(referenceCnpj('000000000000')).toBe('00000000000000');
  });

  it('agrees with an independent implementation on generated CPFs, CNPJs and alphanumeric CNPJs', () => {
    const random = seededRandom(11);
    const cases: Array<{ kind: 'cpf' | 'cnpj'; value: string }> = [];
    for (let round = 0; round < 1000; round++) {
      const digits = (length: number) => Array.from({ length }, () => random.int(0, 9)).join('');
      const alphanumeric = (length: number) => Array.from({ length }, () => random.pick([...ALPHANUMERIC])).join('');
      cases.push({ kind: 'cpf', value: referenceCpf(digits(9)) });
      cases.push({ kind: 'cnpj', value: referenceCnpj(digits(12)) });
      cases.push({ kind: 'cnpj', value: referenceCnpj(alphanumeric(12)) });
    }
    const wrong: unknown[] = [];
    for (const { kind, value } of cases) {
      if (/^(\d)\1+$/.test(value)) continue;
      for (const input of [value, formatCpfCnpj(value), value.toLowerCase()]) {
        const result = parseCpfCnpj(input);
        if (!result.ok || result.kind !== kind || result.normalized !== value) wrong.push({ input, result });
      }
      // Of the 100 possible check-digit pairs, exactly the computed one is accepted.
      const body = value.slice(0, -2);
      for (let pair = 0; pair < 100; pair++) {
        const candidate = `${body}${String(pair).padStart(2, '0')}`;
        if (parseCpfCnpj(candidate).ok !== (candidate === value)) wrong.push({ candidate, value });
      }
    }
    expect(wrong).toEqual([]);
  });

  it('accepts a number with one body character changed exactly when the reference does', () => {
    const random = seededRandom(12);
    const wrong: unknown[] = [];
    for (let round = 0; round < 2000; round++) {
      const cpf = referenceCpf(Array.from({ length: 9 }, () => random.int(0, 9)).join(''));
      const position = random.int(0, 8);
      const changed = `${cpf.slice(0, position)}${(Number(cpf[position]) + random.int(1, 9)) % 10}${cpf.slice(position + 1)}`;
      const expected = referenceCpf(changed.slice(0, 9)) === changed && !/^(\d)\1+$/.test(changed);
      if (parseCpfCnpj(changed).ok !== expected) wrong.push({ cpf, changed, expected });
    }
    expect(wrong).toEqual([]);
  });
});

describe('formatCpfCnpj', () => {
  it('masks CPFs and CNPJs', () => {
    expect(formatCpfCnpj('85239112002')).toBe('852.391.120-02');
    expect(formatCpfCnpj('12345678000195')).toBe('12.345.678/0001-95');
    expect(formatCpfCnpj('12ABC34501DE35')).toBe('12.ABC.345/01DE-35');
  });

  it('throws on a value that is not normalized', () => {
    expect(() => formatCpfCnpj('852.391.120-02')).toThrow(RangeError);
    expect(() => formatCpfCnpj('123')).toThrow(RangeError);
  });
});
