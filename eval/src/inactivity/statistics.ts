/** Figures of the inactivity evaluator: percentiles of detection delays, rates per 30 days, findings counted by kind. */

const MIN = 60_000;

/**
 * Finding kinds that are notices, not alarms: "not back home" (未归), a trip
 * out much longer than this person's own, is one SMS to the first helper
 * asking them to call, with no escalation; it is counted apart from alarms.
 * Any other kind the monitor raises is an alarm.
 */
export const NOTICE_KINDS: readonly string[] = ['notBack'];

/** True for a finding kind counted as a notice (see NOTICE_KINDS). */
export function isNoticeKind(kind: string): boolean {
  return NOTICE_KINDS.includes(kind);
}

/** Linear-interpolated percentile (q in 0..1); null for no values. */
export function percentile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[Math.min(sorted.length - 1, lo + 1)] ?? a;
  return a + (b - a) * (pos - lo);
}

/** Detection delays of a group of incidents or cuts, in whole minutes; `missed` were not found within the give-up time. */
export interface DelayFigures {
  n: number;
  found: number;
  missed: number;
  medianMin: number | null;
  p95Min: number | null;
  maxMin: number | null;
}

/** Figures of delays in ms (undefined = not found). */
export function delayFigures(delaysMs: readonly (number | undefined)[]): DelayFigures {
  const found = delaysMs.filter((d): d is number => d !== undefined).map((d) => d / MIN);
  const r = (v: number | null) => (v === null ? null : Math.round(v));
  return {
    n: delaysMs.length,
    found: found.length,
    missed: delaysMs.length - found.length,
    medianMin: r(percentile(found, 0.5)),
    p95Min: r(percentile(found, 0.95)),
    maxMin: r(found.length === 0 ? null : Math.max(...found)),
  };
}

/** `n` events over `days` days as a rate per 30 days, 2 decimals (0 for no days). */
export function per30Days(n: number, days: number): number {
  return days > 0 ? Math.round((n / days) * 30 * 100) / 100 : 0;
}

/** "95 min", "12.0 h", or "—". */
export const fmtMinutes = (v: number | null): string => (v === null ? '—' : v >= 120 || v <= -120 ? `${(v / 60).toFixed(1)} h` : `${v} min`);

/** One line: count, median, p95, max and the missed ones. */
export const describeDelays = (f: DelayFigures, giveUpH = 48): string =>
  `n=${f.n} median ${fmtMinutes(f.medianMin)}, p95 ${fmtMinutes(f.p95Min)}, max ${fmtMinutes(f.maxMin)}${f.missed > 0 ? `, missed (>${giveUpH} h) ${f.missed}` : ''}`;

/** Alarms and notices among a detector's outputs, and every finding counted by its kind. */
export function countFindings(outputs: Iterable<{ type: string; finding?: { kind: string } }>): { alarms: number; notices: number; byKind: Record<string, number> } {
  const counts = { alarms: 0, notices: 0, byKind: {} as Record<string, number> };
  for (const o of outputs) {
    if (o.type !== 'alarm' || o.finding === undefined) continue;
    const kind = o.finding.kind;
    counts.byKind[kind] = (counts.byKind[kind] ?? 0) + 1;
    if (isNoticeKind(kind)) counts.notices += 1;
    else counts.alarms += 1;
  }
  return counts;
}
