/**
 * What the inactivity monitor learns about one person, from the gaps between
 * their signs of life:
 *
 * - per half hour of the local day, the longest daytime gap that began then
 *   (naps, sitting quietly), kept for each of the last `historyDays` days;
 * - each night's sleep (bedtime and getting-up time), joined from long gaps
 *   separated by short trips to the toilet;
 * - trips out of the front door (how long, whether overnight).
 *
 * Everything is plain JSON so the server can persist it (`RoutineState`).
 */
import type { InactivityConfig } from './config.js';
import { DAY_MS, localDayMinute, toLocalMs, weekdayOfDay } from '@kanjia/protocol';

const MIN = 60_000;
export const SLOT_MIN = 30;
export const SLOTS_PER_DAY = 1440 / SLOT_MIN;

/** A silence as the monitor judged it when it began. */
/**
 * `seated`: a seat sensor says someone sits (the television, a doze); `rest`:
 * the bed is occupied outside the sleep period (a lie-down). Both are states
 * with their own learned durations, not silences.
 */
export type SilenceContext = 'day' | 'sleep' | 'nightAwake' | 'out' | 'away' | 'seated' | 'rest';

export interface SleepPiece {
  /** Start and end of the gap, ms since epoch. */
  s: number;
  e: number;
  /** The bed sensor said "occupied" when the gap began. */
  bed: boolean;
  /** The sensor whose sign of life the gap followed (sensor id, or the source without one). */
  by?: string;
}

export interface NightRecord {
  /** Local day of the evening the night began. */
  day: number;
  /** Bedtime, minutes after local noon of `day` (so 21:00 is 540, 01:00 is 780). */
  bedMin: number;
  /** Getting-up time, minutes after local midnight ending `day` (may be negative for a night that ended before midnight). */
  wakeMin: number;
  /** The bed sensor said "occupied" when the night began. */
  inBed: boolean;
  /** The sensor whose sign of life came last before the night's sleep (the way to bed). */
  by?: string;
}

export interface TripRecord {
  /** Left (first door event of the passage) and next sign of life, ms since epoch. */
  s: number;
  e: number;
  /** Left during the sleep period. */
  night: boolean;
}

/** The learned routine, JSON-serialisable. */
export interface RoutineState {
  /** Local days (since 1970-01-01) on which the person showed signs of life, the last `historyDays`. */
  activeDays: number[];
  /** Local day → longest daytime gap in minutes beginning in each half hour (null: no gap began then). */
  dayGaps: Record<string, (number | null)[]>;
  /** Long gaps of the last two days, not yet assigned to a night. */
  pieces: SleepPiece[];
  nights: NightRecord[];
  /** Which sensors gave signs of life on which local day's evening (first sighting per day), the last `historyDays`. */
  eveningKeys?: { key: string; day: number }[];
  trips: TripRecord[];
  /** Local day → the longest silence of the day up and about at home (`day` context: not in bed, not seated), minutes; the last `historyDays`. */
  freeLongest?: Record<string, number>;
  /**
   * Sensor → local day → the longest silence up and about (`day` context) that
   * followed a sign of life from that sensor, minutes; the last `historyDays`.
   * A door-frame PIR that cannot see the sofa is ordinarily followed by long
   * silences, the kitchen PIR by short ones.
   */
  keyLongest?: Record<string, Record<string, number>>;
  /** Silences spent seated (`seated`) or lying down in the daytime (`rest`), minutes, by local day; the last `historyDays`. */
  stays?: { day: number; kind: 'seated' | 'rest'; min: number; /** Local minute of the day it began (absent in older states). */ at?: number }[];
  /** Nights up to and including this local day are closed (null: none yet). */
  closedThroughDay: number | null;
}

