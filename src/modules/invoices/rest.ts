/**
 * The legacy invoice API (seed 002), on its original paths, plus the gateway callback routes and
 * the payer's result page. The document gives no response bodies; the ones here are published in
 * /openapi.json and kept stable (see docs/invoices.md). Amounts are JSON integers in IRR rials.
 *
 * Authentication: the document has none, and its clients (a merchant's own backend) send no
 * credentials, so requests without an Authorization header act for the configured merchant
 * (INVOICES_MERCHANT_ID, the demo merchant in demo mode) unless INVOICES_REQUIRE_CREDENTIALS is
 * on; a request that carries merchant credentials acts for that merchant. The admin routes always
 * need an operator credential.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import { requireMerchant, requireOperator } from '../../auth/principal.ts';
import type { Db } from '../../db/database.ts';
import type { Deps } from '../../deps.ts';
import { AccessError, AppError, errorStatus, type ErrorCode } from '../../errors.ts';
import type { Invoice, InvoicePayment } from '../../generated/prisma/client.ts';
import type { HttpEnv } from '../../http/rest.ts';
import { headerKey } from '../../idempotency/idempotency.ts';
import type { GatewayName } from './gateways/types.ts';
import { createReadyToPayLink, openReadyToPayLink } from './links.ts';
import { CURRENCY, GATEWAYS, INVOICE_STATUSES, PAYMENT_STATES, remainingAmount } from './model.ts';
import { choosePage, messagePage, resultPage } from './pages.ts';
import { resultPageUrl } from './records.ts';
import {
  createInvoice,
  defaultMerchantId,
  findInvoice,
  findPayment,
  paymentsStatus,
  requestPayment,
  startWaiting,
  waitingPayments,
  type StatusRow,
} from './service.ts';
import { refundPayment } from './refunds.ts';
import { handleCallback } from './settlement.ts';

// ---- Wire shapes ----------------------------------------------------------------------------

/** Amounts are bounded by 2^53-1 on input, so they travel as exact JSON integers. */
function jsonAmount(amount: bigint): number {
  if (amount > BigInt(Number.MAX_SAFE_INTEGER) || amount < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new Error(`amount ${amount} does not fit a JSON integer`);
  }
  return Number(amount);
}

const Amount = z
  .number({ error: 'must be a whole number of IRR rials' })
  .int('must be a whole number of IRR rials')
  .positive('must be positive')
  .max(Number.MAX_SAFE_INTEGER, 'is too large')
  .openapi({ description: 'IRR rials (not tomans).', example: 150000 });
const AmountOut = z.number().int().openapi({ description: 'IRR rials (not tomans).', example: 150000 });
const Gateway = z.enum(GATEWAYS, { error: `must be one of: ${GATEWAYS.join(', ')}` }).openapi({ example: 'zarinpal' });
const Id = z.string().max(100).openapi({ example: '0f8fad5b-d9cb-469f-a165-70867728950e' });
const NullableText = z.string().max(1000).nullable().optional();

const ErrorBody = z
  .object({
    error: z.string().openapi({ description: 'A stable code, the same as the GraphQL ErrorCode.', example: 'VALIDATION_FAILED' }),
    message: z.string(),
    field: z.string().optional().openapi({ description: 'The input field at fault, for validation errors.' }),
  })
  .openapi('InvoicesError');

const Transition = z.object({
  from: z.enum(PAYMENT_STATES).nullable(),
  to: z.enum(PAYMENT_STATES),
  reason: z.string(),
  at: z.string().openapi({ format: 'date-time' }),
});

