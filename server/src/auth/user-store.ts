/**
 * Users, their scope and their sessions, in SQLite. A session cookie holds a
 * random token; only its SHA-256 is stored, so a copy of the database does
 * not let anyone in. Sessions end after 12 h without use (sliding) or 7 days
 * after the login, whichever comes first, and at logout or a password reset.
 */
import { KanjiaError, maskPhone, UserName, type CatalogCodes, UserRole, type UserView } from '@kanjia/protocol';
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import type { SessionUser } from '../http/access.js';
import { newId } from '../ids.js';
import { hashPassword, MIN_PASSWORD_CHARS, verifyPassword, dummyHash } from './password.js';
import { storageFault } from '../db/storage-errors.js';

/** A session not used for this long ends (a duty room's open dashboard polls every minute, so it stays in). */
export const SESSION_IDLE_MS = 12 * 3600_000;
/** A session ends this long after its login, used or not. */
export const SESSION_ABSOLUTE_MS = 7 * 24 * 3600_000;
/** last_seen_at is written at most this often: not one write per request. */
const TOUCH_EVERY_MS = 60_000;

/**
 * The one form of a login name that is stored, looked up and counted: NFKC
 * (full-width ｓｈｉｍｅｎ is shimen) and lower case in full Unicode. SQLite's
 * NOCASE folds ASCII only, so without this Äbc and äbc would be two users and
 * Äbc could not log in (the login lowercased the name it looked up).
 */
export function normaliseUserName(name: string): string {
  return name.trim().normalize('NFKC').toLowerCase();
}

/**
 * A disabled user's hash is kept behind this prefix (as `passwd -l` does in
 * /etc/shadow): no password matches it, and enabling restores the old one.
 */
const DISABLED_PREFIX = '!';

export class UserError extends KanjiaError<CatalogCodes<'USER_EXISTS' | 'USER_NOT_FOUND' | 'VILLAGE_NOT_FOUND' | 'INVALID_USER'>> {
  override readonly name = 'UserError';
}

/** Title before the name when no display name is given: "值班员 李明". */
const ROLE_TITLE: Record<UserRole, string> = { admin: '管理员', township: '民政办', duty: '值班员', helper: '帮扶责任人' };

/** The display name with the role's title first ("值班员 李明"; a display name "李明" of a township user → "民政办 李明"). */
export function withRoleTitle(user: { role: UserRole; displayName: string }): string {
  const title = ROLE_TITLE[user.role];
  return user.displayName.startsWith(title) ? user.displayName : `${title} ${user.displayName}`;
}

const Phone = z
  .string()
  .trim()
  .transform((p) => p.replace(/^\+?86/, '').replace(/[\s-]/g, ''))
  .pipe(z.string().regex(/^\d{5,15}$/, 'phone: digits only, such as 13800000001'));
export const Password = z.string().min(MIN_PASSWORD_CHARS, `password: at least ${MIN_PASSWORD_CHARS} characters`).max(256);

/** A new user, as `kanjia user add` and the demo give it. */
export const UserInput = z
  .object({
    name: UserName,
    role: UserRole,
    displayName: z.string().trim().min(1).max(64).optional(),
    phone: Phone.optional(),
    /** Village ids or names: the villages of a duty officer. */
    villages: z.array(z.string().trim().min(1)).default([]),
    township: z.string().trim().min(1).max(64).optional(),
    password: Password,
  })
  .strict()
  .superRefine((u, ctx) => {
    if (u.role === 'duty' && u.villages.length === 0) ctx.addIssue({ code: 'custom', path: ['villages'], message: 'a duty officer needs at least one --village' });
    if (u.role !== 'duty' && u.villages.length > 0) ctx.addIssue({ code: 'custom', path: ['villages'], message: `--village is for duty officers; a ${u.role} user has no villages of their own` });
    if (u.role === 'township' && u.township === undefined) ctx.addIssue({ code: 'custom', path: ['township'], message: 'a township user needs --township (the name in the villages\' township column)' });
    if (u.role !== 'township' && u.township !== undefined) ctx.addIssue({ code: 'custom', path: ['township'], message: '--township is for township users only' });
    if (u.role === 'helper' && u.phone === undefined) ctx.addIssue({ code: 'custom', path: ['phone'], message: 'a helper needs --phone: their residents are those whose contact chain has this number' });
  });
