/**
 * InactivityMonitor with the fake clock: learned limits by time of day, sleep,
 * going out, away mode, the fixed limits of a new installation, midnight, DST,
 * restarts. Days of routine are fed in accelerated time (milliseconds).
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '@kanjia/protocol';
import { InactivityError, InactivityMonitor, type Activity, type DetectorOutput, type Finding, type InactivityConfig } from '@kanjia/detection';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** An instant given as local wall time with its UTC offset, e.g. at('2026-01-15T07:00'). */
const at = (local: string, offset = '+08:00'): number => Date.parse(`${local}:00${offset}`);

interface DayPlan {
  /** Local date of the morning. */
  date: string;
  offset?: string;
  /** Getting up, 'HH:MM'. */
  wake: string;
  /** Bedtime as minutes after the morning's local midnight (may exceed 1440). */
  bedMin: number;
  /** A nap in bed, minutes after midnight [from, to). */
  nap?: [number, number];
  /** Leaving through the front door and coming back, minutes after midnight [from, to). */
  trip?: [number, number];
  /** Motion every this many minutes while up (default 10). */
  everyMin?: number;
}

/** A regular day as sensor events: bed, PIR (on, then off a minute later), front door. */
function dayEvents(plan: DayPlan): Activity[] {
  const offset = plan.offset ?? '+08:00';
  const midnight = at(`${plan.date}T00:00`, offset);
  const wakeMin = Number(plan.wake.slice(0, 2)) * 60 + Number(plan.wake.slice(3, 5));
  const every = plan.everyMin ?? 10;
  const out: Activity[] = [{ atMs: midnight + wakeMin * MIN, source: 'bed', value: 0, sensorId: 'bed' }];
  const busy = (m: number) => (plan.nap && m >= plan.nap[0] && m < plan.nap[1]) || (plan.trip && m >= plan.trip[0] - 1 && m < plan.trip[1] + 1);
  for (let m = wakeMin + 1; m < plan.bedMin - 5; m += every) {
    if (busy(m)) continue;
    out.push({ atMs: midnight + m * MIN, source: 'motion', value: 1, sensorId: 'pir' });
    out.push({ atMs: midnight + m * MIN + 60_000, source: 'motion', value: 0, sensorId: 'pir' });
  }
  if (plan.nap) {
    out.push({ atMs: midnight + plan.nap[0] * MIN, source: 'bed', value: 1, sensorId: 'bed' });
    out.push({ atMs: midnight + plan.nap[1] * MIN, source: 'bed', value: 0, sensorId: 'bed' });
  }
  if (plan.trip) {
    for (const m of plan.trip) {
      out.push({ atMs: midnight + m * MIN, source: 'door', value: 1, exit: true, sensorId: 'front' });
      out.push({ atMs: midnight + m * MIN + 10_000, source: 'door', value: 0, exit: true, sensorId: 'front' });
    }
  }
  out.push({ atMs: midnight + plan.bedMin * MIN, source: 'bed', value: 1, sensorId: 'bed' });
  return out.sort((a, b) => a.atMs - b.atMs);
}

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

function setup(startMs: number, opts: { timeZone?: string; config?: Partial<InactivityConfig> } = {}) {
  const clock = new FakeClock(startMs);
  const out: DetectorOutput[] = [];
  const monitor = new InactivityMonitor({ clock, emit: (o) => out.push(o), ...(opts.config ? { config: opts.config } : {}) });
  monitor.register({ subjectId: 'p1', timeZone: opts.timeZone ?? 'Asia/Shanghai', deviceIds: ['btn-1', 'pir-1'] });
  monitor.start();
  const advanceTo = (ms: number): void => clock.advance(ms - clock.nowMs());
  const feed = (events: Activity[]): void => {
    for (const e of events) {
      advanceTo(e.atMs);
      monitor.observe('p1', e);
    }
  };
  const reminds = () => out.filter((o) => o.type === 'remind');
  const alarms = () => out.flatMap((o): Finding[] => (o.type === 'alarm' ? [o.finding] : []));
  const cleared = () => out.filter((o) => o.type === 'cleared');
  /** Days of the same routine, the first morning on `firstDate` (local, +08:00 unless the plan says). */
  const live = (firstDate: string, days: number, plan: Omit<DayPlan, 'date'>): void => {
    const first = Date.parse(`${firstDate}T12:00:00Z`);
    for (let d = 0; d < days; d++) feed(dayEvents({ ...plan, date: isoDate(first + d * DAY) }));
  };
  return { clock, out, monitor, advanceTo, feed, live, reminds, alarms, cleared };
}

/** Out of bed 07:30, the kitchen PIR every 10 min 07:40–21:00 except within `quiet` (local minutes, exclusive), in bed 21:30. */
function kitchenDay(date: string, quiet?: [number, number]): Activity[] {
  const ev: Activity[] = [{ atMs: at(`${date}T07:30`), source: 'bed', value: 0, sensorId: 'bed' }];
  for (let m = 7 * 60 + 40; m <= 21 * 60; m += 10) {
    if (quiet && m > quiet[0] && m < quiet[1]) continue;
    const ms = at(`${date}T00:00`) + m * MIN;
    ev.push({ atMs: ms, source: 'motion', value: 1, sensorId: 'kitchen' }, { atMs: ms + MIN, source: 'motion', value: 0, sensorId: 'kitchen' });
  }
  ev.push({ atMs: at(`${date}T21:30`), source: 'bed', value: 1, sensorId: 'bed' });
  return ev;
}

/** Up at 06:30, busy (motion every 10 min), a nap in bed 13:00–14:00, in bed at 21:30. */
const REGULAR = { wake: '06:30', bedMin: 21 * 60 + 30, nap: [13 * 60, 14 * 60] as [number, number] };

