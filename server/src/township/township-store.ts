/**
 * The township's side of the registry in SQLite (docs/township.md): the
 * history of every change to a person record, leaving the registry and coming
 * back, visits (探访) and the follow-up visits resolved alarms ask for. The
 * person record itself is the residents table (registry-store.ts).
 */
import {
  CreateVisitBody,
  KanjiaError,
  LeaveBody,
  type CatalogCodes,
  type HistoryChange,
  type HISTORY_ACTIONS,
  type HomeSafety,
  type LeaveReasonCode,
  type VisitDue,
} from '@kanjia/protocol';
import type { Db } from '../db/database.js';
import { newId } from '../ids.js';
import { localDateOf, type ContactDetailRow, type ResidentRow, type SqliteRegistryStore } from '../registry/registry-store.js';
import { FOLLOW_UP_SWEEP_MS, FOLLOW_UP_WITHIN_MS, nextVisitDue, type VisitFrequencies } from './visit-schedule.js';

export type TownshipErrorCode = CatalogCodes<'RESIDENT_NOT_FOUND' | 'RESIDENT_HAS_LEFT' | 'RESIDENT_NOT_LEFT' | 'VISITOR_NOT_A_HELPER' | 'BAD_REQUEST'>;

export class TownshipError extends KanjiaError<TownshipErrorCode> {
  override readonly name = 'TownshipError';
}

/** Who made a change: a user of the dashboard, or the command line (userId null). */
export interface Actor {
  userId: string | null;
  name: string;
}

export type HistoryAction = (typeof HISTORY_ACTIONS)[number];

/** A person record's fields as the history compares them: text or null. */
export type PersonSnapshot = Record<string, string | null>;

/** The fields whose values are ID numbers or phone numbers: masked for roles that may not see them. */
export const ID_FIELDS: ReadonlySet<string> = new Set(['idNumber']);
export const PHONE_FIELDS: ReadonlySet<string> = new Set(['phone', 'guardianPhone']);
/** A contact field (`contact.1`) holds a phone number inside its text. */
export const isContactField = (field: string) => field.startsWith('contact.');

export interface HistoryRow {
  id: number;
  at: number;
  by: string;
  action: HistoryAction;
  changes: HistoryChange[];
}

export interface VisitRow {
  id: string;
  residentId: string;
  at: number;
  visitorName: string;
  visitorContactId: string | null;
  recordedBy: string;
  mode: 'inPerson' | 'phone';
  health: 'good' | 'fair' | 'poor';
  healthNote: string | null;
  mood: 'good' | 'fair' | 'poor';
  safety: HomeSafety | null;
  hygiene: 'good' | 'fair' | 'poor' | null;
  needs: string | null;
  measures: string | null;
  followUp: string | null;
  notes: string | null;
  followedUpAlarmIds: string[];
  createdAt: number;
}

export class SqliteTownshipStore {
  constructor(
    private readonly db: Db,
    private readonly registry: SqliteRegistryStore,
    private readonly nowMs: () => number,
    /** Visits per week or month for each care level (settings visitFrequency*). */
    readonly frequencies: VisitFrequencies,
  ) {}

  // --- the history of a person record ---

  /** The person record as the history compares it; undefined for an unknown resident. */
  snapshot(residentId: string): PersonSnapshot | undefined {
    const r = this.registry.resident(residentId);
    if (!r) return undefined;
    const snap: PersonSnapshot = {
      name: r.name,
      sex: r.sex,
      birthYear: r.birthYear === null ? null : String(r.birthYear),
      idNumber: r.idNumber,
      phone: r.phone,
      category: r.category,
      careLevel: r.careLevel,
      livingSituation: r.livingSituation,
      measures: r.measures,
      notes: r.notes,
      medicalNotes: r.medicalNotes,
      conditions: r.conditionsJson ? (JSON.parse(r.conditionsJson) as string[]).join('、') : null,
      medicationNotes: r.medicationNotes,
      guardianName: r.guardianName,
      guardianWorkplace: r.guardianWorkplace,
      guardianPhone: r.guardianPhone,
      joinedOn: r.joinedOn,
      leftOn: r.leftOn,
      leaveReason: r.leaveReason,
      leaveNote: r.leaveNote,
      address: r.address,
    };
    // The chain (the "1+N" helpers and the others), one field per place in it.
    for (const c of this.registry.contactsOf(residentId)) snap[`contact.${c.position + 1}`] = contactText(c);
    return snap;
  }

