import { requireMerchant } from '../auth/principal.ts';
import type { Deps } from '../deps.ts';
import { invalid } from '../errors.ts';
import { builder } from '../graphql/builder.ts';
import { MERCHANT_STREAM, type EventMessage } from './bus.ts';
import { latestEventId, readEventLog } from './outbox.ts';

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

/**
 * A merchant's stream: first what the event log holds after `after`, then live events, in order
 * and without repeats. The live subscription starts before the log is read, so nothing committed
 * in between is missed; anything at or below the last id sent is dropped.
 */
export async function* merchantEvents(deps: Deps, merchantId: string, after: bigint | null): AsyncGenerator<EventMessage> {
  const live = deps.bus.pubsub.subscribe(MERCHANT_STREAM, merchantId)[Symbol.asyncIterator]();
  const firstLive = live.next();
  let last = after ?? -1n;
  try {
    if (after !== null) {
      for (;;) {
        const page = await readEventLog(deps.prisma, merchantId, last);
        for (const event of page) {
          last = BigInt(event.id);
          yield event;
        }
        if (page.length < 500) break;
      }
    }
    for (let next = await firstLive; !next.done; next = await live.next()) {
      const id = BigInt(next.value.id);
      if (id <= last) continue;
      last = id;
      yield next.value;
    }
  } finally {
    await live.return?.();
  }
}

builder.queryField('latestEventId', (t) =>
  t.id({
    nullable: true,
    description:
      "The id of your latest published event; null before the first. Read it before loading what a page shows, then subscribe with `events(after:)` set to it: nothing that changed after the load is missed.",
    resolve: (_root, _args, ctx) => latestEventId(ctx.deps.prisma, requireMerchant(ctx.principal, { scope: 'events' }).merchantId),
  }),
);

builder.subscriptionField('events', (t) =>
  t.field({
    type: EventRef,
    description: "The merchant's events as they happen; pass the last id seen as `after` to first receive what was missed.",
    args: { after: t.arg.id({ required: false }) },
    subscribe: (_root, args, ctx) => {
      const merchant = requireMerchant(ctx.principal, { scope: 'events' });
      const after = args.after === null || args.after === undefined ? null : String(args.after);
      if (after !== null && !/^\d{1,19}$/.test(after)) throw invalid('after', 'after is an event id.');
      return merchantEvents(ctx.deps, merchant.merchantId, after === null ? null : BigInt(after));
    },
    resolve: (event) => event,
  }),
);