describe('InactivityMonitor: learned daytime limits', () => {
  it('learns 45 min for a busy morning and 93 min around the 60-min afternoon nap', () => {
    const { live, monitor, advanceTo } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, REGULAR);
    advanceTo(at('2026-01-19T06:00'));
    const limits = monitor.routineOf('p1');
    expect(limits?.learned).toBe(true);
    const slot = (hhmm: string) => limits?.slotLimitMs[(Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3))) / 30];
    expect(slot('10:00')).toBe(45 * MIN); // 10-min gaps × 1.3 + 15 min, raised to the 45-min floor
    expect(slot('13:00')).toBe(93 * MIN); // the 60-min nap × 1.3 + 15 min
    expect(limits?.sleep?.usualWakeMin).toBe(6 * 60 + 30);
    expect(limits?.sleep?.wakeRemindMin).toBe(7 * 60); // late getting-up time (06:30) + 30 min
  });

  it('lying on the bed at 13:00 and not getting up (her naps last 60 min): the 93-min limit of that hour (within her longest lie-down + 45 min), remind at 14:33, alarm 20 min later at 14:53 on the button', () => {
    const { live, feed, advanceTo, reminds, alarms, out } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, REGULAR);
    // Day 15: up as usual, lies down at 13:00 and does not get up.
    feed(dayEvents({ ...REGULAR, date: '2026-01-19' }).filter((e) => e.atMs <= at('2026-01-19T13:00')));
    out.length = 0;
    advanceTo(at('2026-01-19T14:32'));
    expect(reminds()).toEqual([]);
    advanceTo(at('2026-01-19T14:33'));
    expect(reminds()).toEqual([{ type: 'remind', subjectId: 'p1', deviceIds: ['btn-1', 'pir-1'], reason: 'inactivity', atMs: at('2026-01-19T14:33') }]);
    advanceTo(at('2026-01-19T14:52'));
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-19T14:53'));
    const [finding] = alarms();
    expect(finding).toMatchObject({
      kind: 'inactivity',
      deviceId: 'btn-1',
      subjectId: 'p1',
      eventId: `inactivity:p1:${at('2026-01-19T13:00')}`,
      eventTs: at('2026-01-19T14:53'),
      details: { silenceMin: 113, limitMin: 93, graceMin: 20, context: 'rest', learned: true },
    });
  });

  it('a button press 5 min after the 14:33 reminder: no alarm, and the next sign of life needs no clearing', () => {
    const { live, feed, advanceTo, monitor, reminds, alarms, cleared } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, REGULAR);
    feed(dayEvents({ ...REGULAR, date: '2026-01-19' }).filter((e) => e.atMs <= at('2026-01-19T13:00')));
    advanceTo(at('2026-01-19T14:38'));
    expect(reminds()).toHaveLength(1);
    expect(monitor.observe('p1', { atMs: at('2026-01-19T14:38'), source: 'button', sensorId: 'btn-1' })).toBe(true);
    advanceTo(at('2026-01-19T15:30'));
    expect(alarms()).toEqual([]);
    expect(cleared()).toEqual([]);
  });

  it('any sign of life after the alarm emits cleared', () => {
    const { live, feed, advanceTo, monitor, alarms, cleared } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, REGULAR);
    feed(dayEvents({ ...REGULAR, date: '2026-01-19' }).filter((e) => e.atMs <= at('2026-01-19T10:00')));
    advanceTo(at('2026-01-19T11:10')); // 45 min + 20 min grace after the last motion at 09:51
    expect(alarms()).toHaveLength(1);
    advanceTo(at('2026-01-19T11:30'));
    monitor.observe('p1', { atMs: at('2026-01-19T11:30'), source: 'door', value: 1, sensorId: 'kitchen-door' });
    expect(cleared()).toMatchObject([{ type: 'cleared', kind: 'inactivity', deviceId: 'btn-1', subjectId: 'p1', atMs: at('2026-01-19T11:30') }]);
  });
});

