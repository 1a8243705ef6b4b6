/**
 * Kinds of old people living alone in a village, and one person drawn from a
 * kind with their own habits. Times are local minutes after midnight (a
 * bedtime after midnight is > 1440). The figures are plausible guesses from
 * descriptions of rural life (farmers up before five, early nights, 赶集 market
 * days every five days, naps after lunch), not measurements: the point is that
 * people differ and days differ.
 */
import type { Prng } from './prng.js';

export const PROFILE_NAMES = ['earlyFarmer', 'frailIndoors', 'nightOwl', 'irregular', 'sociable'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** The habits of one simulated person. */
export interface PersonHabits {
  profile: ProfileName;
  /** Usual getting-up time and its day-to-day spread (sd), local minutes. */
  wakeMin: number;
  wakeSdMin: number;
  /** Usual bedtime (may exceed 1440) and spread. */
  bedMin: number;
  bedSdMin: number;
  /** Sleeps at no fixed hour: bedtime anywhere in [20:00, 03:00), 6–10 h. */
  irregularSleep: boolean;
  /** Probability of an afternoon nap, and its mean length in minutes. */
  napProb: number;
  napMeanMin: number;
  /** Probability of going to the fields in a half day. */
  fieldsProb: number;
  /** Goes to the market every 5 days with this probability. */
  marketProb: number;
  /** Probability per half day of visiting a neighbour (out 0.5–2.5 h). */
  visitProb: number;
  /** Expected short trips to the courtyard / fetching coal per day (out 10–60 min). */
  courtyardPerDay: number;
  /** Probability per half day that someone visits (door in, door out). */
  visitorProb: number;
  /** Probability of a bad day: stays in bed late, little activity, no going out. */
  badDayProb: number;
  /** Expected night-time trips to the toilet. */
  toiletPerNight: number;
  /** The toilet is outside (a night trip goes through the front door). */
  outhouse: boolean;
  /** Expected stays away overnight (at a child's home in town) per 30 days. */
  overnightPer30Days: number;
  /** Multiplier of motion while at home (a lively person triggers sensors more). */
  liveliness: number;
  /** Presses the 平安 button most mornings. */
  checksIn: boolean;
  /** Dozes in the chair in the evening instead of going to bed at once. */
  dozesInChair: number;
}

interface Kind {
  wake: number;
  wakeSd: number;
  bed: number;
  bedSd: number;
  irregular: boolean;
  napProb: number;
  napMean: number;
  fields: number;
  market: number;
  visit: number;
  courtyard: number;
  visitor: number;
  bad: number;
  toilet: number;
  outhouse: number;
  overnight: number;
  lively: number;
  dozes: number;
}

const KINDS: Record<ProfileName, Kind> = {
  // Up before five, in the fields most days, early to bed.
  earlyFarmer: { wake: 300, wakeSd: 25, bed: 1230, bedSd: 30, irregular: false, napProb: 0.6, napMean: 40, fields: 0.7, market: 0.5, visit: 0.15, courtyard: 3, visitor: 0.1, bad: 0.04, toilet: 1, outhouse: 0.4, overnight: 0, lively: 1.2, dozes: 0.05 },
  // Mostly indoors, slow, long naps, helpers come by, more bad days.
  frailIndoors: { wake: 420, wakeSd: 45, bed: 1170, bedSd: 45, irregular: false, napProb: 0.9, napMean: 100, fields: 0, market: 0.05, visit: 0.05, courtyard: 1, visitor: 0.3, bad: 0.12, toilet: 2, outhouse: 0.1, overnight: 0, lively: 0.6, dozes: 0.2 },
  // Television late, up late.
  nightOwl: { wake: 540, wakeSd: 50, bed: 1470, bedSd: 60, irregular: false, napProb: 0.3, napMean: 60, fields: 0.2, market: 0.3, visit: 0.2, courtyard: 2, visitor: 0.15, bad: 0.06, toilet: 1, outhouse: 0.2, overnight: 0.3, lively: 0.9, dozes: 0.4 },
  // Never sleeps at the same hour twice.
  irregular: { wake: 420, wakeSd: 0, bed: 1350, bedSd: 0, irregular: true, napProb: 0.5, napMean: 70, fields: 0.2, market: 0.3, visit: 0.2, courtyard: 2, visitor: 0.15, bad: 0.08, toilet: 2, outhouse: 0.3, overnight: 0, lively: 0.9, dozes: 0.3 },
  // Market days, neighbours, stays at a child's home in town now and then.
  sociable: { wake: 360, wakeSd: 30, bed: 1290, bedSd: 40, irregular: false, napProb: 0.5, napMean: 50, fields: 0.25, market: 0.85, visit: 0.5, courtyard: 2, visitor: 0.3, bad: 0.04, toilet: 1, outhouse: 0.3, overnight: 1.2, lively: 1.0, dozes: 0.1 },
};

/**
 * How common each kind is among people living alone in a village, when the
 * seed chooses: a guess (most are farmers with regular early days), stated so
 * that evaluators can report figures per kind.
 */
export const PROFILE_WEIGHTS: Readonly<Record<ProfileName, number>> = { earlyFarmer: 0.3, sociable: 0.25, frailIndoors: 0.25, nightOwl: 0.12, irregular: 0.08 };

function pickProfile(rng: Prng): ProfileName {
  let r = rng.next();
  for (const name of PROFILE_NAMES) {
    r -= PROFILE_WEIGHTS[name];
    if (r < 0) return name;
  }
  return 'earlyFarmer';
}

/** Draws a person of `profile` (or of a kind drawn from the seed by PROFILE_WEIGHTS), each with their own habits. */
export function drawPerson(rng: Prng, profile?: ProfileName): PersonHabits {
  const name = profile ?? pickProfile(rng);
  const k = KINDS[name];
  const vary = (x: number) => x * rng.uniform(0.7, 1.3);
  const p = (x: number) => Math.min(1, vary(x));
  return {
    profile: name,
    wakeMin: k.wake + rng.uniform(-40, 40),
    wakeSdMin: k.wakeSd * rng.uniform(0.7, 1.3),
    bedMin: k.bed + rng.uniform(-40, 40),
    bedSdMin: k.bedSd * rng.uniform(0.7, 1.3),
    irregularSleep: k.irregular,
    napProb: p(k.napProb),
    napMeanMin: vary(k.napMean),
    fieldsProb: p(k.fields),
    marketProb: p(k.market),
    visitProb: p(k.visit),
    courtyardPerDay: vary(k.courtyard),
    visitorProb: p(k.visitor),
    badDayProb: p(k.bad),
    toiletPerNight: vary(k.toilet),
    outhouse: rng.chance(k.outhouse),
    overnightPer30Days: vary(k.overnight),
    liveliness: vary(k.lively),
    checksIn: rng.chance(0.7),
    dozesInChair: p(k.dozes),
  };
}
