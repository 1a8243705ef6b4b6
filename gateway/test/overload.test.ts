/**
 * The gateway under more load than the application can take: real TCP
 * devices pipelining QoS 1 PUBLISHes in single socket writes, a slow
 * application handler, and what must hold then (issue 10): no crash, nothing
 * lost, nobody disconnected.
 */
import { generate, type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '@kanjia/protocol';
import { Aedes } from 'aedes';
import type { DeviceAuthenticator, UplinkMessage } from '../src/index.js';
import { keepAliveTimer } from '../src/gateway.js';
import { Harness, RawClient, connectPacket, sos, waitFor } from './helpers.js';

const h = new Harness();
afterEach(async () => {
  RawClient.closeAll();
  await h.close();
});

const FLEET_SECRET = 'one-secret-for-the-whole-test-fleet-0123456789';
/** Any well-formed device id with FLEET_SECRET. */
const fleet: DeviceAuthenticator = { verify: (_deviceId, secret) => secret === FLEET_SECRET };
const deviceId = (i: number) => `dev-${String(i).padStart(3, '0')}`;
/** No per-device rate limit in the way: these tests are about the gateway's own limits. */
const UNLIMITED_RATE = { messages: 1_000_000, perMs: 1_000 };

/** A device at the byte level, logged in and subscribed to its commands (which it PUBACKs). */
async function rawDevice(port: number, id: string, keepalive = 30): Promise<RawClient> {
  const raw = await RawClient.open(port, { autoAck: true });
  raw.send(connectPacket(id, { password: FLEET_SECRET, keepalive }));
  await waitFor(() => raw.count('connack') === 1, 5_000, `${id} CONNACK`);
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: topics.commands(id), qos: 1 }] });
  await waitFor(() => raw.count('suback') === 1, 5_000, `${id} SUBACK`);
  return raw;
}

