/**
 * The registry over REST (台账): villages, households, residents, their contact
 * chains, devices and away mode; the resident card and device health. Reads for
 * every role within its scope, registry writes for admin and township, away
 * mode also for the duty officer. Out of scope answers 404 exactly as if it did
 * not exist; phone and ID numbers are masked for roles that must not see them.
 */
import {
  ACTIVE_STATUSES,
  ApiError,
  CreateContactBody,
  CreateDeviceBody,
  CreateHouseholdBody,
  CreateResidentBody,
  CreateVillageBody,
  DeviceCredentials,
  DeviceHealthList,
  DeviceHistory,
  DeviceHistoryQuery,
  DeviceListQuery,
  HouseholdView,
  RegistryIdParams,
  ReorderContactsBody,
  ResidentCard,
  ResidentListQuery,
  ResidentSummary,
  ResidentView,
  UpdateContactBody,
  UpdateDeviceBody,
  UpdateHouseholdBody,
  UpdateResidentBody,
  UpdateVillageBody,
  VillageView,
  type ContactView,
  type DeviceHealthRow,
  type DeviceProblem,
  DeviceView,
  type UserRole,
  DAY_MS,
  maskIdNumber,
  maskPhone,
  ageOn,
} from '@kanjia/protocol';
import { DEFAULT_DEVICE_HEALTH_SETTINGS, DEFAULT_HEARTBEAT_TIMEOUT_MS } from '@kanjia/detection';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SqliteAlarmStore } from '../alarms/alarm-store.js';
import type { Logger } from '../logger.js';
import type { ActivityChartSource } from '../telemetry/activity-chart.js';
import type { RoutineSummary } from '../pipeline/detection-pipeline.js';
import type { SqliteDeviceHistory } from '../registry/device-history.js';
import { ApiProblem } from './api-errors.js';
import { checkRoles } from './role-check.js';
import { localDateOf, RegistryError, type ContactDetailRow, type DeviceRow, type ResidentRow, type SqliteRegistryStore } from '../registry/registry-store.js';
import type { HistoryAction, SqliteTownshipStore } from '../township/township-store.js';
import type { SqliteAuditLog } from '../auth/audit-log.js';
import { auditChanges } from './audit-changes.js';
import { canEditRegistry, canSeeResident, canSeeVillage, seesIdNumbers, seesPhoneNumbers, type SessionUser } from './access.js';

export interface RegistryRouteDeps {
  registry: SqliteRegistryStore;
  alarms: SqliteAlarmStore;
  /** The card's 7-day chart: the SQLite activity log, or the time-series database (telemetry/activity-chart.ts). */
  activity: ActivityChartSource;
  deviceHistory: SqliteDeviceHistory;
  nowMs: () => number;
  logger: Logger;
  /** The inactivity detector's learned getting-up time for the card; undefined when the resident is not watched. */
  routineOf: (residentId: string, timeZone: string) => RoutineSummary | undefined;
  /** Where every registry change is recorded (who, what, when). */
  audit?: Pick<SqliteAuditLog, 'record'>;
  /** Devices added, changed or removed: the detectors re-read them. */
  registryChanged: (deviceIds: readonly string[]) => void;
  /** Where each change to a person record is kept, field by field (docs/township.md); absent: not kept. */
  township?: Pick<SqliteTownshipStore, 'recorded' | 'recordCreated'>;
}

const EDITORS: readonly UserRole[] = ['admin', 'township'];
/** The person record's fields (not the chain or devices) may also be edited by the duty officer of the village, the ID number excepted (docs/township.md). */
const RECORD_EDITORS: readonly UserRole[] = ['admin', 'township', 'duty'];
/** Past cases on the card. */
const PAST_CASES = 20;


