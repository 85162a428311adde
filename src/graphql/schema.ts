import { lexicographicSortSchema, type GraphQLSchema } from 'graphql';
import { auditMutations } from '../audit/graphql.ts';
import { builder } from './builder.ts';
import '../events/graphql.ts';
import '../modules/charges/graphql.ts';
import '../modules/merchants/graphql.ts';
import '../modules/invoices/graphql.ts';
import '../modules/pockets/graphql.ts';
import '../modules/recharge/graphql.ts';
import '../modules/wallets/graphql.ts';

/** Every module registers its types and root fields on import; this builds the one schema. */
export function buildSchema(): GraphQLSchema {
  return auditMutations(lexicographicSortSchema(builder.toSchema()));
}
