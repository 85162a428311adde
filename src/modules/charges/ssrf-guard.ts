/**
 * Merchants choose the URLs we call back (`callback_url`), so every call must be kept away
 * from our own network: loopback, private and link-local ranges (169.254.169.254 is the cloud
 * metadata service), and every other address that is not public unicast.
 *
 * - Hosts are judged after WHATWG URL parsing, which already turns `2130706433`, `0177.0.0.1`,
 *   `0x7f.0.0.1` and `127.1` into `127.0.0.1`; names are judged by every address they resolve
 *   to, and IPv4 embedded in IPv6 (`::ffff:127.0.0.1`, NAT64, 6to4) by the IPv4 address.
 * - `safeFetch` connects only to the addresses that were checked (the resolver answer is pinned
 *   into the socket's lookup), so a name cannot resolve to a public address for the check and
 *   to an internal one for the connection (DNS rebinding). It follows redirects itself and
 *   checks every hop the same way.
 * - `allowPrivate` turns the address check off everywhere (development, where receivers run on
 *   localhost). `allowHosts` exempts only the listed hosts, on every hop: a redirect is chosen
 *   by the remote server, so trust belongs to a host, not to "the first hop".
 */
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupAddress } from 'node:dns';
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { Readable } from 'node:stream';

export type AddressRange =
  | 'public'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'link_local'
  | 'shared'
  | 'multicast'
  | 'reserved';

export type CallbackUrlRefusal =
  | 'invalid_url'
  | 'unsupported_scheme'
  | 'credentials_in_url'
  | 'unresolvable'
  | 'forbidden_address';

export type Resolver = (hostname: string) => Promise<string[]>;

export interface CallbackUrlOptions {
  /** Skip the address check entirely. Development only. */
  readonly allowPrivate: boolean;
  /**
   * Hosts exempt from the address check, as `URL.host` prints them: `hostname` (any port) or
   * `hostname:port`; an IPv6 literal in brackets.
   */
  readonly allowHosts?: readonly string[];
  /** Default: the system resolver (`dns.lookup`, all addresses). */
  readonly resolve?: Resolver;
}

export type CallbackUrlCheck =
  | { readonly ok: true; readonly url: URL; readonly addresses: string[] }
  | {
      readonly ok: false;
      readonly reason: CallbackUrlRefusal;
      readonly message: string;
      /** Set for `forbidden_address`. */
      readonly address?: string;
      readonly range?: AddressRange;
    };

export async function checkCallbackUrl(url: string | URL, options: CallbackUrlOptions): Promise<CallbackUrlCheck> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { ok: false, reason: 'invalid_url', message: 'Callback URL is not a valid URL' };
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    return { ok: false, reason: 'unsupported_scheme', message: `Callback URL must be http or https, not ${parsed.protocol}` };
  }
  if (parsed.username !== '' || parsed.password !== '') {
    return { ok: false, reason: 'credentials_in_url', message: 'Callback URL must not hold a user name or password' };
  }

  const hostname = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  let addresses: string[];
  if (isIP(hostname) !== 0) {
    addresses = [hostname];
  } else {
    try {
      addresses = await (options.resolve ?? systemResolve)(hostname);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { ok: false, reason: 'unresolvable', message: `Cannot resolve ${hostname}${typeof code === 'string' ? ` (${code})` : ''}` };
    }
    if (addresses.length === 0 || addresses.some((address) => isIP(address) === 0)) {
      return { ok: false, reason: 'unresolvable', message: `Cannot resolve ${hostname} to IP addresses` };
    }
  }

  if (!options.allowPrivate && !isAllowedHost(parsed, options.allowHosts ?? [])) {
    for (const address of addresses) {
      const range = classifyAddress(address);
      if (range !== 'public') {
        return {
          ok: false,
          reason: 'forbidden_address',
          message: `Callback URL host ${hostname} is ${address}, which is not public (${range})`,
          address,
          range,
        };
      }
    }
  }
  return { ok: true, url: parsed, addresses };
}

/** Which kind of address this is; only `public` may be called. Throws on a non-IP string. */
export function classifyAddress(address: string): AddressRange {
  const version = isIP(address);
  if (version === 4) return classifyIpv4(ipv4ToNumber(address));
  if (version === 6) return classifyIpv6(ipv6ToBytes(address));
  throw new TypeError(`not an IP address: ${address}`);
}

