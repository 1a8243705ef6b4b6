/**
 * Holds a finding for a grace period in which the person can cancel it with
 * a press (a fall that was only a stumble: "I'm fine"), then raises it. The
 * pending finding is a row in SQLite, so a crash during the 30 s does not
 * lose the fall: after a restart, what fell due while the server was down is
 * raised at once.
 */
import type { Finding } from '@kanjia/detection';
import type { Clock, TimerHandle } from '@kanjia/protocol';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';

export interface GraceGateOptions {
  db: Db;
  clock: Clock;
  logger: Logger;
  /** Raises a finding whose grace period ran out (opens or joins a case); returns the case. Runs inside the gate's transaction. */
  raise: (finding: Finding, nowMs: number) => string | void;
  /** Called after a raise has been committed (push to the dashboard, kick the outbox). */
  afterRaise?: (finding: Finding, alarmId: string | undefined) => void;
}

export class GraceGate {
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(private readonly options: GraceGateOptions) {}

  /** Re-arms what was pending before a restart. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.fire();
  }

  stop(): void {
    this.running = false;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Holds `finding` (which must carry `subjectId`) for `graceMs`. Returns false
   * when the same (device, event id) is already held or was handled.
   */
  hold(finding: Finding, graceMs: number): boolean {
    const now = this.options.clock.nowMs();
    const inserted = this.options.db
      .prepare(
        `INSERT OR IGNORE INTO pending_findings (device_id, event_id, kind, subject_id, finding_json, created_at, due_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(finding.deviceId, finding.eventId, finding.kind, finding.subjectId ?? null, JSON.stringify(finding), now, now + graceMs).changes;
    if (inserted > 0) this.schedule();
    return inserted > 0;
  }

  /**
   * The person pressed cancel: every finding of theirs still in its grace
   * period is dropped. Returns the findings cancelled.
   */
  cancel(subjectId: string): Finding[] {
    const now = this.options.clock.nowMs();
    return this.options.db.transaction(() => {
      const rows = this.options.db
        .prepare('SELECT finding_json FROM pending_findings WHERE subject_id = ? AND cancelled_at IS NULL AND raised_at IS NULL')
        .all(subjectId) as Array<{ finding_json: string }>;
      this.options.db.prepare('UPDATE pending_findings SET cancelled_at = ? WHERE subject_id = ? AND cancelled_at IS NULL AND raised_at IS NULL').run(now, subjectId);
      return rows.map((r) => JSON.parse(r.finding_json) as Finding);
    })();
  }

  /** Findings of a person in their grace period now. */
  pending(subjectId: string): Finding[] {
    const rows = this.options.db
      .prepare('SELECT finding_json FROM pending_findings WHERE subject_id = ? AND cancelled_at IS NULL AND raised_at IS NULL ORDER BY due_at')
      .all(subjectId) as Array<{ finding_json: string }>;
    return rows.map((r) => JSON.parse(r.finding_json) as Finding);
  }

  private schedule(): void {
    if (!this.running) return;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const row = this.options.db.prepare('SELECT MIN(due_at) AS due FROM pending_findings WHERE cancelled_at IS NULL AND raised_at IS NULL').get() as { due: number | null };
    if (row.due === null) return;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.fire();
    }, Math.max(0, row.due - this.options.clock.nowMs()));
  }

  private fire(): void {
    if (!this.running) return;
    const now = this.options.clock.nowMs();
    const raised: Array<{ finding: Finding; alarmId: string | undefined }> = [];
    try {
      this.options.db.transaction(() => {
        const due = this.options.db
          .prepare('SELECT device_id, event_id, finding_json FROM pending_findings WHERE cancelled_at IS NULL AND raised_at IS NULL AND due_at <= ? ORDER BY due_at')
          .all(now) as Array<{ device_id: string; event_id: string; finding_json: string }>;
        const mark = this.options.db.prepare('UPDATE pending_findings SET raised_at = ? WHERE device_id = ? AND event_id = ?');
        for (const r of due) {
          const finding = JSON.parse(r.finding_json) as Finding;
          const alarmId = this.options.raise(finding, now);
          mark.run(now, r.device_id, r.event_id);
          raised.push({ finding, alarmId: alarmId ?? undefined });
        }
      })();
    } catch (err) {
      this.options.logger.error({ err }, 'grace gate: raising a pending finding failed; retrying in 5 s');
      this.timer = this.options.clock.setTimeout(() => this.fire(), 5_000);
      return;
    }
    for (const { finding, alarmId } of raised) {
      try {
        this.options.afterRaise?.(finding, alarmId);
      } catch (err) {
        this.options.logger.error({ err, deviceId: finding.deviceId }, 'grace gate: afterRaise failed');
      }
    }
    this.schedule();
  }
}
