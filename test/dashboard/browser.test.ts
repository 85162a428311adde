/**
 * The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core. It signs
 * in, watches a pocket charge, a gateway payment through the sandbox and a wallet top-up arrive
 * live, then lives through a server restart during which more money moves, and must show that too.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MerchantCredentials } from '../../src/auth/credentials.ts';
import { RIGHTS, SCOPES } from '../../src/auth/scopes.ts';
import { uuidv7 } from '../../src/lib/ids.ts';
import { freePort } from '../invoices/support.ts';
import { createGroup, newPhone } from '../pockets/support.ts';
import { expectLedgerBalanced, startApp, token, usesPostgres, type TestApp } from '../support/app.ts';

const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
if (!hasChromium) console.warn(`Skipping the dashboard's browser test: no Chromium at ${CHROMIUM} (apt-get install -y chromium).`);
const SOON = { timeout: 10_000 };

const CHARGE = `mutation ($slug: String!, $charges: [PocketChargeInput!]!) {
  chargePockets(groupSlug: $slug, charges: $charges) { __typename ... on MutationChargePocketsSuccess { data { __typename } } }
}`;
const CREATE_WALLET = `mutation ($merchantId: ID!, $username: String!) {
  createWallet(merchantId: $merchantId, username: $username) { ... on MutationCreateWalletSuccess { data { id } } ... on AppError { code message } }
}`;
const TOP_UP = `mutation ($input: TopUpWalletInput!) {
  topUpWallet(input: $input) { ... on MutationTopUpWalletSuccess { data { id } } ... on AppError { code message } }
}`;
const CREATE_INVOICE = `mutation ($input: CreateInvoiceInput!) {
  createInvoice(input: $input) { ... on MutationCreateInvoiceSuccess { data { id } } ... on AppError { code message } }
}`;
const REQUEST_PAYMENT = `mutation ($input: RequestInvoicePaymentInput!) {
  requestInvoicePayment(input: $input) { ... on MutationRequestInvoicePaymentSuccess { data { id redirectUrl } } ... on AppError { code message } }
}`;

describe.skipIf(!hasChromium)(`the dashboard in headless Chromium (skipped when ${CHROMIUM} is missing: apt-get install -y chromium)`, () => {
  let port: number;
  let dataDir: string;
  let t: TestApp;
  let merchant: MerchantCredentials;
  let auth: string;
  let slug: string;
  let walletId: string;
  let browser: BrowserContext;
  let profile: string;
  let page: Page;
  const pageErrors: string[] = [];

  /** The server on its port, with the sandbox gateway; the embedded database lives in a folder so that a restart keeps it. */
  const serve = (on: number) =>
    startApp({
      PORT: on,
      PUBLIC_BASE_URL: `http://127.0.0.1:${on}`,
      SANDBOX_GATEWAY: true,
      RECONCILE_INTERVAL_MS: 0,
      ...(usesPostgres ? {} : { DATA_DIR: dataDir }),
    });

  const chargePocket = async (server: TestApp, amount: number) => {
    const chargeToken = uuidv7();
    const res = await server.graphql(CHARGE, { slug, charges: [{ token: chargeToken, phoneNumber: newPhone(), amount: String(amount) }] }, { authorization: auth });
    expect(res.data.chargePockets.data).toEqual([{ __typename: 'PocketCharge' }]);
    return chargeToken;
  };

  const topUp = async (server: TestApp, amount: number) => {
    const res = await server.graphql(TOP_UP, { input: { walletId, amount: String(amount), txnCode: 'CIB', paymentMode: 'CARD' } }, { authorization: auth });
    expect(res.data.topUpWallet.data?.id, JSON.stringify(res)).toBeTruthy();
    return res.data.topUpWallet.data.id as string;
  };

  const totals = (table: 'state' | 'channel', kind: string, value: string) =>
    page.locator(`#totals-by-${table} tr[data-kind="${kind}"][data-${table}="${value}"]`);

  beforeAll(async () => {
    // Always the current sources, whatever `npm install` built.
    execFileSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', '--config', 'web/dashboard/vite.config.ts'], { stdio: 'inherit' });
    dataDir = mkdtempSync(join(tmpdir(), 'dashboard-data-'));
    port = await freePort();
    t = await serve(port);
    merchant = await t.merchant({ name: 'Dashboard shop', scopes: [...SCOPES], rights: [...RIGHTS] });
    auth = token(merchant);
    slug = (await createGroup(t, merchant)).slug;
    const wallet = await t.graphql(CREATE_WALLET, { merchantId: merchant.merchantId, username: `dash-${uuidv7().slice(-8)}` }, { authorization: await t.operator() });
    walletId = wallet.data.createWallet.data.id;

    profile = mkdtempSync(join(tmpdir(), 'dashboard-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    // Failed WebSocket handshakes while the server is down are expected; a blocked resource is not.
    page.on('console', (message) => message.text().includes('Content Security Policy') && pageErrors.push(message.text()));
  });

  afterAll(async () => {
    await browser?.close();
    if (t) {
      await expectLedgerBalanced(t);
      await t.stop();
    }
    rmSync(profile, { recursive: true, force: true });
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('signs in with a merchant token kept in the tab only, and goes live', async () => {
    await page.goto(`${t.url}/dashboard`);
    await page.fill('#credential', merchant.token);
    await page.click('#sign-in button[type=submit]');
    await expect.poll(() => page.locator('#status').getAttribute('data-state'), SOON).toBe('live');
    expect(await page.locator('header .merchant').textContent()).toBe('Dashboard shop');
    expect(await page.evaluate(() => [localStorage.length, document.cookie, sessionStorage.getItem('payments-dashboard.authorization')])).toEqual([
      0,
      '',
      auth,
    ]);
    expect(page.url()).not.toContain(merchant.token);
  });

  it('shows a pocket charge, a gateway payment and a top-up as they happen, with their totals', async () => {
    const chargeToken = await chargePocket(t, 25_000);
    await page.locator(`#latest tr[data-kind="pocketCharge"][data-key="${chargeToken}"][data-state="SUCCESS"]`).waitFor(SOON);
    await expect.poll(() => totals('state', 'pocketCharge', 'SUCCESS').getAttribute('data-count'), SOON).toBe('1');
    expect(await totals('state', 'pocketCharge', 'SUCCESS').getAttribute('data-amount')).toBe('25000');

    // The payer's side, in the same browser: the sandbox gateway page, then our result page.
    const invoice = await t.graphql(CREATE_INVOICE, { input: { title: 'Order 7', totalAmount: '150000' } }, { authorization: auth });
    const invoiceId = invoice.data.createInvoice.data.id;
    const requested = await t.graphql(REQUEST_PAYMENT, { input: { invoiceId, amount: '150000', gateway: 'ZARINPAL' } }, { authorization: auth });
    const payment = requested.data.requestInvoicePayment.data as { id: string; redirectUrl: string };
    await page.locator(`#latest tr[data-kind="invoicePayment"][data-key="${payment.id}"][data-state="WAITING"]`).waitFor(SOON);
    const payer = await browser.newPage();
    const atGateway = new URL(payment.redirectUrl);
    atGateway.searchParams.set('action', 'pay');
    await payer.goto(atGateway.toString());
    await payer.locator('.outcome.ok[data-status="verified"]').waitFor(SOON);
    expect(await payer.locator('body').textContent()).toContain('150,000 IRR (rials)');
    await payer.close();
    await page.locator(`#latest tr[data-kind="invoicePayment"][data-key="${payment.id}"][data-state="VERIFIED"]`).waitFor(SOON);
    await expect.poll(() => totals('state', 'invoicePayment', 'VERIFIED').getAttribute('data-count'), SOON).toBe('1');
    await expect.poll(() => totals('channel', 'invoicePayment', 'ZARINPAL').getAttribute('data-amount'), SOON).toBe('150000');

    const transactionId = await topUp(t, 40_000);
    await page.locator(`#latest tr[data-kind="walletTopUp"][data-key="${transactionId}"][data-state="SUCCESS"]`).waitFor(SOON);
    await expect.poll(() => totals('channel', 'walletTopUp', 'CARD').getAttribute('data-amount'), SOON).toBe('40000');
    await expect.poll(() => page.locator('.card[data-kind="pocketCharge"]').getAttribute('data-count'), SOON).toBe('1');
    expect(Number(await page.locator('svg.chart').getAttribute('data-total'))).toBeGreaterThanOrEqual(3);

    // A row leads to the object's details, read through GraphQL.
    await page.click(`#latest tr[data-kind="invoicePayment"][data-key="${payment.id}"] a`);
    await page.locator(`#details dl[data-kind="invoicePayment"][data-key="${payment.id}"]`).waitFor(SOON);
    expect(await page.locator('#details').textContent()).toContain('Order 7');
    await page.click('#details .close');
  });

  it('follows the same stream over Server-Sent Events', async () => {
    const sse = await browser.newPage();
    await sse.goto(`${t.url}/dashboard?transport=sse`);
    await sse.fill('#credential', merchant.token);
    await sse.click('#sign-in button[type=submit]');
    await expect.poll(() => sse.locator('#status').textContent(), SOON).toBe('Live (Server-Sent Events)');
    const chargeToken = await chargePocket(t, 1_000);
    await sse.locator(`#latest tr[data-kind="pocketCharge"][data-key="${chargeToken}"]`).waitFor(SOON);
    await page.locator(`#latest tr[data-kind="pocketCharge"][data-key="${chargeToken}"]`).waitFor(SOON);
    await sse.close();
  });

  it('recovers from a server restart and shows what happened while it was away', async () => {
    const lastSeen = await page.locator('#status').getAttribute('data-last-event');
    await t.stop();
    await expect.poll(() => page.locator('#status').getAttribute('data-state'), SOON).toBe('reconnecting');

    // Money moves while the page cannot see the server: through another instance, on another port.
    const meanwhile = await serve(await freePort());
    const missedCharge = await chargePocket(meanwhile, 7_000);
    const missedTopUp = await topUp(meanwhile, 2_500);
    await meanwhile.stop();

    t = await serve(port);
    await expect.poll(() => page.locator('#status').getAttribute('data-state'), SOON).toBe('live');
    await page.locator(`#latest tr[data-kind="pocketCharge"][data-key="${missedCharge}"][data-state="SUCCESS"]`).waitFor(SOON);
    await page.locator(`#latest tr[data-kind="walletTopUp"][data-key="${missedTopUp}"]`).waitFor(SOON);
    // Caught up through the stream's replay, not only through reading the lists again.
    const latest = (await t.graphql('{ latestEventId }', {}, { authorization: auth })).data.latestEventId as string;
    expect(BigInt(latest)).toBeGreaterThan(BigInt(lastSeen!));
    await expect.poll(() => page.locator('#status').getAttribute('data-last-event'), SOON).toBe(latest);
    await expect.poll(() => totals('state', 'pocketCharge', 'SUCCESS').getAttribute('data-count'), SOON).toBe('3');
    expect(await totals('state', 'pocketCharge', 'SUCCESS').getAttribute('data-amount')).toBe('33000');
    await expect.poll(() => totals('channel', 'walletTopUp', 'CARD').getAttribute('data-amount'), SOON).toBe('42500');

    // And it stays live on the new server.
    const after = await topUp(t, 500);
    await page.locator(`#latest tr[data-kind="walletTopUp"][data-key="${after}"]`).waitFor(SOON);

    expect(pageErrors).toEqual([]);
    mkdirSync('artifacts', { recursive: true });
    await page.screenshot({ path: 'artifacts/dashboard.png', fullPage: true });
  });
});
