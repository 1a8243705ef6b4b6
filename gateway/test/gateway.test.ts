import { createConnection } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '@kanjia/protocol';
import type { DeviceCommand } from '@kanjia/protocol';
import { DEAD_LETTER_TOPIC, Gateway, GatewayError } from '../src/index.js';
import { HashTableAuthenticator, Harness, SECRETS, closed, collect, settle, sos, subscribeGranted, waitFor } from './helpers.js';

const h = new Harness();
afterEach(() => h.close());

const TS = Date.UTC(2026, 0, 15, 2, 0, 0);
const telemetry = (id: string) => JSON.stringify({ id, ts: TS, readings: { motion: true } });
const online = JSON.stringify({ state: 'online', firmware: '1.4.2', batteryPct: 91 });
const refusalCode = (p: Promise<unknown>) => p.then(() => 'connected', (err: { code?: number }) => err.code);

describe('authentication', () => {
  it('refuses a wrong secret with CONNACK 4, counts 1 failure and logs the device id but never the secret', async () => {
    const { gateway, port, logger } = await h.gateway();
    const wrong = 'not-the-right-secret-123';
    expect(await refusalCode(h.device(port, 'dev-001', { secret: wrong }))).toBe(4);
    expect(gateway.stats().authFailures).toBe(1);
    const refused = logger.lines.find((l) => l.msg === 'connection refused');
    expect(refused?.obj).toMatchObject({ deviceId: 'dev-001', returnCode: 4 });
    expect(JSON.stringify(logger.lines)).not.toContain(wrong);
  });

  it('refuses an unknown device with CONNACK 4 and admits a registered one', async () => {
    const { gateway, port } = await h.gateway();
    expect(await refusalCode(h.device(port, 'dev-999', { secret: SECRETS['dev-001'] }))).toBe(4);
    expect(await refusalCode(h.device(port, 'dev-001'))).toBe('connected');
    expect(gateway.stats()).toMatchObject({ authFailures: 1, connections: 1, connected: 1 });
  });

  it('refuses a client id other than the device id with CONNACK 2, so no device can take over another session', async () => {
    const { port } = await h.gateway();
    expect(await refusalCode(h.device(port, 'dev-001', { clientId: 'dev-002' }))).toBe(2);
  });

  it('admits a maintenance connection `{deviceId}:{suffix}` beside the device without touching its presence', async () => {
    const { gateway, port, uplinks, presence } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    await device.publishAsync(topics.status('dev-001'), JSON.stringify({ state: 'online' }), { qos: 1, retain: true });
    const tool = await h.device(port, 'dev-001', { clientId: 'dev-001:installer' });
    await tool.publishAsync(topics.events('dev-001'), JSON.stringify({ id: 'm1', ts: 1, type: 'checkIn' }), { qos: 1 });
    await tool.endAsync();
    await new Promise((r) => setTimeout(r, 50));
    expect(uplinks.map((u) => u.channel)).toEqual(['status', 'events']);
    expect(gateway.isOnline('dev-001')).toBe(true);
    expect(presence.map((p) => p.online)).toEqual([true]);
    expect(await refusalCode(h.device(port, 'dev-001', { clientId: 'dev-001x' }))).toBe(2);
    expect(await refusalCode(h.device(port, 'dev-001', { clientId: 'dev-001:' }))).toBe(2);
  });

  it('answers CONNACK 3 (server unavailable) when the authenticator throws, so the device retries', async () => {
    const { port } = await h.gateway({
      authenticator: {
        verify: () => Promise.reject(new Error('database locked')),
      },
    });
    expect(await refusalCode(h.device(port, 'dev-001'))).toBe(3);
  });

  it('refuses a service account with a wrong secret with CONNACK 4', async () => {
    const { port } = await h.gateway();
    const { connectAsync } = await import('mqtt');
    const attempt = connectAsync({ host: '127.0.0.1', port, clientId: 'svc:server', username: 'svc:server', password: 'wrong', reconnectPeriod: 0 });
    expect(await refusalCode(attempt)).toBe(4);
  });

  it('refuses to start with every bad option listed: a service account named like a device, no key, a 10-byte packet limit', async () => {
    const gateway = new Gateway({
      port: 0,
      authenticator: new HashTableAuthenticator(),
      serviceAccounts: [{ username: 'server', secretHash: 'abc' }],
      maxPacketBytes: 10,
    });
    const err = await gateway.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('GATEWAY_CONFIG');
    for (const word of ['hashKey', 'serviceAccounts[0].username', 'serviceAccounts[0].secretHash', 'maxPacketBytes']) {
      expect((err as Error).message).toContain(word);
    }
    await gateway.stop();
  });
});

