/**
 * Local wall-clock time in a person's IANA time zone, DST-safe, from Intl only
 * (no Node 22 Temporal), shared by the detectors and the simulator. Offsets are cached per zone in 15-minute buckets: every
 * real zone changes its offset on a quarter hour, and the inactivity monitor asks
 * for local time on every sign of life, so Intl is called about once per
 * quarter hour of data instead of once per event.
 */

const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
const BUCKET_MS = 15 * MINUTE_MS;
/** Bound on the cache of one zone (about 5 years of quarter hours). */
const MAX_CACHED_BUCKETS = 200_000;

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, Map<number, number>>();
/** The last answer per zone: most calls ask about the same quarter hour as the one before. */
const lastOffset = new Map<string, { bucket: number; offset: number }>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    // Throws RangeError for an unknown zone: callers validate with isValidTimeZone first.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when `timeZone` is an IANA zone this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** UTC offset of `timeZone` at instant `ms`, in ms (east of UTC positive). */
export function zoneOffsetMs(timeZone: string, ms: number): number {
  const bucket = Math.floor(ms / BUCKET_MS);
  const last = lastOffset.get(timeZone);
  if (last !== undefined && last.bucket === bucket) return last.offset;
  const offset = bucketOffset(timeZone, bucket);
  if (last !== undefined) {
    last.bucket = bucket;
    last.offset = offset;
  } else lastOffset.set(timeZone, { bucket, offset });
  return offset;
}

function bucketOffset(timeZone: string, bucket: number): number {
  let cache = offsets.get(timeZone);
  if (cache === undefined) {
    cache = new Map();
    offsets.set(timeZone, cache);
  }
  const hit = cache.get(bucket);
  if (hit !== undefined) return hit;
  const at = bucket * BUCKET_MS;
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(at))) {
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  }
  const asUtc = Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0);
  const offset = asUtc - at;
  if (cache.size >= MAX_CACHED_BUCKETS) cache.clear();
  cache.set(bucket, offset);
  return offset;
}

/** Local wall-clock ms (the UTC instant whose UTC fields read as the local time). */
export function toLocalMs(timeZone: string, ms: number): number {
  return ms + zoneOffsetMs(timeZone, ms);
}

/** Local calendar day (days since 1970-01-01 in local time) and minute of that day (0–1439). */
export function localDayMinute(timeZone: string, ms: number): { day: number; minute: number } {
  const local = toLocalMs(timeZone, ms);
  const day = Math.floor(local / DAY_MS);
  return { day, minute: Math.floor((local - day * DAY_MS) / MINUTE_MS) };
}

/**
 * The UTC instant of a local wall-clock time. A time skipped by a DST change
 * (02:30 on a spring-forward night) maps to the same distance after the gap
 * (03:30); a time that occurs twice maps to its first occurrence.
 */
export function fromLocalMs(timeZone: string, localMs: number): number {
  // A zone changes its offset at most once within two days: the offsets a day
  // before and a day after are the only candidates.
  const before = localMs - zoneOffsetMs(timeZone, localMs - DAY_MS);
  const after = localMs - zoneOffsetMs(timeZone, localMs + DAY_MS);
  const beforeFits = toLocalMs(timeZone, before) === localMs;
  const afterFits = toLocalMs(timeZone, after) === localMs;
  if (beforeFits && afterFits) return Math.min(before, after);
  if (beforeFits) return before;
  if (afterFits) return after;
  return before; // in a spring-forward gap: the old offset lands just as far past the gap
}

/** The first instant strictly after `afterMs` at which the local clock reads `minuteOfDay` (0–1439). */
export function nextLocalMinute(timeZone: string, afterMs: number, minuteOfDay: number): number {
  const m = ((Math.round(minuteOfDay) % 1440) + 1440) % 1440;
  const { day } = localDayMinute(timeZone, afterMs);
  for (let d = day - 1; d <= day + 2; d++) {
    const at = fromLocalMs(timeZone, d * DAY_MS + m * MINUTE_MS);
    if (at > afterMs) return at;
  }
  return afterMs + DAY_MS;
}

/** "HH:MM" local time. */
export function formatLocalTime(timeZone: string, ms: number): string {
  const { minute } = localDayMinute(timeZone, ms);
  return formatMinuteOfDay(minute);
}

/** "HH:MM" for a minute of the day (wraps). */
export function formatMinuteOfDay(minute: number): string {
  const m = ((Math.round(minute) % 1440) + 1440) % 1440;
  return `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
}

/** "YYYY-MM-DD HH:MM" local time. */
export function formatLocalDateTime(timeZone: string, ms: number): string {
  const local = new Date(toLocalMs(timeZone, ms));
  return `${local.toISOString().slice(0, 10)} ${local.toISOString().slice(11, 16)}`;
}

/** Local day index (days since 1970-01-01) of an ISO date `YYYY-MM-DD`. */
export function dayIndexOf(isoDate: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate);
  if (m === null) throw new RangeError(`date must be YYYY-MM-DD, got "${isoDate}"`);
  return Math.floor(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS);
}

/** Weekday of a local day index (days since 1970-01-01, a Thursday), Monday = 0 … Sunday = 6. */
export function weekdayOfDay(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}
