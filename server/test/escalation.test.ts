/**
 * Acceptance 3: escalation with a fake clock, through the real system (MQTT
 * gateway, SQLite, outbox, REST): not taken in time → the second contact is
 * texted; taken → escalation stops and the device hears `taken`.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import { FakeClock } from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { openDatabase } from '../src/db/database.js';
import { loadDeviceKey, databaseFile } from '../src/device-key.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { oneHousehold, RecordingSender, systemClient, tempDataDir, until } from './helpers.js';


const MINUTE = 60_000;
const silent = { info: () => undefined, warn: () => undefined };


describe('escalation along the contact chain (fake clock, real MQTT and SQLite)', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let sender: RecordingSender;
  let system: KanjiaSystem;
  let api: ReturnType<typeof systemClient>;
  let running: RunningSystem;
  let device: SimDevice;

  beforeEach(async () => {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', escalationTimeoutSeconds: 300, logLevel: 'silent' } });
    const db = openDatabase(databaseFile(settings));
    const creds = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(oneHousehold()).devices[0]!;
    db.close();
    clock = new FakeClock(Date.UTC(2026, 0, 15, 2, 0, 0));
    sender = new RecordingSender();
    system = new KanjiaSystem({ settings, clock, smsSender: sender, logger: createLogger('silent') });
    running = await system.start();
    api = systemClient(() => system.users, running.httpUrl, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    device = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: creds.deviceId, secret: creds.secret, logger: silent, resendIntervalMs: 60_000 });
    await device.start();
  });
  afterEach(async () => {
    await device.stop();
    await system.stop();
    tmp.cleanup();
  });

  it('texts the second contact 5 minutes after an untaken SOS, then the third 5 minutes later', async () => {
    const press = device.pressSos();
    await press.received;
    await until('first SMS', () => (sender.sent.length === 1 ? true : undefined));
    expect(sender.sent[0]).toMatchObject({ to: '13800000001', template: 'alarm' });

    clock.advance(5 * MINUTE - 1);
    await new Promise((r) => setTimeout(r, 50));
    expect(sender.sent).toHaveLength(1);

    clock.advance(1);
    await until('second SMS', () => (sender.sent.length === 2 ? true : undefined));
    expect(sender.sent[1]).toMatchObject({ to: '13800000002', template: 'escalation', kind: 'sos' });
    expect(sender.sent[1]?.params.minutes).toBe('5');
    expect(sender.sent[1]?.text).toMatch(/^【智慧看家】已5分钟无人接警！紧急呼叫：王秀英（石门村）10:00按了紧急按钮。/);

    clock.advance(5 * MINUTE);
    await until('third SMS', () => (sender.sent.length === 3 ? true : undefined));
    expect(sender.sent[2]).toMatchObject({ to: '13800000003', template: 'escalation' });
  });

  it('refuses a second system on the same data directory, naming the running one', async () => {
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
    const second = new KanjiaSystem({ settings, clock, smsSender: sender, logger: createLogger('silent') });
    await expect(second.start()).rejects.toThrowError(new RegExp(`another Kanjia \\(process ${process.pid}\\)`));
  });

  it('stops escalating when the alarm is taken, and the device hears `taken`', async () => {
    const press = device.pressSos();
    const received = await press.received;
    await until('first SMS', () => (sender.sent.length === 1 ? true : undefined));
    clock.advance(2 * MINUTE);

    const res = await api.post(`/api/alarms/${received.alarmId}/take`, {});
    expect(res.status).toBe(200);
    const taken = await press.taken;
    expect(taken).toMatchObject({ type: 'taken', eventId: press.eventId, alarmId: received.alarmId });

    clock.advance(60 * MINUTE);
    await new Promise((r) => setTimeout(r, 100));
    expect(sender.sent.map((m) => m.to)).toEqual(['13800000001']);
    const alarm = await api.get<{ status: string; nextEscalationAt: number | null; escalationLevel: number }>(`/api/alarms/${received.alarmId}`);
    expect(alarm).toMatchObject({ status: 'taken', nextEscalationAt: null, escalationLevel: 0 });
  });
});