describe('topic ACLs', () => {
  it("closes a device that publishes to another device's topic, counts 1 denial and delivers nothing", async () => {
    const { gateway, port, uplinks, logger } = await h.gateway();
    const server = await h.service(port);
    const seen = collect(server);
    await server.subscribeAsync('kanjia/v1/devices/+/events', { qos: 1 });
    const intruder = await h.device(port, 'dev-001');
    intruder.publish(topics.events('dev-002'), sos('forged-1'), { qos: 0 });
    await closed(intruder);
    expect(gateway.stats().aclDenied).toBe(1);
    expect(logger.lines.find((l) => l.msg?.startsWith('publish refused'))?.obj).toMatchObject({ deviceId: 'dev-001' });
    await settle();
    expect(seen).toEqual([]);
    expect(uplinks).toEqual([]);
  });

  it("grants 128 (failure) for another device's commands, keeps the connection, and still delivers its own valid event", async () => {
    const { gateway, port, uplinks } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    expect(await subscribeGranted(device, [topics.commands('dev-002')])).toEqual([128]);
    expect(await subscribeGranted(device, [topics.commands('dev-001')])).toEqual([1]);
    expect(gateway.stats().aclDenied).toBe(1);
    await device.publishAsync(topics.events('dev-001'), sos('e-1'), { qos: 1 });
    await waitFor(() => uplinks.length === 1, 3_000, 'the event');
    expect(device.connected).toBe(true);
  });

  it(`refuses every subscription to the dead-letter topic ${DEAD_LETTER_TOPIC}, even for the service account`, async () => {
    const { port } = await h.gateway();
    const server = await h.service(port);
    expect(await subscribeGranted(server, [DEAD_LETTER_TOPIC, '$kanjia/#', '#'])).toEqual([128, 128, 128]);
    expect(server.connected).toBe(true);
  });
});

