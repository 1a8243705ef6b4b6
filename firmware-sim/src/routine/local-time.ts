/**
 * Local wall-clock time in an IANA zone through Intl, cached per quarter hour
 * (offsets change only on quarter hours). The simulator plans a day in the
 * household's own time (get up at 05:10 local) across DST changes.
 */

const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;
const BUCKET_MS = 15 * MINUTE_MS;

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsets = new Map<string, Map<number, number>>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** True when the runtime knows the IANA zone. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** UTC offset of the zone at instant `ms`, in ms. */
export function zoneOffsetMs(timeZone: string, ms: number): number {
  const bucket = Math.floor(ms / BUCKET_MS);
  let cache = offsets.get(timeZone);
  if (cache === undefined) {
    cache = new Map();
    offsets.set(timeZone, cache);
  }
  const hit = cache.get(bucket);
  if (hit !== undefined) return hit;
  const at = bucket * BUCKET_MS;
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(at))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const offset = Date.UTC(parts.year ?? 1970, (parts.month ?? 1) - 1, parts.day ?? 1, parts.hour ?? 0, parts.minute ?? 0, parts.second ?? 0) - at;
  if (cache.size > 200_000) cache.clear();
  cache.set(bucket, offset);
  return offset;
}

export function toLocalMs(timeZone: string, ms: number): number {
  return ms + zoneOffsetMs(timeZone, ms);
}

/** UTC instant of a local wall-clock time (a time skipped by DST lands as far past the gap; a repeated one at its first occurrence). */
export function fromLocalMs(timeZone: string, localMs: number): number {
  const before = localMs - zoneOffsetMs(timeZone, localMs - DAY_MS);
  const after = localMs - zoneOffsetMs(timeZone, localMs + DAY_MS);
  const beforeFits = toLocalMs(timeZone, before) === localMs;
  const afterFits = toLocalMs(timeZone, after) === localMs;
  if (beforeFits && afterFits) return Math.min(before, after);
  if (afterFits && !beforeFits) return after;
  return before;
}

/** Local day index (days since 1970-01-01 local) and minute of day. */
export function localDayMinute(timeZone: string, ms: number): { day: number; minute: number } {
  const local = toLocalMs(timeZone, ms);
  const day = Math.floor(local / DAY_MS);
  return { day, minute: Math.floor((local - day * DAY_MS) / MINUTE_MS) };
}

/** Local day index of an ISO date `YYYY-MM-DD`. */
export function dayIndexOf(isoDate: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(isoDate);
  if (m === null) throw new RangeError(`date must be YYYY-MM-DD, got "${isoDate}"`);
  return Math.floor(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / DAY_MS);
}
