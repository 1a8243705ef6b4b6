import { describe, expect, it } from 'vitest';
import { FakeClock, MessageId } from '@kanjia/protocol';
import { CheckInMonitor, MonitorConfigError, type CheckInSubjectOptions } from '../src/check-in/index.js';
import type { DetectorOutput } from '../src/types.js';
import { localDateOf, zonedTimeToUtc } from '../src/check-in/zoned-time.js';
import { derivedEventId } from '../src/check-in/event-id.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

/** An instant given as village wall time with its UTC offset, e.g. at('2026-01-15T07:00', '+08:00'). */
const at = (local: string, offset = '+08:00'): number => Date.parse(`${local}:00${offset}`);

function setup(startMs: number, options: Partial<CheckInSubjectOptions> = {}) {
  const clock = new FakeClock(startMs);
  const out: DetectorOutput[] = [];
  const monitor = new CheckInMonitor({ clock, emit: (o) => out.push(o) });
  monitor.register({ subjectId: 'res-1', timeZone: 'Asia/Shanghai', deviceIds: ['btn-1', 'hub-1'], ...options });
  monitor.start();
  const advanceTo = (ms: number): void => clock.advance(ms - clock.nowMs());
  const reminds = () => out.filter((o) => o.type === 'remind');
  const alarms = () => out.flatMap((o) => (o.type === 'alarm' ? [o.finding] : []));
  const cleared = () => out.filter((o) => o.type === 'cleared');
  return { clock, out, monitor, advanceTo, reminds, alarms, cleared };
}