describe('payload validation', () => {
  it('drops malformed JSON, an unknown event type and a schema violation, counts each code, keeps the connection and delivers the next valid event', async () => {
    const { gateway, port, uplinks, logger } = await h.gateway({ logSummaryIntervalMs: 200 });
    const server = await h.service(port);
    const seen = collect(server);
    await server.subscribeAsync('kanjia/v1/devices/+/events', { qos: 1 });
    const device = await h.device(port, 'dev-001');
    const events = topics.events('dev-001');
    await device.publishAsync(events, '{"id": "x1", not json, name 王秀英', { qos: 1 });
    await device.publishAsync(events, JSON.stringify({ id: 'x2', ts: TS, type: 'teleport' }), { qos: 1 });
    await device.publishAsync(events, JSON.stringify({ id: 'x3', ts: -5, type: 'sos', phone: '13812345678' }), { qos: 1 });
    await device.publishAsync(events, sos('valid-1'), { qos: 1 });
    await waitFor(() => uplinks.length === 1, 3_000, 'the valid event');

    expect(uplinks[0]).toMatchObject({ deviceId: 'dev-001', channel: 'events', payload: { id: 'valid-1', type: 'sos' } });
    expect(gateway.stats().invalidPayloads).toEqual({ PAYLOAD_TOO_LARGE: 0, PAYLOAD_NOT_JSON: 1, PAYLOAD_INVALID: 2 });
    expect(gateway.stats().messagesIn).toBe(1);
    expect(device.connected).toBe(true);
    await waitFor(() => seen.length === 1, 3_000, 'the subscriber');
    await settle();
    expect(seen.map((m) => JSON.parse(m.payload).id)).toEqual(['valid-1']);

    // One line per device and code at once, with the reason; the repeat only counted, then summed up.
    const drops = logger.lines.filter((l) => l.msg === 'invalid uplink dropped');
    expect(drops.map((l) => l.obj['code'])).toEqual(['PAYLOAD_NOT_JSON', 'PAYLOAD_INVALID']);
    expect(drops.every((l) => l.obj['deviceId'] === 'dev-001')).toBe(true);
    await waitFor(() => logger.lines.some((l) => l.msg === 'invalid uplink dropped (repeated)'), 3_000, 'the summary line');
    expect(logger.lines.filter((l) => l.msg === 'invalid uplink dropped (repeated)').map((l) => l.obj)).toEqual([{ deviceId: 'dev-001', repeats: 1, intervalMs: 200 }]);
    const logged = JSON.stringify(logger.lines);
    for (const secretish of ['王秀英', '13812345678', 'not json']) expect(logged).not.toContain(secretish);
  });

  it('does not store an invalid retained status: a later subscriber still gets the last valid one', async () => {
    const { port } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    await device.publishAsync(topics.status('dev-001'), online, { qos: 1, retain: true });
    await device.publishAsync(topics.status('dev-001'), JSON.stringify({ state: 'sleeping' }), { qos: 1, retain: true });
    await settle(50);
    const server = await h.service(port);
    const seen = collect(server);
    await server.subscribeAsync(topics.status('dev-001'), { qos: 1 });
    await waitFor(() => seen.length === 1, 3_000, 'the retained status');
    await settle();
    expect(seen).toEqual([{ topic: topics.status('dev-001'), payload: online, retain: true }]);
  });

  it('delivers a retained event but does not retain it: a subscriber joining 50 ms later gets nothing', async () => {
    const { port, uplinks } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    await device.publishAsync(topics.events('dev-001'), sos('r-1'), { qos: 1, retain: true });
    await waitFor(() => uplinks.length === 1);
    await settle(50);
    const server = await h.service(port);
    const seen = collect(server);
    await server.subscribeAsync(topics.events('dev-001'), { qos: 1 });
    await settle();
    expect(seen).toEqual([]);
  });
  it('keeps no retained status in the broker without service accounts (nobody else may read one), and still reports the device online', async () => {
    const { gateway, port, uplinks } = await h.gateway({ serviceAccounts: [] });
    const device = await h.device(port, 'dev-001', { withWill: true });
    await device.publishAsync(topics.status('dev-001'), online, { qos: 1, retain: true });
    await waitFor(() => uplinks.length === 1);
    expect(gateway.isOnline('dev-001')).toBe(true);
    const broker = (gateway as unknown as { running: { broker: { persistence: { createRetainedStreamCombi(p: string[]): AsyncIterable<unknown> } } } }).running.broker;
    const retained: unknown[] = [];
    for await (const packet of broker.persistence.createRetainedStreamCombi(['#'])) retained.push(packet);
    expect(retained).toEqual([]);
  });
});

