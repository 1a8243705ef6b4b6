/**
 * Commands acknowledged by the device, through the real system (the embedded
 * aedes gateway on a free port, SQLite on disk, a fake clock): `received` and
 * `taken` are resent until the device's `ack` names them, at once when the
 * device reconnects, a bounded number of times to a device that never acks,
 * and survive a restart of the server.
 */
import { DeviceCommand, FakeClock, topics, type DeviceCredentials } from '@kanjia/protocol';
import { connectAsync, type MqttClient } from 'mqtt';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMMAND_TTL_MS, resendDelayMs } from '../src/alarms/device-commands.js';
import { loadSettings, type Settings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { oneHousehold, RecordingSender, tempDataDir, until } from './helpers.js';

/** A device written for the test: it acks only what `ack` says, and can drop its connection. */
class ScriptedDevice {
  readonly got: DeviceCommand[] = [];
  acksSent = 0;
  private client: MqttClient | undefined;
  private seq = 0;

  constructor(
    private readonly url: string,
    private readonly creds: DeviceCredentials,
    private readonly clock: FakeClock,
    public ack: (command: DeviceCommand) => boolean,
  ) {}

  /** Connects, subscribes to its commands, then says `online` (the order of docs/protocol.md). */
  async connect(): Promise<void> {
    const { deviceId, secret } = this.creds;
    const client = await connectAsync(this.url, { clientId: deviceId, username: deviceId, password: secret, reconnectPeriod: 0, keepalive: 30, protocolVersion: 4 });
    client.on('error', () => undefined);
    client.on('message', (_topic, payload) => {
      const command = DeviceCommand.parse(JSON.parse(payload.toString('utf8')));
      this.got.push(command);
      if (this.ack(command)) {
        this.acksSent += 1;
        client.publish(topics.events(deviceId), JSON.stringify({ id: this.nextId(), ts: this.clock.nowMs(), type: 'ack', commandId: command.id }), { qos: 1 });
      }
    });
    await client.subscribeAsync(topics.commands(deviceId), { qos: 1 });
    await client.publishAsync(topics.status(deviceId), JSON.stringify({ id: this.nextId(), ts: this.clock.nowMs(), state: 'online' }), { qos: 1, retain: true });
    this.client = client;
  }

  async press(eventId: string): Promise<void> {
    await this.client!.publishAsync(topics.events(this.creds.deviceId), JSON.stringify({ id: eventId, ts: this.clock.nowMs(), type: 'sos' }), { qos: 1 });
  }

  /** The network goes: no DISCONNECT, the broker sees the socket die. */
  async drop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    client?.stream.destroy();
    await client?.endAsync(true);
  }

  copies(type: DeviceCommand['type']): DeviceCommand[] {
    return this.got.filter((c) => c.type === type);
  }

  private nextId(): string {
    this.seq += 1;
    return `${this.creds.deviceId}-t-${this.seq}`;
  }
}

