import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { findAccount, MAX_TOTAL } from '../../src/ledger/ledger.ts';
import { pocketAccountName } from '../../src/modules/pockets/service.ts';
import { expectLedgerBalanced, startApp, token, type TestApp } from '../support/app.ts';
import { chargePath, cli, createGroup, DUPLICATE, fundingBalance, newPhone, newToken, pocketBalance, SUCCESS, transferCount } from './support.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startApp();
});
afterAll(async () => {
  await expectLedgerBalanced(t);
  await t.stop();
});

type Result = { token: string; phone_number: string; amount: number; status: 'success' | 'error'; message: string };
const charge = async (authorization: string, slug: string, charges: unknown[]): Promise<Result[]> => {
  const res = await t.request('POST', chargePath(slug), { authorization, body: { charges } });
  expect(res.status, res.text).toBe(200);
  return res.json.results;
};
/** Events in the log, however many a row holds. */
const eventCount = async (merchantId: string) =>
  (await t.app.deps.prisma.event.aggregate({ where: { merchantId }, _sum: { size: true } }))._sum.size ?? 0;

describe('replays', () => {
  it('answers a replayed batch with the same results and moves nothing twice', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m, { cap: 3000n });
    const [a, b] = [newPhone(), newPhone()];
    const repeated = newToken();
    const batch = [
      { token: newToken(), phone_number: a, amount: 1000 },
      { token: repeated, phone_number: b, amount: 1500 },
      { token: repeated, phone_number: a, amount: 1 },
      { token: newToken(), phone_number: 'bad', amount: 1 },
      { token: newToken(), phone_number: b, amount: -1 },
      { token: 'not-a-token', phone_number: b, amount: 1 },
      { token: newToken(), phone_number: a, amount: 1000 },
      { token: newToken(), phone_number: b, amount: 500 },
    ];
    const first = await charge(token(m), group.slug, batch);
    expect(first.map((r) => r.status)).toEqual(['success', 'success', 'error', 'error', 'error', 'error', 'error', 'success']);
    expect(first[2]!.message).toBe(DUPLICATE);
    const balances = [await pocketBalance(t, group, a), await pocketBalance(t, group, b)];
    expect(balances).toEqual([1000n, 2000n]);
    const transfers = await transferCount(t, m.merchantId);
    const events = await eventCount(m.merchantId);
    expect(events).toBe(3);

    // The cap was reached by item 6; funding the group does not turn a spent token into a new charge.
    await cli(t, ['pocket-group', 'fund', '--merchant', m.merchantId, '--slug', group.slug, '--amount', '100000']);
    const replay = await charge(token(m), group.slug, batch);
    expect(replay).toEqual(first);
    expect([await pocketBalance(t, group, a), await pocketBalance(t, group, b)]).toEqual(balances);
    expect(await transferCount(t, m.merchantId)).toBe(transfers);
    expect(await eventCount(m.merchantId)).toBe(events);
  });

  it('answers a reused token with other details, or in another group, as a duplicate', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const other = await createGroup(t, m);
    const phone = newPhone();
    const used = newToken();
    await charge(token(m), group.slug, [{ token: used, phone_number: phone, amount: 10 }]);
    const reuses = await Promise.all([
      charge(token(m), group.slug, [{ token: used, phone_number: phone, amount: 11 }]),
      charge(token(m), group.slug, [{ token: used, phone_number: newPhone(), amount: 10 }]),
      charge(token(m), other.slug, [{ token: used, phone_number: phone, amount: 10 }]),
      // Another spelling of the same phone number and token is the same charge.
      charge(token(m), group.slug, [{ token: used.toUpperCase(), phone_number: `0${phone.slice(2)}`, amount: 10 }]),
    ]);
    expect(reuses.map(([r]) => r!.message)).toEqual([DUPLICATE, DUPLICATE, DUPLICATE, SUCCESS]);
    expect(await pocketBalance(t, group, phone)).toBe(10n);
    expect(await transferCount(t, m.merchantId)).toBe(1);
  });
});

