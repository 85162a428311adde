import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.ts';
import { AppError } from '../errors.ts';
import { randomHex, secret, uuidv7 } from '../lib/ids.ts';
import { hasUnstorableText } from '../lib/unicode.ts';
import type { CredentialKind, Principal } from './principal.ts';
import { DEFAULT_RIGHTS, DEFAULT_SCOPES } from './scopes.ts';

/**
 * Secrets are random 256-bit values (demo ones excepted), so one SHA-256 digest is enough to store
 * them: there is nothing to brute-force. Lookups go by digest (an index hit, revealing nothing of
 * the secret), and the digest found is compared again in constant time.
 */
export const hashSecret = (value: string): string => createHash('sha256').update(value).digest('hex');

function sameDigest(a: string, b: string): boolean {
  const left = Buffer.from(a, 'hex');
  const right = Buffer.from(b, 'hex');
  return left.length === right.length && timingSafeEqual(left, right);
}

const hintOf = (value: string) => value.slice(-4);

export interface MerchantCredentials {
  merchantId: string;
  name: string;
  companyId: string;
  scopes: string[];
  rights: string[];
  token: string;
  tokenId: string;
  oauthClientId: string;
  oauthClientSecret: string;
  basicKey: string;
  basicSecret: string;
}

export interface CreateMerchantInput {
  name: string;
  scopes?: string[];
  rights?: string[];
  /** Fixed values, for the demo merchant whose credentials are the legacy documents' examples. */
  id?: string;
  companyId?: string;
  token?: string;
  oauthClientId?: string;
  oauthClientSecret?: string;
  basicKey?: string;
  basicSecret?: string;
}

/** Creates a merchant with one credential of every scheme. The secrets are returned once and never stored. */
export async function createMerchant(db: Db, input: CreateMerchantInput): Promise<MerchantCredentials> {
  const merchantId = input.id ?? uuidv7();
  const scopes = input.scopes ?? [...DEFAULT_SCOPES];
  const rights = input.rights ?? [...DEFAULT_RIGHTS];
  const result: MerchantCredentials = {
    merchantId,
    name: input.name,
    companyId: input.companyId ?? randomHex(16),
    scopes,
    rights,
    token: input.token ?? secret('tok'),
    tokenId: uuidv7(),
    oauthClientId: input.oauthClientId ?? `oc_${randomHex(12)}`,
    oauthClientSecret: input.oauthClientSecret ?? secret('ocs'),
    basicKey: input.basicKey ?? `bk_${randomHex(12)}`,
    basicSecret: input.basicSecret ?? secret('bks'),
  };
  await db.merchant.create({
    data: {
      id: merchantId,
      name: input.name,
      companyId: result.companyId,
      scopes,
      rights,
      credentials: {
        create: [
          { id: result.tokenId, kind: 'token', secretHash: hashSecret(result.token), hint: hintOf(result.token), scopes, rights },
          {
            id: uuidv7(),
            kind: 'oauth_client',
            publicId: result.oauthClientId,
            secretHash: hashSecret(result.oauthClientSecret),
            hint: hintOf(result.oauthClientSecret),
            scopes,
            rights,
          },
          {
            id: uuidv7(),
            kind: 'basic',
            publicId: result.basicKey,
            secretHash: hashSecret(result.basicSecret),
            hint: hintOf(result.basicSecret),
            scopes,
            rights,
          },
        ],
      },
    },
  });
  return result;
}

/** Adds one more API token to a merchant (e.g. the wallet API's own token in demo mode). */
export async function addToken(db: Db, merchantId: string, token: string = secret('tok')): Promise<{ id: string; token: string }> {
  const merchant = await db.merchant.findUniqueOrThrow({ where: { id: merchantId } });
  const id = uuidv7();
  await db.credential.create({
    data: { id, merchantId, kind: 'token', secretHash: hashSecret(token), hint: hintOf(token), scopes: merchant.scopes, rights: merchant.rights },
  });
  return { id, token };
}

