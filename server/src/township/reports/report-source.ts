/**
 * The rows a report is computed from, read from SQLite (the registry, visits,
 * alarms and their history, devices and their presence/battery history), and
 * the report itself: per village in its time zone, and together.
 */
import type { AlarmKind, AlarmOutcome, AlarmStatus, ReportPeriod, TownshipReport } from '@kanjia/protocol';
import type { Db } from '../../db/database.js';
import type { DeviceRow, SqliteRegistryStore, VillageRow } from '../../registry/registry-store.js';
import { combineFigures, villageFigures, type DeviceFacts, type FigureParts, type FigureSettings, type VillageRows } from './figures.js';
import { periodBounds } from './period.js';

export interface ReportSource {
  db: Db;
  registry: SqliteRegistryStore;
}

/** Reads one village's rows for the period. `nowMs` stands for the period's end when it is not over. */
export function villageRows(src: ReportSource, village: VillageRow, period: ReportPeriod, nowMs: number): VillageRows {
  const { startMs, endMs } = periodBounds(period, village.timezone);
  const people = src.registry.residents({ villageId: village.id }).map((r) => ({ id: r.id, category: r.category, careLevel: r.careLevel, joinedOn: r.joinedOn, leftOn: r.leftOn, leaveReason: r.leaveReason }));
  const visits = src.db
    .prepare('SELECT v.resident_id AS residentId, v.visited_at AS at FROM visits v JOIN residents r ON r.id = v.resident_id JOIN households h ON h.id = r.household_id WHERE h.village_id = ? AND v.visited_at < ?')
    .all(village.id, endMs) as Array<{ residentId: string; at: number }>;
  // Taken and on site: the first time the case history says so (a case can be taken back and forth); the case row as a fallback.
  const alarms = src.db
      .prepare(
        `SELECT a.kind, a.status, a.outcome, a.opened_at AS openedAt,
                COALESCE((SELECT MIN(h.at) FROM alarm_history h WHERE h.alarm_id = a.id AND h.action = 'taken'), a.taken_at) AS takenAt,
                (SELECT MIN(h.at) FROM alarm_history h WHERE h.alarm_id = a.id AND h.action = 'onSite') AS onSiteAt
           FROM alarms a WHERE a.village_id = ? AND a.opened_at >= ? AND a.opened_at < ?`,
      )
    .all(village.id, startMs, endMs) as Array<{ kind: AlarmKind; status: AlarmStatus; outcome: AlarmOutcome | null; openedAt: number; takenAt: number | null; onSiteAt: number | null }>;
  const deviceAlarms = src.db
    .prepare(`SELECT device_id AS deviceId, kind, COUNT(*) AS n FROM alarms WHERE village_id = ? AND kind IN ('deviceOffline', 'lowBattery') AND opened_at >= ? AND opened_at < ? GROUP BY device_id, kind`)
    .all(village.id, startMs, endMs) as Array<{ deviceId: string; kind: 'deviceOffline' | 'lowBattery'; n: number }>;
  const atMs = Math.min(endMs, nowMs);
  const devices: DeviceFacts[] = src.registry
    .devices({ villageId: village.id })
    .filter((d) => d.createdAt < endMs)
    .map((d) => ({
      id: d.id,
      kind: d.kind,
      label: d.label,
      address: d.address,
      residentName: d.residentName,
      createdAt: d.createdAt,
      atEnd: endMs > nowMs ? currentState(d) : deviceStateAt(src.db, d, atMs),
      alarmsDuring: {
        deviceOffline: deviceAlarms.find((x) => x.deviceId === d.id && x.kind === 'deviceOffline')?.n ?? 0,
        lowBattery: deviceAlarms.find((x) => x.deviceId === d.id && x.kind === 'lowBattery')?.n ?? 0,
      },
    }));
  return { timezone: village.timezone, people, visits, alarms, devices };
}

/** A period not over: the device as it is now. */
function currentState(d: DeviceRow): DeviceFacts['atEnd'] {
  return { seen: d.lastSeenAt !== null, online: d.lastSeenAt === null ? null : d.online === 1, batteryPct: d.batteryPct };
}

/**
 * A past period: the device at its end, from its presence and battery
 * history (device_history). Never seen: no presence recorded by then (and
 * none since, or it was first seen after the end). A device whose history was
 * pruned (older than its retention) and that was seen counts as working: the
 * report cannot tell, and says so (docs/reports.md).
 */
export function deviceStateAt(db: Db, d: DeviceRow, atMs: number): DeviceFacts['atEnd'] {
  const presence = db.prepare("SELECT kind FROM device_history WHERE device_id = ? AND kind IN ('online', 'offline') AND at < ? ORDER BY at DESC LIMIT 1").get(d.id, atMs) as { kind: string } | undefined;
  const battery = db.prepare("SELECT value FROM device_history WHERE device_id = ? AND kind = 'battery' AND at < ? ORDER BY at DESC LIMIT 1").get(d.id, atMs) as { value: number } | undefined;
  if (presence) return { seen: true, online: presence.kind === 'online', batteryPct: battery?.value ?? null };
  const firstLater = db.prepare("SELECT MIN(at) AS at FROM device_history WHERE device_id = ? AND kind IN ('online', 'offline')").get(d.id) as { at: number | null };
  const seen = firstLater.at === null && d.lastSeenAt !== null;
  return { seen, online: null, batteryPct: battery?.value ?? null };
}

/** The report over `villages` (already scoped to the caller). */
export function buildReport(src: ReportSource, villages: readonly VillageRow[], period: ReportPeriod, settings: FigureSettings, nowMs: number): TownshipReport {
  const parts: Array<{ village: VillageRow; part: FigureParts }> = villages.map((village) => ({ village, part: villageFigures(villageRows(src, village, period, nowMs), period, settings, nowMs) }));
  const townships = [...new Set(villages.map((v) => v.township).filter((t): t is string => !!t))];
  const title = villages.length === 1 && !townships.length ? (villages[0] as VillageRow).name : townships.length > 0 ? townships.join('、') : '全部村';
  const partial = villages.some((v) => periodBounds(period, v.timezone).endMs > nowMs);
  return {
    period,
    title,
    generatedAt: nowMs,
    partial,
    villages: parts.map(({ village, part }) => ({ villageId: village.id, villageName: village.name, township: village.township, timezone: village.timezone, figures: part.figures })),
    total: combineFigures(parts.map((p) => p.part)),
  };
}
