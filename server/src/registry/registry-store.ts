/**
 * The registry (台账): villages, households, residents, their contact chains
 * and devices, in SQLite. Device secrets are kept only as keyed hashes.
 */
import {
  ContactInput,
  DeviceInput,
  HouseholdInput,
  RegistryFile,
  type RegistryFileInput,
  ResidentInput,
  UpdateContactBody,
  UpdateDeviceBody,
  UpdateHouseholdBody,
  UpdateResidentBody,
  UpdateVillageBody,
  VillageInput,
  type ContactRole,
  type DeviceCredentials,
  type DeviceKind,
  type CareLevelCode,
  type LeaveReasonCode,
  type LivingSituationCode,
  type PersonCategoryCode,
  KanjiaError,
  type CatalogCodes,
  idNumberSexProblem,
  localDayMinute,
  DAY_MS,
} from '@kanjia/protocol';
import { generateDeviceSecret, hashDeviceSecret, verifyDeviceSecret } from '@kanjia/gateway';
import type { Db } from '../db/database.js';
import { newDeviceId, newId } from '../ids.js';

export type RegistryErrorCode = CatalogCodes<
  | 'VILLAGE_NOT_FOUND'
  | 'HOUSEHOLD_NOT_FOUND'
  | 'RESIDENT_NOT_FOUND'
  | 'RESIDENT_NOT_IN_HOUSEHOLD'
  | 'HOUSEHOLD_HAS_NO_RESIDENT'
  | 'CONTACT_NOT_FOUND'
  | 'DEVICE_NOT_FOUND'
  /** The last contact of a chain cannot be removed: nobody would be texted. */
  | 'CONTACT_CHAIN_EMPTY'
  /** A reorder that does not name every contact of the chain exactly once. */
  | 'CONTACT_ORDER_MISMATCH'
  /** A person record that contradicts itself (the sex against the ID number's 17th digit). */
  | 'BAD_REQUEST'
>;

export class RegistryError extends KanjiaError<RegistryErrorCode> {
  override readonly name = 'RegistryError';
}

export interface ContactRow {
  id: string;
  position: number;
  name: string;
  role: ContactRole;
  phone: string;
}

/** Who a finding is about and where they live. */
export interface ResidentContext {
  residentId: string;
  residentName: string;
  householdId: string;
  address: string;
  villageId: string;
  villageName: string;
  timezone: string;
}

/** A device and the resident it stands for (its own, or the household's first). */
export interface DeviceContext extends ResidentContext {
  deviceId: string;
  kind: DeviceKind;
}

export class SqliteRegistryStore {
  constructor(
    private readonly db: Db,
    /** Key of the keyed hash under which device secrets are stored. */
    private readonly deviceKey: Buffer,
    private readonly nowMs: () => number = Date.now,
    /** Time zone of a village that names none (KANJIA_TIMEZONE). */
    private readonly defaultTimezone = 'Asia/Shanghai',
  ) {}

