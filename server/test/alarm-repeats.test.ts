/**
 * A stuck button and other repeated triggers: folded into a count on the open
 * case, not one history entry each; and every case's history capped without
 * ever dropping what a person did.
 */
import { defaultPolicies } from '@kanjia/alerts';
import { findingsFromEvent, type Finding } from '@kanjia/detection';
import type { DeviceEvent } from '@kanjia/protocol';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HISTORY_CAP, REPEAT_NOTE_AFTER_MS } from '@kanjia/alerts';
import { SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { MIGRATIONS } from '../src/db/schema.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { oneHousehold, tempDataDir } from './helpers.js';

const KEY = Buffer.alloc(32, 7);
const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);

describe('repeated triggers and the history cap', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let store: SqliteAlarmStore;
  let deviceId: string;
  let residentId: string;

  beforeEach(() => {
    tmp = tempDataDir();
    db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
    const registry = new SqliteRegistryStore(db, KEY, () => T0);
    store = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(5 * 60_000), locale: 'zh-CN', channel: 'test', publicUrl: 'https://kanjia.example.cn' });
    deviceId = registry.importRegistry(oneHousehold()).devices[0]!.deviceId;
    residentId = (db.prepare('SELECT id FROM residents').get() as { id: string }).id;
  });
  afterEach(() => {
    db.close();
    tmp.cleanup();
  });

  const sos = (id: string, ts = T0): DeviceEvent => ({ id, ts, type: 'sos' });
  const press = (id: string, now: number) => store.recordEvent(deviceId, sos(id, now), findingsFromEvent(deviceId, sos(id, now))[0], now);

  it('folds 200 presses of a stuck button (20 a second for 10 s) into one case counted 200, with one history line and one SMS', () => {
    const first = press('p0', T0);
    for (let i = 1; i < 200; i++) expect(press(`p${i}`, T0 + i * 50)).toEqual({ alarmId: first.alarmId, duplicate: false, opened: false });
    const view = store.view(first.alarmId!)!;
    expect(view.repeats).toEqual({ count: 200, firstAt: T0, lastAt: T0 + 199 * 50 });
    expect(view.history.map((h) => h.action)).toEqual(['opened', 'duplicate']);
    expect(view.history[1]!.note).toBe('再次触发（共2次，事件 p1）；之后的重复触发只计次数，不再逐条记录');
    expect(view.notifications).toHaveLength(1);
    expect(view.updatedAt).toBe(T0 + 199 * 50);
    // Every press is still known by its id: the device's resends are duplicates, not new presses.
    expect(press('p150', T0 + 20_000)).toMatchObject({ duplicate: true });
    expect(store.view(first.alarmId!)!.repeats?.count).toBe(200);
  });

  it('shows a case triggered once with no repeats', () => {
    const { alarmId } = press('p0', T0);
    expect(store.view(alarmId!)!.repeats).toBeNull();
    expect(store.view(alarmId!)!.historyOmitted).toBeUndefined();
  });

  it(`writes a new history line for a press after ${REPEAT_NOTE_AFTER_MS / 60_000} minutes of quiet, and none for presses closer together`, () => {
    const { alarmId } = press('p0', T0);
    press('p1', T0 + 1000);
    press('p2', T0 + 2000);
    press('p3', T0 + 2000 + REPEAT_NOTE_AFTER_MS - 1);
    press('p4', T0 + 2000 + REPEAT_NOTE_AFTER_MS - 1 + REPEAT_NOTE_AFTER_MS);
    const view = store.view(alarmId!)!;
    expect(view.history.filter((h) => h.action === 'duplicate').map((h) => h.at)).toEqual([T0 + 1000, T0 + 1999 + 2 * REPEAT_NOTE_AFTER_MS]);
    expect(view.repeats).toEqual({ count: 5, firstAt: T0, lastAt: T0 + 1999 + 2 * REPEAT_NOTE_AFTER_MS });
  });

  it('folds a detector finding raised again for the same resident (CO) the same way', () => {
    const co = (eventId: string): Finding => ({ kind: 'co', deviceId, eventId, eventTs: T0, reason: 'CO 320 ppm', details: { coPpm: 320 } });
    const { alarmId } = store.raiseFinding(co('co-1'), T0);
    expect(store.raiseFinding(co('co-2'), T0 + 60_000)).toEqual({ alarmId, opened: false, duplicate: false });
    expect(store.view(alarmId)!.repeats).toEqual({ count: 2, firstAt: T0, lastAt: T0 + 60_000 });
  });

  it('opens a new case (not a count) for a press once somebody has taken the case', () => {
    const first = press('p0', T0);
    press('p1', T0 + 1000);
    store.transition(first.alarmId!, 'take', '李值班', undefined, T0 + 2000);
    const later = press('p2', T0 + 3000);
    expect(later.opened).toBe(true);
    expect(store.view(first.alarmId!)!.repeats?.count).toBe(2);
    expect(store.view(later.alarmId!)!.repeats).toBeNull();
  });

  it(`keeps at most ${HISTORY_CAP} history entries, dropping the oldest system notes and never who opened, took or resolved the case`, () => {
    const { alarmId } = press('p0', T0);
    store.transition(alarmId!, 'take', '李值班', '我马上去', T0 + 1000);
    for (let i = 0; i < 250; i++) store.noteOnActiveCase(residentId, 'sos', `note ${i}`, T0 + 2000 + i);
    store.transition(alarmId!, 'resolve', '李值班', '误按，已确认平安', T0 + 10_000);
    const view = store.view(alarmId!)!;
    expect(view.history).toHaveLength(HISTORY_CAP);
    // 254 written: opened, taken, 250 notes, the first SMS (still queued) skipped at the resolve, resolved.
    expect(view.historyOmitted).toBe(254 - HISTORY_CAP);
    expect(view.history.filter((h) => h.action !== 'note').map((h) => [h.action, h.by])).toEqual([
      ['opened', null],
      ['taken', '李值班'],
      ['resolved', '李值班'],
    ]);
    const notes = view.history.filter((h) => h.action === 'note').map((h) => h.note);
    expect(notes[0]).toBe(`note ${254 - HISTORY_CAP}`);
    expect(notes.slice(-2)).toEqual(['note 249', '发给刘建军的短信未发出：警报已处理完毕']);
  });
});

