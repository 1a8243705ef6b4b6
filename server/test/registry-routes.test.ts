/**
 * The registry REST API with the real stores on SQLite and the real detection
 * pipeline on a fake clock, behind the real auth plugin: each role's user is
 * created in the user store and logs in, so each role's scope is tried.
 */
import { defaultPolicies } from '@kanjia/alerts';
import { FakeClock, type RegistryFile } from '@kanjia/protocol';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlarmService } from '../src/alarms/alarm-service.js';
import { SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { SqliteAuditLog } from '../src/auth/audit-log.js';
import { SqliteUserStore } from '../src/auth/user-store.js';
import { buildApp } from '../src/http/app.js';
import { createLogger } from '../src/logger.js';
import { SqliteActivityLog } from '../src/pipeline/activity-log.js';
import { DetectionPipeline } from '../src/pipeline/detection-pipeline.js';
import { SqliteTelemetryStore } from '../src/pipeline/telemetry-store.js';
import { SqliteDeviceHistory } from '../src/registry/device-history.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { loginAs, oneHousehold, tempDataDir } from './helpers.js';

const HOUR = 3600_000;
/** 2026-01-15 00:00 in Asia/Shanghai. */
const MIDNIGHT_CST = Date.UTC(2026, 0, 14, 16, 0, 0);

function twoVillages(): RegistryFile {
  const a = oneHousehold([{ kind: 'sosButton' }, { kind: 'motionSensor', label: '堂屋' }]);
  return {
    villages: [
      { ...a.villages[0]!, township: '石门镇' },
      {
        name: '青山村',
        timezone: 'Asia/Shanghai',
        lat: 27.2,
        lng: 111.1,
        households: [
          {
            address: '青山村三组4号',
            lat: 27.201,
            lng: 111.101,
            residents: [{ name: '李桂兰', sex: 'F', birthYear: 1939, phone: '13900000009', contacts: [{ name: '张伟', role: 'helper', phone: '13900000001' }] }],
            devices: [{ kind: 'sosButton' }],
          },
        ],
      },
    ],
  };
}

describe('registry API', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let app: FastifyInstance;
  let clock: FakeClock;
  let registry: SqliteRegistryStore;
  let pipeline: DetectionPipeline;
  let activity: SqliteActivityLog;
  let changed: string[];
  const ids = { villageA: '', villageB: '', householdA: '', residentA: '', residentB: '', sos: '', motion: '', deviceB: '' };
  let cookies: Record<string, string>;
  let users: SqliteUserStore;
  let audit: SqliteAuditLog;

  beforeEach(async () => {
    tmp = tempDataDir();
    db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
    clock = new FakeClock(MIDNIGHT_CST + 5 * HOUR);
    registry = new SqliteRegistryStore(db, Buffer.alloc(32, 1), () => clock.nowMs());
    const store = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(), locale: 'zh-CN', channel: 'test', publicUrl: 'http://127.0.0.1:8080' });
    const imported = registry.importRegistry(twoVillages());
    const [sos, motion, deviceB] = imported.devices;
    Object.assign(ids, { sos: sos!.deviceId, motion: motion!.deviceId, deviceB: deviceB!.deviceId, householdA: sos!.householdId, residentA: sos!.residentId ?? registry.residents({ householdId: sos!.householdId })[0]!.id });
    const villages = registry.allVillages();
    ids.villageA = villages.find((v) => v.name === '石门村')!.id;
    ids.villageB = villages.find((v) => v.name === '青山村')!.id;
    ids.residentB = registry.residents({ villageId: ids.villageB })[0]!.id;

    const logger = createLogger('silent');
    users = new SqliteUserStore(db, () => clock.nowMs());
    audit = new SqliteAuditLog(db, () => clock.nowMs());
    const commands = { publishCommand: async () => undefined, isOnline: () => false };
    activity = new SqliteActivityLog(db, clock);
    const deviceHistory = new SqliteDeviceHistory(db);
    pipeline = new DetectionPipeline({
      db, registry, store, telemetry: new SqliteTelemetryStore(db), commands, clock, logger, fallGraceMs: 30_000, onAlarmsChanged: () => undefined, activity, deviceHistory,
    });
    const alarms = new AlarmService({ store, registry, clock, logger, commands, outbox: { kick: () => undefined }, escalation: { reschedule: () => undefined }, feed: { alarmChanged: () => undefined, alarmRepeated: () => undefined, devicePresence: () => undefined } });
    alarms.observeEvents(pipeline);
    pipeline.start();
    activity.start();
    changed = [];
    app = await buildApp({
      alarms,
      store,
      logger,
      version: 'test',
      health: () => ({ ready: true }),
      villages: () => registry.villages(),
      setAway: (id, away) => registry.setAway(id, away, clock.nowMs()),
      stats: () => {
        throw new Error('not used here');
      },
      auth: { users, audit, nowMs: () => clock.nowMs() },
      residentVillage: (id) => registry.residentContext(id)?.villageId,
      registry: {
        registry,
        audit,
        alarms: store,
        activity,
        deviceHistory,
        nowMs: () => clock.nowMs(),
        routineOf: (id, tz) => pipeline.routineOf(id, tz),
        registryChanged: (deviceIds) => {
          changed.push(...deviceIds);
          pipeline.registryChanged(deviceIds);
        },
      },
    });
    const login = (name: string, user: Parameters<typeof loginAs>[2]) => loginAs(app, users, { ...user, name });
    cookies = {
      admin: await login('admin', { name: 'admin', role: 'admin', displayName: '管理员' }),
      township: await login('zhen', { name: 'zhen', role: 'township', township: '石门镇', displayName: '镇民政办 王' }),
      duty: await login('li', { name: 'li', role: 'duty', villages: [ids.villageA], displayName: '值班员 李明' }),
      dutyB: await login('zhao', { name: 'zhao', role: 'duty', villages: [ids.villageB], displayName: '值班员 赵' }),
      helper: await login('liu', { name: 'liu', role: 'helper', phone: '13800000001', displayName: '刘建军' }),
    };
  });

  afterEach(async () => {
    pipeline.stop();
    activity.stop();
    await app.close();
    db.close();
    tmp.cleanup();
  });

  const as = (user: string, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    app.inject({ method, url, headers: { cookie: cookies[user] ?? '' }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

  it('answers 401 without a user', async () => {
    const res = await app.inject({ method: 'GET', url: `/api/residents/${ids.residentA}` });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('UNAUTHENTICATED');
  });

  it('refuses bad bodies with the field and a stable code, and changes nothing', async () => {
    const badHousehold = await as('admin', 'POST', `/api/villages/${ids.villageA}/households`, { address: '', lat: 200, lng: 111 });
    expect(badHousehold.statusCode).toBe(400);
    expect(badHousehold.json().code).toBe('BAD_REQUEST');
    expect(badHousehold.json().message).toContain('lat');
    expect(registry.householdsOf(ids.villageA)).toHaveLength(1);

    const badPhone = await as('admin', 'POST', `/api/residents/${ids.residentA}/contacts`, { name: '王大姐', role: 'helper', phone: '12345' });
    expect(badPhone.statusCode).toBe(400);
    expect(badPhone.json().message).toContain('11-digit mainland mobile number');
    const noContacts = await as('admin', 'POST', `/api/households/${ids.householdA}/residents`, { name: '王二', contacts: [] });
    expect(noContacts.statusCode).toBe(400);
    expect(noContacts.json().message).toContain('at least one person');
    const unknownField = await as('admin', 'PATCH', `/api/residents/${ids.residentA}`, { nickname: '王奶奶' });
    expect(unknownField.statusCode).toBe(400);
    const badId = await as('admin', 'PATCH', `/api/residents/${ids.residentA}`, { idNumber: '12345' });
    expect(badId.json().message).toContain('idNumber');
    expect(registry.contactsOf(ids.residentA)).toHaveLength(3);
  });

  it('answers 404 out of scope exactly as for an id that does not exist', async () => {
    for (const [url, code] of [
      [`/api/residents/${ids.residentA}`, 'RESIDENT_NOT_FOUND'],
      [`/api/residents/${ids.residentA}/card`, 'RESIDENT_NOT_FOUND'],
      [`/api/households/${ids.householdA}`, 'HOUSEHOLD_NOT_FOUND'],
      [`/api/villages/${ids.villageA}`, 'VILLAGE_NOT_FOUND'],
      [`/api/villages/${ids.villageA}/households`, 'VILLAGE_NOT_FOUND'],
      [`/api/devices/${ids.sos}/history`, 'DEVICE_NOT_FOUND'],
      [`/api/devices?villageId=${ids.villageA}`, 'VILLAGE_NOT_FOUND'],
    ] as const) {
      const out = await as('dutyB', 'GET', url);
      const missing = await as('admin', 'GET', url.replace(/(res|hh|vil|kj)[-_][0-9a-z]+/, '$1_nobody0000'));
      expect(out.statusCode, url).toBe(404);
      expect(out.json().code, url).toBe(code);
      expect(missing.statusCode, url).toBe(404);
      expect(missing.json().code, url).toBe(code);
    }
    // The helper sees her own resident, and no other in the same village.
    expect((await as('helper', 'GET', `/api/residents/${ids.residentA}`)).statusCode).toBe(200);
    expect((await as('helper', 'GET', `/api/residents/${ids.residentB}`)).statusCode).toBe(404);
    const list = (await as('dutyB', 'GET', '/api/residents')).json().residents as Array<{ name: string }>;
    expect(list.map((r) => r.name)).toEqual(['李桂兰']);
    const devices = (await as('dutyB', 'GET', '/api/devices')).json();
    expect(devices.devices.map((d: { id: string }) => d.id)).toEqual([ids.deviceB]);
  });

  it('lets only admin and township write the registry; duty may switch away mode, a helper may not', async () => {
    // Refused before the body is looked at: a bad body from a duty officer is still 403.
    const dutyWrite = await as('duty', 'POST', `/api/residents/${ids.residentA}/contacts`, { name: 'x' });
    expect(dutyWrite.statusCode).toBe(403);
    expect(dutyWrite.json().code).toBe('FORBIDDEN');
    expect((await as('helper', 'PATCH', `/api/residents/${ids.residentA}`, { category: '独居' })).statusCode).toBe(403);
    expect((await as('duty', 'DELETE', `/api/devices/${ids.sos}`)).statusCode).toBe(403);
    expect((await as('township', 'POST', '/api/villages', { name: '新村', lat: 27, lng: 111 })).statusCode).toBe(403);
    expect((await as('township', 'PATCH', `/api/residents/${ids.residentA}`, { category: '独居' })).statusCode).toBe(200);
    expect((await as('helper', 'POST', `/api/residents/${ids.residentA}/away`, { away: true })).statusCode).toBe(403);
    const away = await as('duty', 'POST', `/api/residents/${ids.residentA}/away`, { away: true, note: '去女儿家' });
    expect(away.statusCode).toBe(200);
    expect(away.json()).toMatchObject({ away: true });
    expect((await as('dutyB', 'POST', `/api/residents/${ids.residentA}/away`, { away: false })).statusCode).toBe(404);
    expect(registry.resident(ids.residentA)?.away).toBe(1);
  });

  it('masks phone and ID numbers per role', async () => {
    await as('admin', 'PATCH', `/api/residents/${ids.residentA}`, { phone: '13712345678' });
    const admin = (await as('admin', 'GET', `/api/residents/${ids.residentA}`)).json();
    expect(admin).toMatchObject({ idNumber: '430524194101011240', idNumberMasked: false, phone: '13712345678', phoneMasked: false });
    expect(admin.contacts[0]).toMatchObject({ phone: '13800000001', phoneMasked: false });

    const duty = await as('duty', 'GET', `/api/residents/${ids.residentA}/card`);
    expect(duty.json().resident).toMatchObject({ idNumber: '430524********1240', idNumberMasked: true, phone: '13712345678', phoneMasked: false });
    expect(duty.json().resident.contacts[0].phone).toBe('13800000001');
    expect(duty.body).not.toContain('430524194101011240');

    const helper = await as('helper', 'GET', `/api/residents/${ids.residentA}/card`);
    expect(helper.json().resident).toMatchObject({ idNumber: '430524********1240', phone: '137****5678', phoneMasked: true });
    expect(helper.json().resident.contacts.map((c: { phone: string }) => c.phone)).toEqual(['138****0001', '138****0002', '138****0003']);
    for (const clear of ['13712345678', '13800000001', '13800000002', '430524194101011240']) expect(helper.body).not.toContain(clear);
    expect(helper.json()).toMatchObject({ canSetAway: false, canEdit: false });
  });

  it('keeps the contact chain in order: add, edit, reorder, remove, never empty', async () => {
    const added = await as('township', 'POST', `/api/residents/${ids.residentA}/contacts`, { name: '王大姐', role: 'family', phone: '+8613600000004', post: '邻居' });
    expect(added.statusCode).toBe(201);
    const chain = added.json().contacts as Array<{ id: string; name: string; position: number; phone: string }>;
    expect(chain.map((c) => [c.position, c.name])).toEqual([[0, '刘建军'], [1, '赵春梅'], [2, '村委值班室'], [3, '王大姐']]);
    expect(chain[3]!.phone).toBe('13600000004');

    const reversed = chain.map((c) => c.id).reverse();
    const reordered = await as('township', 'PUT', `/api/residents/${ids.residentA}/contacts/order`, { contactIds: reversed });
    expect(reordered.json().contacts.map((c: { name: string }) => c.name)).toEqual(['王大姐', '村委值班室', '赵春梅', '刘建军']);
    // The escalation texts the new first contact first.
    expect(registry.contactChain(ids.residentA)[0]?.name).toBe('王大姐');
    // Both changes are in the audit log with who made them; the body (a phone number) is not.
    const changes = audit.page(undefined, 10).entries.filter((e) => e.action === 'registry.change');
    expect(changes.map((e) => [e.actor, e.target, e.detail])).toEqual([
      ['镇民政办 王', ids.residentA, 'PUT /api/residents/:id/contacts/order'],
      ['镇民政办 王', ids.residentA, 'POST /api/residents/:id/contacts'],
    ]);
    expect(JSON.stringify(changes)).not.toContain('13600000004');

    const mismatch = await as('township', 'PUT', `/api/residents/${ids.residentA}/contacts/order`, { contactIds: reversed.slice(1) });
    expect(mismatch.statusCode).toBe(400);
    expect(mismatch.json().code).toBe('CONTACT_ORDER_MISMATCH');

    const edited = await as('township', 'PATCH', `/api/contacts/${chain[3]!.id}`, { post: null, role: 'helper' });
    expect(edited.json().contacts[0]).toMatchObject({ name: '王大姐', role: 'helper', post: null });

    for (const c of chain.slice(0, 3)) expect((await as('township', 'DELETE', `/api/contacts/${c.id}`)).statusCode).toBe(200);
    const last = await as('township', 'DELETE', `/api/contacts/${chain[3]!.id}`);
    expect(last.statusCode).toBe(409);
    expect(last.json().code).toBe('CONTACT_CHAIN_EMPTY');
    expect(registry.contactsOf(ids.residentA).map((c) => [c.position, c.name])).toEqual([[0, '王大姐']]);
  });

  it('adds a device printing its secret once, edits and removes it; the detectors hear of it', async () => {
    const created = await as('admin', 'POST', `/api/households/${ids.householdA}/devices`, { kind: 'doorSensor', label: '大门', exit: true });
    expect(created.statusCode).toBe(201);
    const { deviceId, secret } = created.json() as { deviceId: string; secret: string };
    expect(secret.length).toBeGreaterThan(16);
    expect(registry.verifyDevice(deviceId, secret)).toBe(true);
    expect(changed).toContain(deviceId);
    const household = await as('admin', 'GET', `/api/households/${ids.householdA}`);
    expect(household.body).not.toContain(secret);
    expect(household.json().devices.find((d: { id: string }) => d.id === deviceId)).toMatchObject({ kind: 'doorSensor', label: '大门', exit: true, problems: ['neverSeen'] });

    const wrongHome = await as('admin', 'PATCH', `/api/devices/${deviceId}`, { residentId: ids.residentB });
    expect(wrongHome.statusCode).toBe(400);
    expect(wrongHome.json().code).toBe('RESIDENT_NOT_IN_HOUSEHOLD');
    const edited = await as('admin', 'PATCH', `/api/devices/${deviceId}`, { label: '后门', exit: false, residentId: ids.residentA });
    expect(edited.json()).toMatchObject({ label: '后门', exit: false, residentId: ids.residentA });

    expect((await as('admin', 'DELETE', `/api/devices/${deviceId}`)).statusCode).toBe(204);
    expect(registry.verifyDevice(deviceId, secret)).toBe(false);
    expect((await as('admin', 'GET', `/api/devices/${deviceId}/history`)).json().code).toBe('DEVICE_NOT_FOUND');
  });

  it('adds a village, a household and a resident with conditions and medication', async () => {
    const v = await as('admin', 'POST', '/api/villages', { name: '新村', township: '石门镇', lat: 27.3, lng: 111.2 });
    expect(v.statusCode).toBe(201);
    const h = await as('admin', 'POST', `/api/villages/${v.json().id}/households`, { address: '新村一组1号', lat: 27.3, lng: 111.2, keyHolderNote: '钥匙在村委' });
    expect(h.statusCode).toBe(201);
    const res = await as('admin', 'POST', `/api/households/${h.json().id}/residents`, {
      name: '陈老汉', sex: 'M', birthYear: 1944, conditions: ['高血压', '糖尿病'], medicationNotes: '降压药 早晚各一次', contacts: [{ name: '陈小明', role: 'family', phone: '13500000005' }],
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ name: '陈老汉', age: 82, conditions: ['高血压', '糖尿病'], medicationNotes: '降压药 早晚各一次' });
    const cleared = await as('admin', 'PATCH', `/api/residents/${res.json().id}`, { medicationNotes: null, conditions: [] });
    expect(cleared.json()).toMatchObject({ conditions: [], medicationNotes: null });
    const noResident = await as('admin', 'POST', `/api/households/${(await as('admin', 'POST', `/api/villages/${v.json().id}/households`, { address: '空房', lat: 27.3, lng: 111.2 })).json().id}/devices`, { kind: 'sosButton' });
    expect(noResident.statusCode).toBe(409);
    expect(noResident.json().code).toBe('HOUSEHOLD_HAS_NO_RESIDENT');
  });

  it('resident card: signs of life per half hour in village time, on a fake clock', async () => {
    // 05:00 CST now. Yesterday: up at 06:10, motion at 06:10, 06:20, 06:40, a door at 12:05.
    const yesterday = MIDNIGHT_CST - 24 * HOUR;
    const motion = (atMs: number, on: boolean) => pipeline.onTelemetry(ids.motion, { id: `m${atMs}${on}`, ts: atMs, readings: { motion: on } }, atMs);
    for (const [h, m] of [[6, 10], [6, 20], [6, 40]] as const) {
      motion(yesterday + h * HOUR + m * 60_000, true);
      motion(yesterday + h * HOUR + m * 60_000 + 60_000, false); // the PIR's own "clear" is no sign of life
    }
    motion(yesterday + 12 * HOUR + 5 * 60_000, true);
    motion(yesterday + 12 * HOUR + 6 * 60_000, false);
    // Motion at 14:00 after the clear counts; the same PIR still "on" at 18:00 without a clear is stuck: not counted.
    motion(yesterday + 14 * HOUR, true);
    motion(yesterday + 18 * HOUR, true);
    motion(yesterday + 18 * HOUR + 60_000, false);
    // A night-time toilet trip at 02:10 today is not the getting-up time.
    motion(MIDNIGHT_CST + 2 * HOUR + 10 * 60_000, true);
    clock.advance(60_000); // the log writes once a minute
    const card = (await as('duty', 'GET', `/api/residents/${ids.residentA}/card`)).json();
    const days = card.activity.days as Array<{ date: string; slots: number[]; firstMin: number | null }>;
    expect(days).toHaveLength(7);
    expect(days.map((d) => d.date).slice(-2)).toEqual(['2026-01-14', '2026-01-15']);
    const y = days[5]!;
    expect(y.slots[12]).toBe(2); // 06:00–06:30
    expect(y.slots[13]).toBe(1); // 06:30–07:00
    expect(y.slots[24]).toBe(1); // 12:00–12:30
    expect(y.slots[28]).toBe(1); // 14:00–14:30
    expect(y.slots[36]).toBe(0); // 18:00: stuck
    expect(y.slots.reduce((a, b) => a + b, 0)).toBe(5);
    expect(y.firstMin).toBe(6 * 60 + 10);
    const today = days[6]!;
    expect(today.slots[4]).toBe(1); // 02:00–02:30
    expect(today.firstMin).toBeNull();
    expect(card.activity.lastActivityAt).toBe(MIDNIGHT_CST + 2 * HOUR + 10 * 60_000);
    expect(card).toMatchObject({ canSetAway: true, canEdit: false, village: { name: '石门村', timezone: 'Asia/Shanghai' }, household: { keyHolderNote: '钥匙在隔壁王大姐家' } });
    expect(card.devices.map((d: { kind: string }) => d.kind)).toEqual(['sosButton', 'motionSensor']);
  });

  it('resident card: the usual getting-up time the inactivity detector learned', async () => {
    // Ten days up at 06:00, about the house all day, to bed at 21:00.
    const start = clock.nowMs();
    for (let day = 0; day < 10; day++) {
      const midnight = MIDNIGHT_CST + (day + 1) * 24 * HOUR;
      for (let t = midnight + 6 * HOUR; t <= midnight + 21 * HOUR; t += 20 * 60_000) {
        clock.advance(t - clock.nowMs());
        pipeline.onTelemetry(ids.motion, { id: `d${t}`, ts: t, readings: { motion: true } }, t);
        pipeline.onTelemetry(ids.motion, { id: `c${t}`, ts: t + 1, readings: { motion: false } }, t + 1);
      }
    }
    clock.advance(MIDNIGHT_CST + 11 * 24 * HOUR + 5 * HOUR - clock.nowMs()); // 05:00 of day 11
    expect(clock.nowMs()).toBeGreaterThan(start);
    // Eleven days later the morning's session has ended: log in again.
    expect((await as('admin', 'GET', `/api/residents/${ids.residentA}/card`)).statusCode).toBe(401);
    cookies.admin = await loginAs(app, users, { name: 'admin', role: 'admin' });
    const card = (await as('admin', 'GET', `/api/residents/${ids.residentA}/card`)).json();
    expect(card.activity.usualWakeMin).toBeGreaterThanOrEqual(6 * 60 - 5);
    expect(card.activity.usualWakeMin).toBeLessThanOrEqual(6 * 60 + 5);
    const days = card.activity.days as Array<{ firstMin: number | null; slots: number[] }>;
    expect(days.slice(0, 6).every((d) => d.firstMin === 6 * 60)).toBe(true);
    expect(days[6]!.firstMin).toBeNull(); // today: nothing yet
  });

  it('device health: offline, low battery, never seen, with each device’s history', async () => {
    const t0 = clock.nowMs();
    pipeline.onPresence(ids.sos, true, t0, 80);
    registry.setPresence(ids.sos, true, t0, '1.0', 80);
    pipeline.onStatus(ids.sos, { id: 's1', ts: t0, state: 'online', batteryPct: 80 }, t0);
    clock.advance(HOUR);
    pipeline.onStatus(ids.sos, { id: 's2', ts: clock.nowMs(), state: 'online', batteryPct: 79.5 }, clock.nowMs()); // not a change worth a row
    pipeline.onStatus(ids.sos, { id: 's3', ts: clock.nowMs(), state: 'online', batteryPct: 18 }, clock.nowMs());
    registry.setPresence(ids.sos, true, clock.nowMs(), undefined, 18);
    clock.advance(HOUR);
    pipeline.onPresence(ids.sos, false, clock.nowMs());
    registry.setPresence(ids.sos, false, clock.nowMs());

    const list = (await as('duty', 'GET', '/api/devices')).json();
    expect(list.counts).toEqual({ total: 2, offline: 1, lowBattery: 1, neverSeen: 1, unstable: 0 });
    expect(list.devices.map((d: { kind: string; problems: string[] }) => [d.kind, d.problems])).toEqual([
      ['sosButton', ['offline', 'lowBattery']],
      ['motionSensor', ['neverSeen']],
    ]);
    expect(list.devices[0]).toMatchObject({ address: '石门村一组12号', villageName: '石门村', residentName: null, batteryPct: 18 });
    const neverSeen = (await as('admin', 'GET', `/api/devices?villageId=${ids.villageA}&problem=neverSeen`)).json();
    expect(neverSeen.devices.map((d: { id: string }) => d.id)).toEqual([ids.motion]);
    expect((await as('admin', 'GET', '/api/devices?problem=broken')).statusCode).toBe(400);

    const history = (await as('duty', 'GET', `/api/devices/${ids.sos}/history?days=7`)).json();
    expect(history.entries).toEqual([
      { at: t0, kind: 'online', value: null },
      { at: t0, kind: 'battery', value: 80 },
      { at: t0 + HOUR, kind: 'battery', value: 18 },
      { at: t0 + 2 * HOUR, kind: 'offline', value: null },
    ]);
  });
});
