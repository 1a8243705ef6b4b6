/**
 * Settings of the inactivity monitor. Every duration carries its unit; local
 * times are minutes after local midnight in the person's own time zone.
 * The defaults are the policy described in index.ts.
 */
import { KanjiaError, type ErrorCode } from '@kanjia/protocol';

const MIN = 60_000;
const HOUR = 60 * MIN;

export interface InactivityConfig {
  /** Days with signs of life before the learned limits replace the fixed ones. */
  learnDays: number;
  /** Rolling window of days the routine is learned from. */
  historyDays: number;
  /** How long an overnight absence is remembered as "this person stays away overnight". */
  overnightMemoryDays: number;
  /** Between the reminder on the device and the alarm. */
  remindGraceMs: number;
  /**
   * Up and about in the daytime, the alarm after an unanswered reminder waits
   * until the silence is also longer than the longest this home has had in
   * ordinary life in the last historyDays (+ gapMarginMs), at most this long
   * after it began: a beep unheard in the garden or the next room is not yet
   * an SMS in a home that has been this quiet before.
   */
  alarmAfterLongestMaxMs: number;
  /** Quantile of each day's longest silence up and about that makes that wait (1: the longest of all). */
  alarmAfterLongestQuantile: number;

  // Fixed limits while the routine is not learned (the programmes' rule is 12 h of daytime silence).
  /** Daytime silence at home before a reminder. */
  unlearnedDayLimitMs: number;
  /** A silence that starts after this local time (or before the wake-up time) is taken for sleep. */
  unlearnedSleepStartMin: number;
  /** Usual getting-up time assumed until learned. */
  unlearnedWakeMin: number;
  /** Reminder when not up by this local time (alarm a grace period later). */
  unlearnedWakeRemindMin: number;
  /** Core of the night until learned: leaving the house or being out of bed and silent then is unusual. */
  unlearnedCoreNightStartMin: number;
  unlearnedCoreNightEndMin: number;
  /** Gone out through the front door during the day: how long before a reminder/alarm. */
  unlearnedOutLimitMs: number;
  /** Gone out at night (inside the sleep period): how long before a reminder/alarm. */
  unlearnedNightOutLimitMs: number;
  /** Gone out and not back by this local time: reminder/alarm (unless overnight stays are usual). */
  unlearnedBackByMin: number;

  // Learned limits.
  /** Quantile of the longest daily gaps that start around a time of day. */
  gapQuantile: number;
  /** The learned gap is stretched by this factor plus `gapMarginMs`. */
  gapFactor: number;
  gapMarginMs: number;
  /** Bounds of a learned daytime limit. */
  dayLimitMinMs: number;
  dayLimitMaxMs: number;
  /** Samples a time-of-day slot needs (pooled with its neighbours) before its learned limit is used. */
  minSlotSamples: number;
  /** Nights needed before the learned sleep period is used. */
  minNights: number;
  /** The sleep period starts this long before the early (10th percentile) bedtime. */
  bedtimeLeadMs: number;
  /** Reminder this long after the late (90th percentile) getting-up time ... */
  wakeMarginMs: number;
  /** ... but never later than this after the usual (median) getting-up time, so the alarm comes within 2 h of it. */
  wakeRemindMaxAfterUsualMs: number;
  /** Gone out during the day: limit = longest recent day trip × 1.25 + 1 h, within these bounds. */
  outLimitMinMs: number;
  outLimitMaxMs: number;
  /** Not back this long after the late bedtime: reminder/alarm (unless overnight stays are usual). */
  backByAfterLateBedMs: number;
  /** Gone out at night: limit = longest recent night trip × 1.5 + 30 min, within these bounds. */
  nightOutLimitMinMs: number;
  nightOutLimitMaxMs: number;
  /** For a person who does stay away overnight: the longest absence without a word before an alarm (or 1.25 × their longest stay, if longer). */
  overnightAwayMaxMs: number;
  /** Out of bed at night (reliable bed sensor) and silent: limit when no night-time gaps are learned. */
  nightAwakeLimitMs: number;
  /**
   * An evening silence (in the sleep window, before the core of the night)
   * whose last sign of life is not on the person's way to bed (learned: the
   * sensors last before their nights' sleep) is judged by the daytime limit of
   * that half hour, or by this when none is learned.
   */
  eveningNotToBedLimitMs: number;

