/**
 * A device's presence changes and battery levels over time, for the device
 * health view. Battery is written when it moved by at least a point or six
 * hours passed (a heartbeat repeats the same level all day); presence when it
 * changes. Pruned after the retention period.
 */
import { DAY_MS, type DeviceHistoryEntry } from '@kanjia/protocol';
import type { Db } from '../db/database.js';

export const DEFAULT_DEVICE_HISTORY_RETENTION_MS = 90 * DAY_MS;
const BATTERY_REPEAT_MS = 6 * 3600_000;

export class SqliteDeviceHistory {
  /** Last written per device (what a repeat is compared to), filled lazily from the table. */
  private readonly lastBattery = new Map<string, { at: number; pct: number }>();
  private readonly lastPresence = new Map<string, boolean>();
  private lastPruneMs = 0;

  constructor(
    private readonly db: Db,
    private readonly retentionMs = DEFAULT_DEVICE_HISTORY_RETENTION_MS,
  ) {}

  /** Presence from the gateway; a repeat of the last state is not written. */
  presence(deviceId: string, online: boolean, atMs: number): void {
    let last = this.lastPresence.get(deviceId);
    if (last === undefined) {
      const row = this.lastOf(deviceId, "kind IN ('online','offline')");
      if (row) last = row.kind === 'online';
    }
    this.lastPresence.set(deviceId, online);
    if (last === online) return;
    this.insert(deviceId, atMs, online ? 'online' : 'offline', null);
  }

  /** A battery reading (status heartbeat or telemetry), in %. */
  battery(deviceId: string, pct: number, atMs: number): void {
    let last = this.lastBattery.get(deviceId);
    if (last === undefined) {
      const row = this.lastOf(deviceId, "kind = 'battery'");
      if (row && row.value !== null) last = { at: row.at, pct: row.value };
    }
    if (last && Math.abs(last.pct - pct) < 1 && atMs - last.at < BATTERY_REPEAT_MS) return;
    this.lastBattery.set(deviceId, { at: atMs, pct });
    this.insert(deviceId, atMs, 'battery', pct);
  }

  /** Entries since `sinceMs`, oldest first. */
  entries(deviceId: string, sinceMs: number): DeviceHistoryEntry[] {
    return this.db.prepare('SELECT at, kind, value FROM device_history WHERE device_id = ? AND at >= ? ORDER BY at, rowid').all(deviceId, sinceMs) as DeviceHistoryEntry[];
  }

  /** Forgets a removed device. */
  remove(deviceId: string): void {
    this.db.prepare('DELETE FROM device_history WHERE device_id = ?').run(deviceId);
    this.lastBattery.delete(deviceId);
    this.lastPresence.delete(deviceId);
  }

  private lastOf(deviceId: string, where: string): { at: number; kind: string; value: number | null } | undefined {
    return this.db.prepare(`SELECT at, kind, value FROM device_history WHERE device_id = ? AND ${where} ORDER BY at DESC, rowid DESC LIMIT 1`).get(deviceId) as
      | { at: number; kind: string; value: number | null }
      | undefined;
  }

  private insert(deviceId: string, atMs: number, kind: DeviceHistoryEntry['kind'], value: number | null): void {
    this.db.prepare('INSERT INTO device_history (device_id, at, kind, value) VALUES (?, ?, ?, ?)').run(deviceId, atMs, kind, value);
    if (atMs - this.lastPruneMs > 3600_000) {
      this.lastPruneMs = atMs;
      this.db.prepare('DELETE FROM device_history WHERE at < ?').run(atMs - this.retentionMs);
    }
  }
}
