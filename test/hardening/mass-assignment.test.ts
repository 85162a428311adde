import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  type GraphQLInputObjectType,
  type GraphQLInputType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/lib/ids.ts';
import { bearer } from '../recharge/helpers.ts';
import { basic, expectLedgerBalanced, type TestApp } from '../support/app.ts';
import { buildEstate, settled, snapshotMerchant, startHardenedApp, type Estate } from './support.ts';
import { documentFor, openApiOperations, rootFields, schema, type RootField } from './surface.ts';

/**
 * Mass assignment: fields a client must never set — whose object it is, its state, its money —
 * sent where they do not belong. GraphQL input types reject unknown fields (proven for every input
 * type the schema has, at every place it is used); every REST route with a body either refuses
 * them in its own format or ignores them, and in both cases the database shows no trace of them.
 */

const PLANTED = { merchantId: 'planted-merchant', status: 'paid', balance: '999999999', fee: '0', paidAt: '2020-01-01T00:00:00Z', state: 'verified', id: 'planted-id' };

let t: TestApp;
let own: Estate;
let other: Estate;
let headers: Record<'token' | 'bearer' | 'basic' | 'wallet', Record<string, string>>;

beforeAll(async () => {
  t = await startHardenedApp();
  const operator = await t.operator();
  own = await buildEstate(t, 'Assigner', operator);
  other = await buildEstate(t, 'Bystander', operator);
  const m = own.merchant;
  headers = {
    token: { authorization: own.auth },
    bearer: { authorization: await bearer(t, m) },
    basic: { authorization: basic(m.basicKey, m.basicSecret) },
    wallet: { authorization: own.auth, companyid: m.companyId },
  };
}, 120_000);

afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const databaseState = async () => `${await snapshotMerchant(t, own.merchant.merchantId)}\n${await snapshotMerchant(t, other.merchant.merchantId)}`;

/** A value of the type that passes GraphQL's own coercion (the service may still refuse it). */
function sample(type: GraphQLInputType): unknown {
  const named = getNamedType(type);
  const value = isInputObjectType(named) ? sampleObject(named) : isEnumType(named) ? named.getValues()[0]!.value : scalarSample(named.name);
  return isListType(getNullableType(type)) ? [value] : value;
}

function scalarSample(name: string): unknown {
  switch (name) {
    case 'Int':
      return 1;
    case 'Float':
      return 1.5;
    case 'Boolean':
      return false;
    case 'BigInt':
      return '1';
    case 'JSON':
      return {};
    case 'DateTime':
      return '2030-01-01T00:00:00.000Z';
    default:
      return 'x';
  }
}

function sampleObject(type: GraphQLInputObjectType): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of Object.values(type.getFields())) if (isNonNullType(field.type) && field.defaultValue === undefined) value[field.name] = sample(field.type);
  return value;
}

interface Placement {
  root: RootField;
  arg: string;
  /** Where in the argument the input object sits (`[]` for the argument itself, `0` for a list item). */
  path: (string | number)[];
  type: GraphQLInputObjectType;
}

/** Every place every input object type can be sent: each argument, and each input field, of each root field. */
function placements(): Placement[] {
  const found: Placement[] = [];
  const visit = (root: RootField, arg: string, path: (string | number)[], type: GraphQLInputType, seen: Set<string>) => {
    const named = getNamedType(type);
    if (!isInputObjectType(named) || seen.has(named.name)) return;
    const at = isListType(getNullableType(type)) ? [...path, 0] : path;
    found.push({ root, arg, path: at, type: named });
    for (const field of Object.values(named.getFields())) visit(root, arg, [...at, field.name], field.type, new Set(seen).add(named.name));
  };
  for (const root of rootFields()) for (const arg of root.field.args) visit(root, arg.name, [], arg.type, new Set());
  return found;
}

function variablesWith(placement: Placement, extra: Record<string, unknown>): Record<string, unknown> {
  const variables: Record<string, unknown> = {};
  for (const arg of placement.root.field.args) if (isNonNullType(arg.type) || arg.name === placement.arg) variables[arg.name] = sample(arg.type);
  // Walk (creating what is missing) to the placement and add the planted fields there.
  let holder: any = variables;
  let key: string | number = placement.arg;
  for (const step of placement.path) {
    holder[key] ??= typeof step === 'number' ? [] : {};
    holder = holder[key];
    key = step;
  }
  holder[key] = { ...(holder[key] ?? sampleObject(placement.type)), ...extra };
  return variables;
}

