/**
 * A device whose connection keeps dropping: the people who watch see
 * "unstable" and a change at most every 5 s, not a flicker; what is stored
 * (the registry's presence, device health's offline finding) still ends right.
 */
import { DeviceHealthMonitor, type DetectorOutput } from '@kanjia/detection';
import { DEFAULT_PRESENCE_DEBOUNCE, PresenceDebouncer } from '@kanjia/gateway';
import { SimDevice } from '@kanjia/firmware-sim';
import { FakeClock, SOCKET_EVENTS, type DeviceHealthList, type DevicePresenceEvent, type MapHouseholdsResponse } from '@kanjia/protocol';
import type { Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { householdState } from '../src/map/household-state.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { oneHousehold, RecordingSender, systemClient, tempDataDir, until, connectedFeed } from './helpers.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 15, 2, 0, 0); // 10:00 in the village: findings are not held for the morning

describe('presence flapping and device health', () => {
  function setup() {
    const clock = new FakeClock(T0);
    const out: DetectorOutput[] = [];
    const health = new DeviceHealthMonitor({ clock, emit: (o) => out.push(o) });
    health.register({ deviceId: 'btn-1', kind: 'sosButton', subjectId: 'res-1', timeZone: 'Asia/Shanghai', installedAtMs: T0 - 86_400_000, isOnlyEmergencyButton: true, lastSeenMs: T0 });
    health.start();
    // As the server wires it: health hears only changes of state, debounced.
    const debouncer = new PresenceDebouncer(clock, (p) => {
      if (p.stateChanged) health.presence(p.deviceId, p.online, p.atMs);
    });
    const flap = (times: number, endOnline: boolean) => {
      for (let i = 0; i < times; i++) {
        debouncer.change({ deviceId: 'btn-1', online: true, atMs: clock.nowMs() });
        clock.advance(80);
        debouncer.change({ deviceId: 'btn-1', online: false, atMs: clock.nowMs() });
        clock.advance(80);
      }
      if (endOnline) debouncer.change({ deviceId: 'btn-1', online: true, atMs: clock.nowMs() });
    };
    const offlineFindings = () => out.filter((o) => o.type === 'alarm' && o.finding.kind === 'deviceOffline');
    return { clock, health, flap, offlineFindings };
  }

  it('raises no offline alarm for a button that flapped 50 times in 8 s and stayed connected', () => {
    const { clock, health, flap, offlineFindings } = setup();
    flap(50, true);
    clock.advance(60 * MIN);
    expect(offlineFindings()).toEqual([]);
    expect(health.problemOf('btn-1')).toBeNull();
  });

  it('raises the offline alarm 10 min after the last drop of a button that flapped and stayed away, once', () => {
    const { clock, flap, offlineFindings } = setup();
    flap(50, false);
    const lastDropAt = clock.nowMs() - 80;
    clock.advance(DEFAULT_PRESENCE_DEBOUNCE.holdMs);
    clock.advance(lastDropAt + 10 * MIN - clock.nowMs() - 1);
    expect(offlineFindings()).toEqual([]);
    clock.advance(1);
    expect(offlineFindings()).toHaveLength(1);
    clock.advance(60 * MIN);
    expect(offlineFindings()).toHaveLength(1);
  });
});

describe('the map of a household with an unstable device', () => {
  it('says unstable, after a device truly offline and before one never seen or a low battery', () => {
    const residents = [{ away: false, watch: { reminder: null, learning: false } }];
    expect(householdState({ activeAlarmKinds: [], residents, deviceProblems: ['unstable', 'lowBattery', null] })).toEqual({ state: 'device', detail: 'unstable' });
    expect(householdState({ activeAlarmKinds: [], residents, deviceProblems: ['unstable', 'neverSeen'] })).toEqual({ state: 'device', detail: 'unstable' });
    expect(householdState({ activeAlarmKinds: [], residents, deviceProblems: ['unstable', 'offline'] })).toEqual({ state: 'device', detail: 'offline' });
    expect(householdState({ activeAlarmKinds: ['sos'], residents, deviceProblems: ['unstable'] })).toEqual({ state: 'alarm', detail: null });
  });
});

describe('presence flapping through the real system', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let system: KanjiaSystem;
  let running: RunningSystem;
  let creds: { deviceId: string; secret: string };
  let socket: Socket | undefined;

  beforeEach(async () => {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
    const db = openDatabase(databaseFile(settings));
    creds = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(oneHousehold()).devices[0]!;
    db.close();
    clock = new FakeClock(T0);
    system = new KanjiaSystem({ settings, clock, smsSender: new RecordingSender(), logger: createLogger('silent') });
    running = await system.start();
  });
  afterEach(async () => {
    socket?.close();
    await system.stop();
    tmp.cleanup();
  });

  /** One connection of the button: it says it is online, then goes (a simulated device started and stopped). */
  const connectAndDrop = async () => {
    const device = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: creds.deviceId, secret: creds.secret, logger: { info: () => undefined, warn: () => undefined } });
    await device.start();
    await device.stop();
  };

  it('20 drops in a row: the dashboard hears 2 presence changes, the second "unstable"; the registry, the device list and the map say unstable and end offline', async () => {
    const admin = systemClient(() => system.users, running.httpUrl);
    const s = await connectedFeed(running.httpUrl, await admin.cookie());
    socket = s;
    const heard: DevicePresenceEvent[] = [];
    s.on(SOCKET_EVENTS.devicePresence, (p: DevicePresenceEvent) => heard.push(p));

    for (let i = 0; i < 20; i++) await connectAndDrop();
    await until('the first change on the socket', () => heard.length >= 1);
    // The fake clock stands still: nothing more passes until the hold is over.
    await new Promise((r) => setTimeout(r, 300));
    expect(heard).toHaveLength(1);
    expect(heard[0]).toMatchObject({ deviceId: creds.deviceId, online: true, unstable: false });
    clock.advance(DEFAULT_PRESENCE_DEBOUNCE.holdMs);
    await until('the held change on the socket', () => heard.length >= 2);
    expect(heard[1]).toMatchObject({ deviceId: creds.deviceId, online: false, unstable: true });

    const { devices } = await admin.get<DeviceHealthList>('/api/devices?problem=any');
    expect(devices.find((d) => d.id === creds.deviceId)).toMatchObject({ online: false, problems: ['unstable'] });
    const { households } = await admin.get<MapHouseholdsResponse>('/api/map/households');
    expect(households[0]).toMatchObject({ state: 'device', detail: 'unstable' });

    // Quiet for 5 min: stable again, and plainly offline.
    clock.advance(DEFAULT_PRESENCE_DEBOUNCE.stableAfterMs);
    await until('stable on the socket', () => heard.length >= 3);
    expect(heard[2]).toMatchObject({ online: false, unstable: false });
    expect(heard).toHaveLength(3);
    const after = await admin.get<DeviceHealthList>('/api/devices?problem=any');
    expect(after.devices.find((d) => d.id === creds.deviceId)?.problems).toEqual(['offline']);
  });
});
