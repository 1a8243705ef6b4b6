/**
 * The gateway under more load than the application can take: real TCP
 * devices pipelining QoS 1 PUBLISHes in single socket writes, a slow
 * application handler, and what must hold then (issue 10): no crash, nothing
 * lost, nobody disconnected.
 */
import type { Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '@kanjia/protocol';
import type { DeviceAuthenticator, UplinkMessage } from '../src/index.js';
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
    const { gateway, port, uplinks } = await h.gateway({ authenticator: fleet, uplinkRateLimit: UNLIMITED_RATE });
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
});
