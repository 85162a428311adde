import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { parseArgs } from '../../src/cli/args.ts';
import { findCommand } from '../../src/cli/commands.ts';
import { DEMO } from '../../src/demo.ts';
import { findAccount, balance } from '../../src/ledger/ledger.ts';
import { walletCommands } from '../../src/modules/wallets/commands.ts';
import { DEMO_WALLETS } from '../../src/modules/wallets/demo.ts';
import { walletBalance } from '../../src/modules/wallets/service.ts';
import { basic, expectLedgerBalanced, startApp, token, type TestApp } from '../support/app.ts';

const TOPUP = '/digipay/v3/transaction/wallet_topup';
const CHARGES = '/digipay/v3/transaction/agent_calculate_charges';

let t: TestApp;
let a: MerchantCredentials;
let b: MerchantCredentials;
/** Merchant A: a user's IRR and USD wallets, an agent, and a merchant B with its own wallet. */
const ids = { irr: '', usd: '', agentWallet: '', agentUserId: '', userId: '', foreign: '' };

async function cli(line: string): Promise<any> {
  const args = parseArgs(line.split(' '));
  return findCommand(walletCommands, args.positionals).run(t.app.deps.prisma, args);
}

const auth = (m: MerchantCredentials) => ({ authorization: token(m), headers: { CompanyID: m.companyId } });
const post = (path: string, m: MerchantCredentials, body: unknown) => t.request('POST', path, { ...auth(m), body });
const balanceOf = (m: MerchantCredentials, walletId: string) => walletBalance(t.app.deps.prisma, { merchantId: m.merchantId, id: walletId });
const feesOf = async (m: MerchantCredentials, currency: string) => {
  const account = await findAccount(t.app.deps.prisma, m.merchantId, `wallet-fees:${currency}`);
  return account ? balance(account) : 0n;
};
const transferCount = () => t.app.deps.prisma.ledgerTransfer.count({ where: { merchantId: a.merchantId } });

const badRequest = (codes: number[]) => ({ success: 0, error: codes, data: { message: 'BAD_REQUEST' } });

beforeAll(async () => {
  t = await startApp({ DEMO: true });
  a = await t.merchant({ name: 'Wallets A' });
  b = await t.merchant({ name: 'Wallets B' });
  const user = await cli(`wallet create --merchant ${a.merchantId} --user alice`);
  ids.irr = user.walletId;
  ids.userId = user.userId;
  ids.usd = (await cli(`wallet create --merchant ${a.companyId} --user alice --currency usd`)).walletId;
  const agent = await cli(`wallet create --merchant ${a.merchantId} --user agent.smith --agent`);
  ids.agentWallet = agent.walletId;
  ids.agentUserId = agent.userId;
  ids.foreign = (await cli(`wallet create --merchant ${b.merchantId} --user bob`)).walletId;
  // CIB: 1.5 % (min 10, max 1000) by card, a flat 5 by any other mode; USD 2.5 %; FREE: no rule.
  await cli(`fee-rule set --merchant ${a.merchantId} --txn-code CIB --payment-mode card --percent-bp 150 --min 10 --max 1000`);
  await cli(`fee-rule set --merchant ${a.merchantId} --txn-code cib --fixed 5`);
  await cli(`fee-rule set --merchant ${a.merchantId} --txn-code CIB --currency USD --percent-bp 250`);
  await cli(`fee-rule set --merchant ${a.merchantId} --txn-code ZERO --percent-bp 0`);
});

afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

