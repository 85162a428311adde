/**
 * The physical baseline of the subscriptions scenario: a bare `ws` server speaking just enough
 * graphql-transport-ws (ack, subscribe, next) that forwards the events of each message arriving on
 * a merchant's Redis channel (the outbox relay's: a JSON array of event runs, see createRedisBus)
 * to the sockets subscribed to their channels (their objects' and their merchant's): each event
 * is serialised once and the same string goes to every recipient. A subscription names its
 * merchant and channel in its variables (`{"merchantId": "…", "channel": "RECHARGE_PAYMENT:<id>"}`).
 * Needs REDIS_URL; listens on 127.0.0.1:$PORT and prints its URL once listening.
 */
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { WebSocket, WebSocketServer } from 'ws';
import { MERCHANT_STREAM, redisChannel, runEvents, type EventMessage, type EventRun } from '../../src/events/bus.ts';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is required');
const redis = new Redis(redisUrl);
const recipients = new Map<string, { socket: WebSocket; id: string }[]>();

/** Local subscriptions per merchant: its Redis channel is subscribed to while there are any. */
const merchants = new Map<string, number>();

/** Sends the event to the sockets subscribed to any of the channels, serialised once. */
function forward(event: EventMessage, to: string[]): void {
  let payload: string | null = null;
  for (const channel of to) {
    for (const { socket, id } of recipients.get(channel) ?? []) {
      payload ??= `{"data":{"event":${JSON.stringify(event)}}}`;
      if (socket.readyState === WebSocket.OPEN) socket.send(`{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`);
    }
  }
}

redis.on('message', (_channel: string, text: string) => {
  for (const run of JSON.parse(text) as EventRun<unknown>[]) {
    for (const event of runEvents(run)) forward(event, [`${run.topic}:${event.objectId}`, `${MERCHANT_STREAM}:${event.merchantId}`]);
  }
});

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0), handleProtocols: () => 'graphql-transport-ws' });
wss.on('connection', (socket) => {
  const mine: [string, string, { socket: WebSocket; id: string }][] = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: { variables?: { merchantId?: string; channel?: string } } };
    if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
    else if (message.type === 'ping') socket.send('{"type":"pong"}');
    else if (message.type === 'subscribe' && message.id && message.payload?.variables?.channel && message.payload.variables.merchantId) {
      const { merchantId, channel } = message.payload.variables;
      const entry = { socket, id: message.id };
      let list = recipients.get(channel);
      if (!list) recipients.set(channel, (list = []));
      list.push(entry);
      const count = merchants.get(merchantId) ?? 0;
      merchants.set(merchantId, count + 1);
      if (count === 0) void redis.subscribe(redisChannel(merchantId));
      mine.push([merchantId, channel, entry]);
    }
  });
  socket.on('close', () => {
    for (const [merchantId, channel, entry] of mine) {
      const list = recipients.get(channel)?.filter((other) => other !== entry) ?? [];
      if (list.length > 0) recipients.set(channel, list);
      else recipients.delete(channel);
      const left = merchants.get(merchantId)! - 1;
      if (left > 0) merchants.set(merchantId, left);
      else {
        merchants.delete(merchantId);
        void redis.unsubscribe(redisChannel(merchantId));
      }
    }
  });
});
wss.on('listening', () => {
  process.stdout.write(`listening ws://127.0.0.1:${(wss.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => {
  redis.disconnect();
  wss.close(() => process.exit(0));
});
