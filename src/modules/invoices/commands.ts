/**
 * Operator commands: list a merchant's invoices, reconcile waiting payments now, settle refunds a
 * gateway could not be asked about, and set a merchant's gateway credentials.
 */
import { listFlag, requiredFlag, stringFlag, UsageError, type ParsedArgs } from '../../cli/args.ts';
import type { CliCommand } from '../../cli/commands.ts';
import { loadConfig } from '../../config.ts';
import type { Db, Prisma } from '../../db/database.ts';
import { systemClock } from '../../deps.ts';
import type { OutboxRelay } from '../../events/outbox.ts';
import { createLogger } from '../../logger.ts';
import { credentialHint, setGatewayCredential } from './connectors.ts';
import { GATEWAYS, INVOICE_STATUSES, parseGateway, remainingAmount, type InvoiceStatus } from './model.ts';
import type { ServiceDeps } from './records.ts';
import { invoiceWhere } from './service.ts';
import { resolveRefund, type RefundResolution } from './refunds.ts';
import { reconcilePayments } from './settlement.ts';

function limitFlag(args: ParsedArgs): number {
  const value = stringFlag(args, 'limit') ?? '50';
  if (!/^\d{1,4}$/.test(value) || Number(value) < 1) throw new UsageError('--limit takes a whole number from 1 to 9999');
  return Number(value);
}

function statusFlag(args: ParsedArgs): InvoiceStatus[] | undefined {
  const values = listFlag(args, 'status');
  const unknown = values?.filter((value) => !(INVOICE_STATUSES as readonly string[]).includes(value)) ?? [];
  if (unknown.length) throw new UsageError(`unknown status ${unknown.join(', ')}; known: ${INVOICE_STATUSES.join(', ')}`);
  return values as InvoiceStatus[] | undefined;
}

/**
 * What reconciliation needs outside the server. The CLI publishes no events itself: they stay
 * in the outbox, and the running server's relay, which polls it, publishes them.
 */
function cliDeps(db: Db): ServiceDeps {
  if (!('$transaction' in db)) throw new Error('payments reconcile needs the database client, not a transaction');
  const config = loadConfig();
  return {
    config,
    prisma: db as Prisma,
    relay: { kick: () => {} } as unknown as OutboxRelay,
    clock: systemClock,
    // stdout carries the command's JSON answer; logs would corrupt it.
    logger: createLogger('silent'),
  };
}

export const invoiceCommands: Record<string, CliCommand> = {
  'invoice list': {
    usage: 'invoice list --merchant ID [--status unpaid,partially_paid,...] [--limit 50]',
    run: async (db, args) => {
      const merchantId = requiredFlag(args, 'merchant');
      const status = statusFlag(args);
      const invoices = await db.invoice.findMany({
        where: invoiceWhere(merchantId, status ? { status } : {}),
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: limitFlag(args),
        include: { payments: { orderBy: { createdAt: 'asc' }, select: { id: true, gateway: true, amount: true, state: true, authority: true } } },
      });
      return {
        currency: 'IRR',
        invoices: invoices.map((invoice) => ({
          id: invoice.id,
          title: invoice.title,
          status: invoice.status,
          totalAmount: invoice.totalAmount,
          paidAmount: invoice.paidAmount,
          refundedAmount: invoice.refundedAmount,
          remainingAmount: remainingAmount(invoice),
          createdAt: invoice.createdAt,
          payments: invoice.payments.map(({ id, gateway, amount, state, authority }) => ({ id, gateway, amount, status: state, authority })),
        })),
      };
    },
  },
  'payments reconcile': {
    usage: 'payments reconcile [--merchant ID]',
    run: async (db, args) => {
      const merchantId = stringFlag(args, 'merchant');
      return reconcilePayments(cliDeps(db), merchantId ? { merchantId } : {});
    },
    failed: (result) => (result as { errors: number }).errors > 0,
  },
  'payments refund-resolve': {
    usage: 'payments refund-resolve --payment ID --outcome refunded|failed [--reference REF] [--note TEXT]',
    run: async (db, args) => {
      const paymentId = requiredFlag(args, 'payment');
      const outcome = requiredFlag(args, 'outcome');
      if (outcome !== 'refunded' && outcome !== 'failed') throw new UsageError('--outcome takes refunded or failed');
      const resolution: RefundResolution =
        outcome === 'refunded'
          ? { outcome: 'refunded', reference: stringFlag(args, 'reference') ?? null }
          : { outcome: 'failed', note: stringFlag(args, 'note') ?? null };
      const { payment, refund, attemptId } = await resolveRefund(cliDeps(db), paymentId, resolution);
      return {
        paymentId: payment.id,
        status: payment.state,
        refundedAmount: payment.refundedAmount,
        refundPendingAmount: payment.refundPendingAmount,
        ...(refund ? { refund: { id: refund.id, amount: refund.amount, status: refund.status, reference: refund.reference } } : {}),
        ...(attemptId ? { returnOfAttempt: attemptId, note: payment.note } : {}),
      };
    },
  },
  'gateway set': {
    usage:
      'gateway set --merchant ID --gateway zarinpal --merchant-id UUID [--access-token TOKEN --terminal-id ID]  |  gateway set --merchant ID --gateway shepa --api-key KEY',
    run: async (db, args) => {
      const gateway = (() => {
        try {
          return parseGateway(requiredFlag(args, 'gateway'));
        } catch {
          throw new UsageError(`--gateway takes ${GATEWAYS.join(' or ')}`);
        }
      })();
      const credential = gateway === 'zarinpal' ? requiredFlag(args, 'merchant-id') : requiredFlag(args, 'api-key');
      return setGatewayCredential(
        db,
        {
          merchantId: requiredFlag(args, 'merchant'),
          gateway,
          credential,
          accessToken: stringFlag(args, 'access-token') ?? null,
          terminalId: stringFlag(args, 'terminal-id') ?? null,
        },
        new Date(),
      );
    },
  },
  'gateway list': {
    usage: 'gateway list --merchant ID',
    run: async (db, args) => {
      const rows = await db.gatewayCredential.findMany({ where: { merchantId: requiredFlag(args, 'merchant') }, orderBy: { gateway: 'asc' } });
      return {
        gateways: rows.map((row) => ({
          gateway: row.gateway,
          credential: credentialHint(row.credential),
          ...(row.gateway === 'zarinpal' ? { refunds: row.accessToken ? { accessToken: credentialHint(row.accessToken), terminalId: row.terminalId } : null } : {}),
          updatedAt: row.updatedAt,
        })),
      };
    },
  },
};
