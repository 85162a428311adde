import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../src/demo.ts';
import { DEMO_CUSTOMER } from '../../src/modules/charges/index.ts';
import { configureCharges } from '../../src/modules/charges/runtime.ts';
import { basic, expectLedgerBalanced, startApp, token, type TestApp } from '../support/app.ts';
import { basicOf, CHARGES_PATH, createLegacyCharge, customer, DOCUMENT_EXAMPLE, MANUAL } from './support.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startApp({ DEMO: true, PUBLIC_BASE_URL: 'https://pay.example.com', ...MANUAL });
  // Names resolve from this table only, as DNS under an attacker's control would answer.
  const dns: Record<string, string[]> = {
    'internal.example': ['10.0.0.5'],
    'sneaky.example': ['93.184.216.34', '127.0.0.1'],
    'public.example': ['93.184.216.34'],
    localhost: ['127.0.0.1', '::1'],
  };
  configureCharges(t.app.deps, {
    resolve: async (hostname) => {
      const addresses = dns[hostname];
      if (!addresses) throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
      return addresses;
    },
  });
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

const demoBasic = basic(DEMO.basicKey, DEMO.basicSecret);
const TIMESTAMP = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

describe('POST /service/resources/charges', () => {
  it("runs the document's example as written against the demo merchant and answers the document's shape", async () => {
    const seeded = await t.app.deps.prisma.chargeCustomer.findUniqueOrThrow({
      where: { merchantId_cpfCnpj: { merchantId: DEMO.merchantId, cpfCnpj: DEMO_CUSTOMER.cpfCnpj } },
    });
    const response = await t.request('POST', CHARGES_PATH, { authorization: demoBasic, body: JSON.stringify(DOCUMENT_EXAMPLE) });
    expect(response.status).toBe(201);
    expect(response.headers.get('content-type')).toMatch(/application\/json/);
    expect(response.json).toEqual({
      id: expect.any(Number),
      resource: 'charges',
      attributes: {
        is_active: true,
        status: 'pending',
        amount: 150,
        type: 'normal',
        frequency: 1,
        interval: 'month',
        description: DOCUMENT_EXAMPLE.description,
        starting_date: '2020-10-30',
        closing_date: '',
        auto_debit: false,
        callback_url: 'https://api.ipag.test/retorno_charge',
        created_at: expect.stringMatching(TIMESTAMP),
        updated_at: expect.stringMatching(TIMESTAMP),
        customer: {
          id: seeded.id,
          resource: 'customers',
          attributes: {
            is_active: true,
            name: 'Maria Francisca',
            cpf_cnpj: '852.391.120-02',
            email: 'maria@mail.me',
            phone: '11 99999-9999',
            created_at: expect.stringMatching(DATE),
            updated_at: expect.stringMatching(DATE),
          },
        },
        installments: {
          data: [
            {
              number: 1,
              due_date: '2020-10-30',
              amount: 150,
              paid_amount: 0,
              discount: 0,
              payment_date: null,
              description: DOCUMENT_EXAMPLE.description,
              payment: null,
            },
          ],
        },
        links: { payment: expect.stringMatching(/^https:\/\/pay\.example\.com\/vpos\?billing=[0-9a-f]{32}$/) },
      },
    });
    const stored = await t.app.deps.prisma.charge.findUniqueOrThrow({ where: { id: response.json.id } });
    expect(stored.amount).toBe(15000n);
    expect(stored.merchantId).toBe(DEMO.merchantId);
  });

  it('keeps amounts exact: decimals as numbers or strings, split into installments to the centavo', async () => {
    const m = await t.merchant();
    const charge = await createLegacyCharge(t, m, { amount: '100.00', description: 'Carnê', due_date: '2024-01-31', installments: 3, customer: customer() });
    expect(charge.attributes.amount).toBe(100);
    expect(charge.attributes.installments.data.map((i: { amount: number }) => i.amount)).toEqual([33.34, 33.33, 33.33]);
    expect(charge.attributes.installments.data.map((i: { due_date: string }) => i.due_date)).toEqual(['2024-01-31', '2024-02-29', '2024-03-31']);
    const half = await createLegacyCharge(t, m, { amount: 150.5, description: 'x', due_date: '2024-05-01', customer: customer() });
    expect(half.attributes.amount).toBe(150.5);
    const rows = await t.app.deps.prisma.chargeInstallment.findMany({ where: { chargeId: charge.id } });
    expect(rows.reduce((sum, row) => sum + row.amount, 0n)).toBe(10000n);
  });

  it('lays out every interval and frequency from the first due date, month ends falling on the last day', async () => {
    const m = await t.merchant();
    const dates = async (body: Record<string, unknown>) =>
      (await createLegacyCharge(t, m, { amount: 48, description: 'schedule', customer: customer(), ...body })).attributes.installments.data.map(
        (i: { due_date: string }) => i.due_date,
      );
    expect(await dates({ due_date: '31/01/2023', installments: 5 })).toEqual(['2023-01-31', '2023-02-28', '2023-03-31', '2023-04-30', '2023-05-31']);
    expect(await dates({ due_date: '2024-08-31', installments: 4, frequency: 6 })).toEqual(['2024-08-31', '2025-02-28', '2025-08-31', '2026-02-28']);
    expect(await dates({ due_date: '2024-02-29', installments: 3, frequency: 12 })).toEqual(['2024-02-29', '2025-02-28', '2026-02-28']);
    expect(await dates({ due_date: '2024-12-30', installments: 3, interval: 'day', frequency: 1 })).toEqual(['2024-12-30', '2024-12-31', '2025-01-01']);
    expect(await dates({ due_date: '2024-02-22', installments: 3, interval: 'week', frequency: 2 })).toEqual(['2024-02-22', '2024-03-07', '2024-03-21']);
  });

  it('answers 406 naming every failing field at once, with the document\'s envelope, and stores nothing', async () => {
    const m = await t.merchant();
    const before = await t.app.deps.prisma.charge.count({ where: { merchantId: m.merchantId } });
    const response = await t.request('POST', CHARGES_PATH, {
      authorization: basicOf(m),
      body: {
        amount: '12,50',
        description: '',
        due_date: '31/02/2024',
        frequency: 13,
        interval: 'year',
        type: 'monthly',
        installments: 49,
        last_charge_date: 'tomorrow',
        callback_url: 'ftp://files.example/cb',
        auto_debit: 'maybe',
        is_active: 'yes please',
        customer: { name: 'x'.repeat(101), cpf_cnpj: '852.391.120-03', phone: '123', email: 'not-an-email', address: {} },
        products: [1],
      },
    });
    expect(response.status).toBe(406);
    expect(response.json.code).toBe('406');
    expect(response.json.resource).toBe('resources.charge.create');
    expect(Object.keys(response.json.message).sort()).toEqual(
      [
        'amount',
        'auto_debit',
        'callback_url',
        'customer.address',
        'customer.cpf_cnpj',
        'customer.email',
        'customer.name',
        'customer.phone',
        'description',
        'due_date',
        'frequency',
        'installments',
        'interval',
        'is_active',
        'last_charge_date',
        'products',
        'type',
      ].sort(),
    );
    expect(response.json.message.description).toEqual(['Description is required']);
    expect(response.json.message['customer.cpf_cnpj']).toEqual(['CPF has invalid check digits']);
    expect(await t.app.deps.prisma.charge.count({ where: { merchantId: m.merchantId } })).toBe(before);

    const empty = await t.request('POST', CHARGES_PATH, { authorization: basicOf(m), body: {} });
    expect(empty.status).toBe(406);
    expect(empty.json.message).toEqual({
      amount: ['Amount is required'],
      description: ['Description is required'],
      due_date: ['Due date is required'],
      customer: ['Customer is required'],
    });
  });

  it('refuses amounts that cannot be split, and bodies that are not JSON objects, with 406', async () => {
    const m = await t.merchant();
    const split = await t.request('POST', CHARGES_PATH, {
      authorization: basicOf(m),
      body: { amount: 0.02, description: 'x', due_date: '2024-01-01', installments: 3, customer: customer() },
    });
    expect(split.status).toBe(406);
    expect(Object.keys(split.json.message)).toEqual(['installments']);
    for (const body of ['{"amount": ', '[1, 2]', '"text"']) {
      const response = await t.request('POST', CHARGES_PATH, { authorization: basicOf(m), body });
      expect(response.status).toBe(406);
      expect(response.json).toMatchObject({ code: '406', resource: 'resources.charge.create' });
    }
    const plain = await t.request('POST', CHARGES_PATH, {
      authorization: basicOf(m),
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ amount: 1, description: 'x', due_date: '2024-01-01', customer: customer() }),
    });
    expect(plain.status).toBe(406);
    expect(plain.json.code).toBe('406');
    const decimals = await t.request('POST', CHARGES_PATH, {
      authorization: basicOf(m),
      body: { amount: 10.001, description: 'x', due_date: '2024-01-01', customer: customer() },
    });
    expect(decimals.json.message).toEqual({ amount: ['Amount must have at most 2 decimal places'] });
  });

  it('refuses callback_url vectors to internal addresses at registration', async () => {
    const m = await t.merchant();
    const vectors = {
      loopback: 'http://127.0.0.1/cb',
      'IPv6 loopback': 'http://[::1]/cb',
      'IPv4-mapped loopback': 'http://[::ffff:127.0.0.1]/cb',
      '10/8': 'http://10.1.2.3/cb',
      '192.168/16': 'https://192.168.0.10/cb',
      metadata: 'http://169.254.169.254/latest/meta-data/',
      'decimal IP': 'http://2130706433/cb',
      'octal IP': 'http://0177.0.0.1/cb',
      'hex IP': 'http://0x7f.0.0.1/cb',
      'a name resolving to a private address': 'http://internal.example/cb',
      'a name with one private address among public ones': 'http://sneaky.example/cb',
      localhost: 'http://localhost:4000/cb',
      'a non-http scheme': 'file:///etc/passwd',
      'credentials in the URL': 'https://user:pass@public.example/cb',
    };
    for (const [name, url] of Object.entries(vectors)) {
      const response = await t.request('POST', CHARGES_PATH, {
        authorization: basicOf(m),
        body: { amount: 10, description: 'x', due_date: '2024-01-01', customer: customer(), callback_url: url },
      });
      expect(response.status, name).toBe(406);
      expect(Object.keys(response.json.message), name).toEqual(['callback_url']);
    }
    expect(await t.app.deps.prisma.charge.count({ where: { merchantId: m.merchantId } })).toBe(0);
  });

  it('accepts a callback_url on a public address', async () => {
    const m = await t.merchant();
    const charge = await createLegacyCharge(t, m, { amount: 10, description: 'x', due_date: '2024-01-01', customer: customer(), callback_url: 'https://public.example/cb' });
    expect(charge.attributes.callback_url).toBe('https://public.example/cb');
  });

  it('finds a customer again by CPF/CNPJ, whatever the punctuation, also under concurrent creates', async () => {
    const m = await t.merchant();
    const cpf = customer().cpf_cnpj;
    const formatted = `${cpf.slice(0, 3)}.${cpf.slice(3, 6)}.${cpf.slice(6, 9)}-${cpf.slice(9)}`;
    const created = await Promise.all(
      Array.from({ length: 6 }, (_, index) =>
        createLegacyCharge(t, m, { amount: 10, description: `c${index}`, due_date: '2024-01-01', customer: { name: `Name ${index}`, cpf_cnpj: index % 2 ? cpf : formatted } }),
      ),
    );
    expect(new Set(created.map((charge) => charge.attributes.customer.id)).size).toBe(1);
    expect(await t.app.deps.prisma.chargeCustomer.count({ where: { merchantId: m.merchantId } })).toBe(1);
  });

  it('replays a create sent again with the same Idempotency-Key', async () => {
    const m = await t.merchant();
    const body = { amount: 10, description: 'once', due_date: '2024-01-01', customer: customer() };
    const headers = { 'idempotency-key': 'create-1' };
    const [first, second] = await Promise.all([
      t.request('POST', CHARGES_PATH, { authorization: basicOf(m), body, headers }),
      t.request('POST', CHARGES_PATH, { authorization: basicOf(m), body, headers }),
    ]);
    expect([first.status, second.status]).toEqual([201, 201]);
    expect(first.json.id).toBe(second.json.id);
    expect(await t.app.deps.prisma.charge.count({ where: { merchantId: m.merchantId } })).toBe(1);
  });

  it('refuses an Idempotency-Key header sent twice (the two arrive joined by ", ") and creates nothing', async () => {
    const m = await t.merchant();
    const body = { amount: 10, description: 'twice', due_date: '2024-01-01', customer: customer() };
    const twice = await t.request('POST', CHARGES_PATH, { authorization: basicOf(m), body, headers: { 'idempotency-key': 'k-1, k-2' } });
    expect(twice.status).toBe(406);
    expect(twice.json).toMatchObject({ code: '406', resource: 'resources.charge.create', message: { 'Idempotency-Key': [expect.any(String)] } });
    expect(await t.app.deps.prisma.charge.count({ where: { merchantId: m.merchantId } })).toBe(0);
  });
});

