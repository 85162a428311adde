import { describe, expect, it } from 'vitest';
import { canonicalPhoneNumber } from '../../src/modules/pockets/phone-number.ts';

describe('canonicalPhoneNumber', () => {
  it('turns every form a user sends into 98 and the ten national digits', () => {
    for (const form of [
      '989120000000',
      '+989120000000',
      '00989120000000',
      '09120000000',
      '9120000000',
      ' 0912 000 0000 ',
      '0912-000-0000',
      '۰۹۱۲۰۰۰۰۰۰۰',
      '٠٩١٢٠٠٠٠٠٠٠',
      '+۹۸۹۱۲۰۰۰۰۰۰۰',
    ]) {
      expect(canonicalPhoneNumber(form), form).toBe('989120000000');
    }
  });

  it('refuses what is not an Iranian mobile number', () => {
    for (const form of ['', '12345', '02112345678', '98212345678', '9891200000000', '98912000000', '+1 415 555 0100', '0912000000a', '۰۹۱۲', `0912${'0'.repeat(40)}`, '++989120000000']) {
      expect(canonicalPhoneNumber(form), form).toBeNull();
    }
  });
});
