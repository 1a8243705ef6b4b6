/**
 * Recent sensor readings in SQLite (the embedded telemetry store of
 * DESIGN.md), kept for `retentionMs` and pruned once an hour.
 *
 * Readings are gathered in memory and written many to a transaction (issue
 * 10: "telemetry writes batched"): every `flushEveryMs`, at once when
 * `batchRows` wait, and at stop. One fsync per batch instead of one per
 * message, and nothing of the alarm path waits for it: the detectors see a
 * reading as it arrives, the store only keeps it for the replay at start
 * and the card. A crash loses at most the last `flushEveryMs` of readings
 * here (never an alarm: the detectors keep their own state, and a
 * configured time-series database has its own buffer, telemetry/).
 *
 * While the database cannot write (locked, full) the batch goes through the
 * storage guard like any droppable write; at most `maxPendingRows` wait in
 * memory, the oldest given up first, counted and logged once per outage.
 */
import type { Clock, Readings, TimerHandle } from '@kanjia/protocol';
import type { Db } from '../db/database.js';
import { immediateWrites, type DurableWrites } from '../db/storage-guard.js';

export const DEFAULT_TELEMETRY_RETENTION_MS = 30 * 24 * 3600_000;
/** A second of readings per transaction: the replay at start is 2 h, a lost second does not change it. */
export const DEFAULT_TELEMETRY_FLUSH_MS = 1_000;
export const DEFAULT_TELEMETRY_BATCH_ROWS = 500;
/** About 20 s of a county's 1,000 readings/s (a few MB) while the database cannot write. */
export const DEFAULT_TELEMETRY_MAX_PENDING_ROWS = 20_000;

/** One reading message as it is stored. */
export interface TelemetryRow {
  deviceId: string;
  /** Server time of arrival, ms since epoch: what the rows are ordered and pruned by. */
  receivedAtMs: number;
  /** The device's own timestamp, ms since epoch. */
  deviceTs: number;
  readings: Readings;
}

export interface TelemetryStoreOptions {
  /** Timers of the batch, real time in the server (systemClock); without one, rows are written at once (a store used alone). */
  clock?: Clock;
  retentionMs?: number;
  flushEveryMs?: number;
  batchRows?: number;
  maxPendingRows?: number;
  /** Where the batch is written: the storage guard (kept and retried while locked or full). */
  writes?: DurableWrites;
  /** Rows given up: the database could not take them and too many waited. Called once per outage with the count so far. */
  onDropped?: (rows: number, err?: unknown) => void;
}

export class SqliteTelemetryStore {
  private lastPruneMs = 0;
  private pending: TelemetryRow[] = [];
  private timer: TimerHandle | undefined;
  private running = false;
  private flushQueued = false;
  /** Rows given up since the last batch that was written; reported once per outage. */
  private droppedInOutage = 0;
  private droppedTotal = 0;
  private readonly retentionMs: number;

  constructor(
    private readonly db: Db,
    private readonly options: TelemetryStoreOptions = {},
  ) {
    this.retentionMs = options.retentionMs ?? DEFAULT_TELEMETRY_RETENTION_MS;
  }

  start(): void {
    if (this.running || !this.options.clock) return;
    this.running = true;
    this.schedule();
  }

  /** Writes what is gathered; idempotent. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.options.clock?.clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  /** Keeps a reading: written with the next batch (at once when the store runs unbatched). */
  append(deviceId: string, receivedAtMs: number, deviceTs: number, readings: Readings): void {
    this.pending.push({ deviceId, receivedAtMs, deviceTs, readings });
    if (this.pending.length > (this.options.maxPendingRows ?? DEFAULT_TELEMETRY_MAX_PENDING_ROWS)) this.drop(1);
    if (!this.running) this.flush();
    else if (this.pending.length >= (this.options.batchRows ?? DEFAULT_TELEMETRY_BATCH_ROWS) && !this.flushQueued) {
      // After the caller's own transaction (the pipeline appends inside one): the batch is its own.
      this.flushQueued = true;
      queueMicrotask(() => {
        this.flushQueued = false;
        this.flush();
      });
    }
  }

  /** Rows given up since start (the database could not take them in time). */
  droppedRows(): number {
    return this.droppedTotal;
  }

  /** Rows gathered and not yet written. */
  pendingRows(): number {
    return this.pending.length;
  }

  /** Writes the gathered rows in one transaction (through the storage guard when there is one). */
  flush(): void {
    if (this.pending.length === 0) return;
    const rows = this.pending;
    this.pending = [];
    const insert = () => {
      const stmt = this.db.prepare('INSERT INTO telemetry (device_id, received_at, device_ts, readings_json) VALUES (?, ?, ?, ?)');
      this.db.transaction(() => {
        for (const r of rows) stmt.run(r.deviceId, r.receivedAtMs, r.deviceTs, JSON.stringify(r.readings));
      })();
      return rows.length;
    };
    const landed = () => {
      if (this.droppedInOutage > 0) this.droppedInOutage = 0;
      const last = rows[rows.length - 1];
      if (last && last.receivedAtMs - this.lastPruneMs > 3600_000) this.prunedQuietly(last.receivedAtMs);
    };
    const lost = (err: unknown) => {
      this.droppedTotal += rows.length;
      const first = this.droppedInOutage === 0;
      this.droppedInOutage += rows.length;
      if (first) this.options.onDropped?.(this.droppedInOutage, err);
    };
    try {
      const attempt = (this.options.writes ?? immediateWrites).attempt('telemetry batch', insert, { droppable: true });
      if ('pending' in attempt) attempt.pending.then(landed, lost);
      else landed();
    } catch (err) {
      lost(err);
    }
  }

  /** Readings of a device since `sinceMs`, oldest first, those not yet written included. */
  recent(deviceId: string, sinceMs: number): Array<{ receivedAtMs: number; readings: Readings }> {
    const rows = this.db.prepare('SELECT received_at, readings_json FROM telemetry WHERE device_id = ? AND received_at >= ? ORDER BY received_at').all(deviceId, sinceMs) as Array<{
      received_at: number;
      readings_json: string;
    }>;
    const out = rows.map((r) => ({ receivedAtMs: r.received_at, readings: JSON.parse(r.readings_json) as Readings }));
    for (const p of this.pending) if (p.deviceId === deviceId && p.receivedAtMs >= sinceMs) out.push({ receivedAtMs: p.receivedAtMs, readings: p.readings });
    return out.sort((a, b) => a.receivedAtMs - b.receivedAtMs);
  }

  prune(nowMs: number): number {
    this.lastPruneMs = nowMs;
    return this.db.prepare('DELETE FROM telemetry WHERE received_at < ?').run(nowMs - this.retentionMs).changes;
  }

  private prunedQuietly(nowMs: number): void {
    try {
      this.prune(nowMs);
    } catch {
      // Locked or full: the next batch an hour on tries again (lastPruneMs is set first).
    }
  }

  /** Gives up the oldest `n` gathered rows (too many wait). */
  private drop(n: number): void {
    this.pending.splice(0, n);
    this.droppedTotal += n;
    const first = this.droppedInOutage === 0;
    this.droppedInOutage += n;
    if (first) this.options.onDropped?.(this.droppedInOutage);
  }

  private schedule(): void {
    const clock = this.options.clock;
    if (!this.running || !clock) return;
    this.timer = clock.setTimeout(() => {
      try {
        this.flush();
      } finally {
        this.schedule();
      }
    }, this.options.flushEveryMs ?? DEFAULT_TELEMETRY_FLUSH_MS);
  }
}
