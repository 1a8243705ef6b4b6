import { describe, expect, it } from 'vitest';
import { FakeClock } from '@kanjia/protocol';
import { SystemHealth } from '../src/system-health.js';

function capture() {
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  const at = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj, msg: msg ?? '' });
  return { lines, logger: { error: at('error'), warn: at('warn'), info: at('info') } };
}

describe('SystemHealth', () => {
  it('keeps the first time a problem was raised, logs it once, tells listeners of every change and lists the critical first', () => {
    const clock = new FakeClock(1_000);
    const { lines, logger } = capture();
    const health = new SystemHealth(clock, logger);
    const seen: string[][] = [];
    health.onChange((list) => seen.push(list.map((p) => p.code)));
    health.raise({ code: 'SLOW_DISK', severity: 'warning', unhealthy: false, message: 'slow' });
    clock.advance(5_000);
    health.raise({ code: 'SMS_PROVIDER_OUTAGE', severity: 'critical', unhealthy: false, message: 'refused', details: { reason: 'isv.AMOUNT_NOT_ENOUGH' } });
    clock.advance(5_000);
    // The same again: nothing new to tell; a new reason: listeners hear it, since stays.
    health.raise({ code: 'SMS_PROVIDER_OUTAGE', severity: 'critical', unhealthy: false, message: 'refused', details: { reason: 'isv.AMOUNT_NOT_ENOUGH' } });
    health.raise({ code: 'SMS_PROVIDER_OUTAGE', severity: 'critical', unhealthy: false, message: 'refused', details: { reason: 'SMS_NETWORK_ERROR' } });
    expect(health.problems().map((p) => [p.code, p.since])).toEqual([
      ['SMS_PROVIDER_OUTAGE', 6_000],
      ['SLOW_DISK', 1_000],
    ]);
    expect(seen).toEqual([['SLOW_DISK'], ['SMS_PROVIDER_OUTAGE', 'SLOW_DISK'], ['SMS_PROVIDER_OUTAGE', 'SLOW_DISK']]);
    expect(health.unhealthy()).toBe(false);
    expect(lines.filter((l) => l.msg.startsWith('system problem:')).map((l) => l.level)).toEqual(['warn', 'error']);
    health.clear('SMS_PROVIDER_OUTAGE');
    health.clear('SMS_PROVIDER_OUTAGE');
    expect(lines.filter((l) => l.msg === 'system problem over')).toEqual([{ level: 'info', obj: { problem: 'SMS_PROVIDER_OUTAGE', lastedMs: 5_000 }, msg: 'system problem over' }]);
    expect(seen).toHaveLength(4);
  });

  it('is unhealthy while any raised problem says so', () => {
    const { logger } = capture();
    const health = new SystemHealth(new FakeClock(0), logger);
    health.raise({ code: 'STORAGE_WRITE_FAILED', severity: 'critical', unhealthy: true, message: 'disk full' });
    expect(health.unhealthy()).toBe(true);
    health.clear('STORAGE_WRITE_FAILED');
    expect(health.unhealthy()).toBe(false);
  });
});