describe('schema migration 10', () => {
  it('counts the "triggered again" entries of cases recorded before it as their repeats', () => {
    const tmp = tempDataDir();
    try {
      const file = `${tmp.dir}/kanjia.sqlite`;
      const old = new Database(file);
      const before = MIGRATIONS.findIndex((sql) => sql.includes('-- migration 10:'));
      expect(before).toBeGreaterThan(0);
      for (const sql of MIGRATIONS.slice(0, before)) old.exec(sql);
      old.pragma(`user_version = ${before}`);
      old.pragma('foreign_keys = OFF'); // bare case rows are enough here
      old.exec(`INSERT INTO alarms (id, kind, severity, status, device_id, event_id, event_ts, resident_id, household_id, village_id, opened_at, updated_at)
                VALUES ('alm-3', 'sos', 'critical', 'open', 'd1', 'e1', 1, 'r1', 'h1', 'v1', 1000, 4000),
                       ('alm-1', 'sos', 'critical', 'open', 'd1', 'e9', 1, 'r2', 'h1', 'v1', 1000, 1000)`);
      old.exec(`INSERT INTO alarm_history (alarm_id, at, action, by, note) VALUES
                ('alm-3', 1000, 'opened', NULL, NULL), ('alm-3', 2000, 'duplicate', NULL, NULL),
                ('alm-3', 3000, 'duplicate', NULL, NULL), ('alm-3', 4000, 'duplicate', NULL, NULL), ('alm-1', 1000, 'opened', NULL, NULL)`);
      old.close();
      const db = openDatabase(file);
      try {
        expect(db.prepare('SELECT id, repeat_count, repeat_last_at, history_omitted FROM alarms ORDER BY id').all()).toEqual([
          { id: 'alm-1', repeat_count: 1, repeat_last_at: null, history_omitted: 0 },
          { id: 'alm-3', repeat_count: 4, repeat_last_at: 4000, history_omitted: 0 },
        ]);
      } finally {
        db.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});
