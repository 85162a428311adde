import { decodeBase64 } from '@pothos/core';
import {
  getNamedType,
  GraphQLError,
  isObjectType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type ArgumentNode,
  type DocumentNode,
  type GraphQLField,
  type GraphQLSchema,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { getDatamodel } from '../generated/pothos-types.ts';

/** How a connection's cursor names a row: every connection here pages by its nodes' `id`. */
type CursorKind = 'String' | 'Int';

/** The node id types of the models, by GraphQL type name (object types are named after their model). */
const idTypes = new Map<string, string>(
  Object.entries(getDatamodel().datamodel.models).map(([name, model]) => [name, model.fields.find((field) => field.isId)?.type ?? '']),
);

const kinds = new WeakMap<GraphQLField<unknown, unknown>, CursorKind | null>();

/** The kind of cursor a field pages with: null for a field that is no connection paged by id. */
export function cursorKindOf(field: GraphQLField<unknown, unknown>): CursorKind | null {
  let kind = kinds.get(field);
  if (kind === undefined) {
    const connection = getNamedType(field.type);
    const edges = isObjectType(connection) ? connection.getFields().edges : undefined;
    const edge = edges && getNamedType(edges.type);
    const node = edge && isObjectType(edge) ? getNamedType(edge.getFields().node?.type) : undefined;
    const idType = node ? idTypes.get(node.name) : undefined;
    kind = idType === 'String' || idType === 'Int' ? idType : null;
    kinds.set(field, kind);
  }
  return kind;
}

const INT4_MAX = 2_147_483_647;
/** A string id as the API makes them (UUIDs and the like): printable ASCII, no spaces. */
const STRING_ID = /^[\x21-\x7e]{1,100}$/;

/** Whether `cursor` is one a connection paged by ids of this kind could have given. */
export function cursorValid(cursor: string, kind: CursorKind): boolean {
  if (cursor.length > 200 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(cursor)) return false;
  let decoded: string;
  try {
    decoded = decodeBase64(cursor);
  } catch {
    return false;
  }
  if (kind === 'String') return decoded.startsWith('GPC:S:') && STRING_ID.test(decoded.slice(6));
  const id = decoded.startsWith('GPC:N:') ? decoded.slice(6) : '';
  return /^(0|[1-9]\d{0,9})$/.test(id) && Number(id) <= INT4_MAX;
}

interface CursorArgument {
  node: ArgumentNode;
  kind: CursorKind;
}

/** The `after` and `before` arguments of a document's connections, found once per document (Yoga caches parsed documents). */
const documents = new WeakMap<DocumentNode, CursorArgument[]>();

function cursorArguments(schema: GraphQLSchema, document: DocumentNode): CursorArgument[] {
  let found = documents.get(document);
  if (!found) {
    const list: CursorArgument[] = [];
    const typeInfo = new TypeInfo(schema);
    visit(
      document,
      visitWithTypeInfo(typeInfo, {
        Field(node) {
          const field = typeInfo.getFieldDef();
          const kind = field && node.arguments?.length ? cursorKindOf(field) : null;
          if (!kind) return;
          for (const argument of node.arguments!) {
            if (argument.name.value === 'after' || argument.name.value === 'before') list.push({ node: argument, kind });
          }
        },
      }),
    );
    documents.set(document, (found = list));
  }
  return found;
}

/** The first `after` or `before` given that is not a cursor the API gave. */
function badCursor(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | undefined): GraphQLError | null {
  for (const { node, kind } of cursorArguments(schema, document)) {
    const value = node.value.kind === Kind.VARIABLE ? variables?.[node.value.name.value] : node.value.kind === Kind.STRING ? node.value.value : undefined;
    if (typeof value !== 'string' || cursorValid(value, kind)) continue;
    return new GraphQLError(`\`${node.name.value}\` is not a cursor this list gave.`, {
      nodes: [node],
      extensions: { code: 'VALIDATION_FAILED', field: node.name.value },
    });
  }
  return null;
}

/**
 * Cursors are checked before execution: the Prisma plugin passes whatever a cursor decodes to
 * into the query, where a string for an integer id, a fraction, a NUL byte or an id beyond the
 * column's range is a database error. A cursor is refused (VALIDATION_FAILED) unless it has the
 * form this API gives, for the id type of the list's nodes; a well-formed cursor of no row answers
 * as the database does.
 */
export const wellFormedCursors: Plugin = {
  onExecute: ({ args, setResultAndStopExecution }) => {
    const bad = badCursor(args.schema, args.document, args.variableValues ?? undefined);
    if (bad) setResultAndStopExecution({ errors: [bad] });
  },
};