describe('CheckInMonitor: the daily window in Asia/Shanghai', () => {
  it('reminds on every device at 10:00 and raises missedCheckIn at 10:30 when no press came', () => {
    const { advanceTo, reminds, alarms, out } = setup(at('2026-01-15T06:00'));
    advanceTo(at('2026-01-15T10:00') - 1);
    expect(out).toEqual([]);
    advanceTo(at('2026-01-15T10:00'));
    expect(reminds()).toEqual([{ type: 'remind', subjectId: 'res-1', deviceIds: ['btn-1', 'hub-1'], reason: 'checkIn', atMs: at('2026-01-15T10:00') }]);
    advanceTo(at('2026-01-15T10:30') - 1);
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-15T10:30'));
    const [finding] = alarms();
    expect(finding).toMatchObject({
      kind: 'missedCheckIn',
      deviceId: 'btn-1',
      subjectId: 'res-1',
      eventId: 'missedCheckIn:res-1:2026-01-15',
      eventTs: at('2026-01-15T10:30'),
      details: { localDate: '2026-01-15', windowStart: '07:00', windowEnd: '10:00', daysMissed: 1, escalated: false, graceMin: 30 },
    });
  });

  it('a press at 07:00 settles the day: no reminder, no alarm', () => {
    const { monitor, advanceTo, out } = setup(at('2026-01-15T06:00'));
    advanceTo(at('2026-01-15T07:00'));
    monitor.checkIn('res-1', at('2026-01-15T07:00'));
    advanceTo(at('2026-01-15T23:59'));
    expect(out).toEqual([]);
  });

  it('a press at 06:59 counts as an early press (from 05:00 with the default 2 h)', () => {
    const { monitor, advanceTo, out } = setup(at('2026-01-15T04:00'));
    advanceTo(at('2026-01-15T06:59'));
    monitor.checkIn('res-1', at('2026-01-15T06:59'));
    advanceTo(at('2026-01-15T23:59'));
    expect(out).toEqual([]);
  });

  it('a press at 04:59 is too early to vouch for the morning: reminded at 10:00, alarm at 10:30', () => {
    const { monitor, advanceTo, reminds, alarms } = setup(at('2026-01-15T04:00'));
    advanceTo(at('2026-01-15T04:59'));
    monitor.checkIn('res-1', at('2026-01-15T04:59'));
    advanceTo(at('2026-01-15T10:30'));
    expect(reminds()).toHaveLength(1);
    expect(alarms()).toHaveLength(1);
  });

  it('with a strict window (earlyPressMs 0) a press at 06:59 does not count and one at 07:00 does', () => {
    const early = setup(at('2026-01-15T06:00'), { earlyPressMs: 0 });
    early.advanceTo(at('2026-01-15T06:59'));
    early.monitor.checkIn('res-1', at('2026-01-15T06:59'));
    early.advanceTo(at('2026-01-15T10:30'));
    expect(early.alarms()).toHaveLength(1);

    const onTime = setup(at('2026-01-15T06:00'), { earlyPressMs: 0 });
    onTime.advanceTo(at('2026-01-15T07:00'));
    onTime.monitor.checkIn('res-1', at('2026-01-15T07:00'));
    onTime.advanceTo(at('2026-01-15T10:30'));
    expect(onTime.out).toEqual([]);
  });

  it('a press at 10:00, the window end, is in time: no alarm at 10:30', () => {
    const { monitor, advanceTo, alarms } = setup(at('2026-01-15T06:00'));
    advanceTo(at('2026-01-15T10:00'));
    monitor.checkIn('res-1', at('2026-01-15T10:00'));
    advanceTo(at('2026-01-15T12:00'));
    expect(alarms()).toEqual([]);
  });

  it('a late press at 10:15, after the reminder, prevents the 10:30 alarm', () => {
    const { monitor, advanceTo, reminds, alarms } = setup(at('2026-01-15T06:00'));
    advanceTo(at('2026-01-15T10:15'));
    monitor.checkIn('res-1', at('2026-01-15T10:15'));
    advanceTo(at('2026-01-15T23:00'));
    expect(reminds()).toHaveLength(1);
    expect(alarms()).toEqual([]);
  });

  it('a press 20 min after the alarm emits cleared for the missed check-in', () => {
    const { monitor, advanceTo, cleared } = setup(at('2026-01-15T06:00'));
    advanceTo(at('2026-01-15T10:50'));
    monitor.checkIn('res-1', at('2026-01-15T10:50'));
    expect(cleared()).toEqual([
      { type: 'cleared', kind: 'missedCheckIn', deviceId: 'btn-1', subjectId: 'res-1', atMs: at('2026-01-15T10:50'), reason: 'check-in press 20 min after the missed check-in alarm' },
    ]);
    monitor.checkIn('res-1', at('2026-01-15T10:51'));
    expect(cleared()).toHaveLength(1);
  });

  it('midnight: 07:00 in Shanghai is 23:00 UTC the day before; a press at 07:30 local settles 15 January, not 14 January', () => {
    const { monitor, advanceTo, out } = setup(at('2026-01-14T20:00'));
    advanceTo(at('2026-01-15T07:30'));
    expect(new Date(at('2026-01-15T07:30')).toISOString()).toBe('2026-01-14T23:30:00.000Z');
    monitor.checkIn('res-1', at('2026-01-15T07:30'));
    advanceTo(at('2026-01-15T23:59'));
    expect(out).toEqual([]);
  });

  it('midnight: a press at 23:59 the evening before does not count for the next morning', () => {
    const { monitor, advanceTo, alarms } = setup(at('2026-01-14T20:00'));
    advanceTo(at('2026-01-14T23:59'));
    monitor.checkIn('res-1', at('2026-01-14T23:59'));
    advanceTo(at('2026-01-15T10:30'));
    expect(alarms().map((f) => f.eventId)).toEqual(['missedCheckIn:res-1:2026-01-15']);
  });

  it('a resident registered at 08:00, inside the window, is first expected the next day', () => {
    const { advanceTo, out, alarms } = setup(at('2026-01-15T08:00'));
    advanceTo(at('2026-01-15T23:59'));
    expect(out).toEqual([]);
    advanceTo(at('2026-01-16T10:30'));
    expect(alarms().map((f) => f.eventId)).toEqual(['missedCheckIn:res-1:2026-01-16']);
  });
});