  /**
   * Runs `change` and records what it changed in the person's history, in one
   * transaction: a change that fails records nothing, one that changes nothing
   * records nothing. Returns what `change` returns.
   */
  recorded<T>(residentId: string, by: Actor, action: HistoryAction, change: () => T, extra: readonly HistoryChange[] = []): T {
    return this.db.transaction(() => {
      const before = this.snapshot(residentId) ?? {};
      const result = change();
      const after = this.snapshot(residentId) ?? {};
      const changes = [...diff(before, after), ...extra];
      if (changes.length > 0 || action === 'created') this.insertHistory(residentId, by, action, changes);
      return result;
    })();
  }

  /** Records the creation of a person record with every field it was given. */
  recordCreated(residentId: string, by: Actor): void {
    const snap = this.snapshot(residentId);
    if (!snap) return;
    this.insertHistory(residentId, by, 'created', diff({}, snap));
  }

  private insertHistory(residentId: string, by: Actor, action: HistoryAction, changes: HistoryChange[]): void {
    this.db
      .prepare('INSERT INTO person_history (resident_id, at, user_id, actor, action, changes_json) VALUES (?, ?, ?, ?, ?, ?)')
      .run(residentId, this.nowMs(), by.userId, by.name, action, JSON.stringify(changes));
  }

  /** The person's history, newest first, values in clear (the routes mask them). */
  history(residentId: string, limit: number): HistoryRow[] {
    const rows = this.db
      .prepare('SELECT id, at, actor, action, changes_json FROM person_history WHERE resident_id = ? ORDER BY at DESC, id DESC LIMIT ?')
      .all(residentId, limit) as Array<{ id: number; at: number; actor: string; action: HistoryAction; changes_json: string }>;
    return rows.map((r) => ({ id: r.id, at: r.at, by: r.actor, action: r.action, changes: JSON.parse(r.changes_json) as HistoryChange[] }));
  }

  // --- leaving the registry, and coming back ---

  /**
   * The person leaves the registry on `date` (not after today, not before they
   * joined): they stay on record for the reports, leave the active lists and
   * are no longer watched (registry-store.ts watchList).
   */
  leave(residentId: string, input: LeaveBody, by: Actor): ResidentRow {
    const body = LeaveBody.parse(input);
    const r = this.existing(residentId);
    if (r.leftOn !== null) throw new TownshipError('RESIDENT_HAS_LEFT', `${r.name} left the registry on ${r.leftOn} already`);
    const today = localDateOf(r.timezone, this.nowMs());
    if (body.date > today) throw new TownshipError('BAD_REQUEST', `date: ${body.date} is in the future (today is ${today})`);
    if (body.date < r.joinedOn) throw new TownshipError('BAD_REQUEST', `date: ${body.date} is before ${r.name} joined the registry (${r.joinedOn})`);
    this.recorded(residentId, by, 'left', () =>
      this.db
        .prepare('UPDATE residents SET left_on = ?, leave_reason = ?, leave_note = ?, left_recorded_at = ?, left_by = ? WHERE id = ?')
        .run(body.date, body.reason satisfies LeaveReasonCode, body.note ?? null, this.nowMs(), by.name, residentId),
    );
    return this.existing(residentId);
  }

