import { afterEach, describe, expect, it } from 'vitest';
import { DeviceStatus, topics } from '@kanjia/protocol';
import { LoadFleet } from '@kanjia/firmware-sim';
import { Cleanup, Observer, TestBroker, waitFor } from './harness.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const creds = (n: number) => Array.from({ length: n }, (_, i) => ({ deviceId: `load-${String(i).padStart(4, '0')}`, secret: `secret-${i}` }));

async function setUp(n: number, options: { resendIntervalMs?: number } = {}) {
  const broker = cleanup.add(new TestBroker());
  await broker.start();
  const latencies: number[] = [];
  const fleet = new LoadFleet({ host: '127.0.0.1', port: broker.port, devices: creds(n), reconnectPeriodMs: 100, connectConcurrency: 10, ...options, onReceived: (_id, ms) => latencies.push(ms) });
  cleanup.add({ stop: async () => fleet.stop() });
  return { broker, fleet, latencies };
}

describe('LoadFleet (firmware-sim load mode) over a real aedes', () => {
  it('connects every device as a real device does: its own id and secret, the offline will, the commands subscription, a retained online status', async () => {
    const { broker, fleet } = await setUp(30);
    await fleet.start(10_000);
    expect(fleet.counters.online).toBe(30);
    expect(broker.connects).toContainEqual({ clientId: 'load-0007', username: 'load-0007', password: 'secret-7' });

    const observer = cleanup.add(new Observer());
    await observer.start(broker.url, topics.status('load-0007'));
    await waitFor('the retained status', () => observer.messages.length === 1);
    expect(observer.messages[0]).toMatchObject({ retain: true, json: { state: 'online', firmware: 'kanjia-load/0.1.0' } });
    expect(DeviceStatus.safeParse(observer.messages[0]!.json).success).toBe(true);

    // The will: cut the connection, the broker publishes the retained offline status.
    fleet.devices[7]!.drop();
    await waitFor('the will', () => observer.messages.some((m) => (m.json as { state: string }).state === 'offline'));
  });

  it('answers `received` commands: every press of 20 devices is received once, each command acked, the SOS payloads valid and distinct', async () => {
    const { broker, fleet, latencies } = await setUp(20);
    await fleet.start(10_000);
    const ids = fleet.devices.map((_d, i) => fleet.pressSos(i));
    await waitFor('20 received', () => latencies.length === 20);
    expect(new Set(ids).size).toBe(20);
    expect(broker.copies.map((c) => c.event.id).sort()).toEqual([...ids].sort());
    expect(broker.copies.every((c) => c.event.type === 'sos')).toBe(true);
    await waitFor('20 acks', () => broker.acks.length === 20);
    expect(fleet.counters.pending).toBe(0);
  });

  it('resends an unanswered SOS with the backoff until `received` (base 100 ms: the 3rd copy at least 300 ms after the press)', async () => {
    const { broker, fleet, latencies } = await setUp(1, { resendIntervalMs: 100 });
    broker.ackPolicy = (_c, copyIndex) => (copyIndex <= 2 ? 'ignore' : 'ack');
    await fleet.start(10_000);
    const id = fleet.pressSos(0);
    await waitFor('the received', () => latencies.length === 1, 5000);
    expect(broker.copiesOf(id)).toHaveLength(3);
    // Copies at 0, then 100–200 ms, then 200–400 ms after that: at least 300 ms in all.
    expect(latencies[0]).toBeGreaterThanOrEqual(295);
  });

  it('a reconnect storm: every connection cut at once, all back by themselves, the SOS pressed while offline received', async () => {
    const { broker, fleet, latencies } = await setUp(40);
    await fleet.start(10_000);
    fleet.dropAll();
    await waitFor('the drops seen', () => fleet.counters.disconnects === 40);
    const id = fleet.pressSos(3);
    await waitFor('all 40 back', () => fleet.counters.online === 40, 10_000);
    await waitFor('the buffered SOS received', () => latencies.length === 1, 5000);
    expect(broker.copiesOf(id).length).toBeGreaterThanOrEqual(1);
  });

  it('waits after a CONNACK 3 (server unavailable) as the contract says, longer after each further one, and a cut after its session starts again about reconnectPeriodMs', async () => {
    let refusals = 0;
    const broker = cleanup.add(new TestBroker(() => (refusals++ < 2 ? 3 : true)));
    await broker.start();
    // Scaled down: 600–800 ms after the first refusal, 600–1 000 ms after the second; a cut 5–15 ms.
    const fleet = new LoadFleet({ host: '127.0.0.1', port: broker.port, devices: creds(1), reconnectPeriodMs: 10, refusedRetry: { minMs: 600, firstMaxMs: 800, capMs: 10_000 } });
    cleanup.add({ stop: async () => fleet.stop() });
    const started = performance.now();
    await fleet.start(10_000);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1_200);
    expect(fleet.counters.refused).toEqual({ 3: 2 });
    expect(broker.connects).toHaveLength(3);
    // The refusals are forgotten once a session starts: a cut waits about reconnectPeriodMs, not 600 ms or more.
    const cut = performance.now();
    fleet.devices[0]!.drop();
    await waitFor('back after the cut', () => fleet.counters.disconnects === 1 && fleet.counters.online === 1, 5_000);
    expect(performance.now() - cut).toBeLessThan(600);
    expect(broker.connects).toHaveLength(4);
  });

  it('sends background telemetry at the asked total rate, round-robin, as valid v1 telemetry', async () => {
    const { broker, fleet } = await setUp(10);
    const seen: unknown[] = [];
    const observer = cleanup.add(new Observer());
    await observer.start(broker.url, topics.allOf('telemetry'));
    await fleet.start(10_000);
    fleet.telemetry(200);
    await waitFor('50 telemetry messages', () => observer.messages.length >= 50, 5000);
    fleet.telemetry(0);
    seen.push(...observer.messages.map((m) => m.topic));
    expect(new Set(seen).size).toBe(10);
  });

  it('presses once without tracking for a broker with nothing behind it: one copy, no resend', async () => {
    const { broker, fleet } = await setUp(1, { resendIntervalMs: 100 });
    broker.ackPolicy = () => 'ignore';
    await fleet.start(10_000);
    const id = fleet.pressSos(0, { once: true });
    await waitFor('the copy', () => broker.copies.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(broker.copiesOf(id)).toHaveLength(1);
    expect(fleet.counters.pending).toBe(0);
  });

  it('refuses a non-loopback host', () => {
    expect(() => new LoadFleet({ host: '10.0.0.1', port: 1883, devices: creds(1) })).toThrow(/loopback/);
  });
});
