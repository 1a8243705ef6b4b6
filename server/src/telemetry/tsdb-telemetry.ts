/**
 * The readings and signs of life that go to the time-series database, with
 * the ids of where they belong (tsdb-points.ts), through the writer with its
 * on-disk buffer (tsdb-writer.ts). Called from the uplink router for every
 * telemetry message, beside (not through) the SQLite store: a locked
 * database does not hold these back, and a slow server does not hold back
 * anything else (write() only appends to memory).
 */
import type { Clock, Readings } from '@kanjia/protocol';
import { activityLine, telemetryLine, type PlaceTags } from './tsdb-points.js';
import type { TsdbWriter } from './tsdb-writer.js';

/** Where a device or resident belongs; undefined for one the registry does not know. */
export interface PlaceLookup {
  device(deviceId: string): (PlaceTags & { kind?: string | undefined }) | undefined;
  resident(residentId: string): PlaceTags | undefined;
}

/** A resident's counted signs of life in one half hour, as the activity log writes them. */
export interface ActivityCounts {
  residentId: string;
  signs: number;
  firstAt: number;
}

/** A device moved to another household is tagged with its new place within this time. */
const PLACE_TTL_MS = 5 * 60_000;

export class TsdbTelemetry {
  private readonly places = new Map<string, { tags: (PlaceTags & { kind?: string | undefined }) | undefined; atMs: number }>();
  /** Last activity point per resident: two points of one series never share a time (InfluxDB would keep only the last). */
  private readonly lastActivityMs = new Map<string, number>();

  constructor(
    private readonly writer: Pick<TsdbWriter, 'write'>,
    private readonly lookup: PlaceLookup,
    private readonly clock: Clock,
  ) {}

  reading(deviceId: string, receivedAtMs: number, readings: Readings): void {
    const place = this.place(`d:${deviceId}`, () => this.lookup.device(deviceId));
    const line = telemetryLine(deviceId, place?.kind, place ?? {}, receivedAtMs, readings);
    if (line) this.writer.write(line);
  }

  /** What the activity log has just written (its flush). */
  activity(rows: readonly ActivityCounts[]): void {
    for (const r of [...rows].sort((a, b) => a.firstAt - b.firstAt)) {
      const last = this.lastActivityMs.get(r.residentId);
      const atMs = last !== undefined && r.firstAt <= last ? last + 1 : r.firstAt;
      this.lastActivityMs.set(r.residentId, atMs);
      const line = activityLine(r.residentId, this.place(`r:${r.residentId}`, () => this.lookup.resident(r.residentId)) ?? {}, atMs, r.signs);
      if (line) this.writer.write(line);
    }
  }

  /** Forgets what it knew of these devices' places (the registry changed them). */
  forget(deviceIds: readonly string[]): void {
    for (const id of deviceIds) this.places.delete(`d:${id}`);
  }

  private place<T extends PlaceTags>(key: string, find: () => T | undefined): T | undefined {
    const now = this.clock.nowMs();
    const known = this.places.get(key);
    if (known && now - known.atMs < PLACE_TTL_MS) return known.tags as T | undefined;
    let tags: T | undefined;
    try {
      tags = find();
    } catch {
      tags = undefined; // the registry could not be read now: the line goes with the device id alone
    }
    this.places.set(key, { tags, atMs: now });
    return tags;
  }
}
