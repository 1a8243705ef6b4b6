/**
 * The report figures (docs/reports.md): pure functions over rows, clock-free
 * (the caller gives `nowMs`). One village's figures are computed in its own
 * time zone; the township's are the villages' together (the durations pooled,
 * not the medians averaged).
 */
import {
  ALARM_KINDS,
  CARE_LEVELS,
  REPORT_DEVICE_PROBLEMS,
  LEAVE_REASONS,
  PERSON_CATEGORIES,
  visitIntervalDays,
  type AlarmKind,
  type AlarmOutcome,
  type AlarmStatus,
  type CareLevelCode,
  type ReportDeviceProblem,
  type DeviceProblemLine,
  type DurationStats,
  type ReportFigures,
  type ReportPeriod,
} from '@kanjia/protocol';
import { localDateOf } from '../../registry/registry-store.js';
import { addDays, localDayStartMs, type VisitFrequencies } from '../visit-schedule.js';
import { periodBounds } from './period.js';

export interface PersonFacts {
  id: string;
  category: string | null;
  careLevel: CareLevelCode;
  /** YYYY-MM-DD */
  joinedOn: string;
  leftOn: string | null;
  leaveReason: string | null;
}

export interface AlarmFacts {
  kind: AlarmKind;
  status: AlarmStatus;
  /** How a resolved case ended, as its resolver said; null when not said (and for open and cancelled cases). */
  outcome: AlarmOutcome | null;
  openedAt: number;
  /** When the case was first taken (its history), null if never. */
  takenAt: number | null;
  /** When someone first reported being on site, null if never. */
  onSiteAt: number | null;
}

export interface DeviceFacts {
  id: string;
  kind: string;
  label: string | null;
  address: string;
  residentName: string | null;
  createdAt: number;
  /** Its state at the period's end (or now, for a period not over): see deviceStateAt. */
  atEnd: { seen: boolean; online: boolean | null; batteryPct: number | null };
  /** Alarms about it opened during the period. */
  alarmsDuring: { deviceOffline: number; lowBattery: number };
}

export interface VillageRows {
  timezone: string;
  people: PersonFacts[];
  /** Every visit of these people (any time: the one before the period sets the schedule). */
  visits: Array<{ residentId: string; at: number }>;
  /** The cases opened during the period. */
  alarms: AlarmFacts[];
  /** The devices registered before the period's end. */
  devices: DeviceFacts[];
}

export interface FigureSettings {
  frequencies: VisitFrequencies;
  /** At or below this battery level a device counts as low (the device-health monitor's setting). */
  lowBatteryPct: number;
}

/** The figures, and the raw durations the township's figures pool. */
export interface FigureParts {
  figures: ReportFigures;
  takeMs: number[];
  siteMs: number[];
}

/** The median (the mean of the two middle values for an even count); null for none. */
export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The p-th percentile by nearest rank: the smallest value with at least p% of the values at or below it. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[rank - 1] as number;
}

export function durationStats(values: readonly number[]): DurationStats {
  return { count: values.length, medianMs: median(values), p90Ms: percentile(values, 90) };
}

const zeroes = <C extends string>(codes: readonly C[]): Record<C, number> => Object.fromEntries(codes.map((c) => [c, 0])) as Record<C, number>;
const share = (part: number, whole: number): number | null => (whole === 0 ? null : part / whole);

/** In the registry on at least one day of the period: joined before it ended, not left before it began. */
export function inRegistryDuring(p: Pick<PersonFacts, 'joinedOn' | 'leftOn'>, period: ReportPeriod): boolean {
  return p.joinedOn < period.until && (p.leftOn === null || p.leftOn >= period.from);
}

/**
 * Whether a person's visits met their care level's frequency during
 * [windowStart, windowEnd): by visit-schedule.ts's rule, every visit (or
 * joining, for someone never visited) asks for the next one by the end of the
 * local day `intervalDays` later; a deadline that fell in the window without
 * a visit before it is a miss. The visit before the window sets the first
 * deadline (someone already overdue when the period began is a miss too).
 * Follow-up visits after alarms are not part of this figure.
 */
export function metFrequency(input: {
  timezone: string;
  joinedOn: string;
  intervalDays: number;
  /** Visit times, any order, any time. */
  visits: readonly number[];
  windowStartMs: number;
  windowEndMs: number;
}): boolean {
  const sorted = [...input.visits].sort((a, b) => a - b);
  const before = sorted.filter((at) => at < input.windowStartMs);
  let base = before.length > 0 ? localDateOf(input.timezone, before[before.length - 1] as number) : input.joinedOn;
  const deadline = () => localDayStartMs(input.timezone, addDays(addDays(base, input.intervalDays), 1));
  for (const at of sorted.filter((x) => x >= input.windowStartMs && x < input.windowEndMs)) {
    if (at >= deadline()) return false;
    base = localDateOf(input.timezone, at);
  }
  return deadline() >= input.windowEndMs;
}