describe('concurrency', () => {
  it('applies a token sent in two concurrent batches once', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const phone = newPhone();
    const shared = newToken();
    const same = await Promise.all(
      Array.from({ length: 4 }, () => charge(token(m), group.slug, [{ token: shared, phone_number: phone, amount: 250 }, { token: newToken(), phone_number: phone, amount: 1 }])),
    );
    // Every batch acknowledges the charge (one applied it, the others replay it); it moved once.
    expect(same.map(([r]) => r!.status)).toEqual(['success', 'success', 'success', 'success']);
    expect(await pocketBalance(t, group, phone)).toBe(250n + 4n);

    const contested = newToken();
    const rivals = await Promise.all(
      [100, 200, 300].map((amount) => charge(token(m), group.slug, [{ token: contested, phone_number: phone, amount }])),
    );
    const winners = rivals.filter(([r]) => r!.status === 'success');
    expect(winners).toHaveLength(1);
    expect(rivals.filter(([r]) => r!.message === DUPLICATE)).toHaveLength(2);
    expect(await pocketBalance(t, group, phone)).toBe(254n + BigInt(winners[0]![0]!.amount));
    expect(await transferCount(t, m.merchantId)).toBe(4 + 1 + 1);
  });

  it('spends a token sent to two groups at once in one of them only', async () => {
    // Batches of different groups run side by side: both find the token unrecorded, and the one
    // that writes second fails on the token's index, runs again, and answers DUPLICATE_TOKEN.
    const m = await t.merchant();
    const groups = [await createGroup(t, m), await createGroup(t, m)];
    const phone = newPhone();
    for (let round = 0; round < 10; round++) {
      const shared = newToken();
      const answers = await Promise.all(groups.map((group) => charge(token(m), group.slug, [{ token: shared, phone_number: phone, amount: 7 }])));
      expect(answers.map(([r]) => r!.message).sort()).toEqual([SUCCESS, DUPLICATE].sort());
    }
    expect((await pocketBalance(t, groups[0]!, phone)) + (await pocketBalance(t, groups[1]!, phone))).toBe(70n);
    expect(await transferCount(t, m.merchantId)).toBe(10);
  });

  it('never loses an update when 60 batches charge one pocket at once, up to the cap', async () => {
    const m = await t.merchant();
    const cap = 100_000n;
    const group = await createGroup(t, m, { cap });
    const phone = newPhone();
    const others = [newPhone(), newPhone()];
    const batches = Array.from({ length: 60 }, (_, i) => [
      { token: newToken(), phone_number: phone, amount: 1000 },
      { token: newToken(), phone_number: others[i % 2], amount: 500 },
      { token: newToken(), phone_number: phone, amount: 1000 + (i % 3) },
    ]);
    const results = (await Promise.all(batches.map((batch) => charge(token(m), group.slug, batch)))).flat();

    const acknowledged = (p: string) =>
      results.filter((r) => r.status === 'success' && r.phone_number === p).reduce((sum, r) => sum + BigInt(r.amount), 0n);
    const total = results.filter((r) => r.status === 'success').reduce((sum, r) => sum + BigInt(r.amount), 0n);
    expect(await pocketBalance(t, group, phone)).toBe(acknowledged(phone));
    expect((await pocketBalance(t, group, others[0]!)) + (await pocketBalance(t, group, others[1]!))).toBe(acknowledged(others[0]!) + acknowledged(others[1]!));
    expect(await fundingBalance(t, group)).toBe(-total);
    // The items asked for more than the cap: what was acknowledged fits under it, and the rest
    // failed for the cap alone, each when less room was left than it asked for.
    expect(total).toBeLessThanOrEqual(cap);
    const refused = results.filter((r) => r.status === 'error');
    expect(refused.length).toBeGreaterThan(0);
    expect(cap - total).toBeLessThan(BigInt(Math.min(...refused.map((r) => r.amount))));
    expect(new Set(refused.map((r) => r.message))).toEqual(new Set(['سقف شارژ این گروه جیب پر شده است و این شارژ انجام نشد.']));
    expect(await transferCount(t, m.merchantId)).toBe(results.length - refused.length);
  });
});

describe('limits', () => {
  it("refuses a batch that would take a pocket past the ledger's largest total, and moves nothing", async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m);
    const phone = newPhone();
    expect((await charge(token(m), group.slug, [{ token: newToken(), phone_number: phone, amount: 10 }]))[0]!.status).toBe('success');
    const pocket = (await findAccount(t.app.deps.prisma, m.merchantId, pocketAccountName(group.id, phone)))!;
    const setCredits = (value: bigint) =>
      t.app.deps.prisma.$executeRawUnsafe(`UPDATE ledger_accounts SET credits_posted = $2::bigint WHERE id = $1`, pocket.id, value.toString());
    await setCredits(MAX_TOTAL - 5n);
    try {
      const CHARGE = `mutation ($g: String!, $c: [PocketChargeInput!]!) { chargePockets(groupSlug: $g, charges: $c) { __typename ... on AppError { code field } } }`;
      const items = [{ token: newToken(), phoneNumber: newPhone(), amount: '1' }, { token: newToken(), phoneNumber: phone, amount: '10' }];
      const refused = await t.graphql(CHARGE, { g: group.slug, c: items }, { authorization: token(m) });
      expect(refused.data.chargePockets).toEqual({ __typename: 'AppError', code: 'VALIDATION_FAILED', field: 'amount' });
      expect((await findAccount(t.app.deps.prisma, m.merchantId, pocketAccountName(group.id, phone)))!.creditsPosted).toBe(MAX_TOTAL - 5n);
      expect(await fundingBalance(t, group)).toBe(-10n);
      expect(await t.app.deps.prisma.pocketCharge.count({ where: { groupId: group.id } })).toBe(1);
    } finally {
      await setCredits(10n);
    }
  });
});

