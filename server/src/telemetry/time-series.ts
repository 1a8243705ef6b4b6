/**
 * The time-series database as the composition root wires it, when
 * KANJIA_INFLUX_URL and its companions are set: the writer with its on-disk
 * buffer in `<dataDir>/tsdb-buffer`, the readings and signs of life tagged
 * with registry ids, and the resident card's chart read back from it.
 */
import { systemClock, type Clock, type Readings } from '@kanjia/protocol';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Settings } from '../config.js';
import type { Logger } from '../logger.js';
import type { SqliteRegistryStore } from '../registry/registry-store.js';
import { FluxActivityQuery, PrometheusActivityQuery, TsdbActivityChart, type ActivityChartSource, type ActivityLogReader } from './activity-chart.js';
import { TsdbTelemetry, type ActivityCounts } from './tsdb-telemetry.js';
import { safeUrl, TsdbWriter, type TsdbWriterStats } from './tsdb-writer.js';

/** Folder of the on-disk buffer in the data directory. */
export const TSDB_BUFFER_DIR = 'tsdb-buffer';
/** With a time-series database, SQLite keeps readings this long: the detectors replay 2 h; the rest is the database's. */
export const SQLITE_TELEMETRY_WINDOW_WITH_TSDB_MS = 3 * 24 * 3600_000;
/** In the buffer directory: which database was given the signs of life SQLite held (time-series.ts backfill). */
const BACKFILL_MARKER = '.activity-history-sent';
/** How long the card waits for the database before it reads SQLite. */
const CHART_TIMEOUT_MS = 3_000;

type InfluxSettings = NonNullable<Settings['influx']>;

export class TimeSeriesTelemetry {
  private readonly writer: TsdbWriter;
  private readonly points: TsdbTelemetry;
  private readonly bufferDir: string;

  constructor(
    private readonly settings: InfluxSettings,
    dataDir: string,
    registry: Pick<SqliteRegistryStore, 'device' | 'residentContext'>,
    clock: Clock,
    private readonly logger: Logger,
  ) {
    this.bufferDir = join(dataDir, TSDB_BUFFER_DIR);
    this.writer = new TsdbWriter({
      url: settings.url,
      token: settings.token,
      org: settings.org,
      bucket: settings.bucket,
      bufferDir: this.bufferDir,
      maxBufferBytes: settings.bufferMb * 1024 * 1024,
      // Batches and retries in the world's time: the server's outage and the disk are real even when the demo runs sped up.
      clock: systemClock,
      logger,
    });
    this.points = new TsdbTelemetry(
      this.writer,
      {
        device: (id) => {
          const d = registry.device(id);
          return d ? { kind: d.kind, householdId: d.householdId, villageId: d.villageId } : undefined;
        },
        resident: (id) => {
          const r = registry.residentContext(id);
          return r ? { householdId: r.householdId, villageId: r.villageId } : undefined;
        },
      },
      clock,
    );
  }

  /**
   * Opens the buffer (what an earlier run left goes first). The first start
   * with this database (url and bucket) also gives it the signs of life
   * SQLite already holds (`history`), so the card's chart does not start
   * empty the day the database is configured; a marker in the buffer
   * directory says it was done.
   */
  async start(history?: () => ReadonlyArray<ActivityCounts>): Promise<void> {
    await this.writer.start();
    if (history) await this.backfill(history);
    this.logger.info({ url: safeUrl(this.settings.url), org: this.settings.org, bucket: this.settings.bucket, query: this.settings.query, bufferMb: this.settings.bufferMb }, 'telemetry also goes to the time-series database');
  }

  stop(): Promise<void> {
    return this.writer.stop();
  }

  private async backfill(history: () => ReadonlyArray<ActivityCounts>): Promise<void> {
    const marker = join(this.bufferDir, BACKFILL_MARKER);
    const target = `${safeUrl(this.settings.url)} ${this.settings.org} ${this.settings.bucket}`;
    const done = await readFile(marker, 'utf8').catch(() => undefined);
    if (done?.trim() === target) return;
    try {
      const rows = history();
      this.points.activity(rows);
      await writeFile(marker, `${target}\n`, { mode: 0o600 });
      if (rows.length > 0) this.logger.info({ url: safeUrl(this.settings.url), counts: rows.length }, 'gave the time-series database the signs of life SQLite holds, for the resident card charts');
    } catch (err) {
      this.logger.warn({ err }, 'could not give the time-series database the signs of life SQLite holds; the card charts read SQLite for days before today');
    }
  }

  /** Never throws: the detectors are called after it with the same reading. */
  reading(deviceId: string, receivedAtMs: number, readings: Readings): void {
    try {
      this.points.reading(deviceId, receivedAtMs, readings);
    } catch (err) {
      this.failed(err);
    }
  }

  activity(rows: readonly ActivityCounts[]): void {
    try {
      this.points.activity(rows);
    } catch (err) {
      this.failed(err);
    }
  }

  private failedOnce = false;

  private failed(err: unknown): void {
    if (this.failedOnce) return;
    this.failedOnce = true;
    this.logger.error({ err }, 'a reading could not be made into line protocol for the time-series database (logged once)');
  }

  stats(): TsdbWriterStats {
    return this.writer.stats();
  }

  /** The resident card's chart from the database, SQLite when it cannot answer. */
  chart(log: ActivityLogReader): ActivityChartSource {
    const s = this.settings;
    const query = s.query === 'flux' ? new FluxActivityQuery(s.url, s.token, s.org, s.bucket, CHART_TIMEOUT_MS) : new PrometheusActivityQuery(s.url, s.token);
    return new TsdbActivityChart({ query, log, writer: this.writer, logger: this.logger, url: s.url, timeoutMs: CHART_TIMEOUT_MS });
  }
}
