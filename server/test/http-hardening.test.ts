/**
 * The HTTP side's hardening over real HTTP against the real system: the
 * security headers on every kind of answer.
 */
import { FakeClock } from '@kanjia/protocol';
import { mkdirSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
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