const Refund = z.object({
  refundId: z.string(),
  amount: AmountOut,
  status: z.enum(['pending', 'refunded', 'failed']).openapi({
    description:
      'pending: asked of the gateway, outcome not known yet (nothing moved; never asked blindly again); refunded: confirmed; failed: refused, nothing moved.',
  }),
  reference: z.string().nullable().openapi({ description: "The gateway's tracking reference, when it gives one." }),
  note: z.string().nullable().openapi({ description: 'Why it is pending or failed.' }),
  resolvedBy: z.enum(['gateway', 'reconciliation', 'operator']).nullable(),
  resolvedAt: z.string().nullable().openapi({ format: 'date-time' }),
  createdAt: z.string().openapi({ format: 'date-time' }),
});

const PaymentView = z
  .object({
    paymentId: z.string(),
    invoiceId: z.string(),
    gateway: z.enum(GATEWAYS),
    amount: AmountOut,
    currency: z.literal(CURRENCY),
    description: z.string(),
    mobile: z.string().nullable(),
    email: z.string().nullable(),
    status: z.enum(PAYMENT_STATES),
    reason: z.string().nullable().openapi({ description: 'Why the payment reached its status, e.g. overpayment.' }),
    authority: z.string().nullable().openapi({ description: "The gateway's Authority (zarinpal) or token (shepa)." }),
    redirectUrl: z.string().nullable().openapi({ description: "Where to send the payer's browser (GET)." }),
    refId: z.string().nullable().openapi({ description: "The gateway's reference once verified." }),
    cardPan: z.string().nullable(),
    refundedAmount: AmountOut.openapi({ description: 'Refunds the gateway confirmed, IRR rials.' }),
    refundPendingAmount: AmountOut.openapi({ description: 'A refund asked of the gateway whose outcome is not known yet, IRR rials.' }),
    note: z.string().nullable().openapi({ description: 'The last trouble with the gateway, left for reconciliation.' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
    waitingSince: z.string().nullable().openapi({ format: 'date-time' }),
    verifiedAt: z.string().nullable().openapi({ format: 'date-time' }),
    history: z.array(Transition),
    refunds: z.array(Refund),
  })
  .openapi('Payment');

const InvoiceView = z
  .object({
    invoiceId: z.string(),
    title: z.string(),
    totalAmount: AmountOut,
    currency: z.literal(CURRENCY),
    mobile: z.string().nullable(),
    email: z.string().nullable(),
    status: z.enum(INVOICE_STATUSES),
    paidAmount: AmountOut,
    refundedAmount: AmountOut,
    remainingAmount: AmountOut,
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
    canceledAt: z.string().nullable().openapi({ format: 'date-time' }),
    payments: z.array(PaymentView),
  })
  .openapi('Invoice');

const Totals = z.object({ count: z.number().int(), amount: AmountOut, refundedAmount: AmountOut });
const ByStatus = z.object(Object.fromEntries(PAYMENT_STATES.map((s) => [s, Totals])) as Record<(typeof PAYMENT_STATES)[number], typeof Totals>);
const PaymentsStatusView = z
  .object({
    merchantId: z.string().nullable(),
    currency: z.literal(CURRENCY),
    total: Totals,
    byStatus: ByStatus,
    byGateway: z.object({
      zarinpal: Totals.extend({ byStatus: ByStatus }),
      shepa: Totals.extend({ byStatus: ByStatus }),
    }),
  })
  .openapi('PaymentsStatus');

const LinkView = z
  .object({
    token: z.string(),
    url: z.string().openapi({ description: 'GET /payment/readyToPay?token=…: give it to the payer.' }),
    merchantId: z.string(),
    amount: AmountOut.nullable(),
    description: z.string().nullable(),
    userFullName: z.string(),
    mobile: z.string(),
    readyToPayGateway: z.enum(GATEWAYS).nullable(),
    invoiceId: z.string().nullable(),
    expiresAt: z.string().openapi({ format: 'date-time', description: 'Past it the link takes no payment (410).' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('ReadyToPayLink');

const iso = (date: Date | null): string | null => date?.toISOString() ?? null;

async function paymentView(db: Db, payment: InvoicePayment): Promise<z.infer<typeof PaymentView>> {
  const [history, refunds] = await Promise.all([
    db.invoicePaymentTransition.findMany({ where: { paymentId: payment.id }, orderBy: { id: 'asc' } }),
    db.invoicePaymentRefund.findMany({ where: { paymentId: payment.id }, orderBy: { createdAt: 'asc' } }),
  ]);
  return {
    paymentId: payment.id,
    invoiceId: payment.invoiceId,
    gateway: payment.gateway as GatewayName,
    amount: jsonAmount(payment.amount),
    currency: CURRENCY,
    description: payment.description,
    mobile: payment.mobile,
    email: payment.email,
    status: payment.state as (typeof PAYMENT_STATES)[number],
    reason: payment.reason,
    authority: payment.authority,
    redirectUrl: payment.redirectUrl,
    refId: payment.refId,
    cardPan: payment.cardPan,
    refundedAmount: jsonAmount(payment.refundedAmount),
    refundPendingAmount: jsonAmount(payment.refundPendingAmount),
    note: payment.note,
    createdAt: payment.createdAt.toISOString(),
    updatedAt: payment.updatedAt.toISOString(),
    waitingSince: iso(payment.waitingSince),
    verifiedAt: iso(payment.verifiedAt),
    history: history.map((t) => ({
      from: t.from as (typeof PAYMENT_STATES)[number] | null,
      to: t.to as (typeof PAYMENT_STATES)[number],
      reason: t.reason,
      at: t.at.toISOString(),
    })),
    refunds: refunds.map((r) => ({
      refundId: r.id,
      amount: jsonAmount(r.amount),
      status: r.status as 'pending' | 'refunded' | 'failed',
      reference: r.reference,
      note: r.note,
      resolvedBy: r.resolvedBy as 'gateway' | 'reconciliation' | 'operator' | null,
      resolvedAt: iso(r.resolvedAt),
      createdAt: r.createdAt.toISOString(),
    })),
  };
}

async function invoiceView(db: Db, invoice: Invoice): Promise<z.infer<typeof InvoiceView>> {
  const payments = await db.invoicePayment.findMany({ where: { invoiceId: invoice.id }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  return {
    invoiceId: invoice.id,
    title: invoice.title,
    totalAmount: jsonAmount(invoice.totalAmount),
    currency: CURRENCY,
    mobile: invoice.mobile,
    email: invoice.email,
    status: invoice.status as (typeof INVOICE_STATUSES)[number],
    paidAmount: jsonAmount(invoice.paidAmount),
    refundedAmount: jsonAmount(invoice.refundedAmount),
    remainingAmount: jsonAmount(remainingAmount(invoice)),
    createdAt: invoice.createdAt.toISOString(),
    updatedAt: invoice.updatedAt.toISOString(),
    canceledAt: iso(invoice.canceledAt),
    payments: await Promise.all(payments.map((payment) => paymentView(db, payment))),
  };
}

function statusView(merchantId: string | null, rows: StatusRow[]): z.infer<typeof PaymentsStatusView> {
  const totals = (selected: StatusRow[]) => ({
    count: selected.reduce((sum, row) => sum + row.count, 0),
    amount: jsonAmount(selected.reduce((sum, row) => sum + row.amount, 0n)),
    refundedAmount: jsonAmount(selected.reduce((sum, row) => sum + row.refundedAmount, 0n)),
  });
  const byStatus = (selected: StatusRow[]) =>
    Object.fromEntries(PAYMENT_STATES.map((status) => [status, totals(selected.filter((row) => row.status === status))])) as z.infer<
      typeof ByStatus
    >;
  const gateway = (name: GatewayName) => {
    const selected = rows.filter((row) => row.gateway === name);
    return { ...totals(selected), byStatus: byStatus(selected) };
  };
  return { merchantId, currency: CURRENCY, total: totals(rows), byStatus: byStatus(rows), byGateway: { zarinpal: gateway('zarinpal'), shepa: gateway('shepa') } };
}

// ---- Errors ---------------------------------------------------------------------------------

/** The one table from error codes to this API's HTTP statuses (the platform's, unchanged). */
const legacyStatus = (code: ErrorCode): ContentfulStatusCode => errorStatus[code] as ContentfulStatusCode;

function validationFailure(error: ZodError): { error: ErrorCode; message: string; field: string } {
  const issue = error.issues[0];
  const keys = issue?.code === 'unrecognized_keys' ? (issue as { keys: string[] }).keys : [];
  const field = keys[0] ?? (issue?.path.length ? issue.path.join('.') : 'body');
  const message = keys.length ? `Unknown field: ${keys.join(', ')}.` : `${field}: ${issue?.message ?? 'invalid'}.`;
  return { error: 'VALIDATION_FAILED', message, field };
}

function errorResponse(c: Context<HttpEnv>, error: unknown): Response {
  if (error instanceof AppError || error instanceof AccessError) {
    const field = error instanceof AppError && error.field ? { field: error.field } : {};
    return c.json({ error: error.code, message: error.message, ...field }, legacyStatus(error.code));
  }
  if (error instanceof HTTPException && error.status !== 500) {
    const status = error.status === 400 ? 400 : (error.status as ContentfulStatusCode);
    return c.json({ error: 'VALIDATION_FAILED', message: error.message || 'The request is malformed.', field: 'body' }, status);
  }
  c.get('logger')?.error({ err: error }, 'unexpected error in an invoice route');
  return c.json({ error: 'INTERNAL', message: 'Unexpected error.' }, 500);
}

/** Browser routes (callbacks, result page, ready-to-pay) answer errors as HTML pages. */
function errorPage(c: Context<HttpEnv>, error: unknown): Response {
  if (error instanceof AppError) {
    const status = legacyStatus(error.code);
    const title = error.code === 'NOT_FOUND' ? 'Not found' : 'Payment not possible';
    return c.html(messagePage(title, error.message), status);
  }
  c.get('logger')?.error({ err: error }, 'unexpected error in an invoice browser route');
  return c.html(messagePage('Something went wrong', 'Unexpected error; please try again later.'), 500);
}

// ---- Routes ---------------------------------------------------------------------------------

const jsonBody = <T extends z.ZodType>(schema: T) => ({ content: { 'application/json': { schema } }, required: true });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });
const errors = {
  400: json(ErrorBody, 'Invalid input; `field` names it'),
  401: json(ErrorBody, 'Credentials missing or invalid'),
  404: json(ErrorBody, 'Unknown (or another merchant’s) invoice or payment'),
};
const gatewayErrors = {
  409: json(ErrorBody, 'The invoice or payment is not in a state that allows it'),
  422: json(ErrorBody, 'The merchant has no credentials for that gateway'),
  502: json(ErrorBody, 'The gateway refused'),
  503: json(ErrorBody, 'The gateway did not answer'),
};
const tags = ['invoices'];

const routes = {
  createInvoice: createRoute({
    method: 'post',
    path: '/invoice/create',
    tags,
    summary: 'Create an invoice (IRR rials)',
    request: {
      body: jsonBody(
        z
          .object({ totalAmount: Amount, title: z.string().max(255), mobile: NullableText, email: NullableText })
          .strict()
          .openapi('CreateInvoiceRequest'),
      ),
    },
    responses: { 200: json(InvoiceView, 'The invoice'), ...errors },
  }),
  getInfo: createRoute({
    method: 'get',
    path: '/invoice/getInfo',
    tags,
    summary: 'An invoice with its payments',
    request: { query: z.object({ invoiceId: Id }).strict() },
    responses: { 200: json(InvoiceView, 'The invoice'), ...errors },
  }),
  waitingPayments: createRoute({
    method: 'post',
    path: '/invoice/getWaitingPayments',
    tags,
    summary: "An invoice's payments waiting at a gateway",
    request: { body: jsonBody(z.object({ invoiceId: Id }).strict().openapi('GetWaitingPaymentsRequest')) },
    responses: {
      200: json(z.object({ invoiceId: z.string(), payments: z.array(PaymentView) }).openapi('WaitingPayments'), 'Waiting payments, oldest first'),
      ...errors,
    },
  }),
  requestPayment: createRoute({
    method: 'post',
    path: '/payment/request',
    tags,
    summary: 'Request a payment of (part of) an invoice; answers the gateway redirect URL',
    request: {
      body: jsonBody(
        z
          .object({
            invoiceId: Id,
            gateway: Gateway.nullable().openapi({ description: 'null: zarinpal.' }),
            amount: Amount,
            description: NullableText,
            mobile: NullableText,
            email: NullableText,
          })
          .strict()
          .openapi('PaymentRequest'),
      ),
    },
    responses: { 200: json(PaymentView, 'The payment, waiting; send the payer to redirectUrl'), ...errors, ...gatewayErrors },
  }),
  paymentStatus: createRoute({
    method: 'get',
    path: '/payment/status',
    tags,
    summary: 'A payment, with its history',
    request: { query: z.object({ paymentId: Id }).strict() },
    responses: { 200: json(PaymentView, 'The payment'), ...errors },
  }),
  refund: createRoute({
    method: 'post',
    path: '/payment/refund',
    tags,
    summary: 'Refund a verified payment in full, through its gateway',
    description:
      'The refund is recorded as pending before the gateway is asked. 200: the gateway confirmed it. 202: the gateway did not answer; the refund stays pending (refunds[].status) and nothing moved; repeating this request asks the gateway what happened (zarinpal) instead of refunding again, and a refund shepa cannot be asked about is settled by an operator.',
    request: {
      body: jsonBody(
        z
          .object({ authority: z.string().min(1).max(255), invoiceId: Id })
          .strict()
          .openapi('RefundRequest'),
      ),
    },
    responses: {
      200: json(PaymentView, 'The refunded payment'),
      202: json(PaymentView, 'The refund is pending at the gateway (see refunds[].status)'),
      ...errors,
      ...gatewayErrors,
    },
  }),
  startWaiting: createRoute({
    method: 'post',
    path: '/payment/startWaiting',
    tags,
    summary: 'Send a waiting payment to a gateway again (the same or the other one) for a fresh redirect',
    request: { body: jsonBody(z.object({ paymentId: Id, gateway: Gateway }).strict().openapi('StartWaitingRequest')) },
    responses: { 200: json(PaymentView, 'The payment, waiting; send the payer to redirectUrl'), ...errors, ...gatewayErrors },
  }),
  readyToPay: createRoute({
    method: 'get',
    path: '/payment/readyToPay',
    tags,
    summary: 'Open a ready-to-pay link: creates the invoice and payment, then 302 to the gateway',
    description:
      'A link makes one invoice: opening it again goes back to the same waiting payment, and once its invoice is paid (or refunded, or canceled) to the result page; it never makes a second invoice. Past its expiresAt it answers 410 unless its invoice is already settled.',
    request: {
      query: z
        .object({
          token: z.string().min(1).max(200),
          amount: z.string().regex(/^\d{1,15}$/, 'must be a whole number of IRR rials').optional().openapi({
            description: 'Only when the link leaves the amount to the payer (IRR rials).',
          }),
          gateway: Gateway.optional().openapi({ description: 'Only when the link leaves the gateway to the payer.' }),
        })
        .strict(),
    },
    responses: {
      302: { description: 'To the gateway’s payment page (or the result page once paid)' },
      200: { content: { 'text/html': { schema: z.string() } }, description: 'A form asking what the link leaves open' },
      400: { content: { 'text/html': { schema: z.string() } }, description: 'A malformed query (amount, gateway or an unknown parameter)' },
      404: { content: { 'text/html': { schema: z.string() } }, description: 'Unknown link' },
      410: {
        content: { 'text/html': { schema: z.string() } },
        description: 'The link expired (expiresAt) before its invoice was paid: it creates nothing and sends nobody to a gateway',
      },
    },
  }),
  callback: createRoute({
    method: 'get',
    path: '/payment/callback/{gateway}',
    tags,
    summary: 'Where a gateway sends the payer back (zarinpal: Authority, Status; shepa: token, status)',
    description:
      'Registered with the gateway as callback_url with our paymentId. The payment is then verified server-to-server; the payer is redirected to the result page.',
    request: {
      params: z.object({ gateway: Gateway }),
      query: z.object({ paymentId: z.string().optional() }).passthrough(),
    },
    responses: {
      302: { description: 'To /payment/result?paymentId=…' },
      400: { content: { 'text/html': { schema: z.string() } }, description: 'Not a callback of this payment' },
      404: { content: { 'text/html': { schema: z.string() } }, description: 'Unknown payment' },
    },
  }),
  result: createRoute({
    method: 'get',
    path: '/payment/result',
    tags,
    summary: "The payer's result page (HTML)",
    request: { query: z.object({ paymentId: z.string() }).strict() },
    responses: {
      200: { content: { 'text/html': { schema: z.string() } }, description: 'The outcome of the payment' },
      404: { content: { 'text/html': { schema: z.string() } }, description: 'Unknown payment' },
    },
  }),
  readyToPayLink: createRoute({
    method: 'post',
    path: '/admin/payment/getReadyToPayLink',
    tags: ['invoices admin'],
    summary: 'Create a ready-to-pay link (operator credential)',
    request: {
      body: jsonBody(
        z
          .object({
            amount: Amount.nullable().optional().openapi({ description: 'IRR rials; omitted: the payer enters it.' }),
            description: NullableText,
            userFullName: z.string().max(255),
            mobile: z.string().max(32),
            readyToPayGateway: Gateway.nullable().optional().openapi({ description: 'Omitted: the payer chooses.' }),
            merchantId: z.string().max(100).optional().openapi({ description: 'Extension: the merchant; default INVOICES_MERCHANT_ID.' }),
            expiresInSeconds: z
              .number()
              .int('must be a whole number of seconds')
              .min(60)
              .max(365 * 24 * 3600)
              .optional()
              .openapi({ description: "Extension: the link's lifetime; default READY_TO_PAY_LINK_TTL_SECONDS (7 days)." }),
          })
          .strict()
          .openapi('ReadyToPayLinkRequest'),
      ),
    },
    responses: {
      200: json(LinkView, 'The link'),
      400: errors[400],
      401: errors[401],
      403: json(ErrorBody, 'Not an operator credential'),
      404: json(ErrorBody, 'Unknown merchant'),
    },
  }),
  allPaymentsStatus: createRoute({
    method: 'get',
    path: '/admin/payment/allPaymentsStatus',
    tags: ['invoices admin'],
    summary: 'Counts and sums of payments per status and gateway (operator credential)',
    request: { query: z.object({ merchantId: z.string().max(100).optional().openapi({ description: 'Extension: one merchant only.' }) }).strict() },
    responses: { 200: json(PaymentsStatusView, 'Counts and sums'), 400: errors[400], 401: errors[401], 403: json(ErrorBody, 'Not an operator credential') },
  }),
};

export function invoiceRoutes(deps: Deps): OpenAPIHono<HttpEnv> {
  const app = new OpenAPIHono<HttpEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return c.json(validationFailure(result.error), 400);
    },
  });
  app.onError((error, c) => errorResponse(c, error));

  const authorization = (c: Context<HttpEnv>) => c.req.header('authorization') ?? null;
  const idempotencyKey = (c: Context<HttpEnv>) => headerKey(c.req.header('idempotency-key'));

  /** The merchant a legacy request acts for; see the module comment. */
  async function merchantOf(c: Context<HttpEnv>): Promise<string> {
    const header = authorization(c);
    if (header) return requireMerchant(await deps.auth.authenticate(header), { scope: 'invoices' }).merchantId;
    if (deps.config.INVOICES_REQUIRE_CREDENTIALS) {
      throw new AccessError('UNAUTHENTICATED', 'This server requires merchant credentials on the invoice API.');
    }
    const merchantId = defaultMerchantId(deps.config);
    if (!merchantId || !(await deps.prisma.merchant.findUnique({ where: { id: merchantId }, select: { id: true } }))) {
      throw new AccessError('UNAUTHENTICATED', 'Send merchant credentials: no merchant is configured for requests without them.');
    }
    return merchantId;
  }

  async function requireAdmin(c: Context<HttpEnv>): Promise<void> {
    const header = authorization(c);
    requireOperator(header ? await deps.auth.authenticate(header) : null);
  }

  app.openapi(routes.createInvoice, async (c) => {
    const merchantId = await merchantOf(c);
    const body = c.req.valid('json');
    const { value: invoice } = await createInvoice(
      deps,
      merchantId,
      { title: body.title, totalAmount: BigInt(body.totalAmount), mobile: body.mobile ?? null, email: body.email ?? null },
      idempotencyKey(c),
    );
    return c.json(await invoiceView(deps.prisma, invoice), 200);
  });

  app.openapi(routes.getInfo, async (c) => {
    const merchantId = await merchantOf(c);
    const invoice = await findInvoice(deps.prisma, merchantId, c.req.valid('query').invoiceId);
    if (!invoice) throw new AppError('NOT_FOUND', 'Invoice not found.');
    return c.json(await invoiceView(deps.prisma, invoice), 200);
  });

  app.openapi(routes.waitingPayments, async (c) => {
    const merchantId = await merchantOf(c);
    const { invoiceId } = c.req.valid('json');
    const payments = await waitingPayments(deps.prisma, merchantId, invoiceId);
    if (!payments) throw new AppError('NOT_FOUND', 'Invoice not found.');
    return c.json({ invoiceId, payments: await Promise.all(payments.map((p) => paymentView(deps.prisma, p))) }, 200);
  });

  app.openapi(routes.requestPayment, async (c) => {
    const merchantId = await merchantOf(c);
    const body = c.req.valid('json');
    const { value: payment } = await requestPayment(
      deps,
      merchantId,
      {
        invoiceId: body.invoiceId,
        gateway: body.gateway ?? 'zarinpal',
        amount: BigInt(body.amount),
        description: body.description ?? null,
        mobile: body.mobile ?? null,
        email: body.email ?? null,
      },
      idempotencyKey(c),
    );
    return c.json(await paymentView(deps.prisma, payment), 200);
  });

  app.openapi(routes.paymentStatus, async (c) => {
    const merchantId = await merchantOf(c);
    const payment = await findPayment(deps.prisma, merchantId, c.req.valid('query').paymentId);
    if (!payment) throw new AppError('NOT_FOUND', 'Payment not found.');
    return c.json(await paymentView(deps.prisma, payment), 200);
  });

  app.openapi(routes.refund, async (c) => {
    const merchantId = await merchantOf(c);
    const { authority, invoiceId } = c.req.valid('json');
    const { payment, refund } = await refundPayment(deps, merchantId, { invoiceId, authority }, null, idempotencyKey(c));
    const view = await paymentView(deps.prisma, payment);
    return refund.status === 'pending' ? c.json(view, 202) : c.json(view, 200);
  });

  app.openapi(routes.startWaiting, async (c) => {
    const merchantId = await merchantOf(c);
    const body = c.req.valid('json');
    const { value: payment } = await startWaiting(deps, merchantId, body, idempotencyKey(c));
    return c.json(await paymentView(deps.prisma, payment), 200);
  });

  app.openapi(
    routes.readyToPay,
    async (c) => {
      const { token, amount, gateway } = c.req.valid('query');
      try {
        const opening = await openReadyToPayLink(deps, token, {
          ...(amount ? { amount: BigInt(amount) } : {}),
          ...(gateway ? { gateway } : {}),
        });
        if (opening.kind === 'redirect') return c.redirect(opening.url, 302);
        if (opening.kind === 'expired') {
          return c.html(
            messagePage('Link expired', `This payment link expired at ${opening.expiresAt.toISOString()} (UTC) and takes no more payments; ask for a new one.`),
            410,
          );
        }
        if (opening.kind === 'closed') {
          if (opening.paymentId) return c.redirect(resultPageUrl(deps.config, opening.paymentId), 302);
          return c.html(messagePage('Nothing to pay', `This invoice is ${opening.status.replace('_', ' ')}.`), 200);
        }
        return c.html(choosePage(opening.link, token, { amount: opening.askAmount, gateway: opening.askGateway, remaining: opening.remaining }), 200);
      } catch (error) {
        return errorPage(c, error);
      }
    },
    (result, c) => {
      if (!result.success) {
        const { message } = validationFailure(result.error);
        return c.html(messagePage('Invalid link', message), 400);
      }
    },
  );

  app.openapi(routes.callback, async (c) => {
    const { gateway } = c.req.valid('param');
    try {
      const outcome = await handleCallback(deps, gateway, new URL(c.req.url).searchParams);
      if (outcome.kind === 'unknown_payment') return c.html(messagePage('Not found', 'This payment does not exist.'), 404);
      if (outcome.kind === 'malformed') return c.html(messagePage('Invalid callback', `This is not a callback of ${gateway}.`), 400);
      if (outcome.kind === 'mismatch') return c.html(messagePage('Invalid callback', 'This callback does not belong to this payment.'), 400);
      c.header('cache-control', 'no-store');
      return c.redirect(resultPageUrl(deps.config, outcome.paymentId), 302);
    } catch (error) {
      return errorPage(c, error);
    }
  });

  app.openapi(
    routes.result,
    async (c) => {
      const { paymentId } = c.req.valid('query');
      const payment = await deps.prisma.invoicePayment.findUnique({ where: { id: paymentId }, include: { invoice: true } });
      if (!payment) return c.html(messagePage('Not found', 'This payment does not exist.'), 404);
      c.header('cache-control', 'no-store');
      return c.html(resultPage(payment, payment.invoice), 200);
    },
    (result, c) => {
      if (!result.success) return c.html(messagePage('Not found', 'This payment does not exist.'), 404);
    },
  );

  app.openapi(routes.readyToPayLink, async (c) => {
    await requireAdmin(c);
    const body = c.req.valid('json');
    const { link, token, url } = await createReadyToPayLink(deps, {
      merchantId: body.merchantId ?? null,
      amount: body.amount === null || body.amount === undefined ? null : BigInt(body.amount),
      description: body.description ?? null,
      userFullName: body.userFullName,
      mobile: body.mobile,
      gateway: body.readyToPayGateway ?? null,
      expiresInSeconds: body.expiresInSeconds ?? null,
    });
    return c.json(
      {
        token,
        url,
        merchantId: link.merchantId,
        amount: link.amount === null ? null : jsonAmount(link.amount),
        description: link.description,
        userFullName: link.userFullName,
        mobile: link.mobile,
        readyToPayGateway: link.gateway as GatewayName | null,
        invoiceId: link.invoiceId,
        expiresAt: link.expiresAt!.toISOString(),
        createdAt: link.createdAt.toISOString(),
      },
      200,
    );
  });

  app.openapi(routes.allPaymentsStatus, async (c) => {
    await requireAdmin(c);
    const merchantId = c.req.valid('query').merchantId ?? null;
    return c.json(statusView(merchantId, await paymentsStatus(deps.prisma, merchantId)), 200);
  });

  return app;
}
