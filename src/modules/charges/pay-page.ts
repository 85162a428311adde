/**
 * The payment link's page (`/vpos?billing=<token>`): the charge, its installments, and a form
 * to pay the next one (or another unpaid one) with a card. In this project the card processor
 * is the sandbox, so the form takes a sandbox card token instead of card data.
 */
import { formatBrazilianDate } from './dates.ts';
import type { ChargeRecord } from './legacy-json.ts';
import { fromDbDate, remainingOf } from './model.ts';
import { formatBrlAmount } from './money.ts';
import { escapeHtml, htmlPage } from '../../http/html.ts';

const reais = (centavos: bigint) => `R$ ${formatBrlAmount(centavos).replace('.', ',')}`;

const STATUS_TEXT: Record<string, string> = { pending: 'Open', overdue: 'Overdue', paid: 'Paid', canceled: 'Canceled' };

export interface Notice {
  tone: 'ok' | 'bad';
  text: string;
}

export function chargePage(charge: ChargeRecord, notice: Notice | null = null): string {
  const unpaid = charge.installments.filter((installment) => installment.status === 'pending' || installment.status === 'overdue');
  const rows = charge.installments
    .map(
      (installment) =>
        `<tr data-number="${installment.number}" data-status="${installment.status}"><td>${installment.number}</td>` +
        `<td>${formatBrazilianDate(fromDbDate(installment.dueDate))}</td><td>${reais(installment.amount)}</td>` +
        `<td>${escapeHtml(STATUS_TEXT[installment.status] ?? installment.status)}</td></tr>`,
    )
    .join('\n');
  const choices = unpaid
    .map(
      (installment, index) =>
        `<label><input type="radio" name="installment" value="${installment.number}"${index === 0 ? ' checked' : ''}> ` +
        `#${installment.number}: ${reais(remainingOf(installment))}, due ${formatBrazilianDate(fromDbDate(installment.dueDate))}</label><br>`,
    )
    .join('\n');
  const form =
    charge.isActive && unpaid.length > 0
      ? `<form method="post" action="/vpos">
<input type="hidden" name="billing" value="${escapeHtml(charge.paymentToken)}">
<p>${choices}</p>
<p><label>Card token (sandbox: a token ending in 0002 is declined, 0003 fails): <input name="card_token" required pattern="[A-Za-z0-9_-]{1,100}"></label></p>
${charge.autoDebit ? '<p>This charge is debited automatically: the card you pay with is kept for its next installments.</p>' : ''}
<p><button type="submit">Pay</button></p>
</form>`
      : `<p>${charge.isActive ? 'Nothing is left to pay.' : 'This charge is no longer active.'}</p>`;
  const body = [
    notice ? `<p class="notice ${notice.tone}">${escapeHtml(notice.text)}</p>` : '',
    `<p>${escapeHtml(charge.description)}</p>`,
    `<p>Customer: ${escapeHtml(charge.customer.name)}</p>`,
    `<table><thead><tr><th>#</th><th>Due</th><th>Amount</th><th>Status</th></tr></thead><tbody>\n${rows}\n</tbody></table>`,
    form,
  ];
  return htmlPage('Pay your charge', body.filter(Boolean).join('\n'));
}

export function messagePage(title: string, message: string): string {
  return htmlPage(title, `<p class="notice bad">${escapeHtml(message)}</p>`);
}