describe('demo mode', () => {
  it("runs the wallet document's curl example as written", async () => {
    const headers = {
      Authorization: `Token ${DEMO.walletToken}`,
      CompanyID: DEMO.companyId,
      accept: 'application/json',
      'content-type': 'application/json',
    };
    const body = '\n{\n"wallet_id": "116a51aa2b7d459a8b7e3db7dcf5e70a",\n"txn_amount": 100,\n"txn_code": "CIB",\n"payment_mode": 2,\n"note": "testing"\n}\n';
    const before = await walletBalance(t.app.deps.prisma, { merchantId: DEMO.merchantId, id: DEMO_WALLETS.walletId });
    const quote = await t.request('POST', CHARGES, { headers, body });
    expect(quote.status).toBe(200);
    expect(quote.json.data.charges_info.total_charges).toBe(1);
    expect(quote.json.data.credit_amount).toBe(99);

    const res = await t.request('POST', TOPUP, { headers, body });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({
      success: 1,
      error: [],
      data: {
        message: 'Money successfully added to your wallet.',
        transaction: { txn_id: expect.stringMatching(/^[0-9a-f]{32}$/), txn_number: res.json.data.transaction.txn_id, txn_status: 1 },
      },
    });
    expect(await walletBalance(t.app.deps.prisma, { merchantId: DEMO.merchantId, id: DEMO_WALLETS.walletId })).toBe(before + 99n);
  });
});

describe('OpenAPI', () => {
  it('documents both legacy routes', async () => {
    const res = await t.request('GET', '/openapi.json');
    expect(res.status).toBe(200);
    for (const path of [TOPUP, CHARGES]) expect(Object.keys(res.json.paths[path])).toEqual(['post']);
    expect(res.json.components.schemas.WalletTopUpRequest.required).toEqual(['wallet_id', 'txn_amount', 'txn_code', 'payment_mode']);
  });
});

