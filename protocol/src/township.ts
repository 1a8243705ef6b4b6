/**
 * The township's work on the registry (docs/township.md): the person record
 * (一人一档) with the policies' categories and care levels, the ID number check
 * (GB 11643-1999), the history of every change, leaving the registry, and
 * visits (探访) with the next one due. Codes are stable English words; the
 * Chinese (and English) labels live here only, for the dashboard, the
 * spreadsheets and the reports alike.
 *
 * Browser-safe: imports only zod and the protocol's own modules.
 */
import { z } from 'zod';
import { EpochMs } from './mqtt.js';

// --- ID numbers (居民身份证号码, GB 11643-1999) ---------------------------------------

/** GB 11643-1999 §8.2: the weight of each of the first 17 digits (2^(18-i) mod 11). */
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
/** The check character for (weighted sum mod 11) = 0, 1, … 10. */
const ID_CHECK_CODES = '10X98765432';

/** The check character (0-9 or X) of the first 17 digits of an ID number. */
export function idNumberCheckDigit(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * (ID_WEIGHTS[i] ?? 0);
  return ID_CHECK_CODES[sum % 11] as string;
}

/** What an ID number says about its holder. */
export interface IdNumberFacts {
  /** YYYY-MM-DD */
  birthDate: string;
  birthYear: number;
  /** From the 17th digit: odd = male, even = female. */
  sex: 'F' | 'M';
}

/** The facts inside a well-formed 18-character ID number (no check of the check digit). */
export function idNumberFacts(id: string): IdNumberFacts {
  const birthDate = `${id.slice(6, 10)}-${id.slice(10, 12)}-${id.slice(12, 14)}`;
  return { birthDate, birthYear: Number(id.slice(6, 10)), sex: Number(id[16]) % 2 === 1 ? 'M' : 'F' };
}

/**
 * Why an ID number is not valid, or undefined when it is: 18 characters, the
 * birth date inside a real date not after `todayIso`, the check digit right.
 */
export function idNumberProblem(raw: string, todayIso: string): string | undefined {
  const id = raw.trim().toUpperCase();
  if (!/^\d{17}[\dX]$/.test(id)) return 'idNumber: 18 characters, 17 digits and a digit or X';
  const { birthDate } = idNumberFacts(id);
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const date = new Date(Date.UTC(y, m - 1, d));
  if (y < 1850 || date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) {
    return `idNumber: digits 7 to 14 must be a real birth date (YYYYMMDD); ${id.slice(6, 14)} is not one`;
  }
  if (birthDate > todayIso) return `idNumber: the birth date inside it, ${birthDate}, is in the future`;
  const expected = idNumberCheckDigit(id.slice(0, 17));
  if (id[17] !== expected) return `idNumber: the last character (the check digit) should be ${expected}, not ${id[17]}: check the number for a typing mistake`;
  return undefined;
}

/** A mismatch between the given sex and the ID number's 17th digit, as a message; undefined when they agree. */
export function idNumberSexProblem(id: string, sex: 'F' | 'M'): string | undefined {
  const fromId = idNumberFacts(id.trim().toUpperCase()).sex;
  if (fromId === sex) return undefined;
  const word = (s: 'F' | 'M') => (s === 'M' ? '男 (M)' : '女 (F)');
  return `sex: the ID number says ${word(fromId)} (its 17th digit, ${id.trim()[16]}, is ${fromId === 'M' ? 'odd' : 'even'}), but the record says ${word(sex)}: correct one of them`;
}

/**
 * Today's date for "not in the future": in UTC+14, the first calendar in the
 * world to reach a date, so no real birth date is ever refused.
 */
export function latestTodayIso(nowMs: number): string {
  return new Date(nowMs + 14 * 3_600_000).toISOString().slice(0, 10);
}