describe('CheckInMonitor: daylight saving in Europe/Berlin', () => {
  it('on 2026-03-29 (CET → CEST) the 10:00 window end is 08:00 UTC, the day before it is 09:00 UTC', () => {
    const { advanceTo, reminds, alarms } = setup(Date.UTC(2026, 2, 27, 12, 0), { timeZone: 'Europe/Berlin' });
    advanceTo(Date.UTC(2026, 2, 28, 9, 0) - 1);
    expect(reminds()).toEqual([]);
    advanceTo(Date.UTC(2026, 2, 28, 9, 0));
    expect(reminds()).toHaveLength(1);
    advanceTo(Date.UTC(2026, 2, 28, 9, 30));
    expect(alarms().map((f) => f.eventId)).toEqual(['missedCheckIn:res-1:2026-03-28']);

    advanceTo(Date.UTC(2026, 2, 29, 8, 0) - 1);
    expect(reminds()).toHaveLength(1);
    advanceTo(Date.UTC(2026, 2, 29, 8, 0));
    expect(reminds()).toHaveLength(2);
    // 2nd day in a row: raised with the reminder at the window end.
    expect(alarms().map((f) => [f.eventId, f.eventTs, f.details?.daysMissed])).toEqual([
      ['missedCheckIn:res-1:2026-03-28', Date.UTC(2026, 2, 28, 9, 30), 1],
      ['missedCheckIn:res-1:2026-03-29', Date.UTC(2026, 2, 29, 8, 0), 2],
    ]);
  });

  it('a window ending at 02:30, a time that does not exist on 2026-03-29, ends at 03:30 CEST (01:30 UTC)', () => {
    const { advanceTo, reminds } = setup(Date.UTC(2026, 2, 28, 12, 0), { timeZone: 'Europe/Berlin', windowStart: '01:00', windowEnd: '02:30' });
    advanceTo(Date.UTC(2026, 2, 29, 1, 30) - 1);
    expect(reminds()).toEqual([]);
    advanceTo(Date.UTC(2026, 2, 29, 1, 30));
    expect(reminds()).toHaveLength(1);
  });

  it('a press at 07:00 CEST (05:00 UTC) on the change day settles it', () => {
    const { monitor, advanceTo, out } = setup(Date.UTC(2026, 2, 28, 12, 0), { timeZone: 'Europe/Berlin', earlyPressMs: 0 });
    advanceTo(Date.UTC(2026, 2, 29, 5, 0));
    monitor.checkIn('res-1', Date.UTC(2026, 2, 29, 5, 0));
    advanceTo(Date.UTC(2026, 2, 29, 20, 0));
    expect(out).toEqual([]);
  });
});

describe('CheckInMonitor: several days missed', () => {
  it('3 days missed in a row: day 1 at 10:30, days 2 and 3 at 10:00 with daysMissed 2 and 3 and a stronger reason', () => {
    const { advanceTo, alarms, reminds } = setup(at('2026-01-15T06:00'));
    advanceTo(at('2026-01-17T23:00'));
    expect(reminds()).toHaveLength(3);
    const found = alarms();
    expect(found.map((f) => [f.eventId, f.eventTs, f.details?.daysMissed, f.details?.escalated])).toEqual([
      ['missedCheckIn:res-1:2026-01-15', at('2026-01-15T10:30'), 1, false],
      ['missedCheckIn:res-1:2026-01-16', at('2026-01-16T10:00'), 2, true],
      ['missedCheckIn:res-1:2026-01-17', at('2026-01-17T10:00'), 3, true],
    ]);
    expect(found[2]?.reason).toContain('3 days in a row');
  });

  it('a press resets the count: a miss after a pressed day is day 1 again, with the 30 min grace', () => {
    const { monitor, advanceTo, alarms } = setup(at('2026-01-15T06:00'));
    advanceTo(at('2026-01-15T10:30'));
    advanceTo(at('2026-01-16T08:00'));
    monitor.checkIn('res-1', at('2026-01-16T08:00'));
    advanceTo(at('2026-01-17T10:30'));
    expect(alarms().map((f) => [f.eventId, f.eventTs, f.details?.daysMissed])).toEqual([
      ['missedCheckIn:res-1:2026-01-15', at('2026-01-15T10:30'), 1],
      ['missedCheckIn:res-1:2026-01-17', at('2026-01-17T10:30'), 1],
    ]);
  });
});

