/**
 * Several alarms for one number in one SMS (issue 12, the provider's limits):
 * the store gathers the notices that come for a number within a minute of its
 * last SMS and the claim sends them as one message; critical alarms never
 * wait; the bundle's verdict is each member's; a refused bundle lets its
 * members go on their own.
 */
import { defaultPolicies } from '@kanjia/alerts';
import type { Finding } from '@kanjia/detection';
import type { RegistryFile } from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { oneHousehold, tempDataDir } from './helpers.js';

const KEY = Buffer.alloc(32, 7);
const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);
const S = 1000;

/** Two households of 石门村 whose first contact is the same duty officer (13800000009). */
function sharedOfficer(): RegistryFile {
  const file = oneHousehold([{ kind: 'sosButton' }, { kind: 'waterLeakSensor' }]);
  const village = file.villages[0]!;
  const first = village.households[0]!;
  first.residents[0]!.contacts = [{ name: '村委值班室', role: 'duty', phone: '13800000009' }];
  village.households.push({
    address: '石门村二组3号',
    lat: 27.113,
    lng: 111.032,
    residents: [{ name: '张德福', contacts: [{ name: '村委值班室', role: 'duty', phone: '13800000009' }] }],
    devices: [{ kind: 'sosButton' }, { kind: 'waterLeakSensor' }],
  });
  return file;
}

describe('bundles: several alarms for one number in one SMS', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let store: SqliteAlarmStore;
  let devices: Array<{ deviceId: string }>;

  beforeEach(() => {
    tmp = tempDataDir();
    db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
    const registry = new SqliteRegistryStore(db, KEY, () => T0);
    store = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(5 * 60_000), locale: 'zh-CN', channel: 'test', publicUrl: 'https://kanjia.example.cn', bundleWindowMs: 60 * S });
    devices = registry.importRegistry(sharedOfficer()).devices;
  });
  afterEach(() => {
    db.close();
    tmp.cleanup();
  });

  /** devices: [0] sos and [1] water of 王秀英, [2] sos and [3] water of 张德福. */
  const raise = (device: number, kind: Finding['kind'], at: number) =>
    store.raiseFinding({ kind, deviceId: devices[device]!.deviceId, eventId: `${kind}-${device}-${at}`, eventTs: at, reason: kind }, at).alarmId;

  it('gathers what comes within a minute of the last SMS, sends it as one at the minute, and marks each member sent', () => {
    const first = raise(1, 'waterLeak', T0);
    const [alone] = store.claimDueNotifications(T0, 10);
    expect(alone!.message.bundled).toBeUndefined();
    store.markNotificationSent(alone!.id, T0 + S, 'biz-1');

    const second = raise(3, 'waterLeak', T0 + 10 * S);
    const third = raise(0, 'lowBattery', T0 + 20 * S);
    // Within the window of the SMS at T0 + 1 s: nothing goes yet.
    expect(store.claimDueNotifications(T0 + 30 * S, 10)).toEqual([]);
    expect(store.nextNotificationDueAt()).toBe(T0 + 61 * S);
    const items = store.claimDueNotifications(T0 + 61 * S, 10);
    expect(items).toHaveLength(1);
    const [bundle] = items;
    expect(bundle!.message).toMatchObject({ to: '13800000009', template: 'alarm', bundled: 2 });
    expect(bundle!.message.params.name).toBe('张德福、王秀英');
    expect(bundle!.message.text).toMatch(/^【智慧看家】2起报警待处理：张德福（石门村）漏水，10:00；王秀英（石门村）电量低，10:00。/);
    expect(bundle!.message.text).toMatch(/https:\/\/kanjia\.example\.cn\/a\/[A-Za-z0-9]+$/);
    expect(bundle!.alsoAlarmIds).toEqual([third]);

    store.markNotificationSent(bundle!.id, T0 + 62 * S, 'biz-2');
    for (const id of [second, third]) {
      expect(store.view(id!)!.notifications[0]).toMatchObject({ status: 'sent', sentAt: T0 + 62 * S });
    }
    expect(store.view(first!)!.notifications[0]!.status).toBe('sent');
  });

  it('a critical alarm never waits for the window: it goes at once', () => {
    raise(1, 'waterLeak', T0);
    const [a] = store.claimDueNotifications(T0, 10);
    store.markNotificationSent(a!.id, T0 + S, 'biz-1');
    raise(2, 'sos', T0 + 5 * S);
    const [sos] = store.claimDueNotifications(T0 + 5 * S, 10);
    expect(sos!.message).toMatchObject({ kind: 'sos', to: '13800000009' });
    expect(sos!.message.bundled).toBeUndefined();
  });

  it('a refused bundle lets its members go on their own, never bundled again', () => {
    raise(1, 'waterLeak', T0);
    const [a] = store.claimDueNotifications(T0, 10);
    store.markNotificationSent(a!.id, T0 + S, 'biz-1');
    const second = raise(3, 'waterLeak', T0 + 10 * S);
    const third = raise(0, 'lowBattery', T0 + 20 * S);
    const [bundle] = store.claimDueNotifications(T0 + 61 * S, 10);
    store.markNotificationFailed(bundle!.id, T0 + 62 * S, 'isv.PARAM_LENGTH_LIMIT: too long');
    const carrierAlarm = bundle!.alarmId;
    const member = carrierAlarm === second ? third : second;
    expect(store.view(carrierAlarm)!.notifications[0]!.status).toBe('failed');
    expect(store.view(member!)!.notifications[0]!.status).toBe('pending');
    const [alone] = store.claimDueNotifications(T0 + 62 * S, 10);
    expect(alone!.alarmId).toBe(member);
    expect(alone!.message.bundled).toBeUndefined();
  });

  it('a restart during the send requeues the carrier and its members, unbundled', () => {
    raise(1, 'waterLeak', T0);
    const [a] = store.claimDueNotifications(T0, 10);
    store.markNotificationSent(a!.id, T0 + S, 'biz-1');
    raise(3, 'waterLeak', T0 + 10 * S);
    raise(0, 'lowBattery', T0 + 20 * S);
    expect(store.claimDueNotifications(T0 + 61 * S, 10)).toHaveLength(1);
    expect(store.requeueInterruptedNotifications(T0 + 70 * S)).toBe(2);
    const again = store.claimDueNotifications(T0 + 70 * S, 10);
    expect(again).toHaveLength(1);
    expect(again[0]!.message.bundled).toBe(2);
  });
});
