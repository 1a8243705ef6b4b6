import { describe, expect, it } from 'vitest';
import { FakeClock, type DeviceKind } from '@kanjia/protocol';
import { DeviceHealthMonitor, DEFAULT_HEARTBEAT_TIMEOUT_MS, deviceHealthSeverity, type DeviceHealthDeviceOptions } from '../src/device-health/index.js';
import { MonitorConfigError } from '../src/check-in/index.js';
import type { DetectorOutput, Finding } from '../src/types.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

/** Village wall time in Asia/Shanghai. */
const at = (local: string): number => Date.parse(`${local}:00+08:00`);

function setup(startMs: number) {
  const clock = new FakeClock(startMs);
  const out: DetectorOutput[] = [];
  const monitor = new DeviceHealthMonitor({ clock, emit: (o) => out.push(o) });
  const add = (deviceId: string, kind: DeviceKind, extra: Partial<DeviceHealthDeviceOptions> = {}): void =>
    monitor.register({ deviceId, kind, subjectId: 'res-1', timeZone: 'Asia/Shanghai', installedAtMs: at('2026-01-01T10:00'), isOnlyEmergencyButton: false, ...extra });
  const advanceTo = (ms: number): void => clock.advance(ms - clock.nowMs());
  const alarms = (): Finding[] => out.flatMap((o) => (o.type === 'alarm' ? [o.finding] : []));
  const cleared = () => out.filter((o) => o.type === 'cleared');
  return { clock, out, monitor, add, advanceTo, alarms, cleared };
}

describe('DeviceHealthMonitor: heartbeat', () => {
  it('a motion sensor last heard at 10:00 is reported offline at 13:00 (3 h heartbeat), as maintenance', () => {
    const { monitor, add, advanceTo, alarms } = setup(at('2026-01-15T09:00'));
    add('pir-1', 'motionSensor', { lastSeenMs: at('2026-01-15T09:00') });
    monitor.start();
    advanceTo(at('2026-01-15T10:00'));
    monitor.seen('pir-1', at('2026-01-15T10:00'));
    advanceTo(at('2026-01-15T13:00') - 1);
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-15T13:00'));
    expect(alarms()).toEqual([
      {
        kind: 'deviceOffline',
        deviceId: 'pir-1',
        subjectId: 'res-1',
        eventId: `deviceOffline:pir-1:${at('2026-01-15T10:00')}`,
        eventTs: at('2026-01-15T13:00'),
        reason: 'no message for 180 min (heartbeat timeout 180 min)',
        details: {
          neverSeen: false,
          viaLastWill: false,
          silentMin: 180,
          heartbeatTimeoutMin: 180,
          lastSeenMs: at('2026-01-15T10:00'),
          deviceKind: 'motionSensor',
          isOnlyEmergencyButton: false,
          severity: 'maintenance',
          urgent: false,
        },
      },
    ]);
  });

  it('a message at 12:59 resets the 3 h heartbeat to 15:59', () => {
    const { monitor, add, advanceTo, alarms } = setup(at('2026-01-15T10:00'));
    add('pir-1', 'motionSensor', { lastSeenMs: at('2026-01-15T10:00') });
    monitor.start();
    advanceTo(at('2026-01-15T12:59'));
    monitor.seen('pir-1', at('2026-01-15T12:59'));
    advanceTo(at('2026-01-15T15:59') - 1);
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-15T15:59'));
    expect(alarms()).toHaveLength(1);
  });

  it('back online after the offline report → cleared, and the heartbeat runs again', () => {
    const { monitor, add, advanceTo, alarms, cleared } = setup(at('2026-01-15T10:00'));
    add('pir-1', 'motionSensor', { lastSeenMs: at('2026-01-15T10:00') });
    monitor.start();
    advanceTo(at('2026-01-15T14:00'));
    monitor.presence('pir-1', true, at('2026-01-15T14:00'));
    expect(cleared()).toEqual([{ type: 'cleared', kind: 'deviceOffline', deviceId: 'pir-1', subjectId: 'res-1', atMs: at('2026-01-15T14:00'), reason: 'back online after 60 min reported offline' }]);
    advanceTo(at('2026-01-15T17:00'));
    expect(alarms().map((f) => f.eventId)).toEqual([`deviceOffline:pir-1:${at('2026-01-15T10:00')}`, `deviceOffline:pir-1:${at('2026-01-15T14:00')}`]);
  });

  it('an SOS button has a 9 h heartbeat by default (it sleeps and reports every 4 h)', () => {
    expect(DEFAULT_HEARTBEAT_TIMEOUT_MS.sosButton).toBe(9 * HOUR);
    const { monitor, add, advanceTo, alarms } = setup(at('2026-01-15T08:00'));
    add('btn-1', 'sosButton', { lastSeenMs: at('2026-01-15T08:00'), isOnlyEmergencyButton: false });
    monitor.start();
    advanceTo(at('2026-01-15T17:00') - 1);
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-15T17:00'));
    expect(alarms()).toHaveLength(1);
  });

  it('a heartbeatTimeoutMs given at registration overrides the kind default', () => {
    const { monitor, add, advanceTo, alarms } = setup(at('2026-01-15T10:00'));
    add('co-1', 'coSensor', { lastSeenMs: at('2026-01-15T10:00'), heartbeatTimeoutMs: 30 * MIN });
    monitor.start();
    advanceTo(at('2026-01-15T10:30'));
    expect(alarms()).toHaveLength(1);
  });
});