describe('size and rate limits', () => {
  it('closes a device that publishes 200 KiB, counts 1 oversized packet, and keeps serving another device', async () => {
    const { gateway, port, uplinks } = await h.gateway();
    const big = await h.device(port, 'dev-001');
    const other = await h.device(port, 'dev-002');
    big.publish(topics.accel('dev-001'), Buffer.alloc(200 * 1024, 0x20), { qos: 0 });
    await closed(big);
    expect(gateway.stats().oversized).toBe(1);
    await other.publishAsync(topics.events('dev-002'), sos('after-big'), { qos: 1 });
    await waitFor(() => uplinks.length === 1);
    expect(uplinks[0]?.deviceId).toBe('dev-002');
  });

  it('closes a raw connection on the 4-byte header announcing 200 KiB, without waiting for the body', async () => {
    const { gateway, port } = await h.gateway();
    const socket = await h.socket(port);
    const closedSocket = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // PUBLISH, remaining length 204 800 = 0x80 0xc0 0x0c; no body follows.
    socket.write(Buffer.from([0x30, 0x80, 0xc0, 0x0c]));
    await closedSocket;
    expect(gateway.stats().oversized).toBe(1);
  });

  it('accepts an accelerometer window of 2 000 samples (about 60 KiB) under the default limit', async () => {
    const { port, uplinks } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    const samples = Array.from({ length: 2000 }, (_, i) => [0.0123456789 * (i % 7), -0.9812345678, 0.1234567891]);
    const payload = JSON.stringify({ id: 'w-1', ts: TS, hz: 200, position: 'waist', unit: 'g', samples });
    expect(payload.length).toBeGreaterThan(50 * 1024);
    await device.publishAsync(topics.accel('dev-001'), payload, { qos: 1 });
    await waitFor(() => uplinks.length === 1);
    expect(uplinks[0]?.value.channel).toBe('accel');
  });

  it('keeps a device through 20 invalid messages in a minute and disconnects it on the 21st', async () => {
    const { gateway, port, uplinks } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    for (let i = 0; i < 20; i++) await device.publishAsync(topics.telemetry('dev-001'), 'garbage', { qos: 1 });
    await device.publishAsync(topics.telemetry('dev-001'), telemetry('ok-1'), { qos: 1 });
    await waitFor(() => uplinks.length === 1);
    expect(device.connected).toBe(true);
    device.publish(topics.telemetry('dev-001'), 'garbage', { qos: 0 });
    await closed(device);
    expect(gateway.stats()).toMatchObject({ floodDisconnects: 1, invalidPayloads: { PAYLOAD_NOT_JSON: 21 } });
  });

  it('forgets invalid messages older than 60 s: 20, then 61 s later 20 more, stays connected', async () => {
    const { gateway, port, clock } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    for (let i = 0; i < 20; i++) await device.publishAsync(topics.telemetry('dev-001'), 'garbage', { qos: 1 });
    clock.advance(61_000);
    for (let i = 0; i < 20; i++) await device.publishAsync(topics.telemetry('dev-001'), 'garbage', { qos: 1 });
    await settle(50);
    expect(device.connected).toBe(true);
    expect(gateway.stats().floodDisconnects).toBe(0);
  });

  it('disconnects a device sending 51 messages at one instant with the default 50 per 10 s, and admits it again 10 s later', async () => {
    const { gateway, port, clock, uplinks } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    for (let i = 0; i < 50; i++) await device.publishAsync(topics.telemetry('dev-001'), telemetry(`t-${i}`), { qos: 1 });
    await waitFor(() => uplinks.length === 50);
    device.publish(topics.telemetry('dev-001'), telemetry('t-50'), { qos: 0 });
    await closed(device);
    expect(gateway.stats().floodDisconnects).toBe(1);

    clock.advance(10_000);
    const again = await h.device(port, 'dev-001');
    await again.publishAsync(topics.telemetry('dev-001'), telemetry('t-51'), { qos: 1 });
    await waitFor(() => uplinks.length === 51);
  });
});

