/**
 * Where the resident card's 7-day chart comes from: the SQLite activity log
 * (the embedded default), or the time-series database when one is
 * configured, read back through
 *
 * - `prometheus`: the Prometheus query API (`GET /api/v1/query` with a range
 *   selector, which answers with the raw samples), spoken by
 *   VictoriaMetrics: tested here against a real victoria-metrics;
 * - `flux`: InfluxDB 2's Flux through the client's QueryApi: built against
 *   InfluxDB's documented API, not tested against a live InfluxDB here
 *   (Debian has no InfluxDB 2 package).
 *
 * Both give the same points (the activity log's flushes, tsdb-points.ts),
 * folded into the same days as the SQLite log (activity-log.ts
 * activityDays), with the counts the log has not written yet on top: the
 * answer has the same shape and the same meaning whichever store it came
 * from. When the database does not answer within `timeoutMs`, or its writer
 * is behind (the server away, a backlog in the buffer), the chart comes
 * from SQLite, said once in the log (and once when it answers again).
 */
import { InfluxDB, flux, type QueryApi } from '@influxdata/influxdb-client';
import type { ActivityDay } from '@kanjia/protocol';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { activityDays, firstChartMs, slotStartOf, type SlotCount } from '../pipeline/activity-log.js';
import { ACTIVITY_MEASUREMENT, ACTIVITY_SERIES } from './tsdb-points.js';
import { safeUrl } from './tsdb-writer.js';

/** What the card route needs: the last `days` local days of a resident. */
export interface ActivityChartSource {
  days(residentId: string, timeZone: string, nowMs: number, days?: number): ActivityDay[] | Promise<ActivityDay[]>;
}

/** The SQLite activity log as the chart's fallback and the source of what is not written yet. */
export interface ActivityLogReader {
  days(residentId: string, timeZone: string, nowMs: number, days?: number): ActivityDay[];
  unwritten(residentId: string, sinceMs: number): SlotCount[];
}

/** One point of `kanjia_activity`: counted signs of life at the time of the first. */
export interface ActivityPoint {
  atMs: number;
  signs: number;
}

export interface ActivityPointsQuery {
  readonly language: 'prometheus' | 'flux';
  /** Points of one resident in [fromMs, toMs]. */
  points(residentId: string, fromMs: number, toMs: number, signal: AbortSignal): Promise<ActivityPoint[]>;
}

/** Resident ids are ours (`res_…`); anything else is refused before it reaches a query. */
const RESIDENT_ID = /^[A-Za-z0-9_-]{1,64}$/;

const PromMatrix = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('matrix'),
    result: z.array(z.object({ metric: z.record(z.string(), z.string()), values: z.array(z.tuple([z.number(), z.string()])) })),
  }),
});

/** The Prometheus query API (VictoriaMetrics, or Prometheus itself fed by a remote write). */
export class PrometheusActivityQuery implements ActivityPointsQuery {
  readonly language = 'prometheus';

  constructor(
    private readonly url: string,
    private readonly token?: string,
  ) {}

  async points(residentId: string, fromMs: number, toMs: number, signal: AbortSignal): Promise<ActivityPoint[]> {
    if (!RESIDENT_ID.test(residentId)) throw new Error('not a resident id');
    // A range selector as the whole query returns the raw samples of (time - range, time].
    const rangeS = Math.ceil((toMs - fromMs) / 1000) + 1;
    const body = new URLSearchParams({ query: `${ACTIVITY_SERIES}{resident="${residentId}"}[${rangeS}s]`, time: (toMs / 1000).toFixed(3) });
    const res = await fetch(new URL('api/v1/query', this.url.endsWith('/') ? this.url : `${this.url}/`), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      body,
      signal,
    });
    if (!res.ok) throw new Error(`query API answered ${res.status}`);
    const parsed = PromMatrix.safeParse(await res.json());
    if (!parsed.success) throw new Error(`query API answered something else than a matrix: ${parsed.error.issues[0]?.message ?? ''}`);
    const out: ActivityPoint[] = [];
    // A resident whose household moved has a series per place: all of them count.
    for (const series of parsed.data.data.result) {
      for (const [ts, value] of series.values) {
        const atMs = Math.round(ts * 1000);
        const signs = Number(value);
        if (atMs >= fromMs && atMs <= toMs && Number.isFinite(signs)) out.push({ atMs, signs });
      }
    }
    return out;
  }
}

