/**
 * Visits (探访): the next visit due from the care level and the last visit
 * (pure, on fixed times), recording visits over REST within each role's scope,
 * the overdue list per helper and village, and the follow-up visit a resolved
 * alarm asks for, through the real system's alarm path.
 */
import { DEFAULT_VISIT_FREQUENCY, FakeClock, type RegistryFile } from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { nextVisitDue } from '../src/township/visit-schedule.js';
import { oneHousehold, RecordingSender, systemClient, tempDataDir } from './helpers.js';
import { DAY, HOUR, NOW, townshipApp, visitBody, type TownshipApp } from './township-helpers.js';

/** Local midnight at the start of a date in Asia/Shanghai (UTC+8). */
const cst = (iso: string, hour = 0) => Date.parse(`${iso}T00:00:00Z`) - 8 * HOUR + hour * HOUR;
const TZ = 'Asia/Shanghai';

describe('the next visit due (fixed clock)', () => {
  const f = DEFAULT_VISIT_FREQUENCY;
  it('is due 15 days after the last visit for ordinary care (2/month), by the end of that day in village time', () => {
    const due = nextVisitDue({ careLevel: 'ordinary', timezone: TZ, joinedOn: '2026-10-01', lastVisitAt: cst('2026-11-20', 23), openFollowUps: [] }, f, cst('2026-12-05', 23));
    expect(due).toEqual({ dueAt: cst('2026-12-06'), date: '2026-12-05', reason: 'regular', alarmId: null, overdue: false, daysOverdue: 0 });
    // One minute after the end of the due date it is overdue by a day.
    expect(nextVisitDue({ careLevel: 'ordinary', timezone: TZ, joinedOn: '2026-10-01', lastVisitAt: cst('2026-11-20', 23), openFollowUps: [] }, f, cst('2026-12-06') + 60_000)).toMatchObject({ overdue: true, daysOverdue: 1 });
  });

  it('is due 7 days after for especially difficult care (1/week); never visited counts from joining', () => {
    expect(nextVisitDue({ careLevel: 'especiallyDifficult', timezone: TZ, joinedOn: '2026-11-01', lastVisitAt: null, openFollowUps: [] }, f, cst('2026-12-02', 10))).toMatchObject({
      date: '2026-11-08',
      overdue: true,
      daysOverdue: 24,
    });
    expect(nextVisitDue({ careLevel: 'especiallyDifficult', timezone: TZ, joinedOn: '2026-11-01', lastVisitAt: cst('2026-11-30', 9), openFollowUps: [] }, f, cst('2026-12-02', 10))).toMatchObject({
      date: '2026-12-07',
      overdue: false,
    });
  });

  it('follows the township’s frequency (1/month) and lets an earlier follow-up come first', () => {
    const monthly = { ...f, ordinary: { count: 1, per: 'month' as const } };
    expect(nextVisitDue({ careLevel: 'ordinary', timezone: TZ, joinedOn: '2026-10-01', lastVisitAt: cst('2026-11-20', 9), openFollowUps: [] }, monthly, cst('2026-12-02'))).toMatchObject({ date: '2026-12-20' });
    const followUp = { alarmId: 'alm_1', dueAt: cst('2026-12-03', 15) };
    expect(nextVisitDue({ careLevel: 'ordinary', timezone: TZ, joinedOn: '2026-10-01', lastVisitAt: cst('2026-11-20', 9), openFollowUps: [followUp] }, monthly, cst('2026-12-03', 16))).toEqual({
      dueAt: followUp.dueAt,
      date: '2026-12-03',
      reason: 'followUp',
      alarmId: 'alm_1',
      overdue: true,
      daysOverdue: 1,
    });
  });
});