describe('InactivityMonitor: sleep', () => {
  it('raises nothing at 03:00 while asleep; not up at 06:30 as usual: remind 07:00, alarm 07:20 (50 min after the usual getting-up time)', () => {
    const { live, feed, advanceTo, reminds, alarms, out } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, REGULAR);
    feed(dayEvents({ ...REGULAR, date: '2026-01-19' })); // in bed at 21:30, then a stroke in sleep
    out.length = 0;
    advanceTo(at('2026-01-20T03:00'));
    expect(out).toEqual([]);
    advanceTo(at('2026-01-20T07:00'));
    expect(reminds().map((r) => r.type === 'remind' && r.atMs)).toEqual([at('2026-01-20T07:00')]);
    advanceTo(at('2026-01-20T07:20'));
    const [finding] = alarms();
    expect(finding?.eventTs).toBe(at('2026-01-20T07:20'));
    expect(finding?.details).toMatchObject({ context: 'sleep' });
    expect(((finding?.eventTs ?? 0) - at('2026-01-20T06:30')) / MIN).toBeLessThanOrEqual(120);
  });

  /** A home without a bed sensor: the living room's PIR all day, the bedroom's PIR on the way to bed at 21:30. */
  const twoRooms = (date: string, until?: { atMin: number; lastIn: 'living' | 'bedroom' }): Activity[] => {
    const midnight = at(`${date}T00:00`);
    const events: Activity[] = [];
    const end = until?.atMin ?? 21 * 60 + 25;
    const pir = (m: number, sensorId: string) =>
      events.push({ atMs: midnight + m * MIN, source: 'motion', value: 1, sensorId }, { atMs: midnight + m * MIN + 60_000, source: 'motion', value: 0, sensorId });
    for (let m = 6 * 60 + 30; m <= end; m += 10) pir(m, 'pir-living');
    if (until === undefined || until.lastIn === 'bedroom') pir(end + 3, 'pir-bedroom');
    return events;
  };

  it('no bed sensor: quiet in the evening after the living room (not the way to bed) is judged by the evening limit, not taken for the night', () => {
    const { feed, advanceTo, reminds, alarms, out } = setup(at('2026-01-05T06:00'));
    for (let d = 0; d < 14; d++) feed(twoRooms(isoDate(Date.parse('2026-01-05T12:00:00Z') + d * DAY)));
    out.length = 0;
    // 21:20 in the living room, then nothing: she collapsed in her chair.
    feed(twoRooms('2026-01-19', { atMin: 21 * 60 + 20, lastIn: 'living' }));
    advanceTo(at('2026-01-20T00:00'));
    expect(reminds()).toHaveLength(1);
    const [finding] = alarms();
    expect(finding?.details).toMatchObject({ context: 'day' });
    expect(finding?.reason).toMatch(/not after going to bed/);
    expect(finding!.eventTs).toBeLessThan(at('2026-01-19T23:30'));
  });

  it('no bed sensor: the same quiet after the bedroom (the way to bed) is the night: nothing until the morning', () => {
    const { feed, advanceTo, out } = setup(at('2026-01-05T06:00'));
    for (let d = 0; d < 14; d++) feed(twoRooms(isoDate(Date.parse('2026-01-05T12:00:00Z') + d * DAY)));
    out.length = 0;
    feed(twoRooms('2026-01-19', { atMin: 21 * 60 + 20, lastIn: 'bedroom' }));
    advanceTo(at('2026-01-20T06:00'));
    expect(out).toEqual([]);
  });

  it('a weekend lie-in learned (up 06:30 on weekdays, 09:30 on Saturdays and Sundays): no reminder at 07:45 on Sunday; still silent, the alarm ≤ 95 min after her Sunday time', () => {
    const { feed, advanceTo, reminds, alarms, out } = setup(at('2026-01-05T06:00'));
    // Monday 5 January to Saturday 24 January.
    for (let d = 0; d < 20; d++) {
      const date = isoDate(Date.parse('2026-01-05T12:00:00Z') + d * DAY);
      const weekend = d % 7 >= 5;
      feed(dayEvents({ ...REGULAR, date, wake: weekend ? '09:30' : '06:30', bedMin: weekend ? 23 * 60 + 30 : 21 * 60 + 30 }));
    }
    out.length = 0;
    advanceTo(at('2026-01-25T09:00'));
    expect(out).toEqual([]);
    advanceTo(at('2026-01-25T12:00'));
    expect(reminds()).toHaveLength(1);
    const [alarm] = alarms();
    expect(alarm?.reason).toMatch(/usually up at 09:30/);
    expect(((alarm?.eventTs ?? 0) - at('2026-01-25T09:30')) / MIN).toBeLessThanOrEqual(95);
    // Monday is a weekday again: 06:30 as usual.
    const weekday = setup(at('2026-01-05T06:00'));
    for (let d = 0; d < 21; d++) {
      const date = isoDate(Date.parse('2026-01-05T12:00:00Z') + d * DAY);
      const weekend = d % 7 >= 5;
      weekday.feed(dayEvents({ ...REGULAR, date, wake: weekend ? '09:30' : '06:30', bedMin: weekend ? 23 * 60 + 30 : 21 * 60 + 30 }));
    }
    weekday.out.length = 0;
    weekday.advanceTo(at('2026-01-26T08:00'));
    expect(weekday.reminds().map((r) => r.type === 'remind' && r.atMs)).toEqual([at('2026-01-26T07:00')]);
  });

  it('a learned weekend lie-in: up at 07:10 on Saturday for the toilet and back to bed is still the night, no reminder before her Saturday time', () => {
    const { feed, advanceTo, reminds, out } = setup(at('2026-01-05T06:00'));
    for (let d = 0; d < 19; d++) {
      const date = isoDate(Date.parse('2026-01-05T12:00:00Z') + d * DAY);
      const weekend = d % 7 >= 5;
      feed(dayEvents({ ...REGULAR, date, wake: weekend ? '09:00' : '06:30', bedMin: weekend ? 23 * 60 : 21 * 60 + 30 }));
    }
    out.length = 0;
    feed([
      { atMs: at('2026-01-24T07:10'), source: 'bed', value: 0, sensorId: 'bed' },
      { atMs: at('2026-01-24T07:11'), source: 'motion', value: 1, sensorId: 'pir' },
      { atMs: at('2026-01-24T07:15'), source: 'bed', value: 1, sensorId: 'bed' },
    ]);
    advanceTo(at('2026-01-24T09:00'));
    expect(out).toEqual([]);
    advanceTo(at('2026-01-24T11:00'));
    expect(reminds()).toHaveLength(1);
  });

  it('out of bed at 02:00 (reliable bed sensor) and silent: remind after 90 min, not at the morning deadline', () => {
    const { live, feed, advanceTo, alarms, reminds } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, REGULAR);
    feed(dayEvents({ ...REGULAR, date: '2026-01-19' }));
    feed([{ atMs: at('2026-01-20T02:00'), source: 'bed', value: 0, sensorId: 'bed' }]); // gets up, falls
    advanceTo(at('2026-01-20T03:30'));
    expect(reminds()).toHaveLength(1);
    advanceTo(at('2026-01-20T03:50'));
    expect(alarms()[0]?.details).toMatchObject({ context: 'nightAwake', limitMin: 90 });
  });

  it('out of bed at 06:35 (usually up 06:30) and no other sign: not a day begun, the morning reminder at 07:00 stands (not the 67-min daytime limit); up and about at 06:36, the daytime limit', () => {
    // Motion every 40 min while up: the morning's daytime limit is 40 × 1.3 + 15 = 67 min.
    const sparse = { ...REGULAR, everyMin: 40 };
    const lone = setup(at('2026-01-05T06:00'));
    lone.live('2026-01-05', 14, sparse);
    lone.feed(dayEvents({ ...sparse, date: '2026-01-19' }));
    lone.out.length = 0;
    lone.feed([{ atMs: at('2026-01-20T06:35'), source: 'bed', value: 0, sensorId: 'bed' }]); // gets up and goes down at once
    expect(lone.monitor.watchOf('p1')).toMatchObject({ context: 'day', remindAtMs: at('2026-01-20T07:00') });
    lone.advanceTo(at('2026-01-20T07:20'));
    expect(lone.alarms()[0]?.reason).toMatch(/one sign of life at 06:35 after the night and none since: not up by 07:00/);
    const up = setup(at('2026-01-05T06:00'));
    up.live('2026-01-05', 14, sparse);
    up.feed(dayEvents({ ...sparse, date: '2026-01-19' }));
    up.feed([
      { atMs: at('2026-01-20T06:35'), source: 'bed', value: 0, sensorId: 'bed' },
      { atMs: at('2026-01-20T06:36'), source: 'motion', value: 1, sensorId: 'pir' },
    ]);
    expect(up.monitor.watchOf('p1')).toMatchObject({ context: 'day', limitMs: 67 * MIN });
  });

  it('a reminder answered from bed (not up by 07:00, the button at 07:05, still lying): asked again after 90 min, not after her 3-h morning lie-down limit', () => {
    // Up at 06:30; on some days back to bed 07:00–09:00 after breakfast: lying on the bed around 07:00 is learned long.
    const { feed, advanceTo, reminds, monitor, out } = setup(at('2026-01-05T06:00'));
    for (let d = 0; d < 14; d++) {
      const date = isoDate(Date.parse('2026-01-05T12:00:00Z') + d * DAY);
      const events = dayEvents({ ...REGULAR, date });
      if (d % 2 === 0) {
        const lieDown = at(`${date}T07:00`);
        const getUp = at(`${date}T09:00`);
        const lying: Activity[] = [{ atMs: lieDown, source: 'bed', value: 1, sensorId: 'bed' }, { atMs: getUp, source: 'bed', value: 0, sensorId: 'bed' }];
        feed([...events.filter((e) => e.atMs < lieDown || e.atMs > getUp), ...lying].sort((a, b) => a.atMs - b.atMs));
      } else feed(events);
    }
    advanceTo(at('2026-01-19T07:00'));
    expect(reminds().at(-1)).toMatchObject({ atMs: at('2026-01-19T07:00') });
    out.length = 0;
    feed([{ atMs: at('2026-01-19T07:05'), source: 'button' }]);
    expect(monitor.watchOf('p1')).toMatchObject({ context: 'rest', remindAtMs: at('2026-01-19T08:35') });
    expect(monitor.watchOf('p1')?.basis).toMatch(/still in bed after the night, not up since 07:05/);
    // Up at 07:10 and lying down again at 07:30: an ordinary morning lie-down, her own long limit.
    feed([
      { atMs: at('2026-01-19T07:10'), source: 'bed', value: 0, sensorId: 'bed' },
      { atMs: at('2026-01-19T07:11'), source: 'motion', value: 1, sensorId: 'pir' },
      { atMs: at('2026-01-19T07:30'), source: 'bed', value: 1, sensorId: 'bed' },
    ]);
    expect((monitor.watchOf('p1')?.limitMs ?? 0) / MIN).toBeGreaterThan(150);
  });

  it('a weekday is given its own late getting-up time only after four late mornings in a row (three can be chance)', () => {
    const { feed, advanceTo, reminds, out } = setup(at('2026-01-05T06:00'));
    // Mondays 12, 19, 26 January up at 09:30, every other morning at 06:30.
    const mondayLate = (d: number) => d % 7 === 6 && d > 0; // the evening before a Monday
    let wake = '06:30';
    for (let d = 0; d < 28; d++) {
      feed(dayEvents({ ...REGULAR, date: isoDate(Date.parse('2026-01-05T12:00:00Z') + d * DAY), wake }));
      wake = mondayLate(d) && d < 27 ? '09:30' : '06:30';
    }
    out.length = 0;
    // Monday 2 February: not up: the reminder 75 min after her usual 06:30, not at 10:00 as for a learned Monday lie-in.
    advanceTo(at('2026-02-02T09:00'));
    expect(reminds().map((r) => r.type === 'remind' && r.atMs)).toEqual([at('2026-02-02T07:45')]);
  });

  it('a person whose bedtime varies by 5 hours (20:00 … 01:00): no reminder at night, the alarm ≤ 2 h after the usual getting-up time', () => {
    const { feed, advanceTo, alarms, reminds, out, monitor } = setup(at('2026-01-05T06:00'));
    // [bedtime (minutes after the morning's midnight), getting up the next morning]
    const nights: [number, string][] = [[20 * 60, '06:00'], [23 * 60, '07:30'], [25 * 60, '08:15'], [21 * 60 + 30, '06:45'], [24 * 60 + 30, '08:00'], [22 * 60, '07:00'], [20 * 60 + 45, '06:20']];
    let wake = '07:00';
    for (let d = 0; d < 21; d++) {
      const [bedMin, nextWake] = nights[d % 7] ?? [22 * 60, '07:00'];
      feed(dayEvents({ date: isoDate(Date.parse('2026-01-05T12:00:00Z') + d * DAY), wake, bedMin }));
      wake = nextWake;
    }
    // 26 January: to bed at 01:00, and never up again.
    feed(dayEvents({ date: '2026-01-26', wake, bedMin: 25 * 60 }));
    const usual = monitor.routineOf('p1')?.sleep?.usualWakeMin ?? 0;
    out.length = 0;
    advanceTo(at('2026-01-27T05:00'));
    expect(reminds()).toEqual([]);
    advanceTo(at('2026-01-27T12:00'));
    const alarm = alarms()[0];
    expect(alarm?.details).toMatchObject({ context: 'sleep' });
    const usualWakeMs = at('2026-01-27T00:00') + usual * MIN;
    expect(((alarm?.eventTs ?? 0) - usualWakeMs) / MIN).toBeLessThanOrEqual(120);
  });
});

