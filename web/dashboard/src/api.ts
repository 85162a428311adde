import { createClient, type Client } from 'graphql-ws';
import { DashboardEventsDocument, type DashboardEventsSubscription, type TypedDocumentString } from '../generated/graphql.ts';

export interface GraphQLError {
  message: string;
  extensions?: { code?: string };
  path?: readonly (string | number)[];
}

export interface Result<T> {
  data: T | null;
  errors: GraphQLError[];
}

/** The credential was refused: the page signs out. */
export class Unauthenticated extends Error {}

const GRAPHQL_PATH = '/graphql';

/** GraphQL over HTTP with the signed-in merchant's credential, as any frontend calls the API. */
export async function request<T, V>(authorization: string, document: TypedDocumentString<T, V>, variables: V): Promise<Result<T>> {
  const response = await fetch(GRAPHQL_PATH, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' },
    body: JSON.stringify({ query: String(document), variables }),
  });
  if (response.status === 401) throw new Unauthenticated('The credential was refused.');
  const body = (await response.json().catch(() => null)) as { data?: T | null; errors?: GraphQLError[] } | null;
  if (!body) throw new Error(`The API answered ${response.status} without a GraphQL result.`);
  if (body.errors?.some((error) => error.extensions?.code === 'UNAUTHENTICATED')) throw new Unauthenticated('The credential was refused.');
  return { data: body.data ?? null, errors: body.errors ?? [] };
}

export type StreamEvent = DashboardEventsSubscription['events'];
export type Transport = 'websocket' | 'sse';
export type StreamState = { state: 'connecting' | 'live' | 'reconnecting'; transport: Transport } | { state: 'failed'; transport: Transport; message: string };

export interface StreamHandlers {
  event(event: StreamEvent): void;
  state(state: StreamState): void;
  /** A connection (the first or a new one) is up: what is shown from a snapshot may be refreshed. */
  connected(): void;
  unauthenticated(): void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class StreamEnded extends Error {
  constructor(
    message: string,
    readonly fatal: boolean,
  ) {
    super(message);
  }
}

/**
 * The merchant's event stream, kept open across disconnections and server restarts. Every
 * (re)subscription asks for `events(after: <last id received>)`, so the server first replays what
 * was missed; ids at or below the last one are dropped, so nothing is applied twice. graphql-ws is
 * the transport; when a WebSocket cannot be opened at all (a proxy refusing upgrades), the stream
 * falls back to Server-Sent Events over a streamed POST, which carries the Authorization header
 * that EventSource could not.
 */
export class EventStream {
  #stopped = false;
  #abort: (() => void) | null = null;
  #lastId: bigint;

  constructor(
    private readonly authorization: string,
    after: string,
    private readonly handlers: StreamHandlers,
    private readonly forced: Transport | null = null,
  ) {
    this.#lastId = BigInt(after);
  }

  get lastId(): string {
    return this.#lastId.toString();
  }

  start(): void {
    void this.#run();
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.();
  }

  async #run(): Promise<void> {
    let websocketWorked = false;
    let websocketFailures = 0;
    let backoff = 250;
    let first = true;
    while (!this.#stopped) {
      const transport: Transport = this.forced ?? (!websocketWorked && websocketFailures >= 2 ? 'sse' : 'websocket');
      this.handlers.state({ state: first ? 'connecting' : 'reconnecting', transport });
      first = false;
      let connected = false;
      const onConnected = () => {
        connected = true;
        backoff = 250;
        if (transport === 'websocket') websocketWorked = true;
        this.handlers.state({ state: 'live', transport });
        this.handlers.connected();
      };
      try {
        await (transport === 'websocket' ? this.#overWebSocket(onConnected) : this.#overSse(onConnected));
      } catch (error) {
        if (error instanceof Unauthenticated) {
          this.handlers.unauthenticated();
          return;
        }
        if (error instanceof StreamEnded && error.fatal) {
          this.handlers.state({ state: 'failed', transport, message: error.message });
          return;
        }
      }
      if (this.#stopped) return;
      if (transport === 'websocket' && !connected) websocketFailures++;
      this.handlers.state({ state: 'reconnecting', transport });
      await sleep(backoff);
      backoff = Math.min(backoff * 2, 4000);
    }
  }

  #accept(payload: { data?: { events: StreamEvent } | null; errors?: readonly GraphQLError[] }): void {
    if (payload.errors?.length) {
      const [error] = payload.errors;
      if (error!.extensions?.code === 'UNAUTHENTICATED') throw new Unauthenticated(error!.message);
      throw new StreamEnded(error!.message, error!.extensions?.code === 'FORBIDDEN');
    }
    const event = payload.data?.events;
    if (!event) return;
    const id = BigInt(event.id);
    if (id <= this.#lastId) return;
    this.#lastId = id;
    this.handlers.event(event);
  }

  #overWebSocket(onConnected: () => void): Promise<void> {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${GRAPHQL_PATH}`;
    return new Promise<void>((resolve, reject) => {
      let client: Client | null = null;
      const end = (error?: unknown) => {
        this.#abort = null;
        void client?.dispose();
        if (error === undefined) resolve();
        else reject(error);
      };
      client = createClient({
        url,
        connectionParams: { authorization: this.authorization },
        retryAttempts: 0,
        lazy: true,
        keepAlive: 10_000,
        on: {
          connected: onConnected,
          closed: (event) => {
            const code = (event as CloseEvent | undefined)?.code;
            if (code === 4403) end(new Unauthenticated('The credential was refused.'));
          },
        },
      });
      this.#abort = () => end();
      client.subscribe<{ events: StreamEvent }>(
        { query: String(DashboardEventsDocument), variables: { after: this.lastId } },
        {
          next: (payload) => {
            try {
              this.#accept(payload);
            } catch (error) {
              end(error);
            }
          },
          error: (error) => end(error instanceof Error ? error : new Error('The connection closed.')),
          complete: () => end(),
        },
      );
    });
  }

  async #overSse(onConnected: () => void): Promise<void> {
    const controller = new AbortController();
    this.#abort = () => controller.abort();
    try {
      const response = await fetch(GRAPHQL_PATH, {
        method: 'POST',
        signal: controller.signal,
        headers: { authorization: this.authorization, 'content-type': 'application/json', accept: 'text/event-stream' },
        body: JSON.stringify({ query: String(DashboardEventsDocument), variables: { after: this.lastId } }),
      });
      if (response.status === 401) throw new Unauthenticated('The credential was refused.');
      if (!response.ok || !response.body) throw new Error(`The event stream answered ${response.status}.`);
      onConnected();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        let boundary: number;
        while ((boundary = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const message = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary).replace(/^\r?\n\r?\n/, '');
          let event = 'message';
          const data: string[] = [];
          for (const line of message.split(/\r?\n/)) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
          }
          if (event === 'complete') return;
          if (data.length > 0 && data.join('') !== '') this.#accept(JSON.parse(data.join('\n')));
        }
      }
    } catch (error) {
      if (controller.signal.aborted) return;
      throw error;
    } finally {
      this.#abort = null;
    }
  }
}
