import { afterEach, describe, expect, it } from 'vitest';
import { DeviceStatus, FakeClock, topics } from '@kanjia/protocol';
import { SimDevice, SimDeviceError, lineLogger, type SimDeviceOptions } from '@kanjia/firmware-sim';
import { Cleanup, Observer, TestBroker, sleep, waitFor } from './harness.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const DEVICE = 'btn-0001';

async function startBroker(authenticate?: ConstructorParameters<typeof TestBroker>[0]): Promise<TestBroker> {
  const broker = cleanup.add(new TestBroker(authenticate));
  await broker.start();
  return broker;
}

function makeDevice(broker: TestBroker, lines: string[], options: Partial<SimDeviceOptions> = {}): SimDevice {
  return cleanup.add(
    new SimDevice({
      brokerUrl: broker.url,
      deviceId: DEVICE,
      secret: 'secret-0001',
      resendIntervalMs: 100,
      reconnectPeriodMs: 100,
      logger: lineLogger((line) => lines.push(line)),
      ...options,
    }),
  );
}

describe('SimDevice presence', () => {
  it('connects as clientId = username = deviceId with its secret and publishes a retained online status with firmware and battery', async () => {
    const broker = await startBroker();
    const device = makeDevice(broker, [], { firmware: 'fw-1.2.3', batteryPct: 87 });
    await device.start();

    expect(broker.connects).toContainEqual({ clientId: DEVICE, username: DEVICE, password: 'secret-0001' });
    // Subscribing after the fact proves the status is retained.
    const observer = cleanup.add(new Observer());
    await observer.start(broker.url, topics.status(DEVICE));
    await waitFor('the retained status', () => observer.messages.length === 1);
    const [message] = observer.messages;
    expect(message?.retain).toBe(true);
    const status = DeviceStatus.parse(message?.json);
    expect(status).toMatchObject({ state: 'online', firmware: 'fw-1.2.3', batteryPct: 87 });
    expect(status.id).toMatch(/^btn-0001-[0-9a-z]+-[0-9a-z]+$/);
    expect(device.online).toBe(true);
  });

  it('the last will publishes a retained offline within 1 s when the connection drops abruptly, then online again after reconnecting within 1 s', async () => {
    const broker = await startBroker();
    const device = makeDevice(broker, []);
    await device.start();
    const observer = cleanup.add(new Observer());
    await observer.start(broker.url, topics.status(DEVICE));
    await waitFor('the retained online', () => observer.messages.length === 1);
    const states: string[] = [];
    device.on('offline', () => states.push('offline'));
    device.on('online', ({ reconnect }) => states.push(reconnect ? 'online again' : 'online'));

    device.dropConnection();

    await waitFor('offline from the last will', () => observer.messages.length >= 2, 1000);
    expect(observer.messages[1]?.json).toEqual({ state: 'offline' });
    await waitFor('online after the reconnect', () => observer.messages.length >= 3, 1000);
    expect(DeviceStatus.parse(observer.messages[2]?.json).state).toBe('online');
    await waitFor('the online event', () => states.length === 2, 1000);
    expect(states).toEqual(['offline', 'online again']);
  });

  it('stop() is idempotent, publishes a retained offline, clears its resend timer and rejects pending handles with STOPPED', async () => {
    const broker = await startBroker();
    broker.ackPolicy = () => 'ignore';
    const clock = new FakeClock();
    const device = makeDevice(broker, [], { clock });
    await device.start();
    const handle = device.pressSos();
    await waitFor('the first copy', () => broker.copies.length === 1);
    expect(clock.pendingTimers()).toBe(2); // the resend timer and the 4-hour heartbeat
    const observer = cleanup.add(new Observer());
    await observer.start(broker.url, topics.status(DEVICE));

    await Promise.all([device.stop(), device.stop()]);
    await device.stop();

    await expect(handle.received).rejects.toMatchObject({ code: 'STOPPED' });
    await expect(handle.taken).rejects.toMatchObject({ code: 'STOPPED' });
    expect(clock.pendingTimers()).toBe(0);
    await waitFor('offline', () => observer.messages.some((m) => (m.json as { state?: string }).state === 'offline'));
    expect(() => device.pressSos()).toThrow(SimDeviceError);
    await expect(device.start()).rejects.toMatchObject({ code: 'STOPPED' });
  });

  it('start() rejects with AUTH_REFUSED within 1 s when the broker refuses the secret, and makes no 2nd attempt in the next 500 ms', async () => {
    const broker = await startBroker((clientId, username, password) => username === clientId && password === 'right-secret');
    const lines: string[] = [];
    const device = makeDevice(broker, lines, { secret: 'wrong-secret' });

    const started = Date.now();
    const error = await device.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(1000);
    expect(error).toBeInstanceOf(SimDeviceError);
    expect(error).toMatchObject({ code: 'AUTH_REFUSED' });
    expect((error as Error).message).toContain('refused the credentials of device btn-0001');
    expect((error as Error).message).not.toContain('wrong-secret');
    await sleep(500);
    expect(broker.connects).toHaveLength(1);
  });
});

