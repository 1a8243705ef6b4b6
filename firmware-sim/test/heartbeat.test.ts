import { connectAsync } from 'mqtt';
import { FakeClock, topics } from '@kanjia/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { SimDevice, silentLogger } from '../src/index.js';
import { TestBroker } from './harness.js';

describe('SimDevice heartbeat', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('repeats its retained online status every 4 h while connected, and stops when stopped', async () => {
    const broker = new TestBroker();
    await broker.start();
    cleanups.push(() => broker.stop());
    const watcher = await connectAsync(broker.url, { clientId: 'watcher', reconnectPeriod: 0 });
    cleanups.push(() => watcher.endAsync(true));
    const statuses: string[] = [];
    watcher.on('message', (_topic, payload) => statuses.push(JSON.parse(payload.toString()).state));
    await watcher.subscribeAsync(topics.status('btn-hb'), { qos: 1 });

    const clock = new FakeClock();
    const device = new SimDevice({ brokerUrl: broker.url, deviceId: 'btn-hb', secret: 's', clock, logger: silentLogger });
    await device.start();
    cleanups.push(() => device.stop());
    const settle = () => new Promise((r) => setTimeout(r, 100));
    await settle();
    expect(statuses).toEqual(['online']);
    clock.advance(4 * 3600_000 - 1);
    await settle();
    expect(statuses).toEqual(['online']);
    clock.advance(1);
    await settle();
    expect(statuses).toEqual(['online', 'online']);
    await device.stop();
    clock.advance(8 * 3600_000);
    await settle();
    expect(statuses).toEqual(['online', 'online', 'offline']);
    expect(clock.pendingTimers()).toBe(0);
  });
});
