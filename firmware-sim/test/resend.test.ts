import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock } from '@kanjia/protocol';
import { RESEND_BASE_MS, RESEND_CAP_MS, SimDevice, resendDelayMs, resendPolicy, seededRandom, silentLogger, type SimDeviceOptions } from '@kanjia/firmware-sim';
import { Cleanup, TestBroker, sleep, waitFor } from './harness.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function startBroker(): Promise<TestBroker> {
  const broker = cleanup.add(new TestBroker());
  await broker.start();
  return broker;
}

function makeDevice(broker: TestBroker, options: Partial<SimDeviceOptions>): SimDevice {
  return cleanup.add(new SimDevice({ brokerUrl: broker.url, deviceId: 'btn-0001', secret: 'secret-0001', reconnectPeriodMs: 100, logger: silentLogger, ...options }));
}

describe('the resend schedule (pure)', () => {
  it('waits 5–10 s, 10–20 s, 20–40 s, then 30–60 s for every later resend with the contract defaults', () => {
    const policy = resendPolicy();
    expect(policy).toEqual({ baseMs: RESEND_BASE_MS, capMs: RESEND_CAP_MS });
    const windows = [
      [5000, 10_000],
      [10_000, 20_000],
      [20_000, 40_000],
      [30_000, 60_000],
      [30_000, 60_000],
      [30_000, 60_000],
    ];
    windows.forEach(([low, high], i) => {
      expect(resendDelayMs(policy, i + 1, () => 0)).toBe(low);
      expect(resendDelayMs(policy, i + 1, () => 0.999_999_9)).toBe(high);
    });
    // Far along, the exponent does not overflow and the cap holds.
    expect(resendDelayMs(policy, 10_000, () => 0.5)).toBe(45_000);
  });

  it('stays inside its window for 1000 seeded draws per resend, and the same seed gives the same schedule', () => {
    const policy = resendPolicy();
    const random = seededRandom(7);
    for (let n = 1; n <= 8; n++) {
      const window = Math.min(60_000, 5000 * 2 ** n);
      for (let k = 0; k < 1000; k++) {
        const d = resendDelayMs(policy, n, random);
        expect(d).toBeGreaterThanOrEqual(window / 2);
        expect(d).toBeLessThanOrEqual(window);
      }
    }
    const schedule = (seed: number) => {
      const r = seededRandom(seed);
      return [1, 2, 3, 4, 5].map((n) => resendDelayMs(policy, n, r));
    };
    expect(schedule(42)).toEqual(schedule(42));
    expect(schedule(42)).not.toEqual(schedule(43));
  });

  it('scales with a short base: base 100 ms caps at 1200 ms unless a cap is given', () => {
    expect(resendPolicy(100)).toEqual({ baseMs: 100, capMs: 1200 });
    expect(resendPolicy(100, 250)).toEqual({ baseMs: 100, capMs: 250 });
    expect(resendDelayMs(resendPolicy(100, 250), 5, () => 0.999_999_9)).toBe(250);
  });

  it('a fixed 5 s resend sent 25 copies in two minutes of silence; the backoff sends at most 6', () => {
    const policy = resendPolicy();
    let t = 0;
    let copies = 1;
    for (let n = 1; ; n++) {
      t += resendDelayMs(policy, n, () => 0); // the shortest waits: the most copies
      if (t > 120_000) break;
      copies += 1;
    }
    expect(copies).toBe(6);
  });
});

describe('SimDevice resend backoff over a real broker (fake clock, seeded jitter)', () => {
  it('sends the copies of an unanswered SOS exactly when the seeded schedule says, never sooner', async () => {
    const broker = await startBroker();
    broker.ackPolicy = () => 'ignore';
    const clock = new FakeClock();
    const device = makeDevice(broker, { clock, random: seededRandom(42) });
    await device.start();
    const expected = seededRandom(42);
    const policy = resendPolicy();

    const handle = device.pressSos();
    await waitFor('copy 1', () => broker.copies.length === 1);
    for (let n = 1; n <= 5; n++) {
      const wait = resendDelayMs(policy, n, expected);
      clock.advance(wait - 1);
      await sleep(30);
      expect(broker.copies).toHaveLength(n);
      clock.advance(1);
      await waitFor(`copy ${n + 1}`, () => broker.copies.length === n + 1);
    }
    expect(broker.copiesOf(handle.eventId)).toHaveLength(6);
  });

  it('starts again from the base for the next press once `received` came (the backoff is per event)', async () => {
    const broker = await startBroker();
    // The first press's first 3 copies go unanswered; everything later is answered.
    broker.ackPolicy = (_copy, copyIndex) => (copyIndex <= 3 ? 'ignore' : 'ack');
    const clock = new FakeClock();
    const device = makeDevice(broker, { clock, random: () => 0 });
    await device.start();

    const first = device.pressSos();
    await waitFor('copy 1', () => broker.copies.length === 1);
    clock.advance(5000);
    await waitFor('copy 2', () => broker.copies.length === 2);
    clock.advance(10_000);
    await waitFor('copy 3', () => broker.copies.length === 3);
    clock.advance(20_000);
    await first.received;

    broker.ackPolicy = () => 'ignore';
    const second = device.pressSos();
    await waitFor('the 2nd press', () => broker.copiesOf(second.eventId).length === 1);
    clock.advance(4999);
    await sleep(30);
    expect(broker.copiesOf(second.eventId)).toHaveLength(1);
    clock.advance(1);
    await waitFor('its first resend after 5 s, not 40 s', () => broker.copiesOf(second.eventId).length === 2);
  });

  it('after a reconnect flushes the buffered SOS after the seeded jitter, not at once, and goes on with the backoff', async () => {
    const broker = await startBroker();
    broker.ackPolicy = () => 'ignore';
    const clock = new FakeClock();
    // random() = 0.5: the flush waits 500 ms of the 1000; the n-th resend waits 3/4 of its window.
    const device = makeDevice(broker, { clock, random: () => 0.5 });
    await device.start();
    const handle = device.pressSos();
    await waitFor('copy 1', () => broker.copies.length === 1);

    const back = new Promise<void>((resolve) => device.on('online', ({ reconnect }) => reconnect && resolve()));
    device.dropConnection();
    await back;
    await sleep(50);
    expect(broker.copies).toHaveLength(1);
    clock.advance(499);
    await sleep(30);
    expect(broker.copies).toHaveLength(1);
    clock.advance(1);
    await waitFor('the flushed copy', () => broker.copies.length === 2);
    // The flushed copy was the 2nd resend in the schedule: 3/4 of 20 s later comes the next.
    clock.advance(14_999);
    await sleep(30);
    expect(broker.copies).toHaveLength(2);
    clock.advance(1);
    await waitFor('copy 3', () => broker.copiesOf(handle.eventId).length === 3);
  });

  it('refuses a cap below the base and a negative flush jitter with INVALID_OPTIONS', () => {
    const build = () => new SimDevice({ brokerUrl: 'mqtt://127.0.0.1:1', deviceId: 'btn-0001', secret: 's', resendIntervalMs: 1000, resendMaxIntervalMs: 500, reconnectFlushJitterMs: -1 });
    expect(build).toThrow(/reconnectFlushJitterMs: must be a number ≥ 0, got -1.*resendMaxIntervalMs: must be at least resendIntervalMs \(1000\), got 500/);
  });
});
