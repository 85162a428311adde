import { Redis } from 'ioredis';
import { AppError } from '../errors.ts';
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
export const MERCHANT_STREAM = 'MERCHANT_EVENTS';

/**
 * Events as the event log holds them (one row of it): `size` consecutive events of one merchant,
 * type and topic from stream position `seq`. One event: its `objectId`, and its data as `payload`;
 * several (a batch's): `objectId` null, and `payload` the array of each one's `{ objectId, data }`.
 * Each event goes to its object's channel (`topic:objectId`) and to its merchant's stream.
 */
export interface EventRun<Payload = string> {
  /** The first event's position, as a decimal string. */
  seq: string;
  size: number;
  merchantId: string;
  type: string;
  topic: string;
  objectId: string | null;
  occurredAt: string;
  /** JSON text, as the log holds it, on the way to the bus; parsed where the events are delivered. */
  payload: Payload;
}

/** A run's events, in position order. */
export function runEvents(run: EventRun<unknown>): EventMessage[] {
  // Object literals, not spreads: a spread followed by other properties costs V8 microseconds per
  // object, and a run holds up to a batch's thousand events.
  const message = (position: bigint, objectId: string, data: unknown): EventMessage => ({
    id: position.toString(),
    type: run.type,
    merchantId: run.merchantId,
    occurredAt: run.occurredAt,
    objectId,
    data: data as Record<string, unknown>,
  });
  const first = BigInt(run.seq);
  if (run.size === 1) return [message(first, run.objectId!, run.payload)];
  return (run.payload as { objectId: string; data: unknown }[]).map((event, i) => message(first + BigInt(i), event.objectId, event.data));
}

/**
 * A live subscription to one channel. Events wait in a bounded queue until the consumer asks for
 * them: a consumer that does not read (a client whose socket is full) makes the queue overflow,
 * and the subscription then fails with SLOW_CONSUMER instead of holding events without limit. The
 * queue overflows at its limit once the consumer has asked for nothing for STALLED_MS, and at
 * BURST_ALLOWANCE times its limit while it still reads.
 */
export interface LiveSubscription extends AsyncIterableIterator<EventMessage> {
  /** True once events were dropped because the consumer fell `limit` events behind. */
  readonly overflowed: boolean;
  /**
   * Like next(), but answers `'gap'` when the transport may have lost events for this channel (the
   * Redis subscribe connection came back after an outage): a consumer that can read the event log
   * should then catch up from it.
   */
  nextOrGap(): Promise<IteratorResult<EventMessage> | 'gap'>;
  return(): Promise<IteratorResult<EventMessage>>;
}

export const slowConsumer = (limit: number) =>
  new AppError('SLOW_CONSUMER', `The subscriber fell more than ${limit} events behind and was dropped; resume from the last event id received.`);

/** What a live subscription needs from the operation it serves. */
export interface SubscriptionScope {
  /** Aborted when the operation ends: the subscription stops at once. */
  signal?: AbortSignal;
  /** Called when the queue overflows (the consumer is blocked on a client that does not read). */
  onOverflow?(): void;
}

interface Listener {
  deliver(message: EventMessage): void;
  gap(): void;
}

/** A consumer that has taken no event for this long while its queue is full is not reading. */
const STALLED_MS = 1000;
/**
 * How many times its limit a queue may hold for a consumer that is reading: events arrive in
 * bursts (a relay round publishes up to 5,000 at once), faster than any client takes them.
 */
const BURST_ALLOWANCE = 10;

class QueuedSubscription implements LiveSubscription {
  #queue: EventMessage[] = [];
  /** When the consumer last asked for an event. */
  #lastTake = Date.now();
  #waiting: { resolve: (result: IteratorResult<EventMessage> | 'gap') => void; gaps: boolean } | null = null;
  #done = false;
  #overflowed = false;
  #gapPending = false;
  readonly #listener: Listener;

  constructor(
    private readonly limit: number,
    private readonly detach: (listener: Listener) => void,
    private readonly scope: SubscriptionScope,
  ) {
    this.#listener = { deliver: (message) => this.#push(message), gap: () => this.#onGap() };
    scope.signal?.addEventListener('abort', this.#abort, { once: true });
  }

  readonly #abort = () => void this.return();

  get listener(): Listener {
    return this.#listener;
  }

  get overflowed(): boolean {
    return this.#overflowed;
  }

  #onGap(): void {
    const waiter = this.#waiting;
    if (waiter?.gaps) {
      this.#waiting = null;
      waiter.resolve('gap');
    } else this.#gapPending = true;
  }