describe('authentication', () => {
  it('answers 401 without Basic credentials or with wrong ones, and 403 without the scope', async () => {
    const m = await t.merchant();
    const body = { amount: 10, description: 'x', due_date: '2024-01-01', customer: customer() };
    for (const authorization of [null, basic(m.basicKey, 'wrong'), basic('nobody', 'x'), 'Basic !!!', token(m)]) {
      const response = await t.request('POST', CHARGES_PATH, { authorization, body });
      expect(response.status).toBe(401);
      expect(response.json).toEqual({ code: 401, message: 'Unauthorized', resource: 'authorization' });
      expect(response.headers.get('www-authenticate')).toBe('Basic realm="charges"');
    }
    const noScope = await t.merchant({ scopes: ['pockets'] });
    for (const [method, path] of [
      ['POST', CHARGES_PATH],
      ['GET', CHARGES_PATH],
      ['GET', `${CHARGES_PATH}?id=1`],
      ['PUT', `${CHARGES_PATH}?id=1`],
    ] as const) {
      const response = await t.request(method, path, { authorization: basicOf(noScope), ...(method === 'GET' ? {} : { body }) });
      expect(response.status).toBe(403);
      expect(response.json).toEqual({ code: 403, message: 'Not Authorized', resource: 'authorization' });
    }
  });
});