/** Figures derived from the state, recomputed at most once per local day or after a night/trip is added. */
export interface RoutineLimits {
  /** Enough days of data for learned limits. */
  learned: boolean;
  /** Learned daytime limit per half hour of the gap's start, ms; null: not enough samples. */
  slotLimitMs: (number | null)[];
  /** Sleep period from learned nights (null: use the fixed defaults). */
  sleep: {
    /** Silences that begin from here to the usual getting-up time may be sleep. */
    windowStartMin: number;
    usualWakeMin: number;
    /** 10th and 90th percentile getting-up times. */
    earlyWakeMin: number;
    lateWakeMin: number;
    wakeRemindMin: number;
    /** 90th percentile bedtime. */
    lateBedMin: number;
    /** The core of the night, from the late bedtime to the early getting-up time (null: they do not meet). */
    coreNight: { startMin: number; endMin: number } | null;
    bedReliable: boolean;
    nights: number;
    /**
     * The sensors that are last before the night's sleep on at least a tenth of
     * recent nights (the bedroom's motion sensor, the bed): the way to bed. null
     * while too few nights say, or when every sensor of the evening is one of them.
     */
    bedGoingKeys: string[] | null;
    /**
     * Mornings of the week on which this person consistently gets up later
     * (Monday = 0), with their own getting-up time and reminder; null for the
     * other days.
     */
    lateMornings: ({ usualWakeMin: number; wakeRemindMin: number } | null)[];
  } | null;
  /**
   * How long this home's ordinary silences are, whatever their hour: a
   * quantile (homeFloorQuantile) of each day's longest silence up and about
   * (not in bed, not seated, not out) + gapMarginMs, within dayLimitMinMs …
   * homeFloorMaxMs. A home whose sensors are sparse
   * (no PIR in most rooms) has long ordinary silences: no slot's limit is
   * below this. null until learned.
   */
  homeFloorMs: number | null;
  /**
   * How long this home's quietest days are: a quantile
   * (alarmAfterLongestQuantile) of each day's longest silence up and about (not
   * in bed, not seated, not out) of the last historyDays, ms; null until
   * learned. No daytime alarm comes before a silence longer than it
   * (+ gapMarginMs, at most alarmAfterLongestMaxMs).
   */
  longestFreeMs: number | null;
  /**
   * The same, per sensor of the last sign of life: a quantile (keyFloorQuantile)
   * of each day's longest silence up and about after that sensor + gapMarginMs,
   * within dayLimitMinMs … homeFloorMaxMs, for sensors seen on at least
   * minStaySamples days. A silence after the living-room door's PIR (which does
   * not see the sofa) is ordinarily longer than one after the kitchen's.
   */
  keyFloorMs: Record<string, number>;
  /** Seated (seat sensor occupied) and silent: the longest this person ordinarily sits (null: fixed limit). */
  seatedLimitMs: number | null;
  /**
   * Per half hour of the local day a sitting begins: the longest sitting begun
   * within ±2 h of it + stayMarginMs (seatedLimitMinMs … seatedLimitMaxMs),
   * when at least minStaySamples began then; null: use seatedLimitMs. Sitting
   * down after lunch is not the whole evening in front of the television.
   */
  seatedSlotLimitMs: (number | null)[];
  /**
   * Per half hour: this person is ordinarily seated then (a sitting covered it
   * on at least half the recent days: the evening in front of the television).
   */
  seatedUsually: boolean[];
  /** Lying on the bed in the daytime and silent (null: fixed limit). */
  restLimitMs: number | null;
  /** Limits for trips out, ms (null: use the fixed defaults). */
  outLimitMs: number | null;
  nightOutLimitMs: number | null;
  /** Has stayed away overnight in the last `overnightMemoryDays`. */
  overnightUsual: boolean;
  /** Local minutes of the day at which those stays began (they tell a departure for a night away from an errand). */
  overnightDepartureMins: number[];
  /** Longest such stay, ms (0: none). */
  longestOvernightMs: number;
}

export function emptyRoutineState(): RoutineState {
  return { activeDays: [], dayGaps: {}, pieces: [], nights: [], trips: [], closedThroughDay: null };
}