export async function createOperator(db: Db, token: string = secret('op')): Promise<{ credentialId: string; token: string }> {
  const credentialId = uuidv7();
  await db.credential.create({
    data: { id: credentialId, kind: 'operator', secretHash: hashSecret(token), hint: hintOf(token), scopes: [], rights: [] },
  });
  return { credentialId, token };
}

/** Replaces a credential's secret; the old one stops working at once (within the cache time elsewhere). */
export async function rotateCredential(db: Db, credentialId: string): Promise<{ credentialId: string; kind: string; publicId: string | null; secret: string }> {
  const credential = await db.credential.findUnique({ where: { id: credentialId } });
  if (!credential || credential.revokedAt || credential.kind === 'access_token') throw new AppError('NOT_FOUND', 'Credential not found.');
  if (credential.kind === 'staff') throw new AppError('VALIDATION_FAILED', 'A staff password is chosen by its owner: revoke it and create the user again.');
  const prefix = { token: 'tok', basic: 'bks', oauth_client: 'ocs', operator: 'op' }[credential.kind] ?? 'sec';
  const value = secret(prefix);
  await db.credential.update({ where: { id: credentialId }, data: { secretHash: hashSecret(value), hint: hintOf(value) } });
  if (credential.kind === 'oauth_client') {
    await db.credential.updateMany({ where: { parentId: credentialId, revokedAt: null }, data: { revokedAt: new Date() } });
  }
  return { credentialId, kind: credential.kind, publicId: credential.publicId, secret: value };
}

export async function revokeCredential(db: Db, credentialId: string, now = new Date()): Promise<void> {
  const changed = await db.credential.updateMany({ where: { id: credentialId, revokedAt: null }, data: { revokedAt: now } });
  if (changed.count === 0) throw new AppError('NOT_FOUND', 'Credential not found.');
  await db.credential.updateMany({ where: { parentId: credentialId, revokedAt: null }, data: { revokedAt: now } });
}

/**
 * Staff passwords are chosen by people, so unlike generated secrets they get a salted, slow hash
 * (scrypt, N=16384): `scrypt$<salt>$<hash>`, both base64url.
 */
function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64url')}$${scryptSync(password, salt, 32).toString('base64url')}`;
}

function passwordMatches(stored: string, password: string): boolean {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = scryptSync(password, Buffer.from(salt, 'base64url'), expected.length);
  return timingSafeEqual(actual, expected);
}

/** A password computed for unknown users, so that a wrong username costs as much time as a wrong password. */
const UNKNOWN_USER_HASH = hashPassword(randomBytes(16).toString('hex'));

const staffPublicId = (merchantId: string, username: string) => `${merchantId}:${username}`;

export const STAFF_USERNAME = /^[A-Za-z0-9._@-]{1,64}$/;

/**
 * A member of a merchant's staff who logs in with the OAuth `login_info` grant. Their scopes and
 * rights bound what their access tokens may do (default: the merchant's).
 */
export async function createStaffUser(
  db: Db,
  input: { merchantId: string; username: string; password?: string; scopes?: string[]; rights?: string[] },
): Promise<{ credentialId: string; merchantId: string; username: string; password: string; scopes: string[]; rights: string[] }> {
  if (!STAFF_USERNAME.test(input.username)) throw new AppError('VALIDATION_FAILED', 'A username has 1 to 64 letters, digits and . _ @ -.', 'username');
  const password = input.password ?? secret('pw');
  if (password.length < 12) throw new AppError('VALIDATION_FAILED', 'A password has at least 12 characters.', 'password');
  const merchant = await db.merchant.findUnique({ where: { id: input.merchantId } });
  if (!merchant) throw new AppError('NOT_FOUND', 'Merchant not found.');
  const scopes = input.scopes ?? merchant.scopes;
  const rights = input.rights ?? merchant.rights;
  const credentialId = uuidv7();
  await db.credential.create({
    data: {
      id: credentialId,
      merchantId: input.merchantId,
      kind: 'staff',
      publicId: staffPublicId(input.merchantId, input.username),
      secretHash: hashPassword(password),
      hint: input.username,
      scopes,
      rights,
    },
  });
  return { credentialId, merchantId: input.merchantId, username: input.username, password, scopes, rights };
}

