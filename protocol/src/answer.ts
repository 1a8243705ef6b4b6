/**
 * The helper's answer page (`/a/<code>`): the link in every alarm SMS opens
 * the case it was sent about, for the one contact it was sent to; the link of
 * an SMS that named several cases (a bundle) opens each of them, each acted on
 * as that case's own link would. The code in the URL is the credential, so the
 * page shows only what a helper on the way needs, with no phone numbers, ID
 * numbers or health data.
 */
import { z } from 'zod';
import { AlarmKind, AlarmOutcome, AlarmStatus, ContactRole, Severity } from './alarms.js';
import { EpochMs } from './mqtt.js';
import { ApiError, ApiErrorAnswer, type CatalogCodes } from './errors.js';

/** Letters of an answer code: Crockford base32 in lower case (no i, l, o, u to misread). */
export const ANSWER_CODE_ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
/** 12 characters of 5 bits = 60 random bits: guessing one among a village's live codes is hopeless at any request rate. */
export const ANSWER_CODE_LENGTH = 12;
const ANSWER_CODE_PATTERN = /^[0-9abcdefghjkmnpqrstvwxyz]{12}$/;

/** An answer code as it appears in the link; upper case (a phone that capitalised it) is accepted and folded. */
export const AnswerCode = z
  .string()
  .trim()
  .toLowerCase()
  .regex(ANSWER_CODE_PATTERN, 'the link is not complete: it ends with 12 letters and digits');

export const AnswerCodeParams = z.object({ code: AnswerCode }).strict();
export type AnswerCodeParams = z.infer<typeof AnswerCodeParams>;

/**
 * `GET /api/answer/<code>?case=<alarmId>`: which case of a bundled SMS to show.
 * Without it, the first case of the SMS still open.
 */
export const AnswerCaseQuery = z.object({ case: z.string().min(1).max(64).optional() }).strict();
export type AnswerCaseQuery = z.infer<typeof AnswerCaseQuery>;

/** Another case the same SMS named (a bundle): what the page needs to list it and let the helper open it. */
export const AnswerOtherCase = z.object({
  alarmId: z.string(),
  kind: AlarmKind,
  severity: Severity,
  status: AlarmStatus,
  openedAt: EpochMs,
  resident: z.object({ name: z.string() }),
  village: z.object({ name: z.string(), timezone: z.string() }),
});
export type AnswerOtherCase = z.infer<typeof AnswerOtherCase>;

/** The case as the answer page shows it. */
export const AnswerView = z.object({
  alarmId: z.string(),
  kind: AlarmKind,
  severity: Severity,
  status: AlarmStatus,
  openedAt: EpochMs,
  /** The phrase of the figures that opened the case (e.g. 浓度320ppm), in both languages of the page. */
  detail: z.object({ 'zh-CN': z.string(), en: z.string() }),
  resident: z.object({ name: z.string(), sex: z.enum(['F', 'M']).nullable(), age: z.number().int().nullable() }),
  household: z.object({ address: z.string(), keyHolderNote: z.string().nullable() }),
  village: z.object({ name: z.string(), timezone: z.string() }),
  /** Whom this link was sent to; actions from the page are recorded as them. */
  you: z.object({ name: z.string(), role: ContactRole, actor: z.string() }),
  /** Who took the case ("帮扶责任人 刘建军", "值班员 李明"); null while nobody has. */
  takenBy: z.string().nullable(),
  takenAt: EpochMs.nullable(),
  resolutionNote: z.string().nullable(),
  /** When the link stops working for this case (it also stops when the case closes). */
  expiresAt: EpochMs,
  /**
   * The other cases the same SMS named, critical first, then the oldest; each
   * opened with `?case=` and acted on with its own grant. Empty for an SMS of one case.
   */
  otherCases: z.array(AnswerOtherCase),
});
export type AnswerView = z.infer<typeof AnswerView>;

/**
 * A step from the page. `alarmId` is the case the page shows: a code names
 * the cases of its SMS, and a step about another is answered 404 as if it did
 * not exist. There is no `by`: the actor is the contact that case's notice was
 * sent to.
 */
export const AnswerStepBody = z.object({ alarmId: z.string().min(1).max(64), note: z.string().trim().max(2000).optional() }).strict();
export type AnswerStepBody = z.infer<typeof AnswerStepBody>;

export const AnswerResolveBody = z
  .object({
    alarmId: z.string().min(1).max(64),
    note: z.string().trim().min(1, 'note: describe what happened before closing the case').max(2000),
    /** How it ended (real, or a false alarm): the page always asks it; optional for an older page still open on a phone. */
    outcome: AlarmOutcome.optional(),
  })
  .strict();
export type AnswerResolveBody = z.infer<typeof AnswerResolveBody>;

/** The steps of the page, as the last segment of `POST /api/answer/<code>/<step>`. */
export const ANSWER_STEPS = ['take', 'on-the-way', 'on-site', 'resolve'] as const;
export type AnswerStep = (typeof ANSWER_STEPS)[number];

/**
 * Stable codes of the page's errors: unknown (mistyped or never issued),
 * expired (the case closed or 24 hours passed), too many requests.
 */
export const ANSWER_ERROR_CODES = ['ANSWER_CODE_UNKNOWN', 'ANSWER_CODE_EXPIRED', 'RATE_LIMITED'] as const satisfies readonly CatalogCodes<'ANSWER_CODE_UNKNOWN' | 'ANSWER_CODE_EXPIRED' | 'RATE_LIMITED'>[];

const ANSWER_ERROR_EXTRA = {
  /** ANSWER_CODE_EXPIRED: the case was closed, or the link is older than 24 hours. */
  reason: z.enum(['closed', 'timeout']).optional(),
  /** RATE_LIMITED: seconds until a request is accepted again. */
  retryAfterSeconds: z.number().int().positive().optional(),
};

/** Error body of the answer API: ApiError's code and sentence, with why a link expired and when to retry. */
export const AnswerError = ApiError.extend(ANSWER_ERROR_EXTRA);
/** AnswerError as the page reads it: any code, so a newer server's code still shows (see ApiErrorAnswer). */
export const AnswerErrorAnswer = ApiErrorAnswer.extend(ANSWER_ERROR_EXTRA);
export type AnswerErrorAnswer = z.infer<typeof AnswerErrorAnswer>;
export type AnswerError = z.infer<typeof AnswerError>;
