/**
 * Why the load mode has its own client: the memory and CPU one process spends
 * per device connection, SimDevice (mqtt.js) against LoadDevice (net.Socket +
 * mqtt-packet), both with a device's session, to a bare aedes in another
 * process. `node --expose-gc tests/dist/bench/client-cost.js [--devices 2000] [--mqttjs-first]`.
 */
import { LoadFleet, SimDevice, silentLogger } from '@kanjia/firmware-sim';
import { parseArgs } from 'node:util';
import { startBareAedes } from './peers.js';

const { values } = parseArgs({ options: { devices: { type: 'string', default: '2000' }, 'mqttjs-first': { type: 'boolean', default: false } } });
const N = Math.min(10_000, Math.max(10, Number(values.devices)));
const creds = Array.from({ length: N }, (_, i) => ({ deviceId: `cost-${i}`, secret: `s-${i}` }));

/** Connects N devices with `connect` to a fresh bare aedes; prints time, CPU and RSS per connection of this process. */
async function measure(name: string, connect: (port: number) => Promise<() => Promise<void>>): Promise<void> {
  const broker = await startBareAedes();
  try {
    globalThis.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const rss0 = process.memoryUsage().rss;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const stop = await connect(broker.port);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    globalThis.gc?.();
    const kb = (process.memoryUsage().rss - rss0) / 1024 / N;
    const heapKb = (process.memoryUsage().heapUsed - heap0) / 1024 / N;
    process.stdout.write(`${name.padEnd(26)} ${N} connections: ${Math.round(ms)} ms, ${Math.round((cpu.user + cpu.system) / 1000)} ms CPU, ${heapKb.toFixed(1)} KB heap and ${kb.toFixed(1)} KB RSS each (client side${globalThis.gc ? '' : '; run with --expose-gc for the heap after a GC'})\n`);
    await stop();
  } finally {
    await broker.stop();
  }
}

const loadDevices = (): Promise<void> =>
  measure('LoadDevice (mqtt-packet)', async (port) => {
    const fleet = new LoadFleet({ host: '127.0.0.1', port, devices: creds });
    await fleet.start(120_000);
    return async () => fleet.stop();
  });
if (values['mqttjs-first'] !== true) await loadDevices();
await measure('SimDevice (mqtt.js)', async (port) => {
  const devices = creds.map((c) => new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${port}`, deviceId: c.deviceId, secret: c.secret, logger: silentLogger, heartbeatIntervalMs: 0 }));
  for (let i = 0; i < devices.length; i += 100) await Promise.all(devices.slice(i, i + 100).map((d) => d.start()));
  return async () => {
    await Promise.all(devices.map((d) => d.powerOff()));
  };
});
if (values['mqttjs-first'] === true) await loadDevices();