/** Value at quantile q (0–1) of sorted values, linear interpolation. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const lo = Math.floor(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[Math.min(sorted.length - 1, lo + 1)] ?? a;
  return a + (b - a) * (pos - lo);
}

/** Weekday (Monday = 0) of the morning that ends a night (`day` is the evening's local day). */
const weekdayOfMorning = (n: NightRecord): number => weekdayOfDay(n.day + 1);

/**
 * A weekday needs this many recent mornings (every one of its mornings in the 4 weeks of history), and their median
 * this much later than the others', to have its own getting-up time. With three, a person who sleeps at no fixed hour
 * shows one weekday "late" three times running by chance (1 in 1,000 per weekday, recomputed daily, over many
 * people and months): the reminder on such a morning came hours after the usual time.
 */
const LATE_MORNING_MIN_SAMPLES = 4;
const LATE_MORNING_MEDIAN_MS = 60 * MIN;
/** ... and the other mornings' getting-up times within this (10th to 90th percentile). */
const LATE_MORNING_OTHERS_SPREAD_MS = 120 * MIN;

/** Sittings begun this many minutes either side of a half hour tell how long one begun then ordinarily lasts. */
const SEATED_SLOT_WINDOW_MIN = 120;

/** An absence counts as a night away when it lasts this long and spans 03:00. */
const OVERNIGHT_MIN_MS = 6 * 60 * MIN;

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
const mod1440 = (m: number) => ((Math.round(m) % 1440) + 1440) % 1440;

/** Learns one person's routine; all times in their own zone. */
export class RoutineModel {
  private limits: RoutineLimits | undefined;
  private limitsDay = NaN;

  constructor(
    private readonly config: Readonly<InactivityConfig>,
    private readonly timeZone: string,
    readonly state: RoutineState = emptyRoutineState(),
  ) {}

  /** Notes a day with signs of life. */
  markActive(atMs: number): void {
    const { day } = localDayMinute(this.timeZone, atMs);
    const days = this.state.activeDays;
    if (days[days.length - 1] === day) return;
    if (days.includes(day)) return;
    days.push(day);
    days.sort((a, b) => a - b);
    while (days.length > 0 && (days[0] ?? day) <= day - this.config.historyDays) days.shift();
  }

  /**
   * Learns from a silence that just ended: [startMs, endMs) judged as `context`
   * when it began; `departureMs` is when the person left for a trip.
   */
  recordGap(startMs: number, endMs: number, context: SilenceContext, opts: { inBed: boolean; by?: string; departureMs?: number; departedAtNight?: boolean }): void {
    const gapMs = endMs - startMs;
    if (!(gapMs > 0)) return;
    if (context === 'away') return; // announced absence: neither a trip nor a silence of this person's routine
    if (context === 'out') {
      // Learned limits change once a local day (limitsAt): a trip counts from tomorrow.
      this.state.trips.push({ s: opts.departureMs ?? startMs, e: endMs, night: opts.departedAtNight ?? false });
      this.pruneTrips(endMs);
      return;
    }
    if (context === 'seated' || context === 'rest') {
      const { day, minute } = localDayMinute(this.timeZone, startMs);
      const stays = (this.state.stays ??= []);
      stays.push({ day, kind: context, min: Math.round((gapMs / MIN) * 10) / 10, at: minute });
      while (stays.length > 0 && (stays[0]?.day ?? day) <= day - this.config.historyDays) stays.shift();
    }
    if (context === 'day') {
      const { day } = localDayMinute(this.timeZone, startMs);
      const longest = (this.state.freeLongest ??= {});
      const min = Math.round((gapMs / MIN) * 10) / 10;
      if ((longest[String(day)] ?? 0) < min) longest[String(day)] = min;
      for (const key of Object.keys(longest)) if (Number(key) <= day - this.config.historyDays) delete longest[key];
      if (opts.by !== undefined) {
        const all = (this.state.keyLongest ??= {});
        const byDay = (all[opts.by] ??= {});
        if ((byDay[String(day)] ?? 0) < min) byDay[String(day)] = min;
        for (const [k, days] of Object.entries(all)) {
          for (const d of Object.keys(days)) if (Number(d) <= day - this.config.historyDays) delete days[d];
          if (Object.keys(days).length === 0) delete all[k];
        }
      }
    }
    if (context === 'day' || context === 'nightAwake' || context === 'rest') {
      const { day, minute } = localDayMinute(this.timeZone, startMs);
      const key = String(day);
      let row = this.state.dayGaps[key];
      if (row === undefined) {
        row = new Array<number | null>(SLOTS_PER_DAY).fill(null);
        this.state.dayGaps[key] = row;
        this.pruneDayGaps(day);
      }
      const slot = Math.floor(minute / SLOT_MIN);
      const gapMin = Math.round((gapMs / MIN) * 10) / 10;
      const prev = row[slot];
      if (prev === null || prev === undefined || gapMin > prev) row[slot] = gapMin;
    }
    // Sitting is not sleeping: a long evening in the armchair must not become the night's bedtime.
    if (gapMs >= this.config.sleepPieceMinMs && context !== 'seated') {
      this.state.pieces.push({ s: startMs, e: endMs, bed: opts.inBed, ...(opts.by !== undefined ? { by: opts.by } : {}) });
    }
  }

