/**
 * When a person's next visit (探访) is due: pure, clock-free (the caller gives
 * `nowMs`). The regular visit is due `intervalDays` after the local date of the
 * last visit (or of joining the registry, for someone never visited), by the
 * end of that day in the village's time; a resolved alarm's follow-up is due
 * 24 hours after the case was resolved. The earlier of the two counts.
 */
import { DAY_MS, dayIndexOf, fromLocalMs, visitIntervalDays, type CareLevelCode, type VisitDue, type VisitFrequency } from '@kanjia/protocol';
import { localDateOf } from '../registry/registry-store.js';

/** A resolved alarm asks for a visit within this long (issue 11). */
export const FOLLOW_UP_WITHIN_MS = 24 * 3_600_000;

/**
 * How far back the start-up sweep looks for resolved cases without their
 * follow-up (a crash between the resolution's commit and the hook): a week
 * covers a server down over a long weekend; older cases were answered or
 * reported on long ago and would only add stale overdue lines.
 */
export const FOLLOW_UP_SWEEP_MS = 7 * 24 * 3_600_000;

export type VisitFrequencies = Readonly<Record<CareLevelCode, VisitFrequency>>;

export interface ScheduleInput {
  careLevel: CareLevelCode;
  timezone: string;
  /** YYYY-MM-DD */
  joinedOn: string;
  lastVisitAt: number | null;
  /** Follow-ups not yet answered by a visit. */
  openFollowUps: ReadonlyArray<{ alarmId: string; dueAt: number }>;
}

/** The start (UTC ms) of local date `iso` in `timeZone`. */
export function localDayStartMs(timeZone: string, iso: string): number {
  return fromLocalMs(timeZone, dayIndexOf(iso) * DAY_MS);
}

/** `iso` plus `days` days. */
export function addDays(iso: string, days: number): string {
  return new Date((dayIndexOf(iso) + days) * DAY_MS).toISOString().slice(0, 10);
}

/** The next visit due for one person at `nowMs`. */
export function nextVisitDue(p: ScheduleInput, frequencies: VisitFrequencies, nowMs: number): VisitDue {
  const base = p.lastVisitAt === null ? p.joinedOn : localDateOf(p.timezone, p.lastVisitAt);
  const dueDate = addDays(base, visitIntervalDays(frequencies[p.careLevel]));
  // Due by the end of the due date: the deadline is the start of the next local day.
  let due: { dueAt: number; reason: 'regular' | 'followUp'; alarmId: string | null } = { dueAt: localDayStartMs(p.timezone, addDays(dueDate, 1)), reason: 'regular', alarmId: null };
  for (const f of p.openFollowUps) if (f.dueAt < due.dueAt) due = { dueAt: f.dueAt, reason: 'followUp', alarmId: f.alarmId };
  const overdue = nowMs >= due.dueAt;
  return {
    ...due,
    date: due.reason === 'regular' ? dueDate : localDateOf(p.timezone, due.dueAt),
    overdue,
    daysOverdue: overdue ? Math.floor((nowMs - due.dueAt) / DAY_MS) + 1 : 0,
  };
}
