import { defaultFieldResolver, type GraphQLSchema } from 'graphql';
import { requireOperator } from '../auth/principal.ts';
import { builder } from '../graphql/builder.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { actorOf, reasonIn, withActor } from './actor.ts';
import { auditRecordTransfers, auditWhere, type AuditRecordTransfer } from './audit.ts';

/**
 * The transfers of every record an operation shows, read in one query: a page's records resolve
 * their transfers one after the other in one pass, and the first asks for all of them once the
 * pass is over.
 */
const pageTransfers = new WeakMap<GraphQLContext, { lists: string[][]; read: Promise<AuditRecordTransfer[][]> }>();

function transfersOf(ctx: GraphQLContext, ids: string[]): Promise<AuditRecordTransfer[]> {
  let page = pageTransfers.get(ctx);
  if (!page) {
    const lists: string[][] = [];
    const read = Promise.resolve().then(() => {
      pageTransfers.delete(ctx);
      return auditRecordTransfers(ctx.deps.prisma, lists);
    });
    pageTransfers.set(ctx, (page = { lists, read }));
  }
  const at = page.lists.push(ids) - 1;
  return page.read.then((lists) => lists[at]!);
}

builder.prismaObject('AuditRecord', {
  description:
    'Who moved money, what, when and why: one record per database transaction and merchant that wrote ledger transfers, committed with them.',
  fields: (t) => ({
    id: t.exposeID('id'),
    merchantId: t.exposeID('merchantId'),
    actorKind: t.exposeString('actorKind', { description: 'merchant, operator, cli (an operator at the command line), anonymous (e.g. a gateway callback) or system (schedules, expiry).' }),
    credentialId: t.exposeID('credentialId', { nullable: true }),
    credentialKind: t.exposeString('credentialKind', { nullable: true }),
    staffId: t.exposeID('staffId', { nullable: true, description: 'The staff member behind an access token issued by the login_info grant.' }),
    operator: t.exposeString('operator', { nullable: true, description: 'The operating-system user who ran a CLI command.' }),
    action: t.exposeString('action', { description: '`graphql:<mutation>`, `<METHOD> <path>` of a REST route, `cli:<command>`, or the transfer code for background work.' }),
    requestId: t.exposeString('requestId', { nullable: true, description: 'The `x-request-id` of the request, as in the logs.' }),
    reason: t.exposeString('reason', { nullable: true }),
    transfers: t.field({
      type: 'JSON',
      description: 'The transfers: id, code, kind, amount (minor units, a decimal string), currency, debitAccountId, creditAccountId, pendingId.',
      select: { transferIds: true },
      resolve: (record, _args, ctx) => transfersOf(ctx, record.transferIds),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.prismaConnection({
    type: 'AuditRecord',
    cursor: 'id',
    description: 'The audit trail of money movements, newest first (operators only). `from` is inclusive, `to` exclusive.',
    args: {
      merchantId: t.arg.id({ required: false }),
      requestId: t.arg.string({ required: false }),
      from: t.arg({ type: 'DateTime', required: false }),
      to: t.arg({ type: 'DateTime', required: false }),
    },
    resolve: (query, _root, args, ctx) => {
      requireOperator(ctx.principal);
      return ctx.deps.prisma.auditRecord.findMany({
        ...query,
        where: auditWhere({ merchantId: args.merchantId != null ? String(args.merchantId) : null, requestId: args.requestId, from: args.from, to: args.to }),
        orderBy: { id: 'desc' },
      });
    },
  }),
);

/**
 * Runs every root mutation with its actor in the audit context: the credential, the request id,
 * the mutation's name and the `reason` argument it was given, if any. Over HTTP and WebSocket alike.
 */
export function auditMutations(schema: GraphQLSchema): GraphQLSchema {
  for (const field of Object.values(schema.getMutationType()?.getFields() ?? {})) {
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = (root, args, context: GraphQLContext, info) =>
      withActor(actorOf(context.principal, { action: `graphql:${field.name}`, requestId: context.requestId, reason: reasonIn(args) }), () =>
        resolve(root, args, context, info),
      );
  }
  return schema;
}