  /**
   * Closes every night whose morning is over (local 16:00 of the next day has
   * passed): joins its long gaps separated by short stirrings (a trip to the
   * toilet) and records bedtime and getting-up time of the night's sleep.
   */
  closeNights(nowMs: number): void {
    const { day: today, minute } = localDayMinute(this.timeZone, nowMs);
    const lastClosable = minute >= 16 * 60 ? today - 1 : today - 2;
    let closed = this.state.closedThroughDay ?? (this.state.activeDays[0] ?? today) - 2;
    // After a long pause (server down, person away) skip to the recent nights.
    if (closed < lastClosable - this.config.historyDays) closed = lastClosable - this.config.historyDays;
    while (closed < lastClosable) {
      closed += 1;
      this.closeNight(closed);
    }
    this.state.closedThroughDay = closed;
    // Pieces that can no longer belong to an open night.
    const keepFromLocal = (closed + 1) * DAY_MS + 12 * 60 * MIN;
    this.state.pieces = this.state.pieces.filter((p) => toLocalMs(this.timeZone, p.e) > keepFromLocal);
  }

  private closeNight(day: number): void {
    const from = day * DAY_MS + 17 * 60 * MIN; // local 17:00 of the evening
    const startBefore = (day + 1) * DAY_MS + 12 * 60 * MIN; // a night begins before local noon next day
    const endBefore = (day + 1) * DAY_MS + 16 * 60 * MIN;
    const pieces = this.state.pieces
      .map((p) => ({ s: toLocalMs(this.timeZone, p.s), e: toLocalMs(this.timeZone, p.e), bed: p.bed, by: p.by }))
      .filter((p) => p.s >= from && p.s < startBefore && p.e <= endBefore)
      .sort((a, b) => a.s - b.s);
    const chains: { s: number; e: number; bed: boolean; by: string | undefined }[] = [];
    for (const p of pieces) {
      const last = chains[chains.length - 1];
      if (last !== undefined && p.s - last.e <= this.config.sleepJoinMs) last.e = Math.max(last.e, p.e);
      else chains.push({ ...p });
    }
    // The night's sleep: of the long chains through some of 23:00–05:00, the
    // one most inside it (a quiet morning or an afternoon nap is not the night).
    const coreFrom = day * DAY_MS + 23 * 60 * MIN;
    const coreTo = (day + 1) * DAY_MS + 5 * 60 * MIN;
    const overlap = (c: { s: number; e: number }) => Math.max(0, Math.min(c.e, coreTo) - Math.max(c.s, coreFrom));
    let main: { s: number; e: number; bed: boolean; by: string | undefined } | undefined;
    for (const c of chains) {
      if (c.e - c.s < this.config.sleepMinSpanMs || overlap(c) === 0) continue;
      if (main === undefined || overlap(c) > overlap(main) || (overlap(c) === overlap(main) && c.e - c.s > main.e - main.s)) main = c;
    }
    if (main === undefined) return; // no sleep through any of 23:00–05:00: not a night to learn from
    const noon = day * DAY_MS + 12 * 60 * MIN;
    const midnight = (day + 1) * DAY_MS;
    this.state.nights.push({
      day,
      bedMin: Math.round((main.s - noon) / MIN),
      wakeMin: Math.round((main.e - midnight) / MIN),
      inBed: main.bed,
      ...(main.by !== undefined ? { by: main.by } : {}),
    });
    while (this.state.nights.length > 0 && (this.state.nights[0]?.day ?? day) <= day - this.config.historyDays) this.state.nights.shift();
  }