  #push(message: EventMessage): void {
    if (this.#done) return;
    if (this.#waiting) {
      const { resolve } = this.#waiting;
      this.#waiting = null;
      resolve({ value: message, done: false });
      return;
    }
    const behind = this.#queue.length;
    if (behind >= this.limit && (behind >= this.limit * BURST_ALLOWANCE || Date.now() - this.#lastTake >= STALLED_MS)) {
      this.#overflowed = true;
      this.#queue = [];
      this.#finish();
      this.scope.onOverflow?.();
      return;
    }
    this.#queue.push(message);
  }

  #finish(): void {
    this.#done = true;
    this.scope.signal?.removeEventListener('abort', this.#abort);
    this.detach(this.#listener);
  }

  next(): Promise<IteratorResult<EventMessage>> {
    return this.#take(false) as Promise<IteratorResult<EventMessage>>;
  }

  nextOrGap(): Promise<IteratorResult<EventMessage> | 'gap'> {
    return this.#take(true);
  }

  #take(gaps: boolean): Promise<IteratorResult<EventMessage> | 'gap'> {
    this.#lastTake = Date.now();
    if (gaps && this.#gapPending) {
      this.#gapPending = false;
      return Promise.resolve('gap');
    }
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve({ value: queued, done: false });
    if (this.#overflowed) return Promise.reject(slowConsumer(this.limit));
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.#waiting = { resolve, gaps }));
  }

  async return(): Promise<IteratorResult<EventMessage>> {
    this.#queue = [];
    this.#overflowed = false;
    if (!this.#done) this.#finish();
    const waiter = this.#waiting;
    this.#waiting = null;
    waiter?.resolve({ value: undefined, done: true });
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** A channel is its merchant's: an event reaches only listeners of its own merchant. */
const key = (merchantId: string, channel: string) => `${merchantId} ${channel}`;

/**
 * Local fan-out: every channel's listeners in this process, and how many listen to each merchant's
 * channels (the transport subscribes to a merchant while any of its channels has a listener here).
 */
class Channels {
  readonly #byChannel = new Map<string, Set<Listener>>();
  readonly #byMerchant = new Map<string, number>();

  constructor(
    private readonly limit: number,
    private readonly onFirst: (merchantId: string) => void,
    private readonly onLast: (merchantId: string) => void,
  ) {}

  subscribe(merchantId: string, channel: string, scope: SubscriptionScope): LiveSubscription {
    if (scope.signal?.aborted) {
      const ended = new QueuedSubscription(0, () => {}, {});
      void ended.return();
      return ended;
    }
    const own = key(merchantId, channel);
    const subscription: QueuedSubscription = new QueuedSubscription(this.limit, (listener) => {
      const listeners = this.#byChannel.get(own);
      if (!listeners?.delete(listener)) return;
      if (listeners.size === 0) this.#byChannel.delete(own);
      const left = this.#byMerchant.get(merchantId)! - 1;
      if (left > 0) this.#byMerchant.set(merchantId, left);
      else {
        this.#byMerchant.delete(merchantId);
        this.onLast(merchantId);
      }
    }, scope);
    let listeners = this.#byChannel.get(own);
    if (!listeners) this.#byChannel.set(own, (listeners = new Set()));
    listeners.add(subscription.listener);
    const count = this.#byMerchant.get(merchantId) ?? 0;
    this.#byMerchant.set(merchantId, count + 1);
    if (count === 0) this.onFirst(merchantId);
    return subscription;
  }

  #deliver(channel: string, message: EventMessage): void {
    const listeners = this.#byChannel.get(key(message.merchantId, channel));
    if (!listeners) return;
    for (const listener of [...listeners]) listener.deliver(message);
  }

  /** A run's events to their objects' channels and their merchant's stream. */
  deliverRun(run: EventRun<unknown>): void {
    const stream = `${MERCHANT_STREAM}:${run.merchantId}`;
    for (const message of runEvents(run)) {
      this.#deliver(`${run.topic}:${message.objectId}`, message);
      this.#deliver(stream, message);
    }
  }

  gap(): void {
    for (const listeners of this.#byChannel.values()) for (const listener of listeners) listener.gap();
  }

  count(merchantId: string, channel: string): number {
    return this.#byChannel.get(key(merchantId, channel))?.size ?? 0;
  }

  /** Whether any channel of the merchant has a listener here. */
  listens(merchantId: string): boolean {
    return this.#byMerchant.has(merchantId);
  }

  /** Merchants with a listener here. */
  get merchants(): number {
    return this.#byMerchant.size;
  }
}

export interface EventBus {
  /**
   * Live events of `topic:id` from now on, on every instance; `topic:id` is an object of the
   * merchant's (or, `MERCHANT_STREAM:<merchantId>`, the merchant's whole stream).
   */
  subscribe(merchantId: string, topic: string, id: string, scope?: SubscriptionScope): LiveSubscription;
  /**
   * Sends each run's events to their objects' channels and their merchant's stream, in order;
   * resolves once they all left for every instance, rejects when they could not (Redis down). An
   * event goes to channels of its own merchant only. Payloads go as the JSON text they are, parsed
   * only where someone listens.
   */
  publish(runs: EventRun[]): Promise<void>;
  /** Local subscriptions to the merchant's `topic:id` on this instance (one Redis subscription per merchant serves them all). */
  subscribers(merchantId: string, topic: string, id: string): number;
  /** Throws when the shared transport cannot be reached. */
  ping(): Promise<void>;
  close(): Promise<void>;
  kind: 'memory' | 'redis';
}

export interface BusOptions {
  /** Events a subscription may hold for a consumer that does not read (SUBSCRIPTION_QUEUE_LIMIT). */
  queueLimit: number;
}

export function createMemoryBus(options: BusOptions): EventBus {
  const channels = new Channels(options.queueLimit, () => {}, () => {});
  return {
    kind: 'memory',
    subscribe: (merchantId, topic, id, scope = {}) => channels.subscribe(merchantId, `${topic}:${id}`, scope),
    publish: async (runs) => {
      for (const run of runs) if (channels.listens(run.merchantId)) channels.deliverRun({ ...run, payload: JSON.parse(run.payload) as unknown });
    },
    subscribers: (merchantId, topic, id) => channels.count(merchantId, `${topic}:${id}`),
    ping: async () => {},
    close: async () => {},
  };
}

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

/**
 * The Redis channel that carries a merchant's events to every instance. Versioned by what its
 * messages hold: `events:<merchantId>` carried one delivery per event, with its channels.
 */
export const redisChannel = (merchantId: string) => `events:v2:${merchantId}`;

/** A run as JSON text, its payload spliced in as the JSON text it is, never parsed. A Redis message is a JSON array of them. */
const runText = ({ payload, ...header }: EventRun): string => `${JSON.stringify(header).slice(0, -1)},"payload":${payload}}`;

/**
 * Redis pub/sub through two connections (publish, subscribe) and one Redis channel per merchant
 * (see redisChannel), which an instance subscribes to while it serves any subscription to that
 * merchant's channels, and fans out by `topic:id` itself. The relay's round is then one Redis
 * message per merchant, however many objects its events are about (a batch of 1,000 pocket
 * charges: one message, rather than one per pocket and one for the merchant's stream).
 *
 * Publishing is awaited and fails while Redis is down, so the relay keeps the event in the outbox
 * until Redis has taken it; SUBSCRIBE and UNSUBSCRIBE failures are logged, never left as
 * unhandled rejections. When the subscribe connection comes back after an outage (ioredis
 * subscribes to every channel again), messages published meanwhile are lost to it: every
 * subscription is told so (`nextOrGap`), and the merchant stream reads what it missed from the
 * event log.
 */
export function createRedisBus(url: string, logger: Logger, options: BusOptions): EventBus {
  const retryStrategy = (attempt: number) => Math.min(attempt * 200, 2000);
  // Auto-pipelining: messages published in one turn are sent as one write, in the same order.
  const publishClient = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy, enableAutoPipelining: true });
  const subscribeClient = new Redis(url, { retryStrategy, maxRetriesPerRequest: null });
  for (const [name, client] of [
    ['publish', publishClient],
    ['subscribe', subscribeClient],
  ] as const) {
    client.on('error', (error: Error) => logger.warn({ err: error.message, connection: name }, 'redis connection error'));
  }
  const warn = (action: string, channel: string) => (error: Error) => logger.warn({ err: error.message, channel }, `redis ${action} failed`);
  const channels = new Channels(
    options.queueLimit,
    (merchantId) => void subscribeClient.subscribe(redisChannel(merchantId)).catch(warn('subscribe', redisChannel(merchantId))),
    (merchantId) => void subscribeClient.unsubscribe(redisChannel(merchantId)).catch(warn('unsubscribe', redisChannel(merchantId))),
  );
  subscribeClient.on('message', (channel: string, text: string) => {
    try {
      const runs = JSON.parse(text) as EventRun<unknown>[];
      if (!Array.isArray(runs)) throw new TypeError('not an array');
      for (const run of runs) if (channels.listens(run.merchantId)) channels.deliverRun(run);
    } catch (error) {
      logger.warn({ channel, err: (error as Error).message }, 'ignored (the rest of) a message that is not a JSON array of event runs');
    }
  });
  subscribeClient.on('ready', () => {
    // Subscriptions made while the connection was down (at start, or during an outage) missed
    // what other instances published meanwhile, as did the ones it carried before an outage.
    if (channels.merchants === 0) return;
    // Commands on one connection run in order: once PING answers, the re-subscriptions (and the
    // subscriptions queued while offline) are in force, and a subscriber reading the log from then
    // misses nothing. ioredis emits 'ready' before it writes them, hence the PING a turn later.
    setImmediate(() =>
      subscribeClient.ping().then(
        () => {
          logger.info({ merchants: channels.merchants }, 'redis subscriptions restored');
          channels.gap();
        },
        (error: Error) => logger.warn({ err: error.message }, 'redis ping after reconnecting failed'),
      ),
    );
  });
  return {
    kind: 'redis',
    subscribe: (merchantId, topic, id, scope = {}) => channels.subscribe(merchantId, `${topic}:${id}`, scope),
    publish: async (runs) => {
      const byMerchant = new Map<string, string[]>();
      for (const run of runs) {
        let texts = byMerchant.get(run.merchantId);
        if (!texts) byMerchant.set(run.merchantId, (texts = []));
        texts.push(runText(run));
      }
      await Promise.all([...byMerchant].map(([merchantId, texts]) => publishClient.publish(redisChannel(merchantId), `[${texts.join(',')}]`)));
    },
    subscribers: (merchantId, topic, id) => channels.count(merchantId, `${topic}:${id}`),
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