  createVillage(input: VillageInput): string {
    const v = VillageInput.parse(input);
    const id = newId('vil');
    this.db
      .prepare('INSERT INTO villages (id, name, township, county, timezone, lat, lng, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, v.name, v.township ?? null, v.county ?? null, v.timezone ?? this.defaultTimezone, v.lat, v.lng, this.nowMs());
    return id;
  }

  createHousehold(villageId: string, input: Omit<HouseholdInput, 'residents' | 'devices'>): string {
    if (!this.db.prepare('SELECT 1 FROM villages WHERE id = ?').get(villageId)) {
      throw new RegistryError('VILLAGE_NOT_FOUND', `no village with id ${villageId}`);
    }
    const h = HouseholdInput.omit({ residents: true, devices: true }).parse({ address: input.address, lat: input.lat, lng: input.lng, keyHolderNote: input.keyHolderNote });
    const id = newId('hh');
    this.db
      .prepare('INSERT INTO households (id, village_id, address, lat, lng, key_holder_note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, villageId, h.address, h.lat, h.lng, h.keyHolderNote ?? null, this.nowMs());
    return id;
  }

  /** Creates a resident with their ordered contact chain. */
  createResident(householdId: string, input: ResidentInput): string {
    if (!this.db.prepare('SELECT 1 FROM households WHERE id = ?').get(householdId)) {
      throw new RegistryError('HOUSEHOLD_NOT_FOUND', `no household with id ${householdId}`);
    }
    const r = ResidentInput.parse(input);
    checkSexAgainstIdNumber(r.idNumber, r.sex);
    const id = newId('res');
    const timezone = (this.db.prepare('SELECT v.timezone AS tz FROM households h JOIN villages v ON v.id = h.village_id WHERE h.id = ?').get(householdId) as { tz: string }).tz;
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO residents (id, household_id, name, sex, birth_year, id_number, phone, category, medical_notes, conditions_json, medication_notes, created_at,
             care_level, living_situation, measures, notes, guardian_name, guardian_workplace, guardian_phone, joined_on)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          householdId,
          r.name,
          r.sex ?? null,
          r.birthYear ?? null,
          r.idNumber?.toUpperCase() ?? null,
          r.phone?.replace(/^\+?86/, '') ?? null,
          r.category ?? null,
          r.medicalNotes ?? null,
          r.conditions && r.conditions.length > 0 ? JSON.stringify(r.conditions) : null,
          r.medicationNotes ?? null,
          this.nowMs(),
          r.careLevel ?? 'ordinary',
          r.livingSituation ?? null,
          r.measures ?? null,
          r.notes ?? null,
          r.guardianName ?? null,
          r.guardianWorkplace ?? null,
          r.guardianPhone?.replace(/^\+?86/, '') ?? null,
          r.joinedOn ?? localDateOf(timezone, this.nowMs()),
        );
      for (const c of r.contacts) this.appendContact(id, c);
    })();
    return id;
  }

  /** Adds a contact at the end of a resident's chain. */
  addContact(residentId: string, input: ContactInput): string {
    if (!this.db.prepare('SELECT 1 FROM residents WHERE id = ?').get(residentId)) {
      throw new RegistryError('RESIDENT_NOT_FOUND', `no resident with id ${residentId}`);
    }
    return this.appendContact(residentId, ContactInput.parse(input));
  }

  private appendContact(residentId: string, c: ContactInput): string {
    const id = newId('con');
    const row = this.db.prepare('SELECT COALESCE(MAX(position) + 1, 0) AS next FROM contacts WHERE resident_id = ?').get(residentId) as { next: number };
    this.db
      .prepare('INSERT INTO contacts (id, resident_id, position, name, role, phone, post) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, residentId, row.next, c.name, c.role, c.phone.replace(/^\+?86/, ''), c.post ?? null);
    return id;
  }

  /** Registers a device; the returned secret is shown once and never stored in clear. */
  createDevice(householdId: string, input: DeviceInput & { residentId?: string }): DeviceCredentials {
    if (!this.db.prepare('SELECT 1 FROM households WHERE id = ?').get(householdId)) {
      throw new RegistryError('HOUSEHOLD_NOT_FOUND', `no household with id ${householdId}`);
    }
    const d = DeviceInput.parse({ kind: input.kind, label: input.label, resident: input.resident, exit: input.exit });
    let residentId: string | null = input.residentId ?? null;
    if (residentId === null && d.resident !== undefined) {
      const row = this.db.prepare('SELECT id FROM residents WHERE household_id = ? ORDER BY created_at, rowid LIMIT 1 OFFSET ?').get(householdId, d.resident) as { id: string } | undefined;
      if (!row) throw new RegistryError('RESIDENT_NOT_FOUND', `household ${householdId} has no resident number ${d.resident}`);
      residentId = row.id;
    }
    if (residentId !== null) {
      const row = this.db.prepare('SELECT household_id FROM residents WHERE id = ?').get(residentId) as { household_id: string } | undefined;
      if (!row) throw new RegistryError('RESIDENT_NOT_FOUND', `no resident with id ${residentId}`);
      if (row.household_id !== householdId) throw new RegistryError('RESIDENT_NOT_IN_HOUSEHOLD', `resident ${residentId} does not live in household ${householdId}`);
    }
    if (residentId === null && !this.db.prepare('SELECT 1 FROM residents WHERE household_id = ?').get(householdId)) {
      // An alarm is always about a person: a device in an empty household could never raise one.
      throw new RegistryError('HOUSEHOLD_HAS_NO_RESIDENT', `household ${householdId} has no resident yet: add the resident (with their contacts) before the devices`);
    }
    const deviceId = newDeviceId();
    const secret = generateDeviceSecret();
    this.db
      .prepare('INSERT INTO devices (id, household_id, resident_id, kind, label, secret_hash, created_at, is_exit) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(deviceId, householdId, residentId, d.kind, d.label ?? null, hashDeviceSecret(this.deviceKey, secret), this.nowMs(), d.exit ? 1 : 0);
    return { deviceId, secret, kind: d.kind, householdId, residentId };
  }

  /** Imports a whole registry file in one transaction; returns the credentials of every new device. */
  importRegistry(file: RegistryFileInput): { villages: number; households: number; residents: number; devices: DeviceCredentials[] } {
    const parsed = RegistryFile.parse(file);
    const devices: DeviceCredentials[] = [];
    let households = 0;
    let residents = 0;
    this.db.transaction(() => {
      for (const village of parsed.villages) {
        const villageId = this.createVillage({ ...village, households: [] });
        for (const household of village.households) {
          const householdId = this.createHousehold(villageId, household);
          households++;
          const residentIds = household.residents.map((r) => this.createResident(householdId, r));
          residents += residentIds.length;
          for (const device of household.devices) {
            const residentId = device.resident === undefined ? null : residentIds[device.resident];
            if (residentId === undefined) {
              throw new RegistryError('RESIDENT_NOT_FOUND', `${household.address}: a device names resident ${device.resident}, but the household has ${residentIds.length}`);
            }
            devices.push(this.createDevice(householdId, { kind: device.kind, label: device.label, exit: device.exit, ...(residentId ? { residentId } : {}) }));
          }
        }
      }
    })();
    return { villages: parsed.villages.length, households, residents, devices };
  }

  /** True when the device exists and the secret matches its stored keyed hash. */
  verifyDevice(deviceId: string, secret: string): boolean {
    const row = this.db.prepare('SELECT secret_hash FROM devices WHERE id = ?').get(deviceId) as { secret_hash: string } | undefined;
    if (!row) return false;
    return verifyDeviceSecret(this.deviceKey, secret, row.secret_hash);
  }

  /** Who and where a device stands for: its resident (or the household's first), household and village. */
  deviceContext(deviceId: string): DeviceContext | undefined {
    const row = this.db
      .prepare(
        `SELECT d.id AS deviceId, d.kind AS kind, h.id AS householdId, h.address AS address, v.id AS villageId, v.name AS villageName, v.timezone AS timezone,
                COALESCE(d.resident_id, (SELECT r2.id FROM residents r2 WHERE r2.household_id = h.id ORDER BY r2.created_at, r2.rowid LIMIT 1)) AS residentId
           FROM devices d JOIN households h ON h.id = d.household_id JOIN villages v ON v.id = h.village_id
          WHERE d.id = ?`,
      )
      .get(deviceId) as Omit<DeviceContext, 'residentName'> | undefined;
    if (!row || !row.residentId) return undefined;
    const resident = this.db.prepare('SELECT name FROM residents WHERE id = ?').get(row.residentId) as { name: string };
    return { ...row, residentName: resident.name };
  }

  /** A resident, their household and village. */
  residentContext(residentId: string): ResidentContext | undefined {
    return this.db
      .prepare(
        `SELECT r.id AS residentId, r.name AS residentName, h.id AS householdId, h.address AS address, v.id AS villageId, v.name AS villageName, v.timezone AS timezone
           FROM residents r JOIN households h ON h.id = r.household_id JOIN villages v ON v.id = h.village_id
          WHERE r.id = ?`,
      )
      .get(residentId) as ResidentContext | undefined;
  }

  /** The ordered contact chain of a resident. */
  contactChain(residentId: string): ContactRow[] {
    return this.db.prepare('SELECT id, position, name, role, phone FROM contacts WHERE resident_id = ? ORDER BY position').all(residentId) as ContactRow[];
  }

  /** Sets or clears a resident's away mode; returns undefined for an unknown resident. */
  setAway(residentId: string, away: boolean, atMs: number): { residentId: string; away: boolean; awaySince: number | null } | undefined {
    const changed = this.db
      .prepare('UPDATE residents SET away = ?, away_since = CASE WHEN ? THEN COALESCE(away_since, ?) ELSE NULL END WHERE id = ?')
      .run(away ? 1 : 0, away ? 1 : 0, atMs, residentId).changes;
    if (changed === 0) return undefined;
    const row = this.db.prepare('SELECT away, away_since FROM residents WHERE id = ?').get(residentId) as { away: number; away_since: number | null };
    return { residentId, away: row.away === 1, awaySince: row.away_since };
  }

  /** Everything the detectors need to know about the people and devices, for registering them at start. */
  watchList(): Array<{
    residentId: string;
    timezone: string;
    away: boolean;
    awaySince: number | null;
    devices: Array<{ deviceId: string; kind: DeviceKind; isExit: boolean; createdAt: number; online: boolean; lastSeenAt: number | null }>;
  }> {
    const residents = this.db
      .prepare(
        // Those who left the registry are not watched: no inactivity, check-in or device-health alarms for an empty home (docs/township.md).
        `SELECT r.id AS residentId, v.timezone AS timezone, r.away AS away, r.away_since AS awaySince, r.household_id AS householdId
           FROM residents r JOIN households h ON h.id = r.household_id JOIN villages v ON v.id = h.village_id WHERE r.left_on IS NULL ORDER BY r.created_at, r.rowid`,
      )
      .all() as Array<{ residentId: string; timezone: string; away: number; awaySince: number | null; householdId: string }>;
    const devices = this.db.prepare('SELECT id, household_id, resident_id, kind, is_exit, created_at, online, last_seen_at FROM devices ORDER BY created_at, rowid').all() as Array<{
      id: string;
      household_id: string;
      resident_id: string | null;
      kind: DeviceKind;
      is_exit: number;
      created_at: number;
      online: number;
      last_seen_at: number | null;
    }>;
    const firstResidentOf = new Map<string, string>();
    for (const r of residents) if (!firstResidentOf.has(r.householdId)) firstResidentOf.set(r.householdId, r.residentId);
    return residents.map((r) => ({
      residentId: r.residentId,
      timezone: r.timezone,
      away: r.away === 1,
      awaySince: r.awaySince,
      // A shared device (no resident) counts for every resident of its household.
      devices: devices
        .filter((d) => d.household_id === r.householdId && (d.resident_id === null || d.resident_id === r.residentId))
        .map((d) => ({ deviceId: d.id, kind: d.kind, isExit: d.is_exit === 1, createdAt: d.created_at, online: d.online === 1, lastSeenAt: d.last_seen_at })),
    }));
  }

  /**
   * The device's presence as people see it (debounced, PresenceDebouncer);
   * `unstableUntilMs`: until when its connection counts as unstable (null:
   * stable; undefined: unchanged). last_seen_at never goes back: a presence
   * change held for a few seconds may be older than the device's last message.
   */
  setPresence(deviceId: string, online: boolean, atMs: number, firmware?: string, batteryPct?: number, unstableUntilMs?: number | null): void {
    this.db
      .prepare(
        `UPDATE devices SET online = ?, last_seen_at = MAX(COALESCE(last_seen_at, 0), ?), firmware = COALESCE(?, firmware), battery_pct = COALESCE(?, battery_pct),
                unstable_until = CASE WHEN ? THEN ? ELSE unstable_until END WHERE id = ?`,
      )
      .run(online ? 1 : 0, atMs, firmware ?? null, batteryPct ?? null, unstableUntilMs === undefined ? 0 : 1, unstableUntilMs ?? null, deviceId);
  }

  /** Only the device's connection became unstable or stable again (its presence unchanged). */
  setUnstable(deviceId: string, unstableUntilMs: number | null): void {
    this.db.prepare('UPDATE devices SET unstable_until = ? WHERE id = ?').run(unstableUntilMs, deviceId);
  }

  /** Villages with their number of households. */
  villages(): Array<{ id: string; name: string; timezone: string; lat: number; lng: number; households: number }> {
    return this.db
      .prepare('SELECT v.id, v.name, v.timezone, v.lat, v.lng, (SELECT COUNT(*) FROM households h WHERE h.village_id = v.id) AS households FROM villages v ORDER BY v.name')
      .all() as Array<{ id: string; name: string; timezone: string; lat: number; lng: number; households: number }>;
  }

  onlineDevices(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM devices WHERE online = 1').get() as { n: number }).n;
  }

  counts(): { villages: number; households: number; residents: number; devices: number } {
    const one = (sql: string) => (this.db.prepare(sql).get() as { n: number }).n;
    return {
      villages: one('SELECT COUNT(*) AS n FROM villages'),
      households: one('SELECT COUNT(*) AS n FROM households'),
      residents: one('SELECT COUNT(*) AS n FROM residents'),
      devices: one('SELECT COUNT(*) AS n FROM devices'),
    };
  }

  // --- the registry over REST: reads with the village each row belongs to (for scope), edits ---

  /** One village with its number of households. */
  village(id: string): VillageRow | undefined {
    return this.db.prepare(`${VILLAGE_SELECT} WHERE v.id = ?`).get(id) as VillageRow | undefined;
  }

  /** Every village, by name. */
  allVillages(): VillageRow[] {
    return this.db.prepare(`${VILLAGE_SELECT} ORDER BY v.name, v.id`).all() as VillageRow[];
  }

  updateVillage(id: string, patch: UpdateVillageBody): void {
    const p = UpdateVillageBody.parse(patch);
    if (!this.village(id)) throw new RegistryError('VILLAGE_NOT_FOUND', `no village with id ${id}`);
    this.update('villages', id, { name: p.name, township: p.township, county: p.county, timezone: p.timezone, lat: p.lat, lng: p.lng });
  }

  household(id: string): HouseholdRow | undefined {
    return this.db.prepare(`${HOUSEHOLD_SELECT} WHERE h.id = ?`).get(id) as HouseholdRow | undefined;
  }

  householdsOf(villageId: string): HouseholdRow[] {
    return this.db.prepare(`${HOUSEHOLD_SELECT} WHERE h.village_id = ? ORDER BY h.address, h.id`).all(villageId) as HouseholdRow[];
  }

  updateHousehold(id: string, patch: UpdateHouseholdBody): void {
    const p = UpdateHouseholdBody.parse(patch);
    if (!this.household(id)) throw new RegistryError('HOUSEHOLD_NOT_FOUND', `no household with id ${id}`);
    this.update('households', id, { address: p.address, lat: p.lat, lng: p.lng, key_holder_note: p.keyHolderNote });
  }

  resident(id: string): ResidentRow | undefined {
    return this.db.prepare(`${RESIDENT_SELECT} WHERE r.id = ?`).get(id) as ResidentRow | undefined;
  }

  /** Residents of a household, or of a village, or all, in the order they were registered. */
  residents(filter: { householdId?: string; villageId?: string }): ResidentRow[] {
    if (filter.householdId) return this.db.prepare(`${RESIDENT_SELECT} WHERE r.household_id = ? ORDER BY r.created_at, r.rowid`).all(filter.householdId) as ResidentRow[];
    if (filter.villageId) return this.db.prepare(`${RESIDENT_SELECT} WHERE h.village_id = ? ORDER BY h.address, r.created_at, r.rowid`).all(filter.villageId) as ResidentRow[];
    return this.db.prepare(`${RESIDENT_SELECT} ORDER BY v.name, h.address, r.created_at, r.rowid`).all() as ResidentRow[];
  }

  /** Residents matching a WHERE clause over r (residents), h (households) and v (villages), by village, address and registration (the township's search). */
  residentsWhere(where: string, args: ReadonlyArray<string | number>): ResidentRow[] {
    return this.db.prepare(`${RESIDENT_SELECT}${where ? ` WHERE ${where}` : ''} ORDER BY v.name, h.address, r.created_at, r.rowid`).all(...args) as ResidentRow[];
  }

  updateResident(id: string, patch: UpdateResidentBody): void {
    const p = UpdateResidentBody.parse(patch);
    const before = this.resident(id);
    if (!before) throw new RegistryError('RESIDENT_NOT_FOUND', `no resident with id ${id}`);
    checkSexAgainstIdNumber(p.idNumber === undefined ? before.idNumber : p.idNumber, p.sex === undefined ? before.sex : p.sex);
    this.update('residents', id, {
      name: p.name,
      sex: p.sex,
      birth_year: p.birthYear,
      id_number: p.idNumber === undefined || p.idNumber === null ? p.idNumber : p.idNumber.toUpperCase(),
      phone: p.phone === undefined || p.phone === null ? p.phone : p.phone.replace(/^\+?86/, ''),
      category: p.category,
      medical_notes: p.medicalNotes,
      conditions_json: p.conditions === undefined ? undefined : p.conditions.length > 0 ? JSON.stringify(p.conditions) : null,
      medication_notes: p.medicationNotes,
      care_level: p.careLevel,
      living_situation: p.livingSituation,
      measures: p.measures,
      notes: p.notes,
      guardian_name: p.guardianName,
      guardian_workplace: p.guardianWorkplace,
      guardian_phone: p.guardianPhone === undefined || p.guardianPhone === null ? p.guardianPhone : p.guardianPhone.replace(/^\+?86/, ''),
      joined_on: p.joinedOn,
    });
  }

  contact(id: string): ContactDetailRow | undefined {
    return this.db.prepare(`${CONTACT_SELECT} WHERE c.id = ?`).get(id) as ContactDetailRow | undefined;
  }

  /** The chain with posts and the village (for the card and the REST views). */
  contactsOf(residentId: string): ContactDetailRow[] {
    return this.db.prepare(`${CONTACT_SELECT} WHERE c.resident_id = ? ORDER BY c.position`).all(residentId) as ContactDetailRow[];
  }

  updateContact(id: string, patch: UpdateContactBody): void {
    const p = UpdateContactBody.parse(patch);
    if (!this.contact(id)) throw new RegistryError('CONTACT_NOT_FOUND', `no contact with id ${id}`);
    this.update('contacts', id, { name: p.name, role: p.role, phone: p.phone?.replace(/^\+?86/, ''), post: p.post });
  }

  /** Removes a contact and closes the gap in the chain; the last one stays (somebody must be texted). */
  removeContact(id: string): void {
    const c = this.contact(id);
    if (!c) throw new RegistryError('CONTACT_NOT_FOUND', `no contact with id ${id}`);
    this.db.transaction(() => {
      const left = this.contactsOf(c.residentId).filter((x) => x.id !== id);
      if (left.length === 0) throw new RegistryError('CONTACT_CHAIN_EMPTY', 'the last contact of a chain cannot be removed: add another first');
      this.db.prepare('DELETE FROM contacts WHERE id = ?').run(id);
      this.writeOrder(left.map((x) => x.id));
    })();
  }

  /** Puts the chain in the given order (position 0 is texted first). */
  reorderContacts(residentId: string, contactIds: readonly string[]): void {
    if (!this.resident(residentId)) throw new RegistryError('RESIDENT_NOT_FOUND', `no resident with id ${residentId}`);
    const current = this.contactsOf(residentId).map((c) => c.id);
    const same = contactIds.length === current.length && new Set(contactIds).size === current.length && contactIds.every((cid) => current.includes(cid));
    if (!same) throw new RegistryError('CONTACT_ORDER_MISMATCH', `the new order must name each of the resident's ${current.length} contacts exactly once`);
    this.db.transaction(() => this.writeOrder(contactIds))();
  }

  private writeOrder(ids: readonly string[]): void {
    // Two passes: UNIQUE (resident_id, position) would trip over a swap.
    const set = this.db.prepare('UPDATE contacts SET position = ? WHERE id = ?');
    ids.forEach((cid, i) => set.run(-1 - i, cid));
    ids.forEach((cid, i) => set.run(i, cid));
  }

  device(id: string): DeviceRow | undefined {
    return this.db.prepare(`${DEVICE_SELECT} WHERE d.id = ?`).get(id) as DeviceRow | undefined;
  }

  /** Devices of a household, a village, or all. */
  devices(filter: { householdId?: string; villageId?: string }): DeviceRow[] {
    if (filter.householdId) return this.db.prepare(`${DEVICE_SELECT} WHERE d.household_id = ? ORDER BY d.created_at, d.rowid`).all(filter.householdId) as DeviceRow[];
    if (filter.villageId) return this.db.prepare(`${DEVICE_SELECT} WHERE h.village_id = ? ORDER BY h.address, d.created_at, d.rowid`).all(filter.villageId) as DeviceRow[];
    return this.db.prepare(`${DEVICE_SELECT} ORDER BY v.name, h.address, d.created_at, d.rowid`).all() as DeviceRow[];
  }

  updateDevice(id: string, patch: UpdateDeviceBody): void {
    const p = UpdateDeviceBody.parse(patch);
    const d = this.device(id);
    if (!d) throw new RegistryError('DEVICE_NOT_FOUND', `no device with id ${id}`);
    if (p.residentId) {
      const r = this.resident(p.residentId);
      if (!r) throw new RegistryError('RESIDENT_NOT_FOUND', `no resident with id ${p.residentId}`);
      if (r.householdId !== d.householdId) throw new RegistryError('RESIDENT_NOT_IN_HOUSEHOLD', `resident ${p.residentId} does not live in household ${d.householdId}`);
    }
    this.update('devices', id, { label: p.label, resident_id: p.residentId, is_exit: p.exit === undefined ? undefined : p.exit ? 1 : 0 });
  }

  /** Removes a device: it can no longer connect; its past alarms stay on record. */
  removeDevice(id: string): void {
    if (!this.device(id)) throw new RegistryError('DEVICE_NOT_FOUND', `no device with id ${id}`);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM device_commands WHERE device_id = ? AND ended_at IS NULL').run(id);
      this.db.prepare('DELETE FROM devices WHERE id = ?').run(id);
    })();
  }

  /** UPDATE of the given columns; undefined leaves a column, null clears it. */
  private update(table: 'villages' | 'households' | 'residents' | 'contacts' | 'devices', id: string, columns: Record<string, string | number | null | undefined>): void {
    const set = Object.entries(columns).filter((e): e is [string, string | number | null] => e[1] !== undefined);
    if (set.length === 0) return;
    this.db.prepare(`UPDATE ${table} SET ${set.map(([c]) => `${c} = ?`).join(', ')} WHERE id = ?`).run(...set.map(([, v]) => v), id);
  }
}

