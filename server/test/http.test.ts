import { defaultPolicies } from '@kanjia/alerts';
import { findingsFromEvent } from '@kanjia/detection';
import { systemClock, type DeviceCommand } from '@kanjia/protocol';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlarmService } from '../src/alarms/alarm-service.js';
import { SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { SqliteAuditLog } from '../src/auth/audit-log.js';
import { SqliteUserStore } from '../src/auth/user-store.js';
import { buildApp } from '../src/http/app.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { SqliteActivityLog } from '../src/pipeline/activity-log.js';
import { SqliteDeviceHistory } from '../src/registry/device-history.js';
import { loginAs, oneHousehold, tempDataDir } from './helpers.js';
import { SystemHealth } from '../src/system-health.js';

describe('REST API', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let app: FastifyInstance;
  let store: SqliteAlarmStore;
  let alarmId: string;
  let users: SqliteUserStore;
  /** Cookie of 值班员 李明, duty officer of 石门村. */
  let liming: string;
  const as = (cookie: string, method: 'GET' | 'POST', url: string, payload?: object) => app.inject({ method, url, headers: { cookie }, ...(payload ? { payload } : {}) });
  const sent: Array<{ deviceId: string; command: DeviceCommand }> = [];

  let systemHealth: SystemHealth;

  beforeEach(async () => {
    tmp = tempDataDir();
    systemHealth = new SystemHealth(systemClock, createLogger('silent'));
    db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
    const registry = new SqliteRegistryStore(db, Buffer.alloc(32, 1));
    store = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(), locale: 'zh-CN', channel: 'test', publicUrl: 'https://kanjia.example.cn' });
    const deviceId = registry.importRegistry(oneHousehold()).devices[0]!.deviceId;
    const logger = createLogger('silent');
    const alarms = new AlarmService({
      store,
      registry,
      clock: systemClock,
      logger,
      commands: {
        // A broker that takes a while to accept: actions in quick succession overlap a flush.
        publishCommand: async (id, command) => {
          await new Promise((r) => setTimeout(r, 20));
          sent.push({ deviceId: id, command });
        },
        isOnline: () => true,
      },
      outbox: { kick: () => undefined },
      escalation: { reschedule: () => undefined },
      feed: { alarmChanged: () => undefined, alarmRepeated: () => undefined, devicePresence: () => undefined },
    });
    const event = { id: 'e1', ts: Date.now(), type: 'sos' as const };
    alarmId = store.recordEvent(deviceId, event, findingsFromEvent(deviceId, event)[0], Date.now()).alarmId!;
    users = new SqliteUserStore(db, Date.now);
    app = await buildApp({
      auth: { users, audit: new SqliteAuditLog(db, Date.now), nowMs: Date.now },
      residentVillage: (id) => registry.residentContext(id)?.villageId,
      alarms,
      store,
      logger,
      version: 'test',
      health: () => ({ ready: true }),
      systemHealth,
      registry: {
        registry,
        alarms: store,
        activity: new SqliteActivityLog(db, systemClock),
        deviceHistory: new SqliteDeviceHistory(db),
        nowMs: () => Date.now(),
        routineOf: () => undefined,
        registryChanged: () => undefined,
      },
      villages: () => registry.villages(),
      setAway: (id, away) => registry.setAway(id, away, 1_000),
      stats: () => {
        throw new Error('not used here');
      },
    });
    liming = await loginAs(app, users, { name: 'liming', displayName: '值班员 李明', villages: ['石门村'] });
  });
  afterEach(async () => {
    await app.close();
    db.close();
    tmp.cleanup();
    sent.length = 0;
  });

  it('lists the active alarms with the resident, household and masked phone numbers', async () => {
    const res = await as(liming, 'GET', '/api/alarms');
    expect(res.statusCode).toBe(200);
    const [alarm] = res.json().alarms;
    expect(alarm).toMatchObject({ id: alarmId, kind: 'sos', severity: 'critical', status: 'open', resident: { name: '王秀英', age: 85 } });
    expect(res.body).not.toContain('13800000001');
    expect(res.body).not.toContain('430524194101011240');
  });

  it('takes an alarm in the name of the logged-in officer and tells the device `taken`', async () => {
    const res = await as(liming, 'POST', `/api/alarms/${alarmId}/take`, {});
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'taken', takenBy: '值班员 李明' });
    await new Promise((r) => setTimeout(r, 60));
    expect(sent.map((s) => s.command.type)).toEqual(['taken']);
  });

  it('sends `taken` and `onTheWay` when the two are clicked within 20 ms of each other', async () => {
    await as(liming, 'POST', `/api/alarms/${alarmId}/take`, {});
    await as(liming, 'POST', `/api/alarms/${alarmId}/on-the-way`, {});
    await new Promise((r) => setTimeout(r, 150));
    expect(sent.map((s) => s.command.type)).toEqual(['taken', 'onTheWay']);
  });

  it('answers 409 ALARM_ALREADY_TAKEN when a second person takes the same alarm', async () => {
    const wang = await loginAs(app, users, { name: 'wangfang', displayName: '值班员 王芳', villages: ['石门村'] });
    await as(liming, 'POST', `/api/alarms/${alarmId}/take`, {});
    const res = await as(wang, 'POST', `/api/alarms/${alarmId}/take`, {});
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({ code: 'ALARM_ALREADY_TAKEN', message: expect.stringContaining('值班员 李明') });
  });

  it('answers 400 with a clear message for invalid bodies', async () => {
    const cases = [
      // The actor comes from the session: a typed name is refused, not believed.
      { url: `/api/alarms/${alarmId}/take`, payload: { by: '李值班' }, expect: /^body: Unrecognized key: "by"$/ },
      { url: `/api/alarms/${alarmId}/take`, payload: { extra: 1 }, expect: /extra|unrecognized/i },
      { url: `/api/alarms/${alarmId}/resolve`, payload: {}, expect: /note/ },
      { url: `/api/alarms/${alarmId}/resolve`, payload: { note: '   ' }, expect: /describe what happened/ },
      { url: `/api/alarms/${alarmId}/resolve`, payload: { note: '老人平安', outcome: 'maybe' }, expect: /outcome: one of real, falseAlarm/ },
      { url: `/api/alarms/${alarmId}/cancel`, payload: {}, expect: /reason/ },
    ];
    for (const c of cases) {
      const res = await as(liming, 'POST', c.url, c.payload);
      expect(res.statusCode, JSON.stringify(c.payload)).toBe(400);
      expect(res.json().code).toBe('BAD_REQUEST');
      expect(res.json().message).toMatch(c.expect);
    }
    const bad = await app.inject({ method: 'POST', url: `/api/alarms/${alarmId}/take`, headers: { cookie: liming, 'content-type': 'application/json' }, payload: '{"note":' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('BAD_REQUEST');
    const query = await as(liming, 'GET', '/api/alarms?status=sometimes');
    expect(query.statusCode).toBe(400);
    expect(query.json().message).toMatch(/status/);
    // Nothing was changed by the bad requests.
    expect(store.view(alarmId)!.status).toBe('open');
  });

  it('answers 404 ALARM_NOT_FOUND for an unknown alarm and NOT_FOUND for an unknown route', async () => {
    const res = await as(liming, 'POST', '/api/alarms/alm_nope/take', {});
    expect(res.statusCode).toBe(404);
    expect(res.json().code).toBe('ALARM_NOT_FOUND');
    expect((await as(liming, 'GET', '/api/nothing')).json().code).toBe('NOT_FOUND');
  });

  it('records how a resolved case ended: said (real, falseAlarm) or not (null); in the view and the audit', async () => {
    expect(store.view(alarmId)!.outcome).toBeNull();
    const res = await as(liming, 'POST', `/api/alarms/${alarmId}/resolve`, { note: '老人平安，误按', outcome: 'falseAlarm' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'resolved', outcome: 'falseAlarm', resolutionNote: '老人平安，误按' });
    expect(store.view(alarmId)!.outcome).toBe('falseAlarm');
    const other = store.raiseFinding({ kind: 'sos', deviceId: store.view(alarmId)!.deviceId, eventId: 'evt-outcome-2', eventTs: 2_000, reason: 'test' }, 2_000).alarmId;
    expect((await as(liming, 'POST', `/api/alarms/${other}/resolve`, { note: '已处理' })).json()).toMatchObject({ status: 'resolved', outcome: null });
  });

  it('answers 413 for a body over the limit', async () => {
    const res = await as(liming, 'POST', `/api/alarms/${alarmId}/resolve`, { note: 'x'.repeat(100_000) });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('sets and clears away mode of a resident, 404 for an unknown one', async () => {
    const residentId = store.view(alarmId)!.resident.id;
    const on = await as(liming, 'POST', `/api/residents/${residentId}/away`, { away: true, note: '去县城女儿家住一周' });
    expect(on.json()).toEqual({ residentId, away: true, awaySince: 1_000 });
    const off = await as(liming, 'POST', `/api/residents/${residentId}/away`, { away: false });
    expect(off.json()).toEqual({ residentId, away: false, awaySince: null });
    const unknown = await as(liming, 'POST', '/api/residents/res_nobody/away', { away: true });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().code).toBe('RESIDENT_NOT_FOUND');
    const bad = await as(liming, 'POST', `/api/residents/${residentId}/away`, { away: 'yes' });
    expect(bad.statusCode).toBe(400);
  });

  it('lists the villages with their number of households', async () => {
    const res = await as(liming, 'GET', '/api/villages');
    expect(res.json()).toEqual({ villages: [expect.objectContaining({ name: '石门村', timezone: 'Asia/Shanghai', households: 1 })] });
  });

  it('reports health', async () => {
    const res = await app.inject({ method: 'GET', url: '/api/health' });
    expect(res.json()).toEqual({ status: 'ok', checks: { ready: true }, problems: [], version: 'test' });
  });

  it('reports a system problem: degraded (200) while alarms still flow, unhealthy (503) when this node cannot do its job, ok again once cleared', async () => {
    systemHealth.raise({ code: 'SMS_PROVIDER_OUTAGE', severity: 'critical', unhealthy: false, message: 'the SMS provider refuses every message', details: { reason: 'isv.AMOUNT_NOT_ENOUGH' } });
    const degraded = await app.inject({ method: 'GET', url: '/api/health' });
    expect(degraded.statusCode).toBe(200);
    expect(degraded.json()).toMatchObject({ status: 'degraded', problems: [{ code: 'SMS_PROVIDER_OUTAGE', details: { reason: 'isv.AMOUNT_NOT_ENOUGH' } }] });
    systemHealth.raise({ code: 'STORAGE_WRITE_FAILED', severity: 'critical', unhealthy: true, message: 'database or disk is full', details: { reason: 'SQLITE_FULL' } });
    const unhealthy = await app.inject({ method: 'GET', url: '/api/health' });
    expect(unhealthy.statusCode).toBe(503);
    expect(unhealthy.json()).toMatchObject({ status: 'unhealthy' });
    expect(unhealthy.json().problems.map((p: { code: string }) => p.code).sort()).toEqual(['SMS_PROVIDER_OUTAGE', 'STORAGE_WRITE_FAILED']);
    systemHealth.clear('STORAGE_WRITE_FAILED');
    systemHealth.clear('SMS_PROVIDER_OUTAGE');
    expect((await app.inject({ method: 'GET', url: '/api/health' })).json()).toMatchObject({ status: 'ok', problems: [] });
  });
});