describe('device commands acknowledged by the device', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let settings: Settings;
  let clock: FakeClock;
  let system: KanjiaSystem;
  let running: RunningSystem;
  let creds: DeviceCredentials;
  let logs: string;
  const devices: ScriptedDevice[] = [];

  const start = async () => {
    system = new KanjiaSystem({ settings, clock, smsSender: new RecordingSender(), logger: createLogger('debug', new Writable({ write: (chunk: Buffer, _e, done) => ((logs += chunk.toString()), done()) })) });
    running = await system.start();
  };
  const device = (ack: (c: DeviceCommand) => boolean) => {
    const d = new ScriptedDevice(running.mqttUrl, creds, clock, ack);
    devices.push(d);
    return d;
  };
  const endReason = (id: string) => system.alarmStore!.commands.endReason(id);

  beforeEach(async () => {
    tmp = tempDataDir();
    logs = '';
    settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
    const db = openDatabase(databaseFile(settings));
    [creds] = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(oneHousehold()).devices as [DeviceCredentials];
    db.close();
    clock = new FakeClock(Date.UTC(2026, 0, 15, 2, 0, 0));
    await start();
  });
  afterEach(async () => {
    await Promise.all(devices.splice(0).map((d) => d.drop()));
    await system.stop();
    tmp.cleanup();
  });

  it('resends `received` 2 s later to a device that got it but did not act on it, then stops once the device acks it', async () => {
    let acking = false;
    const d = device(() => acking);
    await d.connect();
    await d.press('sos-1');
    const first = await until('received', () => d.copies('received')[0]);
    expect(first).toMatchObject({ type: 'received', eventId: 'sos-1' });
    clock.advance(resendDelayMs(1));
    const second = await until('the second copy', () => d.copies('received')[1]);
    // The same command again, by id: a device beeps once per id.
    expect(second.id).toBe(first.id);
    acking = true;
    clock.advance(resendDelayMs(2));
    await until('the third copy, acknowledged', () => d.acksSent === 1 && endReason(first.id) === 'acked');
    clock.advance(3600_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(d.copies('received')).toHaveLength(3);
  });

  it('sends `taken` again the moment the device comes back after dropping before it acted on it', async () => {
    let actOnTaken = false;
    const d = device((c) => c.type !== 'taken' || actOnTaken);
    await d.connect();
    await d.press('sos-1');
    await until('received acked', () => d.acksSent === 1);
    const alarmId = system.alarmStore!.alarmIdFor(creds.deviceId, 'sos-1')!;
    system.alarmService!.act(alarmId, 'take', '值班员 李明');
    const taken = await until('taken', () => d.copies('taken')[0]);
    // The button lost its connection before it beeped: no ack.
    await d.drop();
    // Presence reaches the registry debounced (at most one change per 5 s of the clock).
    clock.advance(6_000);
    await until('the device offline', () => !system.registry!.device(creds.deviceId)?.online);
    actOnTaken = true;
    await d.connect();
    // No clock advance: the reconnect itself brings it.
    await until('taken again on reconnect', () => d.copies('taken').length === 2);
    expect(d.copies('taken')[1]!.id).toBe(taken.id);
    await until('taken acknowledged', () => endReason(taken.id) === 'acked');
  });

  it('gives a device that never acks each command a bounded number of times (16 copies of `taken` in its day), then lets it expire with a warning', async () => {
    const d = device(() => false);
    await d.connect();
    await d.press('sos-1');
    await until('received', () => d.copies('received').length === 1);
    const alarmId = system.alarmStore!.alarmIdFor(creds.deviceId, 'sos-1')!;
    system.alarmService!.act(alarmId, 'take', '值班员 李明');
    const taken = await until('taken', () => d.copies('taken')[0]);
    const startedAt = clock.nowMs();
    for (let copy = 1; clock.nowMs() - startedAt + resendDelayMs(copy) < COMMAND_TTL_MS.taken; copy++) {
      clock.advance(resendDelayMs(copy));
      await until(`copy ${copy + 1} of taken`, () => d.copies('taken').length === copy + 1);
    }
    expect(d.copies('taken')).toHaveLength(16);
    expect(new Set(d.copies('taken').map((c) => c.id))).toEqual(new Set([taken.id]));
    clock.advance(COMMAND_TTL_MS.taken);
    await until('taken expired', () => endReason(taken.id) === 'expired');
    expect(logs).toContain('device command expired without an acknowledgement');
    await new Promise((r) => setTimeout(r, 200));
    expect(d.copies('taken')).toHaveLength(16);
  });

  it('answers a repeated SOS with the open `received` (the same id), and never answers an ack', async () => {
    const d = device(() => false);
    await d.connect();
    await d.press('sos-1');
    const first = await until('received', () => d.copies('received')[0]);
    await d.press('sos-1');
    await until('received again', () => d.copies('received').length === 2);
    expect(d.copies('received')[1]!.id).toBe(first.id);
    d.ack = () => true;
    await d.press('sos-1');
    await until('acked', () => endReason(first.id) === 'acked');
    await new Promise((r) => setTimeout(r, 200));
    // Three presses, three answers: nothing for the ack itself.
    expect(d.copies('received')).toHaveLength(3);
    expect(d.got.every((c) => c.type !== 'received' || c.eventId === 'sos-1')).toBe(true);
  });

  it('keeps one `received` per case: a second press joining the case ends the first press\'s (superseded), and the first press sent again is still answered', async () => {
    const d = device(() => false);
    await d.connect();
    await d.press('sos-1');
    const first = await until('received 1', () => d.copies('received').find((c) => c.type === 'received' && c.eventId === 'sos-1'));
    await d.press('sos-2');
    const second = await until('received 2', () => d.copies('received').find((c) => c.type === 'received' && c.eventId === 'sos-2'));
    await until('the first ended', () => endReason(first.id) === 'superseded');
    expect(endReason(second.id)).toBeNull(); // still open
    // Resends go for the newest only.
    const before = d.copies('received').length;
    clock.advance(resendDelayMs(1));
    await until('a resend', () => d.copies('received').length > before);
    expect(d.copies('received').slice(before).every((c) => c.type === 'received' && c.eventId === 'sos-2')).toBe(true);
    // The device, not having heard sos-1, sends it again: answered at once.
    await d.press('sos-1');
    await until('sos-1 answered again', () => d.copies('received').filter((c) => c.type === 'received' && c.eventId === 'sos-1').length === 2);
  });

  it('keeps an unacknowledged `received` through a restart of the server and sends it when the device comes online again', async () => {
    const d = device(() => false);
    await d.connect();
    await d.press('sos-1');
    const first = await until('received', () => d.copies('received')[0]);
    await d.drop();
    await system.stop();
    await start();
    d.ack = () => true;
    const again = new ScriptedDevice(running.mqttUrl, creds, clock, () => true);
    devices.push(again);
    await again.connect();
    await until('the received of before the restart', () => again.copies('received')[0]);
    expect(again.copies('received')[0]!.id).toBe(first.id);
    await until('acked', () => endReason(first.id) === 'acked');
  });

  it('ends an older unacknowledged `taken` when the device acks the case\'s `resolved`: no "someone has taken it" after "it is over"', async () => {
    const d = device((c) => c.type !== 'taken');
    await d.connect();
    await d.press('sos-1');
    await until('received', () => d.acksSent === 1);
    const alarmId = system.alarmStore!.alarmIdFor(creds.deviceId, 'sos-1')!;
    system.alarmService!.act(alarmId, 'take', '值班员 李明');
    const taken = await until('taken', () => d.copies('taken')[0]);
    system.alarmService!.act(alarmId, 'resolve', '值班员 李明', '误按');
    await until('resolved acked', () => d.acksSent === 2);
    await until('taken superseded', () => endReason(taken.id) === 'superseded');
    clock.advance(3600_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(d.copies('taken')).toHaveLength(1);
  });
});
