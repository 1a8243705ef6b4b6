/**
 * The township's registry work over REST (docs/township.md): the registry
 * list (台账) with search, filters and pages; the whole person record; the
 * history of every change; leaving the registry and coming back; visits
 * (探访), the next one due and the overdue ones per helper and village.
 *
 * Scope as everywhere (access.ts): admin all, township its villages, duty
 * their villages, a helper the people whose chain they are in; out of scope
 * answers 404 as if it did not exist. Leaving and restoring: admin, township
 * and the village's duty officer. Visits: every role, within its scope.
 * ID and phone numbers are masked for roles that may not see them, in the
 * history too.
 */
import {
  ApiError,
  CreateVisitBody,
  HistoryEntry,
  HistoryQuery,
  LeaveBody,
  maskIdNumber,
  maskPhone,
  OverdueQuery,
  OverdueVisits,
  PersonRecord,
  RegistryIdParams,
  RegistryListQuery,
  RegistryPage,
  RestoreBody,
  VisitList,
  VisitListQuery,
  VisitView,
  visitIntervalDays,
  ageOn,
  idNumberFacts,
  type HistoryChange,
  type HelperView,
  type LeftInfo,
  type PersonSummary,
  type UserRole,
  type VisitDue,
  VisitRemindersAnswer,
  VisitRemindersQuery,
  type ReminderOffReason,
  type VisitReminderView,
} from '@kanjia/protocol';
import { scrubSecrets } from '@kanjia/alerts';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Logger } from '../logger.js';
import { localDateOf, RegistryError, type ResidentRow, type SqliteRegistryStore } from '../registry/registry-store.js';
import type { SqliteAuditLog } from '../auth/audit-log.js';
import { reminderFailureReason } from '../township/reminder-reasons.js';
import type { ReminderRow, ReminderStatus } from '../township/visit-reminder-store.js';
import { addDays } from '../township/visit-schedule.js';
import { ID_FIELDS, isContactField, PHONE_FIELDS, type Actor, type HistoryRow, type SqliteTownshipStore } from '../township/township-store.js';
import { auditChanges } from './audit-changes.js';
import { canEditRegistry, canSeeResident, canSeeVillage, seesIdNumbers, seesPhoneNumbers, type SessionUser } from './access.js';
import { checkRoles } from './role-check.js';
import { idNumberFor, phoneFor } from './masking.js';

export interface TownshipRouteDeps {
  registry: SqliteRegistryStore;
  township: SqliteTownshipStore;
  nowMs: () => number;
  logger: Logger;
  audit?: Pick<SqliteAuditLog, 'record'>;
  /** A person left or came back: the detectors re-read their devices (no checks for an empty home). */
  registryChanged: (deviceIds: readonly string[]) => void;
  /** The evening visit reminders (GET /api/visits/reminders); absent: that route is not there. */
  visitReminders?: VisitReminderRouteDeps;
}

/** What the reminder route reads: the rows of a due date, and whether the reminder is on. */
export interface VisitReminderRouteDeps {
  reminders: (dueDate: string) => ReminderRow[];
  /** On at a village-local hour, or off and why. */
  state: () => { hour: number; off: null } | { hour: null; off: ReminderOffReason };
  /** The deployment's time zone (KANJIA_TIMEZONE): the default date's when the asker has no village. */
  timezone: string;
}

/** Who may take a person off the registry or bring them back: the registry keepers and the village's duty officer, who hears first. */
const LEAVE_ROLES: readonly UserRole[] = ['admin', 'township', 'duty'];
const MOBILE = /1[3-9]\d{9}/g;