export interface VillageRow {
  id: string;
  name: string;
  township: string | null;
  county: string | null;
  timezone: string;
  lat: number;
  lng: number;
  households: number;
}
const VILLAGE_SELECT =
  'SELECT v.id, v.name, v.township, v.county, v.timezone, v.lat, v.lng, (SELECT COUNT(*) FROM households h WHERE h.village_id = v.id) AS households FROM villages v';

export interface HouseholdRow {
  id: string;
  villageId: string;
  address: string;
  lat: number;
  lng: number;
  keyHolderNote: string | null;
}
const HOUSEHOLD_SELECT = 'SELECT h.id, h.village_id AS villageId, h.address, h.lat, h.lng, h.key_holder_note AS keyHolderNote FROM households h';

export interface ResidentRow {
  id: string;
  householdId: string;
  villageId: string;
  villageName: string;
  timezone: string;
  address: string;
  name: string;
  sex: 'F' | 'M' | null;
  birthYear: number | null;
  idNumber: string | null;
  phone: string | null;
  category: PersonCategoryCode | null;
  medicalNotes: string | null;
  conditionsJson: string | null;
  medicationNotes: string | null;
  away: number;
  awaySince: number | null;
  // The person record (migration 13).
  careLevel: CareLevelCode;
  livingSituation: LivingSituationCode | null;
  measures: string | null;
  notes: string | null;
  guardianName: string | null;
  guardianWorkplace: string | null;
  guardianPhone: string | null;
  joinedOn: string;
  /** null: in the registry. */
  leftOn: string | null;
  leaveReason: LeaveReasonCode | null;
  leaveNote: string | null;
  leftRecordedAt: number | null;
  leftBy: string | null;
  createdAt: number;
}
const RESIDENT_SELECT = `SELECT r.id, r.household_id AS householdId, h.village_id AS villageId, v.name AS villageName, v.timezone AS timezone, h.address AS address,
    r.name, r.sex, r.birth_year AS birthYear, r.id_number AS idNumber, r.phone, r.category, r.medical_notes AS medicalNotes,
    r.conditions_json AS conditionsJson, r.medication_notes AS medicationNotes, r.away, r.away_since AS awaySince,
    r.care_level AS careLevel, r.living_situation AS livingSituation, r.measures, r.notes, r.guardian_name AS guardianName,
    r.guardian_workplace AS guardianWorkplace, r.guardian_phone AS guardianPhone, r.joined_on AS joinedOn, r.left_on AS leftOn,
    r.leave_reason AS leaveReason, r.leave_note AS leaveNote, r.left_recorded_at AS leftRecordedAt, r.left_by AS leftBy, r.created_at AS createdAt
  FROM residents r JOIN households h ON h.id = r.household_id JOIN villages v ON v.id = h.village_id`;

