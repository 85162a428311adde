import { print } from 'graphql';
import WebSocket from 'ws';
import { transact } from '../../src/deps.ts';
import { recordEvents } from '../../src/events/outbox.ts';
import { EventsDocument } from '../generated/graphql.ts';
import type { TestApp } from './app.ts';

export const EVENTS_QUERY = print(EventsDocument);

/** Commits one event for the merchant through the outbox, as a domain service would. */
export const emit = (t: TestApp, merchantId: string, objectId: string, data: Record<string, unknown> = {}, type = 'test.happened') =>
  transact(t.app.deps, (tx) => recordEvents(tx, [{ merchantId, type, topic: 'TEST', objectId, data: { objectId, ...data } }]));

export const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` holds, or fails after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await wait(25);
  }
}

export interface RawMessage {
  type: string;
  id?: string;
  payload?: any;
}

/**
 * A graphql-transport-ws client speaking the protocol by hand, to see close codes and to stop
 * reading on purpose.
 */
export class RawSocket {
  readonly messages: RawMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  #waiters: (() => void)[] = [];

  constructor(readonly socket: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    this.closed = new Promise((resolve) => socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    socket.on('message', (data) => {
      this.messages.push(JSON.parse(String(data)) as RawMessage);
      for (const waiter of this.#waiters.splice(0)) waiter();
    });
    socket.on('error', () => {});
  }

  static async open(t: TestApp): Promise<RawSocket> {
    const raw = new RawSocket(new WebSocket(`${t.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws'));
    await raw.opened;
    return raw;
  }

  send(message: RawMessage): void {
    this.socket.send(JSON.stringify(message));
  }

  async init(authorization: string): Promise<void> {
    this.send({ type: 'connection_init', payload: { authorization } });
    await this.next((m) => m.type === 'connection_ack');
  }

  subscribe(id: string, query: string, variables: Record<string, unknown> = {}): void {
    this.send({ type: 'subscribe', id, payload: { query, variables } });
  }

  /** The first message (received so far or later) that matches. */
  async next(match: (message: RawMessage) => boolean, ms = 10_000): Promise<RawMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.messages.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching message; got ${JSON.stringify(this.messages.slice(-3))}`);
      await Promise.race([new Promise<void>((resolve) => this.#waiters.push(resolve)), wait(100)]);
    }
  }

  /** The data of every `next` message of one subscription, in order. */
  results(id: string): any[] {
    return this.messages.filter((m) => m.type === 'next' && m.id === id).map((m) => m.payload);
  }
}

export interface SseMessage {
  event?: string;
  id?: string;
  data?: string;
}

/** A raw SSE request to /graphql, read by hand. */
export class SseStream {
  readonly messages: SseMessage[] = [];
  #buffer = '';

  private constructor(
    readonly response: Response,
    readonly controller: AbortController,
  ) {}

  static async open(t: TestApp, authorization: string, body: Record<string, unknown>, headers: Record<string, string> = {}): Promise<SseStream> {
    const controller = new AbortController();
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization, ...headers },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    return new SseStream(response, controller);
  }

  /** Reads until `count` `next` messages have arrived (or the stream ends). */
  async nextMessages(count: number, ms = 10_000): Promise<SseMessage[]> {
    const reader = this.response.body!.getReader();
    const decoder = new TextDecoder();
    const deadline = setTimeout(() => this.controller.abort(), ms);
    try {
      while (this.messages.filter((m) => m.event === 'next').length < count) {
        const { value, done } = await reader.read();
        if (done) break;
        this.#buffer += decoder.decode(value, { stream: true });
        for (let end = this.#buffer.indexOf('\n\n'); end >= 0; end = this.#buffer.indexOf('\n\n')) {
          const block = this.#buffer.slice(0, end);
          this.#buffer = this.#buffer.slice(end + 2);
          const message: SseMessage = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':') || line === '') continue;
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event' || field === 'id' || field === 'data') message[field] = value;
          }
          if (Object.keys(message).length > 0) this.messages.push(message);
        }
      }
    } finally {
      clearTimeout(deadline);
      reader.releaseLock();
    }
    return this.messages.filter((m) => m.event === 'next');
  }

  close(): void {
    this.controller.abort();
  }
}
