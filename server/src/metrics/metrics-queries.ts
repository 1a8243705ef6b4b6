/**
 * What /metrics reads from SQLite on each scrape. Every query is bounded by an
 * index to the rows that are still live (active cases, pending and failed
 * notifications), never a scan of the whole history: a county's database holds
 * millions of closed cases and sent SMS, and a scrape must not hold up the
 * next SOS.
 */
import { ACTIVE_STATUSES } from '@kanjia/protocol';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../db/database.js';
import type { StoreFigures } from './metrics.js';

export class SqliteMetricsQueries implements StoreFigures {
  private readonly activeStmt: Statement<unknown[], { kind: string; severity: string; count: number }>;
  private readonly outboxStmt: Statement<[], { status: string; n: number }>;
  private readonly queuedStmt: Statement<[string], { created_at: number }>;

  constructor(db: Db) {
    // alarms_active (status, opened_at) limits it to the active cases.
    this.activeStmt = db.prepare(`SELECT kind, severity, COUNT(*) AS count FROM alarms WHERE status IN (${ACTIVE_STATUSES.map(() => '?').join(',')}) GROUP BY kind, severity`);
    // notifications_due (status, next_attempt_at): only these statuses' entries are read.
    this.outboxStmt = db.prepare("SELECT status, COUNT(*) AS n FROM notifications WHERE status IN ('pending', 'sending', 'failed') GROUP BY status");
    this.queuedStmt = db.prepare('SELECT created_at FROM notifications WHERE id = ?');
  }

  activeCases(): Array<{ kind: string; severity: string; count: number }> {
    return this.activeStmt.all(...ACTIVE_STATUSES);
  }

  outboxRows(): { pending: number; failed: number } {
    let pending = 0;
    let failed = 0;
    for (const r of this.outboxStmt.all()) {
      if (r.status === 'failed') failed += r.n;
      else pending += r.n;
    }
    return { pending, failed };
  }

  /** When a notification was queued (its row written), ms on the system's clock; undefined for an unknown id. */
  readonly notificationQueuedAt = (notificationId: string): number | undefined => this.queuedStmt.get(notificationId)?.created_at;
}
