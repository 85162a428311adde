/**
 * What the charges module holds per running app besides Deps: the card processor, the DNS
 * resolver used for callback URLs, and a way to wake the callback worker. Kept per Deps (not
 * module-wide) because tests run several apps in one process; tests swap parts in with
 * `configureCharges`.
 */
import { lookup } from 'node:dns/promises';
import type { Deps } from '../../deps.ts';
import { SandboxCardProcessor, type CardProcessor } from './card-processor.ts';
import type { CallbackUrlOptions, Resolver } from './ssrf-guard.ts';

export interface ChargesRuntime {
  processor: CardProcessor;
  /** Default: the system resolver. */
  resolve: Resolver | undefined;
  /** Wakes the callback worker after a commit that queued deliveries; a no-op while it is off. */
  kickCallbacks: () => void;
}

const runtimes = new WeakMap<Deps, ChargesRuntime>();

export function chargesRuntime(deps: Deps): ChargesRuntime {
  let runtime = runtimes.get(deps);
  if (!runtime) {
    runtime = { processor: new SandboxCardProcessor(), resolve: undefined, kickCallbacks: () => {} };
    runtimes.set(deps, runtime);
  }
  return runtime;
}

export function configureCharges(deps: Deps, parts: Partial<ChargesRuntime>): ChargesRuntime {
  return Object.assign(chargesRuntime(deps), parts);
}

/** Where callbacks may go, from the configuration (and the runtime's resolver). */
export function callbackUrlOptions(deps: Deps): CallbackUrlOptions {
  const hosts = deps.config.CHARGES_CALLBACK_ALLOW_HOSTS;
  return {
    allowPrivate: deps.config.CHARGES_CALLBACK_ALLOW_PRIVATE,
    allowHosts: hosts ? hosts.split(',').map((host) => host.trim()).filter(Boolean) : [],
    resolve: chargesRuntime(deps).resolve ?? systemResolve,
  };
}

const RESOLVE_TIMEOUT_MS = 3000;

/** Every address of a name, from the system resolver; a resolver that hangs counts as a failure. */
async function systemResolve(hostname: string): Promise<string[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`resolving ${hostname} timed out`), { code: 'ETIMEOUT' })), RESOLVE_TIMEOUT_MS);
  });
  try {
    const answers = await Promise.race([lookup(hostname, { all: true }), timeout]);
    return answers.map((answer) => answer.address);
  } finally {
    clearTimeout(timer);
  }
}

/** The base URL payers reach this server at, for payment links. */
export const publicBaseUrl = (deps: Deps): string =>
  (deps.config.PUBLIC_BASE_URL ?? `http://localhost:${deps.config.PORT}`).replace(/\/+$/, '');