describe('CheckInMonitor: away mode', () => {
  it('away: no reminder and no alarm for 3 days; back at 08:00 on day 4, first expected on day 5', () => {
    const { monitor, advanceTo, out, alarms } = setup(at('2026-01-15T06:00'));
    monitor.setAway('res-1', true, at('2026-01-15T06:00'));
    advanceTo(at('2026-01-18T08:00'));
    expect(out).toEqual([]);
    monitor.setAway('res-1', false, at('2026-01-18T08:00'));
    advanceTo(at('2026-01-18T23:00'));
    expect(out).toEqual([]);
    advanceTo(at('2026-01-19T10:30'));
    expect(alarms().map((f) => [f.eventId, f.details?.daysMissed])).toEqual([['missedCheckIn:res-1:2026-01-19', 1]]);
  });

  it('setting away while a missed check-in alarm is open notes it as cleared and resets the count', () => {
    const { monitor, advanceTo, cleared, alarms } = setup(at('2026-01-15T06:00'));
    advanceTo(at('2026-01-15T11:00'));
    monitor.setAway('res-1', true, at('2026-01-15T11:00'));
    expect(cleared()).toMatchObject([{ kind: 'missedCheckIn', reason: 'away mode set: no check-in expected' }]);
    monitor.setAway('res-1', false, at('2026-01-15T12:00'));
    advanceTo(at('2026-01-16T10:30'));
    expect(alarms().map((f) => f.details?.daysMissed)).toEqual([1, 1]);
  });
});

describe('CheckInMonitor: time comes from the server, not the device', () => {
  it('a press is counted at its server receive time: the device clock being a day behind does not matter', () => {
    const { monitor, advanceTo, out } = setup(at('2026-01-15T06:00'));
    advanceTo(at('2026-01-15T08:00'));
    const deviceTs = at('2026-01-15T08:00') - DAY; // what the device wrote in `ts`; the pipeline ignores it
    expect(deviceTs).toBeLessThan(at('2026-01-15T05:00'));
    monitor.checkIn('res-1', at('2026-01-15T08:00'));
    advanceTo(at('2026-01-15T23:00'));
    expect(out).toEqual([]);
  });

  it('an atMs a day ahead of the server clock counts as now: it settles today, not tomorrow', () => {
    const { monitor, advanceTo, alarms } = setup(at('2026-01-15T06:00'));
    advanceTo(at('2026-01-15T08:00'));
    monitor.checkIn('res-1', at('2026-01-16T08:00'));
    advanceTo(at('2026-01-16T10:30'));
    expect(alarms().map((f) => f.eventId)).toEqual(['missedCheckIn:res-1:2026-01-16']);
  });
});