/** Why a device did not work at a moment, from its state then. */
export function deviceProblems(state: DeviceFacts['atEnd'], lowBatteryPct: number): ReportDeviceProblem[] {
  if (!state.seen) return ['neverSeen'];
  const out: ReportDeviceProblem[] = [];
  if (state.online === false) out.push('offline');
  if (state.batteryPct !== null && state.batteryPct <= lowBatteryPct) out.push('lowBattery');
  return out;
}

/** One village's figures for the period, at `nowMs` (a period not over is counted up to now). */
export function villageFigures(rows: VillageRows, period: ReportPeriod, settings: FigureSettings, nowMs: number): FigureParts {
  const { startMs, endMs } = periodBounds(period, rows.timezone);
  const inPeriod = (iso: string | null) => iso !== null && iso >= period.from && iso < period.until;

  // --- people ---
  const present = rows.people.filter((p) => inRegistryDuring(p, period));
  const byCategory: Record<string, number> = zeroes(PERSON_CATEGORIES.map((c) => c.code));
  const byCareLevel: Record<string, number> = zeroes(CARE_LEVELS.map((c) => c.code));
  for (const p of present) {
    const cat = p.category ?? 'other';
    byCategory[cat] = (byCategory[cat] ?? 0) + 1;
    byCareLevel[p.careLevel] = (byCareLevel[p.careLevel] ?? 0) + 1;
  }
  const leftByReason: Record<string, number> = zeroes(LEAVE_REASONS.map((r) => r.code));
  const leavers = rows.people.filter((p) => inPeriod(p.leftOn));
  for (const p of leavers) leftByReason[p.leaveReason ?? 'other'] = (leftByReason[p.leaveReason ?? 'other'] ?? 0) + 1;

  // --- alarms ---
  const alarms = rows.alarms.filter((a) => a.openedAt >= startMs && a.openedAt < endMs);
  const byKind: Partial<Record<AlarmKind, number>> = {};
  for (const a of alarms) byKind[a.kind] = (byKind[a.kind] ?? 0) + 1;
  const takeMs = alarms.filter((a) => a.takenAt !== null).map((a) => (a.takenAt as number) - a.openedAt);
  const siteMs = alarms.filter((a) => a.onSiteAt !== null).map((a) => (a.onSiteAt as number) - a.openedAt);
  const closed = alarms.filter((a) => a.status === 'resolved' || a.status === 'cancelled');
  // A false alarm: called off (cancelled), or resolved by someone who found nobody needed help.
  const falseAlarms = closed.filter((a) => a.status === 'cancelled' || a.outcome === 'falseAlarm').length;
  const unclassified = closed.filter((a) => a.status === 'resolved' && a.outcome === null).length;

  // --- visits ---
  const visitsOf = new Map<string, number[]>();
  for (const v of rows.visits) visitsOf.set(v.residentId, [...(visitsOf.get(v.residentId) ?? []), v.at]);
  const periodEnd = Math.min(endMs, nowMs);
  let scheduled = 0;
  let compliant = 0;
  for (const p of present) {
    const windowStartMs = Math.max(startMs, localDayStartMs(rows.timezone, p.joinedOn));
    const windowEndMs = Math.min(periodEnd, p.leftOn === null ? Infinity : localDayStartMs(rows.timezone, p.leftOn));
    if (windowEndMs <= windowStartMs) continue;
    scheduled++;
    const ok = metFrequency({
      timezone: rows.timezone,
      joinedOn: p.joinedOn,
      intervalDays: visitIntervalDays(settings.frequencies[p.careLevel]),
      visits: visitsOf.get(p.id) ?? [],
      windowStartMs,
      windowEndMs,
    });
    if (ok) compliant++;
  }
  const visitCount = rows.visits.filter((v) => v.at >= startMs && v.at < endMs && present.some((p) => p.id === v.residentId)).length;

  // --- devices ---
  const devices = rows.devices.filter((d) => d.createdAt < endMs);
  const atEndByProblem = zeroes(REPORT_DEVICE_PROBLEMS);
  const lines: DeviceProblemLine[] = [];
  for (const d of devices) {
    const atEnd = deviceProblems(d.atEnd, settings.lowBatteryPct);
    for (const p of atEnd) atEndByProblem[p]++;
    if (atEnd.length > 0 || d.alarmsDuring.deviceOffline > 0 || d.alarmsDuring.lowBattery > 0) {
      lines.push({ deviceId: d.id, kind: d.kind, label: d.label, address: d.address, residentName: d.residentName, atEnd, duringPeriod: d.alarmsDuring });
    }
  }

  return {
    takeMs,
    siteMs,
    figures: {
      people: { total: present.length, byCategory, byCareLevel, joined: rows.people.filter((p) => inPeriod(p.joinedOn)).length, left: leavers.length, leftByReason },
      alarms: { total: alarms.length, byKind, timeToTake: durationStats(takeMs), timeToSite: durationStats(siteMs), closed: closed.length, falseAlarms, falseShare: share(falseAlarms, closed.length), unclassified },
      visits: { count: visitCount, people: scheduled, compliant, share: share(compliant, scheduled) },
      devices: {
        total: devices.length,
        notWorkingAtEnd: lines.filter((l) => l.atEnd.length > 0).length,
        atEndByProblem,
        troubledDuring: lines.filter((l) => l.duringPeriod.deviceOffline + l.duringPeriod.lowBattery > 0).length,
        lines,
      },
    },
  };
}

