import { readFileSync } from 'node:fs';
import {
  buildSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
} from 'graphql';
import type { TestApp } from '../support/app.ts';

/** The executable schema as clients see it (the printed SDL, which test/foundation/schema.test.ts keeps current). */
export const schema: GraphQLSchema = buildSchema(readFileSync('schema/schema.graphql', 'utf8'));

export type OperationKind = 'query' | 'mutation' | 'subscription';

export interface RootField {
  kind: OperationKind;
  name: string;
  field: GraphQLField<unknown, unknown>;
}

export function rootFields(): RootField[] {
  const roots: [OperationKind, ReturnType<GraphQLSchema['getQueryType']>][] = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ];
  return roots.flatMap(([kind, type]) => Object.values(type?.getFields() ?? {}).map((field) => ({ kind, name: field.name, field })));
}

/** Argument and input-field names that name an object, a tenant or a replayable request (besides every argument of type ID). */
const IDENTIFIER_NAME = /(^id$|Id$|Ids$|slug|token|Token$|reference|authority|^provider$|phoneNumber|username|cpfCnpj|idempotencyKey)/i;

/** Every path (`arg` or `arg.field.field`) of a field's arguments that carries an identifier. */
export function identifierPaths(args: readonly GraphQLArgument[]): string[] {
  const paths: string[] = [];
  const visit = (name: string, path: string, type: GraphQLInputType, seen: Set<string>) => {
    const named = getNamedType(type);
    if (named.name === 'ID' || IDENTIFIER_NAME.test(name)) paths.push(path);
    if (isInputObjectType(named) && !seen.has(named.name)) {
      const inner = new Set(seen).add(named.name);
      for (const field of Object.values(named.getFields())) visit(field.name, `${path}.${field.name}`, field.type, inner);
    }
  };
  for (const arg of args) visit(arg.name, arg.name, arg.type, new Set());
  return paths;
}

const SHOWN_SCALARS = new Set(['id', 'code', 'message', 'field', 'totalCount', 'token', 'status', 'state', 'reason']);
const FOLLOWED = new Set(['data', 'edges', 'node']);

/** A selection that shows whether an object came back, whose it is, and which error: enough to compare two answers. */
export function selectionOf(type: GraphQLOutputType | GraphQLNamedType, depth = 0): string {
  const named = getNamedType(type);
  if (isScalarType(named) || isEnumType(named)) return '';
  if (isUnionType(named) || isInterfaceType(named)) {
    const members = schema.getPossibleTypes(named);
    return `{ __typename ${members.map((member) => `... on ${member.name} ${selectionOf(member, depth + 1)}`).join(' ')} }`;
  }
  if (!isObjectType(named) || depth > 4) return '{ __typename }';
  const parts = ['__typename'];
  for (const field of Object.values(named.getFields())) {
    if (field.args.some((arg) => isNonNullType(arg.type))) continue;
    const inner = getNamedType(field.type);
    if (SHOWN_SCALARS.has(field.name) && (isScalarType(inner) || isEnumType(inner))) parts.push(field.name);
    if (FOLLOWED.has(field.name) && !isScalarType(inner)) parts.push(`${field.name} ${selectionOf(field.type, depth + 1)}`);
  }
  return `{ ${parts.join(' ')} }`;
}

const typeText = (type: GraphQLInputType): string => (isNonNullType(type) ? `${typeText(type.ofType)}!` : isListType(type) ? `[${typeText(type.ofType)}]` : type.name);

/** One operation calling one root field with the given arguments (as variables), selecting `selectionOf` its type. */
export function documentFor(root: RootField, variables: Record<string, unknown>): string {
  const args = root.field.args.filter((arg) => arg.name in variables);
  const definitions = args.map((arg) => `$${arg.name}: ${typeText(arg.type)}`).join(', ');
  const call = args.map((arg) => `${arg.name}: $${arg.name}`).join(', ');
  return `${root.kind}${definitions ? `(${definitions})` : ''} { ${root.name}${call ? `(${call})` : ''} ${selectionOf(root.field.type)} }`;
}

export interface RouteKey {
  method: string;
  path: string;
}

/** The REST route table as registered (middleware-only entries left out), as `METHOD /path/:param`. */
export function registeredRoutes(t: TestApp): string[] {
  const keys = new Set<string>();
  for (const route of t.app.routes()) {
    if (route.method === 'ALL') continue;
    keys.add(`${route.method} ${route.path}`);
  }
  return [...keys].sort();
}

export interface OpenApiOperation {
  key: string;
  /** Parameter names by place, and the body's property names (nested as `a.b`). */
  parameters: { name: string; in: string }[];
  bodyFields: string[];
  /** The media type of the body, when it takes one. */
  bodyType: string | null;
  /** The statuses the document lists for the operation. */
  statuses: number[];
}

/** Every operation of the published OpenAPI document, with its parameters and body fields. */
export async function openApiOperations(t: TestApp): Promise<OpenApiOperation[]> {
  const document = (await t.request('GET', '/openapi.json')).json;
  const resolve = (schemaObject: any): any => {
    if (schemaObject?.$ref) return resolve(document.components.schemas[schemaObject.$ref.split('/').pop()]);
    return schemaObject;
  };
  const fieldsOf = (schemaObject: any, prefix: string, depth: number): string[] => {
    const resolved = resolve(schemaObject);
    if (!resolved || depth > 3) return [];
    const variants = [...(resolved.anyOf ?? []), ...(resolved.oneOf ?? []), ...(resolved.allOf ?? [])];
    const own = Object.entries(resolved.properties ?? {}).flatMap(([name, property]) => [
      `${prefix}${name}`,
      ...fieldsOf(property, `${prefix}${name}.`, depth + 1),
    ]);
    const items = resolved.items ? fieldsOf(resolved.items, prefix, depth + 1) : [];
    return [...own, ...items, ...variants.flatMap((variant: any) => fieldsOf(variant, prefix, depth + 1))];
  };
  const operations: OpenApiOperation[] = [];
  for (const [path, item] of Object.entries<any>(document.paths)) {
    for (const [method, operation] of Object.entries<any>(item)) {
      const content = operation.requestBody?.content ?? {};
      const bodySchema = Object.values<any>(content)[0]?.schema;
      operations.push({
        key: `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`,
        parameters: (operation.parameters ?? []).map((parameter: any) => ({ name: parameter.name, in: parameter.in })),
        bodyFields: [...new Set(fieldsOf(bodySchema, '', 0))],
        bodyType: Object.keys(content)[0] ?? null,
        statuses: Object.keys(operation.responses ?? {}).map(Number),
      });
    }
  }
  return operations;
}

/** Names of REST parameters and body fields that carry an identifier. */
export const REST_IDENTIFIER = /(^id$|_id$|Id$|slug|token|reference|authority|billing|username|merchantId|wallet_topup_request_id|idempotency-key)/i;