// [network, prefix length, range], first match wins; anything unlisted is public.
const IPV4_RANGES: ReadonlyArray<readonly [string, number, AddressRange]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'shared'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link_local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.88.99.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'reserved'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

function classifyIpv4(address: number): AddressRange {
  for (const [network, prefix, range] of IPV4_RANGES) {
    const shift = 32 - prefix;
    if (address >>> shift === ipv4ToNumber(network) >>> shift) return range;
  }
  return 'public';
}

// Only global unicast (2000::/3) can be public; inside it, these are not.
const IPV6_RANGES: ReadonlyArray<readonly [string, number, AddressRange]> = [
  ['2001::', 23, 'reserved'],
  ['2001:db8::', 32, 'reserved'],
  ['3fff::', 20, 'reserved'],
  ['5f00::', 16, 'reserved'],
];

function classifyIpv6(bytes: Uint8Array): AddressRange {
  const embedded = (offset: number) =>
    classifyIpv4(((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>> 0);
  if (bytes.every((byte) => byte === 0)) return 'unspecified';
  if (bytes.slice(0, 15).every((byte) => byte === 0) && bytes[15] === 1) return 'loopback';
  if (hasPrefix(bytes, '::ffff:0:0', 96)) return embedded(12);
  if (hasPrefix(bytes, '64:ff9b::', 96)) return embedded(12);
  if (hasPrefix(bytes, '2002::', 16)) return embedded(2);
  if (hasPrefix(bytes, '64:ff9b:1::', 48)) return 'private';
  if (hasPrefix(bytes, 'fc00::', 7)) return 'private';
  if (hasPrefix(bytes, 'fec0::', 10)) return 'private';
  if (hasPrefix(bytes, 'fe80::', 10)) return 'link_local';
  if (hasPrefix(bytes, 'ff00::', 8)) return 'multicast';
  if (!hasPrefix(bytes, '2000::', 3)) return 'reserved';
  for (const [network, prefix, range] of IPV6_RANGES) {
    if (hasPrefix(bytes, network, prefix)) return range;
  }
  return 'public';
}

function hasPrefix(bytes: Uint8Array, network: string, prefix: number): boolean {
  const networkBytes = ipv6ToBytes(network);
  for (let bit = 0; bit < prefix; bit += 8) {
    const mask = prefix - bit >= 8 ? 0xff : (0xff << (8 - (prefix - bit))) & 0xff;
    const index = bit / 8;
    if ((bytes[index]! & mask) !== (networkBytes[index]! & mask)) return false;
  }
  return true;
}

function ipv4ToNumber(address: string): number {
  return address.split('.').reduce((value, part) => value * 256 + Number(part), 0);
}

/** 16 bytes of an address `isIP` accepted as IPv6 (zone id ignored). */
function ipv6ToBytes(address: string): Uint8Array {
  let text = address.split('%')[0]!;
  const groups: number[] = [];
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  let embeddedIpv4: number | undefined;
  if (tail.includes('.')) {
    embeddedIpv4 = ipv4ToNumber(tail);
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const [head = '', rest] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((group) => Number.parseInt(group, 16)));
  const headGroups = parse(head);
  const restGroups = rest === undefined ? [] : parse(rest);
  groups.push(...headGroups, ...new Array<number>(8 - headGroups.length - restGroups.length).fill(0), ...restGroups);
  if (embeddedIpv4 !== undefined) {
    groups[6] = embeddedIpv4 >>> 16;
    groups[7] = embeddedIpv4 & 0xffff;
  }
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 0xff;
  });
  return bytes;
}

function isAllowedHost(url: URL, allowHosts: readonly string[]): boolean {
  return allowHosts.some((entry) => {
    const allowed = entry.toLowerCase();
    return allowed === url.host || allowed === url.hostname;
  });
}

async function systemResolve(hostname: string): Promise<string[]> {
  const answers = await lookup(hostname, { all: true });
  return answers.map((answer) => answer.address);
}

export interface SafeFetchInit {
  readonly method?: string;
  readonly headers?: HeadersInit;
  readonly body?: string | Uint8Array | null;
  /** Aborts the request and the reading of the response body. */
  readonly signal?: AbortSignal;
}