describe('InactivityMonitor: going out and away mode', () => {
  it('away mode for 3 days: no reminder, no alarm, no timer; back home: watched again', () => {
    const { live, advanceTo, monitor, out, clock } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, REGULAR);
    advanceTo(at('2026-01-19T08:00'));
    monitor.observe('p1', { atMs: at('2026-01-19T08:00'), source: 'door', value: 1, exit: true, sensorId: 'front' });
    monitor.setAway('p1', true, at('2026-01-19T08:01'));
    out.length = 0;
    expect(clock.pendingTimers()).toBe(0);
    advanceTo(at('2026-01-22T08:00'));
    expect(out).toEqual([]);
    monitor.setAway('p1', false, at('2026-01-22T08:00'));
    expect(clock.pendingTimers()).toBe(1);
  });

  it('unlearned: out of the front door at 09:00 and away 8 h raises nothing; still out at 19:00 (10 h): a not-back-home notice, no reminder, no alarm', () => {
    const { feed, advanceTo, out, reminds, alarms } = setup(at('2026-01-05T08:00'));
    feed([
      { atMs: at('2026-01-05T08:50'), source: 'motion', value: 1, sensorId: 'pir' },
      { atMs: at('2026-01-05T09:00'), source: 'door', value: 1, exit: true, sensorId: 'front' },
      { atMs: at('2026-01-05T09:00') + 8000, source: 'door', value: 0, exit: true, sensorId: 'front' },
    ]);
    advanceTo(at('2026-01-05T17:00'));
    expect(out).toEqual([]);
    advanceTo(at('2026-01-05T18:59'));
    expect(out).toEqual([]);
    advanceTo(at('2026-01-05T19:00'));
    expect(reminds()).toEqual([]);
    expect(alarms()).toMatchObject([{ kind: 'notBack', eventId: `notBack:p1:${at('2026-01-05T09:00')}`, eventTs: at('2026-01-05T19:00'), details: { context: 'out', learned: false, wentOut: '2026-01-05 09:00' } }]);
    advanceTo(at('2026-01-06T19:00'));
    expect(out).toHaveLength(1); // one notice, nothing more
  });

  /** 14 regular days with two nights at a daughter's home: out at 09:00 on 8 January, back at 15:00 on the 10th. */
  const withNightsAway = () => {
    const t = setup(at('2026-01-05T06:00'));
    for (let d = 0; d < 14; d++) {
      const date = isoDate(Date.parse('2026-01-05T12:00:00Z') + d * DAY);
      if (date === '2026-01-09') continue;
      let events = dayEvents({ ...REGULAR, date });
      if (date === '2026-01-08') events = events.filter((e) => e.atMs < at('2026-01-08T08:55'));
      if (date === '2026-01-10') events = events.filter((e) => e.atMs > at('2026-01-10T15:00'));
      t.feed(events);
      const door = (ms: number) => t.feed([{ atMs: ms, source: 'door', value: 1, exit: true, sensorId: 'front' }, { atMs: ms + 8000, source: 'door', value: 0, exit: true, sensorId: 'front' }]);
      if (date === '2026-01-08') door(at('2026-01-08T09:00'));
      if (date === '2026-01-10') door(at('2026-01-10T15:00') - 60_000);
    }
    t.feed(dayEvents({ ...REGULAR, date: '2026-01-19' }).filter((e) => e.atMs < at('2026-01-19T09:00')));
    return t;
  };
  const leaveAt = (t: ReturnType<typeof setup>, ms: number) =>
    t.feed([{ atMs: ms, source: 'door', value: 1, exit: true, sensorId: 'front' }, { atMs: ms + 8000, source: 'door', value: 0, exit: true, sensorId: 'front' }]);

  it('someone who stays away overnight at times, leaving at the hour she left for her nights away: no reminder through the night', () => {
    const t = withNightsAway();
    leaveAt(t, at('2026-01-19T09:30'));
    t.out.length = 0;
    t.advanceTo(at('2026-01-21T09:00'));
    expect(t.out).toEqual([]);
  });

  it('the same person leaving at 15:00 (as a visitor does): judged as an ordinary trip (her longest is under 4 h), not as a night away', () => {
    const t = withNightsAway();
    t.feed(dayEvents({ ...REGULAR, date: '2026-01-19' }).filter((e) => e.atMs >= at('2026-01-19T09:00') && e.atMs < at('2026-01-19T14:50')));
    leaveAt(t, at('2026-01-19T15:00'));
    t.out.length = 0;
    t.advanceTo(at('2026-01-19T18:59'));
    expect(t.out).toEqual([]);
    t.advanceTo(at('2026-01-20T00:00'));
    expect(t.reminds()).toEqual([]);
    expect(t.alarms().map((a) => [a.kind, a.eventTs])).toEqual([['notBack', at('2026-01-19T19:00')]]);
    expect(t.alarms()[0]?.reason).toMatch(/went out at 15:00 and not back after 4\.0 h/);
  });

  it('learned 6-h market trips: 8 h out raises nothing; not back after 8.5 h (22:00): the not-back notice waits for 07:00, nobody is texted at night', () => {
    const { live, feed, advanceTo, out, reminds, alarms } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, { wake: '06:30', bedMin: 21 * 60 + 30, trip: [8 * 60, 14 * 60] }); // out 08:00–14:00 every day
    const day = dayEvents({ ...REGULAR, date: '2026-01-19' }).filter((e) => e.atMs < at('2026-01-19T13:30'));
    feed(day);
    feed([
      { atMs: at('2026-01-19T13:30'), source: 'door', value: 1, exit: true, sensorId: 'front' },
      { atMs: at('2026-01-19T13:30') + 8000, source: 'door', value: 0, exit: true, sensorId: 'front' },
    ]);
    out.length = 0;
    advanceTo(at('2026-01-19T21:30')); // 8 h out: within 6 h × 1.25 + 1 h = 8.5 h
    expect(out).toEqual([]);
    advanceTo(at('2026-01-20T06:59'));
    expect(out).toEqual([]); // 8.5 h after 13:30 is 22:00: in the quiet hours
    advanceTo(at('2026-01-20T07:00'));
    expect(reminds()).toEqual([]);
    expect(alarms()).toMatchObject([{ kind: 'notBack', eventTs: at('2026-01-20T07:00') }]);
    expect(alarms()[0]?.reason).toMatch(/went out at 13:30 and not back after 8\.5 h; held until 07:00/);
  });

  it('gone out at 20:00 and never back: not back by 23:30 (late bedtime + 2 h) gives the notice at 07:00; coming back clears it', () => {
    const { live, feed, advanceTo, alarms, out } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, { wake: '06:30', bedMin: 21 * 60 + 30, trip: [8 * 60, 14 * 60] });
    feed(dayEvents({ ...REGULAR, date: '2026-01-19' }).filter((e) => e.atMs < at('2026-01-19T20:00')));
    feed([{ atMs: at('2026-01-19T20:00'), source: 'door', value: 1, exit: true, sensorId: 'front' }]);
    out.length = 0;
    advanceTo(at('2026-01-20T06:59'));
    expect(out).toEqual([]);
    advanceTo(at('2026-01-20T07:00'));
    expect(alarms()).toMatchObject([{ kind: 'notBack', eventTs: at('2026-01-20T07:00') }]);
    expect(alarms()[0]?.reason).toMatch(/not back by 23:30 \(never stays away overnight\)/);
    feed([{ atMs: at('2026-01-20T08:10'), source: 'door', value: 0, exit: true, sensorId: 'front' }]); // the door (left open) shuts behind her
    expect(out.filter((o) => o.type === 'cleared')).toMatchObject([{ kind: 'notBack', subjectId: 'p1', atMs: at('2026-01-20T08:10') }]);
    expect(alarms()).toHaveLength(1);
  });
});

