/**
 * The few HTML pages a payer's browser sees: the result page gateways' callbacks end on, the
 * ready-to-pay link's choice form, and error pages for those browser routes.
 */
import type { Invoice, InvoicePayment, ReadyToPayLink } from '../../generated/prisma/client.ts';
import { GATEWAYS } from './model.ts';
import { escapeHtml, htmlPage } from '../../http/html.ts';

const formatRials = (amount: bigint): string => `${amount.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')} IRR (rials)`;

const outcomes: Record<string, { text: string; tone: 'ok' | 'bad' | 'wait' }> = {
  verified: { text: 'Payment confirmed', tone: 'ok' },
  refunded: { text: 'Payment refunded', tone: 'ok' },
  waiting: { text: 'Waiting for the gateway to confirm the payment…', tone: 'wait' },
  created: { text: 'Payment not started', tone: 'wait' },
  failed: { text: 'Payment failed', tone: 'bad' },
  canceled: { text: 'Payment canceled', tone: 'bad' },
  expired: { text: 'Payment expired', tone: 'bad' },
};

/** The outcome of a payment, as the payer sees it after the gateway sent them back. */
export function resultPage(payment: InvoicePayment, invoice: Invoice): string {
  const outcome = outcomes[payment.state] ?? { text: payment.state, tone: 'wait' as const };
  const details = [
    `<p class="outcome ${outcome.tone}" data-status="${escapeHtml(payment.state)}">${escapeHtml(outcome.text)}</p>`,
    `<p>${escapeHtml(invoice.title)}</p>`,
    `<p>Amount: <strong>${formatRials(payment.amount)}</strong> through ${escapeHtml(payment.gateway)}</p>`,
    payment.refId ? `<p>Reference: <strong>${escapeHtml(payment.refId)}</strong></p>` : '',
    payment.state === 'failed' && payment.reason === 'overpayment'
      ? '<p>The invoice was already paid; the gateway returns this payment to you.</p>'
      : '',
    payment.state === 'failed' && payment.reason === 'amount_mismatch'
      ? '<p>The amount paid did not match the amount requested; the gateway returns it to you.</p>'
      : '',
    payment.state === 'waiting' ? '<p>This page refreshes by itself.</p>' : '',
  ];
  return htmlPage('Payment result', details.filter(Boolean).join('\n'), payment.state === 'waiting' ? { refreshSeconds: 5 } : {});
}

export function messagePage(title: string, message: string): string {
  return htmlPage(title, `<p class="outcome bad">${escapeHtml(message)}</p>`);
}

/** Asks the payer for what a ready-to-pay link leaves open: the amount, the gateway, or both. */
export function choosePage(link: ReadyToPayLink, token: string, ask: { amount: boolean; gateway: boolean; remaining: bigint | null }): string {
  const fields = [
    `<input type="hidden" name="token" value="${escapeHtml(token)}">`,
    ask.amount
      ? '<p><label>Amount in IRR rials (not tomans): <input name="amount" inputmode="numeric" pattern="[0-9]+" required></label></p>'
      : `<p>Amount: <strong>${formatRials(ask.remaining ?? link.amount ?? 0n)}</strong></p>`,
    ask.gateway
      ? `<p>Pay with: ${GATEWAYS.map((g, i) => `<label><input type="radio" name="gateway" value="${g}"${i === 0 ? ' checked' : ''}> ${g}</label>`).join(' ')}</p>`
      : '',
    '<p><button type="submit">Pay</button></p>',
  ];
  const intro = `<p>${escapeHtml(link.description ?? `Payment by ${link.userFullName}`)}</p>`;
  return htmlPage('Pay', `${intro}\n<form method="get" action="/payment/readyToPay">\n${fields.filter(Boolean).join('\n')}\n</form>`);
}