export interface ContactDetailRow extends ContactRow {
  residentId: string;
  villageId: string;
  post: string | null;
}
const CONTACT_SELECT = `SELECT c.id, c.position, c.name, c.role, c.phone, c.post, c.resident_id AS residentId, h.village_id AS villageId
  FROM contacts c JOIN residents r ON r.id = c.resident_id JOIN households h ON h.id = r.household_id`;

export interface DeviceRow {
  id: string;
  householdId: string;
  villageId: string;
  villageName: string;
  address: string;
  residentId: string | null;
  residentName: string | null;
  kind: DeviceKind;
  label: string | null;
  isExit: number;
  online: number;
  lastSeenAt: number | null;
  firmware: string | null;
  batteryPct: number | null;
  createdAt: number;
  /** Until when the device's connection counts as unstable (migration 10); null: stable. */
  unstableUntil: number | null;
}
const DEVICE_SELECT = `SELECT d.id, d.household_id AS householdId, h.village_id AS villageId, v.name AS villageName, h.address AS address,
    d.resident_id AS residentId, (SELECT r.name FROM residents r WHERE r.id = d.resident_id) AS residentName, d.kind, d.label, d.is_exit AS isExit,
    d.online, d.last_seen_at AS lastSeenAt, d.firmware, d.battery_pct AS batteryPct, d.created_at AS createdAt, d.unstable_until AS unstableUntil
  FROM devices d JOIN households h ON h.id = d.household_id JOIN villages v ON v.id = h.village_id`;

/** The local date (YYYY-MM-DD) of `ms` in `timeZone`. */
export function localDateOf(timeZone: string, ms: number): string {
  return new Date(localDayMinute(timeZone, ms).day * DAY_MS).toISOString().slice(0, 10);
}

/** Refuses a record whose sex contradicts its ID number's 17th digit (GB 11643-1999). */
function checkSexAgainstIdNumber(idNumber: string | null | undefined, sex: 'F' | 'M' | null | undefined): void {
  if (!idNumber || !sex) return;
  const problem = idNumberSexProblem(idNumber, sex);
  if (problem) throw new RegistryError('BAD_REQUEST', problem);
}
