/**
 * The physical baseline of the subscriptions scenario: a bare `ws` server speaking just enough
 * graphql-transport-ws (ack, subscribe, next) that forwards each message arriving on a Redis
 * channel to the sockets subscribed to it, without parsing it: the payload is serialised once per
 * event and the same string goes to every recipient. A subscription names its channel in its
 * variables (`{"channel": "RECHARGE_PAYMENT:<id>"}`). Needs REDIS_URL; listens on 127.0.0.1:$PORT
 * and prints its URL once listening.
 */
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { WebSocket, WebSocketServer } from 'ws';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) throw new Error('REDIS_URL is required');
const redis = new Redis(redisUrl);
const recipients = new Map<string, { socket: WebSocket; id: string }[]>();

redis.on('message', (channel: string, text: string) => {
  const list = recipients.get(channel);
  if (!list) return;
  const payload = `{"data":{"event":${text}}}`;
  for (const { socket, id } of list) {
    if (socket.readyState === WebSocket.OPEN) socket.send(`{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`);
  }
});

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(process.env.PORT ?? 0), handleProtocols: () => 'graphql-transport-ws' });
wss.on('connection', (socket) => {
  const mine: [string, { socket: WebSocket; id: string }][] = [];
  socket.on('message', (data) => {
    const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: { variables?: { channel?: string } } };
    if (message.type === 'connection_init') socket.send('{"type":"connection_ack"}');
    else if (message.type === 'ping') socket.send('{"type":"pong"}');
    else if (message.type === 'subscribe' && message.id && message.payload?.variables?.channel) {
      const channel = message.payload.variables.channel;
      const entry = { socket, id: message.id };
      let list = recipients.get(channel);
      if (!list) {
        list = [];
        recipients.set(channel, list);
        void redis.subscribe(channel);
      }
      list.push(entry);
      mine.push([channel, entry]);
    }
  });
  socket.on('close', () => {
    for (const [channel, entry] of mine) {
      const list = recipients.get(channel)?.filter((other) => other !== entry) ?? [];
      if (list.length > 0) recipients.set(channel, list);
      else {
        recipients.delete(channel);
        void redis.unsubscribe(channel);
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