describe('presence', () => {
  it('reports online from the retained status with firmware 1.4.2, and offline from the last will when the socket is destroyed', async () => {
    const { gateway, port, presence, clock } = await h.gateway();
    const device = await h.device(port, 'dev-001', { withWill: true });
    await device.publishAsync(topics.status('dev-001'), online, { qos: 1, retain: true });
    await waitFor(() => presence.length === 1, 3_000, 'online');
    expect(presence[0]).toEqual({ deviceId: 'dev-001', online: true, atMs: clock.nowMs(), firmware: '1.4.2', batteryPct: 91 });
    expect(gateway.isOnline('dev-001')).toBe(true);

    clock.advance(5_000);
    device.stream.destroy();
    await waitFor(() => presence.length === 2, 3_000, 'offline');
    expect(presence[1]).toMatchObject({ deviceId: 'dev-001', online: false, atMs: clock.nowMs() });
    expect(gateway.isOnline('dev-001')).toBe(false);

    // The will replaced the retained status.
    const server = await h.service(port);
    const seen = collect(server);
    await server.subscribeAsync(topics.status('dev-001'), { qos: 1 });
    await waitFor(() => seen.length === 1);
    expect(JSON.parse(seen[0]?.payload ?? '{}')).toEqual({ state: 'offline' });
    await settle();
    expect(presence).toHaveLength(2);
  });

  it('marks a device offline on a clean DISCONNECT without a will, and replaces its retained online', async () => {
    const { gateway, port, presence, clock } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    await device.publishAsync(topics.status('dev-001'), online, { qos: 1, retain: true });
    await waitFor(() => gateway.isOnline('dev-001'));
    clock.advance(1_000);
    await device.endAsync();
    await waitFor(() => presence.length === 2, 3_000, 'offline');
    expect(presence[1]).toMatchObject({ online: false, atMs: clock.nowMs() });

    const server = await h.service(port);
    const seen = collect(server);
    await server.subscribeAsync(topics.status('dev-001'), { qos: 1 });
    await waitFor(() => seen.length === 1);
    expect(JSON.parse(seen[0]?.payload ?? '{}')).toEqual({ state: 'offline', ts: clock.nowMs() });
  });

  it('keeps a device online when it reconnects over its own stale session (takeover), 1 offline then 1 online', async () => {
    const { gateway, port, presence } = await h.gateway();
    const first = await h.device(port, 'dev-001', { withWill: true });
    await first.publishAsync(topics.status('dev-001'), online, { qos: 1, retain: true });
    await waitFor(() => presence.length === 1);
    const second = await h.device(port, 'dev-001', { withWill: true });
    await second.publishAsync(topics.status('dev-001'), online, { qos: 1, retain: true });
    await waitFor(() => presence.length === 3, 3_000, 'offline then online');
    await settle();
    expect(presence.map((p) => p.online)).toEqual([true, false, true]);
    expect(gateway.isOnline('dev-001')).toBe(true);
    expect(second.connected).toBe(true);
  });

  it('counts a device that only sends telemetry as online', async () => {
    const { gateway, port, uplinks } = await h.gateway();
    const device = await h.device(port, 'dev-003');
    await device.publishAsync(topics.telemetry('dev-003'), telemetry('t-1'), { qos: 1 });
    await waitFor(() => uplinks.length === 1);
    expect(gateway.isOnline('dev-003')).toBe(true);
  });
});