/** `count` SOS events as QoS 1 PUBLISHes with message ids from `firstMessageId`, for one socket write. */
function sosBurst(id: string, count: number, firstMessageId = 2, prefix = 'e'): Packet[] {
  return Array.from({ length: count }, (_, k) => ({
    cmd: 'publish',
    topic: topics.events(id),
    payload: Buffer.from(sos(`${id}-${prefix}${k}`)),
    qos: 1,
    messageId: firstMessageId + k,
    retain: false,
    dup: false,
  }) as Packet);
}

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Each event id handed to the handler, with how many times. */
function tally(uplinks: UplinkMessage[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (const u of uplinks) {
    const id = (u.payload as { id: string }).id;
    seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  return seen;
}

describe('overload', () => {
  // At 500 SOS/s the process died with this RangeError (issue 10). aedes' message
  // emitter (mqemitter) holds at most 100 deliveries in flight and queues the rest;
  // when one finishes it runs the queue on the same stack, and a message nobody
  // subscribes to (every device uplink: the application takes them in-process)
  // finishes synchronously, back into the parser (nextBatch) and the next
  // message: one stack frame chain per queued message.
  it('takes 10 devices × 500 QoS 1 SOS, each burst in one socket write, while 200 commands fill the delivery window: no stack overflow, each SOS handed on once', async () => {
    // A window wide enough not to hold anything back: this is about the broker alone.
    const { gateway, port, uplinks } = await h.gateway({ authenticator: fleet, uplinkRateLimit: UNLIMITED_RATE, inFlightUplinks: { total: 100_000, perConnection: 10_000 } });
    const devices: RawClient[] = [];
    for (let i = 0; i < 10; i++) devices.push(await rawDevice(port, deviceId(i)));
    let first = true;
    gateway.onUplink(() => {
      if (!first) return;
      first = false;
      // Twice the broker's delivery window of commands at once, then a slow
      // synchronous handler, while every device's burst reaches the socket.
      for (let c = 0; c < 200; c++) {
        void gateway.publishCommand(deviceId(0), { type: 'received', id: `c${c}`, ts: 1, eventId: `x${c}` }).catch(() => {});
      }
      busyWait(100);
    });
    devices.forEach((d, i) => d.send(...sosBurst(deviceId(i), 500)));
    await waitFor(() => uplinks.length >= 5_000 || devices.some((d) => d.closed), 60_000, '5 000 SOS handed on');
    const seen = tally(uplinks);
    expect(seen.size).toBe(5_000);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(devices.filter((d) => d.closed)).toHaveLength(0);
    await waitFor(() => devices.every((d) => d.count('puback') === 500), 30_000, 'every PUBACK');
    expect(gateway.stats().connected).toBe(10);
  }, 90_000);

  // aedes answers a QoS 2 PUBLISH whose id it already holds (a resend with DUP) with a PUBREC and no
  // `publish` event: a slot taken for it would never come back, and the connection would stall for good.
  it('takes a resent QoS 2 uplink without a slot of the window: the next SOS of that connection still goes through', async () => {
    const { gateway, port, uplinks } = await h.gateway({ authenticator: fleet, uplinkRateLimit: UNLIMITED_RATE, inFlightUplinks: { total: 8, perConnection: 1 } });
    const device = await rawDevice(port, deviceId(0));
    const qos2 = { cmd: 'publish', topic: topics.events(deviceId(0)), payload: Buffer.from(sos(`${deviceId(0)}-q2`)), qos: 2, messageId: 7, retain: false } as const;
    // No PUBREL: the broker keeps message 7, and the resend (DUP) is answered with a PUBREC only.
    device.send({ ...qos2, dup: false } as Packet);
    await waitFor(() => device.count('pubrec') === 1, 5_000, 'the PUBREC');
    device.send({ ...qos2, dup: true } as Packet);
    await waitFor(() => device.count('pubrec') === 2, 5_000, 'the second PUBREC');
    device.send(...sosBurst(deviceId(0), 1, 20, 'after'));
    await waitFor(() => uplinks.some((u) => (u.payload as { id: string }).id === `${deviceId(0)}-after0`), 5_000, 'the SOS after the resent QoS 2');
    await waitFor(() => gateway.stats().backpressure.inFlight === 0, 5_000, 'the window to drain');
    expect(device.closed).toBe(false);
  });

  it('holds a burst larger than its window (8 in all, 4 per connection) back instead of dropping: 5 devices × 50 SOS each handed on once, never more in flight, every device still connected', async () => {
    const { gateway, port, uplinks } = await h.gateway({ authenticator: fleet, uplinkRateLimit: UNLIMITED_RATE, inFlightUplinks: { total: 8, perConnection: 4 } });
    const devices: RawClient[] = [];
    for (let i = 0; i < 5; i++) devices.push(await rawDevice(port, deviceId(i)));
    const inFlight = new Map<string, number>();
    let total = 0;
    let maxTotal = 0;
    let maxPerDevice = 0;
    gateway.onUplink(async (m) => {
      total += 1;
      inFlight.set(m.deviceId, (inFlight.get(m.deviceId) ?? 0) + 1);
      maxTotal = Math.max(maxTotal, total);
      maxPerDevice = Math.max(maxPerDevice, inFlight.get(m.deviceId) as number);
      await new Promise((r) => setTimeout(r, 2));
      total -= 1;
      inFlight.set(m.deviceId, (inFlight.get(m.deviceId) as number) - 1);
    });
    devices.forEach((d, i) => d.send(...sosBurst(deviceId(i), 50)));
    await waitFor(() => uplinks.length >= 250 || devices.some((d) => d.closed), 30_000, '250 SOS handed on');
    const seen = tally(uplinks);
    expect(seen.size).toBe(250);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(maxTotal).toBeLessThanOrEqual(8);
    expect(maxPerDevice).toBeLessThanOrEqual(4);
    await waitFor(() => devices.every((d) => d.count('puback') === 50), 10_000, 'every PUBACK');
    expect(devices.filter((d) => d.closed)).toHaveLength(0);
    const stats = gateway.stats();
    expect(stats.connected).toBe(5);
    expect(stats.backpressure.delayed).toBeGreaterThan(0);
    await waitFor(() => gateway.stats().backpressure.inFlight === 0, 5_000, 'the window to drain');
    expect(gateway.stats().backpressure.waiting).toBe(0);
  });

  it('answers PINGs and keeps a 1 s keep-alive device connected while its PUBLISHes wait 3 s for a stalled application, then hands on all 20 once', async () => {
    const { gateway, port, uplinks } = await h.gateway({
      authenticator: fleet,
      uplinkRateLimit: UNLIMITED_RATE,
      keepAliveSeconds: { min: 1, max: 1200 },
      inFlightUplinks: { total: 8, perConnection: 4 },
    });
    // aedes cuts a 1 s keep-alive after 1.5 s without a packet it has handled.
    const device = await rawDevice(port, deviceId(0), 1);
    const stalled: Array<() => void> = [];
    let open = false;
    gateway.onUplink(() => (open ? undefined : new Promise<void>((resolve) => stalled.push(resolve))));
    device.send(...sosBurst(deviceId(0), 20));
    await waitFor(() => uplinks.length === 4, 5_000, 'the first 4 SOS');
    for (let ping = 0; ping < 12; ping++) {
      device.send({ cmd: 'pingreq' });
      await new Promise((r) => setTimeout(r, 250));
    }
    await waitFor(() => device.count('pingresp') === 12, 2_000, '12 PINGRESPs');
    expect(device.closed).toBe(false);
    expect(uplinks).toHaveLength(4);
    expect(device.count('puback')).toBeLessThanOrEqual(4);
    expect(gateway.stats().backpressure).toMatchObject({ inFlight: 4, waiting: 16, pingsAnswered: 12 });
    open = true;
    for (const resolve of stalled.splice(0)) resolve();
    await waitFor(() => uplinks.length === 20, 5_000, 'all 20 SOS');
    await waitFor(() => device.count('puback') === 20, 5_000, 'all 20 PUBACKs');
    expect([...tally(uplinks).values()].every((n) => n === 1)).toBe(true);
    expect(device.closed).toBe(false);
  });

  it('aedes keeps what the gateway relies on where it looks: the keep-alive timer (else PINGs wait for aedes again) and a parser list that a plain BufferList replaces (a PUBLISH split over 3 writes still parses)', async () => {
    const { gateway, port, uplinks } = await h.gateway({ authenticator: fleet });
    const device = await rawDevice(port, deviceId(0), 30);
    device.send({ cmd: 'pingreq' });
    await waitFor(() => device.count('pingresp') === 1, 2_000, 'PINGRESP');
    // Answered by the gateway's guard, which can only do so with aedes' timer in hand.
    expect(gateway.stats().backpressure.pingsAnswered).toBe(1);
    const broker = (gateway as unknown as { running: { broker: Aedes } }).running.broker;
    const client = Object.values((broker as unknown as { clients: Record<string, Parameters<typeof keepAliveTimer>[0]> }).clients)[0];
    expect(client && keepAliveTimer(client)).toBeDefined();
    const list = (client as unknown as { _parser: { _list: object } })._parser._list;
    expect(list.constructor.name).toBe('BufferList');
    const bytes = generate(sosBurst(deviceId(0), 1)[0] as Packet);
    for (const piece of [bytes.subarray(0, 1), bytes.subarray(1, 20), bytes.subarray(20)]) {
      device.socket.write(piece);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor(() => uplinks.length === 1, 2_000, 'the split PUBLISH');
  });
});
