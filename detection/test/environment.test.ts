import { describe, expect, it } from 'vitest';
import { FakeClock, type Readings } from '@kanjia/protocol';
import { EnvironmentMonitor, CO_ALARM_STAGES_EN50291 } from '../src/environment/index.js';
import type { DetectorOutput, Finding } from '../src/types.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
/** 2026-01-15 00:00 in Asia/Shanghai: a winter night. */
const T0 = Date.parse('2026-01-15T00:00:00+08:00');

function setup() {
  const clock = new FakeClock(T0);
  const out: DetectorOutput[] = [];
  const monitor = new EnvironmentMonitor({ clock, emit: (o) => out.push(o) });
  monitor.register({ deviceId: 'env-1', subjectId: 'res-1', timeZone: 'Asia/Shanghai' });
  monitor.start();
  /** A reading at T0 + minutes, moving the clock there first. */
  const send = (minutes: number, readings: Readings): void => {
    clock.advance(T0 + minutes * MIN - clock.nowMs());
    monitor.reading('env-1', readings, clock.nowMs());
  };
  /** The same CO level once a minute over [fromMin, toMin]. */
  const coEveryMinute = (fromMin: number, toMin: number, ppm: number): void => {
    for (let m = fromMin; m <= toMin; m++) send(m, { coPpm: ppm });
  };
  const alarms = (): Finding[] => out.flatMap((o) => (o.type === 'alarm' ? [o.finding] : []));
  const cleared = () => out.filter((o) => o.type === 'cleared');
  const minuteOf = (f: Finding | undefined): number | undefined => (f === undefined ? undefined : (f.eventTs - T0) / MIN);
  return { clock, out, monitor, send, coEveryMinute, alarms, cleared, minuteOf };
}

describe('EnvironmentMonitor: carbon monoxide (EN 50291-1 stages)', () => {
  it('implements 50 ppm / 60 min, 100 ppm / 20 min and 300 ppm / first reading', () => {
    expect(CO_ALARM_STAGES_EN50291.map((s) => [s.ppm, s.afterMs / MIN])).toEqual([
      [50, 60],
      [100, 20],
      [300, 0],
    ]);
  });

  it('60 ppm for 50 min (a reading a minute) raises nothing', () => {
    const { coEveryMinute, out } = setup();
    coEveryMinute(0, 50, 60);
    expect(out).toEqual([]);
  });

  it('60 ppm for 95 min raises one critical co alarm, at minute 60 (the 50 ppm stage)', () => {
    const { coEveryMinute, alarms, minuteOf } = setup();
    coEveryMinute(0, 95, 60);
    expect(alarms()).toHaveLength(1);
    const [finding] = alarms();
    expect(minuteOf(finding)).toBe(60);
    expect(finding).toMatchObject({
      kind: 'co',
      deviceId: 'env-1',
      subjectId: 'res-1',
      eventId: `co:env-1:${T0}`,
      details: { coPpm: 60, stagePpm: 50, stageMin: 60, minutesAtStage: 60, localStart: '00:00', standard: 'EN 50291-1' },
    });
  });

  it('120 ppm for 45 min raises at minute 20 (the 100 ppm stage), not at 19', () => {
    const { coEveryMinute, alarms, minuteOf } = setup();
    coEveryMinute(0, 19, 120);
    expect(alarms()).toEqual([]);
    coEveryMinute(20, 45, 120);
    expect(alarms().map((f) => [minuteOf(f), f.details?.stagePpm])).toEqual([[20, 100]]);
  });

  it('400 ppm raises within one reading, even as the first reading of the sensor', () => {
    const { send, alarms, minuteOf } = setup();
    send(7, { coPpm: 400 });
    expect(alarms().map((f) => [minuteOf(f), f.details?.stagePpm, f.details?.coPpm])).toEqual([[7, 300, 400]]);
  });

  it('30 ppm for 8 hours never raises (EN 50291-1: no alarm at 30 ppm)', () => {
    const { coEveryMinute, out } = setup();
    coEveryMinute(0, 480, 30);
    expect(out).toEqual([]);
  });

  it('a 20-minute gap between 60 ppm readings is interpolated: the alarm still comes at minute 60', () => {
    const { coEveryMinute, alarms, minuteOf } = setup();
    coEveryMinute(0, 30, 60);
    coEveryMinute(50, 95, 60);
    expect(alarms().map(minuteOf)).toEqual([60]);
  });

  it('a 45-minute gap (over the 30 min limit) is not counted: the alarm comes at minute 105, not 60', () => {
    const { coEveryMinute, alarms, minuteOf } = setup();
    coEveryMinute(0, 30, 60);
    coEveryMinute(75, 120, 60);
    expect(alarms().map(minuteOf)).toEqual([105]);
  });

  it('irregular sampling (gaps of 1 to 12 min) counts real durations: 60 ppm raises at the first reading at or after minute 60', () => {
    const { send, alarms, minuteOf } = setup();
    for (const m of [0, 1, 8, 11, 23, 24, 30, 41, 52, 58, 63, 70]) send(m, { coPpm: 60 });
    expect(alarms().map(minuteOf)).toEqual([63]);
  });

  it('a 20-minute dip to 0 ppm pays back at half rate: 60 ppm, 40 min on, 20 off, raises at minute 91', () => {
    const { coEveryMinute, alarms, minuteOf } = setup();
    coEveryMinute(0, 40, 60);
    coEveryMinute(41, 60, 0);
    coEveryMinute(61, 100, 60);
    expect(alarms().map(minuteOf)).toEqual([91]);
  });

  it('CO below 30 ppm for 15 min (from the first reading below, minute 1) is cleared at minute 16; a later rise is a new occurrence', () => {
    const { send, coEveryMinute, alarms, cleared, minuteOf } = setup();
    send(0, { coPpm: 350 });
    coEveryMinute(1, 15, 10);
    expect(cleared()).toEqual([]);
    send(16, { coPpm: 10 });
    expect(cleared()).toMatchObject([{ kind: 'co', deviceId: 'env-1', atMs: T0 + 16 * MIN, reason: 'CO below 30 ppm for 15 min (peak 350 ppm)' }]);
    send(200, { coPpm: 320 });
    expect(alarms().map((f) => [minuteOf(f), f.eventId])).toEqual([
      [0, `co:env-1:${T0}`],
      [200, `co:env-1:${T0 + 200 * MIN}`],
    ]);
  });

  it('a sensor that stops reporting mid-alarm drops the alarm after 2 h without a cleared; back still high, it is a new occurrence', () => {
    const { clock, send, alarms, cleared } = setup();
    send(0, { coPpm: 400 });
    expect(clock.pendingTimers()).toBe(1);
    clock.advance(2 * HOUR + 1);
    expect(clock.pendingTimers()).toBe(0);
    expect(cleared()).toEqual([]);
    send(180, { coPpm: 400 });
    expect(alarms().map((f) => f.eventId)).toEqual([`co:env-1:${T0}`, `co:env-1:${T0 + 180 * MIN}`]);
  });
});

