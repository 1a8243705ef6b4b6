/**
 * Login, sessions, scope, CSRF and the audit log through the real routes
 * (inject) on SQLite in a temp dir, with a fake clock for the session limits.
 */
import { defaultPolicies } from '@kanjia/alerts';
import { findingsFromEvent } from '@kanjia/detection';
import { FakeClock } from '@kanjia/protocol';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlarmService } from '../src/alarms/alarm-service.js';
import { SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { SqliteAuditLog } from '../src/auth/audit-log.js';
import { hashPassword, verifyPassword } from '../src/auth/password.js';
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS, SqliteUserStore } from '../src/auth/user-store.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { buildApp } from '../src/http/app.js';
import { CHECKS_AT_ONCE, LOGIN_THROTTLE, QUEUE_MAX } from '../src/auth/login-guard.js';
import { createLogger } from '../src/logger.js';
import { SqliteActivityLog } from '../src/pipeline/activity-log.js';
import { SqliteDeviceHistory } from '../src/registry/device-history.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { cookieOf, loginAs, tempDataDir, TEST_PASSWORD, twoVillages } from './helpers.js';

/** Public and code routes, reviewed: everything else must answer 401 without a session. */
const REVIEWED_OPEN_ROUTES = new Set(['GET /api/health', 'HEAD /api/health', 'POST /api/auth/login', 'GET /', 'HEAD /', 'GET /*', 'HEAD /*']);

