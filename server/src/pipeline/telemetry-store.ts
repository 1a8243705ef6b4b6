/**
 * Recent sensor readings in SQLite (the embedded telemetry store of
 * DESIGN.md), kept for `retentionMs` and pruned once an hour.
 */
import type { Readings } from '@kanjia/protocol';
import type { Db } from '../db/database.js';

export const DEFAULT_TELEMETRY_RETENTION_MS = 30 * 24 * 3600_000;

export class SqliteTelemetryStore {
  private lastPruneMs = 0;

  constructor(
    private readonly db: Db,
    private readonly retentionMs = DEFAULT_TELEMETRY_RETENTION_MS,
  ) {}

  append(deviceId: string, receivedAtMs: number, deviceTs: number, readings: Readings): void {
    this.db.prepare('INSERT INTO telemetry (device_id, received_at, device_ts, readings_json) VALUES (?, ?, ?, ?)').run(deviceId, receivedAtMs, deviceTs, JSON.stringify(readings));
    if (receivedAtMs - this.lastPruneMs > 3600_000) this.prune(receivedAtMs);
  }

  /** Readings of a device since `sinceMs`, oldest first. */
  recent(deviceId: string, sinceMs: number): Array<{ receivedAtMs: number; readings: Readings }> {
    const rows = this.db.prepare('SELECT received_at, readings_json FROM telemetry WHERE device_id = ? AND received_at >= ? ORDER BY received_at').all(deviceId, sinceMs) as Array<{
      received_at: number;
      readings_json: string;
    }>;
    return rows.map((r) => ({ receivedAtMs: r.received_at, readings: JSON.parse(r.readings_json) as Readings }));
  }

  prune(nowMs: number): number {
    this.lastPruneMs = nowMs;
    return this.db.prepare('DELETE FROM telemetry WHERE received_at < ?').run(nowMs - this.retentionMs).changes;
  }
}
