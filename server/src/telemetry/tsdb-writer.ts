/**
 * Writes line protocol to a time-series database over the InfluxDB v2 write
 * API (`POST /api/v2/write`: InfluxDB 2, or VictoriaMetrics, which takes the
 * same protocol), through `@influxdata/influxdb-client`.
 *
 * What the library gives: the HTTP write with token, org, bucket and
 * precision; gzip of large bodies; which failures are worth a retry
 * (`HttpError.canRetry`, with the server's Retry-After). What it does not:
 * its retry buffer (`maxBufferLines`, `maxRetries`, `writeFailed`) lives in
 * memory, so a restart of Kanjia during an outage would lose it. So the
 * library sends each batch once (`maxRetries: 0`), and this class adds:
 *
 * - batching: lines gathered for `flushEveryMs` or `batchLines`, then
 * - the on-disk buffer (line-spool.ts): the batch is written there before
 *   the first attempt and removed when the server took it; replayed in order
 *   at start; bounded by `maxBufferBytes`, the oldest given up with a log
 *   line and a counter;
 * - one batch in flight at a time, oldest first, so the server sees the
 *   readings in the order they came;
 * - retry with exponential backoff and jitter (`minRetryDelayMs` doubling to
 *   `maxRetryDelayMs`, or the server's Retry-After) for as long as the server
 *   is away; one log line when it goes away and one when it is back;
 * - a batch the server refuses for good (400 malformed, 413 too large, 422)
 *   is removed and counted, not retried forever behind the rest. A refused
 *   token (401/403) is not the data's fault: kept and retried.
 *
 * The token is given to the library only and never logged; the URL is logged
 * without user or password.
 */
import { HttpError, InfluxDB, setLogger, type WriteApi } from '@influxdata/influxdb-client';
import type { Clock, TimerHandle } from '@kanjia/protocol';
import type { Logger } from '../logger.js';
import { LineSpool, type SpoolSegment } from './line-spool.js';

export interface TsdbWriterOptions {
  url: string;
  token?: string | undefined;
  org: string;
  bucket: string;
  /** Directory of the on-disk buffer (private, in the data directory). */
  bufferDir: string;
  clock: Clock;
  logger: Logger;
  /** Bytes of line protocol the buffer keeps at most while the server is away (default 256 MiB). */
  maxBufferBytes?: number;
  flushEveryMs?: number;
  batchLines?: number;
  minRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Deadline of one write request. */
  timeoutMs?: number;
  /** 0..1 for the jitter of a retry delay (tests pass a fixed one). */
  random?: () => number;
}

export interface TsdbWriterStats {
  /** Lines the server has taken since start. */
  sentLines: number;
  /** Lines waiting in memory for the next batch. */
  pendingLines: number;
  /** Lines in the on-disk buffer (sent or not yet). */
  bufferedLines: number;
  bufferedBytes: number;
  bufferedBatches: number;
  /** Lines given up because the buffer was full (the oldest first), since start. */
  droppedLines: number;
  /** Lines the server refused for good (malformed, too large), since start. */
  rejectedLines: number;
  /** False while the last attempt failed. */
  serverUp: boolean;
}

export const DEFAULT_TSDB_BUFFER_BYTES = 256 * 1024 * 1024;
const DEFAULT_FLUSH_MS = 1_000;
const DEFAULT_BATCH_LINES = 5_000;
const DEFAULT_MIN_RETRY_MS = 1_000;
const DEFAULT_MAX_RETRY_MS = 60_000;
/** How long a stop waits for a send under way (real time: a stop must not hang on a silent server). */
const STOP_GRACE_MS = 2_000;
/** Refusals of the data itself: sending the batch again cannot help. */
const REFUSED_FOR_GOOD = new Set([400, 413, 422]);

let libraryLoggerSet = false;

export class TsdbWriter {
  private readonly spool: LineSpool;
  private readonly api: WriteApi;
  private pending: string[] = [];
  private flushTimer: TimerHandle | undefined;
  private retryTimer: TimerHandle | undefined;
  private running = false;
  private sending: Promise<void> | undefined;
  /** Writes to the spool, in order. */
  private spooling: Promise<void> = Promise.resolve();
  private retryDelayMs = 0;
  private serverUp = true;
  private downSinceMs: number | undefined;
  private sentLines = 0;
  private droppedLines = 0;
  private droppedInOutage = 0;
  private rejectedLines = 0;
  private readonly where: string;