describe('recording visits over REST', () => {
  let t: TownshipApp;
  beforeEach(async () => {
    t = await townshipApp();
  });
  afterEach(async () => t.close());

  it('records a helper’s visit to one of their people, moves the next visit due, and lists it', async () => {
    const res = await t.as('helper', 'POST', `/api/residents/${t.ids.wang}/visits`, visitBody({ at: NOW - 2 * HOUR }));
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      residentId: t.ids.wang,
      at: NOW - 2 * HOUR,
      visitorName: '刘建军',
      visitorContactId: null,
      recordedBy: '刘建军',
      mode: 'inPerson',
      safety: { stove: { status: 'ok' }, wiring: { status: 'problem', note: '厨房插座松动' }, heating: { status: 'ok' } },
      hygiene: 'fair',
      needs: '冬季棉被',
      followedUpAlarmIds: [],
    });
    const list = (await t.as('duty', 'GET', `/api/residents/${t.ids.wang}/visits`)).json();
    expect(list.visits).toHaveLength(1);
    // Especially difficult: a week after the visit on 2026-12-02.
    expect(list.nextVisit).toMatchObject({ date: '2026-12-09', reason: 'regular', overdue: false });
    expect((await t.as('admin', 'GET', `/api/registry/people/${t.ids.wang}`)).json().lastVisitAt).toBe(NOW - 2 * HOUR);
  });

  it('records a visit by phone for a helper named from the chain', async () => {
    const res = await t.as('duty', 'POST', `/api/residents/${t.ids.zhang}/visits`, { mode: 'phone', health: 'fair', healthNote: '咳嗽', mood: 'good', visitorContactId: t.ids.chenForZhang });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ visitorName: '陈明', visitorContactId: t.ids.chenForZhang, recordedBy: '值班员 李明', mode: 'phone', safety: null, hygiene: null });
  });

  it('lets a helper record visits only for the people whose chain they are in; duty only in their villages', async () => {
    expect((await t.as('helperChen', 'POST', `/api/residents/${t.ids.wang}/visits`, visitBody())).json().code).toBe('RESIDENT_NOT_FOUND');
    expect((await t.as('helper', 'POST', `/api/residents/${t.ids.li}/visits`, visitBody())).json().code).toBe('RESIDENT_NOT_FOUND');
    expect((await t.as('dutyB', 'POST', `/api/residents/${t.ids.wang}/visits`, visitBody())).json().code).toBe('RESIDENT_NOT_FOUND');
    expect((await t.as('township', 'POST', `/api/residents/${t.ids.li}/visits`, visitBody())).json().code).toBe('RESIDENT_NOT_FOUND');
    expect((await t.as('helperChen', 'POST', `/api/residents/${t.ids.zhang}/visits`, visitBody())).statusCode).toBe(201);
    expect((await t.as('admin', 'POST', `/api/residents/${t.ids.li}/visits`, visitBody())).statusCode).toBe(201);
    expect(t.township.visits(t.ids.wang, 10)).toEqual([]);
  });

  it('answers bad visit bodies with 400 naming the field, and records nothing', async () => {
    const bad: Array<[Record<string, unknown>, RegExp, string?]> = [
      [{ ...visitBody(), mode: 'letter' }, /mode: inPerson \(上门\) or phone \(电话\)/],
      [{ ...visitBody(), health: 'ok' }, /health: good \(好\), fair \(一般\) or poor \(差\)/],
      [{ mode: 'inPerson', health: 'good', mood: 'good', hygiene: 'good' }, /safety: an in-person visit checks the stove, wiring and heating/],
      [{ ...visitBody(), hygiene: undefined }, /hygiene/],
      [visitBody({ safety: { stove: { status: 'problem' }, wiring: { status: 'ok' }, heating: { status: 'ok' } } }), /stove.note: say what the problem is/],
      [visitBody({ safety: { stove: { status: 'ok' }, wiring: { status: 'ok' } } }), /heating/],
      [visitBody({ at: NOW + DAY }), /at: the visit cannot be in the future/],
      [visitBody({ colour: 'red' }), /colour/],
      [visitBody({ visitorContactId: t.ids.liuForWang }), /is not a helper \(帮扶责任人\) in 张德福's chain/, 'VISITOR_NOT_A_HELPER'],
    ];
    for (const [body, message, code] of bad) {
      const res = await t.as('admin', 'POST', `/api/residents/${t.ids.zhang}/visits`, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().code).toBe(code ?? 'BAD_REQUEST');
      expect(res.json().message).toMatch(message);
    }
    // The doctor of 王秀英's chain is not a helper either.
    const doctor = t.registry.contactsOf(t.ids.wang).find((c) => c.role === 'doctor')!.id;
    expect((await t.as('admin', 'POST', `/api/residents/${t.ids.wang}/visits`, visitBody({ visitorContactId: doctor }))).json().code).toBe('VISITOR_NOT_A_HELPER');
    expect(t.township.visits(t.ids.zhang, 10)).toEqual([]);
  });

  it('lists the overdue visits per person, helper and village, within the scope', async () => {
    // 王秀英 (weekly, joined 11-01, never visited) is 24 days overdue; 张德福 (2/month) was visited 2 days ago; 李桂兰 joined 11-20: due 12-05.
    expect((await t.as('admin', 'POST', `/api/residents/${t.ids.zhang}/visits`, visitBody({ at: NOW - 2 * DAY }))).statusCode).toBe(201);
    const all = (await t.as('admin', 'GET', '/api/visits/overdue')).json();
    expect(all.people).toEqual([{ residentId: t.ids.wang, name: '王秀英', villageId: t.ids.shimen, villageName: '石门村', careLevel: 'especiallyDifficult', lastVisitAt: null, due: expect.objectContaining({ date: '2026-11-08', overdue: true, daysOverdue: 24 }) }]);
    expect(all.byHelper).toEqual([{ helperName: '刘建军', post: '村支书', phone: '13800000001', phoneMasked: false, residentIds: [t.ids.wang] }]);
    expect(all.byVillage).toEqual([
      { villageId: t.ids.shimen, villageName: '石门村', overdue: 1, active: 2 },
      { villageId: t.ids.qingshan, villageName: '青山村', overdue: 0, active: 1 },
    ]);
    // The registry list can show only the overdue.
    expect((await t.as('admin', 'GET', '/api/registry/people?overdue=true')).json().people.map((p: { name: string }) => p.name)).toEqual(['王秀英']);
    // Scope: the other village's officer sees none of it; a helper only their people, phones masked.
    expect((await t.as('dutyB', 'GET', '/api/visits/overdue')).json()).toEqual({ people: [], byHelper: [], byVillage: [{ villageId: t.ids.qingshan, villageName: '青山村', overdue: 0, active: 1 }] });
    const helper = (await t.as('helperChen', 'GET', '/api/visits/overdue')).json();
    expect(helper.people).toEqual([]);
    const liu = (await t.as('helper', 'GET', '/api/visits/overdue')).json();
    expect(liu.byHelper).toEqual([{ helperName: '刘建军', post: '村支书', phone: '138****0001', phoneMasked: true, residentIds: [t.ids.wang] }]);
    expect((await t.as('dutyB', 'GET', `/api/visits/overdue?villageId=${t.ids.shimen}`)).json().code).toBe('VILLAGE_NOT_FOUND');
    // A visit now clears it.
    expect((await t.as('helper', 'POST', `/api/residents/${t.ids.wang}/visits`, visitBody())).statusCode).toBe(201);
    expect((await t.as('admin', 'GET', '/api/visits/overdue')).json().people).toEqual([]);
  });
});

