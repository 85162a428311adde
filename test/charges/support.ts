import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { balance, findAccount } from '../../src/ledger/ledger.ts';
import { CLEARING_ACCOUNT, MERCHANT_ACCOUNT } from '../../src/modules/charges/service.ts';
import { basic, type TestApp } from '../support/app.ts';

export const CHARGES_PATH = '/service/resources/charges';

/** Background work off: tests run the scheduler and the callback worker by hand, with a TestClock. */
export const MANUAL = { CHARGES_SCHEDULER_INTERVAL_MS: 0, CHARGES_CALLBACK_POLL_MS: 0 } as const;

export const basicOf = (merchant: MerchantCredentials) => basic(merchant.basicKey, merchant.basicSecret);

/** The legacy document's create example, as written. */
export const DOCUMENT_EXAMPLE = {
  amount: 150.0,
  description: 'Cobrança referente a negociação de débito pendente na Empresa X',
  due_date: '30/10/2020',
  customer: {
    name: 'Maria Francisca',
    cpf_cnpj: '852.391.120-02',
    email: 'maria@mail.me',
    phone: '11 99999-9999',
  },
  callback_url: 'https://api.ipag.test/retorno_charge',
};

let cpfSeed = 100_000_000 + Math.floor(Math.random() * 800_000_000);

/** A valid CPF nobody else in this run uses. */
export function newCpf(): string {
  const body = String(cpfSeed++).padStart(9, '0');
  const digits = [...body].map(Number);
  const check = (weights: number) => {
    const sum = digits.reduce((total, digit, index) => total + digit * (weights - index), 0);
    const remainder = sum % 11;
    return remainder < 2 ? 0 : 11 - remainder;
  };
  digits.push(check(10));
  digits.push(check(11));
  return digits.join('');
}

export const customer = (overrides: Record<string, unknown> = {}) => ({ name: 'Test Customer', cpf_cnpj: newCpf(), ...overrides });

export async function merchantBalance(t: TestApp, merchantId: string): Promise<bigint> {
  const account = await findAccount(t.app.deps.prisma, merchantId, MERCHANT_ACCOUNT);
  return account ? balance(account) : 0n;
}

export async function clearingBalance(t: TestApp, merchantId: string): Promise<bigint> {
  const account = await findAccount(t.app.deps.prisma, merchantId, CLEARING_ACCOUNT);
  return account ? balance(account) : 0n;
}

export async function paymentTransfers(t: TestApp, merchantId: string): Promise<{ key: string; amount: bigint }[]> {
  return t.app.deps.prisma.ledgerTransfer.findMany({
    where: { merchantId, key: { startsWith: 'installment:' } },
    select: { key: true, amount: true },
  });
}

/** Creates a charge through the legacy route and answers its document. */
export async function createLegacyCharge(t: TestApp, merchant: MerchantCredentials, body: Record<string, unknown>) {
  const response = await t.request('POST', CHARGES_PATH, { authorization: basicOf(merchant), body });
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${response.text}`);
  return response.json;
}
