/**
 * A report's period: a month (`2026-11`) or a quarter (`2026-Q4`), as local
 * dates; the instants it covers depend on the village's time zone.
 */
import { PERIOD_PATTERN, type ReportPeriod } from '@kanjia/protocol';
import { localDayStartMs } from '../visit-schedule.js';

const iso = (year: number, month: number): string => `${year}-${String(month).padStart(2, '0')}-01`;

/** The period named by `code`; throws RangeError for anything else (the routes validate first). */
export function parsePeriod(code: string): ReportPeriod {
  const m = PERIOD_PATTERN.exec(code.trim());
  if (!m) throw new RangeError(`period: a month like 2026-11 or a quarter like 2026-Q4, got "${code}"`);
  const year = Number(m[1]);
  const quarter = m[3] === undefined ? null : Number(m[3]);
  const firstMonth = quarter === null ? Number(m[2]) : (quarter - 1) * 3 + 1;
  const months = quarter === null ? 1 : 3;
  const endMonth = firstMonth + months; // 13 = January of the next year
  const until = endMonth > 12 ? iso(year + 1, endMonth - 12) : iso(year, endMonth);
  const last = new Date(Date.parse(`${until}T00:00:00Z`) - 86_400_000).toISOString().slice(0, 10);
  return { code: quarter === null ? `${year}-${m[2]}` : `${year}-Q${quarter}`, kind: quarter === null ? 'month' : 'quarter', from: iso(year, firstMonth), until, lastDay: last };
}

/** The instants [startMs, endMs) the period covers in `timeZone`. */
export function periodBounds(period: ReportPeriod, timeZone: string): { startMs: number; endMs: number } {
  return { startMs: localDayStartMs(timeZone, period.from), endMs: localDayStartMs(timeZone, period.until) };
}

/** 2026年11月 / 2026年第四季度 */
export function periodLabelZh(period: ReportPeriod): string {
  const year = period.code.slice(0, 4);
  if (period.kind === 'month') return `${year}年${Number(period.code.slice(5))}月`;
  return `${year}年第${'一二三四'[Number(period.code.slice(6)) - 1]}季度`;
}
