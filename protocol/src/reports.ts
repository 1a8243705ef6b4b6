/**
 * The township's reports (docs/reports.md): monthly (`2026-11`) and quarterly
 * (`2026-Q4`) figures per village and for the township, as the REST API
 * answers them (GET /api/reports) and the dashboard's report page shows them.
 */
import { z } from 'zod';
import { ALARM_KINDS } from './alarms.js';

/** A month (`2026-11`) or a quarter (`2026-Q4`). */
export const PERIOD_PATTERN = /^(\d{4})-(?:(0[1-9]|1[0-2])|Q([1-4]))$/;

export const ReportPeriodCode = z
  .string()
  .trim()
  .regex(PERIOD_PATTERN, { error: 'period: a month like 2026-11 or a quarter like 2026-Q4' })
  .refine((p) => Number(p.slice(0, 4)) >= 2000 && Number(p.slice(0, 4)) <= 2100, { error: 'period: the year must be between 2000 and 2100' });

export const ReportQuery = z
  .object({
    period: ReportPeriodCode,
    villageId: z.string().min(1).max(64).optional(),
  })
  .strict();
export type ReportQuery = z.infer<typeof ReportQuery>;

export const ReportPeriod = z.object({
  code: z.string(),
  kind: z.enum(['month', 'quarter']),
  /** The first local day of the period, YYYY-MM-DD. */
  from: z.string(),
  /** The day after the last local day (exclusive), YYYY-MM-DD. */
  until: z.string(),
  /** The last local day, YYYY-MM-DD (for titles). */
  lastDay: z.string(),
});
export type ReportPeriod = z.infer<typeof ReportPeriod>;

const Count = z.number().int().nonnegative();
/** A share in [0, 1]; null when there is nothing to divide by. */
const Share = z.number().min(0).max(1).nullable();

/** Durations in ms over the cases that reached the step; null when none did. */
export const DurationStats = z.object({ count: Count, medianMs: z.number().nullable(), p90Ms: z.number().nullable() });
export type DurationStats = z.infer<typeof DurationStats>;

export const REPORT_DEVICE_PROBLEMS = ['offline', 'lowBattery', 'neverSeen'] as const;
export const ReportDeviceProblem = z.enum(REPORT_DEVICE_PROBLEMS);
export type ReportDeviceProblem = z.infer<typeof ReportDeviceProblem>;

export const DeviceProblemLine = z.object({
  deviceId: z.string(),
  kind: z.string(),
  label: z.string().nullable(),
  address: z.string(),
  residentName: z.string().nullable(),
  /** Not working at the period's end (or now, for the current period), and why. */
  atEnd: z.array(ReportDeviceProblem),
  /** Alarms raised about it during the period (device offline, low battery). */
  duringPeriod: z.object({ deviceOffline: Count, lowBattery: Count }),
});
export type DeviceProblemLine = z.infer<typeof DeviceProblemLine>;

export const ReportFigures = z.object({
  people: z.object({
    /** In the registry at some time during the period. */
    total: Count,
    byCategory: z.record(z.string(), Count),
    byCareLevel: z.record(z.string(), Count),
    joined: Count,
    left: Count,
    leftByReason: z.record(z.string(), Count),
  }),
  alarms: z.object({
    /** Cases opened during the period. */
    total: Count,
    byKind: z.partialRecord(z.enum(ALARM_KINDS), Count),
    /** Opened → taken, over the cases that were taken. */
    timeToTake: DurationStats,
    /** Opened → on site, over the cases someone reached. */
    timeToSite: DurationStats,
    /** Closed cases among those opened in the period. */
    closed: Count,
    /** False alarms among them: cancelled, or resolved with the outcome falseAlarm. */
    falseAlarms: Count,
    falseShare: Share,
    /** Resolved without an outcome said (an API client, or before outcomes were recorded): counted as real. */
    unclassified: Count,
  }),
  visits: z.object({
    /** Visits recorded in the period. */
    count: Count,
    /** People whose schedule had at least one day in the period. */
    people: Count,
    compliant: Count,
    share: Share,
  }),
  devices: z.object({
    total: Count,
    notWorkingAtEnd: Count,
    atEndByProblem: z.record(ReportDeviceProblem, Count),
    /** Devices with a device-offline or low-battery alarm during the period. */
    troubledDuring: Count,
    lines: z.array(DeviceProblemLine),
  }),
});
export type ReportFigures = z.infer<typeof ReportFigures>;

export const VillageReport = z.object({ villageId: z.string(), villageName: z.string(), township: z.string().nullable(), timezone: z.string(), figures: ReportFigures });
export type VillageReport = z.infer<typeof VillageReport>;

export const TownshipReport = z.object({
  period: ReportPeriod,
  /** The township's name (or the names, joined, for an admin over several); the title of every page. */
  title: z.string(),
  /** When the figures were computed (ms). */
  generatedAt: z.number(),
  /** True when the period has not ended yet: the figures so far. */
  partial: z.boolean(),
  villages: z.array(VillageReport),
  /** Every village in `villages` together. */
  total: ReportFigures,
});
export type TownshipReport = z.infer<typeof TownshipReport>;