  private pruneDayGaps(today: number): void {
    for (const key of Object.keys(this.state.dayGaps)) {
      if (Number(key) <= today - this.config.historyDays) delete this.state.dayGaps[key];
    }
  }

  private pruneTrips(nowMs: number): void {
    const from = nowMs - this.config.overnightMemoryDays * DAY_MS;
    this.state.trips = this.state.trips.filter((t) => t.e >= from);
  }

  /** Derived limits for the local day of `nowMs` (computed once a day from the days before it). */
  limitsAt(nowMs: number, bedSeen: boolean): RoutineLimits {
    const { day } = localDayMinute(this.timeZone, nowMs);
    if (this.limits !== undefined && this.limitsDay === day) return this.limits;
    this.limits = this.derive(day, nowMs, bedSeen);
    this.limitsDay = day;
    return this.limits;
  }

  /** Forget cached limits (a bed sensor appeared, the state was replaced). */
  invalidate(): void {
    this.limits = undefined;
  }

  private derive(today: number, nowMs: number, bedSeen: boolean): RoutineLimits {
    const c = this.config;
    const recentDays = this.state.activeDays.filter((d) => d < today && d > today - c.historyDays);
    const learned = recentDays.length >= c.learnDays;

    // Daytime: per slot, the longest gaps of past days that began within ±30 min.
    const slotLimitMs: (number | null)[] = new Array<number | null>(SLOTS_PER_DAY).fill(null);
    if (learned) {
      const rows = Object.entries(this.state.dayGaps)
        .filter(([d]) => Number(d) < today && Number(d) > today - c.historyDays)
        .map(([, row]) => row);
      for (let k = 0; k < SLOTS_PER_DAY; k++) {
        const samples: number[] = [];
        for (const row of rows) {
          for (const j of [k - 1, k, k + 1]) {
            const v = row[(j + SLOTS_PER_DAY) % SLOTS_PER_DAY];
            if (v !== null && v !== undefined) samples.push(v);
          }
        }
        if (samples.length < c.minSlotSamples) continue;
        samples.sort((a, b) => a - b);
        const gapMs = quantile(samples, c.gapQuantile) * MIN;
        slotLimitMs[k] = clamp(gapMs * c.gapFactor + c.gapMarginMs, c.dayLimitMinMs, c.dayLimitMaxMs);
      }
    }
    // The home's own density of signs of life: the median longest gap of a half hour, over every slot of every day.
    let homeFloorMs: number | null = null;
    if (learned) {
      const all: number[] = [];
      for (const [d, longest] of Object.entries(this.state.freeLongest ?? {})) {
        if (Number(d) < today && Number(d) > today - c.historyDays) all.push(longest);
      }
      if (all.length >= c.learnDays) {
        all.sort((a, b) => a - b);
        homeFloorMs = clamp(quantile(all, c.homeFloorQuantile) * MIN + c.gapMarginMs, c.dayLimitMinMs, c.homeFloorMaxMs);
        for (let k = 0; k < SLOTS_PER_DAY; k++) {
          const v = slotLimitMs[k];
          if (v !== null && v !== undefined && v < homeFloorMs) slotLimitMs[k] = homeFloorMs;
        }
      }
    }
    let longestFreeMs: number | null = null;
    if (learned) {
      const daily = Object.entries(this.state.freeLongest ?? {})
        .filter(([d]) => Number(d) < today && Number(d) > today - c.historyDays)
        .map(([, m]) => m)
        .sort((a, b) => a - b);
      if (daily.length > 0) longestFreeMs = quantile(daily, c.alarmAfterLongestQuantile) * MIN;
    }
    // The same density per sensor: what ordinarily follows a sign of life from it.
    const keyFloorMs: Record<string, number> = {};
    if (learned) {
      for (const [key, days] of Object.entries(this.state.keyLongest ?? {})) {
        const mins = Object.entries(days).filter(([d]) => Number(d) < today && Number(d) > today - c.historyDays).map(([, m]) => m).sort((a, b) => a - b);
        if (mins.length < c.minStaySamples) continue;
        keyFloorMs[key] = clamp(quantile(mins, c.keyFloorQuantile) * MIN + c.gapMarginMs, c.dayLimitMinMs, c.homeFloorMaxMs);
      }
    }
    // Seated and lying down in the daytime: the longest ordinary stays, stretched.
    const stayLimit = (kind: 'seated' | 'rest', lo: number, hi: number): number | null => {
      if (!learned) return null;
      const mins = (this.state.stays ?? []).filter((s) => s.kind === kind && s.day < today && s.day > today - c.historyDays).map((s) => s.min).sort((a, b) => a - b);
      if (mins.length < c.minStaySamples) return null;
      return clamp((mins[mins.length - 1] ?? 0) * MIN * c.stayFactor + c.stayMarginMs, lo, hi);
    };

    // Sleep: bedtimes and getting-up times of recent nights.
    let sleep: RoutineLimits['sleep'] = null;
    const nights = this.state.nights.filter((n) => n.day < today && n.day >= today - c.historyDays);
    if (nights.length >= c.minNights) {
      // The usual getting-up times are those of the ordinary mornings: a weekly lie-in has its own.
      const lateMornings = this.lateMornings(nights);
      const ordinary = nights.filter((n) => lateMornings[weekdayOfMorning(n)] === null);
      const wakes = (ordinary.length >= c.minNights ? ordinary : nights).map((n) => n.wakeMin).sort((a, b) => a - b);
      const beds = nights.map((n) => n.bedMin).sort((a, b) => a - b);
      const usualWake = quantile(wakes, 0.5);
      const lateWake = quantile(wakes, 0.9);
      const earlyWake = quantile(wakes, 0.1);
      const earlyBed = quantile(beds, 0.1);
      const lateBed = quantile(beds, 0.9);
      sleep = {
        windowStartMin: mod1440(720 + earlyBed - c.bedtimeLeadMs / MIN),
        usualWakeMin: mod1440(usualWake),
        earlyWakeMin: mod1440(earlyWake),
        lateWakeMin: mod1440(lateWake),
        wakeRemindMin: mod1440(Math.min(lateWake + c.wakeMarginMs / MIN, usualWake + c.wakeRemindMaxAfterUsualMs / MIN)),
        lateBedMin: mod1440(720 + lateBed),
        // Both as minutes after noon: bedtimes are, getting-up times are after midnight (+720).
        coreNight: lateBed < earlyWake + 720 ? { startMin: mod1440(720 + lateBed), endMin: mod1440(earlyWake) } : null,
        bedReliable: bedSeen && nights.filter((n) => n.inBed).length >= 0.7 * nights.length,
        nights: nights.length,
        bedGoingKeys: this.bedGoingKeys(nights, today),
        lateMornings,
      };
    }

    // Trips out of the door.
    const recentFrom = nowMs - c.historyDays * DAY_MS;
    let longestDay = 0;
    let longestNight = 0;
    let overnight = false;
    let longestOvernight = 0;
    const overnightDepartureMins: number[] = [];
    for (const t of this.state.trips) {
      // A stay away overnight, not a trip to an outside toilet at 3 a.m.
      const crossesNight = t.e - t.s >= OVERNIGHT_MIN_MS && this.containsLocalTime(t.s, t.e, 3 * 60);
      if (crossesNight) {
        overnight = true;
        longestOvernight = Math.max(longestOvernight, t.e - t.s);
        overnightDepartureMins.push(localDayMinute(this.timeZone, t.s).minute);
      }
      if (t.s < recentFrom) continue;
      if (t.night) longestNight = Math.max(longestNight, t.e - t.s);
      else if (!crossesNight) longestDay = Math.max(longestDay, t.e - t.s);
    }
    return {
      learned,
      slotLimitMs,
      homeFloorMs,
      longestFreeMs,
      keyFloorMs,
      seatedLimitMs: stayLimit('seated', c.seatedLimitMinMs, c.seatedLimitMaxMs),
      seatedSlotLimitMs: this.seatedSlotLimits(learned, today),
      seatedUsually: this.seatedUsually(learned, today, recentDays.length),
      restLimitMs: stayLimit('rest', c.restLimitMinMs, c.restLimitMaxMs),
      sleep,
      outLimitMs: learned ? clamp(longestDay * 1.25 + 60 * MIN, c.outLimitMinMs, c.outLimitMaxMs) : null,
      nightOutLimitMs: learned ? clamp(longestNight * 1.5 + 30 * MIN, c.nightOutLimitMinMs, c.nightOutLimitMaxMs) : null,
      overnightUsual: overnight,
      overnightDepartureMins,
      longestOvernightMs: longestOvernight,
    };
  }