export type UserInput = z.input<typeof UserInput>;

interface UserRow {
  id: string;
  name: string;
  display_name: string;
  role: UserRole;
  township: string | null;
  phone: string | null;
  password_hash: string;
  created_at: number;
}

export interface SessionInfo {
  user: SessionUser;
  /** The stored key of the session (SHA-256 of the token); names its socket.io room. */
  sessionKey: string;
  idleExpiresAt: number;
  expiresAt: number;
}

function isDisabled(row: UserRow): boolean {
  return row.password_hash.startsWith(DISABLED_PREFIX);
}

/** SHA-256 of a session token, hex: what the database keeps. */
export function sessionKeyOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class SqliteUserStore {
  constructor(
    private readonly db: Db,
    private readonly nowMs: () => number,
  ) {}

  count(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM users').get() as { n: number }).n;
  }

  /** Creates a user; throws ZodError for bad input, UserError for a taken name or an unknown village. */
  async create(input: UserInput): Promise<UserView> {
    const parsed = UserInput.parse(input);
    const u = { ...parsed, name: normaliseUserName(parsed.name) };
    if (this.rowByName(u.name)) throw new UserError('USER_EXISTS', `there is already a user named ${u.name}`);
    const villageIds = u.villages.map((v) => this.resolveVillage(v));
    const hash = await hashPassword(u.password);
    const id = newId('usr');
    const now = this.nowMs();
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO users (id, name, display_name, role, township, phone, password_hash, created_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(id, u.name, u.displayName ?? `${ROLE_TITLE[u.role]} ${u.name}`, u.role, u.township ?? null, u.phone ?? null, hash, now, now);
      for (const v of new Set(villageIds)) this.db.prepare('INSERT INTO user_villages (user_id, village_id) VALUES (?, ?)').run(id, v);
    })();
    return this.view(this.rowById(id) as UserRow, true);
  }

  private resolveVillage(idOrName: string): string {
    const row = this.db.prepare('SELECT id FROM villages WHERE id = ? OR name = ? ORDER BY id = ? DESC').all(idOrName, idOrName, idOrName) as Array<{ id: string }>;
    if (row.length === 0) throw new UserError('VILLAGE_NOT_FOUND', `no village with id or name ${idOrName}`);
    if (row.length > 1 && row[0]?.id !== idOrName) throw new UserError('VILLAGE_NOT_FOUND', `${row.length} villages are named ${idOrName}: give the village id`);
    return (row[0] as { id: string }).id;
  }

  /** Every user; phones masked unless `clearPhones`. */
  list(clearPhones = false): UserView[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map((r) => this.view(r, clearPhones));
  }

  /** Every user with whether they are disabled (the CLI's list); phones masked. */
  listWithStatus(): Array<UserView & { disabled: boolean }> {
    return (this.db.prepare('SELECT * FROM users ORDER BY name').all() as UserRow[]).map((r) => ({ ...this.view(r, false), disabled: isDisabled(r) }));
  }

  byName(name: string): UserView | undefined {
    const row = this.rowByName(name);
    return row ? this.view(row, true) : undefined;
  }

  /**
   * The row of a login name in its normalised form. Rows written before names
   * were normalised may hold a non-ASCII capital that NOCASE does not fold:
   * those are found by comparing normalised names (a deployment has dozens of
   * users, not millions).
   */
  private rowByName(name: string): UserRow | undefined {
    const wanted = normaliseUserName(name);
    const row = this.db.prepare('SELECT * FROM users WHERE name = ?').get(wanted) as UserRow | undefined;
    if (row || /^[\x00-\x7f]*$/.test(wanted)) return row;
    return (this.db.prepare('SELECT * FROM users').all() as UserRow[]).find((r) => normaliseUserName(r.name) === wanted);
  }

  private mustFind(name: string): UserRow {
    const row = this.rowByName(name);
    if (!row) throw new UserError('USER_NOT_FOUND', `no user named ${normaliseUserName(name)}`);
    return row;
  }

  /** Disables a user: no login works (the same answer as a wrong password) and every session ends at once. */
  disable(name: string): UserView {
    const row = this.mustFind(name);
    this.db.transaction(() => {
      if (!isDisabled(row)) this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(DISABLED_PREFIX + row.password_hash, row.id);
      this.revokeAllOf(row.id);
    })();
    return this.view(row, true);
  }

  /** Enables a disabled user again with their old password. */
  enable(name: string): UserView {
    const row = this.mustFind(name);
    if (isDisabled(row)) this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(row.password_hash.slice(DISABLED_PREFIX.length), row.id);
    return this.view(row, true);
  }

  /** Is this user disabled? undefined for an unknown name. */
  isDisabled(name: string): boolean | undefined {
    const row = this.rowByName(name);
    return row ? isDisabled(row) : undefined;
  }

  /**
   * Replaces the villages of a duty officer (ids or names). Their sessions stay;
   * the new scope applies to their next request, and to their live feed at its
   * next sweep.
   */
  setVillages(name: string, villages: string[]): UserView {
    const row = this.mustFind(name);
    if (row.role !== 'duty') throw new UserError('INVALID_USER', `${row.name} is a ${row.role} user: only duty officers have villages of their own`);
    const wanted = z.array(z.string().trim().min(1)).min(1, 'a duty officer needs at least one --village').parse(villages);
    const ids = new Set(wanted.map((v) => this.resolveVillage(v)));
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM user_villages WHERE user_id = ?').run(row.id);
      for (const v of ids) this.db.prepare('INSERT INTO user_villages (user_id, village_id) VALUES (?, ?)').run(row.id, v);
    })();
    return this.view(row, true);
  }

  /** Sets a new password and ends every session of the user (a disabled user stays disabled). */
  async resetPassword(name: string, password: string): Promise<UserView> {
    const pw = Password.parse(password);
    const row = this.mustFind(name);
    // A disabled user stays disabled: the new password works once they are enabled.
    const hash = (isDisabled(row) ? DISABLED_PREFIX : '') + (await hashPassword(pw));
    const now = this.nowMs();
    this.db.transaction(() => {
      this.db.prepare('UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?').run(hash, now, row.id);
      this.revokeAllOf(row.id);
    })();
    return this.view(row, true);
  }

  /** The user when name and password match; undefined otherwise, after the same work either way. */
  async checkLogin(name: string, password: string): Promise<UserView | undefined> {
    const found = this.rowByName(name);
    const row = found && !isDisabled(found) ? found : undefined;
    // An unknown (or disabled) name is checked against a dummy hash so it takes as long as a wrong password.
    const ok = await verifyPassword(password, row?.password_hash ?? (await dummyHash()));
    return row && ok ? this.view(row, true) : undefined;
  }

  /** Opens a session; returns the token for the cookie (shown nowhere else). */
  createSession(userId: string, address: string | null): { token: string; idleExpiresAt: number; expiresAt: number } {
    const token = randomBytes(32).toString('base64url');
    const now = this.nowMs();
    const expiresAt = now + SESSION_ABSOLUTE_MS;
    this.db.prepare('INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at, address) VALUES (?, ?, ?, ?, ?, ?)').run(sessionKeyOf(token), userId, now, now, expiresAt, address);
    return { token, idleExpiresAt: Math.min(now + SESSION_IDLE_MS, expiresAt), expiresAt };
  }

  /**
   * The session of a token if it is still valid, with the user's scope as of
   * now; `touch` renews the idle limit (sliding).
   */
  session(token: string, touch: boolean): SessionInfo | undefined {
    return this.sessionByKey(sessionKeyOf(token), touch);
  }

  /** As session(), by the stored key. */
  sessionByKey(sessionKey: string, touch: boolean): SessionInfo | undefined {
    const now = this.nowMs();
    const s = this.db.prepare('SELECT user_id, last_seen_at, expires_at, revoked_at FROM sessions WHERE token_hash = ?').get(sessionKey) as
      | { user_id: string; last_seen_at: number; expires_at: number; revoked_at: number | null }
      | undefined;
    if (!s || s.revoked_at !== null || now >= s.expires_at || now >= s.last_seen_at + SESSION_IDLE_MS) return undefined;
    const row = this.rowById(s.user_id);
    // Disabling revokes the sessions; this also covers one opened by a login racing the disable.
    if (!row || isDisabled(row)) return undefined;
    let lastSeen = s.last_seen_at;
    if (touch && now - lastSeen >= TOUCH_EVERY_MS) {
      try {
        this.db.prepare('UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?').run(now, sessionKey);
        lastSeen = now;
      } catch (err) {
        // Renewing is worth no refused request: while the database cannot write, the session stays valid as it was and the next request renews it.
        if (storageFault(err) === undefined) throw err;
      }
    }
    return { user: this.scopeOf(row), sessionKey, idleExpiresAt: Math.min(lastSeen + SESSION_IDLE_MS, s.expires_at), expiresAt: s.expires_at };
  }

  /** Ends one session (logout). */
  revoke(sessionKey: string): void {
    this.db.prepare('UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL').run(this.nowMs(), sessionKey);
  }

  private revokeAllOf(userId: string): void {
    this.db.prepare('UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL').run(this.nowMs(), userId);
  }

  /** Deletes sessions ended more than a day ago (kept that long to read in an investigation). */
  prune(): void {
    const cutoff = this.nowMs() - 24 * 3600_000;
    this.db.prepare('DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ? OR last_seen_at + ? < ?').run(cutoff, cutoff, SESSION_IDLE_MS, cutoff);
  }

  /** The user as the routes see it: role and scope (villages, for a helper also residents) as of now. */
  scopeOf(row: UserRow): SessionUser {
    const base = { id: row.id, name: row.name, displayName: row.display_name, role: row.role };
    switch (row.role) {
      case 'admin':
        return { ...base, villageIds: 'all' };
      case 'township': {
        const ids = this.db.prepare('SELECT id FROM villages WHERE township = ?').all(row.township) as Array<{ id: string }>;
        return { ...base, villageIds: new Set(ids.map((r) => r.id)) };
      }
      case 'duty': {
        const ids = this.db.prepare('SELECT village_id AS id FROM user_villages WHERE user_id = ?').all(row.id) as Array<{ id: string }>;
        return { ...base, villageIds: new Set(ids.map((r) => r.id)) };
      }
      case 'helper': {
        const rows = this.db
          .prepare(
            `SELECT DISTINCT r.id AS residentId, h.village_id AS villageId FROM contacts c
               JOIN residents r ON r.id = c.resident_id JOIN households h ON h.id = r.household_id
              WHERE c.phone = ?`,
          )
          .all(row.phone ?? '') as Array<{ residentId: string; villageId: string }>;
        return { ...base, villageIds: new Set(rows.map((r) => r.villageId)), residentIds: new Set(rows.map((r) => r.residentId)) };
      }
    }
  }

  private rowById(id: string): UserRow | undefined {
    return this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
  }

  /** Public view of a user; the phone in clear only when asked for. */
  view(row: UserRow, clearPhone: boolean): UserView {
    const villageIds = (this.db.prepare('SELECT village_id AS id FROM user_villages WHERE user_id = ? ORDER BY village_id').all(row.id) as Array<{ id: string }>).map((r) => r.id);
    return {
      id: row.id,
      name: row.name,
      displayName: row.display_name,
      role: row.role,
      township: row.township,
      villageIds,
      phone: row.phone === null ? null : clearPhone ? row.phone : maskPhone(row.phone),
      createdAt: row.created_at,
    };
  }

  /** The UserView of a session user, phone shown only to roles that see phone numbers. */
  viewById(id: string, clearPhone: boolean): UserView | undefined {
    const row = this.rowById(id);
    return row ? this.view(row, clearPhone) : undefined;
  }
}