describe('auth', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let app: FastifyInstance;
  let proxied: FastifyInstance;
  let store: SqliteAlarmStore;
  let registry: SqliteRegistryStore;
  let users: SqliteUserStore;
  let clock: FakeClock;
  let logLines: string;
  const routes: RouteOptions[] = [];
  let alarmA: string;
  let alarmB: string;
  let residentB: string;

  beforeEach(async () => {
    tmp = tempDataDir();
    clock = new FakeClock();
    const now = () => clock.nowMs();
    db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
    registry = new SqliteRegistryStore(db, Buffer.alloc(32, 1), now);
    store = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(), locale: 'zh-CN', channel: 'test', publicUrl: 'http://127.0.0.1:8080' });
    const [devA, devB] = registry.importRegistry(twoVillages()).devices.map((d) => d.deviceId) as [string, string];
    logLines = '';
    const logger = createLogger('trace', new Writable({ write: (chunk: Buffer, _enc, done) => ((logLines += chunk.toString()), done()) }));
    const alarms = new AlarmService({
      store,
      registry,
      clock,
      logger,
      commands: { publishCommand: async () => undefined, isOnline: () => false },
      outbox: { kick: () => undefined },
      escalation: { reschedule: () => undefined },
      feed: { alarmChanged: () => undefined, alarmRepeated: () => undefined, devicePresence: () => undefined },
    });
    const open = (deviceId: string) => {
      const event = { id: `e-${deviceId}`, ts: now(), type: 'sos' as const };
      return store.recordEvent(deviceId, event, findingsFromEvent(deviceId, event)[0], now()).alarmId!;
    };
    alarmA = open(devA);
    alarmB = open(devB);
    residentB = store.view(alarmB)!.resident.id;
    users = new SqliteUserStore(db, now);
    routes.length = 0;
    // Behind a TLS proxy that says so (X-Forwarded-Proto) the cookie must be Secure.
    proxied = await buildApp({ ...deps(), trustProxy: ['loopback'] });
    // A built dashboard, so the walk covers the static file routes too.
    const dashboardDir = join(tmp.dir, 'dashboard');
    mkdirSync(dashboardDir);
    writeFileSync(join(dashboardDir, 'index.html'), '<!doctype html><title>Kanjia</title>');
    app = await buildApp({
      ...deps(),
      onRoute: (r) => routes.push(r),
      dashboardDir,
    });
    function deps(): Parameters<typeof buildApp>[0] {
      return {
        auth: { users, audit: new SqliteAuditLog(db, now), nowMs: now, publicUrl: 'https://kanjia.example.cn/' },
        residentVillage: (id) => registry.residentContext(id)?.villageId,
        alarms,
        store,
        logger,
        version: 'test',
        health: () => ({ ready: true }),
        villages: () => registry.villages(),
        setAway: (id, away) => registry.setAway(id, away, now()),
        registry: {
          registry,
          alarms: store,
          activity: new SqliteActivityLog(db, clock),
          deviceHistory: new SqliteDeviceHistory(db),
          nowMs: now,
          routineOf: () => undefined,
          registryChanged: () => undefined,
        },
        stats: () => ({
          startedAt: 0,
          gateway: { connected: 0, connections: 0, authFailures: 0, aclDenied: 0, invalidPayloads: {}, oversized: 0, malformedFrames: 0, floodDisconnects: 0, messagesIn: 0, commandsOut: 0, handlerErrors: 0 },
          notifications: { pending: 0, sent: 0, failed: 0, undeliverable: 0, delivered: 0 },
          devices: { registered: 2, online: 0 },
          liveClients: 0,
        }),
      };
    }
  });
  afterEach(async () => {
    await app.close();
    await proxied.close();
    db.close();
    tmp.cleanup();
  });

  const as = (cookie: string, method: 'GET' | 'POST', url: string, payload?: object) => app.inject({ method, url, headers: { cookie }, ...(payload ? { payload } : {}) });
  const login = (name: string, password: string, headers: Record<string, string> = {}, remoteAddress = '127.0.0.1') =>
    app.inject({ method: 'POST', url: '/api/auth/login', payload: { name, password }, headers, remoteAddress });

  it('route walk: every registered route answers 401 without a session, except the reviewed public ones', async () => {
    const seen: string[] = [];
    for (const route of routes) {
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      for (const method of methods) {
        const url = route.url.replace(/:(\w+)/g, 'x-$1').replace('*', 'index.html');
        const key = `${method} ${route.url}`;
        seen.push(key);
        const res = await app.inject({ method: method as 'GET', url, ...(method === 'POST' ? { payload: {} } : {}) });
        if (REVIEWED_OPEN_ROUTES.has(key)) {
          expect(res.statusCode, key).not.toBe(401);
        } else {
          expect(res.statusCode, `${key} answered ${res.statusCode} without a session`).toBe(401);
          if (method !== 'HEAD') expect(res.json().code, key).toBe('UNAUTHENTICATED');
        }
      }
    }
    // The walk saw the routes it is meant to guard.
    expect(seen).toEqual(expect.arrayContaining(['GET /*', 'GET /api/alarms', 'POST /api/alarms/:id/take', 'POST /api/alarms/:id/cancel', 'POST /api/residents/:id/away', 'GET /api/audit', 'POST /api/auth/logout']));
  });

  it('a duty officer of 石门村 sees only 石门村: the other village’s alarm, its actions and its resident answer 404 as if missing', async () => {
    const duty = await loginAs(app, users, { name: 'shimen', villages: ['石门村'] });
    const list = await as(duty, 'GET', '/api/alarms?status=all');
    expect(list.json().alarms.map((a: { id: string }) => a.id)).toEqual([alarmA]);
    expect((await as(duty, 'GET', '/api/villages')).json().villages.map((v: { name: string }) => v.name)).toEqual(['石门村']);
    const missing = await as(duty, 'GET', '/api/alarms/alm_nothere');
    const other = await as(duty, 'GET', `/api/alarms/${alarmB}`);
    expect(other.statusCode).toBe(404);
    expect(other.json()).toEqual({ ...missing.json(), message: missing.json().message.replace('alm_nothere', alarmB) });
    for (const step of ['take', 'on-the-way', 'on-site']) expect((await as(duty, 'POST', `/api/alarms/${alarmB}/${step}`, {})).statusCode).toBe(404);
    expect((await as(duty, 'POST', `/api/alarms/${alarmB}/resolve`, { note: '已处理' })).statusCode).toBe(404);
    expect((await as(duty, 'POST', `/api/alarms/${alarmB}/cancel`, { reason: '误报' })).statusCode).toBe(404);
    const away = await as(duty, 'POST', `/api/residents/${residentB}/away`, { away: true });
    expect(away.statusCode).toBe(404);
    expect(away.json().code).toBe('RESIDENT_NOT_FOUND');
    expect(store.view(alarmB)!.status).toBe('open');
    expect((await as(duty, 'GET', '/api/stats')).json().code).toBe('FORBIDDEN');
  });

  it('township sees every village of its township; a helper only the residents whose chain has their phone', async () => {
    const township = await loginAs(app, users, { name: 'minzheng', role: 'township', township: '石门镇' });
    expect((await as(township, 'GET', '/api/alarms')).json().alarms).toHaveLength(2);
    expect((await as(township, 'GET', '/api/stats')).statusCode).toBe(200);
    const otherTownship = await loginAs(app, users, { name: 'other', role: 'township', township: '别的镇' });
    expect((await as(otherTownship, 'GET', '/api/alarms')).json().alarms).toHaveLength(0);

    const helper = await loginAs(app, users, { name: 'liujianjun', role: 'helper', phone: '13800000001' });
    expect((await as(helper, 'GET', '/api/alarms')).json().alarms.map((a: { id: string }) => a.id)).toEqual([alarmA]);
    expect((await as(helper, 'GET', `/api/alarms/${alarmB}`)).statusCode).toBe(404);
    const taken = await as(helper, 'POST', `/api/alarms/${alarmA}/take`, {});
    expect(taken.json()).toMatchObject({ status: 'taken', takenBy: '帮扶责任人 liujianjun' });
    // Away mode is for the duty room, not helpers.
    expect((await as(helper, 'POST', `/api/residents/${store.view(alarmA)!.resident.id}/away`, { away: true })).json().code).toBe('FORBIDDEN');
    expect((await as(helper, 'GET', '/api/stats')).statusCode).toBe(403);
  });

  it('only admin, township and duty may cancel a case: a helper gets 403 FORBIDDEN; the cancelled SMS names the canceller’s real role', async () => {
    const helper = await loginAs(app, users, { name: 'liujianjun', role: 'helper', phone: '13800000001' });
    const refused = await as(helper, 'POST', `/api/alarms/${alarmA}/cancel`, { reason: '误报' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('FORBIDDEN');
    expect(store.view(alarmA)!.status).toBe('open');
    // The township office cancels (display name without its title): the history and the SMS say 民政办.
    const township = await loginAs(app, users, { name: 'zhanghong', role: 'township', township: '石门镇', displayName: '张红' });
    expect((await as(township, 'POST', `/api/alarms/${alarmA}/cancel`, { reason: '老人按错了' })).statusCode).toBe(200);
    expect(store.view(alarmA)!.history.find((h) => h.action === 'cancelled')?.by).toBe('民政办 张红');
    const notices = store.claimDueNotifications(clock.nowMs(), 10).filter((n) => n.alarmId === alarmA);
    expect(notices.map((n) => n.message.template)).toEqual(['cancelled']);
    expect(notices[0]!.message.text).toContain('已被民政办张红取消，原因：老人按错了。');
    expect(notices[0]!.message.text).not.toContain('值班员');
  });

  it('the actor of an action is the session user, recorded in the case history and the audit log', async () => {
    const duty = await loginAs(app, users, { name: 'liming', displayName: '值班员 李明', villages: ['石门村'] });
    await as(duty, 'POST', `/api/alarms/${alarmA}/take`, { note: '马上去' });
    await as(duty, 'POST', `/api/alarms/${alarmA}/cancel`, { reason: '老人误按' });
    const history = store.view(alarmA)!.history.filter((h) => h.action === 'taken' || h.action === 'cancelled');
    expect(history.map((h) => h.by)).toEqual(['值班员 李明', '值班员 李明']);
    const admin = await loginAs(app, users, { name: 'admin', role: 'admin' });
    const page = (await as(admin, 'GET', '/api/audit?limit=3')).json();
    expect(page.entries.map((e: { action: string }) => e.action)).toEqual(['login', 'alarm.cancel', 'alarm.take']);
    expect(page.entries[1]).toMatchObject({ actor: '值班员 李明', target: alarmA, detail: '老人误按', address: '127.0.0.1' });
    const next = (await as(admin, 'GET', `/api/audit?limit=3&before=${page.nextBefore}`)).json();
    expect(next.entries.map((e: { action: string }) => e.action)).toEqual(['login']);
    expect(next.nextBefore).toBeNull();
    expect((await as(duty, 'GET', '/api/audit')).statusCode).toBe(403);
  });

  it('the same answer for an unknown name and a wrong password; the cookie is HttpOnly, SameSite=Strict, Path=/', async () => {
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    const unknown = await login('nobody', TEST_PASSWORD);
    const wrong = await login('shimen', 'not-the-password');
    expect(unknown.statusCode).toBe(401);
    expect(wrong.statusCode).toBe(401);
    expect(unknown.json()).toEqual(wrong.json());
    expect(wrong.json()).toEqual({ code: 'LOGIN_FAILED', message: '用户名或密码不正确。Wrong name or password.' });
    const ok = await login('ShiMen', TEST_PASSWORD);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().user).toMatchObject({ name: 'shimen', role: 'duty', displayName: '值班员 shimen' });
    const setCookie = String(ok.headers['set-cookie']);
    expect(setCookie).toMatch(/^kanjia_session=[\w-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=604800$/);
    const me = await as(cookieOf(setCookie), 'GET', '/api/auth/me');
    expect(me.json().user.name).toBe('shimen');
    // Over https (a proxy saying so, with KANJIA_TRUST_PROXY) the cookie is Secure; a client's claim without it is not believed.
    const https = await proxied.inject({ method: 'POST', url: '/api/auth/login', payload: { name: 'shimen', password: TEST_PASSWORD }, headers: { 'x-forwarded-proto': 'https' } });
    expect(String(https.headers['set-cookie'])).toMatch(/; Secure$/);
    const claimed = await login('shimen', TEST_PASSWORD, { 'x-forwarded-proto': 'https' });
    expect(String(claimed.headers['set-cookie'])).not.toContain('Secure');
  });

  it(`throttles logins: after ${LOGIN_THROTTLE.perNameAndAddress} failures for a name from an address, 429 LOGIN_THROTTLED even with the right password, until 15 minutes have passed`, async () => {
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    for (let i = 0; i < LOGIN_THROTTLE.perNameAndAddress; i++) {
      expect((await login('shimen', `guess-${i}`)).statusCode).toBe(401);
      clock.advance(60_000);
    }
    const refused = await login('shimen', TEST_PASSWORD);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toEqual({ code: 'LOGIN_THROTTLED', message: expect.stringMatching(/请 10 分钟后再试.*try again in 10 minutes/), retryAfterSeconds: 10 * 60 });
    // The oldest of the five failures (at minute 0) counts until minute 15.
    expect(refused.headers['retry-after']).toBe('600');
    // Another name from the same address is not blocked by this name's failures.
    await users.create({ name: 'wang', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    expect((await login('wang', TEST_PASSWORD)).statusCode).toBe(200);
    clock.advance(10 * 60_000 - 1);
    expect((await login('shimen', TEST_PASSWORD)).statusCode).toBe(429);
    clock.advance(1);
    expect((await login('shimen', TEST_PASSWORD)).statusCode).toBe(200);
    // A success starts the count again.
    expect((await login('shimen', 'guess-again')).statusCode).toBe(401);
    expect((await login('shimen', TEST_PASSWORD)).statusCode).toBe(200);
  });

  const auditCount = (action: string, target?: string) =>
    (db.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE action = ? AND (? IS NULL OR target = ?)').get(action, target ?? null, target ?? null) as { n: number }).n;

  it(`of 40 parallel wrong logins for one name from one address at most ${LOGIN_THROTTLE.perNameAndAddress} are checked, the rest answer 429 at once`, async () => {
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => login('shimen', `guess-${i}`, {}, '10.0.0.66')));
    const codes = answers.map((a) => a.statusCode);
    const checked = codes.filter((c) => c === 401).length;
    expect(checked).toBeGreaterThan(0);
    expect(checked).toBeLessThanOrEqual(LOGIN_THROTTLE.perNameAndAddress);
    expect(codes.filter((c) => c === 429)).toHaveLength(40 - checked);
    expect(auditCount('loginFailed', 'shimen')).toBe(checked);
    // The right password from that address is refused too, now that the failures are written.
    expect((await login('shimen', TEST_PASSWORD, {}, '10.0.0.66')).statusCode).toBe(429);
  }, 30_000);

  it('someone else’s failures do not lock the officer out: the right password from another address logs in', async () => {
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    for (let i = 0; i < 10; i++) await login('shimen', `guess-${i}`, {}, '10.0.0.66');
    expect((await login('shimen', TEST_PASSWORD, {}, '10.0.0.66')).statusCode).toBe(429);
    expect((await login('shimen', TEST_PASSWORD, {}, '10.0.0.8')).statusCode).toBe(200);
  }, 30_000);

  it(`caps a name at ${LOGIN_THROTTLE.perName} failures from all addresses, except at an address where the user logged in before`, async () => {
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    expect((await login('shimen', TEST_PASSWORD, {}, '10.0.0.8')).statusCode).toBe(200);
    // A spray from many addresses, each under its own limits, in parallel batches.
    for (let batch = 0; batch < LOGIN_THROTTLE.perName / 5; batch++) {
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => login('shimen', 'guess', {}, `10.9.${batch}.${i}`)));
      expect(answers.map((a) => a.statusCode)).toEqual([401, 401, 401, 401, 401]);
    }
    expect((await login('shimen', TEST_PASSWORD, {}, '10.9.99.1')).json().code).toBe('LOGIN_THROTTLED');
    expect((await login('shimen', TEST_PASSWORD, {}, '10.0.0.8')).statusCode).toBe(200);
  }, 60_000);

  it('a burst of logins beyond what the server checks at once gets 503 LOGIN_BUSY instead of a long wait', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => login(`user${i}`, 'whatever1', {}, `10.1.0.${i}`)));
    const checked = answers.filter((a) => a.statusCode === 401).length;
    const busy = answers.filter((a) => a.statusCode === 503);
    expect(checked).toBeLessThanOrEqual(CHECKS_AT_ONCE + QUEUE_MAX);
    expect(checked + busy.length).toBe(30);
    expect(busy[0]?.json()).toEqual({ code: 'LOGIN_BUSY', message: expect.stringContaining('请几秒后再试') });
    expect(busy[0]?.headers['retry-after']).toBe('2');
    expect(auditCount('loginFailed')).toBe(checked);
    // The burst over, a login goes through.
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    expect((await login('shimen', TEST_PASSWORD, {}, '10.1.0.1')).statusCode).toBe(200);
  }, 30_000);

  it('a flood of refused logins writes one loginThrottled row per name and address per window, not one per request', async () => {
    for (let i = 0; i < LOGIN_THROTTLE.perNameAndAddress; i++) await login('shimen', `guess-${i}`, {}, '10.0.0.66');
    for (let i = 0; i < 200; i++) expect((await login('shimen', 'guess', {}, '10.0.0.66')).statusCode).toBe(429);
    await login('shimen', 'guess', {}, '10.0.0.67');
    expect(auditCount('loginThrottled')).toBe(1);
    clock.advance(LOGIN_THROTTLE.windowMs);
    for (let i = 0; i < LOGIN_THROTTLE.perNameAndAddress; i++) await login('shimen', `guess-${i}`, {}, '10.0.0.66');
    for (let i = 0; i < 50; i++) await login('shimen', 'guess', {}, '10.0.0.66');
    expect(auditCount('loginThrottled')).toBe(2);
  }, 30_000);

  it('behind the named proxy the client’s address is the one the proxy saw: rotating X-Forwarded-For entries neither escape the throttle nor fake the audit address', async () => {
    const viaProxy = (name: string, password: string, forwardedFor: string, remoteAddress = '127.0.0.1') =>
      proxied.inject({ method: 'POST', url: '/api/auth/login', payload: { name, password }, headers: { 'x-forwarded-for': forwardedFor }, remoteAddress });
    const codes: number[] = [];
    // The client writes its own X-Forwarded-For; nginx appends the address it saw.
    for (let i = 0; i < LOGIN_THROTTLE.perAddress + 2; i++) codes.push((await viaProxy(`spray${i}`, 'Password123', `10.1.${i}.7, 203.0.113.5`)).statusCode);
    expect(codes.slice(0, LOGIN_THROTTLE.perAddress)).toEqual(Array(LOGIN_THROTTLE.perAddress).fill(401));
    expect(codes.slice(LOGIN_THROTTLE.perAddress)).toEqual([429, 429]);
    const addresses = db.prepare("SELECT DISTINCT address FROM audit_log WHERE action = 'loginFailed'").all();
    expect(addresses).toEqual([{ address: '203.0.113.5' }]);
    // A client that reaches the server directly (not the proxy) is not believed at all.
    await viaProxy('direct', 'Password123', '8.8.8.8', '192.168.1.50');
    expect(db.prepare("SELECT address FROM audit_log WHERE target = 'direct'").get()).toEqual({ address: '192.168.1.50' });
  }, 30_000);

  it(`throttles an address after ${LOGIN_THROTTLE.perAddress} failures whatever names it tries`, async () => {
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    for (let i = 0; i < LOGIN_THROTTLE.perAddress; i++) expect((await login(`user${i}`, 'whatever1', {}, '10.0.0.7')).statusCode).toBe(401);
    expect((await login('shimen', TEST_PASSWORD, {}, '10.0.0.7')).json().code).toBe('LOGIN_THROTTLED');
    expect((await login('shimen', TEST_PASSWORD, {}, '10.0.0.8')).statusCode).toBe(200);
  }, 30_000);

  it('ends a session after 12 h without use, renews it with use, and ends it 7 days after login whatever happens', async () => {
    const cookie = await loginAs(app, users, { name: 'shimen', villages: ['石门村'] });
    clock.advance(SESSION_IDLE_MS - 60_000);
    expect((await as(cookie, 'GET', '/api/alarms')).statusCode).toBe(200);
    clock.advance(SESSION_IDLE_MS - 60_000);
    expect((await as(cookie, 'GET', '/api/alarms')).statusCode).toBe(200);
    clock.advance(SESSION_IDLE_MS + 1);
    const idle = await as(cookie, 'GET', '/api/alarms');
    expect(idle.statusCode).toBe(401);
    expect(idle.json().code).toBe('UNAUTHENTICATED');

    const used = await loginAs(app, users, { name: 'shimen' });
    for (let t = 0; t + SESSION_IDLE_MS / 2 < SESSION_ABSOLUTE_MS; t += SESSION_IDLE_MS / 2) {
      clock.advance(SESSION_IDLE_MS / 2);
      expect((await as(used, 'GET', '/api/auth/me')).statusCode, `after ${t / 3600_000} h`).toBe(200);
    }
    clock.advance(SESSION_IDLE_MS / 2);
    expect((await as(used, 'GET', '/api/auth/me')).statusCode).toBe(401);
  });

  it('logout ends the session and clears the cookie; a password reset ends every session of the user', async () => {
    const cookie = await loginAs(app, users, { name: 'shimen', villages: ['石门村'] });
    const other = await loginAs(app, users, { name: 'shimen' });
    const out = await as(cookie, 'POST', '/api/auth/logout');
    expect(out.statusCode).toBe(200);
    expect(String(out.headers['set-cookie'])).toMatch(/^kanjia_session=; .*Max-Age=0/);
    expect((await as(cookie, 'GET', '/api/alarms')).statusCode).toBe(401);
    expect((await as(other, 'GET', '/api/alarms')).statusCode).toBe(200);
    await users.resetPassword('shimen', 'a-new-long-password');
    expect((await as(other, 'GET', '/api/alarms')).statusCode).toBe(401);
    expect((await login('shimen', TEST_PASSWORD)).statusCode).toBe(401);
    expect((await login('shimen', 'a-new-long-password')).statusCode).toBe(200);
  });

  it('refuses a cross-origin POST with 403 CROSS_ORIGIN, login included; a same-origin one passes', async () => {
    const cookie = await loginAs(app, users, { name: 'shimen', villages: ['石门村'] });
    const evil = await app.inject({ method: 'POST', url: `/api/alarms/${alarmA}/cancel`, headers: { cookie, origin: 'http://evil.example' }, payload: { reason: '取消' } });
    expect(evil.statusCode).toBe(403);
    expect(evil.json().code).toBe('CROSS_ORIGIN');
    const otherPort = await app.inject({ method: 'POST', url: `/api/alarms/${alarmA}/take`, headers: { cookie, referer: 'http://localhost:9999/page' }, payload: {} });
    expect(otherPort.json().code).toBe('CROSS_ORIGIN');
    const nullOrigin = await app.inject({ method: 'POST', url: `/api/alarms/${alarmA}/take`, headers: { cookie, origin: 'null' }, payload: {} });
    expect(nullOrigin.json().code).toBe('CROSS_ORIGIN');
    expect((await login('shimen', TEST_PASSWORD, { origin: 'http://evil.example' })).json().code).toBe('CROSS_ORIGIN');
    expect(store.view(alarmA)!.status).toBe('open');
    const same = await app.inject({ method: 'POST', url: `/api/alarms/${alarmA}/take`, headers: { cookie, origin: 'http://localhost:80' }, payload: {} });
    expect(same.statusCode).toBe(200);
  });

  it('behind a TLS proxy that does not forward the scheme, the public address’s origin may log in (Secure cookie); the same server on the LAN over http gets a cookie without Secure', async () => {
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    const viaPublic = await login('shimen', TEST_PASSWORD, { host: 'kanjia.example.cn', origin: 'https://kanjia.example.cn' });
    expect(viaPublic.statusCode).toBe(200);
    expect(String(viaPublic.headers['set-cookie'])).toMatch(/; Secure$/);
    const lan = await login('shimen', TEST_PASSWORD, { host: '10.0.0.5:8080', origin: 'http://10.0.0.5:8080' });
    expect(lan.statusCode).toBe(200);
    expect(String(lan.headers['set-cookie'])).not.toContain('Secure');
    expect((await login('shimen', TEST_PASSWORD, { host: 'kanjia.example.cn', origin: 'https://evil.example' })).json().code).toBe('CROSS_ORIGIN');
    // The answer page's buttons pass the same check (a made-up code: 404, not 403).
    const answer = await app.inject({ method: 'POST', url: '/api/answer/not-a-code/take', headers: { host: 'kanjia.example.cn', origin: 'https://kanjia.example.cn' }, payload: {} });
    expect(answer.statusCode).not.toBe(403);
  });

  it('never writes a password or a session token to the log', async () => {
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    await login('shimen', 'wrong-password-1');
    const ok = await login('shimen', TEST_PASSWORD);
    const token = cookieOf(ok.headers['set-cookie']).split('=')[1]!;
    await as(`kanjia_session=${token}`, 'POST', '/api/auth/logout');
    // A body that fails validation is logged by nobody either.
    await app.inject({ method: 'POST', url: '/api/auth/login', payload: { name: 'shimen', password: TEST_PASSWORD, extra: 1 } });
    expect(logLines).toContain('login failed');
    expect(logLines).toContain('logged in');
    expect(logLines).not.toContain(TEST_PASSWORD);
    expect(logLines).not.toContain('wrong-password-1');
    expect(logLines).not.toContain(token);
  });

  it('stores passwords as scrypt$N$r$p$salt$hash, a new salt each time, checked in constant time', async () => {
    const a = await hashPassword('村委值班室2026');
    const b = await hashPassword('村委值班室2026');
    expect(a).toMatch(/^scrypt\$32768\$8\$3\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('村委值班室2026', a)).toBe(true);
    expect(await verifyPassword('村委值班室2027', a)).toBe(false);
    expect(await verifyPassword('村委值班室2026', 'scrypt$3$8$1$AAAA$AAAA')).toBe(false);
    expect(await verifyPassword('x', 'plain')).toBe(false);
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    const row = db.prepare('SELECT password_hash FROM users').get() as { password_hash: string };
    expect(row.password_hash).toMatch(/^scrypt\$/);
    expect(JSON.stringify(db.prepare('SELECT * FROM users').all())).not.toContain(TEST_PASSWORD);
    // Only the hash of a session token is stored.
    const token = cookieOf((await login('shimen', TEST_PASSWORD)).headers['set-cookie']).split('=')[1]!;
    expect(JSON.stringify(db.prepare('SELECT * FROM sessions').all())).not.toContain(token);
  });

  it('normalises login names in full Unicode: Äbc and äbc are one user who can log in either way, also one stored before names were normalised', async () => {
    await users.create({ name: 'Ärzte', role: 'admin', password: TEST_PASSWORD });
    expect(users.byName('ärzte')?.name).toBe('ärzte');
    await expect(users.create({ name: 'äRZTE', role: 'admin', password: TEST_PASSWORD })).rejects.toThrow(/already a user/);
    expect((await login('ÄRZTE', TEST_PASSWORD)).statusCode).toBe(200);
    // Full-width letters (a Chinese input method) are the same name.
    await users.create({ name: 'shimen', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    expect((await login('ｓｈｉｍｅｎ', TEST_PASSWORD)).json().user?.name).toBe('shimen');
    // A row written by the old code kept its capital, which SQLite's NOCASE does not fold.
    await users.create({ name: 'oezil', role: 'admin', password: TEST_PASSWORD });
    db.prepare("UPDATE users SET name = 'Özil' WHERE name = 'oezil'").run();
    expect((await login('özil', TEST_PASSWORD)).statusCode).toBe(200);
    expect((await login('ÖZIL', TEST_PASSWORD)).statusCode).toBe(200);
    await expect(users.create({ name: 'özil', role: 'admin', password: TEST_PASSWORD })).rejects.toThrow(/already a user/);
    // Failures of every spelling count against one name.
    clock.advance(1000);
    for (const spelling of ['ärzte', 'ÄRZTE', 'Ärzte', 'ärztE', 'ÄrZtE']) expect((await login(spelling, 'wrong-password')).statusCode).toBe(401);
    expect((await login('ärzte', TEST_PASSWORD)).statusCode).toBe(429);
  }, 30_000);

  it('refuses users whose scope is incomplete, listing every problem', async () => {
    await expect(users.create({ name: 'x', role: 'duty', password: 'short' })).rejects.toThrow(/village[\s\S]*|password/);
    await expect(users.create({ name: 'x', role: 'township', password: TEST_PASSWORD })).rejects.toThrow(/--township/);
    await expect(users.create({ name: 'x', role: 'helper', password: TEST_PASSWORD })).rejects.toThrow(/--phone/);
    await expect(users.create({ name: 'x', role: 'duty', villages: ['没有这个村'], password: TEST_PASSWORD })).rejects.toThrow(/no village/);
    await users.create({ name: 'x', role: 'admin', password: TEST_PASSWORD });
    await expect(users.create({ name: 'X', role: 'admin', password: TEST_PASSWORD })).rejects.toThrow(/already a user/);
  });
});
