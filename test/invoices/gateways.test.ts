import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSandboxGateway } from '../../src/modules/invoices/gateways/sandbox.ts';
import type { SandboxGateway } from '../../src/modules/invoices/gateways/sandbox.ts';
import { SHEPA_SANDBOX_API_KEY, ShepaConnector } from '../../src/modules/invoices/gateways/shepa.ts';
import {
  GatewayRejectedError,
  GatewayUnavailableError,
  InvalidGatewayRequestError,
} from '../../src/modules/invoices/gateways/types.ts';
import type { GatewayConnector } from '../../src/modules/invoices/gateways/types.ts';
import { ZarinpalConnector } from '../../src/modules/invoices/gateways/zarinpal.ts';

const CALLBACK = 'https://shop.example/invoices/callback?invoice=inv-42';
const AMOUNT = 125_000n;
const SHORT_TIMEOUT_MS = 300;

let sandbox: SandboxGateway;
let clockOffsetMs = 0;

beforeAll(async () => {
  sandbox = await startSandboxGateway({ verifyHangMs: 5_000, now: () => new Date(Date.now() + clockOffsetMs) });
});

afterAll(async () => {
  await sandbox.close();
});

function zarinpal(options: { merchantId?: string; timeoutMs?: number; baseUrl?: string } = {}): ZarinpalConnector {
  return new ZarinpalConnector({
    baseUrl: options.baseUrl ?? sandbox.url,
    merchantId: options.merchantId ?? '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
    timeoutMs: options.timeoutMs ?? 2_000,
  });
}

function shepa(options: { apiKey?: string; timeoutMs?: number } = {}): ShepaConnector {
  return new ShepaConnector({
    baseUrl: sandbox.url,
    apiKey: options.apiKey ?? SHEPA_SANDBOX_API_KEY,
    timeoutMs: options.timeoutMs ?? 2_000,
  });
}

/** What the payer's browser does on the payment page: returns the callback the gateway redirects to. */
async function payerChooses(redirectUrl: string, action: 'pay' | 'cancel' | 'decline'): Promise<URL> {
  const url = new URL(redirectUrl);
  url.searchParams.set('action', action);
  const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(2_000) });
  await response.body?.cancel();
  expect(response.status).toBe(302);
  const location = new URL(response.headers.get('location') ?? '');
  expect(`${location.origin}${location.pathname}`).toBe('https://shop.example/invoices/callback');
  expect(location.searchParams.get('invoice')).toBe('inv-42');
  return location;
}

async function requestAndPay(connector: GatewayConnector, description = 'Invoice 42', amount = AMOUNT) {
  const payment = await connector.requestPayment({ amount, callbackUrl: CALLBACK, description, orderId: 'inv-42' });
  const callback = await payerChooses(payment.redirectUrl, 'pay');
  return { payment, callback };
}

