import { defaultPolicies } from '@kanjia/alerts';
import { findingsFromEvent, type Finding } from '@kanjia/detection';
import type { DeviceEvent } from '@kanjia/protocol';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlarmError, SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { MIGRATIONS } from '../src/db/schema.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { oneHousehold, tempDataDir } from './helpers.js';

const KEY = Buffer.alloc(32, 7);
const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);

describe('SqliteAlarmStore', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let registry: SqliteRegistryStore;
  let store: SqliteAlarmStore;
  let deviceId: string;

  beforeEach(() => {
    tmp = tempDataDir();
    db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
    registry = new SqliteRegistryStore(db, KEY, () => T0);
    store = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(5 * 60_000), locale: 'zh-CN', channel: 'test', publicUrl: 'https://kanjia.example.cn' });
    deviceId = registry.importRegistry(oneHousehold()).devices[0]!.deviceId;
  });
  afterEach(() => {
    db.close();
    tmp.cleanup();
  });

  const sos = (id: string): DeviceEvent => ({ id, ts: T0 - 1000, type: 'sos' });
  const record = (e: DeviceEvent, now = T0) => store.recordEvent(deviceId, e, findingsFromEvent(deviceId, e)[0], now);

  it('opens exactly one case per device event id, however often the event is repeated', () => {
    const first = record(sos('e1'));
    const again = record(sos('e1'), T0 + 5000);
    expect(first).toMatchObject({ opened: true, duplicate: false });
    expect(again).toEqual({ alarmId: first.alarmId, duplicate: true, opened: false });
    expect(store.countAlarmsForEvent(deviceId, 'e1')).toBe(1);
    expect(store.list('active', 10)).toHaveLength(1);
  });

  it('writes the first contact’s SMS in the same transaction as the case, naming resident, address and kind', () => {
    const { alarmId } = record(sos('e1'));
    const view = store.view(alarmId!)!;
    expect(view.notifications).toHaveLength(1);
    expect(view.notifications[0]).toMatchObject({ contactName: '刘建军', phoneMasked: '138****0001', status: 'pending', escalationLevel: 0 });
    const [item] = store.claimDueNotifications(T0, 10);
    expect(item?.message.to).toBe('13800000001');
    expect(item?.message.text).toContain('王秀英');
    expect(item?.message.text).toContain('石门村一组12号');
    expect(item?.message.text).toContain('紧急呼叫');
    expect(item?.message).toMatchObject({ template: 'alarm', kind: 'sos', params: { kind: '紧急呼叫', detail: '老人按了紧急按钮' } });
  });

  it("keeps a case's own severity on every escalation step: the only SOS button offline (urgent) climbs every 15 minutes, not every 4 hours", () => {
    const MIN = 60_000;
    const { alarmId } = store.raiseFinding(
      { kind: 'deviceOffline', deviceId, eventId: 'offline-1', eventTs: T0, reason: 'the only SOS button is offline', details: { severity: 'urgent' } },
      T0,
    );
    const urgentTake = defaultPolicies(5 * MIN).inactivity.takeTimeoutMs;
    expect(store.view(alarmId)!).toMatchObject({ severity: 'urgent', nextEscalationAt: T0 + urgentTake });
    expect(store.escalateDueAlarms(T0 + urgentTake)).toEqual([alarmId]);
    // The second step after the same 15 minutes, where the kind's own policy (maintenance) would wait 4 hours.
    expect(store.view(alarmId)!).toMatchObject({ escalationLevel: 1, nextEscalationAt: T0 + 2 * urgentTake });
  });

  describe('notices held by an SMS outage', () => {
    const MIN = 60_000;
    const holdFirst = () => {
      const { alarmId } = record(sos('e1'));
      const [item] = store.claimDueNotifications(T0, 10);
      store.markNotificationHeld(item!.id, T0, 'isv.AMOUNT_NOT_ENOUGH: 账户余额不足');
      return { alarmId: alarmId!, id: item!.id };
    };

    it('keeps a held notice pending with no attempt counted, shows it waiting, and holds the case’s escalation however late it is', () => {
      const { alarmId } = holdFirst();
      expect(store.view(alarmId)!.notifications).toMatchObject([{ status: 'pending', attempts: 0, waitingForProvider: true, lastError: 'isv.AMOUNT_NOT_ENOUGH: 账户余额不足' }]);
      expect(store.view(alarmId)!.nextEscalationAt).toBeNull();
      expect(store.nextEscalationAt()).toBeNull();
      expect(store.escalateDueAlarms(T0 + 60 * MIN)).toEqual([]);
      expect(store.view(alarmId)!.escalationLevel).toBe(0);
    });

    it('holds every pending notice at once, new ones too, and names their cases', () => {
      const a = record(sos('e1')).alarmId!;
      expect(store.holdPendingNotifications(T0, 'SMS_NETWORK_ERROR: refused')).toEqual([a]);
      expect(store.holdPendingNotifications(T0 + 1, 'SMS_NETWORK_ERROR: refused')).toEqual([]);
      expect(store.escalateDueAlarms(T0 + 60 * MIN)).toEqual([]);
    });

    it('sent after the outage: the next contact is due a take timeout after the SMS, not after the press', () => {
      const { alarmId, id } = holdFirst();
      const [again] = store.claimDueNotifications(T0 + 40 * MIN, 10);
      expect(again!.id).toBe(id);
      store.markNotificationSent(id, T0 + 40 * MIN, 'biz');
      expect(store.view(alarmId)!).toMatchObject({ nextEscalationAt: T0 + 45 * MIN, notifications: [{ status: 'sent', waitingForProvider: false }] });
      expect(store.escalateDueAlarms(T0 + 45 * MIN - 1)).toEqual([]);
      expect(store.escalateDueAlarms(T0 + 45 * MIN)).toEqual([alarmId]);
    });

    it('refused for itself after the outage (a bad number): the next contact is due now; (a per-number limit): the case escalates a take timeout from then', () => {
      const { alarmId, id } = holdFirst();
      store.claimDueNotifications(T0 + 40 * MIN, 10);
      store.markNotificationFailed(id, T0 + 40 * MIN, 'isv.MOBILE_NUMBER_ILLEGAL: 非法手机号');
      expect(store.escalateDueAlarms(T0 + 40 * MIN)).toEqual([alarmId]);
      expect(store.view(alarmId)!.history.map((h) => h.note)).toContain('发给刘建军的短信发送失败（isv.MOBILE_NUMBER_ILLEGAL: 非法手机号），立即通知下一位联系人');

      const other = store.raiseFinding({ kind: 'inactivity', deviceId, eventId: 'q1', eventTs: T0, reason: 'quiet' }, T0).alarmId;
      const [held] = store.claimDueNotifications(T0, 10).filter((i) => i.alarmId === other);
      store.markNotificationHeld(held!.id, T0, 'SMS_TIMEOUT: no answer');
      store.claimDueNotifications(T0 + 60 * MIN, 10);
      store.markNotificationRetry(held!.id, T0 + 60 * MIN, T0 + 61 * MIN, 'isv.BUSINESS_LIMIT_CONTROL: 触发天级流控');
      expect(store.view(other)!.notifications[0]).toMatchObject({ waitingForProvider: false, attempts: 1 });
      expect(store.view(other)!.nextEscalationAt).toBe(T0 + 60 * MIN + defaultPolicies(5 * MIN).inactivity.takeTimeoutMs);
    });

    it('claims the most severe waiting notice first, then the one waiting longest; a failed probe goes behind the others', () => {
      const low = store.raiseFinding({ kind: 'lowBattery', deviceId, eventId: 'b1', eventTs: T0, reason: 'battery' }, T0).alarmId;
      const first = record(sos('e1'), T0 + 1).alarmId!;
      store.holdPendingNotifications(T0 + 2, 'x: y');
      const [probe1] = store.claimDueNotifications(T0 + 10, 1);
      expect(probe1!.alarmId).toBe(first);
      store.markNotificationHeld(probe1!.id, T0 + 10, 'x: y');
      const [probe2] = store.claimDueNotifications(T0 + 10, 1);
      // The only critical one again: severity first.
      expect(probe2!.alarmId).toBe(first);
      store.markNotificationHeld(probe2!.id, T0 + 20, 'x: y');
      expect(store.claimDueNotifications(T0 + 30, 10).map((i) => i.alarmId)).toEqual([first, low]);
    });
  });

  /** A CO finding as the environment monitor raises it, on the resident's SOS button's household. */
  const coFinding = (eventId: string): Finding => ({
    kind: 'co',
    deviceId,
    eventId,
    eventTs: T0,
    reason: 'CO 320 ppm, at or above 300 ppm: immediate alarm',
    details: { coPpm: 320, peakPpm: 320, stagePpm: 300, stageMin: 0, minutesAtStage: 0, startMs: T0, localStart: '10:00', standard: 'EN 50291-1' },
  });

  it("texts the CO case's own words with its figures, and says them again in the escalation 5 minutes later", () => {
    const { alarmId } = store.raiseFinding(coFinding('co-1'), T0);
    const [first] = store.claimDueNotifications(T0, 10);
    expect(first?.message).toMatchObject({ template: 'alarm', kind: 'co', params: { detail: '浓度320ppm' } });
    expect(first?.message.text).toMatch(/^【智慧看家】一氧化碳报警：王秀英（石门村）家中10:00起一氧化碳浓度320ppm。地址：石门村一组12号。请立即打电话并前往：开门窗通风，把人移到室外，必要时拨打120。点此接警：https:\/\/kanjia\.example\.cn\/a\/[0-9a-z]{12}$/);

    expect(store.escalateDueAlarms(T0 + 5 * 60_000)).toEqual([alarmId]);
    const [second] = store.claimDueNotifications(T0 + 5 * 60_000, 10);
    expect(second?.message).toMatchObject({ to: '13800000002', template: 'escalation', kind: 'co', params: { minutes: '5', detail: '浓度320ppm' } });
    expect(second?.message.text).toMatch(/^【智慧看家】已5分钟无人接警！一氧化碳报警：王秀英（石门村）家中10:00起一氧化碳浓度320ppm。/);
  });

  it.each([
    ['without stored details (a case opened before they were stored)', null],
    ['with stored details that are not JSON', '{coPpm: 3'],
    ['with stored details that are not an object', '[320]'],
  ])('escalates a case %s with the plain phrase of its kind', (_what, stored) => {
    const { alarmId } = store.raiseFinding(coFinding('co-2'), T0);
    db.prepare('UPDATE alarms SET details_json = ? WHERE id = ?').run(stored, alarmId);
    store.claimDueNotifications(T0, 10);
    expect(store.escalateDueAlarms(T0 + 5 * 60_000)).toEqual([alarmId]);
    const [second] = store.claimDueNotifications(T0 + 5 * 60_000, 10);
    expect(second?.message.params.detail).toBe('浓度超标');
    expect(second?.message.text).toContain('一氧化碳浓度超标');
  });

  it('gives a notice written before SMS had a `detail` (pending across the upgrade) the plain phrase, so the generic template still takes it', () => {
    record(sos('e1'));
    const row = db.prepare('SELECT id, params_json FROM notifications').get() as { id: string; params_json: string };
    const { detail: _dropped, ...old } = JSON.parse(row.params_json) as Record<string, string>;
    db.prepare('UPDATE notifications SET params_json = ? WHERE id = ?').run(JSON.stringify(old), row.id);
    const [item] = store.claimDueNotifications(T0, 10);
    expect(item?.message.params).toEqual({ ...old, detail: '老人按了紧急按钮' });
  });

  it('joins a second SOS press of the same resident to the open case instead of opening another', () => {
    const first = record(sos('e1'));
    const second = record(sos('e2'), T0 + 30_000);
    expect(second).toMatchObject({ alarmId: first.alarmId, opened: false, duplicate: false });
    expect(store.list('all', 10)).toHaveLength(1);
    expect(store.view(first.alarmId!)!.history.map((h) => h.action)).toEqual(['opened', 'duplicate']);
  });

  it('escalates an untaken case to the second contact after 5 minutes, then the third', () => {
    const { alarmId } = record(sos('e1'));
    expect(store.nextEscalationAt()).toBe(T0 + 5 * 60_000);
    expect(store.escalateDueAlarms(T0 + 5 * 60_000 - 1)).toEqual([]);
    expect(store.escalateDueAlarms(T0 + 5 * 60_000)).toEqual([alarmId]);
    expect(store.escalateDueAlarms(T0 + 10 * 60_000)).toEqual([alarmId]);
    const names = store.view(alarmId!)!.notifications.map((n) => [n.contactName, n.escalationLevel]);
    expect(names).toEqual([
      ['刘建军', 0],
      ['赵春梅', 1],
      ['村委值班室', 2],
    ]);
    // The duty officer reads the history in Chinese.
    expect(store.view(alarmId!)!.history.map((h) => h.note)).toEqual([
      '老人按下了紧急呼叫按钮',
      '无人接警，已短信通知赵春梅（村医），第1次升级',
      '无人接警，已短信通知村委值班室（村委值班），第2次升级',
    ]);
  });

  it('stops escalating once the case is taken and queues `taken` for the device', () => {
    const { alarmId } = record(sos('e1'));
    store.transition(alarmId!, 'take', '李值班', undefined, T0 + 60_000);
    expect(store.nextEscalationAt()).toBeNull();
    expect(store.escalateDueAlarms(T0 + 60 * 60_000)).toEqual([]);
    const [cmd] = store.pendingCommands(deviceId);
    expect(cmd?.command).toMatchObject({ type: 'taken', eventId: 'e1', alarmId });
    expect(store.view(alarmId!)).toMatchObject({ status: 'taken', takenBy: '李值班', nextEscalationAt: null });
  });

  it('tells every device whose press joined the case that it was taken, each about its own event', () => {
    const household = db.prepare('SELECT household_id FROM devices WHERE id = ?').get(deviceId) as { household_id: string };
    const pendant = registry.createDevice(household.household_id, { kind: 'pendant' }).deviceId;
    const { alarmId } = record(sos('e1'));
    const second: DeviceEvent = { id: 'p1', ts: T0, type: 'sos' };
    store.recordEvent(pendant, second, findingsFromEvent(pendant, second)[0], T0 + 1000);
    store.transition(alarmId!, 'take', '李值班', undefined, T0 + 2000);
    const commands = store.pendingCommands().map((c) => [c.deviceId, c.command.type, 'eventId' in c.command ? c.command.eventId : null]);
    expect(commands).toEqual(
      expect.arrayContaining([
        [deviceId, 'taken', 'e1'],
        [pendant, 'taken', 'p1'],
      ]),
    );
    expect(commands).toHaveLength(2);
  });

  it('refuses to take a case twice by different people, with a stable code', () => {
    const { alarmId } = record(sos('e1'));
    store.transition(alarmId!, 'take', '李值班', undefined, T0);
    store.transition(alarmId!, 'take', '李值班', undefined, T0 + 1); // same person again: fine
    expect(() => store.transition(alarmId!, 'take', '王值班', undefined, T0 + 2)).toThrowError(AlarmError);
    try {
      store.transition(alarmId!, 'take', '王值班', undefined, T0 + 2);
    } catch (err) {
      expect((err as AlarmError).code).toBe('ALARM_ALREADY_TAKEN');
    }
  });

  it('walks the lifecycle open → taken → on the way → on site → resolved with a note, and keeps the history', () => {
    const { alarmId } = record(sos('e1'));
    store.transition(alarmId!, 'take', '李值班', undefined, T0 + 1);
    store.transition(alarmId!, 'onTheWay', '刘建军', undefined, T0 + 2);
    store.transition(alarmId!, 'onSite', '刘建军', undefined, T0 + 3);
    store.transition(alarmId!, 'resolve', '刘建军', '老人摔倒，已送镇卫生院', T0 + 4);
    const view = store.view(alarmId!)!;
    expect(view.status).toBe('resolved');
    expect(view.resolutionNote).toBe('老人摔倒，已送镇卫生院');
    // The first SMS never went (nothing sends here): it is skipped at the close, and the history says so.
    expect(view.history.map((h) => h.action)).toEqual(['opened', 'taken', 'onTheWay', 'onSite', 'resolved', 'note']);
    expect(view.history.at(-1)?.note).toBe('发给刘建军的短信未发出：警报已处理完毕');
    expect(() => store.transition(alarmId!, 'cancel', 'x', 'y', T0 + 5)).toThrowError(/already resolved/);
    expect(store.list('active', 10)).toHaveLength(0);
    expect(store.list('closed', 10)).toHaveLength(1);
  });

  it('texts the next contact at once when the SMS to the current one fails for good', () => {
    const { alarmId } = record(sos('e1'));
    const [item] = store.claimDueNotifications(T0, 10);
    store.markNotificationFailed(item!.id, T0 + 2000, 'isv.MOBILE_NUMBER_ILLEGAL: bad number');
    expect(store.nextEscalationAt()).toBe(T0 + 2000);
    expect(store.escalateDueAlarms(T0 + 2000)).toEqual([alarmId]);
    const view = store.view(alarmId!)!;
    expect(view.notifications.map((n) => [n.contactName, n.status])).toEqual([
      ['刘建军', 'failed'],
      ['赵春梅', 'pending'],
    ]);
    expect(view.history.map((h) => h.action)).toEqual(['opened', 'escalated', 'escalated']);
  });

  it('notes a cancel press of the resident in the open case, which stays open for a person to close', () => {
    const { alarmId } = record(sos('e1'));
    const cancel: DeviceEvent = { id: 'c9', ts: T0, type: 'cancel', refId: 'e1' };
    store.recordEvent(deviceId, cancel, undefined, T0 + 5000);
    expect(store.noteResidentCancel(deviceId, 'e1', T0 + 5000)).toBe(alarmId);
    const view = store.view(alarmId!)!;
    expect(view.status).toBe('open');
    expect(view.history.at(-1)).toMatchObject({ action: 'note', by: '王秀英' });
  });

  it('opens a new case, which texts again, when the resident presses SOS after the first case was taken', () => {
    const first = record(sos('e1'));
    store.transition(first.alarmId!, 'take', '李值班', undefined, T0 + 60_000);
    const second = record(sos('e2'), T0 + 8 * 3600_000);
    expect(second.opened).toBe(true);
    expect(second.alarmId).not.toBe(first.alarmId);
    expect(store.view(second.alarmId!)!.notifications).toHaveLength(1);
  });

  it('does not send a notice that was still waiting when its case was closed', () => {
    const { alarmId } = record(sos('e1'));
    store.transition(alarmId!, 'resolve', '李值班', '已电话确认平安', T0 + 1000);
    expect(store.claimDueNotifications(T0 + 2000, 10)).toEqual([]);
    expect(store.view(alarmId!)!.notifications[0]).toMatchObject({ status: 'skipped', lastError: expect.stringContaining('CASE_CLOSED') });
  });

  it('refuses a device for a household that has no resident yet', () => {
    const villageId = registry.createVillage({ name: '空村', lat: 27, lng: 111, households: [] });
    const householdId = registry.createHousehold(villageId, { address: '空村1号', lat: 27, lng: 111 });
    expect(() => registry.createDevice(householdId, { kind: 'sosButton' })).toThrowError(/no resident yet/);
  });

  it('puts notifications interrupted by a crash back in the queue', () => {
    record(sos('e1'));
    expect(store.claimDueNotifications(T0, 10)).toHaveLength(1);
    expect(store.claimDueNotifications(T0, 10)).toHaveLength(0); // claimed: in 'sending'
    expect(store.requeueInterruptedNotifications(T0 + 1)).toBe(1);
    expect(store.claimDueNotifications(T0 + 1, 10)).toHaveLength(1);
  });

  it('records a check-in press once and opens no case', () => {
    const e: DeviceEvent = { id: 'c1', ts: T0, type: 'checkIn' };
    expect(record(e)).toEqual({ alarmId: null, duplicate: false, opened: false });
    expect(record(e)).toEqual({ alarmId: null, duplicate: true, opened: false });
    expect(store.list('all', 10)).toHaveLength(0);
  });
});