/** Registers the registry routes on `app` (an encapsulated plugin). */
export async function registryRoutes(app: FastifyInstance, deps: RegistryRouteDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { registry } = deps;
  const errors = { 400: ApiError, 401: ApiError, 403: ApiError, 404: ApiError, 409: ApiError };
  const params = RegistryIdParams;

  // A helper's write is refused as such, whatever it carries (role-check.ts).
  checkRoles(app);
  auditChanges(app, deps.audit, 'registry.change');
  // A RegistryError (not found, out of scope alike, or refused) is answered by the app's error handler with the catalog's status.

  const userOf = (req: FastifyRequest): SessionUser => req.user as SessionUser;
  const now = () => deps.nowMs();
  /** Runs a change of a person record and keeps its history (who, which fields, old → new). */
  const recorded = <T>(user: SessionUser, residentId: string, action: HistoryAction, change: () => T): T =>
    deps.township ? deps.township.recorded(residentId, { userId: user.id, name: user.displayName }, action, change) : change();

  // --- scope: everything answers 404 outside it, with the code of "no such" ---
  const village = (user: SessionUser, id: string) => {
    const v = registry.village(id);
    if (!v || !canSeeVillage(user, v.id)) throw new RegistryError('VILLAGE_NOT_FOUND', `no village with id ${id}`);
    return v;
  };
  const household = (user: SessionUser, id: string) => {
    const h = registry.household(id);
    // A helper sees a household only through one of their residents.
    const visible = h && canSeeVillage(user, h.villageId) && (user.residentIds === undefined || registry.residents({ householdId: h.id }).some((x) => user.residentIds?.has(x.id)));
    if (!h || !visible) throw new RegistryError('HOUSEHOLD_NOT_FOUND', `no household with id ${id}`);
    return h;
  };
  const resident = (user: SessionUser, id: string) => {
    const row = registry.resident(id);
    if (!row || !canSeeResident(user, row.villageId, row.id)) throw new RegistryError('RESIDENT_NOT_FOUND', `no resident with id ${id}`);
    return row;
  };
  const contact = (user: SessionUser, id: string) => {
    const c = registry.contact(id);
    if (!c || !canSeeResident(user, c.villageId, c.residentId)) throw new RegistryError('CONTACT_NOT_FOUND', `no contact with id ${id}`);
    return c;
  };
  const device = (user: SessionUser, id: string) => {
    const d = registry.device(id);
    if (!d || !deviceVisible(user, d)) throw new RegistryError('DEVICE_NOT_FOUND', `no device with id ${id}`);
    return d;
  };
  const deviceVisible = (user: SessionUser, d: DeviceRow): boolean => {
    if (!canSeeVillage(user, d.villageId)) return false;
    if (user.residentIds === undefined) return true;
    if (d.residentId !== null) return user.residentIds.has(d.residentId);
    return registry.residents({ householdId: d.householdId }).some((x) => user.residentIds?.has(x.id));
  };
  const residentsOfHousehold = (user: SessionUser, householdId: string) =>
    registry.residents({ householdId }).filter((x) => canSeeResident(user, x.villageId, x.id));

  // --- views ---
  const residentView = (user: SessionUser, row: ResidentRow): ResidentView => {
    const phones = seesPhoneNumbers(user);
    const ids = seesIdNumbers(user);
    return {
      id: row.id,
      householdId: row.householdId,
      villageId: row.villageId,
      name: row.name,
      sex: row.sex,
      birthYear: row.birthYear,
      age: ageOn(localDateOf(row.timezone, now()), row),
      idNumber: row.idNumber === null ? null : ids ? row.idNumber : maskIdNumber(row.idNumber),
      idNumberMasked: !ids,
      phone: row.phone === null ? null : phones ? row.phone : maskPhone(row.phone),
      phoneMasked: !phones,
      category: row.category,
      medicalNotes: row.medicalNotes,
      conditions: row.conditionsJson ? (JSON.parse(row.conditionsJson) as string[]) : [],
      medicationNotes: row.medicationNotes,
      careLevel: row.careLevel,
      livingSituation: row.livingSituation,
      measures: row.measures,
      notes: row.notes,
      guardianName: row.guardianName,
      guardianWorkplace: row.guardianWorkplace,
      guardianPhone: row.guardianPhone === null ? null : phones ? row.guardianPhone : maskPhone(row.guardianPhone),
      joinedOn: row.joinedOn,
      leftOn: row.leftOn,
      away: row.away === 1,
      awaySince: row.awaySince,
      contacts: registry.contactsOf(row.id).map((c) => contactView(user, c)),
    };
  };
  const contactView = (user: SessionUser, c: ContactDetailRow): ContactView => {
    const phones = seesPhoneNumbers(user);
    return { id: c.id, position: c.position, name: c.name, role: c.role, phone: phones ? c.phone : maskPhone(c.phone), phoneMasked: !phones, post: c.post };
  };
  const deviceView = (d: DeviceRow): DeviceView => ({
    id: d.id,
    householdId: d.householdId,
    villageId: d.villageId,
    residentId: d.residentId,
    kind: d.kind,
    label: d.label,
    exit: d.isExit === 1,
    online: d.online === 1,
    lastSeenAt: d.lastSeenAt,
    firmware: d.firmware,
    batteryPct: d.batteryPct,
    createdAt: d.createdAt,
    problems: deviceProblems(d, now()),
  });
  const healthRow = (d: DeviceRow): DeviceHealthRow => ({ ...deviceView(d), address: d.address, villageName: d.villageName, residentName: d.residentName });
  const householdView = (user: SessionUser, id: string): HouseholdView => {
    const h = registry.household(id);
    if (!h) throw new RegistryError('HOUSEHOLD_NOT_FOUND', `no household with id ${id}`);
    return {
      ...h,
      residents: residentsOfHousehold(user, h.id).map((x) => residentView(user, x)),
      devices: registry.devices({ householdId: h.id }).filter((d) => deviceVisible(user, d)).map(deviceView),
    };
  };

  // --- villages ---
  r.get('/api/villages/:id', { schema: { params, response: { 200: VillageView, ...errors } } }, async (req) => village(userOf(req), req.params.id));

  r.post('/api/villages', { config: { roles: ['admin'] }, schema: { body: CreateVillageBody, response: { 201: VillageView, ...errors } } }, async (req, reply) => {
    const id = registry.createVillage({ ...req.body, households: [] });
    return reply.code(201).send(village(userOf(req), id));
  });

  r.patch('/api/villages/:id', { config: { roles: EDITORS }, schema: { params, body: UpdateVillageBody, response: { 200: VillageView, ...errors } } }, async (req) => {
    village(userOf(req), req.params.id);
    registry.updateVillage(req.params.id, req.body);
    return village(userOf(req), req.params.id);
  });

  r.get('/api/villages/:id/households', { schema: { params, response: { 200: z.object({ households: z.array(HouseholdView) }), ...errors } } }, async (req) => {
    const user = userOf(req);
    village(user, req.params.id);
    const households = registry.householdsOf(req.params.id).filter((h) => user.residentIds === undefined || residentsOfHousehold(user, h.id).length > 0);
    return { households: households.map((h) => householdView(user, h.id)) };
  });

  // --- households ---
  r.post('/api/villages/:id/households', { config: { roles: EDITORS }, schema: { params, body: CreateHouseholdBody, response: { 201: HouseholdView, ...errors } } }, async (req, reply) => {
    village(userOf(req), req.params.id);
    const id = registry.createHousehold(req.params.id, req.body);
    return reply.code(201).send(householdView(userOf(req), id));
  });

  r.get('/api/households/:id', { schema: { params, response: { 200: HouseholdView, ...errors } } }, async (req) => {
    household(userOf(req), req.params.id);
    return householdView(userOf(req), req.params.id);
  });

  r.patch('/api/households/:id', { config: { roles: EDITORS }, schema: { params, body: UpdateHouseholdBody, response: { 200: HouseholdView, ...errors } } }, async (req) => {
    household(userOf(req), req.params.id);
    registry.updateHousehold(req.params.id, req.body);
    return householdView(userOf(req), req.params.id);
  });

  // --- residents ---
  r.post('/api/households/:id/residents', { config: { roles: EDITORS }, schema: { params, body: CreateResidentBody, response: { 201: ResidentView, ...errors } } }, async (req, reply) => {
    household(userOf(req), req.params.id);
    const user = userOf(req);
    const id = registry.createResident(req.params.id, req.body);
    deps.township?.recordCreated(id, { userId: user.id, name: user.displayName });
    // Shared devices of the household now stand for this resident too.
    deps.registryChanged(registry.devices({ householdId: req.params.id }).map((d) => d.id));
    return reply.code(201).send(residentView(userOf(req), resident(userOf(req), id)));
  });

  r.get('/api/residents', { schema: { querystring: ResidentListQuery, response: { 200: z.object({ residents: z.array(ResidentSummary) }), ...errors } } }, async (req) => {
    const user = userOf(req);
    if (req.query.villageId) village(user, req.query.villageId);
    // The active list: those who left the registry are in GET /api/registry/people?status=left.
    const rows = registry.residents(req.query.villageId ? { villageId: req.query.villageId } : {}).filter((x) => x.leftOn === null && canSeeResident(user, x.villageId, x.id));
    const nowMs = now();
    return {
      residents: rows.map((x): ResidentSummary => {
        const cases = deps.alarms.residentCases(x.id, 50);
        const devices = registry.devices({ householdId: x.householdId }).filter((d) => d.residentId === null || d.residentId === x.id);
        return {
          id: x.id,
          name: x.name,
          sex: x.sex,
          age: residentView(user, x).age,
          address: x.address,
          villageId: x.villageId,
          villageName: x.villageName,
          away: x.away === 1,
          activeAlarms: cases.filter((c) => ACTIVE_STATUSES.includes(c.status)).length,
          deviceProblems: devices.filter((d) => deviceProblems(d, nowMs).length > 0).length,
        };
      }),
    };
  });

  r.get('/api/residents/:id', { schema: { params, response: { 200: ResidentView, ...errors } } }, async (req) => residentView(userOf(req), resident(userOf(req), req.params.id)));

  r.patch('/api/residents/:id', { config: { roles: RECORD_EDITORS }, schema: { params, body: UpdateResidentBody, response: { 200: ResidentView, ...errors } } }, async (req) => {
    const user = userOf(req);
    resident(user, req.params.id);
    // A duty officer sees the ID number masked: they may not overwrite what they cannot read.
    if (req.body.idNumber !== undefined && !seesIdNumbers(user)) throw new ApiProblem('FORBIDDEN', `a ${user.role} user may not change the ID number (身份证号): ask the township office`);
    recorded(user, req.params.id, 'updated', () => registry.updateResident(req.params.id, req.body));
    return residentView(userOf(req), resident(userOf(req), req.params.id));
  });

  // --- the contact chain ---
  const chain = (user: SessionUser, residentId: string) => ({ contacts: registry.contactsOf(residentId).map((c) => contactView(user, c)) });
  const ChainResponse = z.object({ contacts: z.array(ResidentView.shape.contacts.element) });

  r.post('/api/residents/:id/contacts', { config: { roles: EDITORS }, schema: { params, body: CreateContactBody, response: { 201: ChainResponse, ...errors } } }, async (req, reply) => {
    resident(userOf(req), req.params.id);
    recorded(userOf(req), req.params.id, 'contacts', () => registry.addContact(req.params.id, req.body));
    return reply.code(201).send(chain(userOf(req), req.params.id));
  });

  r.put('/api/residents/:id/contacts/order', { config: { roles: EDITORS }, schema: { params, body: ReorderContactsBody, response: { 200: ChainResponse, ...errors } } }, async (req) => {
    resident(userOf(req), req.params.id);
    recorded(userOf(req), req.params.id, 'contacts', () => registry.reorderContacts(req.params.id, req.body.contactIds));
    return chain(userOf(req), req.params.id);
  });

  r.patch('/api/contacts/:id', { config: { roles: EDITORS }, schema: { params, body: UpdateContactBody, response: { 200: ChainResponse, ...errors } } }, async (req) => {
    const c = contact(userOf(req), req.params.id);
    recorded(userOf(req), c.residentId, 'contacts', () => registry.updateContact(c.id, req.body));
    return chain(userOf(req), c.residentId);
  });

  r.delete('/api/contacts/:id', { config: { roles: EDITORS }, schema: { params, response: { 200: ChainResponse, ...errors } } }, async (req) => {
    const c = contact(userOf(req), req.params.id);
    recorded(userOf(req), c.residentId, 'contacts', () => registry.removeContact(c.id));
    return chain(userOf(req), c.residentId);
  });

  // --- devices ---
  r.post('/api/households/:id/devices', { config: { roles: EDITORS }, schema: { params, body: CreateDeviceBody, response: { 201: DeviceCredentials, ...errors } } }, async (req, reply) => {
    household(userOf(req), req.params.id);
    const { residentId, ...input } = req.body;
    const created = registry.createDevice(req.params.id, { ...input, ...(residentId ? { residentId } : {}) });
    deps.registryChanged([created.deviceId]);
    // The secret is in this answer only; never logged.
    deps.logger.info({ deviceId: created.deviceId, kind: created.kind, by: userOf(req).id }, 'device added');
    return reply.code(201).send(created);
  });

  r.patch('/api/devices/:id', { config: { roles: EDITORS }, schema: { params, body: UpdateDeviceBody, response: { 200: DeviceView, ...errors } } }, async (req) => {
    device(userOf(req), req.params.id);
    registry.updateDevice(req.params.id, req.body);
    deps.registryChanged([req.params.id]);
    return deviceView(device(userOf(req), req.params.id));
  });

  r.delete('/api/devices/:id', { config: { roles: EDITORS }, schema: { params, response: { 204: z.null(), ...errors } } }, async (req, reply) => {
    device(userOf(req), req.params.id);
    registry.removeDevice(req.params.id);
    deps.deviceHistory.remove(req.params.id);
    deps.registryChanged([req.params.id]);
    deps.logger.info({ deviceId: req.params.id, by: userOf(req).id }, 'device removed');
    return reply.code(204).send(null);
  });

  // --- device health ---
  r.get('/api/devices', { schema: { querystring: DeviceListQuery, response: { 200: DeviceHealthList, ...errors } } }, async (req) => {
    const user = userOf(req);
    if (req.query.villageId) village(user, req.query.villageId);
    const all = registry.devices(req.query.villageId ? { villageId: req.query.villageId } : {}).filter((d) => deviceVisible(user, d)).map(healthRow);
    const count = (p: DeviceProblem) => all.filter((d) => d.problems.includes(p)).length;
    const wanted = req.query.problem;
    // The worst first: never seen and offline before a low battery, then by address.
    const rank = (d: DeviceHealthRow) => (d.problems.includes('offline') ? 0 : d.problems.includes('neverSeen') ? 1 : d.problems.includes('unstable') ? 2 : d.problems.includes('lowBattery') ? 3 : 4);
    const devices = all
      .filter((d) => wanted === undefined || (wanted === 'any' ? d.problems.length > 0 : d.problems.includes(wanted)))
      .sort((a, b) => rank(a) - rank(b) || a.villageName.localeCompare(b.villageName) || a.address.localeCompare(b.address));
    return { devices, counts: { total: all.length, offline: count('offline'), lowBattery: count('lowBattery'), neverSeen: count('neverSeen'), unstable: count('unstable') } };
  });

  r.get('/api/devices/:id/history', { schema: { params, querystring: DeviceHistoryQuery, response: { 200: DeviceHistory, ...errors } } }, async (req) => {
    const d = device(userOf(req), req.params.id);
    return { device: healthRow(d), entries: deps.deviceHistory.entries(d.id, now() - req.query.days * DAY_MS) };
  });

  // --- the resident card ---
  r.get('/api/residents/:id/card', { schema: { params, response: { 200: ResidentCard, ...errors } } }, async (req) => {
    const user = userOf(req);
    const row = resident(user, req.params.id);
    const h = registry.household(row.householdId);
    if (!h) throw new RegistryError('RESIDENT_NOT_FOUND', `no resident with id ${req.params.id}`);
    const cases = deps.alarms.residentCases(row.id, PAST_CASES + 20);
    const open = cases.filter((c) => ACTIVE_STATUSES.includes(c.status));
    const routine = deps.routineOf(row.id, row.timezone);
    return {
      resident: residentView(user, row),
      household: { id: h.id, address: h.address, lat: h.lat, lng: h.lng, keyHolderNote: h.keyHolderNote },
      village: { id: row.villageId, name: row.villageName, timezone: row.timezone },
      devices: registry.devices({ householdId: h.id }).filter((d) => d.residentId === null || d.residentId === row.id).map(deviceView),
      openAlarms: open,
      pastAlarms: cases.filter((c) => !ACTIVE_STATUSES.includes(c.status)).slice(0, PAST_CASES),
      activity: {
        days: await deps.activity.days(row.id, row.timezone, now(), 7),
        usualWakeMin: routine?.usualWakeMin ?? null,
        todayWakeMin: routine?.todayWakeMin ?? null,
        lastActivityAt: routine?.lastActivityAt ?? null,
      },
      canSetAway: user.role === 'admin' || user.role === 'township' || user.role === 'duty',
      canEdit: canEditRegistry(user),
    };
  });
}

/** What is wrong with a device now, by the device-health detector's rules. */
export function deviceProblems(d: Pick<DeviceRow, 'kind' | 'online' | 'lastSeenAt' | 'batteryPct'> & { unstableUntil?: number | null }, nowMs: number): DeviceProblem[] {
  const out: DeviceProblem[] = [];
  if (d.lastSeenAt === null) out.push('neverSeen');
  // A connection that keeps dropping is said to be unstable, not online one minute and offline the next.
  else if (d.unstableUntil != null && d.unstableUntil > nowMs) out.push('unstable');
  else if (d.online !== 1 || nowMs - d.lastSeenAt > DEFAULT_HEARTBEAT_TIMEOUT_MS[d.kind]) out.push('offline');
  if (d.batteryPct !== null && d.batteryPct <= DEFAULT_DEVICE_HEALTH_SETTINGS.lowBatteryPct) out.push('lowBattery');
  return out;
}
