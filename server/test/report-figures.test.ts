/**
 * The report's pure parts on fixed values: periods, median and p90 (nearest
 * rank), and whether visits met a frequency by visit-schedule.ts's rule.
 */
import { describe, expect, it } from 'vitest';
import { median, metFrequency, percentile } from '../src/township/reports/figures.js';
import { parsePeriod, periodBounds, periodLabelZh } from '../src/township/reports/period.js';

const HOUR = 3_600_000;
const cst = (iso: string, hour = 0) => Date.parse(`${iso}T00:00:00Z`) - 8 * HOUR + hour * HOUR;
const TZ = 'Asia/Shanghai';

describe('periods', () => {
  it('reads months and quarters, the year end included', () => {
    expect(parsePeriod('2026-02')).toEqual({ code: '2026-02', kind: 'month', from: '2026-02-01', until: '2026-03-01', lastDay: '2026-02-28' });
    expect(parsePeriod('2026-12')).toMatchObject({ until: '2027-01-01', lastDay: '2026-12-31' });
    expect(parsePeriod('2026-Q1')).toMatchObject({ from: '2026-01-01', until: '2026-04-01', lastDay: '2026-03-31' });
    expect(periodLabelZh(parsePeriod('2026-Q4'))).toBe('2026年第四季度');
    expect(periodLabelZh(parsePeriod('2026-11'))).toBe('2026年11月');
    expect(() => parsePeriod('2026-13')).toThrow(/period/);
  });

  it('covers local days in the village’s time zone', () => {
    expect(periodBounds(parsePeriod('2026-11'), TZ)).toEqual({ startMs: cst('2026-11-01'), endMs: cst('2026-12-01') });
    expect(periodBounds(parsePeriod('2026-11'), 'UTC')).toEqual({ startMs: Date.parse('2026-11-01T00:00:00Z'), endMs: Date.parse('2026-12-01T00:00:00Z') });
  });
});

describe('median and 90th percentile', () => {
  it('median: the middle value, or the mean of the two middle ones', () => {
    expect(median([])).toBeNull();
    expect(median([7])).toBe(7);
    expect(median([9, 1, 5])).toBe(5);
    expect(median([10, 1, 3, 5])).toBe(4);
  });

  it('p90 by nearest rank: the ⌈0.9 n⌉-th smallest', () => {
    expect(percentile([], 90)).toBeNull();
    expect(percentile([4], 90)).toBe(4);
    // n = 10: the 9th; n = 11: the 10th.
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentile([11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(10);
  });
});

describe('visits meeting the frequency', () => {
  const week = { timezone: TZ, joinedOn: '2026-10-01', intervalDays: 7, windowStartMs: cst('2026-11-01'), windowEndMs: cst('2026-12-01') };
  it('every visit within 7 days of the one before (the one before the month counts): met', () => {
    expect(metFrequency({ ...week, visits: [cst('2026-10-29', 9), cst('2026-11-05', 23), cst('2026-11-12', 8), cst('2026-11-19'), cst('2026-11-26')] })).toBe(true);
  });

  it('due by the end of the 7th day: a visit the next morning is late', () => {
    expect(metFrequency({ ...week, visits: [cst('2026-10-29', 9), cst('2026-11-06', 1), cst('2026-11-12'), cst('2026-11-19'), cst('2026-11-26')] })).toBe(false);
  });

  it('a deadline passing inside the window with no visit is a miss; one after the window is not', () => {
    // Last visit 11-20: due by the end of 11-27, inside November.
    expect(metFrequency({ ...week, visits: [cst('2026-10-29'), cst('2026-11-05'), cst('2026-11-12'), cst('2026-11-20')] })).toBe(false);
    // Last visit 11-24: due by the end of 12-01, after November.
    expect(metFrequency({ ...week, visits: [cst('2026-10-29'), cst('2026-11-05'), cst('2026-11-12'), cst('2026-11-19'), cst('2026-11-24')] })).toBe(true);
  });

  it('someone already overdue when the period begins missed it', () => {
    expect(metFrequency({ ...week, visits: [cst('2026-10-10'), cst('2026-11-02'), cst('2026-11-08'), cst('2026-11-15'), cst('2026-11-22'), cst('2026-11-29')] })).toBe(false);
  });

  it('never visited: counted from joining', () => {
    expect(metFrequency({ ...week, joinedOn: '2026-11-25', visits: [], windowStartMs: cst('2026-11-25') })).toBe(true);
    expect(metFrequency({ ...week, joinedOn: '2026-11-20', visits: [], windowStartMs: cst('2026-11-20') })).toBe(false);
  });
});