describe('references', () => {
  it('refuses, in the database, a charge naming a pocket or group that does not exist, and any deletion of either', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m, { cap: 100n });
    const phone = newPhone();
    const [result] = await charge(token(m), group.slug, [{ token: newToken(), phone_number: phone, amount: 1 }]);
    expect(result!.status).toBe('success');
    const recorded = await t.app.deps.prisma.pocketCharge.findFirstOrThrow({ where: { groupId: group.id } });
    const sql = (text: string, ...params: unknown[]) => t.app.deps.sql.$executeRawUnsafe(text, ...params);
    // A copy of the charge under a new id and token, its group or pocket replaced.
    const copy = (column: 'group_id' | 'pocket_id', id: string) =>
      sql(
        `INSERT INTO pocket_charges SELECT (jsonb_populate_record(NULL::pocket_charges,
           to_jsonb(c) || jsonb_build_object('id', $2::text, 'token', $2::text, $3::text, $4::text))).* FROM pocket_charges c WHERE id = $1`,
        recorded.id, newToken(), column, id,
      );
    await expect(copy('group_id', newToken())).rejects.toThrow(/names a pocket or group that does not exist/);
    await expect(copy('pocket_id', newToken())).rejects.toThrow(/names a pocket or group that does not exist/);
    // Checked over every row of a statement: one missing pocket among existing ones is refused.
    const copies = (pockets: (string | null)[]) =>
      sql(
        `INSERT INTO pocket_charges SELECT (jsonb_populate_record(NULL::pocket_charges,
           to_jsonb(c) || jsonb_build_object('id', v.id, 'token', v.id, 'pocket_id', v.pocket))).*
         FROM pocket_charges c, unnest($2::text[], $3::text[]) AS v(id, pocket) WHERE c.id = $1`,
        recorded.id, pockets.map(() => newToken()), pockets,
      );
    await expect(copies([recorded.pocketId, null, newToken()])).rejects.toThrow(/names a pocket or group that does not exist/);
    await expect(sql('UPDATE pocket_charges SET pocket_id = $2 WHERE id = $1', recorded.id, newToken())).rejects.toThrow(/names a pocket or group/);
    await expect(sql('DELETE FROM pockets WHERE id = $1', recorded.pocketId)).rejects.toThrow(/pockets rows are kept/);
    await expect(sql('DELETE FROM pocket_groups WHERE id = $1', group.id)).rejects.toThrow(/pocket_groups rows are kept/);
    await expect(sql('UPDATE pockets SET id = $2 WHERE id = $1', recorded.pocketId, newToken())).rejects.toThrow(/pockets rows are kept/);
    expect(await t.app.deps.prisma.pocketCharge.count({ where: { groupId: group.id } })).toBe(1);
    expect(await pocketBalance(t, group, phone)).toBe(1n);
  });
});

describe('operator CLI', () => {
  it('creates, lists and funds pocket groups', async () => {
    const m = await t.merchant();
    const group = await createGroup(t, m, { cap: 1000n });
    expect(group).toMatchObject({ currency: 'IRR', cap: 1000n, name: null });
    await expect(createGroup(t, m, { slug: group.slug })).rejects.toMatchObject({ code: 'CONFLICT', field: 'slug' });
    await expect(createGroup(t, m, { slug: 'Not A Slug' })).rejects.toBeInstanceOf(AppError);
    await expect(cli(t, ['pocket-group', 'create', '--merchant', 'nobody', '--slug', 'x'])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const uncapped = (await cli(t, ['pocket-group', 'create', '--merchant', m.merchantId, '--slug', `open-${newToken().slice(-8)}`, '--name', 'Open', '--currency', 'USD'])) as {
      slug: string;
      cap: bigint | null;
    };
    expect(uncapped).toMatchObject({ cap: null, currency: 'USD', name: 'Open' });

    const phone = newPhone();
    const [first] = await charge(token(m), group.slug, [{ token: newToken(), phone_number: phone, amount: 1500 }]);
    expect(first!.status).toBe('error');
    const funded = (await cli(t, ['pocket-group', 'fund', '--merchant', m.merchantId, '--slug', group.slug, '--amount', '500'])) as { cap: bigint };
    expect(funded.cap).toBe(1500n);
    const [second] = await charge(token(m), group.slug, [{ token: newToken(), phone_number: phone, amount: 1500 }]);
    expect(second!.status).toBe('success');
    await expect(cli(t, ['pocket-group', 'fund', '--merchant', m.merchantId, '--slug', uncapped.slug, '--amount', '5'])).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
    await expect(cli(t, ['pocket-group', 'fund', '--merchant', m.merchantId, '--slug', 'missing', '--amount', '5'])).rejects.toMatchObject({ code: 'NOT_FOUND' });

    // Without a cap the funding account may go as negative as the merchant charges.
    await charge(token(m), uncapped.slug, [{ token: newToken(), phone_number: phone, amount: 9_000_000_000 }]);
    const listed = (await cli(t, ['pocket-group', 'list', '--merchant', m.merchantId])) as { pocketGroups: { slug: string; spent: bigint; remaining: bigint | null; pockets: number }[] };
    expect(listed.pocketGroups.map((g) => [g.slug, g.spent, g.remaining, g.pockets])).toEqual([
      [group.slug, 1500n, 0n, 1],
      [uncapped.slug, 9_000_000_000n, null, 1],
    ]);
  });
});