  /** RoutineLimits.seatedUsually. */
  private seatedUsually(learned: boolean, today: number, days: number): boolean[] {
    const c = this.config;
    const out = new Array<boolean>(SLOTS_PER_DAY).fill(false);
    if (!learned || days === 0) return out;
    const covered = new Array<Set<number>>(SLOTS_PER_DAY).fill(new Set()).map(() => new Set<number>());
    for (const st of this.state.stays ?? []) {
      if (st.kind !== 'seated' || st.at === undefined || st.day >= today || st.day <= today - c.historyDays) continue;
      // Seated at a half hour: the sitting spans its middle minute.
      const firstCentre = Math.ceil((st.at - SLOT_MIN / 2) / SLOT_MIN) * SLOT_MIN + SLOT_MIN / 2;
      for (let m = firstCentre; m < st.at + st.min; m += SLOT_MIN) covered[Math.floor(m / SLOT_MIN) % SLOTS_PER_DAY]?.add(st.day + Math.floor(m / 1440));
    }
    for (let k = 0; k < SLOTS_PER_DAY; k++) out[k] = (covered[k]?.size ?? 0) >= 0.5 * days;
    return out;
  }

  /** RoutineLimits.seatedSlotLimitMs. */
  private seatedSlotLimits(learned: boolean, today: number): (number | null)[] {
    const c = this.config;
    const out = new Array<number | null>(SLOTS_PER_DAY).fill(null);
    if (!learned) return out;
    const stays = (this.state.stays ?? []).filter((s) => s.kind === 'seated' && s.day < today && s.day > today - c.historyDays);
    for (let k = 0; k < SLOTS_PER_DAY; k++) {
      const centre = k * SLOT_MIN + SLOT_MIN / 2;
      // A stay of an older state without its time of day counts for every half hour (the longest overall).
      const near = stays.filter((s) => s.at === undefined || Math.min(Math.abs(s.at - centre), 1440 - Math.abs(s.at - centre)) <= SEATED_SLOT_WINDOW_MIN);
      if (near.length < c.minStaySamples) continue;
      const longest = Math.max(...near.map((s) => s.min));
      out[k] = clamp(longest * MIN * c.stayFactor + c.stayMarginMs, c.seatedLimitMinMs, c.seatedLimitMaxMs);
    }
    return out;
  }