  /** Quantile of every half hour's longest gap, all hours pooled, that makes the home's floor (RoutineLimits.homeFloorMs). */
  homeFloorQuantile: number;
  /** Quantile of each day's longest silence up and about after one sensor that makes that sensor's floor (RoutineLimits.keyFloorMs). */
  keyFloorQuantile: number;
  /** Upper bound of the home's floor (and of a sensor's). */
  homeFloorMaxMs: number;
  /** Seated (a seat sensor occupied) and silent: reminder after this until learned. */
  unlearnedSeatedLimitMs: number;
  /** Learned seated limit = longest ordinary stays (gapQuantile) × stayFactor + stayMarginMs, within these bounds. */
  seatedLimitMinMs: number;
  seatedLimitMaxMs: number;
  /** Lying on the bed outside the sleep period and silent: reminder after this until learned. */
  unlearnedRestLimitMs: number;
  restLimitMinMs: number;
  restLimitMaxMs: number;
  stayFactor: number;
  stayMarginMs: number;
  /** Stays needed before a learned seated/rest limit is used. */
  minStaySamples: number;
  /** Until learned, a silence taken for sleep is allowed at least this long (a late riser), whatever the fixed getting-up time. */
  unlearnedSleepMaxMs: number;
  /** A not-back-home notice due in these local hours waits until their end (nobody is texted at night about a trip). */
  noticeQuietStartMin: number;
  noticeQuietEndMin: number;

  // Signals.
  /** A motion/appliance/water sensor "on" longer than this without an "off" is stuck (a pet, a fan, a fault): its repeats stop counting. */
  stuckOnMs: number;
  /**
   * A PIR that has reported "off" before and is held "on" (no repeats: it
   * reports changes only) is seeing motion, for at most this long after it
   * came on; the silence is counted from then.
   */
  heldMotionMaxMs: number;
  /** Exit-door events this close together are one passage (open, close, a second try). */
  passageMs: number;
  /** A gap at least this long is a piece of sleep (when it is not an absence). */
  sleepPieceMinMs: number;
  /** Pieces of sleep separated by at most this much activity (a trip to the toilet) are one night. */
  sleepJoinMs: number;
  /** A night's sleep spans at least this long. */
  sleepMinSpanMs: number;
}

export const DEFAULT_INACTIVITY_CONFIG: Readonly<InactivityConfig> = Object.freeze({
  learnDays: 7,
  historyDays: 28,
  overnightMemoryDays: 90,
  remindGraceMs: 20 * MIN,
  // Never past 80 min of daytime silence on its account: the simulated daytime median stays within the programme's
  // 90 min (measured: 89 min with it, 89 without; with 90 min it was 91).
  alarmAfterLongestMaxMs: 80 * MIN,
  alarmAfterLongestQuantile: 1,

  unlearnedDayLimitMs: 4 * HOUR,
  unlearnedSleepStartMin: 20 * 60,
  unlearnedWakeMin: 7 * 60,
  unlearnedWakeRemindMin: 8 * 60 + 30,
  // Until the bedtime is learned, leaving while still up in the evening (22:18) is an evening out; getting up from
  // sleep and going out is caught as a night trip anyway (left within 20 min of sleep).
  unlearnedCoreNightStartMin: 0,
  unlearnedCoreNightEndMin: 5 * 60,
  unlearnedOutLimitMs: 10 * HOUR,
  unlearnedNightOutLimitMs: 3 * HOUR,
  unlearnedBackByMin: 23 * 60,

  gapQuantile: 0.95,
  gapFactor: 1.3,
  gapMarginMs: 15 * MIN,
  dayLimitMinMs: 45 * MIN,
  dayLimitMaxMs: 6 * HOUR,
  minSlotSamples: 8,
  minNights: 5,
  bedtimeLeadMs: 30 * MIN,
  wakeMarginMs: 30 * MIN,
  wakeRemindMaxAfterUsualMs: 75 * MIN,
  outLimitMinMs: 4 * HOUR,
  outLimitMaxMs: 14 * HOUR,
  backByAfterLateBedMs: 2 * HOUR,
  nightOutLimitMinMs: 60 * MIN,
  nightOutLimitMaxMs: 4 * HOUR,
  overnightAwayMaxMs: 72 * HOUR,
  nightAwakeLimitMs: 90 * MIN,
  eveningNotToBedLimitMs: 180 * MIN,

  homeFloorQuantile: 0.5,
  keyFloorQuantile: 0.75,
  homeFloorMaxMs: 3 * HOUR,
  // A seat occupied for six hours without any other sign is worth an alarm; a person who ordinarily sits longer
  // (a whole evening in front of the television) is learned, up to 8 h.
  unlearnedSeatedLimitMs: 6 * HOUR,
  seatedLimitMinMs: 2 * HOUR,
  seatedLimitMaxMs: 8 * HOUR,
  // An occupied bed at 15:00 for three hours is worth a reminder.
  unlearnedRestLimitMs: 3 * HOUR,
  restLimitMinMs: 90 * MIN,
  restLimitMaxMs: 4 * HOUR,
  stayFactor: 1,
  stayMarginMs: 45 * MIN,
  minStaySamples: 5,
  // Few people sleep longer than 11 h; until the getting-up time is learned a late riser is allowed that much.
  unlearnedSleepMaxMs: 11 * HOUR,
  noticeQuietStartMin: 22 * 60,
  noticeQuietEndMin: 7 * 60,

  stuckOnMs: 60 * MIN,
  heldMotionMaxMs: 2 * HOUR,
  passageMs: 3 * MIN,
  sleepPieceMinMs: 60 * MIN,
  sleepJoinMs: 20 * MIN,
  sleepMinSpanMs: 150 * MIN,
});

