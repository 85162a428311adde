import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkCallbackUrl, classifyAddress, safeFetch } from '../../src/modules/charges/ssrf-guard.ts';
import type { AddressRange, CallbackUrlRefusal, Resolver } from '../../src/modules/charges/ssrf-guard.ts';

const neverResolve: Resolver = async (hostname) => {
  throw new Error(`resolved ${hostname}, but an IP literal needs no resolution`);
};

/** A resolver answering from a table, as DNS under an attacker's control would. */
function fakeDns(records: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const resolve = async (hostname: string) => {
    asked.push(hostname);
    const addresses = records[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses;
  };
  return Object.assign(resolve, { asked });
}

describe('classifyAddress', () => {
  it.each<[string, AddressRange]>([
    ['0.0.0.0', 'unspecified'],
    ['0.255.255.255', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['100.63.255.255', 'public'],
    ['100.64.0.0', 'shared'],
    ['100.127.255.255', 'shared'],
    ['100.128.0.0', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link_local'],
    ['169.254.0.1', 'link_local'],
    ['172.15.255.255', 'public'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.0', 'public'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['192.88.99.1', 'reserved'],
    ['192.167.255.255', 'public'],
    ['192.168.0.1', 'private'],
    ['192.168.255.255', 'private'],
    ['192.169.0.0', 'public'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['1.1.1.1', 'public'],
    ['8.8.8.8', 'public'],
    ['200.147.67.142', 'public'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:a9fe:a9fe', 'link_local'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::127.0.0.1', 'reserved'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::808:808', 'public'],
    ['64:ff9b:1::1', 'private'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:a9fe:a9fe::', 'link_local'],
    ['2002:808:808::1', 'public'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fec0::1', 'private'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['febf:ffff::1', 'link_local'],
    ['ff02::1', 'multicast'],
    ['ff05::1:3', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['2001::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['2606:4700:4700::1111', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['2804:14c:65::1', 'public'],
  ])('%s is %s', (address, range) => {
    expect(classifyAddress(address)).toBe(range);
  });

  it('throws on something that is not an address', () => {
    expect(() => classifyAddress('localhost')).toThrow(TypeError);
    expect(() => classifyAddress('0177.0.0.1')).toThrow(TypeError);
  });
});

describe('checkCallbackUrl', () => {
  const strict = { allowPrivate: false, resolve: neverResolve };

  it.each<[string, string, AddressRange]>([
    ['http://127.0.0.1/', '127.0.0.1', 'loopback'],
    ['http://2130706433/', '127.0.0.1', 'loopback'],
    ['http://0177.0.0.1/', '127.0.0.1', 'loopback'],
    ['http://0x7f.0.0.1/', '127.0.0.1', 'loopback'],
    ['http://0x7f000001/', '127.0.0.1', 'loopback'],
    ['http://017700000001/', '127.0.0.1', 'loopback'],
    ['http://127.1/', '127.0.0.1', 'loopback'],
    ['http://0x7f.1/', '127.0.0.1', 'loopback'],
    ['http://127.0.0.1./', '127.0.0.1', 'loopback'],
    ['http://%31%32%37.0.0.1/', '127.0.0.1', 'loopback'],
    ['http://１２７.０.０.１/', '127.0.0.1', 'loopback'],
    ['https://127.0.0.1:8443/callback', '127.0.0.1', 'loopback'],
    ['http://[::1]/', '::1', 'loopback'],
    ['http://[0:0:0:0:0:0:0:1]:8080/', '::1', 'loopback'],
    ['http://[::ffff:127.0.0.1]/', '::ffff:7f00:1', 'loopback'],
    ['http://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe', 'link_local'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254', 'link_local'],
    ['http://2852039166/', '169.254.169.254', 'link_local'],
    ['http://0xa9.0xfe.0xa9.0xfe/', '169.254.169.254', 'link_local'],
    ['http://0/', '0.0.0.0', 'unspecified'],
    ['http://0.0.0.0:3000/', '0.0.0.0', 'unspecified'],
    ['http://10.0.0.5/', '10.0.0.5', 'private'],
    ['http://012.0.0.5/', '10.0.0.5', 'private'],
    ['http://172.16.0.1/', '172.16.0.1', 'private'],
    ['http://192.168.0.10/', '192.168.0.10', 'private'],
    ['http://100.64.1.1/', '100.64.1.1', 'shared'],
    ['http://224.0.0.251/', '224.0.0.251', 'multicast'],
    ['http://255.255.255.255/', '255.255.255.255', 'reserved'],
    ['http://[fe80::1]/', 'fe80::1', 'link_local'],
    ['http://[fd00::1]/', 'fd00::1', 'private'],
    ['http://[ff02::1]/', 'ff02::1', 'multicast'],
    ['http://[64:ff9b::a9fe:a9fe]/', '64:ff9b::a9fe:a9fe', 'link_local'],
    ['http://[2002:c0a8:1::]/', '2002:c0a8:1::', 'private'],
  ])('refuses %s, seen as %s (%s)', async (url, address, range) => {
    const result = await checkCallbackUrl(url, strict);
    expect(result).toMatchObject({ ok: false, reason: 'forbidden_address', address, range });
  });

  it.each<[string, CallbackUrlRefusal]>([
    ['ftp://example.com/', 'unsupported_scheme'],
    ['file:///etc/passwd', 'unsupported_scheme'],
    ['gopher://127.0.0.1:6379/_INFO', 'unsupported_scheme'],
    ['javascript:alert(1)', 'unsupported_scheme'],
    ['data:text/plain,hi', 'unsupported_scheme'],
    ['ws://example.com/', 'unsupported_scheme'],
    ['https://user@example.com/', 'credentials_in_url'],
    ['https://user:secret@example.com/', 'credentials_in_url'],
    ['https://:secret@example.com/', 'credentials_in_url'],
    ['https://example.com@127.0.0.1/', 'credentials_in_url'],
    ['not a url', 'invalid_url'],
    ['/relative/path', 'invalid_url'],
    ['http://', 'invalid_url'],
    ['http://1.2.3.4.5/', 'invalid_url'],
    ['http://256.0.0.1/', 'invalid_url'],
    ['http://[fe80::1%25eth0]/', 'invalid_url'],
    ['', 'invalid_url'],
  ])('refuses %s (%s) before any resolution', async (url, reason) => {
    expect(await checkCallbackUrl(url, strict)).toMatchObject({ ok: false, reason });
  });

  it('accepts a public IP literal without resolving it', async () => {
    const result = await checkCallbackUrl('https://8.8.8.8/hook?a=1', strict);
    expect(result).toMatchObject({ ok: true, addresses: ['8.8.8.8'] });
    expect(result.ok && result.url.href).toBe('https://8.8.8.8/hook?a=1');
    expect(await checkCallbackUrl('https://[2606:4700:4700::1111]/', strict)).toMatchObject({
      ok: true,
      addresses: ['2606:4700:4700::1111'],
    });
  });

  describe('host names', () => {
    const dns = fakeDns({
      'hooks.merchant.example': ['200.147.67.142', '2804:14c:65::1'],
      'internal.example': ['10.0.0.5'],
      'metadata.example': ['169.254.169.254'],
      'mixed.example': ['200.147.67.142', '127.0.0.1'],
      'mapped.example': ['::ffff:127.0.0.1'],
      'empty.example': [],
      'garbage.example': ['not-an-address'],
      '127.0.0.1.nip.io': ['127.0.0.1'],
    });
    const options = { allowPrivate: false, resolve: dns };

    beforeEach(() => {
      dns.asked.length = 0;
    });

    it('accepts a name whose every address is public, and returns them all', async () => {
      const result = await checkCallbackUrl('https://HOOKS.Merchant.Example/charges', options);
      expect(result).toMatchObject({ ok: true, addresses: ['200.147.67.142', '2804:14c:65::1'] });
      expect(dns.asked).toEqual(['hooks.merchant.example']);
    });

    it.each<[string, string, AddressRange]>([
      ['http://internal.example/', '10.0.0.5', 'private'],
      ['http://metadata.example/latest/meta-data/', '169.254.169.254', 'link_local'],
      ['http://mixed.example/', '127.0.0.1', 'loopback'],
      ['http://mapped.example/', '::ffff:127.0.0.1', 'loopback'],
      ['http://127.0.0.1.nip.io/', '127.0.0.1', 'loopback'],
    ])('refuses %s, which resolves to %s', async (url, address, range) => {
      expect(await checkCallbackUrl(url, options)).toMatchObject({ ok: false, reason: 'forbidden_address', address, range });
    });

    it.each(['http://nowhere.example/', 'http://empty.example/', 'http://garbage.example/'])(
      'refuses %s, which does not resolve to addresses',
      async (url) => {
        expect(await checkCallbackUrl(url, options)).toMatchObject({ ok: false, reason: 'unresolvable' });
      },
    );

    it('uses the system resolver by default', async () => {
      const result = await checkCallbackUrl('http://localhost:4000/', { allowPrivate: false });
      expect(result).toMatchObject({ ok: false, reason: 'forbidden_address', range: 'loopback' });
    });
  });

  describe('exemptions', () => {
    it('allowPrivate lets everything through but still resolves', async () => {
      for (const url of ['http://127.0.0.1/', 'http://169.254.169.254/', 'http://[::1]:3000/']) {
        expect(await checkCallbackUrl(url, { allowPrivate: true, resolve: neverResolve })).toMatchObject({ ok: true });
      }
      const dns = fakeDns({ 'receiver.local': ['192.168.0.9'] });
      expect(await checkCallbackUrl('http://receiver.local/', { allowPrivate: true, resolve: dns })).toMatchObject({
        ok: true,
        addresses: ['192.168.0.9'],
      });
    });

    it('allowPrivate does not allow other schemes or credentials', async () => {
      expect(await checkCallbackUrl('file:///etc/passwd', { allowPrivate: true })).toMatchObject({ reason: 'unsupported_scheme' });
      expect(await checkCallbackUrl('http://a:b@127.0.0.1/', { allowPrivate: true })).toMatchObject({ reason: 'credentials_in_url' });
    });

    it('allowHosts exempts exactly the listed host, or host and port', async () => {
      const options = { allowPrivate: false, allowHosts: ['127.0.0.1:8080', 'Receiver.Local'], resolve: fakeDns({ 'receiver.local': ['10.1.1.1'] }) };
      expect(await checkCallbackUrl('http://127.0.0.1:8080/hook', options)).toMatchObject({ ok: true, addresses: ['127.0.0.1'] });
      expect(await checkCallbackUrl('http://2130706433:8080/hook', options)).toMatchObject({ ok: true });
      expect(await checkCallbackUrl('http://127.0.0.1:8081/hook', options)).toMatchObject({ reason: 'forbidden_address' });
      expect(await checkCallbackUrl('http://127.0.0.1/hook', options)).toMatchObject({ reason: 'forbidden_address' });
      expect(await checkCallbackUrl('http://127.0.0.2:8080/hook', options)).toMatchObject({ reason: 'forbidden_address' });
      expect(await checkCallbackUrl('http://receiver.local:9999/', options)).toMatchObject({ ok: true, addresses: ['10.1.1.1'] });
      expect(await checkCallbackUrl('http://169.254.169.254/', options)).toMatchObject({ reason: 'forbidden_address' });
    });
  });
});

describe('safeFetch', () => {
  interface Seen {
    method: string;
    url: string;
    host: string | undefined;
    authorization: string | undefined;
    body: string;
  }
  let server: Server;
  let otherServer: Server;
  let origin: string;
  let host: string;
  let otherPort: number;
  const seen: Seen[] = [];

  function route(request: IncomingMessage, response: ServerResponse, body: string): void {
    const path = request.url ?? '/';
    const redirect = (status: number, location: string): void => {
      response.writeHead(status, { location }).end();
    };
    if (path === '/ok') return void response.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    if (path === '/echo') {
      return void response
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ method: request.method, body, host: request.headers.host, authorization: request.headers.authorization ?? null }));
    }
    if (path === '/to-metadata') return redirect(302, 'http://169.254.169.254/latest/meta-data/');
    if (path === '/to-metadata-decimal') return redirect(301, 'http://2852039166/latest/meta-data/');
    if (path === '/to-mapped-loopback') return redirect(307, 'http://[::ffff:127.0.0.1]/');
    if (path === '/to-other-port') return redirect(302, `http://127.0.0.1:${otherPort}/ok`);
    if (path === '/to-private-name') return redirect(302, 'http://internal.example/admin');
    if (path === '/to-file') return redirect(302, 'file:///etc/passwd');
    if (path === '/to-named-receiver') return redirect(302, `http://receiver.test:${new URL(origin).port}/echo`);
    if (path === '/see-other') return redirect(303, '/echo');
    if (path === '/found') return redirect(302, '/echo');
    if (path === '/temporary') return redirect(307, '/echo');
    if (path === '/permanent') return redirect(308, '/echo');
    if (path === '/no-location') return void response.writeHead(302).end('nowhere');
    if (path === '/no-content') return void response.writeHead(204).end();
    const chain = /^\/chain\/(\d+)$/.exec(path);
    if (chain) {
      const left = Number(chain[1]);
      return left === 0 ? void response.writeHead(200).end('end of chain') : redirect(302, `/chain/${left - 1}`);
    }
    response.writeHead(404).end();
  }

  beforeAll(async () => {
    const listen = (handler: (request: IncomingMessage, response: ServerResponse) => void) =>
      new Promise<Server>((resolve) => {
        const created = createServer(handler);
        created.listen(0, '127.0.0.1', () => resolve(created));
      });
    server = await listen((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        seen.push({
          method: request.method ?? '',
          url: request.url ?? '',
          host: request.headers.host,
          authorization: request.headers.authorization,
          body,
        });
        route(request, response, body);
      });
    });
    otherServer = await listen((_request, response) => {
      seen.push({ method: 'OTHER', url: '', host: undefined, authorization: undefined, body: '' });
      response.end('should never be reached');
    });
    const { port } = server.address() as AddressInfo;
    otherPort = (otherServer.address() as AddressInfo).port;
    host = `127.0.0.1:${port}`;
    origin = `http://${host}`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => otherServer.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  const options = () => ({
    allowPrivate: false,
    allowHosts: [host, `receiver.test:${new URL(origin).port}`],
    resolve: fakeDns({ 'receiver.test': ['127.0.0.1'], 'internal.example': ['10.0.0.5'] }),
  });

  it('fetches an allowed host and returns a normal Response', async () => {
    const result = await safeFetch(`${origin}/ok`, {}, options());
    if (!result.ok) throw new Error(result.message);
    expect(result.response.status).toBe(200);
    expect(result.response.headers.get('content-type')).toBe('text/plain');
    expect(await result.response.text()).toBe('hello');
    expect(result.redirects).toEqual([]);
  });

  it('refuses the internal server itself when it is not allowed, without connecting', async () => {
    const result = await safeFetch(`${origin}/ok`, {}, { allowPrivate: false });
    expect(result).toMatchObject({ ok: false, reason: 'forbidden_address', address: '127.0.0.1', range: 'loopback' });
    expect(seen).toEqual([]);
  });

  it.each<[string, string, AddressRange | undefined, CallbackUrlRefusal]>([
    ['/to-metadata', '169.254.169.254', 'link_local', 'forbidden_address'],
    ['/to-metadata-decimal', '169.254.169.254', 'link_local', 'forbidden_address'],
    ['/to-mapped-loopback', '::ffff:7f00:1', 'loopback', 'forbidden_address'],
    ['/to-other-port', '127.0.0.1', 'loopback', 'forbidden_address'],
    ['/to-private-name', '10.0.0.5', 'private', 'forbidden_address'],
    ['/to-file', '', undefined, 'unsupported_scheme'],
  ])('follows %s only as far as the allowed host: refuses %s', async (path, address, range, reason) => {
    const result = await safeFetch(`${origin}${path}`, {}, options());
    expect(result).toMatchObject({ ok: false, reason, ...(range ? { address, range } : {}) });
    expect(seen.map((request) => request.url)).toEqual([path]);
  });

  it('judges a redirect target on its own, whatever exempted the first hop', async () => {
    // Allowing the test server by host keeps the metadata address forbidden on the next hop.
    const result = await safeFetch(`${origin}/to-metadata`, {}, { allowPrivate: false, allowHosts: [host] });
    expect(result).toMatchObject({ ok: false, reason: 'forbidden_address', url: 'http://169.254.169.254/latest/meta-data/' });
  });

  it('follows up to 3 redirects and refuses a 4th', async () => {
    const three = await safeFetch(`${origin}/chain/3`, {}, options());
    if (!three.ok) throw new Error(three.message);
    expect(await three.response.text()).toBe('end of chain');
    expect(three.redirects.map((url) => url.pathname)).toEqual(['/chain/2', '/chain/1', '/chain/0']);
    expect(three.url.pathname).toBe('/chain/0');

    seen.length = 0;
    const four = await safeFetch(`${origin}/chain/4`, {}, options());
    expect(four).toMatchObject({ ok: false, reason: 'too_many_redirects' });
    expect(seen.map((request) => request.url)).toEqual(['/chain/4', '/chain/3', '/chain/2', '/chain/1']);
  });

  it('follows no redirect with maxRedirects 0', async () => {
    expect(await safeFetch(`${origin}/chain/1`, {}, { ...options(), maxRedirects: 0 })).toMatchObject({
      ok: false,
      reason: 'too_many_redirects',
    });
  });

  it('connects to the checked address, not to whatever the name resolves to later', async () => {
    // receiver.test exists only in the injected resolver: reaching the server proves the
    // socket used the checked address instead of asking DNS again.
    const port = new URL(origin).port;
    const result = await safeFetch(`http://receiver.test:${port}/echo`, {}, options());
    if (!result.ok) throw new Error(result.message);
    expect(await result.response.json()).toMatchObject({ method: 'GET', host: `receiver.test:${port}` });
  });

  it('drops the Authorization header on a redirect to another origin', async () => {
    const result = await safeFetch(`${origin}/to-named-receiver`, { headers: { authorization: 'Bearer secret' } }, options());
    if (!result.ok) throw new Error(result.message);
    expect(await result.response.json()).toMatchObject({ authorization: null });
    expect(seen[0]!.authorization).toBe('Bearer secret');
  });

  it.each<[string, string, string]>([
    ['/see-other', 'GET', ''],
    ['/found', 'GET', ''],
    ['/temporary', 'POST', '{"amount":"150.00"}'],
    ['/permanent', 'POST', '{"amount":"150.00"}'],
  ])('redirects a POST through %s as %s with body %j', async (path, method, body) => {
    const result = await safeFetch(
      `${origin}${path}`,
      { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Basic a' }, body: '{"amount":"150.00"}' },
      options(),
    );
    if (!result.ok) throw new Error(result.message);
    expect(await result.response.json()).toMatchObject({ method, body, authorization: 'Basic a' });
  });

  it('returns a 3xx without Location as it is, and a 204 without a body', async () => {
    const noLocation = await safeFetch(`${origin}/no-location`, {}, options());
    if (!noLocation.ok) throw new Error(noLocation.message);
    expect(noLocation.response.status).toBe(302);
    expect(await noLocation.response.text()).toBe('nowhere');
    const noContent = await safeFetch(`${origin}/no-content`, { method: 'DELETE' }, options());
    if (!noContent.ok) throw new Error(noContent.message);
    expect(noContent.response.status).toBe(204);
    expect(noContent.response.body).toBeNull();
  });

  it('rejects, like fetch, when the connection fails or is aborted', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    await expect(safeFetch(`http://127.0.0.1:${port}/`, {}, { allowPrivate: true })).rejects.toThrow();
    await expect(safeFetch(`${origin}/ok`, { signal: AbortSignal.abort() }, options())).rejects.toThrow();
  });
});