/** InfluxDB 2 through Flux (QueryApi). Not tested against a live InfluxDB here: see the README. */
export class FluxActivityQuery implements ActivityPointsQuery {
  readonly language = 'flux';
  private readonly api: QueryApi;

  constructor(
    url: string,
    token: string | undefined,
    org: string,
    private readonly bucket: string,
    timeoutMs: number,
  ) {
    this.api = new InfluxDB({ url, ...(token ? { token } : {}), timeout: timeoutMs }).getQueryApi(org);
  }

  /** The Flux text of a query, for the test of its shape. */
  query(residentId: string, fromMs: number, toMs: number): ReturnType<typeof flux> {
    const start = new Date(fromMs).toISOString();
    const stop = new Date(toMs + 1).toISOString();
    return flux`from(bucket: ${this.bucket})
  |> range(start: time(v: ${start}), stop: time(v: ${stop}))
  |> filter(fn: (r) => r._measurement == ${ACTIVITY_MEASUREMENT} and r._field == "signs" and r.resident == ${residentId})
  |> group()
  |> keep(columns: ["_time", "_value"])`;
  }

  async points(residentId: string, fromMs: number, toMs: number, signal: AbortSignal): Promise<ActivityPoint[]> {
    if (!RESIDENT_ID.test(residentId)) throw new Error('not a resident id');
    if (signal.aborted) throw new Error('aborted');
    // The client's own timeout (given at construction) bounds the request; the chart's caller races it too.
    const rows = await this.api.collectRows<{ _time: string; _value: number }>(this.query(residentId, fromMs, toMs));
    const out: ActivityPoint[] = [];
    for (const row of rows) {
      const atMs = Date.parse(row._time);
      const signs = Number(row._value);
      if (Number.isFinite(atMs) && Number.isFinite(signs)) out.push({ atMs, signs });
    }
    return out;
  }
}

export interface TsdbActivityChartOptions {
  query: ActivityPointsQuery;
  log: ActivityLogReader;
  /** The writer: while it is behind, the database does not hold the last readings yet. */
  writer?: { isBehind(): boolean };
  logger: Logger;
  url: string;
  /** How long the card waits for the database before it reads SQLite (default 3 s). */
  timeoutMs?: number;
}

export class TsdbActivityChart implements ActivityChartSource {
  private failing: string | undefined;

  constructor(private readonly options: TsdbActivityChartOptions) {}

  async days(residentId: string, timeZone: string, nowMs: number, days = 7): Promise<ActivityDay[]> {
    const { query, log, writer } = this.options;
    if (writer?.isBehind()) return this.fallback('the time-series writer is behind (server away or a backlog in its buffer)', residentId, timeZone, nowMs, days);
    const fromMs = firstChartMs(timeZone, nowMs, days);
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new Error('no answer in time'));
      }, this.options.timeoutMs ?? 3_000);
    });
    let points: ActivityPoint[];
    try {
      points = await Promise.race([query.points(residentId, fromMs, nowMs, abort.signal), deadline]);
    } catch (err) {
      return this.fallback(abort.signal.aborted ? 'no answer in time' : (err as Error).message, residentId, timeZone, nowMs, days);
    } finally {
      clearTimeout(timer);
    }
    if (this.failing !== undefined) {
      this.failing = undefined;
      this.options.logger.info({ url: safeUrl(this.options.url), query: query.language }, 'the time-series database answers again: the resident card reads its chart from it');
    }
    const rows: SlotCount[] = points.map((p) => ({ slotStart: slotStartOf(timeZone, p.atMs), signs: p.signs, firstAt: p.atMs }));
    rows.push(...log.unwritten(residentId, fromMs));
    return activityDays(rows, timeZone, nowMs, days);
  }

  private fallback(reason: string, residentId: string, timeZone: string, nowMs: number, days: number): ActivityDay[] {
    if (this.failing === undefined) {
      this.failing = reason;
      this.options.logger.warn({ url: safeUrl(this.options.url), query: this.options.query.language, reason }, 'the resident card reads its chart from SQLite: the time-series database cannot give it now');
    }
    return this.options.log.days(residentId, timeZone, nowMs, days);
  }
}
