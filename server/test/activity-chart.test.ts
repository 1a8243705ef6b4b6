/**
 * The resident card's 7-day chart read from the time-series database: the
 * same days as the SQLite activity log for the same signs of life (read
 * back from a real victoria-metrics through its Prometheus query API), the
 * SQLite log when the database does not answer or its writer is behind, and
 * the Flux query's request and answer as InfluxDB 2 documents them.
 */
import { FakeClock, systemClock } from '@kanjia/protocol';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/database.js';
import type { Db } from '../src/db/database.js';
import { SqliteActivityLog } from '../src/pipeline/activity-log.js';
import { FluxActivityQuery, PrometheusActivityQuery, TsdbActivityChart } from '../src/telemetry/activity-chart.js';
import { TsdbTelemetry } from '../src/telemetry/tsdb-telemetry.js';
import { TsdbWriter } from '../src/telemetry/tsdb-writer.js';
import { tempDataDir, until } from './helpers.js';
import { freePort, haveVictoriaMetrics, recordingLogger, VictoriaMetrics } from './victoria-metrics.js';

const available = haveVictoriaMetrics();
const ZONE = 'Asia/Shanghai';
const HOUR = 3600_000;
const places = { device: () => undefined, resident: () => ({ householdId: 'hh_1', villageId: 'vil_1' }) };

/** Signs of life over six days: mornings from 05:40 (and a 02:10 toilet trip), a busy noon, in several flushes per half hour. */
function liveSixDays(log: SqliteActivityLog, residentId: string, nowMs: number): number {
  const local = nowMs + 8 * HOUR; // Asia/Shanghai is UTC+8, no DST
  const dayStart = local - (local % (24 * HOUR)) - 8 * HOUR; // 00:00 there today
  let flushes = 0;
  for (let d = 6; d >= 1; d--) {
    const day = dayStart - d * 24 * HOUR;
    log.record(residentId, ZONE, day + 2 * HOUR + 10 * 60_000);
    log.flush();
    flushes++;
    for (const [h, m, n] of [[5, 40 + d, 3], [5, 55, 2], [12, 0, 4], [12, 20, 1], [19, 45, 2]] as const) {
      for (let i = 0; i < n; i++) log.record(residentId, ZONE, day + h * HOUR + m * 60_000 + i * 1000);
      // Two flushes within one half hour: two points of one slot in the time-series database.
      log.flush();
      flushes++;
    }
  }
  return flushes;
}