describe('PUT, GET and the list', () => {
  it('updates only what is sent, as the document\'s {"is_active": false} example', async () => {
    const m = await t.merchant();
    const charge = await createLegacyCharge(t, m, { amount: 90, description: 'three', due_date: '2030-01-10', installments: 3, customer: customer() });
    const off = await t.request('PUT', `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(m), body: { is_active: false } });
    expect(off.status).toBe(200);
    expect(off.json.attributes).toMatchObject({ is_active: false, status: 'canceled', amount: 90, description: 'three' });

    const on = await t.request('PUT', `${CHARGES_PATH}?id=${charge.id}`, {
      authorization: basicOf(m),
      body: { is_active: true, amount: '120.00', description: 'four', due_date: '15/02/2030', last_charge_date: '2030-12-31' },
    });
    expect(on.status).toBe(200);
    expect(on.json.attributes).toMatchObject({ is_active: true, status: 'pending', amount: 120, description: 'four', starting_date: '2030-02-15', closing_date: '2030-12-31' });
    expect(on.json.attributes.installments.data.map((i: { due_date: string; amount: number }) => [i.due_date, i.amount])).toEqual([
      ['2030-02-15', 40],
      ['2030-03-15', 40],
      ['2030-04-15', 40],
    ]);

    const got = await t.request('GET', `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(m) });
    expect(got.status).toBe(200);
    expect(got.json).toEqual(on.json);
  });

  it('refuses fields that cannot change, a missing id, and unknown or foreign ids', async () => {
    const a = await t.merchant();
    const b = await t.merchant();
    const charge = await createLegacyCharge(t, a, { amount: 10, description: 'x', due_date: '2030-01-10', customer: customer() });
    const fixed = await t.request('PUT', `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(a), body: { type: 'recurring', installments: 2, description: '' } });
    expect(fixed.status).toBe(406);
    expect(fixed.json).toEqual({
      code: '406',
      message: {
        type: ['Type cannot be changed after the charge is created'],
        installments: ['Installments cannot be changed after the charge is created'],
        description: ['Description is required'],
      },
      resource: 'resources.charge.update',
    });
    const noId = await t.request('PUT', CHARGES_PATH, { authorization: basicOf(a), body: { is_active: false } });
    expect(noId.status).toBe(406);
    expect(noId.json.message).toEqual({ id: ['Id is required'] });

    for (const [method, body] of [
      ['GET', undefined],
      ['PUT', { is_active: false }],
    ] as const) {
      const foreign = await t.request(method, `${CHARGES_PATH}?id=${charge.id}`, { authorization: basicOf(b), ...(body ? { body } : {}) });
      const unknown = await t.request(method, `${CHARGES_PATH}?id=999999999`, { authorization: basicOf(a), ...(body ? { body } : {}) });
      expect(foreign.status).toBe(404);
      expect(unknown.status).toBe(404);
      expect(foreign.json.message).toEqual(unknown.json.message);
      expect(foreign.json.code).toBe('404');
    }
    const garbage = await t.request('GET', `${CHARGES_PATH}?id=abc`, { authorization: basicOf(a) });
    expect(garbage.status).toBe(406);
    expect((await t.app.deps.prisma.charge.findUniqueOrThrow({ where: { id: charge.id } })).isActive).toBe(true);
  });

  it('lists the merchant\'s charges newest first, paginated and filtered', async () => {
    const m = await t.merchant();
    const other = await t.merchant();
    await createLegacyCharge(t, other, { amount: 1, description: 'other', due_date: '2030-01-01', customer: customer() });
    const ids: number[] = [];
    for (const description of ['a', 'b', 'c']) {
      ids.push((await createLegacyCharge(t, m, { amount: 10, description, due_date: '2030-01-01', customer: customer() })).id);
    }
    await t.request('PUT', `${CHARGES_PATH}?id=${ids[0]}`, { authorization: basicOf(m), body: { is_active: false } });

    const first = await t.request('GET', `${CHARGES_PATH}?per_page=2`, { authorization: basicOf(m) });
    expect(first.status).toBe(200);
    expect(first.json.data.map((c: { id: number }) => c.id)).toEqual([ids[2], ids[1]]);
    expect(first.json.meta.pagination).toEqual({
      total: 3,
      count: 2,
      per_page: 2,
      current_page: 1,
      total_pages: 2,
      links: { next: `${CHARGES_PATH}?per_page=2&page=2` },
    });
    const second = await t.request('GET', `${CHARGES_PATH}?per_page=2&page=2`, { authorization: basicOf(m) });
    expect(second.json.data.map((c: { id: number }) => c.id)).toEqual([ids[0]]);
    const inactive = await t.request('GET', `${CHARGES_PATH}?is_active=false`, { authorization: basicOf(m) });
    expect(inactive.json.data.map((c: { id: number }) => c.id)).toEqual([ids[0]]);
    const canceled = await t.request('GET', `${CHARGES_PATH}?status=canceled`, { authorization: basicOf(m) });
    expect(canceled.json.meta.pagination.total).toBe(1);
    const bad = await t.request('GET', `${CHARGES_PATH}?per_page=1000&status=lost`, { authorization: basicOf(m) });
    expect(bad.status).toBe(406);
    expect(Object.keys(bad.json.message).sort()).toEqual(['per_page', 'status']);
  });

  it('publishes its routes in the OpenAPI document', async () => {
    const response = await t.request('GET', '/openapi.json');
    expect(Object.keys(response.json.paths[CHARGES_PATH]).sort()).toEqual(['get', 'post', 'put']);
    expect(Object.keys(response.json.paths['/vpos']).sort()).toEqual(['get', 'post']);
  });
});