describe('authentication', () => {
  const body = { wallet_id: '116a51aa2b7d459a8b7e3db7dcf5e70a', txn_amount: 100, txn_code: 'CIB', payment_mode: 2 };

  it('requires both the token and the CompanyID of one company', async () => {
    const before = await walletBalance(t.app.deps.prisma, { merchantId: DEMO.merchantId, id: DEMO_WALLETS.walletId });
    const cases: [Record<string, string>, number, number][] = [
      [{}, 401, 19],
      [{ CompanyID: a.companyId }, 401, 19],
      [{ authorization: 'Token not-a-token', CompanyID: a.companyId }, 401, 19],
      [{ authorization: token(a) }, 401, 19],
      [{ authorization: basic(a.basicKey, a.basicSecret), CompanyID: a.companyId }, 401, 19],
      [{ authorization: token(a), CompanyID: b.companyId }, 403, 21],
      [{ authorization: `Token ${DEMO.walletToken}`, CompanyID: a.companyId }, 403, 21],
      [{ authorization: token(a), CompanyID: DEMO.companyId }, 403, 21],
    ];
    for (const [headers, status, code] of cases) {
      for (const path of [TOPUP, CHARGES]) {
        const res = await t.request('POST', path, { headers, body });
        expect(res.status, JSON.stringify(headers)).toBe(status);
        expect(res.json).toEqual({ success: 0, error: [code], data: { message: status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN' } });
      }
    }
    expect(await walletBalance(t.app.deps.prisma, { merchantId: DEMO.merchantId, id: DEMO_WALLETS.walletId })).toBe(before);
  });

  it('refuses operators and credentials without the wallets scope', async () => {
    // An operator's credential is a Bearer token, which this API does not read: no credential at all.
    const operator = await t.operator();
    const res = await t.request('POST', TOPUP, { authorization: operator, headers: { CompanyID: a.companyId }, body });
    expect(res.status).toBe(401);
    expect(res.json.error).toEqual([19]);
    const narrow = await t.merchant({ scopes: ['pockets'] });
    const scoped = await post(TOPUP, narrow, body);
    expect(scoped.status).toBe(403);
    expect(scoped.json.error).toEqual([20]);
  });

  it('authenticates before it reads the body', async () => {
    const res = await t.request('POST', TOPUP, { body: '{not json' });
    expect(res.status).toBe(401);
  });
});

describe('bad requests', () => {
  const valid = () => ({ wallet_id: ids.irr, txn_amount: 1000, txn_code: 'CIB', payment_mode: 1 });

  it('answers 400 with the documented codes and moves nothing', async () => {
    const transfers = await transferCount();
    const cases: [unknown, number[]][] = [
      ['{"wallet_id":', [1]],
      ['[1, 2]', [1]],
      ['"text"', [1]],
      [{ ...valid(), extra: 1 }, [1]],
      [{ ...valid(), wallet_id: undefined }, [2]],
      [{ ...valid(), wallet_id: 'xyz' }, [2]],
      [{ ...valid(), wallet_id: 42 }, [2]],
      [{ ...valid(), txn_amount: '1000' }, [3]],
      [{ ...valid(), txn_amount: 0 }, [3]],
      [{ ...valid(), txn_amount: -5 }, [3]],
      [{ ...valid(), txn_amount: 100.5 }, [3]],
      ['{"wallet_id":"W","txn_amount":1e3,"txn_code":"CIB","payment_mode":1}', [3]],
      ['{"wallet_id":"W","txn_amount":1e400,"txn_code":"CIB","payment_mode":1}', [3]],
      ['{"wallet_id":"W","txn_amount":1000.0000000000000001,"txn_code":"CIB","payment_mode":1}', [3]],
      [{ ...valid(), txn_amount: 1_000_000_000_000_000 }, [3]],
      [{ ...valid(), txn_code: 'C I B' }, [4]],
      [{ ...valid(), txn_code: '' }, [4]],
      [{ ...valid(), payment_mode: 3 }, [5]],
      [{ ...valid(), payment_mode: 2.5 }, [5]],
      [{ ...valid(), payment_mode: '2' }, [5]],
      [{ ...valid(), note: 'x'.repeat(256) }, [6]],
      [{ ...valid(), wallet_id: undefined, txn_code: 5, payment_mode: null }, [2, 4, 5]],
      [{ ...valid(), debit_user_info: {} }, [7]],
      [{ ...valid(), debit_user_info: { user_id: ids.userId } }, [7]],
      [{ ...valid(), debit_user_info: { username: 'nobody' } }, [7]],
      [{ ...valid(), debit_user_info: { user_id: ids.agentUserId, username: 'alice' } }, [7]],
      [{ ...valid(), debit_user_info: { wallet_id: ids.foreign } }, [7]],
      [{ ...valid(), debit_user_info: { user_id: ids.agentUserId, user_type: 3 } }, [7]],
      [{ ...valid(), credit_user_info: { wallet_id: ids.usd } }, [8]],
      [{ ...valid(), credit_user_info: { user_type: 1 } }, [8]],
      [{ ...valid(), credit_user_info: { currency_id: 'USD' } }, [8]],
      [{ ...valid(), card_info: 'card' }, [9]],
      [{ ...valid(), card_info: [{ card_number: 6037991234567890 }] }, [9]],
      [{ ...valid(), payment_response: [] }, [10]],
      [{ ...valid(), txn_device_info: [{ device_id: 5 }] }, [11]],
      [{ ...valid(), txn_device_info: [{ device_id: '' }] }, [11]],
      [{ ...valid(), meta_data: { wallet_topup_request_id: '' } }, [12]],
      [{ ...valid(), meta_data: [{ wallet_topup_request_id: 'a' }, { wallet_topup_request_id: 'b' }] }, [12]],
      [{ ...valid(), meta_data: { request: 'x' } }, [12]],
      [{ ...valid(), charges_info: 'b9a4cbeeedd340509cb1ac628cae2973' }, [13]],
      [{ ...valid(), charges_info: { total_charges: -1 } }, [13]],
      [{ ...valid(), charges_info: { total_charges: 16 } }, [14]],
      [{ ...valid(), charges_info: [{ total_charges: 16 }] }, [14]],
      [{ ...valid(), charges_info: [{ total_charges: 1 }, { total_charges: 1 }] }, [13]],
      [{ ...valid(), charges_info: [] }, [13]],
      [{ ...valid(), txn_amount: 5, payment_mode: 2 }, [15]],
    ];
    for (const [body, codes] of cases) {
      const text = typeof body === 'string' ? body.replace('"W"', JSON.stringify(ids.irr)) : body;
      for (const path of [TOPUP, CHARGES]) {
        const res = await post(path, a, text);
        expect(res.status, `${path} ${JSON.stringify(text)}`).toBe(400);
        expect(res.json, `${path} ${JSON.stringify(text)}`).toEqual(badRequest(codes));
      }
    }
    const wrongType = await t.request('POST', TOPUP, { ...auth(a), headers: { ...auth(a).headers, 'content-type': 'text/plain' }, body: JSON.stringify(valid()) });
    expect(wrongType.status).toBe(400);
    expect(wrongType.json).toEqual(badRequest([1]));
    expect(await transferCount()).toBe(transfers);
    expect(await balanceOf(a, ids.irr)).toBe(0n);
  });

  it('answers 404 for an unknown wallet, and the same for another company\'s', async () => {
    for (const walletId of ['0123456789abcdef0123456789abcdef', ids.foreign]) {
      for (const path of [TOPUP, CHARGES]) {
        const res = await post(path, a, { ...valid(), wallet_id: walletId });
        expect(res.status).toBe(404);
        expect(res.json).toEqual({ success: 0, error: [18], data: { message: 'NOT_FOUND' } });
      }
    }
    expect(await balanceOf(b, ids.foreign)).toBe(0n);
  });

  it('keeps the envelope on a 500 and tells nothing of the cause', async () => {
    // A fault in this app's database handles only (other test files may share the database): reading fee rules fails.
    const original = { prisma: t.app.deps.prisma, sql: t.app.deps.sql };
    const failing = <T extends object>(db: T): T =>
      new Proxy(db, {
        get(target, property) {
          if (property === '$queryRawUnsafe') {
            return (query: string, ...values: unknown[]) =>
              query.includes('wallet_fee_rules')
                ? Promise.reject(new Error('connection to 10.0.0.7 lost, password=hunter2'))
                : (target as any).$queryRawUnsafe(query, ...values);
          }
          if (property === '$transaction' || property === 'transaction') {
            return (fn: (tx: object) => unknown, ...rest: unknown[]) => (target as any)[property]((tx: object) => fn(failing(tx)), ...rest);
          }
          const value = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    t.app.deps.prisma = failing(original.prisma);
    t.app.deps.sql = failing(original.sql);
    try {
      for (const path of [TOPUP, CHARGES]) {
        const res = await post(path, a, valid());
        expect(res.status).toBe(500);
        expect(res.text).toBe('{"success":0,"error":[99],"data":{"message":"INTERNAL_SERVER_ERROR"}}');
      }
    } finally {
      Object.assign(t.app.deps, original);
    }
    expect(await balanceOf(a, ids.irr)).toBe(0n);
  });
});

describe('charges', () => {
  it('quotes the charges of the rule for the payment mode, moving nothing', async () => {
    const transfers = await transferCount();
    const card = await post(CHARGES, a, { wallet_id: ids.irr, txn_amount: 10_000, txn_code: 'CIB', payment_mode: 1 });
    expect(card.status).toBe(200);
    expect(card.json).toEqual({
      success: 1,
      error: [],
      data: {
        message: 'Charges calculated successfully.',
        wallet_id: ids.irr,
        currency: 'IRR',
        txn_amount: 10_000,
        credit_amount: 9850,
        charges_info: {
          total_charges: 150,
          charges: [
            {
              charge_id: expect.stringMatching(/^[0-9a-f]{32}$/),
              txn_code: 'CIB',
              payment_mode: 1,
              fixed_charge: 0,
              percentage: 1.5,
              min_charge: 10,
              max_charge: 1000,
              charge_amount: 150,
            },
          ],
        },
      },
    });
    expect(card.text).toContain('"percentage":1.50');
    const bank = await post(CHARGES, a, { wallet_id: ids.irr, txn_amount: 10_000, txn_code: 'CIB', payment_mode: 2 });
    expect(bank.json.data.charges_info).toMatchObject({ total_charges: 5, charges: [{ payment_mode: null, fixed_charge: 5, charge_amount: 5 }] });
    const minimum = await post(CHARGES, a, { wallet_id: ids.irr, txn_amount: 100, txn_code: 'CIB', payment_mode: 1 });
    expect(minimum.json.data.charges_info.total_charges).toBe(10);
    const maximum = await post(CHARGES, a, { wallet_id: ids.irr, txn_amount: 1_000_000, txn_code: 'CIB', payment_mode: 1 });
    expect(maximum.json.data.charges_info.total_charges).toBe(1000);
    for (const code of ['ZERO', 'FREE']) {
      const zero = await post(CHARGES, a, { wallet_id: ids.irr, txn_amount: 1, txn_code: code, payment_mode: 1 });
      expect(zero.json.data).toMatchObject({ txn_amount: 1, credit_amount: 1, charges_info: { total_charges: 0 } });
      expect(zero.json.data.charges_info.charges).toHaveLength(code === 'ZERO' ? 1 : 0);
    }
    expect(await transferCount()).toBe(transfers);
  });

  it('reads and writes decimal amounts exactly', async () => {
    const body = `{"wallet_id":"${ids.usd}","txn_amount":10.05,"txn_code":"CIB","payment_mode":2}`;
    const quote = await post(CHARGES, a, body);
    expect(quote.status).toBe(200);
    // 2.5 % of 10.05 = 0.25125, to the cent: 0.25.
    expect(quote.text).toContain('"txn_amount":10.05,"credit_amount":9.80,"charges_info":{"total_charges":0.25');
    const res = await post(TOPUP, a, body);
    expect(res.status).toBe(200);
    expect(await balanceOf(a, ids.usd)).toBe(980n);
    expect(await feesOf(a, 'USD')).toBe(25n);
    const tooPrecise = await post(TOPUP, a, body.replace('10.05', '10.055'));
    expect(tooPrecise.json).toEqual(badRequest([3]));
  });

  it('tops up with the quoted charges and refuses a stale quote', async () => {
    const before = await balanceOf(a, ids.irr);
    const fees = await feesOf(a, 'IRR');
    const quote = await post(CHARGES, a, { wallet_id: ids.irr, txn_amount: 2000, txn_code: 'CIB', payment_mode: 1 });
    const res = await post(TOPUP, a, { wallet_id: ids.irr, txn_amount: 2000, txn_code: 'CIB', payment_mode: 1, charges_info: quote.json.data.charges_info });
    expect(res.status).toBe(200);
    expect(await balanceOf(a, ids.irr)).toBe(before + 1970n);
    expect(await feesOf(a, 'IRR')).toBe(fees + 30n);
    const stale = await post(TOPUP, a, { wallet_id: ids.irr, txn_amount: 3000, txn_code: 'CIB', payment_mode: 1, charges_info: quote.json.data.charges_info });
    expect(stale.json).toEqual(badRequest([14]));
    expect(await balanceOf(a, ids.irr)).toBe(before + 1970n);
    // The document types charges_info as an Array: the quote as a list of one is the same quote.
    const listed = await post(TOPUP, a, { wallet_id: ids.irr, txn_amount: 2000, txn_code: 'CIB', payment_mode: 1, charges_info: [quote.json.data.charges_info] });
    expect(listed.status).toBe(200);
    expect(await balanceOf(a, ids.irr)).toBe(before + 2n * 1970n);
  });
});

describe('top-ups', () => {
  it('records every field of the document, with card data masked', async () => {
    const res = await post(TOPUP, a, {
      wallet_id: ids.irr,
      txn_amount: 1000,
      txn_code: 'CIB',
      payment_mode: 1,
      note: 'counter 3',
      debit_user_info: { user_id: ids.agentUserId, wallet_id: ids.agentWallet, username: 'agent.smith', user_type: 1, currency_id: 'IRR', payment_type: 4 },
      credit_user_info: { user_id: ids.userId, wallet_id: ids.irr, username: 'alice', user_type: 2, currency_id: 'irr', payment_type: 'wallet' },
      card_info: [{ card_number: '6037-9912-3456-7890', cvv2: '123', holder: 'ALICE', expiry: '04/29' }],
      payment_response: { status: 'OK', rrn: '123456789012', amount: 1000 },
      txn_device_info: [{ device_id: 'pos-17' }],
      meta_data: [{ wallet_topup_request_id: 'full-1' }],
    });
    expect(res.status).toBe(200);
    const txn = await t.app.deps.prisma.walletTransaction.findUniqueOrThrow({ where: { id: res.json.data.transaction.txn_id } });
    expect(txn).toMatchObject({
      txnNumber: txn.id,
      walletId: ids.irr,
      status: 1,
      amount: 1000n,
      fee: 15n,
      creditedAmount: 985n,
      txnCode: 'CIB',
      paymentMode: 1,
      note: 'counter 3',
      agentUserId: ids.agentUserId,
      agentPaymentType: '4',
      userPaymentType: 'wallet',
      cardInfo: [{ card_number: '603799******7890', holder: 'ALICE', expiry: '04/29' }],
      paymentResponse: { status: 'OK', rrn: '123456789012', amount: 1000 },
      deviceIds: ['pos-17'],
      requestId: 'full-1',
    });
    // The agent is named, not debited: the money comes from the card.
    expect(await balanceOf(a, ids.agentWallet)).toBe(0n);
    const clearing = await findAccount(t.app.deps.prisma, a.merchantId, 'wallet-topups:IRR:1');
    expect(clearing && balance(clearing)).toBeLessThan(0n);
  });

  it('lands a replayed wallet_topup_request_id once and refuses it for another request', async () => {
    const before = await balanceOf(a, ids.irr);
    const body = { wallet_id: ids.irr, txn_amount: 500, txn_code: 'CIB', payment_mode: 2, meta_data: { wallet_topup_request_id: 'replay-1' } };
    const first = await post(TOPUP, a, body);
    const second = await post(TOPUP, a, body);
    expect(first.status).toBe(200);
    expect(second.json).toEqual(first.json);
    const concurrent = await Promise.all(Array.from({ length: 8 }, () => post(TOPUP, a, { ...body, meta_data: { wallet_topup_request_id: 'replay-2' } })));
    expect(new Set(concurrent.map((res) => res.status))).toEqual(new Set([200]));
    expect(new Set(concurrent.map((res) => res.json.data.transaction.txn_id)).size).toBe(1);
    expect(await balanceOf(a, ids.irr)).toBe(before + 2n * 495n);
    const other = await post(TOPUP, a, { ...body, txn_amount: 600 });
    expect(other.json).toEqual(badRequest([16]));
    // The same request id is another company's own.
    const foreign = await post(TOPUP, b, { ...body, wallet_id: ids.foreign });
    expect(foreign.status).toBe(200);
    expect(await balanceOf(a, ids.irr)).toBe(before + 2n * 495n);
    const landed = (merchantId: string) => t.app.deps.prisma.walletTransaction.count({ where: { merchantId, requestId: { in: ['replay-1', 'replay-2'] } } });
    expect([await landed(a.merchantId), await landed(b.merchantId)]).toEqual([2, 1]);
  });

  it('lands every one of many concurrent top-ups to one wallet', async () => {
    const before = await balanceOf(a, ids.irr);
    const fees = await feesOf(a, 'IRR');
    const amounts = Array.from({ length: 24 }, (_, i) => 1000 + i * 37);
    const answers = await Promise.all(
      amounts.map((amount, i) => post(TOPUP, a, { wallet_id: ids.irr, txn_amount: amount, txn_code: 'CIB', payment_mode: (i % 2) + 1 })),
    );
    expect(answers.map((res) => res.status)).toEqual(amounts.map(() => 200));
    const txns = await t.app.deps.prisma.walletTransaction.findMany({ where: { id: { in: answers.map((res) => res.json.data.transaction.txn_id) } } });
    expect(txns).toHaveLength(24);
    const credited = txns.reduce((sum, txn) => sum + txn.creditedAmount, 0n);
    const charged = txns.reduce((sum, txn) => sum + txn.fee, 0n);
    expect(credited + charged).toBe(BigInt(amounts.reduce((sum, amount) => sum + amount, 0)));
    expect(await balanceOf(a, ids.irr)).toBe(before + credited);
    expect(await feesOf(a, 'IRR')).toBe(fees + charged);
  });
});
