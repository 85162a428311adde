import { lexicographicSortSchema, type GraphQLSchema } from 'graphql';
import { builder } from './builder.ts';
import '../events/graphql.ts';
import '../modules/merchants/graphql.ts';

/** Every module registers its types and root fields on import; this builds the one schema. */
export function buildSchema(): GraphQLSchema {
  return lexicographicSortSchema(builder.toSchema());
}
