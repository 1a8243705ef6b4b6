/** The seeded routine generator: deterministic, varied, sorted, fast, and incidents that stop the person. */
import { describe, expect, it } from 'vitest';
import { generateRoutine, incidentTail, PROFILE_NAMES, Prng, stateAt, type Routine } from '../src/routine/index.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Local minute of the day in a zone. */
function localMinute(ms: number, timeZone: string): number {
  const [h = '0', m = '0'] = new Intl.DateTimeFormat('en-GB', { timeZone, hourCycle: 'h23', hour: '2-digit', minute: '2-digit' }).format(new Date(ms)).split(':');
  return Number(h) * 60 + Number(m);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

describe('Prng (mulberry32)', () => {
  it('gives the same sequence for the same seed and a different one for seed + 1', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const sa = Array.from({ length: 5 }, () => a.next());
    expect(Array.from({ length: 5 }, () => b.next())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(sa);
    expect(sa.every((x) => x >= 0 && x < 1)).toBe(true);
  });
});

describe('generateRoutine', () => {
  it('same seed → the same person and the same 14 days of events, to the millisecond', () => {
    const a = generateRoutine({ seed: 7, startDate: '2026-01-05', days: 14 });
    const b = generateRoutine({ seed: 7, startDate: '2026-01-05', days: 14 });
    expect(b.person).toEqual(a.person);
    expect(b.sensors).toEqual(a.sensors);
    expect(b.events).toEqual(a.events);
  });

  it('different seeds → different people: 30 seeds give at least 4 kinds and 30 different getting-up habits', () => {
    const people = Array.from({ length: 30 }, (_, i) => generateRoutine({ seed: 1000 + i, startDate: '2026-01-05', days: 2 }).person);
    expect(new Set(people.map((p) => p.profile)).size).toBeGreaterThanOrEqual(4);
    expect(new Set(people.map((p) => p.wakeMin.toFixed(3))).size).toBe(30);
    expect(PROFILE_NAMES).toContain(people[0]?.profile);
  });

  it('events are sorted by time, inside the simulated days, and use only the household sensors', () => {
    const r = generateRoutine({ seed: 3, startDate: '2026-02-01', days: 30 });
    const ids = new Set(r.sensors.map((s) => s.id));
    for (let i = 1; i < r.events.length; i++) expect(r.events[i]?.atMs).toBeGreaterThanOrEqual(r.events[i - 1]?.atMs ?? 0);
    expect(r.events[0]?.atMs).toBeGreaterThanOrEqual(r.startMs);
    expect(r.events[r.events.length - 1]?.atMs).toBeLessThan(r.endMs);
    expect(r.events.every((e) => ids.has(e.sensorId))).toBe(true);
    expect(r.events.length / 30).toBeGreaterThan(50); // a lived-in home, not a trickle
  });

  it('a day has a shape: asleep at 03:00 most nights, up and about at 10:00 or out, front door used', () => {
    const r = generateRoutine({ seed: 11, startDate: '2026-04-01', days: 30, profile: 'earlyFarmer' });
    const at = (d: number, h: number) => r.startMs + d * DAY + h * HOUR; // startMs is local midnight (Asia/Shanghai, no DST)
    const asleep3 = Array.from({ length: 29 }, (_, d) => stateAt(r.truth, at(d + 1, 3))).filter((s) => s === 'asleep').length;
    expect(asleep3).toBeGreaterThanOrEqual(27);
    expect(r.events.some((e) => e.sensorId === 'd-front' && e.exit === true)).toBe(true);
    expect(r.truth.outs.length).toBeGreaterThan(20);
    // Early farmers are up around five, local time.
    expect(r.truth.usualWakeMin).toBeGreaterThan(3 * 60 + 30);
    expect(r.truth.usualWakeMin).toBeLessThan(6 * 60 + 30);
  });

  it('plans in local time: across the DST change in Europe/Amsterdam the getting-up time stays the same on the clock', () => {
    const r = generateRoutine({ seed: 5, startDate: '2026-03-01', days: 56, timeZone: 'Europe/Amsterdam', profile: 'earlyFarmer' });
    const change = Date.UTC(2026, 2, 29, 1);
    const before = r.truth.sleeps.filter((s) => s.e < change).map((s) => localMinute(s.e, r.timeZone));
    const after = r.truth.sleeps.filter((s) => s.e > change + DAY).map((s) => localMinute(s.e, r.timeZone));
    expect(Math.abs(median(before) - median(after))).toBeLessThan(30);
  });

  it('simulates 100 person-months in a few seconds', () => {
    const started = Date.now();
    let events = 0;
    for (let i = 0; i < 100; i++) events += generateRoutine({ seed: i, startDate: '2026-01-01', days: 30 }).events.length;
    expect(events).toBeGreaterThan(100 * 30 * 50);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('incapacitation at 10:00: no sign of life afterwards, only machines switching off and PIRs timing out', () => {
    const T = Date.parse('2026-01-20T10:00:00+08:00');
    const normal = generateRoutine({ seed: 9, startDate: '2026-01-05', days: 30 });
    const r = generateRoutine({ seed: 9, startDate: '2026-01-05', days: 30, incidents: [{ kind: 'incapacitation', atMs: T, where: 'floor' }] });
    const before = (x: Routine) => x.events.filter((e) => e.atMs < T);
    expect(before(r)).toEqual(before(normal)); // the same life up to the incident
    const after = r.events.filter((e) => e.atMs >= T);
    expect(after.every((e) => e.auto === true && e.value === 0)).toBe(true);
    expect(after.every((e) => e.atMs < T + 6 * HOUR)).toBe(true);
  });

  it('incapacitated in bed with the bed sensor stuck: the bed keeps reporting "occupied" every 30 min and nothing else moves', () => {
    // Find a household with a bed sensor.
    let seed = 1;
    while (!generateRoutine({ seed, startDate: '2026-01-05', days: 1 }).sensors.some((s) => s.id === 'bed')) seed++;
    const normal = generateRoutine({ seed, startDate: '2026-01-05', days: 20 });
    const night = normal.truth.sleeps[10];
    expect(night).toBeDefined();
    const T = (night?.s ?? 0) + HOUR;
    const tail = incidentTail(normal.events, { kind: 'incapacitation', atMs: T, where: 'bed', stuckSensor: true }, normal.sensors, T + DAY, seed);
    const bed = tail.filter((e) => e.sensorId === 'bed');
    expect(bed.length).toBeGreaterThanOrEqual(47);
    expect(bed.every((e) => e.value === 1)).toBe(true);
    expect(tail.filter((e) => e.sensorId !== 'bed').every((e) => e.value === 0)).toBe(true);
  });

  it('rejects an unknown zone and a non-positive number of days', () => {
    expect(() => generateRoutine({ seed: 1, startDate: '2026-01-01', days: 1, timeZone: 'Nowhere/Land' })).toThrow(RangeError);
    expect(() => generateRoutine({ seed: 1, startDate: '2026-01-01', days: 0 })).toThrow(RangeError);
    expect(() => generateRoutine({ seed: 1, startDate: '1 Jan', days: 1 })).toThrow(RangeError);
  });
});
