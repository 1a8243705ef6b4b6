/**
 * The structural check of the login: the real system (every route group it
 * registers, whoever wrote it) is started, every registered route is collected
 * as it is registered, and each is called over HTTP without a session. A route
 * that answers anything but 401 fails the test unless it is in the reviewed
 * lists below — so a new route cannot forget the session.
 */
import { FakeClock } from '@kanjia/protocol';
import type { RouteOptions } from 'fastify';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { oneHousehold, RecordingSender, tempDataDir } from './helpers.js';

/**
 * Reached without a session on purpose (reviewed): health, login, the static
 * pages that hold no data (the answer page /a/<code> is the same file for every
 * code; its data comes from /api/answer/<code>).
 */
const PUBLIC_ROUTES = new Set(['GET /api/health', 'HEAD /api/health', 'POST /api/auth/login', 'GET /*', 'HEAD /*', 'GET /', 'HEAD /', 'GET /a/:code', 'HEAD /a/:code']);
/** The SMS answer API: the code in the URL is the credential (it must answer 404 for a code nobody was sent). */
const CODE_ROUTE = /^(GET|HEAD|POST) \/api\/answer\/:code(\/[a-z-]+)?$/;

describe('route walk over the real system', () => {
  const tmp = tempDataDir();
  const routes: RouteOptions[] = [];
  let system: KanjiaSystem;
  let running: RunningSystem;

  beforeAll(async () => {
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1' } });
    const db = openDatabase(databaseFile(settings));
    new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(oneHousehold());
    db.close();
    // A built dashboard (both pages), so the walk covers the static routes too.
    const dashboardDir = join(tmp.dir, 'dashboard');
    mkdirSync(dashboardDir);
    writeFileSync(join(dashboardDir, 'index.html'), '<!doctype html><title>Kanjia</title>');
    writeFileSync(join(dashboardDir, 'answer.html'), '<!doctype html><title>Kanjia</title>');
    system = new KanjiaSystem({ settings, clock: new FakeClock(), smsSender: new RecordingSender(), logger: createLogger('silent'), dashboardDir, onRoute: (r) => routes.push(r) });
    running = await system.start();
  });
  afterAll(async () => {
    await system.stop();
    tmp.cleanup();
  });

  // A body that passes the answer steps' validation, so the code itself is what is judged.
  const call = (method: string, url: string, cookie?: string) =>
    fetch(new URL(url.replace(/:[a-zA-Z]+/g, 'zzzz2345abcd').replace('*', 'index.html'), running.httpUrl), {
      method,
      headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
      ...(method === 'GET' || method === 'HEAD' ? {} : { body: JSON.stringify(url.startsWith('/api/answer/') ? { alarmId: 'alm_zzzz', note: '已处理' } : {}) }),
    });

  it('every route needs a session, except the reviewed public and code routes', async () => {
    const seen: string[] = [];
    const offenders: string[] = [];
    for (const route of routes) {
      for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
        const key = `${method} ${route.url}`;
        seen.push(key);
        if (PUBLIC_ROUTES.has(key)) continue;
        const res = await call(method, route.url);
        const body = method === 'HEAD' ? '' : await res.text();
        if (CODE_ROUTE.test(key)) {
          // A code nobody was sent opens nothing and says nothing of anyone.
          if (res.status !== 404 || body.includes('王秀英')) offenders.push(`${key} → ${res.status} (a code route must answer 404 to an unknown code)`);
          continue;
        }
        if (res.status !== 401) offenders.push(`${key} → ${res.status} without a session`);
        else if (method !== 'HEAD' && JSON.parse(body).code !== 'UNAUTHENTICATED') offenders.push(`${key} → 401 without the UNAUTHENTICATED code`);
        // A made-up session is no session.
        const forged = await call(method, route.url, 'kanjia_session=forged-token-000000000000');
        if (forged.status !== 401) offenders.push(`${key} → ${forged.status} with a forged session cookie`);
      }
    }
    expect(offenders).toEqual([]);
    // The walk saw the route groups of every part of the system, so a group registered elsewhere cannot hide.
    for (const expected of ['GET /api/alarms', 'POST /api/alarms/:id/take', 'GET /api/audit', 'GET /api/residents/:id/card', 'GET /api/answer/:code', 'POST /api/auth/logout', 'GET /api/registry/people', 'POST /api/residents/:id/visits', 'POST /api/residents/:id/leave', 'GET /api/visits/overdue', 'POST /api/registry/import', 'GET /api/registry/export.xlsx']) {
      expect(seen).toContain(expected);
    }
    expect(seen.length).toBeGreaterThan(30);
  });
});