describe('DeviceHealthMonitor: the only emergency button and the night hold', () => {
  it('the only SOS button offline (last will at 02:00) is urgent at 02:10, not held for the morning', () => {
    const { monitor, add, advanceTo, alarms } = setup(at('2026-01-15T01:00'));
    add('btn-1', 'sosButton', { lastSeenMs: at('2026-01-15T01:00'), isOnlyEmergencyButton: true });
    monitor.start();
    advanceTo(at('2026-01-15T02:00'));
    monitor.presence('btn-1', false, at('2026-01-15T02:00'));
    advanceTo(at('2026-01-15T02:10') - 1);
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-15T02:10'));
    const [finding] = alarms();
    expect(finding).toMatchObject({
      kind: 'deviceOffline',
      eventTs: at('2026-01-15T02:10'),
      details: { severity: 'urgent', urgent: true, viaLastWill: true, isOnlyEmergencyButton: true },
    });
    expect(finding?.reason).toContain("only emergency button");
  });

  it("a motion sensor's last will at 02:00 is found at 02:10 and held until 08:00 village time", () => {
    const { monitor, add, advanceTo, alarms } = setup(at('2026-01-15T01:00'));
    add('pir-1', 'motionSensor', { lastSeenMs: at('2026-01-15T01:00') });
    monitor.start();
    advanceTo(at('2026-01-15T02:00'));
    monitor.presence('pir-1', false, at('2026-01-15T02:00'));
    advanceTo(at('2026-01-15T08:00') - 1);
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-15T08:00'));
    expect(alarms()).toMatchObject([
      {
        kind: 'deviceOffline',
        eventId: `deviceOffline:pir-1:${at('2026-01-15T01:00')}`,
        eventTs: at('2026-01-15T02:10'),
        details: { severity: 'maintenance', urgent: false, heldUntil: '08:00', foundAtMs: at('2026-01-15T02:10') },
      },
    ]);
  });

  it('a sensor offline at 02:10 and back at 05:00 raises nothing at 08:00 and emits no cleared', () => {
    const { monitor, add, advanceTo, out } = setup(at('2026-01-15T01:00'));
    add('pir-1', 'motionSensor', { lastSeenMs: at('2026-01-15T01:00') });
    monitor.start();
    advanceTo(at('2026-01-15T02:00'));
    monitor.presence('pir-1', false, at('2026-01-15T02:00'));
    advanceTo(at('2026-01-15T05:00'));
    monitor.seen('pir-1', at('2026-01-15T05:00'));
    advanceTo(at('2026-01-15T07:30'));
    monitor.seen('pir-1', at('2026-01-15T07:30'));
    advanceTo(at('2026-01-15T08:30'));
    expect(out).toEqual([]);
  });

  it('a last will followed by a reconnect within the 10 min grace raises nothing', () => {
    const { monitor, add, advanceTo, out } = setup(at('2026-01-15T10:00'));
    add('btn-1', 'sosButton', { lastSeenMs: at('2026-01-15T10:00'), isOnlyEmergencyButton: true });
    monitor.start();
    monitor.presence('btn-1', false, at('2026-01-15T10:00'));
    advanceTo(at('2026-01-15T10:09'));
    monitor.presence('btn-1', true, at('2026-01-15T10:09'));
    advanceTo(at('2026-01-15T12:00'));
    expect(out).toEqual([]);
  });

  it('a message read before the last will but handed on after it (a connection that said online and dropped) does not cancel the will', () => {
    const { monitor, add, advanceTo, alarms } = setup(at('2026-01-15T10:00'));
    add('btn-1', 'sosButton', { lastSeenMs: at('2026-01-15T10:00'), isOnlyEmergencyButton: true });
    monitor.start();
    advanceTo(at('2026-01-15T10:05'));
    monitor.presence('btn-1', false, at('2026-01-15T10:05'));
    monitor.seen('btn-1', at('2026-01-15T10:05') - 5);
    advanceTo(at('2026-01-15T10:15'));
    expect(alarms().map((f) => f.kind)).toEqual(['deviceOffline']);
  });

  it('a maintenance finding at 21:00 is held until 08:00 the next morning', () => {
    const { monitor, add, advanceTo, alarms } = setup(at('2026-01-15T18:00'));
    add('door-1', 'doorSensor', { lastSeenMs: at('2026-01-15T18:00') });
    monitor.start();
    advanceTo(at('2026-01-16T07:59'));
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-16T08:00'));
    expect(alarms()).toMatchObject([{ eventTs: at('2026-01-15T21:00'), details: { heldUntil: '08:00' } }]);
  });

  it('deviceHealthSeverity: urgent only for the only emergency button offline', () => {
    expect(deviceHealthSeverity('deviceOffline', true)).toBe('urgent');
    expect(deviceHealthSeverity('deviceOffline', false)).toBe('maintenance');
    expect(deviceHealthSeverity('lowBattery', true)).toBe('maintenance');
  });
});

