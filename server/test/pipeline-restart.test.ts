import type { SmsMessage, SmsResult, SmsSender } from '@kanjia/alerts';
import { SimDevice } from '@kanjia/firmware-sim';
import { FakeClock } from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem } from '../src/system.js';
import { oneHousehold, tempDataDir } from './helpers.js';

class NullSender implements SmsSender {
  readonly name = 'null';
  async send(_m: SmsMessage): Promise<SmsResult> {
    return { ok: true, providerRef: null };
  }
}

describe('what the detectors learned survives a restart', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let settings: Settings;
  let creds: Record<string, { deviceId: string; secret: string }>;

  beforeEach(() => {
    tmp = tempDataDir();
    settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
    const db = openDatabase(databaseFile(settings));
    const devices = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(oneHousehold([{ kind: 'sosButton' }, { kind: 'checkInButton' }, { kind: 'motionSensor' }])).devices;
    db.close();
    creds = Object.fromEntries(devices.map((d) => [d.kind, d]));
  });
  afterEach(() => tmp.cleanup());

  it('saves the routine, the check-in state and when each device was last seen, and starts again from them', async () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 15, 0, 0, 0)); // 08:00 village time
    const system = new KanjiaSystem({ settings, clock, smsSender: new NullSender(), logger: createLogger('silent') });
    const running = await system.start();
    const button = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: creds.checkInButton!.deviceId, secret: creds.checkInButton!.secret, clock, logger: { info: () => undefined, warn: () => undefined } });
    await button.start();
    await button.pressCheckIn().received;
    await button.stop();
    await system.stop();

    const db = openDatabase(databaseFile(settings));
    const states = db.prepare('SELECT detector FROM detector_state ORDER BY detector').all() as Array<{ detector: string }>;
    const seen = db.prepare('SELECT last_seen_at FROM devices WHERE id = ?').get(creds.checkInButton!.deviceId) as { last_seen_at: number | null };
    const checkIn = JSON.parse((db.prepare("SELECT state_json FROM detector_state WHERE detector = 'checkIn'").get() as { state_json: string }).state_json) as { lastCheckInMs?: number };
    db.close();
    expect(states.map((s) => s.detector)).toEqual(['checkIn', 'inactivity']);
    expect(seen.last_seen_at).toBe(clock.nowMs());
    expect(checkIn.lastCheckInMs).toBe(clock.nowMs());

    const again = new KanjiaSystem({ settings, clock, smsSender: new NullSender(), logger: createLogger('silent') });
    await again.start();
    await again.stop();
  });
});