describe('delivery', () => {
  const received: DeviceCommand = { id: 'c-1', ts: TS, type: 'received', eventId: 'e-1' };

  it('delivers publishCommand to the subscribed device with QoS 1, counts 1 command, and never hands it to onUplink', async () => {
    const { gateway, port, uplinks } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    const got = collect(device);
    await device.subscribeAsync(topics.commands('dev-001'), { qos: 1 });
    await gateway.publishCommand('dev-001', received);
    await waitFor(() => got.length === 1);
    expect(JSON.parse(got[0]?.payload ?? '{}')).toEqual(received);
    expect(gateway.stats().commandsOut).toBe(1);
    await settle();
    expect(uplinks).toEqual([]);
  });

  it('rejects an invalid command with INVALID_COMMAND and a bad device id with INVALID_DEVICE_ID', async () => {
    const { gateway } = await h.gateway();
    await expect(gateway.publishCommand('dev-001', { id: 'c-2', ts: TS, type: 'explode' } as unknown as DeviceCommand)).rejects.toMatchObject({ code: 'INVALID_COMMAND' });
    await expect(gateway.publishCommand('a/b/#', received)).rejects.toMatchObject({ code: 'INVALID_DEVICE_ID' });
    expect(gateway.stats().commandsOut).toBe(0);
  });

  it('lets the service account read all events and command any device; its invalid command is dropped, not delivered', async () => {
    const { gateway, port } = await h.gateway();
    const server = await h.service(port);
    const events = collect(server);
    await server.subscribeAsync('kanjia/v1/devices/+/events', { qos: 1 });
    const device = await h.device(port, 'dev-002');
    const commands = collect(device);
    await device.subscribeAsync(topics.commands('dev-002'), { qos: 1 });

    await device.publishAsync(topics.events('dev-002'), sos('e-9'), { qos: 1 });
    await waitFor(() => events.length === 1);
    await server.publishAsync(topics.commands('dev-002'), JSON.stringify({ nonsense: true }), { qos: 1 });
    await server.publishAsync(topics.commands('dev-002'), JSON.stringify({ ...received, eventId: 'e-9' }), { qos: 1 });
    await waitFor(() => commands.length === 1);
    await settle();
    expect(commands.map((c) => JSON.parse(c.payload).eventId)).toEqual(['e-9']);
    expect(gateway.stats()).toMatchObject({ commandsOut: 1, invalidPayloads: { PAYLOAD_INVALID: 1 } });
  });

  it('keeps delivering when one onUplink handler throws and another rejects: 3 events reach the third handler, 6 errors counted', async () => {
    const { gateway, port, uplinks, logger } = await h.gateway();
    gateway.onUplink(() => {
      throw new Error('handler bug');
    });
    gateway.onUplink(() => Promise.reject(new Error('async handler bug')));
    const third: string[] = [];
    gateway.onUplink((m) => {
      third.push(m.value.channel === 'events' ? m.value.payload.id : '?');
    });
    const device = await h.device(port, 'dev-001');
    for (const id of ['a', 'b', 'c']) await device.publishAsync(topics.events('dev-001'), sos(id), { qos: 1 });
    await waitFor(() => third.length === 3 && gateway.stats().handlerErrors === 6);
    expect(third).toEqual(['a', 'b', 'c']);
    expect(uplinks).toHaveLength(3);
    expect(device.connected).toBe(true);
    expect(logger.lines.filter((l) => l.msg === 'uplink handler failed')).toHaveLength(6);
  });

  it('stop() reports none of 2 online devices offline and hands no last will to onUplink', async () => {
    const { gateway, port, presence, uplinks } = await h.gateway();
    for (const id of ['dev-001', 'dev-002']) {
      const device = await h.device(port, id, { withWill: true });
      await device.publishAsync(topics.status(id), online, { qos: 1, retain: true });
    }
    await waitFor(() => presence.length === 2 && uplinks.length === 2);
    await gateway.stop();
    await settle();
    expect(presence.map((p) => p.online)).toEqual([true, true]);
    expect(uplinks).toHaveLength(2);
  });

  it('stop() called before start() has resolved leaves no port listening', async () => {
    const gateway = new Gateway({ port: 0, authenticator: new HashTableAuthenticator() });
    const starting = gateway.start();
    const stopping = gateway.stop();
    const { port } = await starting;
    await stopping;
    const refused = await new Promise<string>((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    await expect(gateway.start()).rejects.toMatchObject({ code: 'GATEWAY_ALREADY_STARTED' });
  });

  it('stops idempotently: twice in a row, then publishCommand rejects with GATEWAY_NOT_RUNNING', async () => {
    const { gateway, port } = await h.gateway();
    const device = await h.device(port, 'dev-001');
    await Promise.all([gateway.stop(), gateway.stop()]);
    await gateway.stop();
    await closed(device);
    await expect(gateway.publishCommand('dev-001', received)).rejects.toMatchObject({ code: 'GATEWAY_NOT_RUNNING' });
  });
});