/** Registers the township routes on `app` (an encapsulated plugin). */
export async function townshipRoutes(app: FastifyInstance, deps: TownshipRouteDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { registry, township } = deps;
  const errors = { 400: ApiError, 401: ApiError, 403: ApiError, 404: ApiError, 409: ApiError };
  const params = RegistryIdParams;

  checkRoles(app);
  auditChanges(app, deps.audit, 'registry.change');

  const userOf = (req: FastifyRequest): SessionUser => req.user as SessionUser;
  const actorOf = (user: SessionUser): Actor => ({ userId: user.id, name: user.displayName });
  const now = () => deps.nowMs();

  const resident = (user: SessionUser, id: string): ResidentRow => {
    const row = registry.resident(id);
    if (!row || !canSeeResident(user, row.villageId, row.id)) throw new RegistryError('RESIDENT_NOT_FOUND', `no resident with id ${id}`);
    return row;
  };

  // --- views ---
  const helpersOf = (user: SessionUser, residentId: string): HelperView[] =>
    registry
      .contactsOf(residentId)
      .filter((c) => c.role === 'helper')
      .map((c) => ({ contactId: c.id, name: c.name, post: c.post, phone: phoneFor(user, c.phone), phoneMasked: !seesPhoneNumbers(user) }));
  const leftOf = (row: ResidentRow): LeftInfo | null =>
    row.leftOn === null || row.leaveReason === null ? null : { date: row.leftOn, reason: row.leaveReason, note: row.leaveNote, recordedAt: row.leftRecordedAt ?? 0, by: row.leftBy ?? '' };
  const summary = (user: SessionUser, row: ResidentRow, lastVisitAt: number | null, nextVisit: VisitDue | null): PersonSummary => ({
    id: row.id,
    name: row.name,
    sex: row.sex,
    age: ageOn(localDateOf(row.timezone, now()), row),
    idNumber: idNumberFor(user, row.idNumber),
    idNumberMasked: !seesIdNumbers(user),
    phone: phoneFor(user, row.phone),
    phoneMasked: !seesPhoneNumbers(user),
    category: row.category,
    careLevel: row.careLevel,
    villageId: row.villageId,
    villageName: row.villageName,
    householdId: row.householdId,
    address: row.address,
    helpers: helpersOf(user, row.id),
    joinedOn: row.joinedOn,
    left: leftOf(row),
    lastVisitAt,
    nextVisit,
  });
  const record = (user: SessionUser, row: ResidentRow): PersonRecord => {
    const lastVisitAt = township.lastVisitAt(row.id);
    const frequency = township.frequencies[row.careLevel];
    return {
      ...summary(user, row, lastVisitAt, township.nextVisit(row, now(), lastVisitAt)),
      birthYear: row.birthYear,
      birthDate: row.idNumber ? idNumberFacts(row.idNumber).birthDate : null,
      livingSituation: row.livingSituation,
      measures: row.measures,
      notes: row.notes,
      medicalNotes: row.medicalNotes,
      conditions: row.conditionsJson ? (JSON.parse(row.conditionsJson) as string[]) : [],
      medicationNotes: row.medicationNotes,
      guardian: { name: row.guardianName, workplace: row.guardianWorkplace, phone: phoneFor(user, row.guardianPhone) },
      visitFrequency: { ...frequency, intervalDays: visitIntervalDays(frequency) },
      canEdit: canEditRegistry(user) || (user.role === 'duty' && canSeeVillage(user, row.villageId)),
      // As PATCH /api/residents/:id and the contact routes allow (registry-routes.ts).
      canEditIdNumber: canEditRegistry(user) && seesIdNumbers(user),
      canEditChain: canEditRegistry(user),
      canVisit: row.leftOn === null,
      timezone: row.timezone,
    };
  };
  const maskChange = (user: SessionUser, c: HistoryChange): HistoryChange => {
    const mask = (v: string | null): string | null => {
      if (v === null) return null;
      if (ID_FIELDS.has(c.field) && !seesIdNumbers(user)) return maskIdNumber(v);
      if (PHONE_FIELDS.has(c.field) && !seesPhoneNumbers(user)) return maskPhone(v);
      if (isContactField(c.field) && !seesPhoneNumbers(user)) return v.replace(MOBILE, (m) => maskPhone(m));
      return v;
    };
    return { field: c.field, old: mask(c.old), new: mask(c.new) };
  };
  const historyEntry = (user: SessionUser, h: HistoryRow): HistoryEntry => ({ ...h, changes: h.changes.map((c) => maskChange(user, c)) });
  /** Devices standing for the person (their own and the household's shared ones): re-read by the detectors. */
  const devicesOf = (row: ResidentRow) => registry.devices({ householdId: row.householdId }).filter((d) => d.residentId === null || d.residentId === row.id).map((d) => d.id);

  // --- the registry list and the person record ---
  r.get('/api/registry/people', { schema: { querystring: RegistryListQuery, response: { 200: RegistryPage, ...errors } } }, async (req) => {
    const user = userOf(req);
    const q = req.query;
    if (q.villageId && (!registry.village(q.villageId) || !canSeeVillage(user, q.villageId))) throw new RegistryError('VILLAGE_NOT_FOUND', `no village with id ${q.villageId}`);
    const rows = township
      .search({ ...(q.q ? { q: q.q } : {}), ...(q.villageId ? { villageId: q.villageId } : {}), ...(q.category ? { category: q.category } : {}), ...(q.careLevel ? { careLevel: q.careLevel } : {}), status: q.status, searchIdNumbers: seesIdNumbers(user) })
      .filter((x) => canSeeResident(user, x.villageId, x.id));
    const lastVisits = township.lastVisits();
    const followUps = township.openFollowUps();
    const nowMs = now();
    let people = rows.map((row) => {
      const last = lastVisits.get(row.id) ?? null;
      return { row, last, next: township.nextVisit(row, nowMs, last, followUps.get(row.id) ?? []) };
    });
    if (q.overdue !== undefined) people = people.filter((p) => (p.next?.overdue ?? false) === q.overdue);
    const start = (q.page - 1) * q.pageSize;
    return { people: people.slice(start, start + q.pageSize).map((p) => summary(user, p.row, p.last, p.next)), page: q.page, pageSize: q.pageSize, total: people.length };
  });

  r.get('/api/registry/people/:id', { schema: { params, response: { 200: PersonRecord, ...errors } } }, async (req) => record(userOf(req), resident(userOf(req), req.params.id)));

  r.get('/api/residents/:id/history', { schema: { params, querystring: HistoryQuery, response: { 200: z.object({ entries: z.array(HistoryEntry) }), ...errors } } }, async (req) => {
    const user = userOf(req);
    resident(user, req.params.id);
    return { entries: township.history(req.params.id, req.query.limit).map((h) => historyEntry(user, h)) };
  });

  // --- leaving the registry and coming back ---
  r.post('/api/residents/:id/leave', { config: { roles: LEAVE_ROLES }, schema: { params, body: LeaveBody, response: { 200: PersonRecord, ...errors } } }, async (req) => {
    const user = userOf(req);
    const before = resident(user, req.params.id);
    const row = township.leave(req.params.id, req.body, actorOf(user));
    // Their devices stay registered (an SOS press still opens a case), but the detectors stop watching an empty home.
    deps.registryChanged(devicesOf(before));
    deps.logger.info({ residentId: row.id, reason: req.body.reason, date: req.body.date, by: user.id }, 'left the registry');
    return record(user, row);
  });

  r.post('/api/residents/:id/restore', { config: { roles: LEAVE_ROLES }, schema: { params, body: RestoreBody, response: { 200: PersonRecord, ...errors } } }, async (req) => {
    const user = userOf(req);
    resident(user, req.params.id);
    const row = township.restore(req.params.id, req.body.note, actorOf(user));
    deps.registryChanged(devicesOf(row));
    deps.logger.info({ residentId: row.id, by: user.id }, 'back in the registry');
    return record(user, row);
  });

  // --- visits ---
  r.post('/api/residents/:id/visits', { schema: { params, body: CreateVisitBody, response: { 201: VisitView, ...errors } } }, async (req, reply) => {
    const user = userOf(req);
    resident(user, req.params.id);
    const visit = township.addVisit(req.params.id, req.body, actorOf(user));
    return reply.code(201).send(visit);
  });

  r.get('/api/residents/:id/visits', { schema: { params, querystring: VisitListQuery, response: { 200: VisitList, ...errors } } }, async (req) => {
    const row = resident(userOf(req), req.params.id);
    return { visits: township.visits(row.id, req.query.limit), nextVisit: township.nextVisit(row, now()) };
  });

  r.get('/api/visits/overdue', { schema: { querystring: OverdueQuery, response: { 200: OverdueVisits, ...errors } } }, async (req) => {
    const user = userOf(req);
    const villageId = req.query.villageId;
    if (villageId && (!registry.village(villageId) || !canSeeVillage(user, villageId))) throw new RegistryError('VILLAGE_NOT_FOUND', `no village with id ${villageId}`);
    const active = township.search({ ...(villageId ? { villageId } : {}), status: 'active', searchIdNumbers: false }).filter((x) => canSeeResident(user, x.villageId, x.id));
    const lastVisits = township.lastVisits();
    const followUps = township.openFollowUps();
    const nowMs = now();
    const people = active
      .map((row) => ({ row, last: lastVisits.get(row.id) ?? null }))
      .map((p) => ({ ...p, due: township.nextVisit(p.row, nowMs, p.last, followUps.get(p.row.id) ?? []) }))
      .filter((p): p is typeof p & { due: VisitDue } => p.due !== null && p.due.overdue)
      .sort((a, b) => a.due.dueAt - b.due.dueAt);
    // Per helper: every helper of the chain answers for the person ("1+N"), by name and phone.
    const helpers = new Map<string, { helperName: string; post: string | null; phone: string; phoneMasked: boolean; residentIds: string[] }>();
    for (const p of people) {
      for (const c of registry.contactsOf(p.row.id).filter((x) => x.role === 'helper')) {
        const key = `${c.name}\u0000${c.phone}`;
        const entry = helpers.get(key) ?? { helperName: c.name, post: c.post, phone: phoneFor(user, c.phone), phoneMasked: !seesPhoneNumbers(user), residentIds: [] };
        entry.residentIds.push(p.row.id);
        helpers.set(key, entry);
      }
    }
    const villages = new Map<string, { villageId: string; villageName: string; overdue: number; active: number }>();
    for (const row of active) {
      const v = villages.get(row.villageId) ?? { villageId: row.villageId, villageName: row.villageName, overdue: 0, active: 0 };
      v.active++;
      villages.set(row.villageId, v);
    }
    for (const p of people) (villages.get(p.row.villageId) as { overdue: number }).overdue++;
    return {
      people: people.map((p) => ({ residentId: p.row.id, name: p.row.name, villageId: p.row.villageId, villageName: p.row.villageName, careLevel: p.row.careLevel, lastVisitAt: p.last, due: p.due })),
      byHelper: [...helpers.values()].sort((a, b) => b.residentIds.length - a.residentIds.length || a.helperName.localeCompare(b.helperName)),
      byVillage: [...villages.values()].sort((a, b) => a.villageName.localeCompare(b.villageName)),
    };
  });

  // --- the evening visit reminders (docs/township.md "The visit reminder") ---
  const reminders = deps.visitReminders;
  if (reminders) {
    /** Failed first (the office phones those helpers), then waiting, sent, expired. */
    const ORDER: readonly ReminderStatus[] = ['failed', 'pending', 'sent', 'expired'];
    const reminderView = (user: SessionUser, row: ReminderRow): VisitReminderView | null => {
      // A reminder is the asker's when one of its people is in scope, and it shows only those (a left person is still named).
      const people = row.residentIds.map((id) => registry.resident(id)).filter((x): x is ResidentRow => x !== undefined && canSeeResident(user, x.villageId, x.id));
      if (people.length === 0) return null;
      const failedOrWaiting = row.status === 'failed' || (row.status === 'pending' && row.lastCode !== null);
      return {
        id: row.id,
        helperName: row.helperName,
        phone: phoneFor(user, row.phone),
        phoneMasked: !seesPhoneNumbers(user),
        residents: people.map((p) => ({ id: p.id, name: p.name, villageId: p.villageId, villageName: p.villageName })),
        status: row.status,
        attempts: row.attempts,
        sentAt: row.sentAt,
        nextAttemptAt: row.nextAttemptAt,
        code: row.lastCode,
        // The provider's words may hold a number (Twilio's do): masked, as in the logs.
        error: row.lastError === null ? null : scrubSecrets(row.lastError),
        reason: failedOrWaiting ? reminderFailureReason(row.lastCode) : null,
        timezone: row.timezone,
      };
    };

    // Every role: a helper sees the reminders naming their people (theirs, and a co-helper's of the same person), numbers masked.
    r.get('/api/visits/reminders', { schema: { querystring: VisitRemindersQuery, response: { 200: VisitRemindersAnswer, ...errors } } }, async (req) => {
      const user = userOf(req);
      const timezone = registry.villages().find((v) => canSeeVillage(user, v.id))?.timezone ?? reminders.timezone;
      const date = req.query.date ?? addDays(localDateOf(timezone, now()), 1);
      const views = reminders
        .reminders(date)
        .map((row) => reminderView(user, row))
        .filter((v): v is VisitReminderView => v !== null)
        .sort((a, b) => ORDER.indexOf(a.status) - ORDER.indexOf(b.status) || a.helperName.localeCompare(b.helperName, 'zh-CN'));
      const counts: Record<ReminderStatus, number> = { pending: 0, sent: 0, failed: 0, expired: 0 };
      for (const v of views) counts[v.status]++;
      const state = reminders.state();
      return { date, timezone, enabled: state.off === null, hour: state.hour, off: state.off, counts, reminders: views };
    });
  }
}
