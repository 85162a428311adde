import { revokeCredential } from '../../auth/credentials.ts';
import { requireMerchant } from '../../auth/principal.ts';
import { notFound } from '../../errors.ts';
import { builder } from '../../graphql/builder.ts';

builder.prismaObject('Merchant', {
  description: 'The merchant the credentials belong to.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    companyId: t.exposeString('companyId', { description: "The wallet API's CompanyID." }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const ViewerRef = builder.objectRef<{ merchantId: string; credentialId: string; credentialKind: string; scopes: string[]; rights: string[] }>(
  'Viewer',
);

builder.objectType(ViewerRef, {
    description: 'Who is calling, and what the credential in use allows.',
    fields: (t) => ({
      credentialId: t.exposeID('credentialId'),
      credentialKind: t.exposeString('credentialKind'),
      scopes: t.exposeStringList('scopes'),
      rights: t.exposeStringList('rights'),
      merchant: t.prismaField({
        type: 'Merchant',
        resolve: (query, viewer, _args, ctx) => ctx.deps.prisma.merchant.findUniqueOrThrow({ ...query, where: { id: viewer.merchantId } }),
      }),
    }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    description: 'The merchant and credential making the request.',
    resolve: (_root, _args, ctx) => {
      const principal = requireMerchant(ctx.principal);
      return {
        merchantId: principal.merchantId,
        credentialId: principal.credentialId,
        credentialKind: principal.credentialKind,
        scopes: [...principal.scopes],
        rights: [...principal.rights],
      };
    },
  }),
);

builder.mutationField('revokeCredential', (t) =>
  t.field({
    type: 'Boolean',
    description:
      "Revokes one of the calling merchant's credentials (an API token, Basic key, OAuth client or access token) at once. Another merchant's credential id answers NOT_FOUND.",
    errors: {},
    args: { id: t.arg.id() },
    resolve: async (_root, args, ctx) => {
      const principal = requireMerchant(ctx.principal);
      const id = String(args.id);
      const owned = await ctx.deps.prisma.credential.findFirst({ where: { id, merchantId: principal.merchantId, revokedAt: null } });
      if (!owned) throw notFound('Credential');
      await revokeCredential(ctx.deps.prisma, id, ctx.deps.clock.now());
      ctx.deps.auth.invalidate();
      return true;
    },
  }),
);