  constructor(private readonly options: TsdbWriterOptions) {
    this.spool = new LineSpool(options.bufferDir, options.maxBufferBytes ?? DEFAULT_TSDB_BUFFER_BYTES);
    const influx = new InfluxDB({ url: options.url, ...(options.token ? { token: options.token } : {}), timeout: options.timeoutMs ?? 10_000 });
    this.api = influx.getWriteApi(options.org, options.bucket, 'ms', {
      // One request per batch of ours, sent once: the retries and the buffer are this class's.
      batchSize: (options.batchLines ?? DEFAULT_BATCH_LINES) + 1,
      flushInterval: 0,
      maxRetries: 0,
      maxBufferLines: (options.batchLines ?? DEFAULT_BATCH_LINES) + 1,
      gzipThreshold: 64 * 1024,
      writeFailed: () => undefined,
    });
    this.where = safeUrl(options.url);
    if (!libraryLoggerSet) {
      libraryLoggerSet = true;
      // The library prints its errors on the console by default; they come back to us through flush() anyway.
      setLogger({ error: () => undefined, warn: () => undefined });
    }
  }

  /** Opens the buffer and sends what an earlier run left in it, oldest first. */
  async start(): Promise<void> {
    if (this.running) return;
    const left = await this.spool.open();
    this.running = true;
    if (left.length > 0) {
      const size = this.spool.size();
      this.options.logger.info({ url: this.where, lines: size.lines, batches: size.segments, bytes: size.bytes }, 'time-series buffer from the last run: sending it first, oldest first');
    }
    this.scheduleFlush();
    this.pump();
  }

  /** Puts what is gathered on disk and waits for a send under way; the buffer is sent by the next start. Idempotent. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.options.clock.clearTimeout(this.flushTimer);
    this.options.clock.clearTimeout(this.retryTimer);
    this.flushTimer = undefined;
    this.retryTimer = undefined;
    this.cut();
    await this.spooling;
    // A send under way gets a short grace; one that hangs on a silent server is left: its batch stays on disk for the next start.
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([this.sending, new Promise<void>((resolve) => (grace = setTimeout(resolve, STOP_GRACE_MS)))]);
    clearTimeout(grace);
    await Promise.race([this.api.close().catch(() => undefined), new Promise<void>((resolve) => (grace = setTimeout(resolve, STOP_GRACE_MS)))]);
    clearTimeout(grace);
  }

  /** One line of line protocol, sent with the next batch. */
  write(line: string): void {
    this.pending.push(line);
    if (this.pending.length >= (this.options.batchLines ?? DEFAULT_BATCH_LINES)) this.cut();
  }

  stats(): TsdbWriterStats {
    const size = this.spool.size();
    return {
      sentLines: this.sentLines,
      pendingLines: this.pending.length,
      bufferedLines: size.lines,
      bufferedBytes: size.bytes,
      bufferedBatches: size.segments,
      droppedLines: this.droppedLines,
      rejectedLines: this.rejectedLines,
      serverUp: this.serverUp,
    };
  }

  /** The server is away, or more than a couple of batches wait to be sent: what it holds is behind. */
  isBehind(): boolean {
    return !this.serverUp || this.spool.size().segments > 2;
  }

  /** The gathered lines become a batch on disk, then the sender is woken. */
  private cut(): void {
    if (this.pending.length === 0) return;
    const lines = this.pending;
    this.pending = [];
    this.spooling = this.spooling
      .then(() => this.spool.append(lines))
      .then(
        (dropped) => {
          if (dropped.lines > 0) this.noteDropped(dropped.lines, dropped.segments);
          this.pump();
        },
        (err: unknown) => {
          // The disk refused the batch (full, read-only): these lines are lost to the time-series database; SQLite keeps its recent window.
          this.droppedLines += lines.length;
          this.options.logger.error({ err, lines: lines.length, dir: this.spool.dir }, 'could not write the time-series buffer: these readings will not reach the time-series database');
        },
      );
  }

