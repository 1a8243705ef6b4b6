/**
 * The HTTP side's hardening over real HTTP against the real system: the
 * security headers on every kind of answer; the allowed hosts on REST, the
 * pages and the live feed's handshake.
 */
import { FakeClock } from '@kanjia/protocol';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { AllowedHosts } from '../src/http/hosts.js';
import { contentSecurityPolicy, tileOrigins } from '../src/http/security-headers.js';
import { createLogger } from '../src/logger.js';
import { mapTiles } from '../src/map/map-tiles.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { RecordingSender, tempDataDir } from './helpers.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request over a fresh connection with exactly these headers (fetch would not let a test choose the Host). */
export function rawRequest(port: number, path: string, headers: Record<string, string>, method = 'GET', body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A system on loopback ports with a stand-in dashboard build. */
async function startSystem(tmpDir: string, overrides: Record<string, unknown> = {}): Promise<{ system: KanjiaSystem; running: RunningSystem }> {
  const settings = loadSettings({}, { overrides: { dataDir: tmpDir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', ...overrides } });
  const dashboardDir = join(tmpDir, 'dashboard');
  mkdirSync(dashboardDir, { recursive: true });
  writeFileSync(join(dashboardDir, 'index.html'), '<!doctype html><title>Kanjia</title>');
  writeFileSync(join(dashboardDir, 'answer.html'), '<!doctype html><title>Kanjia</title>');
  const system = new KanjiaSystem({ settings, clock: new FakeClock(), smsSender: new RecordingSender(), logger: createLogger('silent'), dashboardDir });
  return { system, running: await system.start() };
}

describe('security headers', () => {
  const tmp = tempDataDir();
  let system: KanjiaSystem;
  let port: number;

  beforeAll(async () => {
    ({ system, running: { httpPort: port } } = await startSystem(tmp.dir, { mapTiles: 'http://{s}.tiles.example.cn:8081/{z}/{x}/{y}.png' }));
  });
  afterAll(async () => {
    await system.stop();
    tmp.cleanup();
  });

  const host = () => `127.0.0.1:${port}`;
  const kinds: Array<[what: string, method: string, path: string, status: number, body?: string]> = [
    ['the dashboard page', 'GET', '/', 200],
    ['the answer page', 'GET', '/a/zzzz2345abcd', 200],
    ['the health check', 'GET', '/api/health', 200],
    ['an API refusal without a session', 'GET', '/api/alarms', 401],
    ['an unknown API route', 'GET', '/api/nothing-here', 404],
    ['a bad request body', 'POST', '/api/auth/login', 400, '{"name":1}'],
  ];
  for (const [what, method, path, status, body] of kinds) {
    it(`sets CSP without inline scripts, frame-ancestors 'none', X-Frame-Options DENY, nosniff and no-referrer on ${what} (${status})`, async () => {
      const res = await rawRequest(port, path, { host: host(), ...(body ? { 'content-type': 'application/json' } : {}) }, method, body);
      expect(res.status).toBe(status);
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain(`connect-src 'self' ws://${host()} wss://${host()}`);
      expect(csp).toContain("img-src 'self' data: http://a.tiles.example.cn:8081 http://b.tiles.example.cn:8081 http://c.tiles.example.cn:8081;");
      expect(res.headers['x-frame-options']).toBe('DENY');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
      // Plain http: no HSTS.
      expect(res.headers['strict-transport-security']).toBeUndefined();
    });
  }

  it('allows exactly the tile origins of the settings: 天地图’s eight subdomains, a template’s own host, none for the offline map', () => {
    const tianditu = tileOrigins(mapTiles({ mapTiles: 'tianditu', mapTiandituKey: '0123456789abcdef0123', mapTileCrs: 'wgs84' }));
    expect(tianditu).toEqual(['0', '1', '2', '3', '4', '5', '6', '7'].map((s) => `https://t${s}.tianditu.gov.cn`));
    expect(tileOrigins(mapTiles({ mapTiles: 'http://10.0.0.5/tiles/{z}/{x}/{y}.png', mapTileCrs: 'wgs84' }))).toEqual(['http://10.0.0.5']);
    expect(tileOrigins(mapTiles({ mapTiles: 'none', mapTileCrs: 'wgs84' }))).toEqual([]);
    expect(contentSecurityPolicy('kanjia.example.cn', [])).toContain("img-src 'self' data:;");
  });

  it('writes no header-like text of a strange Host into the policy', () => {
    expect(contentSecurityPolicy("x; script-src 'unsafe-inline'", [])).toContain("connect-src 'self';");
  });

  it('refuses a tile template whose host holds a placeholder other than {s}', () => {
    expect(() => loadSettings({ KANJIA_MAP_TILES: 'http://{z}.tiles.example.cn/{z}/{x}/{y}.png' })).toThrow(/may hold \{s\}/);
    expect(() => loadSettings({ KANJIA_MAP_TILES: 'http://{s}.tiles.example.cn/{z}/{x}/{y}.png' })).not.toThrow();
  });
});

/** A WebSocket upgrade request to the live feed with this Host; resolves with what the server answered, up to a blank line and 1 KB more. */
function upgradeAnswer(port: number, host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => {
      socket.write(
        `GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let text = '';
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (text.startsWith('HTTP/1.1 101 ') && text.includes('\r\n\r\n')) socket.destroy();
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

describe('allowed hosts', () => {
  const tmp = tempDataDir();
  let system: KanjiaSystem;
  let port: number;

  beforeAll(async () => {
    ({ system, running: { httpPort: port } } = await startSystem(tmp.dir, { publicUrl: 'https://kanjia.example.cn', allowedHosts: 'kanjia.lan, 10.8.0.1' }));
  });
  afterAll(async () => {
    await system.stop();
    tmp.cleanup();
  });

  it('answers to the bound address, localhost, ::1, the public URL’s host and the configured names, any port', async () => {
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`, 'kanjia.example.cn', 'kanjia.example.cn.', 'kanjia.lan:8443', '10.8.0.1']) {
      const res = await rawRequest(port, '/api/health', { host });
      expect(res.status, host).toBe(200);
    }
  });

  it('refuses any other host with 421 HOST_NOT_ALLOWED on the API and on the pages, before the session check, security headers included', async () => {
    const api = await rawRequest(port, '/api/alarms', { host: `attacker.example:${port}` });
    expect(api.status).toBe(421);
    expect(JSON.parse(api.body)).toMatchObject({ code: 'HOST_NOT_ALLOWED', message: expect.stringContaining('KANJIA_ALLOWED_HOSTS') });
    expect(api.headers['x-frame-options']).toBe('DENY');
    const page = await rawRequest(port, '/', { host: 'attacker.example' });
    expect(page.status).toBe(421);
    expect(page.body).toMatch(/^HOST_NOT_ALLOWED: 此服务器不接受以 "attacker\.example" 为地址的访问/);
    expect((await rawRequest(port, '/api/health', { host: `192.0.2.7:${port}` })).status).toBe(421);
    expect((await rawRequest(port, '/api/auth/login', { host: 'kanjia.example.cn.attacker.example', 'content-type': 'application/json' }, 'POST', '{"name":"a","password":"b"}')).status).toBe(421);
  });

  it('refuses the live feed’s handshake for another host, polling and WebSocket alike, and opens it for the right one', async () => {
    const wrong = await rawRequest(port, '/socket.io/?EIO=4&transport=polling', { host: `attacker.example:${port}` });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toContain('HOST_NOT_ALLOWED');
    const right = await rawRequest(port, '/socket.io/?EIO=4&transport=polling', { host: `127.0.0.1:${port}` });
    expect(right.status).toBe(200);
    expect(right.body).toMatch(/^0\{"sid":/);
    expect(right.headers['x-content-type-options']).toBe('nosniff');
    // engine.io answers a refused upgrade 400, with the reason.
    expect(await upgradeAnswer(port, `attacker.example:${port}`)).toMatch(/^HTTP\/1\.1 400 [\s\S]*HOST_NOT_ALLOWED/);
    expect(await upgradeAnswer(port, `localhost:${port}`)).toMatch(/^HTTP\/1\.1 101 Switching Protocols/);
  });
});

describe('allowed hosts when bound to every interface', () => {
  let now = 0;
  let addresses = ['192.168.1.10'];
  const hosts = new AllowedHosts({
    extra: [],
    httpHost: '0.0.0.0',
    publicUrl: undefined,
    nowMs: () => now,
    hostname: () => 'kanjia-pc',
    interfaces: () => ({
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
      eth0: [
        ...addresses.map((address) => ({ address, netmask: '255.255.255.0', family: 'IPv4' as const, mac: '52:54:00:12:34:56', internal: false, cidr: `${address}/24` })),
        { address: 'fe80::5054:ff:fe12:3456%eth0', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6' as const, mac: '52:54:00:12:34:56', internal: false, cidr: null, scopeid: 2 },
        { address: 'fd00::10', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6' as const, mac: '52:54:00:12:34:56', internal: false, cidr: null, scopeid: 0 },
      ],
    }),
  });

  it('lets a LAN browser in by the machine’s own addresses and name, and nothing else', () => {
    for (const h of ['192.168.1.10:8080', '[fd00::10]:8080', 'kanjia-pc:8080', 'kanjia-pc.local', 'localhost']) expect(hosts.allows(h), h).toBe(true);
    for (const h of ['192.168.1.11:8080', 'attacker.example', 'kanjia-pc.attacker.example', undefined, '']) expect(hosts.allows(h), String(h)).toBe(false);
  });

  it('follows a new address of the machine within 30 s', () => {
    addresses = ['192.168.1.23'];
    now += 1_000;
    expect(hosts.allows('192.168.1.23')).toBe(false);
    now += 30_000;
    expect(hosts.allows('192.168.1.23')).toBe(true);
    expect(hosts.allows('192.168.1.10')).toBe(false);
  });

  it('allows any host with *', () => {
    expect(new AllowedHosts({ extra: ['*'], httpHost: '127.0.0.1', publicUrl: undefined, nowMs: () => 0 }).allows('whatever.example')).toBe(true);
  });

  it('refuses a setting that is not a list of names and addresses, saying what to write', () => {
    expect(() => loadSettings({ KANJIA_ALLOWED_HOSTS: 'kanjia.lan,http://kanjia.lan' })).toThrow(/KANJIA_ALLOWED_HOSTS.*"http:\/\/kanjia\.lan" is not a host name or address: give names and addresses only, without scheme or port/);
    expect(() => loadSettings({ KANJIA_ALLOWED_HOSTS: 'kanjia.lan:8080' })).toThrow(/without scheme or port/);
    expect(loadSettings({ KANJIA_ALLOWED_HOSTS: 'kanjia.lan, 192.168.1.10,::1,[fd00::1],*' }).allowedHosts).toEqual(['kanjia.lan', '192.168.1.10', '::1', '[fd00::1]', '*']);
  });
});