describe('CheckInMonitor: lifecycle and restart', () => {
  it('stop() leaves no timers, is idempotent, and start() resumes', () => {
    const { clock, monitor, advanceTo, alarms } = setup(at('2026-01-15T06:00'));
    expect(clock.pendingTimers()).toBe(1);
    monitor.stop();
    monitor.stop();
    expect(clock.pendingTimers()).toBe(0);
    monitor.start();
    monitor.start();
    expect(clock.pendingTimers()).toBe(1);
    advanceTo(at('2026-01-15T10:30'));
    expect(alarms()).toHaveLength(1);
    monitor.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a restart at 11:00 with no press recorded raises the same eventId at once, without a late reminder', () => {
    const { monitor, clock, out } = setup(at('2026-01-15T11:00'), { watchingSinceMs: at('2026-01-01T00:00'), lastCheckInMs: at('2026-01-14T07:10') });
    clock.advance(0);
    expect(out).toMatchObject([{ type: 'alarm', finding: { eventId: 'missedCheckIn:res-1:2026-01-15', details: { hoursSinceLastCheckIn: 27.8 } } }]);
    expect(monitor.snapshot('res-1')).toEqual({
      subjectId: 'res-1',
      lastCheckInMs: at('2026-01-14T07:10'),
      watchingSinceMs: at('2026-01-01T00:00'),
      away: false,
      consecutiveMissedDays: 1,
    });
  });

  it('rejects an unknown time zone, a window that ends before it starts, and no devices, with stable codes', () => {
    const monitor = new CheckInMonitor({ clock: new FakeClock(), emit: () => {} });
    const base = { subjectId: 'r', timeZone: 'Asia/Shanghai', deviceIds: ['b'] };
    const code = (f: () => void): string | undefined => {
      try {
        f();
      } catch (err) {
        return err instanceof MonitorConfigError ? err.code : 'other';
      }
      return undefined;
    };
    expect(code(() => monitor.register({ ...base, timeZone: 'Asia/Beijing' }))).toBe('MONITOR_BAD_TIME_ZONE');
    expect(code(() => monitor.register({ ...base, windowStart: '10:00', windowEnd: '07:00' }))).toBe('MONITOR_BAD_WINDOW');
    expect(code(() => monitor.register({ ...base, windowStart: '7am' }))).toBe('MONITOR_BAD_TIME_OF_DAY');
    expect(code(() => monitor.register({ ...base, deviceIds: [] }))).toBe('MONITOR_NO_DEVICES');
    expect(monitor.checkIn('nobody', 0)).toBe(false);
  });
});

describe('zoned time (village wall clock with Intl)', () => {
  it('07:00 in Shanghai on 15 January is 23:00 UTC on 14 January', () => {
    expect(zonedTimeToUtc('2026-01-15', 7 * 60, 'Asia/Shanghai')).toBe(Date.UTC(2026, 0, 14, 23, 0));
    expect(localDateOf(Date.UTC(2026, 0, 14, 23, 0), 'Asia/Shanghai')).toBe('2026-01-15');
  });

  it('Berlin 02:30 on 2026-03-29 does not exist and resolves to 03:30 CEST; on 2026-10-25 it happens twice and resolves to the first (CEST)', () => {
    expect(zonedTimeToUtc('2026-03-29', 150, 'Europe/Berlin')).toBe(Date.UTC(2026, 2, 29, 1, 30));
    expect(zonedTimeToUtc('2026-10-25', 150, 'Europe/Berlin')).toBe(Date.UTC(2026, 9, 25, 0, 30));
    expect(zonedTimeToUtc('2026-10-25', 10 * 60, 'Europe/Berlin')).toBe(Date.UTC(2026, 9, 25, 9, 0));
  });
});

describe('derived event ids fit the protocol MessageId (they return to the device in received/taken commands)', () => {
  it('keeps readable ids and hashes an entity that is too long or has other characters, stably', () => {
    expect(derivedEventId('missedCheckIn', 'res_3k9x2a7fq1mz', '2026-01-15')).toBe('missedCheckIn:res_3k9x2a7fq1mz:2026-01-15');
    const odd = derivedEventId('co', 'Kitchen CO sensor (王家)', 1768406400000);
    expect(odd).toMatch(/^co:h[0-9a-f]{16}:1768406400000$/);
    expect(derivedEventId('co', 'Kitchen CO sensor (王家)', 1768406400000)).toBe(odd);
    expect(MessageId.safeParse(derivedEventId('deviceOffline', 'x'.repeat(60), 'installed:1768406400000')).success).toBe(true);
  });
});