/** An ID number (身份证号), checked as GB 11643-1999 says; upper-cases a final x. */
export const CheckedIdNumber = z
  .string()
  .trim()
  .transform((s) => s.toUpperCase())
  .superRefine((id, ctx) => {
    // The wall clock: a schema at the boundary has no injected clock, and a day either way cannot matter for a birth date.
    const problem = idNumberProblem(id, latestTodayIso(Date.now()));
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Age in whole years on `todayIso` (YYYY-MM-DD): from the ID number's birth date, else from the birth year. */
export function ageOn(todayIso: string, person: { idNumber?: string | null; birthYear?: number | null }): number | null {
  const year = Number(todayIso.slice(0, 4));
  if (person.idNumber && /^\d{17}[\dX]$/i.test(person.idNumber)) {
    const birth = idNumberFacts(person.idNumber).birthDate;
    return year - Number(birth.slice(0, 4)) - (todayIso.slice(5) < birth.slice(5) ? 1 : 0);
  }
  return person.birthYear == null ? null : year - person.birthYear;
}

// --- categories, care levels, living situations, leaving --------------------------

/** A code with its labels, in the order the policies list them. */
export interface Labelled<C extends string> {
  code: C;
  zh: string;
  en: string;
}

/** A zod enum of the codes of `list`, refused with "field: one of code (中文), …" (`joiner` ' or ' for two). */
function labelledEnum<C extends string>(list: readonly Labelled<C>[], field: string, joiner = ', ') {
  const codes = list.map((c) => c.code) as [C, ...C[]];
  const choices = list.map((c) => `${c.code} (${c.zh})`).join(joiner);
  return z.enum(codes, { error: () => `${field}: ${list.length > 2 ? 'one of ' : ''}${choices}` });
}

/** 人员类别: the categories exactly as the policies name them. */
export const PERSON_CATEGORIES = [
  { code: 'dispersedSupport', zh: '分散供养特困人员', en: 'people in extreme poverty under dispersed state support' },
  { code: 'severeDisability', zh: '一、二级重度残疾人（无有能力赡养人）', en: 'grade 1 or 2 severely disabled, with no capable supporter' },
  { code: 'minimumLiving', zh: '低保对象（无有能力赡养人）', en: 'minimum living allowance (dibao), with no capable supporter' },
  { code: 'povertyMonitored', zh: '易返贫致贫户（监测户）', en: 'household at risk of (re)falling into poverty (monitored)' },
  { code: 'leftBehindOrAlone', zh: '留守老人 / 独居老人（需帮扶）', en: 'left-behind or solitary elderly needing help' },
  { code: 'other', zh: '其他', en: 'other' },
] as const satisfies readonly Labelled<string>[];
export const PersonCategory = labelledEnum<PersonCategoryCode>(PERSON_CATEGORIES, 'category');
export type PersonCategoryCode = (typeof PERSON_CATEGORIES)[number]['code'];

/**
 * The category a Chinese (or English) text names: the code itself, the
 * policy's label, or the short names used in practice (特困, 残疾, 低保,
 * 监测, 留守, 独居). Undefined when it names none (the caller says so).
 */
export function categoryFromText(text: string): PersonCategoryCode | undefined {
  const t = text.trim().replace(/\s+/g, '');
  if (t === '') return undefined;
  const exact = PERSON_CATEGORIES.find((c) => c.code === t || c.zh.replace(/\s+/g, '') === t || c.en.replace(/\s+/g, '') === t);
  if (exact) return exact.code;
  if (/特困|分散供养|五保/.test(t)) return 'dispersedSupport';
  if (/残疾/.test(t)) return 'severeDisability';
  if (/低保/.test(t)) return 'minimumLiving';
  if (/返贫|致贫|监测/.test(t)) return 'povertyMonitored';
  if (/留守|独居|空巢/.test(t)) return 'leftBehindOrAlone';
  if (/^其他|^其它/.test(t)) return 'other';
  return undefined;
}

/** A category in a body: its code, or a text that names one (categoryFromText). */
export const PersonCategoryInput = z
  .string()
  .trim()
  .transform((s, ctx) => {
    const code = categoryFromText(s);
    if (code === undefined) {
      ctx.addIssue({ code: 'custom', message: `category: one of ${PERSON_CATEGORIES.map((c) => `${c.code} (${c.zh})`).join(', ')}` });
      return z.NEVER;
    }
    return code;
  });

/** 帮扶等级: sets how often the person is visited. */
export const CARE_LEVELS = [
  { code: 'ordinary', zh: '一般', en: 'ordinary' },
  { code: 'especiallyDifficult', zh: '特别困难', en: 'especially difficult' },
] as const satisfies readonly Labelled<string>[];
export type CareLevelCode = (typeof CARE_LEVELS)[number]['code'];
export const CareLevel = labelledEnum<CareLevelCode>(CARE_LEVELS, 'careLevel', ' or ');

/** 居住情况 */
export const LIVING_SITUATIONS = [
  { code: 'alone', zh: '独居', en: 'lives alone' },
  { code: 'withSpouse', zh: '与配偶同住', en: 'with spouse' },
  { code: 'leftBehind', zh: '留守（子女外出）', en: 'left behind (children away)' },
  { code: 'withChildren', zh: '与子女同住', en: 'with children' },
  { code: 'withRelatives', zh: '与其他亲属同住', en: 'with other relatives' },
  { code: 'other', zh: '其他', en: 'other' },
] as const satisfies readonly Labelled<string>[];
export type LivingSituationCode = (typeof LIVING_SITUATIONS)[number]['code'];
export const LivingSituation = labelledEnum<LivingSituationCode>(LIVING_SITUATIONS, 'livingSituation');

/** Why a person left the registry (离册原因). */
export const LEAVE_REASONS = [
  { code: 'movedToChildren', zh: '随子女生活', en: 'moved to live with children' },
  { code: 'careHome', zh: '入住养老机构', en: 'moved into a care home' },
  { code: 'died', zh: '去世', en: 'died' },
  { code: 'movedAway', zh: '迁出', en: 'moved away' },
  { code: 'other', zh: '其他', en: 'other' },
] as const satisfies readonly Labelled<string>[];
export type LeaveReasonCode = (typeof LEAVE_REASONS)[number]['code'];
export const LeaveReason = labelledEnum<LeaveReasonCode>(LEAVE_REASONS, 'reason');

/** The label of a code in `list` for `locale` ('zh' by default); the code itself when unknown. */
export function labelOf<C extends string>(list: readonly Labelled<C>[], code: C | null | undefined, locale: 'zh' | 'en' = 'zh'): string {
  if (code == null) return '';
  return list.find((x) => x.code === code)?.[locale] ?? code;
}

/** A local calendar date, YYYY-MM-DD, that exists. */
export const LocalDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD, such as 2026-12-01')
  .refine((s) => {
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  }, 'not a real date (YYYY-MM-DD)');

// --- the person record's extra fields (in ResidentInput, registry.ts) ------------------

const Text = (max: number) => z.string().trim().max(max);

/** What the person record adds to a resident (ResidentInput); all optional on create. */
export const PersonRecordFields = {
  careLevel: CareLevel,
  livingSituation: LivingSituation,
  /** 帮扶措施: what is being done for the person. */
  measures: Text(2000),
  /** 备注 */
  notes: Text(2000),
  /** 监护人 */
  guardianName: Text(64).min(1),
  /** The guardian's place of work (监护人工作单位 / 务工地点). */
  guardianWorkplace: Text(200),
  /** Joined the registry on (local date); default: the day the record was created. */
  joinedOn: LocalDate,
} as const;

// --- leaving and restoring --------------------------------------------------------

export const LeaveBody = z
  .object({
    reason: LeaveReason,
    /** The day they left (local date), not after today. */
    date: LocalDate,
    /** Required for `other`. */
    note: Text(500).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.reason === 'other' && !b.note) ctx.addIssue({ code: 'custom', path: ['note'], message: 'note: say why the person left when the reason is other (其他)' });
  });
export type LeaveBody = z.infer<typeof LeaveBody>;

export const RestoreBody = z.object({ note: Text(500).optional() }).strict();
export type RestoreBody = z.infer<typeof RestoreBody>;

/** Where the person stands in the registry. */
export const LeftInfo = z.object({ date: z.string(), reason: LeaveReason, note: z.string().nullable(), recordedAt: EpochMs, by: z.string() });
export type LeftInfo = z.infer<typeof LeftInfo>;

// --- the registry list ------------------------------------------------------------

export const REGISTRY_STATUSES = ['active', 'left', 'all'] as const;
export const RegistryListQuery = z
  .object({
    /** Part of a name, an ID number (at least 4 characters) or a phone number (at least 4 digits). */
    q: z.string().trim().min(1).max(64).optional(),
    villageId: z.string().min(1).max(64).optional(),
    category: PersonCategory.optional(),
    careLevel: CareLevel.optional(),
    /** active (the default): in the registry; left: those who left; all. */
    status: z.enum(REGISTRY_STATUSES).default('active'),
    /** Only the people whose next visit is overdue. */
    overdue: z.enum(['true', 'false']).transform((s) => s === 'true').optional(),
    page: z.coerce.number().int().min(1).default(1),
    pageSize: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();
export type RegistryListQuery = z.infer<typeof RegistryListQuery>;

/** When the next visit is due, and why. */
export const VisitDue = z.object({
  /** The deadline: the end of `date` in the village's time, or 24 hours after the alarm for a follow-up. */
  dueAt: EpochMs,
  /** The deadline's local date, YYYY-MM-DD. */
  date: z.string(),
  /** regular: the care level's frequency; followUp: a resolved alarm asks for a visit within 24 hours. */
  reason: z.enum(['regular', 'followUp']),
  /** For a follow-up: the alarm case it follows. */
  alarmId: z.string().nullable(),
  overdue: z.boolean(),
  /** Whole days past the deadline; 0 when not overdue. */
  daysOverdue: z.number().int().nonnegative(),
});
export type VisitDue = z.infer<typeof VisitDue>;

/** A "1+N" helper: a contact of role helper, with their post (职务). */
export const HelperView = z.object({ contactId: z.string(), name: z.string(), post: z.string().nullable(), phone: z.string(), phoneMasked: z.boolean() });
export type HelperView = z.infer<typeof HelperView>;

/** One line of the registry list (台账). */
export const PersonSummary = z.object({
  id: z.string(),
  name: z.string(),
  sex: z.enum(['F', 'M']).nullable(),
  age: z.number().int().nullable(),
  idNumber: z.string().nullable(),
  idNumberMasked: z.boolean(),
  phone: z.string().nullable(),
  phoneMasked: z.boolean(),
  category: PersonCategory.nullable(),
  careLevel: CareLevel,
  villageId: z.string(),
  villageName: z.string(),
  householdId: z.string(),
  address: z.string(),
  helpers: z.array(HelperView),
  joinedOn: z.string(),
  left: LeftInfo.nullable(),
  lastVisitAt: EpochMs.nullable(),
  /** null for a person who left. */
  nextVisit: VisitDue.nullable(),
});
export type PersonSummary = z.infer<typeof PersonSummary>;

export const RegistryPage = z.object({
  people: z.array(PersonSummary),
  page: z.number().int(),
  pageSize: z.number().int(),
  total: z.number().int(),
});
export type RegistryPage = z.infer<typeof RegistryPage>;

/** The whole person record (一人一档). */
export const PersonRecord = PersonSummary.extend({
  birthYear: z.number().int().nullable(),
  /** From the ID number, when there is one. */
  birthDate: z.string().nullable(),
  livingSituation: LivingSituation.nullable(),
  measures: z.string().nullable(),
  notes: z.string().nullable(),
  medicalNotes: z.string().nullable(),
  conditions: z.array(z.string()),
  medicationNotes: z.string().nullable(),
  guardian: z.object({ name: z.string().nullable(), workplace: z.string().nullable(), phone: z.string().nullable() }),
  visitFrequency: z.object({ count: z.number().int(), per: z.enum(['week', 'month']), intervalDays: z.number().int() }),
  canEdit: z.boolean(),
  /** May change the ID number (admin, township: the roles that see it in clear). */
  canEditIdNumber: z.boolean(),
  /** May change the chain: the helpers and their posts (admin, township). */
  canEditChain: z.boolean(),
  canVisit: z.boolean(),
  /** The village's IANA time zone: the pages show the record's times and dates in it, whatever the browser's. */
  timezone: z.string(),
});
export type PersonRecord = z.infer<typeof PersonRecord>;

// --- the history of a person record -----------------------------------------------

export const HISTORY_ACTIONS = ['created', 'updated', 'contacts', 'left', 'restored'] as const;
export const HistoryChange = z.object({
  field: z.string(),
  /** Masked (430524********1234, 138****5678) for roles that may not see the value. */
  old: z.string().nullable(),
  new: z.string().nullable(),
});
export type HistoryChange = z.infer<typeof HistoryChange>;
export const HistoryEntry = z.object({
  id: z.number().int(),
  at: EpochMs,
  /** The user's display name (值班员 李明), or the command line. */
  by: z.string(),
  action: z.enum(HISTORY_ACTIONS),
  changes: z.array(HistoryChange),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;
export const HistoryQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100) }).strict();

// --- visits (探访) ----------------------------------------------------------------

export const VISIT_MODES = ['inPerson', 'phone'] as const;
export const VisitMode = z.enum(VISIT_MODES, { error: () => 'mode: inPerson (上门) or phone (电话)' });
/** 好 / 一般 / 差 */
export const RATINGS = ['good', 'fair', 'poor'] as const;
const Rating = (field: string) => z.enum(RATINGS, { error: () => `${field}: good (好), fair (一般) or poor (差)` });

/** One point of the home's safety check: ok, or a problem with what it is. */
const SafetyPoint = (field: string) =>
  z
    .object({ status: z.enum(['ok', 'problem'], { error: () => `${field}.status: ok or problem` }), note: Text(500).optional() })
    .strict()
    .superRefine((p, ctx) => {
      if (p.status === 'problem' && !p.note) ctx.addIssue({ code: 'custom', path: ['note'], message: `${field}.note: say what the problem is` });
    });
/** 居家安全: stove (炉灶), wiring (电线), heating (取暖). */
export const HomeSafety = z.object({ stove: SafetyPoint('stove'), wiring: SafetyPoint('wiring'), heating: SafetyPoint('heating') }).strict();
export type HomeSafety = z.infer<typeof HomeSafety>;

export const CreateVisitBody = z
  .object({
    /** When the visit took place; default: now. Not in the future. */
    at: EpochMs.optional(),
    /** The helper (a contact of role helper in the person's chain) who visited; absent: the logged-in user. */
    visitorContactId: z.string().min(1).max(64).optional(),
    mode: VisitMode,
    health: Rating('health'),
    healthNote: Text(1000).optional(),
    mood: Rating('mood'),
    /** Seen in person only; required for an in-person visit. */
    safety: HomeSafety.optional(),
    hygiene: Rating('hygiene').optional(),
    /** 需求: what the person needs. */
    needs: Text(1000).optional(),
    /** 帮扶措施: what was done. */
    measures: Text(1000).optional(),
    /** 后续跟进: what happens next. */
    followUp: Text(1000).optional(),
    notes: Text(1000).optional(),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.mode === 'inPerson' && !b.safety) ctx.addIssue({ code: 'custom', path: ['safety'], message: 'safety: an in-person visit checks the stove, wiring and heating (each ok or problem)' });
    if (b.mode === 'inPerson' && !b.hygiene) ctx.addIssue({ code: 'custom', path: ['hygiene'], message: 'hygiene: good, fair or poor, for an in-person visit' });
  });
export type CreateVisitBody = z.infer<typeof CreateVisitBody>;

export const VisitView = z.object({
  id: z.string(),
  residentId: z.string(),
  at: EpochMs,
  visitorName: z.string(),
  visitorContactId: z.string().nullable(),
  /** Who recorded it (the user's display name). */
  recordedBy: z.string(),
  mode: VisitMode,
  health: z.enum(RATINGS),
  healthNote: z.string().nullable(),
  mood: z.enum(RATINGS),
  safety: HomeSafety.nullable(),
  hygiene: z.enum(RATINGS).nullable(),
  needs: z.string().nullable(),
  measures: z.string().nullable(),
  followUp: z.string().nullable(),
  notes: z.string().nullable(),
  /** The alarm follow-ups this visit answered. */
  followedUpAlarmIds: z.array(z.string()),
  createdAt: EpochMs,
});
export type VisitView = z.infer<typeof VisitView>;

export const VisitListQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict();
export const VisitList = z.object({ visits: z.array(VisitView), nextVisit: VisitDue.nullable() });
export type VisitList = z.infer<typeof VisitList>;

export const OverdueQuery = z.object({ villageId: z.string().min(1).max(64).optional() }).strict();
export const OverduePerson = z.object({
  residentId: z.string(),
  name: z.string(),
  villageId: z.string(),
  villageName: z.string(),
  careLevel: CareLevel,
  lastVisitAt: EpochMs.nullable(),
  due: VisitDue,
});
export type OverduePerson = z.infer<typeof OverduePerson>;
export const OverdueVisits = z.object({
  /** Every person in scope whose visit is overdue, the longest overdue first. */
  people: z.array(OverduePerson),
  /** Per helper (the first helper of each person's chain, by name and phone): their overdue people. */
  byHelper: z.array(z.object({ helperName: z.string(), post: z.string().nullable(), phone: z.string(), phoneMasked: z.boolean(), residentIds: z.array(z.string()) })),
  byVillage: z.array(z.object({ villageId: z.string(), villageName: z.string(), overdue: z.number().int(), active: z.number().int() })),
});
export type OverdueVisits = z.infer<typeof OverdueVisits>;

// --- visit frequency (settings) ----------------------------------------------------

/** How often a care level is visited: `count` visits per week or month. */
export interface VisitFrequency {
  count: number;
  per: 'week' | 'month';
}

/** The policies' defaults: ordinary twice a month, especially difficult once a week. */
export const DEFAULT_VISIT_FREQUENCY: Readonly<Record<CareLevelCode, VisitFrequency>> = {
  ordinary: { count: 2, per: 'month' },
  especiallyDifficult: { count: 1, per: 'week' },
};

/** The days between two visits: a week is 7 days, a month 30; 2/month → 15, 1/week → 7, 1/month → 30. */
export function visitIntervalDays(f: VisitFrequency): number {
  return Math.max(1, Math.floor((f.per === 'week' ? 7 : 30) / f.count));
}

/** Parses `2/month`, `1/week`, `1/month` (the README's settings); throws a clear message otherwise. */
export function parseVisitFrequency(text: string): VisitFrequency {
  const m = /^\s*(\d+)\s*\/\s*(week|month)\s*$/.exec(text);
  const count = m ? Number(m[1]) : NaN;
  if (!m || !(count >= 1 && count <= (m[2] === 'week' ? 7 : 30))) {
    throw new Error(`${JSON.stringify(text)} is not a visit frequency: write visits per week or month, such as 2/month, 1/week or 1/month (at most 7/week or 30/month)`);
  }
  return { count, per: m[2] as 'week' | 'month' };
}
