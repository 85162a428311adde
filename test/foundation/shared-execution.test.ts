import { createSchema, createYoga } from 'graphql-yoga';
import { afterEach, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.ts';
import { createMemoryBus, type EventMessage, type EventRun } from '../../src/events/bus.ts';
import { sharedSubscriptionExecution } from '../../src/events/shared-execution.ts';
import type { GraphQLContext } from '../../src/graphql/context.ts';

/**
 * A schema of one subscription over the in-process bus, whose resolvers count their calls and
 * answer who asked: enough to see what is executed once per event and what per subscriber.
 */
function setup() {
  const bus = createMemoryBus({ queueLimit: 100 });
  const calls = { event: 0, viewer: 0 };
  const schema = createSchema<GraphQLContext>({
    typeDefs: /* GraphQL */ `
      type Query { ok: Boolean }
      type Change { id: ID! objectId: ID! viewer: String! label(prefix: String!): String! }
      type Subscription { changed(channel: String!): Change! }
    `,
    resolvers: {
      Subscription: {
        changed: {
          subscribe: (_root: unknown, args: { channel: string }, ctx: GraphQLContext) => {
            if (args.channel === 'broken') throw new AppError('NOT_FOUND', 'No such channel.');
            return bus.subscribe('m1', 'TEST', args.channel, ctx.operation);
          },
          resolve: (event: EventMessage) => {
            calls.event++;
            return event;
          },
        },
      },
      Change: {
        viewer: (_event: EventMessage, _args: unknown, ctx: GraphQLContext) => {
          calls.viewer++;
          return ctx.principal?.kind === 'merchant' ? `${ctx.principal.credentialId}:${[...ctx.principal.scopes].join(',')}` : 'anonymous';
        },
        label: (event: EventMessage, args: { prefix: string }) => `${args.prefix}${event.objectId}`,
      },
    },
  });
  const yoga = createYoga<object, GraphQLContext>({
    schema,
    plugins: [sharedSubscriptionExecution()],
    maskedErrors: false,
    context: ({ request }) => {
      const [credentialId, scopes] = (request.headers.get('x-who') ?? 'c1:events').split(':');
      return {
        principal: { kind: 'merchant', merchantId: 'm1', companyId: 'co', credentialId, credentialKind: 'token', scopes: new Set(scopes!.split(',')), rights: new Set() },
        operation: {},
      } as unknown as GraphQLContext;
    },
  });
  return { bus, calls, yoga };
}

/** An SSE subscription through Yoga's fetch handler; `next()` answers its next result. */
async function subscribe(yoga: ReturnType<typeof setup>['yoga'], query: string, variables: Record<string, unknown>, who?: string) {
  const controller = new AbortController();
  const response = await yoga.fetch('http://test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', ...(who ? { 'x-who': who } : {}) },
    body: JSON.stringify({ query, variables }),
    signal: controller.signal,
  });
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  return {
    status: response.status,
    async next(): Promise<{ data?: { changed: Record<string, string> }; errors?: { message: string; extensions?: Record<string, unknown> }[] }> {
      for (;;) {
        const match = /event: next\ndata: (.*)\n\n/.exec(buffered);
        if (match) {
          buffered = buffered.slice(match.index + match[0].length);
          return JSON.parse(match[1]!);
        }
        const { value, done } = await reader.read();
        if (done) throw new Error(`the stream ended: ${buffered}`);
        buffered += value;
      }
    },
    stop: () => controller.abort(),
  };
}

/** A run of one event on `TEST:<objectId>`, as the relay publishes one. */
const event = (seq: string, objectId: string): EventRun => ({ seq, size: 1, merchantId: 'm1', type: 'test.changed', topic: 'TEST', objectId, occurredAt: new Date(0).toISOString(), payload: '{}' });
const QUERY = 'subscription S($channel: String!, $prefix: String!) { changed(channel: $channel) { id viewer label(prefix: $prefix) } }';
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('shared subscription execution', () => {
  let stops: (() => void)[] = [];
  afterEach(() => {
    for (const stop of stops) stop();
    stops = [];
  });

  it('executes each event once for the subscriptions that ask the same, and apart for the others', async () => {
    const { bus, calls, yoga } = setup();
    const open = async (variables: Record<string, unknown>, who?: string) => {
      const stream = await subscribe(yoga, QUERY, variables, who);
      stops.push(stream.stop);
      return stream;
    };
    const same = await Promise.all([1, 2, 3].map(() => open({ channel: 'a', prefix: 'x-' })));
    const otherVariables = await open({ channel: 'a', prefix: 'y-' });
    const otherCredential = await open({ channel: 'a', prefix: 'x-' }, 'c2:events');
    const otherScopes = await open({ channel: 'a', prefix: 'x-' }, 'c1:events,pockets');
    for (let i = 0; i < 100 && bus.subscribers('m1', 'TEST', 'a') < 6; i++) await settle();
    expect(bus.subscribers('m1', 'TEST', 'a')).toBe(6);

    await bus.publish([event('1', 'a')]);
    await bus.publish([event('2', 'a')]);
    for (const stream of same) {
      expect(await stream.next()).toEqual({ data: { changed: { id: '1', viewer: 'c1:events', label: 'x-a' } } });
      expect(await stream.next()).toEqual({ data: { changed: { id: '2', viewer: 'c1:events', label: 'x-a' } } });
    }
    expect((await otherVariables.next()).data?.changed).toEqual({ id: '1', viewer: 'c1:events', label: 'y-a' });
    expect((await otherCredential.next()).data?.changed).toEqual({ id: '1', viewer: 'c2:events', label: 'x-a' });
    expect((await otherScopes.next()).data?.changed).toEqual({ id: '1', viewer: 'c1:events,pockets', label: 'x-a' });
    for (const stream of [otherVariables, otherCredential, otherScopes]) expect((await stream.next()).data?.changed.id).toBe('2');
    // Four different subscriptions (same, other variables, other credential, other scopes), two events.
    expect(calls).toEqual({ event: 8, viewer: 8 });
  });

  it('answers bad variables and a failing subscribe resolver as the executor does, without a stream', async () => {
    const { yoga } = setup();
    const bad = await yoga.fetch('http://test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: QUERY, variables: { channel: 5, prefix: 'x' } }),
    });
    const badText = await bad.text();
    expect(badText).toContain('Variable \\"$channel\\" got invalid value 5');
    expect(badText).toContain('BAD_USER_INPUT');

    const broken = await subscribe(yoga, QUERY, { channel: 'broken', prefix: 'x' });
    const result = await broken.next();
    expect(result.errors?.[0]?.message).toBe('No such channel.');
  });

  it('ends the stream with the source\'s error when the bus drops a slow subscriber', async () => {
    const bus = createMemoryBus({ queueLimit: 1 });
    const live = bus.subscribe('m1', 'TEST', 'slow', {});
    // Eleven events on a queue of one: past ten times its limit, it overflows before anyone reads.
    for (let i = 1; i <= 11; i++) await bus.publish([event(String(i), 'slow')]);
    const schema = createSchema({
      typeDefs: 'type Query { ok: Boolean } type Subscription { changed: ID! }',
      resolvers: { Subscription: { changed: { subscribe: () => live, resolve: (e: EventMessage) => e.id } } },
    });
    const yoga = createYoga({ schema, plugins: [sharedSubscriptionExecution()], maskedErrors: false });
    const stream = await subscribe(yoga as never, 'subscription { changed }', {});
    const result = await stream.next();
    expect(result.errors?.[0]?.message).toMatch(/fell more than 1 events behind/);
  });
});