describe('SimDevice acknowledged presses', () => {
  it('resends the SOS with the same id until `received`, after 100 ms then 200 ms (base 100, no jitter): 3 copies when the server ignores the first 2, then no more for 1000 ms', async () => {
    const broker = await startBroker();
    broker.ackPolicy = (_copy, copyIndex) => (copyIndex <= 2 ? 'ignore' : 'ack');
    // The fake clock drives the resend timer, so no copy can sneak in while the `received` is on its way.
    const clock = new FakeClock();
    // random() = 0: each wait is the lower end of its window, base × 2^n / 2 = 100, 200, 400 ms.
    const device = makeDevice(broker, [], { clock, resendIntervalMs: 100, random: () => 0 });
    await device.start();
    let received = false;

    const handle = device.pressSos();
    void handle.received.then(() => (received = true));
    await waitFor('copy 1', () => broker.copies.length === 1);
    clock.advance(99);
    await sleep(50);
    expect(broker.copies).toHaveLength(1);
    clock.advance(1);
    await waitFor('copy 2', () => broker.copies.length === 2);
    clock.advance(199);
    await sleep(50);
    expect(broker.copies).toHaveLength(2);
    clock.advance(1);
    await waitFor('copy 3', () => broker.copies.length === 3);
    await waitFor('the received', () => received);
    clock.advance(1000);
    await sleep(100);

    expect(await handle.received).toMatchObject({ type: 'received', eventId: handle.eventId });
    expect(broker.copies).toHaveLength(3);
    for (const copy of broker.copies) expect(copy).toEqual({ deviceId: DEVICE, event: handle.event });
    expect(handle.event).toMatchObject({ type: 'sos', ts: clock.nowMs() - 1300 });
    expect(handle.copiesSent).toBe(3);
    expect(device.pendingEventIds).toEqual([]);
    expect(clock.pendingTimers()).toBe(1); // only the heartbeat is left
  });

  it('resends on the real clock too: 3 copies, at least 100 ms then 200 ms apart, when the server ignores the first 2', async () => {
    const broker = await startBroker();
    broker.ackPolicy = (_copy, copyIndex) => (copyIndex <= 2 ? 'ignore' : 'ack');
    const device = makeDevice(broker, []);
    await device.start();

    const pressedAt = Date.now();
    const handle = device.pressSos();
    await handle.received;

    expect(Date.now() - pressedAt).toBeGreaterThanOrEqual(290);
    expect(broker.copiesOf(handle.eventId)).toHaveLength(3);
  });

  it('resends first after 5000 ms by default (the lower end of 5–10 s), timed by the injected clock: no 2nd copy at 4999 ms, the 2nd at 5000 ms', async () => {
    const broker = await startBroker();
    broker.ackPolicy = () => 'ignore';
    const clock = new FakeClock(Date.UTC(2026, 0, 15, 2, 0, 0));
    const device = makeDevice(broker, [], { clock, resendIntervalMs: undefined, random: () => 0 });
    await device.start();

    const handle = device.pressSos();
    expect(handle.event.ts).toBe(Date.UTC(2026, 0, 15, 2, 0, 0));
    await waitFor('the 1st copy', () => broker.copies.length === 1);
    clock.advance(4999);
    await sleep(100);
    expect(broker.copies).toHaveLength(1);
    clock.advance(1);
    await waitFor('the 2nd copy', () => broker.copies.length === 2);
    expect(broker.copiesOf(handle.eventId)).toHaveLength(2);
  });

  it('buffers an SOS and a check-in pressed while the broker is down and delivers both, in press order, once the broker is back on the same port', async () => {
    const broker = await startBroker();
    const device = makeDevice(broker, []);
    await device.start();
    const port = broker.port;
    const wentOffline = new Promise<void>((resolve) => device.on('offline', () => resolve()));

    await broker.stop();
    await wentOffline;
    const sos = device.pressSos();
    const checkIn = device.pressCheckIn();
    await sleep(300); // 3 resend intervals with no broker
    expect(device.pendingEventIds).toEqual([sos.eventId, checkIn.eventId]);
    expect(sos.copiesSent).toBe(0);

    await broker.start();
    expect(broker.port).toBe(port);
    await Promise.all([sos.received, checkIn.received]);

    const firstArrivals = [...new Set(broker.copies.map((copy) => copy.event.id))];
    expect(firstArrivals).toEqual([sos.eventId, checkIn.eventId]);
    expect(broker.copiesOf(sos.eventId)[0]?.event).toEqual(sos.event);
    expect(device.pendingEventIds).toEqual([]);
  });

  it('resolves `received` then `taken` on the handle, emits both events and logs the 2 beeps a person would hear', async () => {
    const broker = await startBroker();
    broker.sendTaken = true;
    const lines: string[] = [];
    const device = makeDevice(broker, lines);
    await device.start();
    const seen: string[] = [];
    device.on('received', ({ command, first }) => seen.push(`received ${command.eventId} first=${String(first)}`));
    device.on('taken', ({ command }) => seen.push(`taken ${command.eventId}`));

    const handle = device.pressSos();
    const [received, taken] = await Promise.all([handle.received, handle.taken]);

    expect(received).toMatchObject({ type: 'received', eventId: handle.eventId });
    expect(taken).toMatchObject({ type: 'taken', eventId: handle.eventId });
    expect(seen).toEqual([`received ${handle.eventId} first=true`, `taken ${handle.eventId}`]);
    expect(lines).toContain(`[btn-0001] 嘀 — 已收到求助 (received sos ${handle.eventId})`);
    expect(lines).toContain(`[btn-0001] 嘀嘀 — 有人接警了 (taken ${handle.eventId})`);
  });

  it('a 2nd `received` for the same event beeps no 2nd time and is reported with first = false', async () => {
    const broker = await startBroker();
    const lines: string[] = [];
    const device = makeDevice(broker, lines);
    await device.start();
    const firsts: boolean[] = [];
    device.on('received', ({ first }) => firsts.push(first));

    const handle = device.pressSos();
    await handle.received;
    await broker.sendCommand(DEVICE, { id: 'srv-again', ts: Date.now(), type: 'received', eventId: handle.eventId });
    await waitFor('the 2nd received', () => firsts.length === 2);

    expect(firsts).toEqual([true, false]);
    expect(lines.filter((line) => line.includes('已收到求助'))).toHaveLength(1);
  });

  it('acks every copy of a command with an `ack` event naming its id, and beeps once per command id: a resent `onTheWay` is acked again but silent', async () => {
    const broker = await startBroker();
    const lines: string[] = [];
    const device = makeDevice(broker, lines);
    await device.start();
    const commands: string[] = [];
    device.on('command', (c) => commands.push(c.id));
    const handle = device.pressSos();
    const received = await handle.received;
    const onTheWay = { id: 'cmd-way-1', ts: Date.now(), type: 'onTheWay', eventId: handle.eventId } as const;
    await broker.sendCommand(DEVICE, onTheWay);
    await broker.sendCommand(DEVICE, onTheWay);
    await waitFor('3 acks', () => broker.acks.length === 3);
    expect(broker.acks.map((a) => (a.event.type === 'ack' ? a.event.commandId : null))).toEqual([received.id, 'cmd-way-1', 'cmd-way-1']);
    // Each ack is an event of its own (a fresh id), and none is answered with `received`.
    expect(new Set(broker.acks.map((a) => a.event.id)).size).toBe(3);
    expect(broker.copies.map((c) => c.event.type)).toEqual(['sos']);
    expect(commands).toEqual([received.id, 'cmd-way-1']);
    expect(lines.filter((line) => line.includes('救助人员正在路上'))).toHaveLength(1);
  });

  it('check-in and cancel use the same mechanism; cancel refers to the latest SOS by default', async () => {
    const broker = await startBroker();
    const device = makeDevice(broker, []);
    await device.start();

    const sos = device.pressSos();
    const checkIn = device.pressCheckIn();
    const cancel = device.pressCancel();
    await Promise.all([sos.received, checkIn.received, cancel.received]);

    expect(checkIn.event.type).toBe('checkIn');
    expect(cancel.event).toMatchObject({ type: 'cancel', refId: sos.eventId });
    expect(new Set([sos.eventId, checkIn.eventId, cancel.eventId]).size).toBe(3);
  });

  it('ignores a non-JSON command and a command failing the schema, logs each, and still handles the next valid `received`', async () => {
    const broker = await startBroker();
    broker.ackPolicy = () => 'ignore';
    const lines: string[] = [];
    const device = makeDevice(broker, lines);
    await device.start();
    const invalid: string[] = [];
    device.on('invalidCommand', ({ reason }) => invalid.push(reason));
    const handle = device.pressSos();

    await broker.publishRaw(DEVICE, '{not json');
    await broker.publishRaw(DEVICE, JSON.stringify({ id: 'srv-x', ts: 1, type: 'received' }));
    await broker.publishRaw(DEVICE, JSON.stringify({ id: 'srv-y', ts: 1, type: 'selfDestruct' }));
    await waitFor('3 invalid commands', () => invalid.length === 3);
    expect(device.pendingEventIds).toEqual([handle.eventId]);
    await broker.sendCommand(DEVICE, { id: 'srv-z', ts: Date.now(), type: 'received', eventId: handle.eventId });

    await expect(handle.received).resolves.toMatchObject({ id: 'srv-z' });
    expect(invalid[0]).toMatch(/^not JSON/);
    expect(invalid[1]).toMatch(/eventId/);
    expect(lines.filter((line) => line.includes('ignored a message on its commands topic'))).toHaveLength(3);
  });

  it('a listener that throws is logged and does not stop the other listeners', async () => {
    const broker = await startBroker();
    const lines: string[] = [];
    const device = makeDevice(broker, lines);
    device.on('received', () => {
      throw new Error('boom');
    });
    const after: string[] = [];
    device.on('received', ({ command }) => after.push(command.eventId));
    await device.start();

    const handle = device.pressSos();
    await handle.received;

    await waitFor('the 2nd listener', () => after.length === 1);
    expect(lines.some((line) => line.includes('a listener of "received" threw: boom'))).toBe(true);
  });
});

