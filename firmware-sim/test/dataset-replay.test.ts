import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Aedes } from 'aedes';
import { AccelWindow, DeviceStatus, parseDeviceTopic, topics } from '@kanjia/protocol';
import { trialWindows, type FallTrial } from '../src/dataset.js';
import { ReplayError, replayTrial } from '../src/dataset-replay.js';

interface Received {
  topic: string;
  json: unknown;
  atMs: number;
}

/** A bare aedes broker on a free port that records every accel and status message and every CONNECT. */
class BareBroker {
  readonly received: Received[] = [];
  readonly connects: Array<{ clientId: string; username: string | undefined; password: string | undefined }> = [];
  private aedes: Aedes | undefined;
  private server: net.Server | undefined;
  port = 0;

  async start(): Promise<void> {
    const aedes = await Aedes.createBroker({
      authenticate: (client, username, password, done) => {
        this.connects.push({ clientId: client.id, username, password: password?.toString('utf8') });
        done(null, true);
      },
    });
    this.aedes = aedes;
    const record = (packet: { topic: string; payload: Buffer | string }, cb: () => void): void => {
      this.received.push({ topic: packet.topic, json: JSON.parse(packet.payload.toString()), atMs: Date.now() });
      cb();
    };
    await new Promise<void>((resolve) => aedes.subscribe(topics.allOf('accel'), record, resolve));
    await new Promise<void>((resolve) => aedes.subscribe(topics.allOf('status'), record, resolve));
    const server = net.createServer(aedes.handle);
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    this.port = address.port;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  accel(): Array<{ deviceId: string; window: AccelWindow; atMs: number }> {
    return this.received
      .filter((r) => parseDeviceTopic(r.topic)?.channel === 'accel')
      .map((r) => ({ deviceId: parseDeviceTopic(r.topic)?.deviceId ?? '', window: AccelWindow.parse(r.json), atMs: r.atMs }));
  }

  async stop(): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (aedes !== undefined) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }
}

const brokers: BareBroker[] = [];
afterEach(async () => {
  while (brokers.length > 0) await brokers.pop()?.stop();
});

async function startBroker(): Promise<BareBroker> {
  const broker = new BareBroker();
  brokers.push(broker);
  await broker.start();
  return broker;
}

/** 12.5 s at 50 Hz: 7 windows of 2 s (the last one 0.5 s), every sample distinct so reordering or loss would show. */
const TRIAL: FallTrial = {
  id: 'synthetic/fall-1/chest',
  subject: 'synthetic-01',
  age: 81,
  label: 'fall',
  activity: 'forwardFall',
  position: 'chest',
  hz: 50,
  unit: 'g',
  samples: Array.from({ length: 625 }, (_, i): [number, number, number] => [Math.round(Math.sin(i / 7) * 1000) / 1000, i / 1000, 1]),
};

describe('replayTrial', () => {
  it('publishes the 7 windows of a 12.5 s trial intact and in order, as device pendant-0042 with its credentials', async () => {
    const broker = await startBroker();
    const result = await replayTrial({ brokerUrl: broker.url, deviceId: 'pendant-0042', secret: 's3cret', trial: TRIAL, speed: Infinity, startTs: 1_700_000_000_000, idPrefix: 'p42-boot1' });
    const expected = trialWindows(TRIAL, { startTs: 1_700_000_000_000, idPrefix: 'p42-boot1' });
    expect(expected.map((w) => w.id)).toEqual(['p42-boot1-1', 'p42-boot1-2', 'p42-boot1-3', 'p42-boot1-4', 'p42-boot1-5', 'p42-boot1-6', 'p42-boot1-7']);
    expect(result.windows).toEqual(expected);
    const got = broker.accel();
    expect(got.map((g) => g.deviceId)).toEqual(Array(7).fill('pendant-0042'));
    expect(got.map((g) => g.window)).toEqual(expected);
    expect(got.flatMap((g) => g.window.samples)).toEqual(TRIAL.samples);
    expect(result.firstTs).toBe(1_700_000_000_000);
    expect(result.endTs).toBe(1_700_000_012_500);
    expect(broker.connects).toEqual([{ clientId: 'pendant-0042', username: 'pendant-0042', password: 's3cret' }]);
    const statuses = broker.received.filter((r) => parseDeviceTopic(r.topic)?.channel === 'status').map((r) => DeviceStatus.parse(r.json).state);
    expect(statuses).toEqual(['online', 'offline']);
  });

  it('paces the windows as recorded: at 20× real time, 2 s windows arrive about 100 ms apart', async () => {
    const broker = await startBroker();
    const started = Date.now();
    await replayTrial({ brokerUrl: broker.url, deviceId: 'pendant-0043', secret: 'x', trial: TRIAL, speed: 20 });
    // By default the ids are `{deviceId}-{start time base 36}-{n}`, fresh for every replay like a device's boot.
    expect(broker.accel()[0]?.window.id).toMatch(/^pendant-0043-[0-9a-z]+-1$/);
    const times = broker.accel().map((g) => g.atMs);
    expect(times).toHaveLength(7);
    const gaps = times.slice(1, 6).map((t, i) => t - (times[i] ?? 0));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(70);
    // 12.5 s of recording at 20× is 625 ms.
    expect(Date.now() - started).toBeGreaterThanOrEqual(600);
  });

  it('fails with REPLAY_FAILED when no broker listens, and REPLAY_INVALID_OPTIONS for a bad device id', async () => {
    const closed = await startBroker();
    const url = closed.url;
    await closed.stop();
    brokers.pop();
    await expect(replayTrial({ brokerUrl: url, deviceId: 'pendant-1', secret: 'x', trial: TRIAL, speed: Infinity })).rejects.toMatchObject({ code: 'REPLAY_FAILED' });
    await expect(replayTrial({ brokerUrl: url, deviceId: 'a/b', secret: 'x', trial: TRIAL })).rejects.toBeInstanceOf(ReplayError);
  });

  it('stops after the window in flight when aborted (abort after the 2nd of 7 windows)', async () => {
    const broker = await startBroker();
    const controller = new AbortController();
    const replay = replayTrial({
      brokerUrl: broker.url,
      deviceId: 'pendant-0044',
      secret: 'x',
      trial: TRIAL,
      speed: 10,
      signal: controller.signal,
      onWindow: (_w, index) => {
        if (index === 1) controller.abort();
      },
    });
    await expect(replay).rejects.toMatchObject({ code: 'REPLAY_ABORTED' });
    expect(broker.accel()).toHaveLength(2);
  });
});