describe('DeviceHealthMonitor: never seen since installation', () => {
  it('a device installed at 10:00 and never heard from is reported at 10:00 the next day with details.neverSeen', () => {
    const { monitor, add, advanceTo, alarms } = setup(at('2026-01-15T10:00'));
    add('pir-9', 'motionSensor', { installedAtMs: at('2026-01-15T10:00') });
    monitor.start();
    advanceTo(at('2026-01-16T10:00') - 1);
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-16T10:00'));
    expect(alarms()).toMatchObject([
      {
        kind: 'deviceOffline',
        eventId: `deviceOffline:pir-9:installed:${at('2026-01-15T10:00')}`,
        reason: 'never seen since installation 24 h ago',
        details: { neverSeen: true, installedAtMs: at('2026-01-15T10:00'), severity: 'maintenance' },
      },
    ]);
  });

  it('a device first heard 23 h after installation is not reported as never seen; its heartbeat runs from then', () => {
    const { monitor, add, advanceTo, alarms } = setup(at('2026-01-15T10:00'));
    add('pir-9', 'motionSensor', { installedAtMs: at('2026-01-15T10:00') });
    monitor.start();
    advanceTo(at('2026-01-16T09:00'));
    monitor.seen('pir-9', at('2026-01-16T09:00'));
    advanceTo(at('2026-01-16T11:59'));
    expect(alarms()).toEqual([]);
    advanceTo(at('2026-01-16T12:00'));
    expect(alarms()).toMatchObject([{ details: { neverSeen: false } }]);
  });
});

