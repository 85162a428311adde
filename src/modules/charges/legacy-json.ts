/**
 * The legacy (iPag) JSON shapes of charges and customers, exactly as the document shows them:
 * amounts as JSON numbers of reais, dates as `Y-m-d`, timestamps as `Y-m-d H:i:s` in the
 * charges time zone.
 */
import type { Charge, ChargeCustomer, ChargeInstallment } from '../../generated/prisma/client.ts';
import { formatCpfCnpj } from './cpf-cnpj.ts';
import { fromDbDate, formatPhone, legacyTimestamp } from './model.ts';
import { formatBrlAmount } from './money.ts';

export type ChargeRecord = Charge & { customer: ChargeCustomer; installments: ChargeInstallment[] };

export interface LegacyContext {
  timeZone: string;
  paymentLink: (charge: Pick<Charge, 'paymentToken'>) => string;
}

/**
 * Reais as a JSON number. Amounts are at most 15 significant digits (money.ts MAX_CENTAVOS), so
 * the double nearest to the decimal prints back as exactly that decimal: `150.5`, `150`.
 */
export const legacyAmount = (centavos: bigint): number => Number(formatBrlAmount(centavos));

export function legacyCustomer(customer: ChargeCustomer, context: LegacyContext) {
  return {
    id: customer.id,
    resource: 'customers' as const,
    attributes: {
      is_active: true,
      name: customer.name,
      cpf_cnpj: customer.cpfCnpj ? formatCpfCnpj(customer.cpfCnpj) : null,
      email: customer.email,
      phone: customer.phone ? formatPhone(customer.phone) : null,
      created_at: legacyTimestamp(context.timeZone, customer.createdAt).slice(0, 10),
      updated_at: legacyTimestamp(context.timeZone, customer.updatedAt).slice(0, 10),
    },
  };
}

export function legacyInstallment(installment: ChargeInstallment, charge: Pick<Charge, 'description'>, context: LegacyContext) {
  return {
    number: installment.number,
    due_date: fromDbDate(installment.dueDate),
    amount: legacyAmount(installment.amount),
    paid_amount: legacyAmount(installment.paidAmount),
    discount: legacyAmount(installment.discount),
    payment_date: installment.paymentDate ? fromDbDate(installment.paymentDate) : null,
    description: charge.description,
    payment:
      installment.paidAt && installment.paymentMethod
        ? {
            method: installment.paymentMethod,
            reference: installment.paymentReference,
            amount: legacyAmount(installment.paidAmount),
            paid_at: legacyTimestamp(context.timeZone, installment.paidAt),
          }
        : null,
  };
}

export function legacyCharge(charge: ChargeRecord, context: LegacyContext) {
  return {
    id: charge.id,
    resource: 'charges' as const,
    attributes: {
      is_active: charge.isActive,
      status: charge.status,
      amount: legacyAmount(charge.amount),
      type: charge.type,
      frequency: charge.frequency,
      interval: charge.interval,
      description: charge.description,
      starting_date: fromDbDate(charge.dueDate),
      closing_date: charge.lastChargeDate ? fromDbDate(charge.lastChargeDate) : '',
      auto_debit: charge.autoDebit,
      callback_url: charge.callbackUrl ?? '',
      created_at: legacyTimestamp(context.timeZone, charge.createdAt),
      updated_at: legacyTimestamp(context.timeZone, charge.updatedAt),
      customer: legacyCustomer(charge.customer, context),
      installments: {
        data: [...charge.installments].sort((a, b) => a.number - b.number).map((installment) => legacyInstallment(installment, charge, context)),
      },
      links: { payment: context.paymentLink(charge) },
    },
  };
}

export type LegacyChargeDocument = ReturnType<typeof legacyCharge>;