describe('GraphQL input types', () => {
  const all = placements();

  it('every input object type of the schema is reachable from some root field, so each is tried below', () => {
    const inputTypes = Object.values(schema.getTypeMap()).filter((type) => isInputObjectType(type) && !type.name.startsWith('__'));
    const placed = new Set(all.map((placement) => placement.type.name));
    expect(inputTypes.map((type) => type.name).filter((name) => !placed.has(name))).toEqual([]);
    expect(inputTypes.length).toBeGreaterThan(5);
  });

  for (const placement of all) {
    const where = `${placement.root.kind}.${placement.root.name}(${[placement.arg, ...placement.path].join('.')})`;
    it(`${placement.type.name} at ${where} refuses fields it does not define`, async () => {
      const defined = placement.type.getFields();
      const extra = Object.fromEntries(Object.entries(PLANTED).filter(([name]) => !(name in defined)));
      expect(Object.keys(extra).length).toBeGreaterThan(0);
      const before = await databaseState();
      const variables = variablesWith(placement, extra);
      const query = documentFor(placement.root, variables);
      if (placement.root.kind === 'subscription') {
        const response = await fetch(`${t.url}/graphql`, {
          method: 'POST',
          headers: { ...headers.token, 'content-type': 'application/json', accept: 'text/event-stream' },
          body: JSON.stringify({ query, variables }),
          signal: AbortSignal.timeout(5000),
        });
        const text = await response.text();
        expect(text).toMatch(/is not defined by type/);
      } else {
        const response = await t.request('POST', '/graphql', { headers: headers.token, body: { query, variables } });
        expect(response.status).toBeLessThan(500);
        expect(response.json.data ?? null).toBeNull();
        const messages = (response.json.errors as { message: string }[]).map((error) => error.message).join('\n');
        for (const name of Object.keys(extra)) expect(messages).toContain(`"${name}"`);
        expect(messages).toMatch(/is not defined by type/);
      }
      expect(await databaseState()).toBe(before);
    });
  }
});

type Scheme = keyof typeof headers;

interface BodyCase {
  as: Scheme;
  /** A valid request of the caller's own, made fresh on each call (new tokens, keys, objects). */
  request: () => Promise<{ method: string; path: string; body: Record<string, unknown>; headers?: Record<string, string> }> | { method: string; path: string; body: Record<string, unknown>; headers?: Record<string, string> };
  /** Nested objects of the body to plant the fields in too, besides the top level. */
  nested?: string[];
}

const newInvoice = async () =>
  (await t.request('POST', '/invoice/create', { headers: headers.token, body: { totalAmount: 50_000, title: 'mass', mobile: null, email: null } })).json.invoiceId as string;

const newRechargePayment = async () => {
  const res = await t.request('POST', `/v3/rechargeProviders/${own.providerReference}/payments`, {
    headers: headers.bearer,
    body: { userId: Number(own.rechargeUserId), params: { amount: 300 } },
  });
  expect(res.status, res.text).toBe(200);
  return res.json.id as string;
};

const walletBody = () => ({ wallet_id: own.walletId, txn_amount: 100, txn_code: 'CIB', payment_mode: 2 });

/** A valid body for every REST route that takes one (by the OpenAPI document), keyed as registered. */
const BODIES: Record<string, BodyCase | { noJsonBody: string }> = {
  'POST /oauth/token': { noJsonBody: 'RFC 6749 form parameters; unknown ones are refused (tested in test/foundation/auth.test.ts).' },
  'POST /vpos': { noJsonBody: 'A browser form of three fields, parsed by a strict schema (400 page on anything else).' },
  'POST /badje/v1/pockets/:pocket_group_slug/charge/': {
    as: 'token',
    request: () => ({ method: 'POST', path: `/badje/v1/pockets/${own.groupSlug}/charge/`, body: { charges: [{ token: uuidv7(), phone_number: own.phoneNumber, amount: 10 }] } }),
    nested: ['charges.0'],
  },
  'POST /v3/rechargeProviders/:reference/payments': {
    as: 'bearer',
    request: () => ({ method: 'POST', path: `/v3/rechargeProviders/${own.providerReference}/payments`, body: { userId: Number(own.rechargeUserId), params: { amount: 200 } } }),
  },
  'PATCH /v3/rechargeProviders/:reference/payments/:id': {
    as: 'bearer',
    request: async () => ({ method: 'PATCH', path: `/v3/rechargeProviders/${own.providerReference}/payments/${await newRechargePayment()}`, body: { description: 'changed' } }),
  },
  'POST /v3/rechargeProviders/:reference/payments/:id/rollback': {
    as: 'bearer',
    request: async () => ({ method: 'POST', path: `/v3/rechargeProviders/${own.providerReference}/payments/${await newRechargePayment()}/rollback`, body: { reason: 'mass' } }),
  },
  'POST /invoice/create': { as: 'token', request: () => ({ method: 'POST', path: '/invoice/create', body: { totalAmount: 1000, title: 'mass', mobile: null, email: null } }) },
  'POST /invoice/getWaitingPayments': { as: 'token', request: () => ({ method: 'POST', path: '/invoice/getWaitingPayments', body: { invoiceId: own.invoiceId } }) },
  'POST /payment/request': {
    as: 'token',
    request: async () => ({ method: 'POST', path: '/payment/request', body: { invoiceId: await newInvoice(), gateway: 'shepa', amount: 1000, description: null, mobile: null, email: null } }),
  },
  'POST /payment/refund': { as: 'token', request: () => ({ method: 'POST', path: '/payment/refund', body: { authority: 'no-such-authority', invoiceId: own.paidInvoiceId } }) },
  'POST /payment/startWaiting': { as: 'token', request: () => ({ method: 'POST', path: '/payment/startWaiting', body: { paymentId: own.paymentId, gateway: 'shepa' } }) },
  'POST /admin/payment/getReadyToPayLink': { as: 'token', request: () => ({ method: 'POST', path: '/admin/payment/getReadyToPayLink', body: { amount: 1000, userFullName: 'Mass', mobile: '09120000000' } }) },
  'POST /digipay/v3/transaction/agent_calculate_charges': { as: 'wallet', request: () => ({ method: 'POST', path: '/digipay/v3/transaction/agent_calculate_charges', body: walletBody() }) },
  'POST /digipay/v3/transaction/wallet_topup': {
    as: 'wallet',
    request: () => ({ method: 'POST', path: '/digipay/v3/transaction/wallet_topup', body: { ...walletBody(), meta_data: { wallet_topup_request_id: uuidv7() } } }),
    nested: ['meta_data'],
  },
  'POST /service/resources/charges': {
    as: 'basic',
    request: () => ({ method: 'POST', path: '/service/resources/charges', body: { amount: 10.0, description: 'mass', due_date: '10/01/2030', customer: { name: 'Mass', cpf_cnpj: own.customerCpf } } }),
    nested: ['customer'],
  },
  'PUT /service/resources/charges': { as: 'basic', request: () => ({ method: 'PUT', path: `/service/resources/charges?id=${own.chargeId}`, body: { description: 'mass' } }) },
};