/** The OAuth2 client-credentials grant (RFC 6749 §4.4): a short-lived bearer token with a subset of the client's scopes. */
export async function issueAccessToken(
  db: Db,
  input: {
    clientId: string;
    clientSecret: string;
    scope: string | null;
    ttlSeconds: number;
    /** The `login_info` grant: a staff member of the client's merchant, whose scopes and rights bound the token's. */
    staff?: { username: string; password: string };
  },
  now = new Date(),
): Promise<{ accessToken: string; expiresIn: number; scope: string } | { error: 'invalid_client' | 'invalid_scope' | 'invalid_grant' }> {
  const client = await db.credential.findUnique({ where: { kind_publicId: { kind: 'oauth_client', publicId: input.clientId } } });
  if (!client || client.revokedAt || !client.merchantId || !sameDigest(client.secretHash, hashSecret(input.clientSecret))) {
    return { error: 'invalid_client' };
  }
  let grantedScopes = client.scopes;
  let grantedRights = client.rights;
  let staffId: string | null = null;
  if (input.staff) {
    const staff = await db.credential.findUnique({
      where: { kind_publicId: { kind: 'staff', publicId: staffPublicId(client.merchantId, input.staff.username) } },
    });
    const matches = passwordMatches(staff?.secretHash ?? UNKNOWN_USER_HASH, input.staff.password);
    if (!staff || staff.revokedAt || !matches) return { error: 'invalid_grant' };
    grantedScopes = client.scopes.filter((scope) => staff.scopes.includes(scope));
    grantedRights = client.rights.filter((right) => staff.rights.includes(right));
    staffId = staff.id;
  }
  const requested = input.scope ? input.scope.split(' ').filter(Boolean) : grantedScopes;
  if (requested.some((scope) => !grantedScopes.includes(scope))) return { error: 'invalid_scope' };
  const accessToken = secret('at');
  await db.credential.create({
    data: {
      id: uuidv7(),
      merchantId: client.merchantId,
      kind: 'access_token',
      secretHash: hashSecret(accessToken),
      hint: hintOf(accessToken),
      scopes: requested,
      rights: grantedRights,
      parentId: client.id,
      staffId,
      expiresAt: new Date(now.getTime() + input.ttlSeconds * 1000),
    },
  });
  return { accessToken, expiresIn: input.ttlSeconds, scope: requested.join(' ') };
}

export type AuthScheme = 'Token' | 'Bearer' | 'Basic';

/**
 * The user id and password of an HTTP Basic credential (RFC 7617), or null when the value is not
 * one: no colon, an empty user id, a malformed percent-escape, or text no stored credential can
 * hold (NUL, which base64 carries as easily as any byte), so that it is refused here and never
 * reaches the database. `percentEncoded` reads both halves percent-decoded, as OAuth client
 * authentication sends them (RFC 6749, section 2.3.1).
 */
export function decodeBasic(value: string, percentEncoded = false): { userId: string; password: string } | null {
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  let userId = decoded.slice(0, colon);
  let password = decoded.slice(colon + 1);
  if (percentEncoded) {
    try {
      userId = decodeURIComponent(userId);
      password = decodeURIComponent(password);
    } catch {
      return null;
    }
  }
  return userId && !hasUnstorableText(userId) && !hasUnstorableText(password) ? { userId, password } : null;
}

/** Which credential kinds each Authorization scheme may carry. */
const kindsByScheme: Record<'Token' | 'Bearer', CredentialKind[]> = {
  Token: ['token', 'operator'],
  Bearer: ['token', 'access_token', 'operator'],
};

