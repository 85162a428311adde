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

/**
 * Holds the merchant's charges account locked from a transaction of its own (PostgreSQL only): a
 * payment being recorded then stops inside its transaction, at the ledger, until `release`.
 */
export async function holdMerchantAccount(t: TestApp, merchantId: string): Promise<{ pid: number; release: () => Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let held!: (pid: number) => void;
  const holder = new Promise<number>((resolve) => (held = resolve));
  const holding = t.app.deps.sql.transaction(async (tx) => {
    const [row] = await tx.$queryRawUnsafe<{ pid: number }[]>(
      `SELECT pg_backend_pid() AS pid FROM ledger_accounts WHERE merchant_id = $1 AND name = $2 FOR UPDATE`,
      merchantId,
      MERCHANT_ACCOUNT,
    );
    if (!row) throw new Error('the merchant has no charges account yet');
    held(row.pid);
    await released;
  });
  const pid = await Promise.race([holder, holding.then(() => -1)]);
  return {
    pid,
    release: async () => {
      release();
      await holding;
    },
  };
}

/** The backends waiting for a lock that backend `pid` holds. */
export async function waitingFor(t: TestApp, pid: number): Promise<number[]> {
  const rows = await t.app.deps.sql.$queryRawUnsafe<{ pid: number }[]>(
    `SELECT pid FROM pg_stat_activity WHERE $1::int = ANY(pg_blocking_pids(pid))`,
    pid,
  );
  return rows.map((row) => row.pid);
}
