/**
 * What a cut of a recording (the moment the person is assumed to collapse)
 * falls in, judged from the recording alone, not from the detector's own
 * reading of it, so that a change to the detector cannot move cuts between
 * groups:
 *
 * - `out`: after a passage through an exit door with no sign inside since (the
 *   person most likely went out; a collapse there is found late by design);
 * - `night`: within the home's sleep window (below);
 * - `day`: the rest.
 *
 * The sleep window of a home: for each local night (noon to noon), its longest
 * stretch of at least 3 h without a sensor firing that begins between 19:00
 * and 06:00; the window runs from the median local time those stretches begin
 * to the median time they end. With fewer than 3 such nights, 22:00–07:00.
 */
import { DAY_MS, localDayMinute } from '@kanjia/protocol';
import type { SensorEvent } from '@kanjia/firmware-sim';
import { isBaselineActivity } from './monitor-replay.js';
import { percentile } from './statistics.js';

export const CUT_KINDS = ['day', 'night', 'out'] as const;
export type CutKind = (typeof CUT_KINDS)[number];

/** Local minutes of the day [from, to) (wrapping past midnight when from > to). */
export interface SleepWindow {
  fromMin: number;
  toMin: number;
  /** Nights the window was learned from; 0 = the fixed 22:00–07:00. */
  nights: number;
}

const MIN = 60_000;
/** Signs of life this soon after the exit door belong to the passage (a PIR in the hall set off on the way out). */
const PASSAGE_TAIL_MS = 2 * MIN;
const MIN_SLEEP_MS = 3 * 60 * MIN;
const FALLBACK: SleepWindow = { fromMin: 22 * 60, toMin: 7 * 60, nights: 0 };

const inWindow = (minute: number, w: { fromMin: number; toMin: number }) => (w.fromMin <= w.toMin ? minute >= w.fromMin && minute < w.toMin : minute >= w.fromMin || minute < w.toMin);

/** Learns the home's sleep window from its recording (sorted events). */
export function sleepWindow(events: readonly SensorEvent[], timeZone: string): SleepWindow {
  const longest = new Map<number, { startMs: number; endMs: number }>();
  let last: number | undefined;
  for (const e of events) {
    if (!isBaselineActivity(e)) continue;
    if (last !== undefined && e.atMs - last >= MIN_SLEEP_MS && inWindow(localDayMinute(timeZone, last).minute, { fromMin: 19 * 60, toMin: 6 * 60 })) {
      // The night a stretch belongs to: the local day of its start, shifted by 12 h so that 01:00 joins the evening before.
      const night = localDayMinute(timeZone, last - DAY_MS / 2).day;
      const best = longest.get(night);
      if (best === undefined || e.atMs - last > best.endMs - best.startMs) longest.set(night, { startMs: last, endMs: e.atMs });
    }
    last = e.atMs;
  }
  if (longest.size < 3) return FALLBACK;
  // Minutes are taken relative to noon so that 23:00 and 01:00 have a sensible median.
  const fromNoon = (ms: number) => (localDayMinute(timeZone, ms).minute + 720) % 1440;
  const starts = [...longest.values()].map((s) => fromNoon(s.startMs));
  const ends = [...longest.values()].map((s) => fromNoon(s.endMs));
  const back = (m: number | null) => (Math.round(m ?? 0) + 720) % 1440;
  return { fromMin: back(percentile(starts, 0.5)), toMin: back(percentile(ends, 0.5)), nights: longest.size };
}

/** The kind of a cut at `atMs` (events sorted by time; only those before the cut are looked at). */
export function cutKind(events: readonly SensorEvent[], atMs: number, window: SleepWindow, timeZone: string): CutKind {
  let lastExitMs: number | undefined;
  let lastInsideMs: number | undefined;
  for (const e of events) {
    if (e.atMs > atMs) break;
    if (e.exit === true) lastExitMs = e.atMs;
    else if (isBaselineActivity(e)) lastInsideMs = e.atMs;
  }
  if (lastExitMs !== undefined && (lastInsideMs === undefined || lastInsideMs <= lastExitMs + PASSAGE_TAIL_MS)) return 'out';
  return inWindow(localDayMinute(timeZone, atMs).minute, window) ? 'night' : 'day';
}
