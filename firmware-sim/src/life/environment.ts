/**
 * The indoor climate of a simulated village house, minute by minute: the
 * temperature a thermometer on the wall reads and the carbon monoxide a CO
 * alarm by the stove reads.
 *
 * The model is deliberately simple and stated: the outdoor temperature follows
 * the monthly means of the North China Plain with a daily swing; in the
 * heating season (November to March) a coal stove keeps the room near 15 °C
 * while the person is up and at home, banked lower at night and while they are
 * out; the room relaxes towards its target with a time constant of hours. A
 * stove that goes out (a `coldHouse` incident, or nobody to add coal after an
 * incapacitation) lets the room cool towards the outdoor temperature. A
 * burning stove adds a few ppm of CO; a leak climbs to its peak over its ramp.
 */
import { localDayMinute } from '@kanjia/protocol';
import { hashSeed, Prng } from '../routine/prng.js';
import { stateAt, type Routine } from '../routine/generate-routine.js';
import { DEFAULT_CO_PEAK_PPM, DEFAULT_CO_RAMP_MIN, type LifeIncident } from './incidents.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** Monthly mean outdoor temperature, °C, January first (Shijiazhuang, Hebei, 1991–2020 normals, rounded). */
export const OUTDOOR_MONTHLY_MEAN_C = [-2, 1.5, 8, 15.5, 21.5, 26, 27.5, 26, 21.5, 15, 6.5, 0] as const;
/** Half the usual difference between the warmest (about 14:30) and coldest hour of a day, °C. */
const DAILY_SWING_C = 5;
/** After an incapacitation the stove burns out this long after the last coal was added. */
const STOVE_BURNS_MS = 4 * HOUR;

export interface ClimateSample {
  atMs: number;
  temperatureC: number;
  humidityPct: number;
  coPpm: number;
}

export interface ClimateOptions {
  routine: Routine;
  incidents: readonly LifeIncident[];
  /** From this moment the person does nothing (nobody tends the stove). */
  incapacitatedAtMs?: number;
  seed: number;
}

/** Whether `atMs` falls in the heating season (local months November–March). */
export function heatingSeason(atMs: number, timeZone: string): boolean {
  const month = new Date(localDayMinute(timeZone, atMs).day * 86_400_000).getUTCMonth() + 1;
  return month >= 11 || month <= 3;
}

/** One sample per minute from the routine's start to its end. */
export function simulateClimate(options: ClimateOptions): ClimateSample[] {
  const { routine } = options;
  const tz = routine.timeZone;
  const rng = new Prng(hashSeed(options.seed, 0xc11a));
  const coldAt = options.incidents.find((i) => i.kind === 'coldHouse')?.atMs;
  const stoveOutAt = Math.min(coldAt ?? Infinity, (options.incapacitatedAtMs ?? Infinity) + STOVE_BURNS_MS);
  const leaks = options.incidents.flatMap((i) => (i.kind === 'coLeak' ? [i] : []));
  // A day's weather departs from the monthly mean; one draw per local day.
  const dayOffset = new Map<number, number>();
  const weather = (day: number): number => {
    let v = dayOffset.get(day);
    if (v === undefined) {
      v = new Prng(hashSeed(options.seed ^ 0x3ea7, day)).normal(0, 2.5);
      dayOffset.set(day, v);
    }
    return v;
  };
  const outdoor = (t: number): number => {
    const { day, minute } = localDayMinute(tz, t);
    const month = new Date(day * 86_400_000).getUTCMonth();
    const mean = OUTDOOR_MONTHLY_MEAN_C[month] ?? 12;
    return mean + weather(day) + DAILY_SWING_C * Math.cos((2 * Math.PI * (minute / 60 - 14.5)) / 24);
  };

  const out: ClimateSample[] = [];
  let temp: number | undefined;
  let humidity = 45 + rng.uniform(-5, 5);
  let background = 1;
  for (let t = routine.startMs; t < routine.endMs; t += MIN) {
    const heating = heatingSeason(t, tz) && t < stoveOutAt;
    const where = options.incapacitatedAtMs !== undefined && t >= options.incapacitatedAtMs ? 'home' : stateAt(routine.truth, t);
    const up = where === 'home' && !(options.incapacitatedAtMs !== undefined && t >= options.incapacitatedAtMs);
    const o = outdoor(t);
    let target: number;
    let tauMs: number;
    if (heating) {
      target = up ? 15 : where === 'asleep' ? 9 : 11;
      tauMs = 2 * HOUR;
    } else {
      // No stove: walls and roof follow the weather, slowly.
      target = o + 1.5;
      tauMs = heatingSeason(t, tz) ? 5 * HOUR : 4 * HOUR;
    }
    temp ??= target;
    temp += (target - temp) * (1 - Math.exp(-MIN / tauMs));
    humidity = Math.min(90, Math.max(20, humidity + rng.normal(0, 0.3) + (45 - humidity) * 0.01));
    // A burning stove leaks a little into the room; the background wanders.
    const bgTarget = heating ? 4 : 0.5;
    background = Math.max(0, background + (bgTarget - background) * 0.02 + rng.normal(0, 0.15));
    let co = background;
    for (const leak of leaks) {
      if (t < leak.atMs) continue;
      const ramp = (leak.rampMin ?? DEFAULT_CO_RAMP_MIN) * MIN;
      co += (leak.peakPpm ?? DEFAULT_CO_PEAK_PPM) * (1 - Math.exp((-3 * (t - leak.atMs)) / ramp));
    }
    out.push({ atMs: t, temperatureC: Math.round(temp * 10) / 10, humidityPct: Math.round(humidity), coPpm: Math.round(co) });
  }
  return out;
}
