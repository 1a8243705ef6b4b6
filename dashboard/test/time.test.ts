import { describe, expect, it } from 'vitest';
import { estimateServerOffsetMs, formatAgo, formatClock, formatDate, formatDateTime, formatIn, safeTimeZone } from '../src/time';
import { MIN, T0 } from './fixtures';

const SEC = 1000;
const HOUR = 60 * MIN;

describe('formatting in the village time zone', () => {
  it('shows 02:00 UTC as 10:00 in Asia/Shanghai, whatever the browser zone', () => {
    expect(formatClock(T0, 'Asia/Shanghai', 'zh')).toBe('10:00:00');
    expect(formatDateTime(T0 + 7 * SEC, 'Asia/Shanghai', 'zh')).toBe('1月15日 10:00:07');
    expect(formatDateTime(T0 + 7 * SEC, 'Asia/Shanghai', 'en')).toBe('15 Jan 10:00:07');
    expect(formatDate(T0, 'Asia/Shanghai', 'zh')).toBe('2026年1月15日 周四');
    expect(formatDate(T0, 'Asia/Shanghai', 'en')).toBe('Thu 15 Jan 2026');
  });

  it('rolls the date over at the village midnight, not UTC midnight', () => {
    const utcEvening = Date.UTC(2026, 0, 15, 16, 30, 0); // 00:30 on the 16th in Beijing
    expect(formatDateTime(utcEvening, 'Asia/Shanghai', 'zh')).toBe('1月16日 00:30:00');
    expect(formatDateTime(utcEvening, 'UTC', 'zh')).toBe('1月15日 16:30:00');
  });

  it('falls back to Asia/Shanghai for a missing or unknown zone', () => {
    expect(safeTimeZone('Not/AZone')).toBe('Asia/Shanghai');
    expect(safeTimeZone('')).toBe('Asia/Shanghai');
    expect(safeTimeZone('Asia/Urumqi')).toBe('Asia/Urumqi');
    expect(formatClock(T0, 'Not/AZone', 'en')).toBe('10:00:00');
  });
});

describe('formatAgo', () => {
  it.each([
    [0, '刚刚', 'just now'],
    [-30 * SEC, '刚刚', 'just now'],
    [25 * SEC, '25秒前', '25 s ago'],
    [3 * MIN + 59 * SEC, '3分钟前', '3 min ago'],
    [HOUR + 12 * MIN, '1小时12分钟前', '1 h 12 min ago'],
    [2 * 24 * HOUR + 3 * HOUR + 5 * MIN, '2天3小时前', '2 d 3 h ago'],
  ])('%i ms ago reads %s / %s', (ms, zh, en) => {
    expect(formatAgo(T0 + ms, T0, 'zh')).toBe(zh);
    expect(formatAgo(T0 + ms, T0, 'en')).toBe(en);
  });
});

describe('formatIn', () => {
  it('counts down to the next escalation, minutes rounded up', () => {
    expect(formatIn(T0, T0 + 40 * SEC, 'zh')).toBe('40秒后');
    expect(formatIn(T0, T0 + 4 * MIN + 1 * SEC, 'zh')).toBe('5分钟后');
    expect(formatIn(T0, T0 + 5 * MIN, 'en')).toBe('in 5 min');
    expect(formatIn(T0, T0 + 65 * MIN, 'zh')).toBe('1小时5分钟后');
  });

  it('is null once the time has come', () => {
    expect(formatIn(T0, T0, 'zh')).toBeNull();
    expect(formatIn(T0, T0 - MIN, 'en')).toBeNull();
  });
});

describe('estimateServerOffsetMs', () => {
  it('finds a PC clock that is 3 years slow', () => {
    const browserNow = Date.UTC(2023, 0, 15, 2, 0, 0);
    const offset = estimateServerOffsetMs(new Date(T0).toUTCString(), browserNow, browserNow + 200);
    expect(Math.abs(offset - (T0 - browserNow))).toBeLessThan(SEC);
  });

  it('is 0 within the header resolution, and without a usable header', () => {
    expect(estimateServerOffsetMs(new Date(T0).toUTCString(), T0 + 300, T0 + 500)).toBe(0);
    expect(estimateServerOffsetMs(null, T0, T0)).toBe(0);
    expect(estimateServerOffsetMs('garbage', T0, T0)).toBe(0);
  });
});