  /** Brings a person who left back into the registry (a mistake, or they came home); the history keeps both. */
  restore(residentId: string, note: string | undefined, by: Actor): ResidentRow {
    const r = this.existing(residentId);
    if (r.leftOn === null) throw new TownshipError('RESIDENT_NOT_LEFT', `${r.name} is in the registry: there is nothing to restore`);
    this.recorded(
      residentId,
      by,
      'restored',
      () => this.db.prepare('UPDATE residents SET left_on = NULL, leave_reason = NULL, leave_note = NULL, left_recorded_at = NULL, left_by = NULL WHERE id = ?').run(residentId),
      note ? [{ field: 'restoreNote', old: null, new: note }] : [],
    );
    return this.existing(residentId);
  }

  private existing(residentId: string): ResidentRow {
    const r = this.registry.resident(residentId);
    if (!r) throw new TownshipError('RESIDENT_NOT_FOUND', `no resident with id ${residentId}`);
    return r;
  }

  // --- visits ---

  /**
   * Records a visit; it answers every follow-up opened before it took place.
   * `visitor`: the helper of the chain named in the body, else the user.
   */
  addVisit(residentId: string, input: CreateVisitBody, recordedBy: Actor): VisitRow {
    const body = CreateVisitBody.parse(input);
    const r = this.existing(residentId);
    if (r.leftOn !== null) throw new TownshipError('RESIDENT_HAS_LEFT', `${r.name} left the registry on ${r.leftOn}: restore the record before recording a visit`);
    const now = this.nowMs();
    const at = body.at ?? now;
    // A minute of slack for a phone whose clock runs a little ahead.
    if (at > now + 60_000) throw new TownshipError('BAD_REQUEST', 'at: the visit cannot be in the future');
    let visitorName = recordedBy.name;
    let visitorContactId: string | null = null;
    if (body.visitorContactId !== undefined) {
      const c = this.registry.contact(body.visitorContactId);
      if (!c || c.residentId !== residentId || c.role !== 'helper') {
        throw new TownshipError('VISITOR_NOT_A_HELPER', `visitorContactId: ${body.visitorContactId} is not a helper (帮扶责任人) in ${r.name}'s chain`);
      }
      visitorName = c.name;
      visitorContactId = c.id;
    }
    const id = newId('vis');
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO visits (id, resident_id, visited_at, visitor_name, visitor_contact_id, recorded_by_user, recorded_by, mode, health, health_note, mood,
             safety_json, hygiene, needs, measures, follow_up, notes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id, residentId, at, visitorName, visitorContactId, recordedBy.userId, recordedBy.name, body.mode, body.health, body.healthNote ?? null, body.mood,
          body.safety ? JSON.stringify(body.safety) : null, body.hygiene ?? null, body.needs ?? null, body.measures ?? null, body.followUp ?? null, body.notes ?? null, now,
        );
      this.db.prepare('UPDATE visit_follow_ups SET visit_id = ?, closed_at = ? WHERE resident_id = ? AND visit_id IS NULL AND created_at <= ?').run(id, now, residentId, at);
    })();
    return this.visit(id) as VisitRow;
  }

  visit(id: string): VisitRow | undefined {
    const row = this.db.prepare(`${VISIT_SELECT} WHERE v.id = ?`).get(id) as VisitDbRow | undefined;
    return row && this.visitRow(row);
  }

  /** A person's visits, the latest first. */
  visits(residentId: string, limit: number): VisitRow[] {
    return (this.db.prepare(`${VISIT_SELECT} WHERE v.resident_id = ? ORDER BY v.visited_at DESC, v.rowid DESC LIMIT ?`).all(residentId, limit) as VisitDbRow[]).map((r) => this.visitRow(r));
  }

  private visitRow(r: VisitDbRow): VisitRow {
    const alarms = this.db.prepare('SELECT alarm_id AS id FROM visit_follow_ups WHERE visit_id = ? ORDER BY created_at').all(r.id) as Array<{ id: string }>;
    const { safetyJson, ...rest } = r;
    return { ...rest, safety: safetyJson ? (JSON.parse(safetyJson) as HomeSafety) : null, followedUpAlarmIds: alarms.map((a) => a.id) };
  }

  /** The time of each person's last visit (residents never visited are absent). */
  lastVisits(): Map<string, number> {
    const rows = this.db.prepare('SELECT resident_id AS id, MAX(visited_at) AS at FROM visits GROUP BY resident_id').all() as Array<{ id: string; at: number }>;
    return new Map(rows.map((r) => [r.id, r.at]));
  }

  /** The follow-ups not yet answered, per resident. */
  openFollowUps(): Map<string, Array<{ alarmId: string; dueAt: number }>> {
    const rows = this.db.prepare('SELECT alarm_id AS alarmId, resident_id AS residentId, due_at AS dueAt FROM visit_follow_ups WHERE visit_id IS NULL ORDER BY due_at').all() as Array<{
      alarmId: string;
      residentId: string;
      dueAt: number;
    }>;
    const out = new Map<string, Array<{ alarmId: string; dueAt: number }>>();
    for (const r of rows) out.set(r.residentId, [...(out.get(r.residentId) ?? []), { alarmId: r.alarmId, dueAt: r.dueAt }]);
    return out;
  }

  /**
   * A resolved alarm asks for a follow-up visit within 24 hours (issue 11).
   * Once per case; none for a person who left the registry. True if opened.
   */
  openFollowUp(alarmId: string, residentId: string, resolvedAtMs: number): boolean {
    const r = this.registry.resident(residentId);
    if (!r || r.leftOn !== null) return false;
    return (
      this.db
        .prepare('INSERT OR IGNORE INTO visit_follow_ups (alarm_id, resident_id, created_at, due_at) VALUES (?, ?, ?, ?)')
        .run(alarmId, residentId, resolvedAtMs, resolvedAtMs + FOLLOW_UP_WITHIN_MS).changes === 1
    );
  }

  /**
   * The start-up sweep: every case resolved in the last `withinMs` whose
   * follow-up was never opened (the hook runs after the resolution's commit:
   * a crash between the two loses it) gets it now, due 24 hours after the
   * resolution, as the hook would have made it. A visit already recorded
   * since the resolution answers it at once (closed, as addVisit would have
   * closed it). Idempotent (one follow-up per case); none for a person who
   * left, nor for a false alarm (cancelled, or resolved as one). Returns the
   * cases it opened.
   */
  openMissedFollowUps(withinMs = FOLLOW_UP_SWEEP_MS): Array<{ alarmId: string; residentId: string; open: boolean }> {
    const since = this.nowMs() - withinMs;
    return this.db.transaction(() => {
      const missed = this.db
        .prepare(
          `SELECT a.id AS alarmId, a.resident_id AS residentId, a.resolved_at AS resolvedAt FROM alarms a
             JOIN residents r ON r.id = a.resident_id
           WHERE a.status = 'resolved' AND a.resolved_at >= ? AND r.left_on IS NULL AND a.outcome IS NOT 'falseAlarm'
             AND NOT EXISTS (SELECT 1 FROM visit_follow_ups f WHERE f.alarm_id = a.id)
           ORDER BY a.resolved_at`,
        )
        .all(since) as Array<{ alarmId: string; residentId: string; resolvedAt: number }>;
      const firstVisitSince = this.db.prepare('SELECT id FROM visits WHERE resident_id = ? AND visited_at >= ? ORDER BY visited_at, rowid LIMIT 1');
      const insert = this.db.prepare('INSERT OR IGNORE INTO visit_follow_ups (alarm_id, resident_id, created_at, due_at, visit_id, closed_at) VALUES (?, ?, ?, ?, ?, ?)');
      return missed.map((m) => {
        const visit = firstVisitSince.get(m.residentId, m.resolvedAt) as { id: string } | undefined;
        insert.run(m.alarmId, m.residentId, m.resolvedAt, m.resolvedAt + FOLLOW_UP_WITHIN_MS, visit?.id ?? null, visit ? this.nowMs() : null);
        return { alarmId: m.alarmId, residentId: m.residentId, open: visit === undefined };
      });
    })();
  }

  /** The next visit due of one person; null for a person who left. */
  nextVisit(r: ResidentRow, nowMs: number, lastVisitAt = this.lastVisitAt(r.id), followUps = this.openFollowUps().get(r.id) ?? []): VisitDue | null {
    if (r.leftOn !== null) return null;
    return nextVisitDue({ careLevel: r.careLevel, timezone: r.timezone, joinedOn: r.joinedOn, lastVisitAt, openFollowUps: followUps }, this.frequencies, nowMs);
  }

  lastVisitAt(residentId: string): number | null {
    return (this.db.prepare('SELECT MAX(visited_at) AS at FROM visits WHERE resident_id = ?').get(residentId) as { at: number | null }).at;
  }

  // --- the registry list ---

  /**
   * Residents matching a search and filters, in village, address, registration
   * order. `q` matches the name, the phone and the guardian's phone, and the
   * ID number only when `searchIdNumbers` (a role that sees them: otherwise
   * the search would tell whose number it is).
   */
  search(filter: { q?: string; villageId?: string; category?: string; careLevel?: string; status: 'active' | 'left' | 'all'; searchIdNumbers: boolean }): ResidentRow[] {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (filter.villageId) {
      where.push('h.village_id = ?');
      args.push(filter.villageId);
    }
    if (filter.category) {
      where.push('r.category = ?');
      args.push(filter.category);
    }
    if (filter.careLevel) {
      where.push('r.care_level = ?');
      args.push(filter.careLevel);
    }
    if (filter.status === 'active') where.push('r.left_on IS NULL');
    if (filter.status === 'left') where.push('r.left_on IS NOT NULL');
    if (filter.q) {
      const like = `%${filter.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      const digits = filter.q.replace(/\D/g, '');
      const or = ["r.name LIKE ? ESCAPE '\\'"];
      args.push(like);
      if (digits.length >= 4) {
        or.push('r.phone LIKE ?', 'r.guardian_phone LIKE ?');
        args.push(`%${digits}%`, `%${digits}%`);
      }
      const idPart = filter.q.replace(/[^0-9Xx]/g, '').toUpperCase();
      if (filter.searchIdNumbers && idPart.length >= 4) {
        or.push('r.id_number LIKE ?');
        args.push(`%${idPart}%`);
      }
      where.push(`(${or.join(' OR ')})`);
    }
    return this.registry.residentsWhere(where.join(' AND '), args);
  }
}

interface VisitDbRow extends Omit<VisitRow, 'safety' | 'followedUpAlarmIds'> {
  safetyJson: string | null;
}
const VISIT_SELECT = `SELECT v.id, v.resident_id AS residentId, v.visited_at AS at, v.visitor_name AS visitorName, v.visitor_contact_id AS visitorContactId,
    v.recorded_by AS recordedBy, v.mode, v.health, v.health_note AS healthNote, v.mood, v.safety_json AS safetyJson, v.hygiene, v.needs, v.measures,
    v.follow_up AS followUp, v.notes, v.created_at AS createdAt
  FROM visits v`;

/** 刘建军（helper，村支书）13800000001 */
function contactText(c: ContactDetailRow): string {
  return `${c.name}（${c.role}${c.post ? `，${c.post}` : ''}）${c.phone}`;
}

/** The fields whose values differ, in the order of `after` then the ones gone. */
export function diff(before: PersonSnapshot, after: PersonSnapshot): HistoryChange[] {
  const out: HistoryChange[] = [];
  for (const [field, value] of Object.entries(after)) {
    const old = before[field] ?? null;
    if (old !== value) out.push({ field, old, new: value });
  }
  for (const [field, old] of Object.entries(before)) if (!(field in after) && old !== null) out.push({ field, old, new: null });
  return out;
}
