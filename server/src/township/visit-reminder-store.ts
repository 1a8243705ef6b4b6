/**
 * The SMS reminder the evening before visits fall due, in SQLite (migration
 * 15, docs/township.md "The visit reminder"). `decide` picks, for the villages
 * whose local clock is at the reminder hour, every helper ("1+N") whose
 * people's next visit falls due tomorrow, and writes one row per (helper's
 * number, due date) in that one transaction; the send happens after the
 * commit (visit-reminders.ts) and records sent / failed with the provider's
 * code. A row is never written twice, so nobody gets two for a day, across
 * restarts; a crash between the decision and the send leaves the row pending,
 * and the next start sends it (at least once).
 */
import { normalizeMainlandMobile, type RenderedSms, type SmsFailureKind } from '@kanjia/alerts';
import { localDayMinute, type VisitReminderStatus } from '@kanjia/protocol';
import type { Db } from '../db/database.js';
import { newId } from '../ids.js';
import { localDateOf, type SqliteRegistryStore } from '../registry/registry-store.js';
import type { SqliteTownshipStore } from './township-store.js';
import { addDays } from './visit-schedule.js';

/**
 * How long after the reminder hour a village is still reminded that day: a
 * server that was down at 18:00 and back at 20:00 still reminds; one back at
 * 23:00 does not wake anybody (the window ends at midnight in any case).
 */
export const REMINDER_WINDOW_HOURS = 3;
/** A failed reminder is tried again this much later (issue 11: at most twice, 10 minutes apart). */
export const REMINDER_RETRY_MS = 10 * 60_000;
/** The first attempt and two retries. */
export const REMINDER_MAX_ATTEMPTS = 3;

/** A reminder row's status (the protocol's, as the dashboard reads it). */
export type ReminderStatus = VisitReminderStatus;

export interface ReminderRow {
  id: string;
  /** The helper's number, 11 digits. */
  phone: string;
  dueDate: string;
  helperName: string;
  residentIds: string[];
  timezone: string;
  params: Record<string, string>;
  text: string;
  status: ReminderStatus;
  attempts: number;
  nextAttemptAt: number | null;
  channel: string | null;
  providerRef: string | null;
  lastCode: string | null;
  lastError: string | null;
  decidedAt: number;
  sentAt: number | null;
}

/** Renders one reminder for a helper and the names of their people due. */
export type RenderReminder = (input: { helperName: string; residentNames: string[]; dueDate: string }) => RenderedSms;

/** Whether `nowMs` is inside the reminder window of `hour` in `timeZone` (hour:00 to hour+3:00, not past midnight). */
export function inReminderWindow(timeZone: string, nowMs: number, hour: number): boolean {
  const { minute } = localDayMinute(timeZone, nowMs);
  return minute >= hour * 60 && minute < Math.min(24, hour + REMINDER_WINDOW_HOURS) * 60;
}

export class SqliteVisitReminderStore {
  constructor(
    private readonly db: Db,
    private readonly registry: SqliteRegistryStore,
    private readonly township: SqliteTownshipStore,
  ) {}

  /**
   * Decides the reminders of `nowMs`: for every village in its reminder window
   * (`hour`, village time), each helper of the people in the registry whose
   * next visit falls due tomorrow (village calendar) gets one row listing them
   * all, unless a row for that number and day exists. People who left, or whose
   * visit was recorded (their next one is later), are not listed. Returns the
   * rows written, all pending and due now.
   */
  decide(nowMs: number, hour: number, render: RenderReminder): ReminderRow[] {
    return this.db.transaction(() => {
      const active = this.township.search({ status: 'active', searchIdNumbers: false }).filter((r) => inReminderWindow(r.timezone, nowMs, hour));
      if (active.length === 0) return [];
      const lastVisits = this.township.lastVisits();
      const followUps = this.township.openFollowUps();
      const helpers = new Map<string, { phone: string; dueDate: string; helperName: string; timezone: string; residents: Array<{ id: string; name: string }> }>();
      for (const r of active) {
        const tomorrow = addDays(localDateOf(r.timezone, nowMs), 1);
        const due = this.township.nextVisit(r, nowMs, lastVisits.get(r.id) ?? null, followUps.get(r.id) ?? []);
        if (due === null || due.overdue || due.date !== tomorrow) continue;
        for (const c of this.registry.contactsOf(r.id)) {
          const phone = c.role === 'helper' ? normalizeMainlandMobile(c.phone) : null;
          if (phone === null) continue;
          const key = `${phone}\u0000${tomorrow}`;
          const entry = helpers.get(key) ?? { phone, dueDate: tomorrow, helperName: c.name, timezone: r.timezone, residents: [] };
          if (!entry.residents.some((x) => x.id === r.id)) entry.residents.push({ id: r.id, name: r.name });
          helpers.set(key, entry);
        }
      }
      const insert = this.db.prepare(
        `INSERT OR IGNORE INTO visit_reminders (id, phone, due_date, helper_name, resident_ids_json, timezone, params_json, text, status, attempts, next_attempt_at, decided_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)`,
      );
      const written: string[] = [];
      for (const h of helpers.values()) {
        const id = newId('vrm');
        const { params, text } = render({ helperName: h.helperName, residentNames: h.residents.map((x) => x.name), dueDate: h.dueDate });
        const ids = JSON.stringify(h.residents.map((x) => x.id));
        if (insert.run(id, h.phone, h.dueDate, h.helperName, ids, h.timezone, JSON.stringify(params), text, nowMs, nowMs, nowMs).changes === 1) written.push(id);
      }
      return written.map((id) => this.reminder(id) as ReminderRow);
    })();
  }