  /**
   * The way to bed: the sensors last before at least a tenth of the recent
   * nights' sleep. Only when they tell something: at least `minNights` nights
   * say, and some sensor seen in the evenings is not among them.
   */
  private bedGoingKeys(nights: readonly NightRecord[], today: number): string[] | null {
    const known = nights.filter((n) => n.by !== undefined);
    if (known.length < this.config.minNights) return null;
    const counts = new Map<string, number>();
    for (const n of known) counts.set(n.by as string, (counts.get(n.by as string) ?? 0) + 1);
    const keys = [...counts].filter(([, c]) => c >= 0.1 * known.length).map(([k]) => k).sort();
    const evening = new Set(this.state.eveningKeys?.filter((e) => e.day < today && e.day >= today - this.config.historyDays).map((e) => e.key) ?? []);
    return [...evening].some((k) => !keys.includes(k)) ? keys : null;
  }

  /**
   * Weekdays whose mornings are consistently later (a weekend lie-in), with
   * their own getting-up time and reminder: at least four recent such
   * mornings, every one later than 90 % of the other mornings, and their
   * median an hour or more after the others' (so a person who simply sleeps
   * at no fixed hour gets none by chance). Saturday and Sunday are also
   * judged together, for someone away some weekends.
   */
  private lateMornings(nights: readonly NightRecord[]): NonNullable<RoutineLimits['sleep']>['lateMornings'] {
    const c = this.config;
    const judge = (group: ReadonlySet<number>) => {
      const mine = nights.filter((n) => group.has(weekdayOfMorning(n))).map((n) => n.wakeMin).sort((a, b) => a - b);
      const others = nights.filter((n) => !group.has(weekdayOfMorning(n))).map((n) => n.wakeMin).sort((a, b) => a - b);
      if (mine.length < LATE_MORNING_MIN_SAMPLES || others.length < LATE_MORNING_MIN_SAMPLES) return null;
      const median = quantile(mine, 0.5);
      // Only against otherwise regular mornings: where getting-up times spread over hours anyway, a late weekday is chance.
      if (quantile(others, 0.9) - quantile(others, 0.1) > LATE_MORNING_OTHERS_SPREAD_MS / MIN) return null;
      if ((mine[0] ?? 0) <= quantile(others, 0.9) || median < quantile(others, 0.5) + LATE_MORNING_MEDIAN_MS / MIN) return null;
      const late = mine[mine.length - 1] ?? median;
      return { usualWakeMin: mod1440(median), wakeRemindMin: mod1440(Math.min(late + c.wakeMarginMs / MIN, median + c.wakeRemindMaxAfterUsualMs / MIN)) };
    };
    const days = [0, 1, 2, 3, 4, 5, 6].map((d) => judge(new Set([d])));
    const weekend = judge(new Set([5, 6]));
    if (weekend !== null) for (const d of [5, 6]) days[d] ??= weekend;
    return days;
  }

  /** Notes which sensors show signs of life in the evening (18:00–24:00), to know whether the way to bed is distinct. */
  noteEveningSensor(key: string, atMs: number): void {
    const { day, minute } = localDayMinute(this.timeZone, atMs);
    if (minute < 18 * 60) return;
    const list = (this.state.eveningKeys ??= []);
    if (list.some((e) => e.key === key && e.day === day)) return;
    list.push({ key, day });
    while (list.length > 0 && (list[0]?.day ?? day) <= day - this.config.historyDays) list.shift();
  }

  /** Whether [s, e) contains a moment at which the local clock reads `minuteOfDay`. */
  private containsLocalTime(s: number, e: number, minuteOfDay: number): boolean {
    if (e - s >= DAY_MS) return true;
    const ls = toLocalMs(this.timeZone, s);
    const le = toLocalMs(this.timeZone, e);
    const dayStart = Math.floor(ls / DAY_MS) * DAY_MS;
    for (let t = dayStart + minuteOfDay * MIN; t < le; t += DAY_MS) if (t >= ls) return true;
    return false;
  }
}
