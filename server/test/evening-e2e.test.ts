/**
 * The inactivity detector's "way to bed" through the real server: two motion
 * sensors of one home (the 堂屋 all day, the bedroom on the way to bed at
 * 21:30) over MQTT for two weeks on a fake clock. The server must tell the two
 * sensors apart, so that quiet after the 堂屋 at 21:20 is not taken for the
 * night while quiet after the bedroom is.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import { FakeClock, fromLocalMs, type AlarmView } from '@kanjia/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem } from '../src/system.js';
import { oneHousehold, RecordingSender, systemClient, tempDataDir } from './helpers.js';

const MIN = 60_000;
const TZ = 'Asia/Shanghai';
const silent = { info: () => undefined, warn: () => undefined };
/** Local time `minute` of day `d` after Monday 5 January 2026. */
const local = (d: number, minute: number) => fromLocalMs(TZ, Date.UTC(2026, 0, 5 + d) + minute * MIN);

describe('evening silence through MQTT: the way to bed is learned per sensor', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function liveTwoWeeks(lastEvening: 'living' | 'bedroom'): Promise<AlarmView[]> {
    const tmp = tempDataDir();
    cleanups.push(tmp.cleanup);
    const clock = new FakeClock(local(0, 6 * 60));
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
    const db = openDatabase(databaseFile(settings));
    const imported = new SqliteRegistryStore(db, loadDeviceKey(settings), () => clock.nowMs()).importRegistry(
      oneHousehold([{ kind: 'sosButton' }, { kind: 'motionSensor', label: '堂屋' }, { kind: 'motionSensor', label: '卧室' }]),
    ).devices;
    db.close();
    const system = new KanjiaSystem({ settings, clock, smsSender: new RecordingSender(), logger: createLogger('silent') });
    const running = await system.start();
    const api = systemClient(() => system.users, running.httpUrl);
    cleanups.push(() => system.stop());
    const devices = await Promise.all(
      imported.map(async (c) => {
        const d = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: c.deviceId, secret: c.secret, clock, logger: silent, heartbeatIntervalMs: 0 });
        await d.start();
        cleanups.push(() => d.stop());
        return d;
      }),
    );
    const [, living, bedroom] = devices as [SimDevice, SimDevice, SimDevice];
    const pir = async (device: SimDevice, at: number) => {
      clock.set(at);
      await device.sendTelemetry({ motion: true });
      clock.set(at + MIN);
      await device.sendTelemetry({ motion: false });
    };
    for (let d = 0; d < 15; d++) {
      const lastDay = d === 14;
      const end = lastDay ? 21 * 60 + 20 : 21 * 60 + 25;
      for (let m = 6 * 60 + 30; m <= end; m += 10) await pir(living, local(d, m));
      if (!lastDay || lastEvening === 'bedroom') await pir(bedroom, local(d, end + 3));
    }
    clock.set(local(15, 6 * 60)); // the next morning, 06:00
    await new Promise((r) => setTimeout(r, 100));
    return (await api.get<{ alarms: AlarmView[] }>('api/alarms?status=all')).alarms;
  }

  it('quiet after the 堂屋 at 21:20: the inactivity alarm comes that evening, not the next morning', async () => {
    const alarms = await liveTwoWeeks('living');
    const inactivity = alarms.filter((a) => a.kind === 'inactivity');
    expect(inactivity).toHaveLength(1);
    expect(inactivity[0]!.openedAt).toBeLessThan(local(14, 23 * 60 + 30));
    expect(inactivity[0]!.history[0]?.note).toMatch(/context=day/);
  }, 60_000);

  it('quiet after the bedroom at 21:23: the night, no alarm before the morning', async () => {
    const alarms = await liveTwoWeeks('bedroom');
    expect(alarms.filter((a) => a.kind === 'inactivity')).toEqual([]);
  }, 60_000);
});