describe('InactivityMonitor: a new installation (routine not learned)', () => {
  it('uses the fixed 4-h daytime limit: silent from 10:00, remind 14:00, alarm 14:20', () => {
    const { feed, advanceTo, reminds, alarms } = setup(at('2026-01-05T09:00'));
    feed([{ atMs: at('2026-01-05T10:00'), source: 'motion', value: 1, sensorId: 'pir' }]);
    advanceTo(at('2026-01-05T13:59'));
    expect(reminds()).toEqual([]);
    advanceTo(at('2026-01-05T14:00'));
    expect(reminds()).toHaveLength(1);
    advanceTo(at('2026-01-05T14:20'));
    expect(alarms()[0]?.details).toMatchObject({ context: 'day', learned: false, limitMin: 240 });
  });

  it('a silence from 21:00 is sleep: nothing overnight, remind at 08:30 if not up, alarm 08:50', () => {
    const { feed, advanceTo, reminds, alarms } = setup(at('2026-01-05T20:00'));
    feed([{ atMs: at('2026-01-05T21:00'), source: 'bed', value: 1, sensorId: 'bed' }]);
    advanceTo(at('2026-01-06T08:29'));
    expect(reminds()).toEqual([]);
    advanceTo(at('2026-01-06T08:50'));
    expect(alarms()[0]?.details).toMatchObject({ context: 'sleep', learned: false });
  });
});

describe('InactivityMonitor: clocks and calendars', () => {
  it('a silence that begins at 23:50 is followed across midnight to the 07:00 reminder of the next date', () => {
    const { live, feed, advanceTo, reminds } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, REGULAR);
    feed(dayEvents({ ...REGULAR, date: '2026-01-19' }));
    feed([{ atMs: at('2026-01-19T23:50'), source: 'bed', value: 0, sensorId: 'bed' }, { atMs: at('2026-01-19T23:52'), source: 'bed', value: 1, sensorId: 'bed' }]);
    advanceTo(at('2026-01-20T06:59'));
    expect(reminds()).toEqual([]);
    advanceTo(at('2026-01-20T07:00'));
    expect(reminds()).toHaveLength(1);
  });

  it('DST in Europe/Amsterdam: the 07:00 wake-up reminder stays at 07:00 local (06:00 UTC in winter, 05:00 UTC after 29 March)', () => {
    const { live, feed, advanceTo, reminds, out } = setup(at('2026-03-10T06:00', '+01:00'), { timeZone: 'Europe/Amsterdam' });
    live('2026-03-10', 18, { ...REGULAR, offset: '+01:00' }); // 10–27 March, CET
    feed(dayEvents({ ...REGULAR, date: '2026-03-28', offset: '+01:00' }));
    out.length = 0;
    advanceTo(Date.UTC(2026, 2, 29, 4, 59));
    expect(reminds()).toEqual([]);
    advanceTo(Date.UTC(2026, 2, 29, 5, 0)); // 07:00 CEST
    expect(reminds().map((r) => r.type === 'remind' && r.atMs)).toEqual([Date.UTC(2026, 2, 29, 5, 0)]);
  });

  it('a device clock that is wrong: an event stamped a day in the future counts at the receive time', () => {
    const { monitor, advanceTo, reminds } = setup(at('2026-01-05T10:00'));
    monitor.observe('p1', { atMs: at('2026-01-06T10:00'), source: 'motion', value: 1, sensorId: 'pir' });
    expect(monitor.watchOf('p1')?.sinceMs).toBe(at('2026-01-05T10:00'));
    advanceTo(at('2026-01-05T14:00'));
    expect(reminds()).toHaveLength(1);
  });

  it('a PIR stuck "on" (repeats every 10 min, never off) and a rice cooker switching itself off are not signs of life', () => {
    const { feed, advanceTo, alarms, monitor } = setup(at('2026-01-05T09:00'));
    feed([
      { atMs: at('2026-01-05T10:00'), source: 'appliance', value: 1, sensorId: 'cooker' },
      { atMs: at('2026-01-05T10:01'), source: 'motion', value: 1, sensorId: 'pir' },
    ]);
    for (let t = at('2026-01-05T10:11'); t < at('2026-01-05T15:00'); t += 10 * MIN) {
      advanceTo(t);
      expect(monitor.observe('p1', { atMs: t, source: 'motion', value: 1, sensorId: 'pir' })).toBe(false);
    }
    advanceTo(at('2026-01-05T10:45'));
    expect(monitor.observe('p1', { atMs: at('2026-01-05T10:45'), source: 'appliance', value: 0, sensorId: 'cooker' })).toBe(false);
    advanceTo(at('2026-01-05T14:21'));
    expect(alarms()).toHaveLength(1); // 4 h + 20 min after 10:01
  });
});