/** Merges overrides onto the defaults; throws a list of every unusable setting. */
export function resolveInactivityConfig(overrides: Partial<InactivityConfig> = {}): Readonly<InactivityConfig> {
  const merged: InactivityConfig = { ...DEFAULT_INACTIVITY_CONFIG, ...overrides };
  const problems: string[] = [];
  for (const [key, value] of Object.entries(merged)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) problems.push(`${key}: must be a finite number ≥ 0 (got ${String(value)})`);
  }
  for (const key of ['noticeQuietStartMin', 'noticeQuietEndMin', 'unlearnedSleepStartMin', 'unlearnedWakeMin', 'unlearnedWakeRemindMin', 'unlearnedBackByMin', 'unlearnedCoreNightStartMin', 'unlearnedCoreNightEndMin'] as const) {
    if (merged[key] >= 1440) problems.push(`${key}: minutes after local midnight, 0–1439 (got ${merged[key]})`);
  }
  if (merged.gapQuantile > 1) problems.push(`gapQuantile: 0–1 (got ${merged.gapQuantile})`);
  if (merged.homeFloorQuantile > 1) problems.push(`homeFloorQuantile: 0–1 (got ${merged.homeFloorQuantile})`);
  if (merged.alarmAfterLongestQuantile > 1) problems.push(`alarmAfterLongestQuantile: 0–1 (got ${merged.alarmAfterLongestQuantile})`);
  if (merged.keyFloorQuantile > 1) problems.push(`keyFloorQuantile: 0–1 (got ${merged.keyFloorQuantile})`);
  if (merged.dayLimitMinMs > merged.dayLimitMaxMs) problems.push('dayLimitMinMs: must not exceed dayLimitMaxMs');
  if (merged.outLimitMinMs > merged.outLimitMaxMs) problems.push('outLimitMinMs: must not exceed outLimitMaxMs');
  if (merged.nightOutLimitMinMs > merged.nightOutLimitMaxMs) problems.push('nightOutLimitMinMs: must not exceed nightOutLimitMaxMs');
  if (merged.learnDays < 1 || merged.historyDays < merged.learnDays) problems.push('learnDays: 1 … historyDays');
  if (problems.length > 0) throw new InactivityError('INVALID_CONFIG', `inactivity config: ${problems.join('; ')}`);
  return Object.freeze(merged);
}

export const INACTIVITY_ERROR_CODES = ['INVALID_CONFIG', 'INVALID_TIME_ZONE', 'INVALID_STATE', 'NO_DEVICES'] as const satisfies readonly ErrorCode[];
export type InactivityErrorCode = (typeof INACTIVITY_ERROR_CODES)[number];

/** Errors of the inactivity monitor, with a stable code (CONVENTIONS.md §8). */
export class InactivityError extends KanjiaError<InactivityErrorCode> {
  override readonly name = 'InactivityError';
}
