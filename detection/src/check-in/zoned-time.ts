/**
 * Wall-clock arithmetic in a village's IANA time zone with nothing but Intl
 * (Node 20 has no Temporal). Internal to the monitors of this package: the
 * check-in window, the device-health night hold and the environment details
 * all count in village time, and must stay right on a daylight-saving change
 * day (a deployment outside China, or a test in Europe/Berlin).
 */

import { fromLocalMs, toLocalMs, zoneOffsetMs } from '@kanjia/protocol';

export { isValidTimeZone } from '@kanjia/protocol';

export interface LocalParts {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock reading in `timeZone` at instant `ms`. */
export function localParts(ms: number, timeZone: string): LocalParts {
  const t = new Date(toLocalMs(timeZone, ms));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate(), hour: t.getUTCHours(), minute: t.getUTCMinutes(), second: t.getUTCSeconds() };
}

/** Offset of local time from UTC at instant `ms`, in ms (Asia/Shanghai: +8 h). */
export function utcOffsetMs(ms: number, timeZone: string): number {
  return zoneOffsetMs(timeZone, ms);
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** The local calendar date at instant `ms`, as `YYYY-MM-DD`. */
export function localDateOf(ms: number, timeZone: string): string {
  const p = localParts(ms, timeZone);
  return `${p.year}-${pad2(p.month)}-${pad2(p.day)}`;
}

/** Minutes since local midnight at instant `ms` (0–1439). */
export function localMinuteOfDay(ms: number, timeZone: string): number {
  const p = localParts(ms, timeZone);
  return p.hour * 60 + p.minute;
}

/** `HH:MM` of a minute of the day. */
export function formatMinuteOfDay(minuteOfDay: number): string {
  return `${pad2(Math.floor(minuteOfDay / 60))}:${pad2(minuteOfDay % 60)}`;
}

/** `HH:MM` (00:00–23:59) to minutes since midnight, or undefined when malformed. */
export function parseHhMm(text: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (m === null) return undefined;
  return Number(m[1]) * 60 + Number(m[2]);
}

function parseDate(date: string): { y: number; m: number; d: number } {
  const [y, m, d] = date.split('-').map(Number);
  return { y: y ?? NaN, m: m ?? NaN, d: d ?? NaN };
}

/** `YYYY-MM-DD` plus `days` calendar days (pure calendar arithmetic, no zone). */
export function addDays(date: string, days: number): string {
  const { y, m, d } = parseDate(date);
  const t = new Date(Date.UTC(y, m - 1, d + days));
  return `${t.getUTCFullYear()}-${pad2(t.getUTCMonth() + 1)}-${pad2(t.getUTCDate())}`;
}

/**
 * The instant at which the clocks of `timeZone` show `minuteOfDay` on local
 * `date`. Resolves like Temporal's `disambiguation: 'compatible'`: a wall time
 * that happens twice (autumn change) is the earlier instant; one that never
 * happens (spring gap, Europe/Berlin 02:30 on 2026-03-29) is moved forward by
 * the gap (03:30 CEST).
 */
export function zonedTimeToUtc(date: string, minuteOfDay: number, timeZone: string): number {
  const { y, m, d } = parseDate(date);
  return fromLocalMs(timeZone, Date.UTC(y, m - 1, d, 0, minuteOfDay));
}

/** The first instant at or after `fromMs` at which the local clock shows `minuteOfDay`. */
export function nextLocalTime(fromMs: number, minuteOfDay: number, timeZone: string): number {
  const today = localDateOf(fromMs, timeZone);
  const t = zonedTimeToUtc(today, minuteOfDay, timeZone);
  return t >= fromMs ? t : zonedTimeToUtc(addDays(today, 1), minuteOfDay, timeZone);
}