/** The answer without what differs between two equal requests: ids, tokens, times. */
function normalize(text: string): unknown {
  const normalized = text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<id>')
    .replace(/\b[0-9a-f]{32}\b/g, '<id>')
    .replace(/"(id|paymentNo|txn_number|txn_id)":\s*\d+/g, '"$1":0')
    .replace(/"(authority|redirectUrl|url|token)":"[^"]*"/g, '"$1":"<token>"')
    .replace(/\b20\d\d-\d\d-\d\d[T ][\d:.]+Z?/g, '<time>');
  try {
    return JSON.parse(normalized);
  } catch {
    return normalized;
  }
}

function plant(body: Record<string, unknown>, at: string): Record<string, unknown> {
  const copy = structuredClone(body);
  let holder: any = copy;
  for (const step of at ? at.split('.') : []) holder = holder[step];
  for (const [name, value] of Object.entries(PLANTED)) if (!(name in holder)) holder[name] = value;
  return copy;
}

describe('REST bodies', () => {
  it('has a body case for every route that takes a body', async () => {
    const operations = await openApiOperations(t);
    const routes = new Set(operations.map((operation) => operation.key));
    const bodyRoutes = operations.filter((operation) => operation.bodyFields.length > 0).map((operation) => operation.key);
    expect(bodyRoutes.filter((key) => !(key in BODIES)), 'routes with a body and no mass-assignment case').toEqual([]);
    expect(Object.keys(BODIES).filter((key) => !routes.has(key)), 'cases for routes that no longer exist').toEqual([]);
    expect(bodyRoutes.length).toBeGreaterThan(10);
  });

  for (const [key, entry] of Object.entries(BODIES)) {
    if (!('as' in entry)) continue;
    for (const at of ['', ...(entry.nested ?? [])]) {
      it(`${key}${at ? ` (in ${at})` : ''} refuses or ignores merchantId, status, balance, fee, paidAt`, async () => {
        const planted = await entry.request();
        // What earlier requests set off (gateway calls, callbacks) finishes first.
        await settled(t, own.merchant.merchantId);
        const before = await databaseState();
        const send = (request: typeof planted) => t.request(request.method, request.path, { headers: { ...headers[entry.as], ...request.headers }, body: request.body });
        const response = await send({ ...planted, body: plant(planted.body, at) });
        expect(response.status, response.text).toBeLessThan(500);
        expect(response.text).not.toContain('planted');
        if (response.status >= 400) {
          expect(await databaseState(), 'a refused request changes nothing').toBe(before);
          return;
        }
        // Accepted: the fields were ignored, so the answer is the one the same request gets without them.
        const plain = await entry.request();
        const clean = await send(plain);
        expect(normalize(response.text)).toEqual(normalize(clean.text));
        const stored = await databaseState();
        for (const value of ['planted', PLANTED.balance, PLANTED.paidAt.slice(0, 10)]) expect(stored).not.toContain(value);
      });
    }
  }
});