describe('EnvironmentMonitor: smoke, gas, water leak', () => {
  it('smoke raises at the first true reading; cleared after 10 min of false', () => {
    const { send, clock, alarms, cleared, minuteOf } = setup();
    send(3, { smoke: true });
    expect(alarms().map((f) => [f.kind, minuteOf(f), f.eventId])).toEqual([['smoke', 3, `smoke:env-1:${T0 + 3 * MIN}`]]);
    send(5, { smoke: false });
    clock.advance(10 * MIN - 1);
    expect(cleared()).toEqual([]);
    clock.advance(1);
    expect(cleared()).toMatchObject([{ kind: 'smoke', atMs: T0 + 15 * MIN }]);
  });

  it('gas raises at the first true reading', () => {
    const { send, alarms } = setup();
    send(1, { gas: true });
    expect(alarms().map((f) => f.kind)).toEqual(['gas']);
  });

  it('one water-leak true followed by false a minute later raises nothing', () => {
    const { send, clock, out } = setup();
    send(0, { waterLeak: true });
    send(1, { waterLeak: false });
    clock.advance(HOUR);
    expect(out).toEqual([]);
  });

  it('a second water-leak true reading raises waterLeak at once', () => {
    const { send, alarms, minuteOf } = setup();
    send(0, { waterLeak: true });
    send(2, { waterLeak: true });
    expect(alarms().map((f) => [f.kind, minuteOf(f), f.details?.readingsInRow])).toEqual([['waterLeak', 2, 2]]);
  });

  it('a water-leak true standing 5 min without a contrary report raises waterLeak at minute 5', () => {
    const { send, clock, alarms, minuteOf } = setup();
    send(0, { waterLeak: true });
    clock.advance(5 * MIN - 1);
    expect(alarms()).toEqual([]);
    clock.advance(1);
    expect(alarms().map((f) => [f.kind, minuteOf(f)])).toEqual([['waterLeak', 5]]);
  });
});