describe('zarinpal connector against the sandbox', () => {
  it('requests, pays, verifies once and then answers already_verified', async () => {
    const connector = zarinpal();
    const payment = await connector.requestPayment({
      amount: AMOUNT,
      callbackUrl: CALLBACK,
      description: 'Invoice 42',
      orderId: 'inv-42',
      mobile: '+98 912 345 6789',
      email: 'payer@example.com',
    });
    expect(payment.authority).toMatch(/^S[0-9a-zA-Z]{35}$/);
    expect(payment.redirectUrl).toBe(`${sandbox.url}/pg/StartPay/${payment.authority}`);
    expect(sandbox.payment(payment.authority)).toMatchObject({
      amount: AMOUNT,
      mobile: '09123456789',
      email: 'payer@example.com',
      orderId: 'inv-42',
      status: 'pending',
    });

    const page = await fetch(payment.redirectUrl);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('<button name="action" value="pay">Pay</button>');
    expect(html).toContain('<button name="action" value="cancel">Cancel</button>');
    expect(html).toContain('125000 IRR');

    const callback = await payerChooses(payment.redirectUrl, 'pay');
    expect(callback.searchParams.get('Status')).toBe('OK');
    expect(connector.parseCallback(callback.searchParams)).toEqual({ authority: payment.authority, success: true });

    const first = await connector.verify({ authority: payment.authority, amount: AMOUNT });
    expect(first.outcome).toBe('verified');
    expect(first.gatewayCode).toBe('100');
    expect(first.refId).toMatch(/^\d{7}$/);
    expect(first.cardPan).toMatch(/^502229\*{6}\d{4}$/);
    expect(first.verifiedAmount).toBe(AMOUNT);

    const second = await connector.verify({ authority: payment.authority, amount: AMOUNT });
    expect(second).toMatchObject({ outcome: 'already_verified', gatewayCode: '101', refId: first.refId, cardPan: first.cardPan });
    expect(await connector.inquire({ authority: payment.authority })).toMatchObject({ status: 'VERIFIED' });
    expect(sandbox.payment(payment.authority)).toMatchObject({ status: 'verified', verifyCalls: 2, refId: first.refId });
  });

  it('reports a cancelled payment as NOK and its verify as failed (-51)', async () => {
    const connector = zarinpal();
    const payment = await connector.requestPayment({ amount: AMOUNT, callbackUrl: CALLBACK, description: 'x', orderId: 'o' });
    const callback = await payerChooses(payment.redirectUrl, 'cancel');
    expect(callback.searchParams.get('Status')).toBe('NOK');
    expect(connector.parseCallback(callback.searchParams)).toEqual({ authority: payment.authority, success: false });
    expect(await connector.verify({ authority: payment.authority, amount: AMOUNT })).toMatchObject({
      outcome: 'failed',
      gatewayCode: '-51',
    });
    expect(await connector.inquire({ authority: payment.authority })).toMatchObject({ status: 'FAILED' });
    expect(sandbox.payment(payment.authority)?.status).toBe('cancelled');
  });

  it('declines on action=decline, and on action=pay when the description asks for it', async () => {
    const connector = zarinpal();
    const byAction = await connector.requestPayment({ amount: AMOUNT, callbackUrl: CALLBACK, description: 'x', orderId: 'o' });
    const declined = await payerChooses(byAction.redirectUrl, 'decline');
    expect(connector.parseCallback(declined.searchParams)).toEqual({ authority: byAction.authority, success: false });
    expect(sandbox.payment(byAction.authority)?.status).toBe('declined');

    const { payment, callback } = await requestAndPay(connector, '[sandbox:decline] Invoice 42');
    expect(callback.searchParams.get('Status')).toBe('NOK');
    expect(sandbox.payment(payment.authority)).toMatchObject({ scenario: 'decline', status: 'declined' });
    expect((await connector.verify({ authority: payment.authority, amount: AMOUNT })).outcome).toBe('failed');
  });

  it('refuses an unknown scenario tag like any validation error (-9)', async () => {
    const error = await zarinpal()
      .requestPayment({ amount: AMOUNT, callbackUrl: CALLBACK, description: '[sandbox:explode]', orderId: 'o' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayRejectedError);
    expect(error).toMatchObject({ code: 'GATEWAY_REJECTED', gatewayCode: '-9' });
  });

  it('throws GatewayUnavailableError when verify hangs past the timeout, and verifies later', async () => {
    const connector = zarinpal({ timeoutMs: SHORT_TIMEOUT_MS });
    const { payment } = await requestAndPay(connector);
    sandbox.setScenario(payment.authority, 'verify_timeout');
    const started = Date.now();
    const error = await connector.verify({ authority: payment.authority, amount: AMOUNT }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toBeInstanceOf(GatewayUnavailableError);
    expect(error).toMatchObject({ code: 'GATEWAY_UNAVAILABLE', reason: 'timeout', gateway: 'zarinpal' });

    // Reconciliation: the gateway still holds it as paid and unverified.
    expect(await connector.inquire({ authority: payment.authority })).toMatchObject({ status: 'PAID' });
    sandbox.setScenario(payment.authority, 'success');
    expect((await connector.verify({ authority: payment.authority, amount: AMOUNT })).outcome).toBe('verified');
  });

  it('throws GatewayUnavailableError on a garbage answer and on a 502 page', async () => {
    const connector = zarinpal();
    const { payment } = await requestAndPay(connector);
    sandbox.setScenario(payment.authority, 'verify_garbage');
    await expect(connector.verify({ authority: payment.authority, amount: AMOUNT })).rejects.toMatchObject({
      name: 'GatewayUnavailableError',
      reason: 'bad_response',
    });
    sandbox.setScenario(payment.authority, 'verify_bad_gateway');
    await expect(connector.verify({ authority: payment.authority, amount: AMOUNT })).rejects.toMatchObject({
      name: 'GatewayUnavailableError',
      reason: 'bad_response',
    });
    expect(sandbox.payment(payment.authority)?.status).toBe('paid');
  });

  it('throws GatewayUnavailableError when nothing listens', async () => {
    const connector = zarinpal({ baseUrl: 'http://127.0.0.1:1' });
    await expect(
      connector.requestPayment({ amount: AMOUNT, callbackUrl: CALLBACK, description: 'x', orderId: 'o' }),
    ).rejects.toMatchObject({ name: 'GatewayUnavailableError', reason: 'network' });
  });

  it('reports amount_mismatch (-50) for a wrong amount and for a short payment', async () => {
    const connector = zarinpal();
    const { payment } = await requestAndPay(connector);
    const wrong = await connector.verify({ authority: payment.authority, amount: AMOUNT + 1_000n });
    expect(wrong).toMatchObject({ outcome: 'amount_mismatch', gatewayCode: '-50' });
    expect(wrong.verifiedAmount).toBeUndefined();
    expect((await connector.verify({ authority: payment.authority, amount: AMOUNT })).outcome).toBe('verified');

    const short = await requestAndPay(connector, '[sandbox:amount_mismatch] Invoice 42');
    expect(sandbox.payment(short.payment.authority)?.paidAmount).toBe(AMOUNT / 2n);
    expect((await connector.verify({ authority: short.payment.authority, amount: AMOUNT })).outcome).toBe('amount_mismatch');
  });

  it('reverses a verified payment once, and reports refused reverses as failed', async () => {
    const connector = zarinpal();
    const { payment } = await requestAndPay(connector);
    const verified = await connector.verify({ authority: payment.authority, amount: AMOUNT });
    expect(verified.outcome).toBe('verified');

    expect(await connector.refund({ authority: payment.authority, amount: AMOUNT, refId: verified.refId })).toMatchObject({
      outcome: 'refunded',
      gatewayCode: '100',
    });
    expect(await connector.inquire({ authority: payment.authority })).toMatchObject({ status: 'REVERSED' });
    expect(await connector.refund({ authority: payment.authority, amount: AMOUNT })).toMatchObject({
      outcome: 'failed',
      gatewayCode: '-61',
    });

    const refused = await requestAndPay(connector, '[sandbox:refund_fail] Invoice 42');
    await connector.verify({ authority: refused.payment.authority, amount: AMOUNT });
    expect(await connector.refund({ authority: refused.payment.authority, amount: AMOUNT })).toMatchObject({
      outcome: 'failed',
      gatewayCode: '-60',
    });
    expect(sandbox.payment(refused.payment.authority)?.status).toBe('verified');

    const late = await requestAndPay(connector);
    await connector.verify({ authority: late.payment.authority, amount: AMOUNT });
    clockOffsetMs = 31 * 60 * 1000;
    try {
      expect(await connector.refund({ authority: late.payment.authority, amount: AMOUNT })).toMatchObject({
        outcome: 'failed',
        gatewayCode: '-63',
      });
    } finally {
      clockOffsetMs = 0;
    }
  });

  it('refunds in part through AddRefund, tells a done refund from one not done, and needs its token', async () => {
    const refunds = { graphqlUrl: `${sandbox.url}/api/v4/graphql/`, accessToken: 'panel-token', terminalId: '349555' };
    const connector = new ZarinpalConnector({ baseUrl: sandbox.url, merchantId: randomUUID(), timeoutMs: 2_000, refunds });
    expect(connector.canRefundInPart).toBe(true);
    const { payment } = await requestAndPay(connector);
    const verified = await connector.verify({ authority: payment.authority, amount: AMOUNT });
    const input = { authority: payment.authority, amount: 40_000n, refId: verified.refId!, method: 'refund' as const, refundedBefore: 0n };
    expect(connector.refundRepeatable(input)).toBe(false);
    expect(connector.refundRepeatable({ ...input, method: 'reverse' })).toBe(true);
    expect(await connector.refundStatus(input)).toBe('not_refunded');

    const refunded = await connector.refund(input);
    expect(refunded).toMatchObject({ outcome: 'refunded', reference: sandbox.payment(payment.authority)!.transactionId });
    expect(await connector.refundStatus(input)).toBe('refunded');
    expect(await connector.refundStatus({ ...input, refundedBefore: 40_000n })).toBe('not_refunded');
    expect(sandbox.payment(payment.authority)).toMatchObject({ status: 'verified', refundedAmount: 40_000n });

    // A whole reverse is no longer possible once a part was refunded; more than what is left is refused.
    expect(await connector.refund({ ...input, method: 'reverse' })).toMatchObject({ outcome: 'failed', gatewayCode: '-61' });
    expect(await connector.refund({ ...input, amount: AMOUNT })).toMatchObject({ outcome: 'failed', gatewayCode: 'graphql' });
    await expect(connector.refund({ ...input, amount: 19_999n })).rejects.toBeInstanceOf(InvalidGatewayRequestError);
    await expect(connector.refund({ ...input, refId: '1' })).rejects.toBeInstanceOf(GatewayRejectedError);

    const withoutToken = zarinpal();
    expect(withoutToken.canRefundInPart).toBe(false);
    await expect(withoutToken.refund(input)).rejects.toBeInstanceOf(InvalidGatewayRequestError);
  });

  it('lists only this merchant’s paid-but-unverified payments', async () => {
    const connector = zarinpal({ merchantId: randomUUID() });
    const unverified = await requestAndPay(connector, 'unverified', 210_000n);
    const verified = await requestAndPay(connector, 'verified', 220_000n);
    await connector.verify({ authority: verified.payment.authority, amount: 220_000n });
    await connector.requestPayment({ amount: 230_000n, callbackUrl: CALLBACK, description: 'pending', orderId: 'o' });
    await requestAndPay(zarinpal(), 'another merchant');

    const list = await connector.listUnverified();
    expect(list).toHaveLength(1);
    expect(list[0]).toEqual({
      authority: unverified.payment.authority,
      amount: 210_000n,
      callbackUrl: CALLBACK,
      date: expect.stringMatching(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/),
    });
  });

  it('rejects bad input locally and validation errors from the gateway', async () => {
    const connector = zarinpal();
    const badMobile = connector
      .requestPayment({ amount: AMOUNT, callbackUrl: CALLBACK, description: 'x', orderId: 'o', mobile: '12345' })
      .catch((e: unknown) => e);
    expect(await badMobile).toBeInstanceOf(InvalidGatewayRequestError);
    await expect(
      connector.requestPayment({ amount: 0n, callbackUrl: CALLBACK, description: 'x', orderId: 'o' }),
    ).rejects.toMatchObject({ code: 'INVALID_GATEWAY_REQUEST' });
    await expect(
      connector.requestPayment({ amount: AMOUNT, callbackUrl: CALLBACK, description: 'd'.repeat(501), orderId: 'o' }),
    ).rejects.toMatchObject({ code: 'GATEWAY_REJECTED', gatewayCode: '-9' });
    expect(() => new ZarinpalConnector({ baseUrl: sandbox.url, merchantId: 'nope', timeoutMs: 1_000 })).toThrow(
      InvalidGatewayRequestError,
    );
  });

  it('parses only well-formed callbacks', () => {
    const connector = zarinpal();
    const authority = `S${'a'.repeat(35)}`;
    expect(connector.parseCallback(new URLSearchParams({ Authority: authority, Status: 'OK' }))).toEqual({ authority, success: true });
    expect(connector.parseCallback(new URLSearchParams({ Authority: authority }))).toBeNull();
    expect(connector.parseCallback(new URLSearchParams({ Authority: authority, Status: 'MAYBE' }))).toBeNull();
    expect(connector.parseCallback(new URLSearchParams({ Authority: 'S123', Status: 'OK' }))).toBeNull();
    expect(connector.parseCallback(new URLSearchParams({ token: 'abc', status: 'success' }))).toBeNull();
  });
});

describe('shepa connector against the sandbox', () => {
  it('requests, pays and verifies; a repeat verify gives the same result', async () => {
    const connector = shepa();
    const payment = await connector.requestPayment({
      amount: AMOUNT,
      callbackUrl: CALLBACK,
      description: 'Invoice 42',
      orderId: 'inv-42',
      mobile: '09123456789',
    });
    expect(payment.authority).toMatch(/^[0-9a-zA-Z]{40}$/);
    expect(payment.redirectUrl).toBe(`${sandbox.url}/v1/${payment.authority}`);
    expect(sandbox.payment(payment.authority)).toMatchObject({ protocol: 'shepa', amount: AMOUNT, mobile: '09123456789' });

    const callback = await payerChooses(payment.redirectUrl, 'pay');
    expect(callback.searchParams.get('status')).toBe('success');
    expect(connector.parseCallback(callback.searchParams)).toEqual({ authority: payment.authority, success: true });

    const first = await connector.verify({ authority: payment.authority, amount: AMOUNT });
    expect(first.outcome).toBe('verified');
    expect(first.verifiedAmount).toBe(AMOUNT);
    expect(first.refId).toMatch(/^\d{7}$/);
    expect(first.transactionId).toMatch(/^\d{9}$/);
    expect(first.cardPan).toMatch(/^603799\*{6}\d{4}$/);

    const second = await connector.verify({ authority: payment.authority, amount: AMOUNT });
    expect(second).toMatchObject({ outcome: 'verified', refId: first.refId, transactionId: first.transactionId });
    expect(sandbox.payment(payment.authority)).toMatchObject({ status: 'verified', verifyCalls: 2 });
  });

  it('reports cancel and decline as status=failed and their verify as failed', async () => {
    const connector = shepa();
    for (const action of ['cancel', 'decline'] as const) {
      const payment = await connector.requestPayment({ amount: AMOUNT, callbackUrl: CALLBACK, description: 'x', orderId: 'o' });
      const callback = await payerChooses(payment.redirectUrl, action);
      expect(callback.searchParams.get('status')).toBe('failed');
      expect(connector.parseCallback(callback.searchParams)).toEqual({ authority: payment.authority, success: false });
      const result = await connector.verify({ authority: payment.authority, amount: AMOUNT });
      expect(result).toMatchObject({ outcome: 'failed', gatewayCode: '400' });
      expect(result.refId).toBeUndefined();
    }
  });

  it('throws GatewayUnavailableError on timeout and garbage', async () => {
    const connector = shepa({ timeoutMs: SHORT_TIMEOUT_MS });
    const { payment } = await requestAndPay(connector, '[sandbox:verify_timeout] Invoice 42');
    await expect(connector.verify({ authority: payment.authority, amount: AMOUNT })).rejects.toMatchObject({
      name: 'GatewayUnavailableError',
      code: 'GATEWAY_UNAVAILABLE',
      reason: 'timeout',
      gateway: 'shepa',
    });
    sandbox.setScenario(payment.authority, 'verify_garbage');
    const error = await connector.verify({ authority: payment.authority, amount: AMOUNT }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayUnavailableError);
    expect(error).toMatchObject({ reason: 'bad_response' });
    expect(sandbox.payment(payment.authority)?.status).toBe('paid');
  });

  it('reports amount_mismatch with the amount Shepa says was paid', async () => {
    const connector = shepa();
    const { payment } = await requestAndPay(connector, '[sandbox:amount_mismatch] Invoice 42');
    expect(await connector.verify({ authority: payment.authority, amount: AMOUNT })).toMatchObject({
      outcome: 'amount_mismatch',
      verifiedAmount: AMOUNT / 2n,
    });
  });

  it('refunds through refund-transaction, up to the paid amount', async () => {
    const connector = shepa();
    const { payment } = await requestAndPay(connector);
    const verified = await connector.verify({ authority: payment.authority, amount: AMOUNT });

    const refund = await connector.refund({ authority: payment.authority, amount: AMOUNT, transactionId: verified.transactionId });
    expect(refund.outcome).toBe('refunded');
    expect(refund.reference).toMatch(/^RF\d{9}$/);
    expect(sandbox.payment(payment.authority)).toMatchObject({ status: 'refunded', refundedAmount: AMOUNT });
    expect(
      await connector.refund({ authority: payment.authority, amount: 1_000n, transactionId: verified.transactionId }),
    ).toMatchObject({ outcome: 'failed', gatewayCode: '400' });

    const refused = await requestAndPay(connector, '[sandbox:refund_fail] Invoice 42');
    const refusedVerify = await connector.verify({ authority: refused.payment.authority, amount: AMOUNT });
    expect(
      await connector.refund({ authority: refused.payment.authority, amount: AMOUNT, transactionId: refusedVerify.transactionId }),
    ).toMatchObject({ outcome: 'failed', gatewayCode: '500' });

    await expect(connector.refund({ authority: payment.authority, amount: AMOUNT })).rejects.toBeInstanceOf(
      InvalidGatewayRequestError,
    );
  });

  it('rejects a wrong api key and parses only well-formed callbacks', async () => {
    await expect(
      shepa({ apiKey: 'wrong' }).requestPayment({ amount: AMOUNT, callbackUrl: CALLBACK, description: 'x', orderId: 'o' }),
    ).rejects.toMatchObject({ code: 'GATEWAY_REJECTED', gatewayCode: '401' });

    const connector = shepa();
    expect(connector.parseCallback(new URLSearchParams({ token: 'abc123', status: 'canceled' }))).toEqual({
      authority: 'abc123',
      success: false,
    });
    expect(connector.parseCallback(new URLSearchParams({ token: 'abc123' }))).toBeNull();
    expect(connector.parseCallback(new URLSearchParams({ token: 'a b', status: 'success' }))).toBeNull();
    const common: GatewayConnector = connector;
    expect(common.listUnverified).toBeUndefined();
    expect(common.inquire).toBeUndefined();
  });
});

describe('sandbox-main', () => {
  it('prints its URL, serves, and exits 0 on SIGTERM', async () => {
    const entry = fileURLToPath(new URL('../../src/modules/invoices/gateways/sandbox-main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', entry, '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      let output = '';
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString();
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${output}`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const home = await fetch(url);
      expect(home.status).toBe(200);
      await home.body?.cancel();

      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 8_000);
});