type CredentialRow = NonNullable<Awaited<ReturnType<typeof findCredential>>>;

function findCredential(db: Db, where: { secretHash: string } | { kind_publicId: { kind: string; publicId: string } }) {
  return db.credential.findUnique({ where, include: { merchant: { select: { companyId: true } } } });
}

/**
 * Resolves an Authorization header to a principal. Answers null for anything that is not a valid,
 * live credential: a missing header is told apart by the caller.
 */
export class Authenticator {
  readonly #cache = new Map<string, { principal: Principal | null; until: number }>();
  readonly #pending = new Map<string, Promise<Principal | null>>();
  #generation = 0;

  constructor(
    private readonly db: Db,
    private readonly cacheMs: number,
    private readonly clock: { now(): Date },
  ) {}

  async authenticate(header: string): Promise<Principal | null> {
    const now = this.clock.now().getTime();
    const cached = this.#cache.get(header);
    if (cached && cached.until > now) return cached.principal;
    // Concurrent checks of one credential (a dashboard's open subscriptions, say) share one lookup.
    let pending = this.#pending.get(header);
    if (!pending) {
      pending = this.#lookUp(header, now).finally(() => this.#pending.delete(header));
      this.#pending.set(header, pending);
    }
    return pending;
  }

  async #lookUp(header: string, now: number): Promise<Principal | null> {
    const generation = this.#generation;
    const { principal, expiresAt } = await this.#resolve(header, now);
    // A lookup that began before an invalidation may have read the credential before its change.
    if (this.cacheMs > 0 && generation === this.#generation) {
      if (this.#cache.size > 10_000) this.#cache.clear();
      this.#cache.set(header, { principal, until: Math.min(now + this.cacheMs, expiresAt ?? Number.POSITIVE_INFINITY) });
    }
    return principal;
  }

  /** Forgets cached lookups, after a rotation or revocation in this process. */
  invalidate(): void {
    this.#generation++;
    this.#cache.clear();
    this.#pending.clear();
  }

  async #resolve(header: string, now: number): Promise<{ principal: Principal | null; expiresAt?: number }> {
    const none = { principal: null };
    const match = /^(Token|Bearer|Basic) +(\S+)\s*$/i.exec(header);
    if (!match) return none;
    const scheme = (match[1]!.charAt(0).toUpperCase() + match[1]!.slice(1).toLowerCase()) as AuthScheme;
    const value = match[2]!;
    if (value.length > 512) return none;
    let row: CredentialRow | null;
    if (scheme === 'Basic') {
      const basic = decodeBasic(value);
      if (!basic) return none;
      row = await findCredential(this.db, { kind_publicId: { kind: 'basic', publicId: basic.userId } });
      if (!row || !sameDigest(row.secretHash, hashSecret(basic.password))) return none;
    } else {
      const digest = hashSecret(value);
      row = await findCredential(this.db, { secretHash: digest });
      if (!row || !sameDigest(row.secretHash, digest) || !kindsByScheme[scheme].includes(row.kind as CredentialKind)) return none;
    }
    const expiresAt = row.expiresAt?.getTime();
    if (row.revokedAt || (expiresAt !== undefined && expiresAt <= now)) return none;
    if (row.kind === 'operator') return { principal: { kind: 'operator', credentialId: row.id } };
    if (!row.merchantId || !row.merchant) return none;
    const principal: Principal = {
      kind: 'merchant',
      merchantId: row.merchantId,
      companyId: row.merchant.companyId,
      credentialId: row.id,
      credentialKind: row.kind as CredentialKind,
      scopes: new Set(row.scopes),
      rights: new Set(row.rights),
      ...(row.staffId ? { staffId: row.staffId } : {}),
    };
    return expiresAt === undefined ? { principal } : { principal, expiresAt };
  }
}
