/**
 * The evening visit reminders as the dashboard sees them (issue 11,
 * docs/township.md "The visit reminder"): GET /api/visits/reminders?date=…
 * answers whether the reminder is on, the reminders of a due date in the
 * asker's scope, their outcome and, for a failure, why in words the township
 * office can act on (phone the helper whose number is bad).
 */
import { z } from 'zod';
import { EpochMs } from './mqtt.js';
import { LocalDate } from './township.js';

export const VISIT_REMINDER_STATUSES = ['pending', 'sent', 'failed', 'expired'] as const;
export const VisitReminderStatus = z.enum(VISIT_REMINDER_STATUSES);
export type VisitReminderStatus = z.infer<typeof VisitReminderStatus>;

/**
 * Why a reminder did not go, from the provider's code (server/src/township/reminder-reasons.ts):
 * - `badNumber`: the provider refuses the helper's number (Aliyun isv.MOBILE_NUMBER_ILLEGAL, Twilio 21211);
 * - `flowControl`: the provider's limit of SMS to this number (isv.BUSINESS_LIMIT_CONTROL);
 * - `account`: the SMS account (credit, key, sign name, template): every SMS fails the same way;
 * - `unreachable`: the provider could not be reached or answered nothing readable;
 * - `refused`: the provider refused this message for another reason (its words, its variables).
 */
export const REMINDER_FAILURE_REASONS = ['badNumber', 'flowControl', 'account', 'unreachable', 'refused'] as const;
export const ReminderFailureReason = z.enum(REMINDER_FAILURE_REASONS);
export type ReminderFailureReason = z.infer<typeof ReminderFailureReason>;

/** Why the reminder is off: the hour is not set, or the SMS sender has no template for it (Aliyun without KANJIA_ALIYUN_TEMPLATE_VISIT_REMINDER). */
export const ReminderOffReason = z.enum(['notSet', 'noTemplate']);
export type ReminderOffReason = z.infer<typeof ReminderOffReason>;

export const VisitRemindersQuery = z
  .object({
    /** The due date (YYYY-MM-DD) the reminders are for; absent: tomorrow in the time zone of the asker's first village. */
    date: LocalDate.optional(),
  })
  .strict();
export type VisitRemindersQuery = z.infer<typeof VisitRemindersQuery>;

export const VisitReminderView = z.object({
  id: z.string(),
  helperName: z.string(),
  /** The number texted, 138****5678 for roles that do not see numbers. */
  phone: z.string(),
  phoneMasked: z.boolean(),
  /** The people the reminder lists, only those in the asker's scope. */
  residents: z.array(z.object({ id: z.string(), name: z.string(), villageId: z.string(), villageName: z.string() })),
  status: VisitReminderStatus,
  attempts: z.number().int().nonnegative(),
  /** When the provider took it; null until sent. */
  sentAt: EpochMs.nullable(),
  /** When a pending one is tried (again); null when it is not waiting. */
  nextAttemptAt: EpochMs.nullable(),
  /** The provider's code of the last failure (kept after a retry went through), e.g. isv.MOBILE_NUMBER_ILLEGAL. */
  code: z.string().nullable(),
  /** The provider's words for it (no number in clear). */
  error: z.string().nullable(),
  /** Why it did not go, for a failed reminder or a pending one waiting after a failure; null otherwise. */
  reason: ReminderFailureReason.nullable(),
  /** The village time zone of its people: its times are shown there. */
  timezone: z.string(),
});
export type VisitReminderView = z.infer<typeof VisitReminderView>;

export const VisitRemindersAnswer = z.object({
  /** The due date asked for. */
  date: z.string(),
  /** The time zone the default date was taken in (the asker's first village). */
  timezone: z.string(),
  /** Whether reminders are sent at all (KANJIA_VISIT_REMINDER_HOUR set and the SMS sender able to send them). */
  enabled: z.boolean(),
  /** The village-local hour they are sent at, the evening before; null when off. */
  hour: z.number().int().min(0).max(23).nullable(),
  /** Why it is off; null when on. */
  off: ReminderOffReason.nullable(),
  counts: z.object({ pending: z.number().int(), sent: z.number().int(), failed: z.number().int(), expired: z.number().int() }),
  /** The failed first, then pending, sent, expired; by helper name within each. */
  reminders: z.array(VisitReminderView),
});
export type VisitRemindersAnswer = z.infer<typeof VisitRemindersAnswer>;