describe('schema migration 3', () => {
  it('adds details_json to the alarms of a database created at version 2, keeping its cases', () => {
    const tmp = tempDataDir();
    try {
      const file = `${tmp.dir}/kanjia.sqlite`;
      const old = new Database(file);
      old.exec(MIGRATIONS[0]!);
      old.exec(MIGRATIONS[1]!);
      old.pragma('user_version = 2');
      old.pragma('foreign_keys = OFF'); // a bare case row is enough here
      old.exec(`INSERT INTO alarms (id, kind, severity, status, device_id, event_id, event_ts, resident_id, household_id, village_id, opened_at, updated_at)
                VALUES ('alm-old', 'sos', 'critical', 'resolved', 'd1', 'e1', 1, 'r1', 'h1', 'v1', 1, 1)`);
      old.close();
      const db = openDatabase(file);
      try {
        expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
        expect((db.prepare('PRAGMA table_info(alarms)').all() as Array<{ name: string }>).map((c) => c.name)).toContain('details_json');
        expect(db.prepare("SELECT id, details_json FROM alarms WHERE id = 'alm-old'").get()).toEqual({ id: 'alm-old', details_json: null });
      } finally {
        db.close();
      }
    } finally {
      tmp.cleanup();
    }
  });

  it('gives the notices of a database from before migration 12 their place in the outbox by their case severity', () => {
    const tmp = tempDataDir();
    try {
      const file = `${tmp.dir}/kanjia.sqlite`;
      const old = new Database(file);
      for (const sql of MIGRATIONS.slice(0, 11)) old.exec(sql);
      old.pragma('user_version = 11');
      old.pragma('foreign_keys = OFF');
      const insertAlarm = old.prepare(`INSERT INTO alarms (id, kind, severity, status, device_id, event_id, event_ts, resident_id, household_id, village_id, opened_at, updated_at)
                VALUES (?, ?, ?, 'open', 'd1', ?, 1, 'r1', 'h1', 'v1', 1, 1)`);
      const insertNotice = old.prepare(`INSERT INTO notifications (id, alarm_id, channel, contact_name, contact_role, phone, escalation_level, template, params_json, text, status, created_at, next_attempt_at)
                VALUES (?, ?, 'console', '刘', 'helper', '13800000001', 0, 'alarm', '{}', 't', 'pending', ?, ?)`);
      // Queued in the wrong order for severity: the low battery first.
      insertAlarm.run('alm-battery', 'lowBattery', 'maintenance', 'e1');
      insertAlarm.run('alm-inactive', 'inactivity', 'urgent', 'e2');
      insertAlarm.run('alm-sos', 'sos', 'critical', 'e3');
      insertNotice.run('n-battery', 'alm-battery', 1, 1);
      insertNotice.run('n-inactive', 'alm-inactive', 2, 2);
      insertNotice.run('n-sos', 'alm-sos', 3, 3);
      old.close();
      const db = openDatabase(file);
      try {
        expect(db.prepare('SELECT id, priority FROM notifications ORDER BY priority, next_attempt_at').all()).toEqual([
          { id: 'n-sos', priority: 0 },
          { id: 'n-inactive', priority: 1 },
          { id: 'n-battery', priority: 2 },
        ]);
      } finally {
        db.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});
