/**
 * Child processes of a run: the server, the baselines and the load worker, each pinned to a core
 * where `taskset` exists (servers on one core, the load generator on the other).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Job, WorkerReply } from './protocol.ts';

export const SERVER_CORE = 0;
export const LOAD_CORE = 1;

let tasksetAvailable: boolean | undefined;
export function hasTaskset(): boolean {
  tasksetAvailable ??= spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
  return tasksetAvailable;
}

/** `node --import tsx script`, under `taskset -c core` when pinning is on and possible. */
function nodeCommand(script: string, core: number | null, nodeFlags: string[] = []): { command: string; args: string[] } {
  const node = [process.execPath, ...nodeFlags, '--import', 'tsx', script];
  return core !== null && hasTaskset()
    ? { command: 'taskset', args: ['-c', String(core), ...node] }
    : { command: node[0]!, args: node.slice(1) };
}

export interface Started {
  child: ChildProcess;
  /** The node process itself (taskset execs into it). */
  pid: number;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
}

const children = new Set<ChildProcess>();
/** Kills whatever is still running (an interrupted run). */
export function killChildren(): void {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Starts a node script with its output in `logFile`; the caller waits for it to be ready. */
export function startLogged(script: string, env: NodeJS.ProcessEnv, core: number | null, logFile: string, nodeFlags: string[] = []): Started {
  const { command, args } = nodeCommand(script, core, nodeFlags);
  const log = openSync(logFile, 'a');
  const child = track(spawn(command, args, { env, stdio: ['ignore', log, log] }));
  return { child, pid: child.pid!, stop: stopper(child) };
}

/** Starts a baseline server, which prints `listening <url>` once ready. */
export async function startBaseline(script: string, env: NodeJS.ProcessEnv, core: number | null): Promise<Started & { url: string }> {
  const { command, args } = nodeCommand(script, core);
  const child = track(spawn(command, args, { env, stdio: ['ignore', 'pipe', 'inherit'] }));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 60 s`)), 60_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^listening (\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  return { child, pid: child.pid!, url, stop: stopper(child) };
}

/** Polls `url` until it answers 200, or fails after `timeoutMs`. */
export async function waitUntilReady(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the process exited with ${child.exitCode} before it was ready`);
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} was not ready within ${timeoutMs / 1000} s`);
}

/** Resident memory of a process, in bytes (Linux /proc). */
export function residentBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for process ${pid}`);
  return Number(match[1]) * 1024;
}

/** The load generator process: one job at a time. */
export class LoadWorker {
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const reply = JSON.parse(line) as WorkerReply;
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if ('error' in reply) waiter?.reject(new Error(`load worker: ${reply.error}`));
      else waiter?.resolve(reply.result);
    });
    child.once('exit', (code) => {
      for (const waiter of this.waiting.values()) waiter.reject(new Error(`load worker exited with ${code}`));
      this.waiting.clear();
    });
  }

  static start(core: number | null): LoadWorker {
    const { command, args } = nodeCommand('bench/load/worker.ts', core);
    return new LoadWorker(track(spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] })));
  }

  run<T>(job: Job): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.child.stdin!.write(`${JSON.stringify({ id, job })}\n`);
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once('exit', () => resolve());
      this.child.stdin!.end();
    });
  }
}
