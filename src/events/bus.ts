import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub, type PubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';
import type { Logger } from '../logger.ts';

/** What subscribers receive: a pointer to what changed. Subscribers re-read the object they show. */
export interface EventMessage {
  /** Ordered per stream (the event log's sequence), as a decimal string. */
  id: string;
  /** Dot-separated, domain first: `pocket.charged`. */
  type: string;
  merchantId: string;
  objectId: string;
  occurredAt: string;
  data: Record<string, unknown>;
}

/** Channels are `topic:id`; the merchant-wide stream is `MERCHANT_EVENTS:<merchantId>`. */
export type Topics = Record<string, [id: string, message: EventMessage]>;
export const MERCHANT_STREAM = 'MERCHANT_EVENTS';

export interface EventBus {
  pubsub: PubSub<Topics>;
  /** Resolves once the message left for every instance; rejects when it could not (Redis down). */
  publish(topic: string, id: string, message: EventMessage): Promise<void>;
  /** Throws when the shared transport cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
  kind: 'memory' | 'redis';
}

export function createMemoryBus(): EventBus {
  const pubsub = createPubSub<Topics>();
  return {
    kind: 'memory',
    pubsub,
    publish: async (topic, id, message) => pubsub.publish(topic, id, message),
    ping: async () => {},
    close: async () => {},
  };
}

/**
 * Redis pub/sub through two connections. Subscriptions go through the Yoga Redis event target;
 * publishing does not: the event target's dispatchEvent fires `PUBLISH` without awaiting it, so a
 * Redis outage would surface as an unhandled rejection and the event would be lost. The relay
 * publishes on the same channels with the same JSON encoding, awaits the answer, and keeps the
 * event in the outbox until Redis has taken it.
 */
/** Waits for a connection that is still being made (at start, or reconnecting after an outage). */
function ready(client: Redis, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onReady = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      client.off('ready', onReady);
      reject(new Error('redis is not connected'));
    }, ms);
    client.once('ready', onReady);
  });
}

export function createRedisBus(url: string, logger: Logger): EventBus {
  const publishClient = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: false,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  const subscribeClient = new Redis(url, { retryStrategy: (attempt) => Math.min(attempt * 200, 2000) });
  for (const [name, client] of [
    ['publish', publishClient],
    ['subscribe', subscribeClient],
  ] as const) {
    client.on('error', (error: Error) => logger.warn({ err: error.message, connection: name }, 'redis connection error'));
  }
  const eventTarget = createRedisEventTarget({ publishClient, subscribeClient });
  const pubsub = createPubSub<Topics>({ eventTarget });
  return {
    kind: 'redis',
    pubsub,
    publish: async (topic, id, message) => {
      await publishClient.publish(`${topic}:${id}`, JSON.stringify(message));
    },
    ping: async () => {
      if (publishClient.status !== 'ready') await ready(publishClient, 1000);
      if ((await publishClient.ping()) !== 'PONG') throw new Error('redis did not answer PONG');
    },
    close: async () => {
      publishClient.disconnect();
      subscribeClient.disconnect();
    },
  };
}