describe('DeviceHealthMonitor: battery', () => {
  it('battery 25/19/21/19 raises one lowBattery (≤ 20 %) and no cleared; 30 % clears it', () => {
    const { monitor, add, advanceTo, alarms, cleared } = setup(at('2026-01-15T09:00'));
    add('pir-1', 'motionSensor', { lastSeenMs: at('2026-01-15T09:00') });
    monitor.start();
    const readings: [string, number][] = [
      ['2026-01-15T09:00', 25],
      ['2026-01-15T10:00', 19],
      ['2026-01-15T11:00', 21],
      ['2026-01-15T12:00', 19],
      ['2026-01-15T13:00', 29],
    ];
    for (const [time, pct] of readings) {
      advanceTo(at(time));
      monitor.battery('pir-1', pct, at(time));
    }
    expect(alarms()).toMatchObject([{ kind: 'lowBattery', eventId: `lowBattery:pir-1:${at('2026-01-15T10:00')}`, details: { batteryPct: 19, lowBatteryPct: 20, severity: 'maintenance' } }]);
    expect(cleared()).toEqual([]);
    advanceTo(at('2026-01-15T14:00'));
    monitor.battery('pir-1', 30, at('2026-01-15T14:00'));
    expect(cleared()).toMatchObject([{ kind: 'lowBattery', deviceId: 'pir-1', atMs: at('2026-01-15T14:00') }]);
  });

  it('a low battery reported at 23:00 is held until 08:00; a battery replaced at 01:00 raises nothing', () => {
    const held = setup(at('2026-01-15T23:00'));
    held.add('pir-1', 'motionSensor', { lastSeenMs: at('2026-01-15T23:00') });
    held.monitor.start();
    held.monitor.battery('pir-1', 15, at('2026-01-15T23:00'));
    held.advanceTo(at('2026-01-16T02:00'));
    held.monitor.seen('pir-1', at('2026-01-16T02:00'));
    held.advanceTo(at('2026-01-16T08:00'));
    expect(held.alarms().filter((f) => f.kind === 'lowBattery')).toMatchObject([{ kind: 'lowBattery', eventTs: at('2026-01-15T23:00'), details: { heldUntil: '08:00' } }]);

    const replaced = setup(at('2026-01-15T23:00'));
    replaced.add('pir-1', 'motionSensor', { lastSeenMs: at('2026-01-15T23:00') });
    replaced.monitor.start();
    replaced.monitor.battery('pir-1', 15, at('2026-01-15T23:00'));
    replaced.advanceTo(at('2026-01-16T01:00'));
    replaced.monitor.battery('pir-1', 100, at('2026-01-16T01:00'));
    replaced.advanceTo(at('2026-01-16T03:30'));
    replaced.monitor.seen('pir-1', at('2026-01-16T03:30'));
    replaced.advanceTo(at('2026-01-16T06:00'));
    replaced.monitor.seen('pir-1', at('2026-01-16T06:00'));
    replaced.advanceTo(at('2026-01-16T08:30'));
    expect(replaced.out).toEqual([]);
  });
});

describe('DeviceHealthMonitor: lifecycle', () => {
  it('stop() leaves no timers (heartbeats and the morning release), is idempotent, and start() resumes', () => {
    const { clock, monitor, add, advanceTo, alarms } = setup(at('2026-01-15T22:00'));
    add('pir-1', 'motionSensor', { lastSeenMs: at('2026-01-15T22:00') });
    add('btn-1', 'sosButton', { lastSeenMs: at('2026-01-15T22:00'), isOnlyEmergencyButton: true });
    monitor.start();
    monitor.battery('pir-1', 10, at('2026-01-15T22:00')); // held until 08:00: a release timer
    expect(clock.pendingTimers()).toBe(3);
    monitor.stop();
    monitor.stop();
    expect(clock.pendingTimers()).toBe(0);
    monitor.start();
    expect(clock.pendingTimers()).toBe(3);
    advanceTo(at('2026-01-16T08:00'));
    expect(alarms().map((f) => f.kind).sort()).toEqual(['deviceOffline', 'deviceOffline', 'lowBattery']);
    monitor.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('ignores unknown devices and rejects an unknown time zone with MONITOR_BAD_TIME_ZONE', () => {
    const { monitor } = setup(at('2026-01-15T10:00'));
    expect(monitor.seen('ghost', at('2026-01-15T10:00'))).toBe(false);
    expect(() => monitor.register({ deviceId: 'x', kind: 'hub', subjectId: 'r', timeZone: 'Mars/Olympus', installedAtMs: 0, isOnlyEmergencyButton: false })).toThrow(MonitorConfigError);
  });
});
