/**
 * Users of the dashboard and the helper's phone page, and their roles. The
 * role and the villages (or township) a user belongs to are their scope.
 */
import { z } from 'zod';

/** admin: the whole deployment; township: 镇民政办; duty: 村委值班; helper: 帮扶责任人. */
export const USER_ROLES = ['admin', 'township', 'duty', 'helper'] as const;
export const UserRole = z.enum(USER_ROLES);
export type UserRole = z.infer<typeof UserRole>;

/** A login name: what the user types, e.g. `shimen` or `limin`. */
export const UserName = z
  .string()
  .trim()
  .min(1, 'name: type your login name')
  .max(64, 'name: at most 64 characters')
  .regex(/^[\p{L}\p{N}._-]+$/u, 'name: letters, digits, dot, dash and underscore only');

/** POST /api/auth/login. The password is checked only as given (no trimming). */
export const LoginBody = z
  .object({
    name: UserName,
    password: z.string().min(1, 'password: type your password').max(256),
  })
  .strict();
export type LoginBody = z.infer<typeof LoginBody>;

/** A user as the API shows it: never a hash; the phone masked unless the viewer may see it. */
export const UserView = z.object({
  id: z.string(),
  name: z.string(),
  /** On the case history and the header: "值班员 李明". */
  displayName: z.string(),
  role: UserRole,
  /** The township a township user belongs to; null for the others. */
  township: z.string().nullable(),
  /** The villages a duty officer belongs to (ids); empty for the others. */
  villageIds: z.array(z.string()),
  /** In clear only for viewers whose role sees phone numbers (admin, township, duty); else 138****5678. */
  phone: z.string().nullable(),
  createdAt: z.number().int().nonnegative(),
});
export type UserView = z.infer<typeof UserView>;

/** GET /api/auth/me and the answer to a login: who is logged in and until when. */
export const MeResponse = z.object({
  user: UserView,
  /** When the session ends unless it is used again (idle limit), ms since epoch. */
  idleExpiresAt: z.number().int().nonnegative(),
  /** When the session ends whatever happens (absolute limit), ms since epoch. */
  expiresAt: z.number().int().nonnegative(),
});
export type MeResponse = z.infer<typeof MeResponse>;

/** 429 LOGIN_THROTTLED: too many failed logins for this name or from this address. */
export const LoginThrottledError = z.object({
  code: z.literal('LOGIN_THROTTLED'),
  message: z.string(),
  /** Seconds until a login may be tried again. */
  retryAfterSeconds: z.number().int().positive(),
});
export type LoginThrottledError = z.infer<typeof LoginThrottledError>;

export const AUDIT_ACTIONS = [
  'login',
  'loginFailed',
  'loginThrottled',
  'logout',
  'alarm.take',
  'alarm.onTheWay',
  'alarm.onSite',
  'alarm.resolve',
  'alarm.cancel',
  'resident.away',
  /** A registry record added, changed or removed over REST (villages, households, residents, contacts, devices). */
  'registry.change',
  /** A village plan image uploaded or removed. */
  'map.plan',
  /** A registry spreadsheet imported (confirmed), or exported with personal numbers (docs/spreadsheets.md). */
  'registry.import',
  'registry.export',
  /** A report's workbook downloaded (docs/reports.md). */
  'report.export',
  'user.add',
  'user.resetPassword',
  /** A user disabled (every session ended) or enabled again, on the command line. */
  'user.disable',
  'user.enable',
  /** A duty officer's villages replaced, on the command line. */
  'user.setVillages',
] as const;
export const AuditAction = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditAction>;

/** One line of the audit log: who did what to what, from where. Never a password or a token. */
export const AuditEntry = z.object({
  seq: z.number().int().positive(),
  at: z.number().int().nonnegative(),
  action: AuditAction,
  /** The acting user's id; null for a failed login and for the command line. */
  userId: z.string().nullable(),
  /** The acting user's display name, or the name tried at a failed login, or "kanjia CLI". */
  actor: z.string(),
  /** What was acted on: an alarm id, a resident id, a user name. */
  target: z.string().nullable(),
  /** The note or reason given, or the changed value. */
  detail: z.string().nullable(),
  /** The client's IP address; null for the command line. */
  address: z.string().nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;

/** GET /api/audit: newest first; `before` = the seq of the last entry of the previous page. */
export const AuditQuery = z
  .object({
    before: z.coerce.number().int().positive().optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();
export type AuditQuery = z.infer<typeof AuditQuery>;

export const AuditPage = z.object({
  entries: z.array(AuditEntry),
  /** Pass as `before` for the next (older) page; null when this was the last. */
  nextBefore: z.number().int().positive().nullable(),
});
export type AuditPage = z.infer<typeof AuditPage>;
