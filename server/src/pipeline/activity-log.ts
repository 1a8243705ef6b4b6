/**
 * Signs of life per resident and local half hour, as the pipeline passes them
 * to the inactivity detector, for the resident card's chart ("she is usually
 * up at 6, today nothing"). Counts are gathered in memory and written in one
 * transaction every `flushEveryMs` (and at stop): one fsync a minute instead of
 * one per motion report; a crash loses at most that minute of the chart, never
 * an alarm (the detectors keep their own state).
 */
import { type ActivityDay, type Clock, type TimerHandle, DAY_MS, fromLocalMs, localDayMinute, toLocalMs } from '@kanjia/protocol';
import type { Db } from '../db/database.js';

const SLOT_MS = 30 * 60_000;
const SLOTS_PER_DAY = 48;
export const DEFAULT_ACTIVITY_RETENTION_MS = 35 * DAY_MS;
/** The "first sign of life" of a day counts from 04:00: a toilet trip at 02:00 is not getting up. */
const DAY_STARTS_MIN = 4 * 60;

export interface Pending {
  residentId: string;
  slotStart: number;
  signs: number;
  firstAt: number;
}

/** Signs of life counted in one half hour (a row of activity_slots). */
export interface SlotCount {
  slotStart: number;
  signs: number;
  firstAt: number;
}

/** The start of the local half hour holding `atMs`: a local :00 or :30 (zones with a :45 offset too). */
export function slotStartOf(timeZone: string, atMs: number): number {
  return atMs - (((toLocalMs(timeZone, atMs) % SLOT_MS) + SLOT_MS) % SLOT_MS);
}

/** The first moment the chart of the last `days` local days shows (local midnight). */
export function firstChartMs(timeZone: string, nowMs: number, days: number): number {
  return fromLocalMs(timeZone, (localDayMinute(timeZone, nowMs).day - days + 1) * DAY_MS);
}

/** The chart of the last `days` local days, oldest first, from counts per half hour (any order; one slot may come in several parts). */
export function activityDays(rows: readonly SlotCount[], timeZone: string, nowMs: number, days: number): ActivityDay[] {
  const today = localDayMinute(timeZone, nowMs).day;
  const firstDay = today - days + 1;
  const out: ActivityDay[] = [];
  for (let d = firstDay; d <= today; d++) {
    out.push({ date: new Date(d * DAY_MS).toISOString().slice(0, 10), slots: new Array<number>(SLOTS_PER_DAY).fill(0), firstMin: null });
  }
  for (const r of rows) {
    const { day, minute } = localDayMinute(timeZone, r.slotStart);
    const entry = out[day - firstDay];
    if (!entry) continue;
    const slot = Math.floor(minute / 30);
    entry.slots[slot] = (entry.slots[slot] ?? 0) + r.signs;
    const first = localDayMinute(timeZone, r.firstAt).minute;
    if (first >= DAY_STARTS_MIN && (entry.firstMin === null || first < entry.firstMin)) entry.firstMin = first;
  }
  return out;
}

export class SqliteActivityLog {
  private readonly pending = new Map<string, Pending>();
  private timer: TimerHandle | undefined;
  private running = false;
  private lastPruneMs = 0;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly flushEveryMs = 60_000,
    private readonly retentionMs = DEFAULT_ACTIVITY_RETENTION_MS,
    /** A flush that could not write (the counts are kept for the next one). */
    private readonly onError?: (err: unknown) => void,
    /** Sees the counts a flush has just written (the time-series database, telemetry/). */
    private readonly onFlushed?: (rows: ReadonlyArray<Readonly<Pending>>) => void,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule();
  }

  /** Writes what is gathered; idempotent. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  /** One sign of life of a resident at `atMs` (server time) in the village's zone. */
  record(residentId: string, timeZone: string, atMs: number): void {
    const slotStart = slotStartOf(timeZone, atMs);
    const key = `${residentId}|${slotStart}`;
    const p = this.pending.get(key);
    if (p) {
      p.signs += 1;
      p.firstAt = Math.min(p.firstAt, atMs);
    } else this.pending.set(key, { residentId, slotStart, signs: 1, firstAt: atMs });
  }

  /** Writes the gathered counts in one transaction; while the database cannot write, they stay gathered for the next flush. */
  flush(): void {
    if (this.pending.size === 0) return;
    const rows = [...this.pending.values()];
    try {
      const upsert = this.db.prepare(
        `INSERT INTO activity_slots (resident_id, slot_start, signs, first_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (resident_id, slot_start) DO UPDATE SET signs = signs + excluded.signs, first_at = MIN(first_at, excluded.first_at)`,
      );
      this.db.transaction(() => {
        for (const r of rows) upsert.run(r.residentId, r.slotStart, r.signs, r.firstAt);
      })();
    } catch (err) {
      // Locked or full: the counts are kept (a thrown timer callback would end the process).
      this.onError?.(err);
      return;
    }
    this.pending.clear();
    try {
      this.onFlushed?.(rows);
    } catch (err) {
      this.onError?.(err);
    }
    const now = this.clock.nowMs();
    if (now - this.lastPruneMs > 3600_000) {
      this.lastPruneMs = now;
      try {
        this.db.prepare('DELETE FROM activity_slots WHERE slot_start < ?').run(now - this.retentionMs);
      } catch (err) {
        this.onError?.(err);
      }
    }
  }

  /** The last `days` local days up to and including today, oldest first, with what is not yet written. */
  days(residentId: string, timeZone: string, nowMs: number, days = 7): ActivityDay[] {
    const fromMs = firstChartMs(timeZone, nowMs, days);
    const rows = this.db
      .prepare('SELECT slot_start AS slotStart, signs, first_at AS firstAt FROM activity_slots WHERE resident_id = ? AND slot_start >= ? ORDER BY slot_start')
      .all(residentId, fromMs) as SlotCount[];
    for (const p of this.pending.values()) if (p.residentId === residentId && p.slotStart >= fromMs) rows.push(p);
    return activityDays(rows, timeZone, nowMs, days);
  }

  /** Every written count since `sinceMs`, oldest first (what a newly configured time-series database is given once). */
  writtenSince(sinceMs: number): Array<Readonly<Pending>> {
    return this.db
      .prepare('SELECT resident_id AS residentId, slot_start AS slotStart, signs, first_at AS firstAt FROM activity_slots WHERE slot_start >= ? ORDER BY first_at')
      .all(sinceMs) as Pending[];
  }

  /** Counts of a resident gathered and not written yet, from `sinceMs` (what a time-series database does not hold yet either). */
  unwritten(residentId: string, sinceMs: number): SlotCount[] {
    const out: SlotCount[] = [];
    for (const p of this.pending.values()) if (p.residentId === residentId && p.slotStart >= sinceMs) out.push({ slotStart: p.slotStart, signs: p.signs, firstAt: p.firstAt });
    return out;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = this.clock.setTimeout(() => {
      try {
        this.flush();
      } finally {
        this.schedule();
      }
    }, this.flushEveryMs);
  }
}
