import { requireMerchant } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { invalid } from '../errors.ts';
import { builder } from '../graphql/builder.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { MERCHANT_STREAM, type EventMessage, type LiveSubscription, type SubscriptionScope } from './bus.ts';
import { readEventLog, streamPosition } from './outbox.ts';

export const EventRef = builder.objectRef<EventMessage>('Event').implement({
  description: 'Something that changed. Re-read the object it names for its current state.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Ordered: a later event has a larger id.' }),
    type: t.exposeString('type', { description: 'Dot-separated, domain first, e.g. `pocket.charged`.' }),
    objectId: t.exposeID('objectId', { description: 'The id of the object concerned.' }),
    occurredAt: t.field({ type: 'DateTime', resolve: (event) => new Date(event.occurredAt) }),
    data: t.field({ type: 'JSON', resolve: (event) => event.data }),
  }),
});

const PAGE = 500;

/**
 * A merchant's stream: first what the event log holds after `after`, then live events, in order
 * and without repeats. The live subscription starts before the log is read, so nothing committed
 * in between is missed; anything at or below the last id sent is dropped. The log is read again
 * whenever live delivery may have lost events: when the live queue overflowed while the log was
 * being replayed (the replay itself is the catching up), and when the Redis subscribe connection
 * came back after an outage. Once live, a consumer that stops reading is dropped (SLOW_CONSUMER).
 */
export async function* merchantEvents(deps: Deps, merchantId: string, after: bigint | null, scope: SubscriptionScope = {}): AsyncGenerator<EventMessage> {
  // Overflowing while the log is being read is expected (the log is the catching up); once live,
  // it means the client stopped reading.
  let catchingUp = false;
  const liveScope: SubscriptionScope = {
    signal: scope.signal,
    onOverflow: () => {
      if (!catchingUp) scope.onOverflow?.();
    },
  };
  let live: LiveSubscription = deps.bus.subscribe(merchantId, MERCHANT_STREAM, merchantId, liveScope);
  const signal = scope.signal;
  // A live-only stream starts where the log stands once it is subscribed, so that a gap in live
  // delivery can be filled from the log without replaying older events.
  let last = after ?? (await streamPosition(deps.prisma, merchantId)) ?? 0n;
  async function* fromLog(): AsyncGenerator<EventMessage> {
    catchingUp = true;
    try {
      for (;;) {
        if (signal?.aborted) return;
        if (live.overflowed) {
          await live.return();
          live = deps.bus.subscribe(merchantId, MERCHANT_STREAM, merchantId, liveScope);
        }
        const page = await readEventLog(deps.prisma, merchantId, last, PAGE);
        for (const event of page) {
          last = BigInt(event.id);
          yield event;
        }
        if (page.length < PAGE && !live.overflowed) return;
      }
    } finally {
      catchingUp = false;
    }
  }
  try {
    if (after !== null) yield* fromLog();
    for (;;) {
      const step = await live.nextOrGap();
      if (step === 'gap') {
        yield* fromLog();
        continue;
      }
      if (step.done) return;
      const id = BigInt(step.value.id);
      if (id <= last) continue;
      last = id;
      yield step.value;
    }
  } finally {
    await live.return();
  }
}

const MAX_EVENT_ID = 2n ** 63n - 1n;

/**
 * The position a resumable subscription starts after: the SSE `Last-Event-ID` header when the
 * request carries one (a reconnecting EventSource sends the id of the last message it received,
 * which is newer than the `after` its URL was first opened with), else the `after` argument.
 */
export function resumePosition(ctx: GraphQLContext, after: unknown, field = 'after'): bigint | null {
  const given = ctx.stream?.lastEventId ?? (after === null || after === undefined ? null : String(after));
  if (given === null) return null;
  // Event ids are PostgreSQL bigints: nineteen digits may still pass its largest.
  if (!/^\d{1,19}$/.test(given) || BigInt(given) > MAX_EVENT_ID) throw invalid(field, `${field} is an event id.`);
  return BigInt(given);
}

/** Records, for the SSE writer, the event id of each item a resumable subscription yields. */
export function withEventIds<T>(ctx: GraphQLContext, source: AsyncIterable<T>, idOf: (item: T) => string): AsyncIterable<T> {
  const cursor = ctx.stream;
  if (!cursor) return source;
  return (async function* () {
    for await (const item of source) {
      cursor.eventId = idOf(item);
      yield item;
    }
  })();
}

builder.queryField('latestEventId', (t) =>
  t.id({
    nullable: true,
    description:
      "The id of your latest published event; null before the first. Read it before loading what a page shows, then subscribe with `events(after:)` set to it: nothing that changed after the load is missed.",
    resolve: async (_root, _args, ctx) =>
      (await streamPosition(ctx.deps.prisma, requireMerchant(ctx.principal, { scope: 'events' }).merchantId))?.toString() ?? null,
  }),
);

builder.subscriptionField('events', (t) =>
  t.field({
    type: EventRef,
    description:
      "The merchant's events as they happen; pass the last id seen as `after` (or, over SSE, the `Last-Event-ID` header) to first receive what was missed.",
    args: { after: t.arg.id({ required: false }) },
    subscribe: (_root, args, ctx) => {
      const merchant = requireMerchant(ctx.principal, { scope: 'events' });
      const after = resumePosition(ctx, args.after);
      return withEventIds(ctx, merchantEvents(ctx.deps, merchant.merchantId, after, ctx.operation), (event) => event.id);
    },
    resolve: (event) => event,
  }),
);
