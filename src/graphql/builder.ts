import SchemaBuilder from '@pothos/core';
import ErrorsPlugin from '@pothos/plugin-errors';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import { GraphQLError, Kind } from 'graphql';
import { AppError, errorCodes } from '../errors.ts';
import type PrismaTypes from '../generated/pothos-types.ts';
import { getDatamodel } from '../generated/pothos-types.ts';
import type { GraphQLContext } from './context.ts';

/** The one Pothos builder. It holds no types: each module defines its own next to its service. */
export const builder = new SchemaBuilder<{
  PrismaTypes: PrismaTypes;
  Context: GraphQLContext;
  DefaultFieldNullability: false;
  Scalars: {
    BigInt: { Input: bigint; Output: bigint };
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ErrorsPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  errors: { defaultTypes: [AppError] },
  prisma: {
    client: (ctx) => ctx.deps.prisma,
    dmmf: getDatamodel(),
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: { clientMutationId: 'omit', cursorType: 'String' },
});

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

function parseBigInt(value: unknown): bigint {
  if (typeof value === 'string' && /^-?\d{1,30}$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  throw new GraphQLError('BigInt takes an integer, as a decimal string or a safe JSON integer.', {
    extensions: { code: 'VALIDATION_FAILED' },
  });
}

builder.scalarType('BigInt', {
  description:
    'An integer of any size: money in minor units (rials, centavos). Sent as a decimal string; input also accepts a JSON integer up to 2^53-1.',
  serialize: (value) => value.toString(),
  parseValue: parseBigInt,
  parseLiteral: (node) => {
    if (node.kind === Kind.INT || node.kind === Kind.STRING) {
      const parsed = parseBigInt(node.value);
      if (node.kind === Kind.INT && (parsed > MAX_SAFE || parsed < -MAX_SAFE)) return parseBigInt(String(node.value));
      return parsed;
    }
    throw new GraphQLError('BigInt takes an integer literal or a decimal string.', { extensions: { code: 'VALIDATION_FAILED' } });
  },
});

/** An RFC 3339 instant: date, time and offset (`Z` or ±hh:mm), e.g. 2030-01-31T12:00:00Z. */
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

const daysIn = (year: number, month: number) =>
  month === 2 ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;

/** The instant, or null for anything else: no date alone, no other format, no day the calendar lacks, years 1 to 9999. */
function parseInstant(value: unknown): Date | null {
  const match = typeof value === 'string' ? INSTANT.exec(value) : null;
  if (!match) return null;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = match.slice(1).map((part) => (part === undefined ? undefined : Number(part)));
  if (!year || month! < 1 || month! > 12 || day! < 1 || day! > daysIn(year, month!)) return null;
  if (hour! > 23 || minute! > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return null;
  const date = new Date(value as string);
  return Number.isNaN(date.getTime()) || date.getUTCFullYear() < 1 || date.getUTCFullYear() > 9999 ? null : date;
}

builder.scalarType('DateTime', {
  description: 'An instant, as an RFC 3339 string: date, time and offset, e.g. 2030-01-31T12:00:00Z (answered in UTC).',
  serialize: (value) => value.toISOString(),
  parseValue: (value) => {
    const date = parseInstant(value);
    if (!date) {
      throw new GraphQLError('DateTime takes an RFC 3339 instant with its offset, e.g. 2030-01-31T12:00:00Z.', { extensions: { code: 'VALIDATION_FAILED' } });
    }
    return date;
  },
});

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
});

export const ErrorCodeEnum = builder.enumType('ErrorCode', {
  description: 'Stable codes of expected failures. REST routes map the same codes to their legacy envelopes.',
  values: errorCodes,
});

export const ErrorInterface = builder.interfaceRef<AppError>('Error').implement({
  description: 'An expected failure, returned as data in mutation results.',
  fields: (t) => ({
    code: t.field({ type: ErrorCodeEnum, resolve: (error) => error.code }),
    message: t.exposeString('message'),
  }),
});

builder.objectType(AppError, {
  name: 'AppError',
  description: 'A business failure with a stable code; `field` names the input at fault, when there is one.',
  interfaces: [ErrorInterface],
  isTypeOf: (value) => value instanceof AppError,
  fields: (t) => ({
    field: t.exposeString('field', { nullable: true }),
  }),
});