/** Figures of nothing: every count zero, every share and duration null. */
export function emptyFigures(): ReportFigures {
  return {
    people: { total: 0, byCategory: zeroes(PERSON_CATEGORIES.map((c) => c.code)), byCareLevel: zeroes(CARE_LEVELS.map((c) => c.code)), joined: 0, left: 0, leftByReason: zeroes(LEAVE_REASONS.map((r) => r.code)) },
    alarms: { total: 0, byKind: {}, timeToTake: durationStats([]), timeToSite: durationStats([]), closed: 0, falseAlarms: 0, falseShare: null, unclassified: 0 },
    visits: { count: 0, people: 0, compliant: 0, share: null },
    devices: { total: 0, notWorkingAtEnd: 0, atEndByProblem: zeroes(REPORT_DEVICE_PROBLEMS), troubledDuring: 0, lines: [] },
  };
}

const addCounts = (a: Record<string, number>, b: Record<string, number>): Record<string, number> => {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
};

/** Several villages' figures together: counts summed, durations pooled, shares recomputed. */
export function combineFigures(parts: readonly FigureParts[]): ReportFigures {
  const takeMs = parts.flatMap((p) => p.takeMs);
  const siteMs = parts.flatMap((p) => p.siteMs);
  return parts.reduce<ReportFigures>((acc, { figures: f }) => {
    const closed = acc.alarms.closed + f.alarms.closed;
    const falseAlarms = acc.alarms.falseAlarms + f.alarms.falseAlarms;
    const people = acc.visits.people + f.visits.people;
    const compliant = acc.visits.compliant + f.visits.compliant;
    return {
      people: {
        total: acc.people.total + f.people.total,
        byCategory: addCounts(acc.people.byCategory, f.people.byCategory),
        byCareLevel: addCounts(acc.people.byCareLevel, f.people.byCareLevel),
        joined: acc.people.joined + f.people.joined,
        left: acc.people.left + f.people.left,
        leftByReason: addCounts(acc.people.leftByReason, f.people.leftByReason),
      },
      alarms: {
        total: acc.alarms.total + f.alarms.total,
        byKind: addCounts(acc.alarms.byKind as Record<string, number>, f.alarms.byKind as Record<string, number>) as ReportFigures['alarms']['byKind'],
        timeToTake: durationStats(takeMs),
        timeToSite: durationStats(siteMs),
        closed,
        falseAlarms,
        falseShare: share(falseAlarms, closed),
        unclassified: acc.alarms.unclassified + f.alarms.unclassified,
      },
      visits: { count: acc.visits.count + f.visits.count, people, compliant, share: share(compliant, people) },
      devices: {
        total: acc.devices.total + f.devices.total,
        notWorkingAtEnd: acc.devices.notWorkingAtEnd + f.devices.notWorkingAtEnd,
        atEndByProblem: addCounts(acc.devices.atEndByProblem, f.devices.atEndByProblem) as ReportFigures['devices']['atEndByProblem'],
        troubledDuring: acc.devices.troubledDuring + f.devices.troubledDuring,
        lines: [...acc.devices.lines, ...f.devices.lines],
      },
    };
  }, emptyFigures());
}

/** Alarm kinds in the order the protocol lists them (for tables and charts). */
export const KIND_ORDER: readonly AlarmKind[] = ALARM_KINDS;