describe('a resolved alarm asks for a follow-up visit within 24 hours (the real system)', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let system: KanjiaSystem;
  let running: RunningSystem;
  let devices: string[];
  let residentId: string;

  beforeEach(async () => {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1' } });
    const file: RegistryFile = oneHousehold();
    file.villages[0]!.households[0]!.residents[0]!.joinedOn = '2026-11-25';
    const db = openDatabase(databaseFile(settings));
    const registry = new SqliteRegistryStore(db, loadDeviceKey(settings));
    devices = registry.importRegistry(file).devices.map((d) => d.deviceId);
    residentId = registry.residents({})[0]!.id;
    db.close();
    clock = new FakeClock(NOW);
    system = new KanjiaSystem({ settings, clock, smsSender: new RecordingSender(), logger: createLogger('silent') });
    running = await system.start();
  });
  afterEach(async () => {
    await system.stop();
    tmp.cleanup();
  });

  it('opens the follow-up when the case is resolved, lists it overdue after 24 hours, and a visit answers it', async () => {
    const api = systemClient(() => system.users, running.httpUrl);
    await system.alarmService!.handleEvent(devices[0]!, { id: 'sos-1', ts: clock.nowMs(), type: 'sos' });
    const alarmId = system.alarmStore!.alarmIdFor(devices[0]!, 'sos-1')!;
    expect((await api.post(`/api/alarms/${alarmId}/take`, {})).status).toBe(200);
    clock.advance(20 * 60_000);
    const resolvedAt = clock.nowMs();
    expect((await api.post(`/api/alarms/${alarmId}/resolve`, { note: '老人头晕，已扶到床上休息', outcome: 'real' })).status).toBe(200);

    const before = await api.get<{ nextVisit: { reason: string; alarmId: string; dueAt: number; overdue: boolean } }>(`/api/residents/${residentId}/visits`);
    // Ordinary care would be due on 12-10; the follow-up comes first.
    expect(before.nextVisit).toMatchObject({ reason: 'followUp', alarmId, dueAt: resolvedAt + 24 * HOUR, overdue: false });

    clock.advance(25 * HOUR);
    const overdue = await api.get<{ people: Array<{ residentId: string; due: { reason: string; daysOverdue: number } }> }>('/api/visits/overdue');
    expect(overdue.people).toEqual([expect.objectContaining({ residentId, due: expect.objectContaining({ reason: 'followUp', daysOverdue: 1 }) })]);

    const visit = await api.post(`/api/residents/${residentId}/visits`, { mode: 'phone', health: 'good', mood: 'good', followUp: '已电话回访' });
    expect(visit.status).toBe(201);
    expect(((await visit.json()) as { followedUpAlarmIds: string[] }).followedUpAlarmIds).toEqual([alarmId]);
    const after = await api.get<{ nextVisit: { reason: string; overdue: boolean } }>(`/api/residents/${residentId}/visits`);
    expect(after.nextVisit).toMatchObject({ reason: 'regular', overdue: false });
  });

  it('asks for no follow-up visit after a case resolved as a false alarm', async () => {
    const api = systemClient(() => system.users, running.httpUrl);
    await system.alarmService!.handleEvent(devices[0]!, { id: 'sos-false', ts: clock.nowMs(), type: 'sos' });
    const alarmId = system.alarmStore!.alarmIdFor(devices[0]!, 'sos-false')!;
    expect((await api.post(`/api/alarms/${alarmId}/take`, {})).status).toBe(200);
    expect((await api.post(`/api/alarms/${alarmId}/resolve`, { note: '老人平安，误按', outcome: 'falseAlarm' })).status).toBe(200);
    expect(system.township!.openFollowUps().size).toBe(0);
    expect((await api.get<{ nextVisit: { reason: string } }>(`/api/residents/${residentId}/visits`)).nextVisit.reason).toBe('regular');
  });

  it('keeps a left person’s SOS button working, and asks for no follow-up visit then', async () => {
    const api = systemClient(() => system.users, running.httpUrl);
    expect((await api.post(`/api/residents/${residentId}/leave`, { reason: 'movedToChildren', date: '2026-12-01' })).status).toBe(200);
    await system.alarmService!.handleEvent(devices[0]!, { id: 'sos-after', ts: clock.nowMs(), type: 'sos' });
    const alarmId = system.alarmStore!.alarmIdFor(devices[0]!, 'sos-after');
    expect(alarmId).toBeTruthy();
    expect((await api.post(`/api/alarms/${alarmId}/take`, {})).status).toBe(200);
    expect((await api.post(`/api/alarms/${alarmId}/resolve`, { note: '亲属回家取东西误按' })).status).toBe(200);
    expect((await api.get<{ nextVisit: unknown }>(`/api/residents/${residentId}/visits`)).nextVisit).toBeNull();
    expect(system.township!.openFollowUps().size).toBe(0);
  });
});