  /**
   * The pending reminders whose attempt is due at `nowMs`; first, those still
   * pending after their due date are marked expired (a server down for days
   * does not remind of a day gone by). Returns the ones to send.
   */
  due(nowMs: number): ReminderRow[] {
    const pending = (this.db.prepare(`${SELECT} WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, decided_at, phone`).all(nowMs) as DbRow[]).map(rowOf);
    const expire = this.db.prepare("UPDATE visit_reminders SET status = 'expired', next_attempt_at = NULL, updated_at = ? WHERE id = ? AND status = 'pending'");
    const out: ReminderRow[] = [];
    this.db.transaction(() => {
      for (const r of pending) {
        if (r.dueDate < localDateOf(r.timezone, nowMs)) expire.run(nowMs, r.id);
        else out.push(r);
      }
    })();
    return out;
  }

  /** The provider took it. */
  markSent(id: string, channel: string, providerRef: string | null, nowMs: number): void {
    this.db
      .prepare("UPDATE visit_reminders SET status = 'sent', attempts = attempts + 1, next_attempt_at = NULL, channel = ?, provider_ref = ?, sent_at = ?, updated_at = ? WHERE id = ?")
      .run(channel, providerRef, nowMs, nowMs, id);
  }

  /**
   * The provider refused it or could not be reached: tried again in 10 minutes
   * unless this was the third attempt, or the refusal is final (a bad number,
   * the provider's flow control: sending it again only spends the allowance).
   * Returns the status it is left in.
   */
  markFailed(id: string, channel: string, failure: { kind: SmsFailureKind; code: string; message: string }, nowMs: number): 'pending' | 'failed' {
    const row = this.reminder(id);
    const attempts = (row?.attempts ?? 0) + 1;
    const final = failure.kind === 'permanent' || failure.kind === 'limited' || attempts >= REMINDER_MAX_ATTEMPTS;
    const status = final ? 'failed' : 'pending';
    this.db
      .prepare('UPDATE visit_reminders SET status = ?, attempts = ?, next_attempt_at = ?, channel = ?, last_code = ?, last_error = ?, updated_at = ? WHERE id = ?')
      .run(status, attempts, final ? null : nowMs + REMINDER_RETRY_MS, channel, failure.code, failure.message, nowMs, id);
    return status;
  }

  /** When the next pending attempt is due, or null when none is waiting. */
  nextAttemptAt(): number | null {
    return (this.db.prepare("SELECT MIN(next_attempt_at) AS at FROM visit_reminders WHERE status = 'pending'").get() as { at: number | null }).at;
  }

  reminder(id: string): ReminderRow | undefined {
    const row = this.db.prepare(`${SELECT} WHERE id = ?`).get(id) as DbRow | undefined;
    return row && rowOf(row);
  }

  /** Every reminder of a due date, by number (tests, the operator). */
  reminders(dueDate?: string): ReminderRow[] {
    const rows = dueDate === undefined ? this.db.prepare(`${SELECT} ORDER BY decided_at, phone`).all() : this.db.prepare(`${SELECT} WHERE due_date = ? ORDER BY decided_at, phone`).all(dueDate);
    return (rows as DbRow[]).map(rowOf);
  }

  /** How many reminders are in each status. */
  counts(): Record<ReminderStatus, number> {
    const counts: Record<ReminderStatus, number> = { pending: 0, sent: 0, failed: 0, expired: 0 };
    for (const r of this.db.prepare('SELECT status, COUNT(*) AS n FROM visit_reminders GROUP BY status').all() as Array<{ status: ReminderStatus; n: number }>) counts[r.status] = r.n;
    return counts;
  }
}

interface DbRow extends Omit<ReminderRow, 'residentIds' | 'params'> {
  residentIdsJson: string;
  paramsJson: string;
}

const SELECT = `SELECT id, phone, due_date AS dueDate, helper_name AS helperName, resident_ids_json AS residentIdsJson, timezone, params_json AS paramsJson, text, status,
    attempts, next_attempt_at AS nextAttemptAt, channel, provider_ref AS providerRef, last_code AS lastCode, last_error AS lastError, decided_at AS decidedAt, sent_at AS sentAt
  FROM visit_reminders`;

function rowOf(r: DbRow): ReminderRow {
  const { residentIdsJson, paramsJson, ...rest } = r;
  return { ...rest, residentIds: JSON.parse(residentIdsJson) as string[], params: JSON.parse(paramsJson) as Record<string, string> };
}
