/**
 * Which gateway a payment talks to, where, and with whose credentials: the configured base URLs
 * (or the in-process sandbox gateway when SANDBOX_GATEWAY is on) and each merchant's stored
 * Zarinpal merchant_id or Shepa api key.
 */
import type { Config } from '../../config.ts';
import type { Db } from '../../db/database.ts';
import type { Deps } from '../../deps.ts';
import { AppError, invalid } from '../../errors.ts';
import { startSandboxGateway, type SandboxGateway } from './gateways/sandbox.ts';
import { SHEPA_SANDBOX_API_KEY, ShepaConnector } from './gateways/shepa.ts';
import type { GatewayConnector, GatewayName } from './gateways/types.ts';
import { ZarinpalConnector } from './gateways/zarinpal.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Zarinpal's sandbox takes any UUID; merchants without one of their own use their id or this. */
const SANDBOX_ZARINPAL_MERCHANT_ID = '00000000-0000-4000-8000-000000000000';
/** The sandbox gateway takes any access token and terminal for Zarinpal's GraphQL refunds. */
const SANDBOX_ZARINPAL_REFUNDS = { accessToken: 'sandbox', terminalId: '1' };

/** The sandbox running inside one app (one Deps), if any. */
const sandboxes = new WeakMap<Deps, SandboxGateway>();

export const sandboxEnabled = (config: Config): boolean => config.SANDBOX_GATEWAY ?? config.DEMO;

/** Starts the in-process sandbox gateway on an ephemeral loopback port when configured. */
export async function startInProcessSandbox(deps: Deps): Promise<(() => Promise<void>) | null> {
  if (!sandboxEnabled(deps.config)) return null;
  const sandbox = await startSandboxGateway({ host: '127.0.0.1', port: 0, now: () => deps.clock.now() });
  sandboxes.set(deps, sandbox);
  deps.logger.info({ url: sandbox.url }, 'sandbox gateway listening (Zarinpal and Shepa emulation)');
  return async () => {
    sandboxes.delete(deps);
    await sandbox.close();
  };
}

/** The in-process sandbox of this app, for tests and the demo. */
export const inProcessSandbox = (deps: Deps): SandboxGateway | undefined => sandboxes.get(deps);

export type ConnectorDeps = Pick<Deps, 'config'> & Partial<Pick<Deps, 'logger'>>;

function zarinpalGraphqlUrl(deps: ConnectorDeps): string {
  return sandboxEnabled(deps.config) ? `${baseUrl(deps, 'zarinpal')}/api/v4/graphql/` : deps.config.ZARINPAL_GRAPHQL_URL;
}

function baseUrl(deps: ConnectorDeps, gateway: GatewayName): string {
  if (sandboxEnabled(deps.config)) {
    const sandbox = sandboxes.get(deps as Deps);
    if (!sandbox) {
      throw new AppError('GATEWAY_UNAVAILABLE', 'SANDBOX_GATEWAY is on but no sandbox gateway runs in this process.');
    }
    return sandbox.url;
  }
  return gateway === 'zarinpal' ? deps.config.ZARINPAL_BASE_URL : deps.config.SHEPA_BASE_URL;
}

/** Builds the connector for a merchant's account at a gateway. */
export async function connectorFor(db: Db, deps: ConnectorDeps, merchantId: string, gateway: GatewayName): Promise<GatewayConnector> {
  const stored = await db.gatewayCredential.findUnique({ where: { merchantId_gateway: { merchantId, gateway } } });
  let credential = stored?.credential;
  let refunds = stored?.accessToken && stored.terminalId ? { accessToken: stored.accessToken, terminalId: stored.terminalId } : undefined;
  if (credential === undefined && sandboxEnabled(deps.config)) {
    credential = gateway === 'shepa' ? SHEPA_SANDBOX_API_KEY : UUID.test(merchantId) ? merchantId : SANDBOX_ZARINPAL_MERCHANT_ID;
    refunds = SANDBOX_ZARINPAL_REFUNDS;
  }
  if (credential === undefined) {
    throw new AppError(
      'GATEWAY_NOT_CONFIGURED',
      `This merchant has no ${gateway} credentials; an operator sets them with \`cli gateway set\`.`,
      'gateway',
    );
  }
  const options = { baseUrl: baseUrl(deps, gateway), timeoutMs: deps.config.GATEWAY_TIMEOUT_MS };
  return gateway === 'zarinpal'
    ? new ZarinpalConnector({ ...options, merchantId: credential, ...(refunds ? { refunds: { ...refunds, graphqlUrl: zarinpalGraphqlUrl(deps) } } : {}) })
    : new ShepaConnector({ ...options, apiKey: credential });
}

/** Stores a merchant's credentials at one gateway (replacing earlier ones). */
export async function setGatewayCredential(
  db: Db,
  input: { merchantId: string; gateway: GatewayName; credential: string; accessToken?: string | null; terminalId?: string | null },
  now: Date,
): Promise<{ merchantId: string; gateway: GatewayName; hint: string; refunds?: boolean }> {
  if (input.gateway === 'zarinpal' && !UUID.test(input.credential)) {
    throw invalid('merchant-id', "Zarinpal's merchant_id is a 36-character UUID.");
  }
  const accessToken = input.accessToken ?? null;
  const terminalId = input.terminalId ?? null;
  if ((accessToken === null) !== (terminalId === null) || (accessToken !== null && input.gateway !== 'zarinpal')) {
    throw invalid('access-token', 'Zarinpal refunds need both --access-token and --terminal-id (zarinpal only).');
  }
  if (accessToken !== null && !/^\S{1,4096}$/.test(accessToken)) throw invalid('access-token', 'The access token is 1 to 4096 non-blank characters.');
  if (terminalId !== null && !/^\d{1,20}$/.test(terminalId)) throw invalid('terminal-id', "Zarinpal's terminal id is a number.");
  if (input.gateway === 'shepa' && !/^\S{1,255}$/.test(input.credential)) throw invalid('api-key', "Shepa's api key is 1 to 255 non-blank characters.");
  const merchant = await db.merchant.findUnique({ where: { id: input.merchantId } });
  if (!merchant) throw new AppError('NOT_FOUND', 'Merchant not found.');
  const fields = { credential: input.credential, accessToken, terminalId };
  await db.gatewayCredential.upsert({
    where: { merchantId_gateway: { merchantId: input.merchantId, gateway: input.gateway } },
    create: { merchantId: input.merchantId, gateway: input.gateway, ...fields, updatedAt: now },
    update: { ...fields, updatedAt: now },
  });
  const hint = credentialHint(input.credential);
  return { merchantId: input.merchantId, gateway: input.gateway, hint, ...(input.gateway === 'zarinpal' ? { refunds: accessToken !== null } : {}) };
}

export const credentialHint = (credential: string): string => `…${credential.slice(-4)}`;
