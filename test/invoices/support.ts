import { createServer } from 'node:net';
import type { Client } from 'graphql-ws';
import { expect } from 'vitest';
import type { Config } from '../../src/config.ts';
import type { Clock } from '../../src/deps.ts';
import { findAccount, balance } from '../../src/ledger/ledger.ts';
import { inProcessSandbox } from '../../src/modules/invoices/connectors.ts';
import type { SandboxGateway } from '../../src/modules/invoices/gateways/sandbox.ts';
import { clearingAccountName, MERCHANT_ACCOUNT_NAME } from '../../src/modules/invoices/records.ts';
import { startApp, type TestApp } from '../support/app.ts';
import { reconcilePayments } from '../../src/modules/invoices/settlement.ts';

export const GATEWAY_TIMEOUT_MS = 400;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The app with the sandbox gateway in-process, on a known port so that the callback URLs it
 * registers with the gateway (PUBLIC_BASE_URL) reach it; the schedule is off (tests reconcile by
 * hand) and gateway calls time out quickly.
 */
export async function startInvoicesApp(overrides: Partial<Config> = {}, options: { clock?: Clock } = {}): Promise<TestApp> {
  // A port found free can be taken by another test file before the app listens on it: then another.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await startApp(
        {
          PORT: port,
          PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
          SANDBOX_GATEWAY: true,
          GATEWAY_TIMEOUT_MS,
          RECONCILE_INTERVAL_MS: 0,
          ...overrides,
        },
        options,
      );
    } catch (error) {
      if (attempt >= 5 || (error as { code?: string }).code !== 'EADDRINUSE') throw error;
    }
  }
}

export const sandboxOf = (t: TestApp): SandboxGateway => inProcessSandbox(t.app.deps)!;

export interface PayerTrip {
  /** The callback URL the gateway sent the browser to (on our server). */
  callback: URL;
  callbackStatus: number;
  /** The result page the callback redirected to, when it did. */
  result: URL | null;
  html: string;
}

async function get(url: string | URL): Promise<Response> {
  return fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
}

/** What the payer's browser does: the gateway page, the choice, the callback on our server, the result page. */
export async function payAtGateway(redirectUrl: string, action: 'pay' | 'cancel' | 'decline' = 'pay'): Promise<PayerTrip> {
  const page = new URL(redirectUrl);
  page.searchParams.set('action', action);
  const atGateway = await get(page);
  await atGateway.body?.cancel();
  expect(atGateway.status).toBe(302);
  const callback = new URL(atGateway.headers.get('location')!);
  return followCallback(callback);
}

/** The sandbox's 302 only, without following it to our callback (to replay or race it). */
export async function callbackOf(redirectUrl: string, action: 'pay' | 'cancel' | 'decline' = 'pay'): Promise<URL> {
  const page = new URL(redirectUrl);
  page.searchParams.set('action', action);
  const atGateway = await get(page);
  await atGateway.body?.cancel();
  expect(atGateway.status).toBe(302);
  return new URL(atGateway.headers.get('location')!);
}

export async function followCallback(callback: URL): Promise<PayerTrip> {
  const atCallback = await get(callback);
  const callbackText = await atCallback.text();
  if (atCallback.status !== 302) return { callback, callbackStatus: atCallback.status, result: null, html: callbackText };
  const result = new URL(atCallback.headers.get('location')!);
  const page = await get(result);
  expect(page.status).toBe(200);
  // A payer-facing page: no other site may frame it (see PAGE_HEADERS).
  expect(page.headers.get('x-frame-options')).toBe('DENY');
  return { callback, callbackStatus: 302, result, html: await page.text() };
}

/** The merchant's invoice balance and a gateway's clearing balance, in rials. */
export async function ledgerOf(t: TestApp, merchantId: string): Promise<{ merchant: bigint; zarinpal: bigint; shepa: bigint }> {
  const read = async (name: string) => {
    const account = await findAccount(t.app.deps.prisma, merchantId, name);
    return account ? balance(account) : 0n;
  };
  return {
    merchant: await read(MERCHANT_ACCOUNT_NAME),
    zarinpal: await read(clearingAccountName('zarinpal')),
    shepa: await read(clearingAccountName('shepa')),
  };
}

/** Event types recorded for one object, in order. */
export async function eventTypes(t: TestApp, objectId: string): Promise<string[]> {
  const rows = await t.app.deps.prisma.event.findMany({ where: { objectId }, orderBy: { id: 'asc' }, select: { type: true } });
  return rows.map((row) => row.type);
}

export { wsClient } from '../support/app.ts';

/** A subscription's results as they come; `next()` waits for the next one. */
export function subscribe<T>(client: Client, query: string, variables: Record<string, unknown>) {
  const queue: T[] = [];
  const waiters: ((value: T | null) => void)[] = [];
  let failure: unknown = null;
  const stop = client.subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors) failure = result.errors;
        const value = result.data as T;
        const waiter = waiters.shift();
        if (waiter) waiter(value);
        else queue.push(value);
      },
      error: (error) => {
        failure = error;
        for (const waiter of waiters.splice(0)) waiter(null);
      },
      complete: () => {
        for (const waiter of waiters.splice(0)) waiter(null);
      },
    },
  );
  return {
    stop,
    get failure() {
      return failure;
    },
    /** The next result, or null if none came within `ms` (used to poke until a subscription is live). */
    next(ms = 10_000): Promise<T | null> {
      const queued = queue.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          const index = waiters.indexOf(done);
          if (index >= 0) waiters.splice(index, 1);
          resolve(null);
        }, ms);
        const done = (value: T | null) => {
          clearTimeout(timer);
          resolve(value);
        };
        waiters.push(done);
      });
    },
  };
}

/** A merchant of its own on an invoices app, with the legacy calls the failure tests repeat. */
export async function invoiceShop(t: TestApp, name: string) {
  const m = await t.merchant({ name });
  const auth = `Token ${m.token}`;
  return {
    m,
    auth,
    async newPayment(gateway: 'zarinpal' | 'shepa', description = 'Order', amount = 120_000) {
      const invoice = await t.request('POST', '/invoice/create', { authorization: auth, body: { totalAmount: amount, title: 'Order', mobile: null, email: null } });
      const payment = await t.request('POST', '/payment/request', {
        authorization: auth,
        body: { invoiceId: invoice.json.invoiceId, gateway, amount, description, mobile: null, email: null },
      });
      if (payment.status !== 200) throw new Error(`payment request answered ${payment.status}: ${payment.text}`);
      return payment.json as { paymentId: string; invoiceId: string; authority: string; redirectUrl: string };
    },
    async statusOf(paymentId: string) {
      return (await t.request('GET', `/payment/status?paymentId=${paymentId}`, { authorization: auth })).json;
    },
    reconcile: () => reconcilePayments(t.app.deps, { merchantId: m.merchantId }),
  };
}