describe('EnvironmentMonitor: cold and heat', () => {
  it('4 °C every 10 min: nothing at 2 h 50, cold (urgent) at 3 h', () => {
    const { send, alarms, minuteOf } = setup();
    for (let m = 0; m <= 170; m += 10) send(m, { temperatureC: 4 });
    expect(alarms()).toEqual([]);
    send(180, { temperatureC: 4 });
    expect(alarms()).toMatchObject([{ kind: 'cold', eventId: `cold:env-1:${T0}`, details: { temperatureC: 4, thresholdC: 5, minutes: 180, localStart: '00:00' } }]);
    expect(minuteOf(alarms()[0])).toBe(180);
  });

  it('the cold alarm comes at exactly 3 h from a held reading of a sensor that reports hourly', () => {
    const { send, clock, alarms, minuteOf } = setup();
    send(0, { temperatureC: 3 });
    send(60, { temperatureC: 3 });
    send(120, { temperatureC: 3 });
    clock.advance(60 * MIN);
    expect(alarms().map(minuteOf)).toEqual([180]);
  });

  it('4.9 / 5.5 / 4.9 °C is one episode (2 °C hysteresis): cold at 3 h from the first 4.9', () => {
    const { send, alarms, minuteOf } = setup();
    for (let m = 0; m <= 180; m += 10) send(m, { temperatureC: m % 20 === 0 ? 4.9 : 5.5 });
    expect(alarms().map((f) => [minuteOf(f), f.eventId])).toEqual([[180, `cold:env-1:${T0}`]]);
  });

  it('a reading of 7 °C ends a cold episode before the alarm: the 3 h start again', () => {
    const { send, alarms } = setup();
    for (let m = 0; m <= 100; m += 10) send(m, { temperatureC: 4 });
    send(110, { temperatureC: 7 });
    for (let m = 120; m <= 290; m += 10) send(m, { temperatureC: 4 });
    expect(alarms()).toEqual([]);
    send(300, { temperatureC: 4 });
    expect(alarms()).toHaveLength(1);
  });

  it('cold is cleared after 30 min at or above 7 °C, not by 6.5 °C', () => {
    const { send, alarms, cleared } = setup();
    for (let m = 0; m <= 180; m += 10) send(m, { temperatureC: 4 });
    expect(alarms()).toHaveLength(1);
    for (let m = 190; m <= 300; m += 10) send(m, { temperatureC: 6.5 });
    expect(cleared()).toEqual([]);
    send(310, { temperatureC: 8 });
    send(330, { temperatureC: 8 });
    expect(cleared()).toEqual([]);
    send(340, { temperatureC: 8 });
    expect(cleared()).toMatchObject([{ kind: 'cold', atMs: T0 + 340 * MIN }]);
  });

  it('a thermometer that stops reporting at 4 °C does not raise cold 3 h later (stale after 2 h)', () => {
    const { send, clock, out } = setup();
    send(0, { temperatureC: 4 });
    clock.advance(6 * HOUR);
    expect(out).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('36 °C for 3 h raises heat; 34 °C does not clear it, 33 °C for 30 min does', () => {
    const { send, alarms, cleared } = setup();
    for (let m = 0; m <= 180; m += 15) send(m, { temperatureC: 36 });
    expect(alarms()).toMatchObject([{ kind: 'heat', details: { thresholdC: 35, minutes: 180 } }]);
    send(195, { temperatureC: 34 });
    send(240, { temperatureC: 34 });
    expect(cleared()).toEqual([]);
    send(255, { temperatureC: 33 });
    send(285, { temperatureC: 33 });
    expect(cleared()).toMatchObject([{ kind: 'heat', atMs: T0 + 285 * MIN }]);
  });
});

describe('EnvironmentMonitor: lifecycle', () => {
  it('stop() leaves no timers and is idempotent; unknown devices are ignored', () => {
    const { clock, monitor, send } = setup();
    send(0, { coPpm: 60, temperatureC: 3, waterLeak: true });
    expect(clock.pendingTimers()).toBe(1);
    monitor.stop();
    monitor.stop();
    expect(clock.pendingTimers()).toBe(0);
    expect(monitor.reading('ghost', { coPpm: 999 }, clock.nowMs())).toBe(false);
  });

  it('a reading timestamped a day ahead (wrong clock passed by mistake) is taken as now', () => {
    const { clock, monitor, alarms } = setup();
    monitor.reading('env-1', { smoke: true }, clock.nowMs() + 24 * HOUR);
    expect(alarms().map((f) => f.eventTs)).toEqual([T0]);
  });
});

describe('EnvironmentMonitor: readings in the same millisecond', () => {
  it('raises the immediate CO alarm for 400 ppm arriving in the same millisecond as a 12 ppm reading', () => {
    const clock = new FakeClock(Date.UTC(2026, 0, 15, 14, 0, 0));
    const outputs: DetectorOutput[] = [];
    const monitor = new EnvironmentMonitor({ clock, emit: (o) => outputs.push(o) });
    monitor.register({ deviceId: 'co-1', subjectId: 'res-1', timeZone: 'Asia/Shanghai' });
    monitor.start();
    monitor.reading('co-1', { coPpm: 12 }, clock.nowMs());
    monitor.reading('co-1', { coPpm: 400 }, clock.nowMs());
    expect(outputs.filter((o) => o.type === 'alarm')).toHaveLength(1);
    monitor.stop();
  });
});