describe('SimDevice unacknowledged messages', () => {
  it('sendTelemetry publishes validated readings with QoS 1 and rejects a reading out of range (CO 200000 ppm) with INVALID_PAYLOAD', async () => {
    const broker = await startBroker();
    const device = makeDevice(broker, []);
    await device.start();
    const observer = cleanup.add(new Observer());
    await observer.start(broker.url, topics.telemetry(DEVICE));

    const sent = await device.sendTelemetry({ coPpm: 35, temperatureC: 12.5 });
    await waitFor('the telemetry', () => observer.messages.length === 1);

    expect(observer.messages[0]?.json).toEqual(sent);
    expect(sent.readings).toEqual({ coPpm: 35, temperatureC: 12.5 });
    await expect(device.sendTelemetry({ coPpm: 200_000 })).rejects.toMatchObject({ code: 'INVALID_PAYLOAD' });
  });

  it('sendEvent publishes a door event once, without waiting for an acknowledgement', async () => {
    const broker = await startBroker();
    broker.ackPolicy = () => 'ignore';
    const device = makeDevice(broker, []);
    await device.start();

    const event = await device.sendEvent({ type: 'door', open: true });
    await waitFor('the door event', () => broker.copies.length === 1);
    await sleep(300);

    expect(broker.copies).toEqual([{ deviceId: DEVICE, event }]);
    expect(device.pendingEventIds).toEqual([]);
  });

  it('refuses to send before start() with NOT_STARTED', () => {
    const device = new SimDevice({ brokerUrl: 'mqtt://127.0.0.1:1', deviceId: DEVICE, secret: 's' });
    expect(() => device.pressSos()).toThrow(expect.objectContaining({ code: 'NOT_STARTED' }) as Error);
  });

  it('rejects a device id with a slash, a broker URL without mqtt:// and a resend interval of 0 ms with INVALID_OPTIONS listing all 3', () => {
    const build = () => new SimDevice({ brokerUrl: '127.0.0.1:1883', deviceId: 'a/b', secret: 's', resendIntervalMs: 0 });
    expect(build).toThrow(expect.objectContaining({ code: 'INVALID_OPTIONS' }) as Error);
    expect(build).toThrow(/deviceId "a\/b".*brokerUrl "127\.0\.0\.1:1883".*resendIntervalMs: must be a positive number, got 0/);
  });
});
