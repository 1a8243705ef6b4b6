/**
 * The follow-up visit a resolved alarm asks for survives a crash: the hook
 * that opens it runs after the resolution's commit, so a crash between the
 * two leaves a resolved case without its follow-up. The database is written
 * here as such a crash leaves it, then the real system starts: the start-up
 * sweep opens every missing follow-up of the last 7 days, due 24 hours after
 * the resolution, answers it with a visit already made since, skips
 * cancelled cases, old cases and people who left, and does nothing the
 * second time.
 */
import type { SmsMessage, SmsResult, SmsSender } from '@kanjia/alerts';
import { defaultPolicies } from '@kanjia/alerts';
import { CreateVisitBody, DEFAULT_VISIT_FREQUENCY, FakeClock, type AlarmOutcome } from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { loadSettings, type Settings } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem } from '../src/system.js';
import { SqliteTownshipStore } from '../src/township/township-store.js';
import { tempDataDir } from './helpers.js';
import { DAY, HOUR, NOW, township, visitBody } from './township-helpers.js';

class NullSender implements SmsSender {
  readonly name = 'null';
  async send(_m: SmsMessage): Promise<SmsResult> {
    return { ok: true, providerRef: null };
  }
}

interface FollowUpRow {
  alarmId: string;
  residentId: string;
  createdAt: number;
  dueAt: number;
  visitId: string | null;
}

describe('the start-up sweep of follow-up visits lost in a crash', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let settings: Settings;
  const cases: Record<'recent' | 'visited' | 'cancelled' | 'falseAlarm' | 'old' | 'leftPerson' | 'hooked', string> = { recent: '', visited: '', cancelled: '', falseAlarm: '', old: '', leftPerson: '', hooked: '' };
  const people: Record<'wang' | 'zhang' | 'li', string> = { wang: '', zhang: '', li: '' };
  let visitId = '';

  beforeEach(() => {
    tmp = tempDataDir();
    settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
    const db = openDatabase(databaseFile(settings));
    const registry = new SqliteRegistryStore(db, loadDeviceKey(settings), () => NOW);
    const devices = registry.importRegistry(township()).devices;
    const store = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(), locale: 'zh-CN', channel: 'test', publicUrl: 'http://127.0.0.1:8080' });
    const townshipStore = new SqliteTownshipStore(db, registry, () => NOW, DEFAULT_VISIT_FREQUENCY);
    const byName = (name: string) => registry.residents({}).find((r) => r.name === name)!.id;
    people.wang = byName('王秀英');
    people.zhang = byName('张德福');
    people.li = byName('李桂兰');
    const deviceOf = (residentId: string) => devices.find((d) => registry.device(d.deviceId)?.householdId === registry.resident(residentId)!.householdId)!.deviceId;
    /** A case opened and closed (`resolve` or `cancel`) at `closedAt`, committed, its hook never run: what a crash right after the commit leaves. */
    const closedCase = (residentId: string, eventId: string, closedAt: number, action: 'resolve' | 'cancel' = 'resolve', outcome?: AlarmOutcome): string => {
      const { alarmId } = store.raiseFinding({ kind: 'sos', deviceId: deviceOf(residentId), eventId, eventTs: closedAt - HOUR, reason: 'seeded' }, closedAt - HOUR);
      store.transition(alarmId, 'take', '值班员 李明', undefined, closedAt - HOUR + 60_000);
      store.transition(alarmId, action, '值班员 李明', '已处理', closedAt, outcome);
      return alarmId;
    };
    cases.old = closedCase(people.wang, 'old', NOW - 10 * DAY);
    cases.cancelled = closedCase(people.wang, 'cancelled', NOW - 2 * DAY, 'cancel');
    cases.falseAlarm = closedCase(people.wang, 'false-alarm', NOW - 36 * HOUR, 'resolve', 'falseAlarm');
    cases.recent = closedCase(people.wang, 'recent', NOW - 20 * HOUR);
    // 李桂兰's case was resolved two days ago and a helper has visited her since: the follow-up is answered already.
    cases.visited = closedCase(people.li, 'visited', NOW - 2 * DAY);
    visitId = townshipStore.addVisit(people.li, CreateVisitBody.parse(visitBody({ at: NOW - 2 * DAY + 3 * HOUR })), { userId: null, name: '张伟' }).id;
    // 张德福's case: one the hook did open (untouched by the sweep); then another, and he left the registry (died) before the restart.
    cases.hooked = closedCase(people.zhang, 'hooked', NOW - 3 * DAY);
    expect(townshipStore.openFollowUp(cases.hooked, people.zhang, NOW - 3 * DAY)).toBe(true);
    cases.leftPerson = closedCase(people.zhang, 'left', NOW - 30 * HOUR);
    townshipStore.leave(people.zhang, { reason: 'died', date: '2026-12-01' }, { userId: null, name: '镇民政办 王' });
    expect(followUps(db).map((f) => f.alarmId)).toEqual([cases.hooked]);
    db.close();
  });
  afterEach(() => tmp.cleanup());

  function followUps(db: Db): FollowUpRow[] {
    return db
      .prepare('SELECT alarm_id AS alarmId, resident_id AS residentId, created_at AS createdAt, due_at AS dueAt, visit_id AS visitId FROM visit_follow_ups ORDER BY created_at')
      .all() as FollowUpRow[];
  }
  async function startAndStop(): Promise<void> {
    const system = new KanjiaSystem({ settings, clock: new FakeClock(NOW), smsSender: new NullSender(), logger: createLogger('silent') });
    await system.start();
    await system.stop();
  }

  it('opens the missing follow-up due 24 h after the resolution, answers it with a visit made since, skips cancelled and false alarms, old and left cases, and is idempotent', async () => {
    await startAndStop();
    const db = openDatabase(databaseFile(settings));
    try {
      const rows = followUps(db);
      expect(rows.map((f) => f.alarmId).sort()).toEqual([cases.hooked, cases.visited, cases.recent].sort());
      const recent = rows.find((f) => f.alarmId === cases.recent)!;
      expect(recent).toEqual({ alarmId: cases.recent, residentId: people.wang, createdAt: NOW - 20 * HOUR, dueAt: NOW + 4 * HOUR, visitId: null });
      expect(rows.find((f) => f.alarmId === cases.visited)).toMatchObject({ residentId: people.li, dueAt: NOW - DAY, visitId });

      // The open follow-ups as the registry list and the overdue list read them.
      const registry = new SqliteRegistryStore(db, loadDeviceKey(settings), () => NOW);
      const store = new SqliteTownshipStore(db, registry, () => NOW, DEFAULT_VISIT_FREQUENCY);
      expect(store.openFollowUps().get(people.wang)).toEqual([{ alarmId: cases.recent, dueAt: NOW + 4 * HOUR }]);
      expect(store.openFollowUps().has(people.li)).toBe(false);
    } finally {
      db.close();
    }

    // A second start changes nothing.
    await startAndStop();
    const again = openDatabase(databaseFile(settings));
    try {
      expect(followUps(again).map((f) => f.alarmId).sort()).toEqual([cases.hooked, cases.visited, cases.recent].sort());
    } finally {
      again.close();
    }
  });
});