describe.skipIf(!available)('the resident card chart from victoria-metrics', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let vm: VictoriaMetrics;
  let db: Db;
  let writer: TsdbWriter;

  beforeEach(async () => {
    tmp = tempDataDir();
    vm = new VictoriaMetrics(await freePort(), join(tmp.dir, 'vm'));
    await vm.start();
    db = openDatabase(join(tmp.dir, 'kanjia.sqlite'));
    writer = new TsdbWriter({ url: vm.url, org: 'county', bucket: 'kanjia', bufferDir: join(tmp.dir, 'tsdb-buffer'), clock: systemClock, logger: recordingLogger(), flushEveryMs: 20, minRetryDelayMs: 20, maxRetryDelayMs: 100 });
    await writer.start();
  });

  afterEach(async () => {
    await writer.stop();
    await vm.stop();
    db.close();
    tmp.cleanup();
  });

  it('gives the same 7 days as the SQLite log for the same signs of life (slots, getting-up minute, the counts not written yet)', async () => {
    const now = Date.now();
    const clock = new FakeClock(now);
    const points = new TsdbTelemetry(writer, places, clock);
    const log = new SqliteActivityLog(db, clock, 60_000, undefined, undefined, (rows) => points.activity(rows));
    const flushes = liveSixDays(log, 'res_a', now);
    // Signs of another resident stay out of her chart.
    log.record('res_b', ZONE, now - 2 * HOUR);
    log.flush();
    await until('every point in victoria-metrics', async () => ((await vm.sampleCount('kanjia_activity_signs{resident="res_a"}')) === flushes ? true : undefined), 15_000);
    // Written by nobody yet: the chart shows it from the log's memory in both cases.
    log.record('res_a', ZONE, now - 1000);

    const chart = new TsdbActivityChart({ query: new PrometheusActivityQuery(vm.url), log, writer, logger: recordingLogger(), url: vm.url });
    const fromTsdb = await chart.days('res_a', ZONE, now, 7);
    const fromSqlite = log.days('res_a', ZONE, now, 7);
    expect(fromTsdb).toEqual(fromSqlite);
    // Not two empty charts: six mornings with a getting-up time after 04:00 (not the 02:10 trip).
    expect(fromTsdb.slice(0, 6).map((d) => d.firstMin)).toEqual([346, 345, 344, 343, 342, 341]);
    expect(fromTsdb[0]?.slots[24]).toBe(5); // 12:00–12:30: 4 + 1 in two flushes
    expect(fromTsdb[6]?.slots.reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('reads SQLite, said once in the log, while victoria-metrics is stopped, and the database again once it is back', async () => {
    const now = Date.now();
    const clock = new FakeClock(now);
    const points = new TsdbTelemetry(writer, places, clock);
    const log = new SqliteActivityLog(db, clock, 60_000, undefined, undefined, (rows) => points.activity(rows));
    liveSixDays(log, 'res_a', now);
    const logger = recordingLogger();
    const chart = new TsdbActivityChart({ query: new PrometheusActivityQuery(vm.url), log, logger, url: vm.url, timeoutMs: 2000 });
    await vm.stop();
    expect(await chart.days('res_a', ZONE, now, 7)).toEqual(log.days('res_a', ZONE, now, 7));
    expect(await chart.days('res_a', ZONE, now, 7)).toEqual(log.days('res_a', ZONE, now, 7));
    expect(logger.lines.filter((l) => l.level === 'warn' && /reads its chart from SQLite/.test(l.msg ?? ''))).toHaveLength(1);
    await vm.start();
    await chart.days('res_a', ZONE, now, 7);
    expect(logger.lines.some((l) => l.level === 'info' && /answers again/.test(l.msg ?? ''))).toBe(true);
  });
});

describe('the resident card chart source without a live server', () => {
  it('reads SQLite without asking the database while the writer is behind', async () => {
    const tmp = tempDataDir();
    const db = openDatabase(join(tmp.dir, 'kanjia.sqlite'));
    try {
      const clock = new FakeClock(Date.now());
      const log = new SqliteActivityLog(db, clock);
      log.record('res_a', ZONE, clock.nowMs() - HOUR);
      let asked = 0;
      const query = { language: 'prometheus' as const, points: async () => (asked++, []) };
      const chart = new TsdbActivityChart({ query, log, writer: { isBehind: () => true }, logger: recordingLogger(), url: 'http://127.0.0.1:1' });
      const days = await chart.days('res_a', ZONE, clock.nowMs(), 7);
      expect(days).toEqual(log.days('res_a', ZONE, clock.nowMs(), 7));
      expect(days[6]?.slots.reduce((a, b) => a + b, 0)).toBe(1);
      expect(asked).toBe(0);
    } finally {
      db.close();
      tmp.cleanup();
    }
  });

  describe('Flux (InfluxDB 2 query API as documented; no live InfluxDB here)', () => {
    let server: Server;
    let url: string;
    const requests: Array<{ path: string; auth: string | undefined; body: { query?: string } }> = [];

    beforeEach(async () => {
      requests.length = 0;
      server = createServer((req: IncomingMessage, res) => {
        let text = '';
        req.on('data', (c: Buffer) => (text += c.toString()));
        req.on('end', () => {
          requests.push({ path: req.url ?? '', auth: req.headers.authorization, body: JSON.parse(text) as { query?: string } });
          res.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' });
          // Annotated CSV, as /api/v2/query answers with the default dialect.
          res.end(
            [
              '#datatype,string,long,dateTime:RFC3339,long',
              '#group,false,false,false,false',
              '#default,_result,,,',
              ',result,table,_time,_value',
              ',,0,2026-12-01T22:05:00Z,3',
              ',,0,2026-12-02T04:10:00Z,2',
              '',
            ].join('\r\n'),
          );
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    });

    afterEach(async () => {
      await new Promise((resolve) => server.close(resolve));
    });

    it('asks /api/v2/query of the org with the token for one resident\'s signs, and folds the answer into days', async () => {
      const query = new FluxActivityQuery(url, 'flux-token', 'county', 'kanjia', 3000);
      const tmp = tempDataDir();
      const db = openDatabase(join(tmp.dir, 'kanjia.sqlite'));
      try {
        const log = new SqliteActivityLog(db, new FakeClock(0));
        const chart = new TsdbActivityChart({ query, log, logger: recordingLogger(), url });
        const now = Date.parse('2026-12-02T10:00:00Z'); // 18:00 in Shanghai
        const days = await chart.days('res_a', ZONE, now, 7);
        expect(requests).toHaveLength(1);
        expect(requests[0]?.path).toBe('/api/v2/query?org=county');
        expect(requests[0]?.auth).toBe('Token flux-token');
        const flux = requests[0]?.body.query ?? '';
        expect(flux).toContain('from(bucket: "kanjia")');
        expect(flux).toContain('r._measurement == "kanjia_activity"');
        expect(flux).toContain('r.resident == "res_a"');
        // 2026-12-01T22:05Z is 06:05 on the 2nd in Shanghai; 04:10Z is 12:10.
        expect(days[6]).toMatchObject({ date: '2026-12-02', firstMin: 365 });
        expect(days[6]?.slots[12]).toBe(3);
        expect(days[6]?.slots[24]).toBe(2);
      } finally {
        db.close();
        tmp.cleanup();
      }
    });
  });
});