describe('InactivityMonitor: lifecycle and state', () => {
  it('stop() leaves no timers (FakeClock.pendingTimers() = 0), is idempotent, and start() re-arms', () => {
    const { live, monitor, clock } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 3, REGULAR);
    expect(clock.pendingTimers()).toBe(1);
    monitor.stop();
    monitor.stop();
    expect(clock.pendingTimers()).toBe(0);
    monitor.start();
    expect(clock.pendingTimers()).toBe(1);
    monitor.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('exportState → JSON → register(state) in a new monitor continues where it stopped: same 14:33 reminder and 14:53 alarm', () => {
    const a = setup(at('2026-01-05T06:00'));
    a.live('2026-01-05', 14, REGULAR);
    a.feed(dayEvents({ ...REGULAR, date: '2026-01-19' }).filter((e) => e.atMs <= at('2026-01-19T13:00')));
    a.advanceTo(at('2026-01-19T13:30'));
    const saved: unknown = JSON.parse(JSON.stringify(a.monitor.exportState('p1')));
    a.monitor.stop();

    const clock = new FakeClock(at('2026-01-19T13:30'));
    const out: DetectorOutput[] = [];
    const b = new InactivityMonitor({ clock, emit: (o) => out.push(o) });
    b.register({ subjectId: 'p1', timeZone: 'Asia/Shanghai', deviceIds: ['btn-1'], state: saved });
    b.start();
    clock.advance(at('2026-01-19T14:33') - clock.nowMs());
    expect(out.map((o) => o.type)).toEqual(['remind']);
    clock.advance(20 * MIN);
    expect(out[1]).toMatchObject({ type: 'alarm', finding: { eventId: `inactivity:p1:${at('2026-01-19T13:00')}` } });
    expect(b.routineOf('p1')?.slotLimitMs[26]).toBe(93 * MIN);
  });

  it('a state exported after the reminder resumes with the alarm at the same 20-min grace', () => {
    const a = setup(at('2026-01-05T09:00'));
    a.feed([{ atMs: at('2026-01-05T10:00'), source: 'motion', value: 1, sensorId: 'pir' }]);
    a.advanceTo(at('2026-01-05T14:05'));
    const saved = a.monitor.exportState('p1');
    expect(saved?.phase).toEqual({ kind: 'reminded', atMs: at('2026-01-05T14:00') });
    const clock = new FakeClock(at('2026-01-05T14:10'));
    const out: DetectorOutput[] = [];
    const b = new InactivityMonitor({ clock, emit: (o) => out.push(o) });
    b.register({ subjectId: 'p1', timeZone: 'Asia/Shanghai', deviceIds: ['btn-1'], state: saved });
    b.start();
    clock.advance(10 * MIN);
    expect(out.map((o) => o.type)).toEqual(['alarm']);
  });

  it('rejects an unknown time zone, no devices and an unusable state with stable codes; ignores unknown subjects', () => {
    const clock = new FakeClock();
    const monitor = new InactivityMonitor({ clock, emit: () => undefined });
    const code = (f: () => void) => {
      try {
        f();
      } catch (err) {
        return err instanceof InactivityError ? err.code : 'other';
      }
      return 'none';
    };
    expect(code(() => monitor.register({ subjectId: 'x', timeZone: 'Mars/Olympus', deviceIds: ['b'] }))).toBe('INVALID_TIME_ZONE');
    expect(code(() => monitor.register({ subjectId: 'x', timeZone: 'Asia/Shanghai', deviceIds: [] }))).toBe('NO_DEVICES');
    expect(code(() => monitor.register({ subjectId: 'x', timeZone: 'Asia/Shanghai', deviceIds: ['b'], state: { version: 99 } }))).toBe('INVALID_STATE');
    expect(code(() => new InactivityMonitor({ clock, emit: () => undefined, config: { remindGraceMs: -1 } }))).toBe('INVALID_CONFIG');
    expect(monitor.observe('nobody', { atMs: clock.nowMs(), source: 'motion', value: 1 })).toBe(false);
    expect(monitor.exportState('nobody')).toBeUndefined();
  });
});

describe('InactivityMonitor: states (a bed or seat occupied), sparse homes, late risers, not back home', () => {
  /** A home with few sensors, like the real recordings: up at 11:00, the seat 11:30–15:00, 16:00–21:00 and 21:10–01:30, in bed at 02:00. */
  const sparseDay = (date: string): Activity[] => {
    const d = (hhmm: string, plusDays = 0) => at(`${date}T${hhmm}`) + plusDays * DAY;
    return [
      { atMs: d('11:00'), source: 'bed', value: 0, sensorId: 'bed' },
      { atMs: d('11:10'), source: 'water', value: 1, sensorId: 'flush' },
      { atMs: d('11:20'), source: 'cupboard', value: 1, sensorId: 'fridge' },
      { atMs: d('11:21'), source: 'cupboard', value: 0, sensorId: 'fridge' },
      { atMs: d('11:30'), source: 'chair', value: 1, sensorId: 'seat' },
      { atMs: d('15:00'), source: 'chair', value: 0, sensorId: 'seat' },
      { atMs: d('15:05'), source: 'water', value: 1, sensorId: 'flush' },
      { atMs: d('15:40'), source: 'cupboard', value: 1, sensorId: 'fridge' },
      { atMs: d('15:41'), source: 'cupboard', value: 0, sensorId: 'fridge' },
      { atMs: d('16:00'), source: 'chair', value: 1, sensorId: 'seat' },
      { atMs: d('21:00'), source: 'chair', value: 0, sensorId: 'seat' },
      { atMs: d('21:05'), source: 'water', value: 1, sensorId: 'flush' },
      { atMs: d('21:10'), source: 'chair', value: 1, sensorId: 'seat' },
      { atMs: d('01:30', 1), source: 'chair', value: 0, sensorId: 'seat' },
      { atMs: d('01:40', 1), source: 'water', value: 1, sensorId: 'flush' },
      { atMs: d('02:00', 1), source: 'bed', value: 1, sensorId: 'bed' },
    ];
  };
  const days = (first: string, n: number) => Array.from({ length: n }, (_, k) => isoDate(Date.parse(`${first}T12:00:00Z`) + k * DAY));

  it('a late riser in her first week (in bed 02:00 → 11:00, 5 h at a time in the seat): no reminder, no alarm', () => {
    const { feed, advanceTo, out } = setup(at('2026-01-05T01:00'));
    feed([{ atMs: at('2026-01-05T02:00'), source: 'bed', value: 1, sensorId: 'bed' }]);
    for (const date of days('2026-01-05', 7)) feed(sparseDay(date));
    advanceTo(at('2026-01-12T10:59'));
    expect(out).toEqual([]);
  });

  it('bed occupied all night (learned late riser): nothing through the night; still in bed, the alarm ≤ 95 min after her usual 11:00', () => {
    const { feed, advanceTo, out, alarms } = setup(at('2026-01-05T01:00'));
    feed([{ atMs: at('2026-01-05T02:00'), source: 'bed', value: 1, sensorId: 'bed' }]);
    for (const date of days('2026-01-05', 20)) feed(sparseDay(date));
    out.length = 0;
    // 25 January: in bed at 02:00 and never up.
    advanceTo(at('2026-01-25T11:00'));
    expect(out).toEqual([]);
    advanceTo(at('2026-01-25T12:35'));
    expect(alarms()).toMatchObject([{ kind: 'inactivity', details: { context: 'sleep' } }]);
  });

  it('the first week: in bed from 02:00 and not up, the reminder after 11 h in bed (13:00), not at 08:30', () => {
    const { feed, advanceTo, reminds, alarms } = setup(at('2026-01-05T01:00'));
    feed([{ atMs: at('2026-01-05T02:00'), source: 'bed', value: 1, sensorId: 'bed' }]);
    advanceTo(at('2026-01-05T12:59'));
    expect(reminds()).toEqual([]);
    advanceTo(at('2026-01-05T13:00'));
    expect(reminds()).toHaveLength(1);
    advanceTo(at('2026-01-05T13:20'));
    expect(alarms()[0]?.details).toMatchObject({ context: 'sleep', learned: false, limitMin: 660 });
  });

  it('a seat occupied in the first week: sitting 5 h is nothing; 6 h without any other sign, reminder; 20 min more, the alarm', () => {
    const { feed, advanceTo, reminds, alarms } = setup(at('2026-01-05T09:00'));
    feed([
      { atMs: at('2026-01-05T09:50'), source: 'cupboard', value: 1, sensorId: 'fridge' },
      { atMs: at('2026-01-05T10:00'), source: 'chair', value: 1, sensorId: 'seat' },
    ]);
    advanceTo(at('2026-01-05T15:59'));
    expect(reminds()).toEqual([]);
    advanceTo(at('2026-01-05T16:00'));
    expect(reminds()).toHaveLength(1);
    advanceTo(at('2026-01-05T16:20'));
    expect(alarms()[0]?.details).toMatchObject({ context: 'seated', learned: false, limitMin: 360 });
  });

  it('a seat occupied for 5 h every evening is learned: beyond the longest sitting + 45 min (5 h 45 min), the reminder; 20 min later the alarm', () => {
    const { feed, advanceTo, out, alarms, monitor } = setup(at('2026-01-05T01:00'));
    feed([{ atMs: at('2026-01-05T02:00'), source: 'bed', value: 1, sensorId: 'bed' }]);
    for (const date of days('2026-01-05', 20)) feed(sparseDay(date));
    expect(monitor.routineOf('p1')?.seatedLimitMs).toBe(345 * MIN);
    expect(out).toEqual([]);
    feed(sparseDay('2026-01-25').filter((e) => e.atMs <= at('2026-01-25T16:00'))); // sits down at 16:00 and stays
    advanceTo(at('2026-01-25T22:04'));
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-25T22:05'));
    expect(alarms()).toMatchObject([{ kind: 'inactivity', details: { context: 'seated', learned: true } }]);
  });

  it('a sitting after lunch is judged by the sittings begun around then (3.5 h → 4 h 15 min), not by the whole evening in front of the television', () => {
    const { feed, advanceTo, out, alarms, monitor } = setup(at('2026-01-05T01:00'));
    feed([{ atMs: at('2026-01-05T02:00'), source: 'bed', value: 1, sensorId: 'bed' }]);
    for (const date of days('2026-01-05', 20)) feed(sparseDay(date));
    const routine = monitor.routineOf('p1');
    // Sittings begun 09:30–13:30 (11:30, 3.5 h each) against the 5-h evening ones: the after-lunch half hour has its own.
    expect(routine?.seatedSlotLimitMs[23]).toBe(255 * MIN);
    expect(routine?.seatedLimitMs).toBe(345 * MIN);
    // Ordinarily seated at 18:00 (every day), not at 03:00.
    expect(routine?.seatedUsually[36]).toBe(true);
    expect(routine?.seatedUsually[6]).toBe(false);
    out.length = 0;
    feed(sparseDay('2026-01-25').filter((e) => e.atMs <= at('2026-01-25T11:30'))); // sits down at 11:30 and stays
    advanceTo(at('2026-01-25T16:04'));
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-25T16:05'));
    expect(alarms()).toMatchObject([{ kind: 'inactivity', details: { context: 'seated', learned: true, limitMin: 255 } }]);
  });

  it('a sitting whose own limit would end in the hours she ordinarily spends seated is allowed the longest sitting', () => {
    const { feed, advanceTo, out, alarms } = setup(at('2026-01-05T01:00'));
    // Sits down at 13:00 (2 h) on most days, and every evening 17:00–22:00.
    const day = (date: string): Activity[] => {
      const d = (hhmm: string, plusDays = 0) => at(`${date}T${hhmm}`) + plusDays * DAY;
      return [
        { atMs: d('09:00'), source: 'bed', value: 0, sensorId: 'bed' },
        { atMs: d('09:10'), source: 'water', value: 1, sensorId: 'flush' },
        { atMs: d('12:50'), source: 'cupboard', value: 1, sensorId: 'fridge' },
        { atMs: d('13:00'), source: 'chair', value: 1, sensorId: 'seat' },
        { atMs: d('15:00'), source: 'chair', value: 0, sensorId: 'seat' },
        { atMs: d('15:10'), source: 'water', value: 1, sensorId: 'flush' },
        { atMs: d('17:00'), source: 'chair', value: 1, sensorId: 'seat' },
        { atMs: d('22:00'), source: 'chair', value: 0, sensorId: 'seat' },
        { atMs: d('22:10'), source: 'water', value: 1, sensorId: 'flush' },
        { atMs: d('22:30'), source: 'bed', value: 1, sensorId: 'bed' },
      ];
    };
    for (const date of days('2026-01-05', 20)) feed(day(date));
    out.length = 0;
    // Sits down at 14:30: the sittings begun around then (13:00, 2 h) would allow 2 h 45 min, to 17:15 — in her evening
    // seat hours — so the longest sitting of all (5 h + 45 min) applies: the alarm at 20:35, not 17:35.
    feed(day('2026-01-25').filter((e) => e.atMs < at('2026-01-25T13:00')));
    feed([{ atMs: at('2026-01-25T14:30'), source: 'chair', value: 1, sensorId: 'seat' }]);
    advanceTo(at('2026-01-25T20:34'));
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-25T20:35'));
    expect(alarms()).toMatchObject([{ details: { context: 'seated', limitMin: 345 } }]);
  });

  it('a sensor followed by long ordinary silences (a door-frame PIR that does not see the sofa) has its own floor; after the kitchen the home floor stays', () => {
    const { feed, advanceTo, out, alarms, monitor } = setup(at('2026-01-05T07:00'));
    // Every day: kitchen PIR every 10 min, the living-room door PIR at 14:00, then 20 min unseen — or, on 6 days of 14,
    // 100 min (the sofa): too few days to move the home's floor (the median day), enough for that sensor's.
    const day = (date: string, sofa = false): Activity[] => {
      const d = (hhmm: string) => at(`${date}T${hhmm}`);
      const ev: Activity[] = [{ atMs: d('07:30'), source: 'bed', value: 0, sensorId: 'bed' }];
      const pir = (ms: number, sensorId: string) => ev.push({ atMs: ms, source: 'motion', value: 1, sensorId }, { atMs: ms + MIN, source: 'motion', value: 0, sensorId });
      for (let m = 8 * 60; m <= 14 * 60 - 10; m += 10) pir(at(`${date}T00:00`) + m * MIN, 'kitchen');
      pir(d('14:00'), 'living-door');
      for (let m = 14 * 60 + (sofa ? 100 : 20); m <= 21 * 60; m += 10) pir(at(`${date}T00:00`) + m * MIN, 'kitchen');
      ev.push({ atMs: d('21:30'), source: 'bed', value: 1, sensorId: 'bed' });
      return ev;
    };
    days('2026-01-05', 14).forEach((date, k) => feed(day(date, k % 7 < 3)));
    const routine = monitor.routineOf('p1');
    expect(routine?.homeFloorMs).toBe(45 * MIN);
    expect(routine?.keyFloorMs['living-door']).toBe(115 * MIN);
    expect(routine?.keyFloorMs.kitchen).toBe(45 * MIN); // never followed by more than 10 min: the least daytime limit
    expect(alarms()).toEqual([]);
    out.length = 0;
    // 19 January: into the living room at 10:00 (a busy kitchen hour: its own limit is the least, 45 min) and silent:
    // judged by what ordinarily follows that door's PIR, the reminder at 11:55, the alarm at 12:15.
    feed(day('2026-01-19').filter((e) => e.atMs < at('2026-01-19T10:00')));
    feed([
      { atMs: at('2026-01-19T10:00'), source: 'motion', value: 1, sensorId: 'living-door' },
      { atMs: at('2026-01-19T10:01'), source: 'motion', value: 0, sensorId: 'living-door' },
    ]);
    expect(routine?.slotLimitMs[20]).toBe(45 * MIN);
    advanceTo(at('2026-01-19T12:14'));
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-19T12:15'));
    expect(alarms()).toMatchObject([{ details: { context: 'day', limitMin: 115 } }]);
  });

  it('up and about by day, the reminder comes at the limit but the SMS only once the silence outlasts the longest this home has had (+15 min, at most 80 min)', () => {
    const { feed, advanceTo, out, alarms, reminds, monitor } = setup(at('2026-01-05T07:00'));
    // On one day of 14, 60 min unseen from 16:00 (a meal at a table no sensor sees).
    days('2026-01-05', 14).forEach((date, k) => feed(kitchenDay(date, k === 9 ? [16 * 60, 17 * 60] : undefined)));
    const routine = monitor.routineOf('p1');
    expect(routine?.longestFreeMs).toBe(60 * MIN);
    expect(routine?.slotLimitMs[20]).toBe(45 * MIN);
    out.length = 0;
    // 19 January: the kitchen at 10:00, then nothing. The reminder at 10:45 as ever; the alarm not at 11:05 but at
    // 11:15 (60 + 15 min).
    feed(kitchenDay('2026-01-19').filter((e) => e.atMs <= at('2026-01-19T10:00') + MIN));
    advanceTo(at('2026-01-19T10:45'));
    expect(reminds()).toHaveLength(1);
    advanceTo(at('2026-01-19T11:14'));
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-19T11:15'));
    expect(alarms()).toMatchObject([{ details: { context: 'day', limitMin: 45, silenceMin: 75 } }]);
    expect(alarms()[0]?.reason).toContain('longer than any ordinary silence of the last 28 days');
  });

  it('the wait for the longest ordinary silence is capped at 80 min: a home once silent for 3 h is not left 3 h', () => {
    const { feed, advanceTo, out, alarms } = setup(at('2026-01-05T07:00'));
    days('2026-01-05', 14).forEach((date, k) => feed(kitchenDay(date, k === 9 ? [14 * 60, 17 * 60] : undefined)));
    out.length = 0;
    feed(kitchenDay('2026-01-19').filter((e) => e.atMs <= at('2026-01-19T10:00') + MIN));
    advanceTo(at('2026-01-19T11:19'));
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-19T11:20'));
    expect(alarms()).toMatchObject([{ details: { context: 'day', silenceMin: 80 } }]);
  });

  it('an occupied bed at 15:00 for three hours is worth a reminder (a lie-down, not the night)', () => {
    const { feed, advanceTo, reminds, alarms } = setup(at('2026-01-05T14:00'));
    feed([
      { atMs: at('2026-01-05T14:50'), source: 'motion', value: 1, sensorId: 'pir' },
      { atMs: at('2026-01-05T15:00'), source: 'bed', value: 1, sensorId: 'bed' },
    ]);
    advanceTo(at('2026-01-05T17:59'));
    expect(reminds()).toEqual([]);
    advanceTo(at('2026-01-05T18:00'));
    expect(reminds()).toHaveLength(1);
    advanceTo(at('2026-01-05T18:20'));
    expect(alarms()[0]?.details).toMatchObject({ context: 'rest', limitMin: 180 });
  });

  it('a trip out longer than ever: a not-back-home notice (kind notBack), never the urgent inactivity alarm; the person coming back clears it', () => {
    const { live, feed, advanceTo, out, alarms, reminds, cleared } = setup(at('2026-01-05T06:00'));
    live('2026-01-05', 14, { wake: '06:30', bedMin: 21 * 60 + 30, trip: [9 * 60, 11 * 60] }); // out 2 h every morning
    feed(dayEvents({ ...REGULAR, date: '2026-01-19' }).filter((e) => e.atMs < at('2026-01-19T08:55')));
    feed([
      { atMs: at('2026-01-19T09:00'), source: 'door', value: 1, exit: true, sensorId: 'front' },
      { atMs: at('2026-01-19T09:00') + 8000, source: 'door', value: 0, exit: true, sensorId: 'front' },
    ]);
    out.length = 0;
    advanceTo(at('2026-01-19T12:59')); // 2 h × 1.25 + 1 h = 3.5 h, at least 4 h
    expect(out).toEqual([]);
    advanceTo(at('2026-01-19T13:00'));
    expect(reminds()).toEqual([]); // nobody home to press a button
    expect(alarms()).toMatchObject([{ kind: 'notBack', deviceId: 'btn-1', subjectId: 'p1', eventTs: at('2026-01-19T13:00'), details: { context: 'out', wentOut: '2026-01-19 09:00', silenceMin: 240 } }]);
    advanceTo(at('2026-01-20T09:00'));
    expect(alarms()).toHaveLength(1);
    feed([{ atMs: at('2026-01-20T09:05'), source: 'door', value: 1, exit: true, sensorId: 'front' }]);
    expect(cleared()).toMatchObject([{ kind: 'notBack', subjectId: 'p1', atMs: at('2026-01-20T09:05') }]);
    expect(alarms().filter((a) => a.kind === 'inactivity')).toEqual([]);
  });

  it('up at 11:05 (usually 11:00) after a late night and out of the door at 11:20: a day out, not "during the night"', () => {
    const { feed, advanceTo, alarms, monitor } = setup(at('2026-01-05T01:00'));
    feed([{ atMs: at('2026-01-05T02:00'), source: 'bed', value: 1, sensorId: 'bed' }]);
    for (const date of days('2026-01-05', 14)) feed(sparseDay(date));
    feed([
      { atMs: at('2026-01-19T11:05'), source: 'bed', value: 0, sensorId: 'bed' },
      { atMs: at('2026-01-19T11:10'), source: 'water', value: 1, sensorId: 'flush' },
      { atMs: at('2026-01-19T11:20'), source: 'door', value: 1, exit: true, sensorId: 'front' },
      { atMs: at('2026-01-19T11:20') + 8000, source: 'door', value: 0, exit: true, sensorId: 'front' },
    ]);
    expect(monitor.watchOf('p1')).toMatchObject({ context: 'out', departedAtNight: false, notice: true });
    advanceTo(at('2026-01-19T15:10'));
    expect(alarms()).toEqual([]);
  });

  it('a PIR held "on" (it reports changes only) is motion still seen: the silence counts from when it stops being held (at most 2 h after it came on)', () => {
    const { feed, advanceTo, reminds } = setup(at('2026-01-05T09:00'));
    feed([
      { atMs: at('2026-01-05T09:10'), source: 'motion', value: 1, sensorId: 'pir' },
      { atMs: at('2026-01-05T09:11'), source: 'motion', value: 0, sensorId: 'pir' },
      { atMs: at('2026-01-05T10:00'), source: 'motion', value: 1, sensorId: 'pir' },
    ]);
    advanceTo(at('2026-01-05T15:59'));
    expect(reminds()).toEqual([]); // 4 h from 12:00, not from 10:00
    advanceTo(at('2026-01-05T16:00'));
    expect(reminds()).toHaveLength(1);
  });
});