export interface SafeFetchOptions extends CallbackUrlOptions {
  /** Redirects followed at most (3). Standard Webhooks delivery wants 0: a 3xx is a failure there. */
  readonly maxRedirects?: number;
}

export type SafeFetchResult =
  | {
      readonly ok: true;
      readonly response: Response;
      /** The URL that gave `response`, after redirects. */
      readonly url: URL;
      readonly redirects: readonly URL[];
    }
  | {
      readonly ok: false;
      readonly reason: CallbackUrlRefusal | 'too_many_redirects';
      readonly message: string;
      /** The URL refused: the original or a redirect target. */
      readonly url: string;
      readonly address?: string;
      readonly range?: AddressRange;
    };

export const DEFAULT_MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/**
 * `fetch`, but only to addresses `checkCallbackUrl` accepts, on every redirect hop. Refusals
 * come back as values; network failures reject, as with `fetch`.
 */
export async function safeFetch(
  url: string | URL,
  init: SafeFetchInit,
  options: SafeFetchOptions,
): Promise<SafeFetchResult> {
  const maxRedirects = options.maxRedirects ?? DEFAULT_MAX_REDIRECTS;
  const headers = new Headers(init.headers);
  let method = (init.method ?? 'GET').toUpperCase();
  let body = init.body ?? null;
  let target = String(url);
  const redirects: URL[] = [];

  for (;;) {
    const check = await checkCallbackUrl(target, options);
    if (!check.ok) return { ...check, url: target };
    const response = await pinnedRequest(check.url, check.addresses, { method, headers, body, signal: init.signal });
    const location = response.headers.get('location');
    if (!REDIRECT_STATUSES.has(response.status) || location === null) {
      return { ok: true, response, url: check.url, redirects };
    }
    await response.body?.cancel();

    let next: URL;
    try {
      next = new URL(location, check.url);
    } catch {
      return { ok: false, reason: 'invalid_url', message: `Redirect to an invalid URL: ${location}`, url: location };
    }
    if (redirects.length === maxRedirects) {
      return { ok: false, reason: 'too_many_redirects', message: `More than ${maxRedirects} redirects`, url: next.href };
    }
    // As fetch does: 303 turns anything but HEAD into GET, and 301/302 turn POST into GET.
    if ((response.status === 303 && method !== 'HEAD') || ((response.status === 301 || response.status === 302) && method === 'POST')) {
      method = 'GET';
      body = null;
      for (const name of ['content-type', 'content-length', 'content-encoding', 'content-language', 'content-location']) {
        headers.delete(name);
      }
    }
    if (next.origin !== check.url.origin) {
      for (const name of ['authorization', 'cookie', 'proxy-authorization']) headers.delete(name);
    }
    redirects.push(next);
    target = next.href;
  }
}

interface PinnedRequestInit {
  readonly method: string;
  readonly headers: Headers;
  readonly body: string | Uint8Array | null;
  readonly signal: AbortSignal | undefined;
}

function pinnedRequest(url: URL, addresses: readonly string[], init: PinnedRequestInit): Promise<Response> {
  const pinned: LookupAddress[] = addresses.map((address) => ({ address, family: isIP(address) }));
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const request = transport.request(
      url,
      {
        method: init.method,
        headers: Object.fromEntries(init.headers),
        ...(init.signal ? { signal: init.signal } : {}),
        // A pooled socket may have been opened by code that did not check where it connects.
        agent: false,
        lookup: (_hostname, options, callback) => {
          if (options.all) callback(null, pinned);
          else callback(null, pinned[0]!.address, pinned[0]!.family);
        },
      },
      (incoming) => {
        try {
          resolve(toResponse(incoming, init.method));
        } catch (error) {
          incoming.destroy();
          reject(error);
        }
      },
    );
    request.on('error', reject);
    request.end(init.body ?? undefined);
  });
}

function toResponse(incoming: IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (let index = 0; index + 1 < incoming.rawHeaders.length; index += 2) {
    headers.append(incoming.rawHeaders[index]!, incoming.rawHeaders[index + 1]!);
  }
  const status = incoming.statusCode ?? 0;
  const noBody = method === 'HEAD' || NULL_BODY_STATUSES.has(status);
  if (noBody) incoming.resume();
  const body = noBody ? null : (Readable.toWeb(incoming) as unknown as ReadableStream<Uint8Array>);
  return new Response(body, { status, statusText: incoming.statusMessage ?? '', headers });
}
