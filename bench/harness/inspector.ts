/**
 * The server's V8 heap, through the inspector it opens on loopback for the run (`--inspect`):
 * a full garbage collection, then the heap in use. Resident memory alone moves with the
 * collector's timing; after a forced collection both figures can be compared between points.
 */
import WebSocket from 'ws';

export interface HeapProbe {
  /** Collects garbage, then answers the bytes of V8 heap in use. */
  usedAfterGc(): Promise<number>;
  close(): void;
}

export async function connectInspector(port: number): Promise<HeapProbe> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
  const target = targets[0]?.webSocketDebuggerUrl;
  if (!target) throw new Error('the server opened no inspector target');
  const socket = new WebSocket(target);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let next = 1;
  const waiting = new Map<number, (result: Record<string, unknown>) => void>();
  socket.on('message', (data: WebSocket.RawData) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown> };
    if (message.id !== undefined) waiting.get(message.id)?.(message.result ?? {});
  });
  const call = (method: string) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      socket.send(JSON.stringify({ id, method }));
    });
  return {
    usedAfterGc: async () => {
      await call('HeapProfiler.collectGarbage');
      return Number((await call('Runtime.getHeapUsage')).usedSize);
    },
    close: () => socket.close(),
  };
}
