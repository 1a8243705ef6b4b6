/**
 * The time-series writer against a real VictoriaMetrics (its InfluxDB v2
 * write API): readings reach it, a restart of the server loses nothing,
 * our restart replays the on-disk buffer, and the buffer stays bounded.
 */
import { systemClock } from '@kanjia/protocol';
import { readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TsdbTelemetry } from '../src/telemetry/tsdb-telemetry.js';
import { TsdbWriter, type TsdbWriterOptions } from '../src/telemetry/tsdb-writer.js';
import { tempDataDir, until } from './helpers.js';
import { freePort, haveVictoriaMetrics, recordingLogger, VictoriaMetrics } from './victoria-metrics.js';

const available = haveVictoriaMetrics();

const places = {
  device: (id: string) => (id.startsWith('kj-') ? { kind: 'coSensor', householdId: 'hh_1', villageId: 'vil_1' } : undefined),
  resident: () => ({ householdId: 'hh_1', villageId: 'vil_1' }),
};

describe.skipIf(!available)('time-series writer against a real victoria-metrics', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let vm: VictoriaMetrics;
  const writers: TsdbWriter[] = [];

  beforeEach(async () => {
    tmp = tempDataDir();
    vm = new VictoriaMetrics(await freePort(), join(tmp.dir, 'vm'));
    await vm.start();
  });

  afterEach(async () => {
    for (const w of writers.splice(0)) await w.stop();
    await vm.stop();
    tmp.cleanup();
  });

  function writer(overrides: Partial<TsdbWriterOptions> = {}, logger = recordingLogger()): TsdbWriter {
    const w = new TsdbWriter({
      url: vm.url,
      token: 'test-token-not-logged',
      org: 'county',
      bucket: 'kanjia',
      bufferDir: join(tmp.dir, 'tsdb-buffer'),
      clock: systemClock,
      logger,
      flushEveryMs: 50,
      minRetryDelayMs: 50,
      maxRetryDelayMs: 200,
      random: () => 1,
      ...overrides,
    });
    writers.push(w);
    return w;
  }

  /** CO readings of one device, one a second back from `startMs`, values 0..n-1. */
  function coReadings(telemetry: TsdbTelemetry, from: number, n: number, startMs: number): void {
    for (let i = from; i < from + n; i++) telemetry.reading('kj-co1', startMs + i * 1000, { coPpm: i, batteryPct: 80 });
  }

  it('sends readings through the v2 write API: one series per reading, tagged with device, kind, household and village ids', async () => {
    const w = writer();
    await w.start();
    const telemetry = new TsdbTelemetry(w, places, systemClock);
    const t0 = Date.now() - 3600_000;
    telemetry.reading('kj-co1', t0, { coPpm: 12.5, temperatureC: 18, motion: true });
    telemetry.reading('kj-co1', t0 + 1000, { coPpm: 30 });
    const co = await until('the CO readings in victoria-metrics', async () => {
      const series = await vm.export('kanjia_telemetry_co_ppm');
      return series[0]?.values.length === 2 ? series : undefined;
    }, 15_000);
    expect(co).toHaveLength(1);
    expect(co[0]?.metric).toEqual({ __name__: 'kanjia_telemetry_co_ppm', device: 'kj-co1', kind: 'coSensor', household: 'hh_1', village: 'vil_1' });
    expect(co[0]?.values).toEqual([12.5, 30]);
    expect(co[0]?.timestamps).toEqual([t0, t0 + 1000]);
    expect((await vm.export('kanjia_telemetry_temperature_c'))[0]?.values).toEqual([18]);
    expect((await vm.export('kanjia_telemetry_motion'))[0]?.values).toEqual([1]);
    expect(w.stats()).toMatchObject({ sentLines: 2, bufferedLines: 0, droppedLines: 0, serverUp: true });
  });

  it('loses nothing over a restart of victoria-metrics: 300 readings, 200 of them sent while it is stopped, all arrive once it is back, in one series', async () => {
    const logger = recordingLogger();
    const w = writer({}, logger);
    await w.start();
    const telemetry = new TsdbTelemetry(w, places, systemClock);
    const t0 = Date.now() - 3600_000;
    coReadings(telemetry, 0, 100, t0);
    await until('the first 100 in victoria-metrics', async () => ((await vm.sampleCount('kanjia_telemetry_co_ppm')) === 100 ? true : undefined), 15_000);
    await vm.stop();
    coReadings(telemetry, 100, 100, t0);
    await until('the writer to see the server gone', () => !w.stats().serverUp, 15_000);
    coReadings(telemetry, 200, 100, t0);
    await until('200 readings in the on-disk buffer', () => w.stats().bufferedLines === 200, 15_000);
    expect(logger.lines.filter((l) => l.level === 'warn' && /does not take writes/.test(l.msg ?? ''))).toHaveLength(1);
    await vm.start();
    await until('the buffer sent', () => w.stats().bufferedLines === 0 && w.stats().serverUp, 15_000);
    const series = await until('all 300 in victoria-metrics', async () => {
      const s = await vm.export('kanjia_telemetry_co_ppm');
      return s[0]?.values.length === 300 ? s : undefined;
    }, 15_000);
    expect(series[0]?.values).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(series[0]?.timestamps).toEqual(Array.from({ length: 300 }, (_, i) => t0 + i * 1000));
    expect(logger.lines.some((l) => l.level === 'info' && /takes writes again/.test(l.msg ?? ''))).toBe(true);
    // The token is the library's alone: no log line carries it.
    expect(JSON.stringify(logger.lines)).not.toContain('test-token-not-logged');
  });

  it('replays what an earlier run left in its buffer, oldest first, once the server is there: nothing lost over our own restart', async () => {
    await vm.stop();
    const first = writer();
    await first.start();
    const t0 = Date.now() - 7200_000;
    coReadings(new TsdbTelemetry(first, places, systemClock), 0, 50, t0);
    await until('the first run to buffer its batches', () => first.stats().bufferedLines === 50, 15_000);
    coReadings(new TsdbTelemetry(first, places, systemClock), 50, 25, t0);
    await first.stop(); // the 25 still in memory go to disk at stop
    const dir = join(tmp.dir, 'tsdb-buffer');
    const files = readdirSync(dir);
    expect(files.length).toBeGreaterThanOrEqual(2);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    for (const f of files) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);

    await vm.start();
    const logger = recordingLogger();
    const second = writer({}, logger);
    await second.start();
    expect(logger.lines.some((l) => /buffer from the last run/.test(l.msg ?? '') && (l.obj as { lines: number }).lines === 75)).toBe(true);
    const series = await until('the 75 replayed readings', async () => {
      const s = await vm.export('kanjia_telemetry_co_ppm');
      return s[0]?.values.length === 75 ? s : undefined;
    }, 15_000);
    expect(series[0]?.values).toEqual(Array.from({ length: 75 }, (_, i) => i));
    await until('the buffer emptied', () => second.stats().bufferedLines === 0 && readdirSync(dir).length === 0, 15_000);
  });

  it('keeps its buffer under the bound while the server is away: the oldest batches go, counted and logged once, the newest arrive', async () => {
    await vm.stop();
    const logger = recordingLogger();
    // About 60 bytes a line: 100-line batches of ~6 KB, a bound of 20 KB holds three.
    const w = writer({ maxBufferBytes: 20_000, batchLines: 100 }, logger);
    await w.start();
    const telemetry = new TsdbTelemetry(w, places, systemClock);
    const t0 = Date.now() - 3600_000;
    for (let batch = 0; batch < 10; batch++) {
      coReadings(telemetry, batch * 100, 100, t0);
      await until(`batch ${batch} on disk`, () => w.stats().bufferedLines + w.stats().droppedLines === (batch + 1) * 100, 15_000);
    }
    const stats = w.stats();
    expect(stats.bufferedBytes).toBeLessThanOrEqual(20_000);
    expect(stats.droppedLines).toBeGreaterThanOrEqual(600);
    expect(stats.droppedLines + stats.bufferedLines).toBe(1000);
    expect(logger.lines.filter((l) => /buffer full/.test(l.msg ?? ''))).toHaveLength(1);
    await vm.start();
    await until('the kept batches sent', () => w.stats().bufferedLines === 0 && w.stats().serverUp, 15_000);
    const series = await until('the newest readings', async () => {
      const s = await vm.export('kanjia_telemetry_co_ppm');
      return (s[0]?.values.length ?? 0) === stats.bufferedLines ? s : undefined;
    }, 15_000);
    // What arrived is the newest part, in order, up to the last reading.
    const values = series[0]?.values ?? [];
    expect(values[values.length - 1]).toBe(999);
    expect(values).toEqual(Array.from({ length: values.length }, (_, i) => 1000 - values.length + i));
  });
});

