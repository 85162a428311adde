/**
 * Ready-to-pay links: an admin makes one for a payer (name, mobile, optionally amount, text and
 * gateway); opening it creates the invoice and its payment and sends the browser to the gateway.
 * The link is bound to the invoice its first opening created, so opening it again (a refresh,
 * a second click) goes back to the same waiting payment instead of making new ones, and once
 * that invoice is paid (or refunded, or canceled) it shows the result: a link never makes a
 * second invoice. It expires (READY_TO_PAY_LINK_TTL_SECONDS, or the lifetime its admin chose):
 * past that it takes no new payment, and only still shows the result of one already made.
 */
import { hashSecret } from '../../auth/credentials.ts';
import { transact } from '../../deps.ts';
import { AppError, invalid, notFound } from '../../errors.ts';
import type { ReadyToPayLink } from '../../generated/prisma/client.ts';
import { secret } from '../../lib/ids.ts';
import type { GatewayName } from './gateways/types.ts';
import { isPayable, remainingAmount } from './model.ts';
import { insertInvoice, insertPayment, lockInvoice, newId, openAttempt, publicBaseUrl, type ServiceDeps } from './records.ts';
import { checkAmount, checkMobile, checkText, defaultMerchantId, MAX_DESCRIPTION } from './service.ts';

export interface CreateLinkInput {
  merchantId?: string | null;
  amount?: bigint | null;
  description?: string | null;
  userFullName: string;
  mobile: string;
  gateway?: GatewayName | null;
  /** Default READY_TO_PAY_LINK_TTL_SECONDS. */
  expiresInSeconds?: number | null;
}

export const MIN_LINK_LIFETIME_SECONDS = 60;
export const MAX_LINK_LIFETIME_SECONDS = 365 * 24 * 3600;

export interface CreatedLink {
  link: ReadyToPayLink;
  /** Shown once; only its digest is stored. */
  token: string;
  url: string;
}

export const readyToPayUrl = (deps: ServiceDeps, token: string): string =>
  `${publicBaseUrl(deps.config)}/payment/readyToPay?token=${encodeURIComponent(token)}`;

export async function createReadyToPayLink(deps: ServiceDeps, input: CreateLinkInput): Promise<CreatedLink> {
  const merchantId = input.merchantId ?? defaultMerchantId(deps.config);
  if (!merchantId) throw invalid('merchantId', 'merchantId is required: no default merchant is configured (INVOICES_MERCHANT_ID).');
  const mobile = checkMobile('mobile', input.mobile);
  if (!mobile) throw invalid('mobile', 'mobile is required.');
  const fields = {
    merchantId,
    amount: input.amount === null || input.amount === undefined ? null : checkAmount('amount', input.amount),
    description: input.description?.trim() ? checkText('description', input.description, MAX_DESCRIPTION) : null,
    userFullName: checkText('userFullName', input.userFullName, 255),
    mobile,
    gateway: input.gateway ?? null,
  };
  const lifetime = input.expiresInSeconds ?? deps.config.READY_TO_PAY_LINK_TTL_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime < MIN_LINK_LIFETIME_SECONDS || lifetime > MAX_LINK_LIFETIME_SECONDS) {
    throw invalid('expiresInSeconds', `expiresInSeconds is a whole number of seconds from ${MIN_LINK_LIFETIME_SECONDS} to ${MAX_LINK_LIFETIME_SECONDS}.`);
  }
  if (!(await deps.prisma.merchant.findUnique({ where: { id: merchantId } }))) throw notFound('Merchant');
  const token = secret('rtp');
  const now = deps.clock.now();
  const link = await deps.prisma.readyToPayLink.create({
    data: { id: newId(), tokenHash: hashSecret(token), ...fields, expiresAt: new Date(now.getTime() + lifetime * 1000), createdAt: now },
  });
  return { link, token, url: readyToPayUrl(deps, token) };
}

export type LinkOpening =
  | { kind: 'redirect'; url: string }
  | { kind: 'choose'; link: ReadyToPayLink; askAmount: boolean; askGateway: boolean; remaining: bigint | null }
  | { kind: 'closed'; paymentId: string | null; status: string }
  | { kind: 'expired'; expiresAt: Date };

/** Opens a link with the payer's choices (only asked when the link leaves them open). */
export async function openReadyToPayLink(
  deps: ServiceDeps,
  token: string,
  choice: { amount?: bigint; gateway?: GatewayName },
): Promise<LinkOpening> {
  return transact(deps, async (tx) => {
    const rows = await tx.$queryRawUnsafe<{ id: string }[]>(
      `SELECT id FROM invoice_ready_to_pay_links WHERE token_hash = $1 FOR UPDATE`,
      hashSecret(token),
    );
    if (!rows[0]) throw notFound('Ready-to-pay link');
    const link = await tx.readyToPayLink.findUniqueOrThrow({ where: { id: rows[0].id } });
    const now = deps.clock.now();
    const gateway = (link.gateway as GatewayName | null) ?? choice.gateway;
    let invoice = link.invoiceId ? await lockInvoice(tx, link.invoiceId) : null;
    const latest = invoice ? await tx.invoicePayment.findFirst({ where: { invoiceId: invoice.id }, orderBy: { createdAt: 'desc' } }) : null;
    if (invoice && !isPayable(invoice)) return { kind: 'closed', paymentId: latest?.id ?? null, status: invoice.status };
    if (link.expiresAt && now >= link.expiresAt) {
      // A payment already sent to the gateway still settles through its callback; the link starts none.
      return { kind: 'expired', expiresAt: link.expiresAt };
    }

    if (invoice) {
      const waiting = await tx.invoicePayment.findFirst({ where: { invoiceId: invoice.id, state: 'waiting' }, orderBy: { createdAt: 'desc' } });
      if (waiting && (!gateway || gateway === waiting.gateway)) return { kind: 'redirect', url: waiting.redirectUrl! };
      if (!gateway) return { kind: 'choose', link, askAmount: false, askGateway: true, remaining: remainingAmount(invoice) };
      if (waiting && remainingAmount(invoice) >= waiting.amount) {
        const { payment } = await openAttempt(tx, deps, waiting, gateway, now);
        return { kind: 'redirect', url: payment.redirectUrl! };
      }
    }

    const amount = invoice ? remainingAmount(invoice) : (link.amount ?? choice.amount);
    if (!gateway || amount === undefined) {
      return { kind: 'choose', link, askAmount: amount === undefined, askGateway: !gateway, remaining: null };
    }
    if (!invoice) {
      invoice = await insertInvoice(
        tx,
        link.merchantId,
        {
          title: link.description ?? `Payment by ${link.userFullName}`.slice(0, 255),
          totalAmount: checkAmount('amount', amount),
          mobile: link.mobile,
          email: null,
        },
        now,
      );
      await tx.readyToPayLink.update({ where: { id: link.id }, data: { invoiceId: invoice.id } });
    }
    const created = await insertPayment(
      tx,
      invoice,
      { gateway, amount, description: invoice.title.slice(0, MAX_DESCRIPTION), mobile: link.mobile, email: null },
      now,
    );
    const { payment } = await openAttempt(tx, deps, created, gateway, now);
    return { kind: 'redirect', url: payment.redirectUrl! };
  });
}
