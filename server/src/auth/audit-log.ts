/**
 * The audit log in SQLite: every login, failed login (the name tried, never
 * the password), logout, case action, away change and user admin action. It
 * also answers the login throttle's question "how many failures lately".
 */
import type { AuditAction, AuditEntry, AuditPage } from '@kanjia/protocol';
import type { Db } from '../db/database.js';

export interface AuditRecord {
  action: AuditAction;
  userId?: string | null;
  actor: string;
  target?: string | null;
  detail?: string | null;
  address?: string | null;
}

/** The actor of changes made on the command line. */
export const CLI_ACTOR = 'kanjia CLI';

export class SqliteAuditLog {
  constructor(
    private readonly db: Db,
    private readonly nowMs: () => number,
  ) {}

  /** Appends one entry. */
  record(entry: AuditRecord): void {
    this.db
      .prepare('INSERT INTO audit_log (at, action, user_id, actor, target, detail, address) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(this.nowMs(), entry.action, entry.userId ?? null, entry.actor, entry.target ?? null, entry.detail ?? null, entry.address ?? null);
  }

  /** Newest first, `limit` entries older than `before` (a seq). */
  page(before: number | undefined, limit: number): AuditPage {
    const rows = this.db
      .prepare(
        `SELECT seq, at, action, user_id AS userId, actor, target, detail, address FROM audit_log
          WHERE (? IS NULL OR seq < ?) ORDER BY seq DESC LIMIT ?`,
      )
      .all(before ?? null, before ?? null, limit + 1) as AuditEntry[];
    const entries = rows.slice(0, limit);
    const last = entries[entries.length - 1];
    return { entries, nextBefore: rows.length > limit && last ? last.seq : null };
  }

  /** Times of the failed logins of this name from any address since `sinceMs`, newest first. */
  failuresForName(name: string, sinceMs: number): number[] {
    return (this.db.prepare("SELECT at FROM audit_log WHERE action = 'loginFailed' AND target = ? AND at >= ? ORDER BY at DESC").all(name, sinceMs) as Array<{ at: number }>).map((r) => r.at);
  }

  /** Times of the failed logins of this name from this address since `sinceMs` and after its last successful login from there, newest first. */
  failuresForNameFrom(name: string, address: string, sinceMs: number): number[] {
    const lastOk = this.db.prepare("SELECT MAX(at) AS at FROM audit_log WHERE action = 'login' AND target = ? AND address = ?").get(name, address) as { at: number | null };
    const from = Math.max(sinceMs, (lastOk.at ?? -1) + 1);
    return (
      this.db.prepare("SELECT at FROM audit_log WHERE action = 'loginFailed' AND target = ? AND address = ? AND at >= ? ORDER BY at DESC").all(name, address, from) as Array<{ at: number }>
    ).map((r) => r.at);
  }

  /** Times of the failed logins from this address since `sinceMs`, newest first. */
  failuresFromAddress(address: string, sinceMs: number): number[] {
    return (this.db.prepare("SELECT at FROM audit_log WHERE action = 'loginFailed' AND address = ? AND at >= ? ORDER BY at DESC").all(address, sinceMs) as Array<{ at: number }>).map((r) => r.at);
  }

  /** Did this name log in successfully from this address since `sinceMs`? */
  hasLoggedInFrom(name: string, address: string, sinceMs: number): boolean {
    return this.db.prepare("SELECT 1 FROM audit_log WHERE action = 'login' AND target = ? AND address = ? AND at >= ? LIMIT 1").get(name, address, sinceMs) !== undefined;
  }

  /**
   * Deletes failed and throttled login rows older than `olderThanMs` ago: they
   * only feed the throttle and a recent investigation; what users did stays.
   * Returns the number deleted.
   */
  pruneLoginNoise(olderThanMs: number): number {
    return this.db.prepare("DELETE FROM audit_log WHERE action IN ('loginFailed', 'loginThrottled') AND at < ?").run(this.nowMs() - olderThanMs).changes;
  }
}