describe('time-series writer against a server that refuses a batch for good', () => {
  it('gives up a batch answered 400 (counted and logged), sends the next ones, and keeps a batch answered 401 until the token is taken', async () => {
    const tmp = tempDataDir();
    const answers = [400, 401, 204, 204];
    const bodies: string[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        const status = answers.shift() ?? 204;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(status === 204 ? '' : JSON.stringify({ code: status === 400 ? 'invalid' : 'unauthorized', message: 'refused' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const logger = recordingLogger();
    const w = new TsdbWriter({ url, token: 't', org: 'o', bucket: 'b', bufferDir: join(tmp.dir, 'buf'), clock: systemClock, logger, flushEveryMs: 20, minRetryDelayMs: 20, maxRetryDelayMs: 50 });
    try {
      await w.start();
      w.write('kanjia_telemetry,device=kj-1 co_ppm=1 1000');
      await until('the first batch refused', () => w.stats().rejectedLines === 1, 10_000);
      w.write('kanjia_telemetry,device=kj-1 co_ppm=2 2000');
      await until('the second batch sent after the 401', () => w.stats().sentLines === 1 && w.stats().bufferedLines === 0, 10_000);
      // 400: given up; 401: the same batch again, then taken.
      expect(bodies).toEqual(['kanjia_telemetry,device=kj-1 co_ppm=1 1000', 'kanjia_telemetry,device=kj-1 co_ppm=2 2000', 'kanjia_telemetry,device=kj-1 co_ppm=2 2000']);
      expect(logger.lines.filter((l) => l.level === 'error' && /refused a batch of readings for good/.test(l.msg ?? ''))).toHaveLength(1);
      expect(logger.lines.some((l) => l.level === 'warn' && /refuses the token/.test(l.msg ?? ''))).toBe(true);
    } finally {
      await w.stop();
      await new Promise((resolve) => server.close(resolve));
      tmp.cleanup();
    }
  });
});