  private noteDropped(lines: number, batches: number): void {
    this.droppedLines += lines;
    const first = this.droppedInOutage === 0;
    this.droppedInOutage += lines;
    if (first) {
      this.options.logger.warn(
        { url: this.where, droppedLines: lines, droppedBatches: batches, maxBufferBytes: this.options.maxBufferBytes ?? DEFAULT_TSDB_BUFFER_BYTES, droppedSinceStart: this.droppedLines },
        'time-series buffer full: giving up the oldest readings to keep the newest (raise KANJIA_INFLUX_BUFFER_MB or bring the server back); counted until it takes writes again',
      );
    }
  }

  /** Sends the oldest batch unless one is under way or a retry is waiting. */
  private pump(): void {
    if (!this.running || this.sending || this.retryTimer !== undefined) return;
    const segment = this.spool.take();
    if (!segment) return;
    this.sending = this.send(segment).finally(() => {
      this.sending = undefined;
      this.pump();
    });
  }

  private async send(segment: SpoolSegment): Promise<void> {
    let lines: string[];
    try {
      lines = await this.spool.read(segment);
    } catch (err) {
      this.options.logger.error({ err, batch: segment.name }, 'time-series buffer: a batch could not be read; giving it up');
      this.rejectedLines += segment.lines;
      await this.spool.remove(segment).catch(() => undefined);
      return;
    }
    try {
      this.api.writeRecords(lines);
      await this.api.flush();
    } catch (err) {
      this.spool.release();
      const status = err instanceof HttpError ? err.statusCode : undefined;
      if (status !== undefined && REFUSED_FOR_GOOD.has(status)) {
        this.rejectedLines += segment.lines;
        this.options.logger.error({ url: this.where, status, lines: segment.lines, reason: shortReason(err) }, 'the time-series database refused a batch of readings for good; giving it up');
        await this.spool.remove(segment).catch(() => undefined);
        return;
      }
      this.failed(err, status);
      return;
    }
    this.sentLines += segment.lines;
    await this.spool.remove(segment).catch((err: unknown) => this.options.logger.warn({ err, batch: segment.name }, 'time-series buffer: a sent batch could not be removed; it will be sent again'));
    if (!this.serverUp) {
      const size = this.spool.size();
      this.options.logger.info(
        { url: this.where, downForMs: this.options.clock.nowMs() - (this.downSinceMs ?? this.options.clock.nowMs()), stillBuffered: size.lines, droppedDuringOutage: this.droppedInOutage },
        'time-series database takes writes again: sending the buffer',
      );
    }
    this.serverUp = true;
    this.downSinceMs = undefined;
    this.retryDelayMs = 0;
    this.droppedInOutage = 0;
  }

  private failed(err: unknown, status: number | undefined): void {
    const now = this.options.clock.nowMs();
    if (this.serverUp) {
      this.serverUp = false;
      this.downSinceMs = now;
      this.options.logger.warn(
        { url: this.where, status, reason: shortReason(err) },
        status === 401 || status === 403
          ? 'the time-series database refuses the token (KANJIA_INFLUX_TOKEN): readings are kept in its buffer and retried'
          : 'the time-series database does not take writes: readings are kept in its on-disk buffer and retried with backoff',
      );
    }
    const min = this.options.minRetryDelayMs ?? DEFAULT_MIN_RETRY_MS;
    const max = this.options.maxRetryDelayMs ?? DEFAULT_MAX_RETRY_MS;
    this.retryDelayMs = Math.min(max, this.retryDelayMs === 0 ? min : this.retryDelayMs * 2);
    const retryAfterMs = err instanceof HttpError ? err.retryAfter() : 0;
    // Full jitter on the upper half: many servers of a county coming back do not all retry in the same second.
    const jitter = 0.5 + 0.5 * (this.options.random ?? Math.random)();
    const delay = Math.max(Math.round(this.retryDelayMs * jitter), Math.min(max, retryAfterMs));
    if (!this.running) return;
    this.retryTimer = this.options.clock.setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, delay);
  }

  private scheduleFlush(): void {
    if (!this.running) return;
    this.flushTimer = this.options.clock.setTimeout(() => {
      this.cut();
      this.scheduleFlush();
    }, this.options.flushEveryMs ?? DEFAULT_FLUSH_MS);
  }
}

/** The URL without user, password or query (a token may hide in either). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function shortReason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
