/**
 * A stuck button through the real system (MQTT gateway, SQLite, REST,
 * socket.io): every press is heard (`received`), the case counts them, and the
 * live feed sends the case whole only when something other than the count
 * changed, the count itself in small `alarm:repeats` at most once a second.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import { FakeClock, SOCKET_EVENTS, type AlarmRepeatsEvent, type AlarmView } from '@kanjia/protocol';
import type { Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { REPEATS_EVERY_MS } from '../src/http/live-feed.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { oneHousehold, RecordingSender, systemClient, tempDataDir, until, connectedFeed } from './helpers.js';

const silent = { info: () => undefined, warn: () => undefined };
/** Under the gateway's burst of 50 uplinks (the device's own `online` status is one): the fake clock refills nothing. */
const PRESSES = 40;

describe('stuck button: the live feed', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let system: KanjiaSystem;
  let running: RunningSystem;
  let device: SimDevice;
  let socket: Socket | undefined;

  beforeEach(async () => {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
    const db = openDatabase(databaseFile(settings));
    const [creds] = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(oneHousehold()).devices;
    db.close();
    clock = new FakeClock(Date.UTC(2026, 0, 15, 2, 0, 0));
    system = new KanjiaSystem({ settings, clock, smsSender: new RecordingSender(), logger: createLogger('silent') });
    running = await system.start();
    device = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: creds!.deviceId, secret: creds!.secret, logger: silent, resendIntervalMs: 60_000 });
    await device.start();
  });
  afterEach(async () => {
    socket?.close();
    await device.stop();
    await system.stop();
    tmp.cleanup();
  });

  it(`${PRESSES} presses: each heard, one case counted ${PRESSES}, the case sent whole a few times and the count in at most one alarm:repeats a second`, async () => {
    const admin = systemClient(() => system.users, running.httpUrl);
    const s = await connectedFeed(running.httpUrl, await admin.cookie());
    socket = s;
    const events: Array<{ whole: AlarmView } | { repeats: AlarmRepeatsEvent }> = [];
    s.on(SOCKET_EVENTS.alarmUpdate, (a: AlarmView) => events.push({ whole: a }));
    s.on(SOCKET_EVENTS.alarmRepeats, (r: AlarmRepeatsEvent) => events.push({ repeats: r }));

    const presses = Array.from({ length: PRESSES }, () => device.pressSos());
    const acks = await Promise.all(presses.map((p) => p.received));
    const alarmId = acks[0]!.alarmId!;
    expect(new Set(acks.map((a) => a.alarmId))).toEqual(new Set([alarmId]));

    const view = await admin.get<AlarmView>(`/api/alarms/${alarmId}`);
    expect(view.repeats).toMatchObject({ count: PRESSES });
    expect(view.history.map((h) => h.action)).toEqual(['opened', 'duplicate']);
    expect(view.notifications).toHaveLength(1);

    // The window closes: the last count goes out, once.
    await until('the first alarm:repeats', () => events.some((e) => 'repeats' in e));
    clock.advance(REPEATS_EVERY_MS);
    const countOf = (e: (typeof events)[number]) => ('whole' in e ? e.whole.repeats?.count : e.repeats.repeats.count);
    await until(`the count ${PRESSES} on the socket`, () => events.length > 0 && countOf(events.at(-1)!) === PRESSES);
    const wholes = events.filter((e) => 'whole' in e);
    const counts = events.filter((e) => 'repeats' in e);
    // Whole: opened, repeats started (a history line), the SMS's own changes; counts: the first at once, the rest folded
    // into one more when the window closes (none more when the presses were committed together and the first said it all).
    expect(wholes.length).toBeLessThanOrEqual(5);
    expect(counts.length).toBeGreaterThanOrEqual(1);
    expect(counts.length).toBeLessThanOrEqual(2);

    // Anything else goes whole, with the count.
    expect((await admin.post(`/api/alarms/${alarmId}/take`, {})).status).toBe(200);
    const taken = await until('taken on the socket', () => events.map((e) => ('whole' in e ? e.whole : undefined)).find((a) => a?.status === 'taken'));
    expect(taken.repeats?.count).toBe(PRESSES);
  });
});
