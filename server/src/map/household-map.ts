/**
 * The live village map on the server: every watched household with its state
 * (household-state.ts), kept up to date from alarm changes, presence, away
 * mode and the detection pipeline's reminders and device health, and sent
 * out as `household:state` on every change. A periodic sweep catches what
 * changes with time alone (a first week of learning ends; a device found
 * offline at night, whose case waits for the morning; households added by
 * the registry commands while the server runs).
 */
import { ACTIVE_STATUSES, type AlarmKind, type AlarmView, type Clock, type MapHousehold, type TimerHandle } from '@kanjia/protocol';
import type { Db } from '../db/database.js';
import { canSeeResident, canSeeVillage, type SessionUser } from '../http/access.js';
import type { Logger } from '../logger.js';
import type { ResidentWatch } from '../pipeline/detection-pipeline.js';
import { householdState, type DeviceProblem } from './household-state.js';

/** The sweep: a minute is soon enough for what changes with time alone (learning, night-held device problems). */
export const MAP_SWEEP_EVERY_MS = 60_000;

/** What the map reads of the detectors (DetectionPipeline). */
export interface WatchReader {
  residentWatch(residentId: string): ResidentWatch | undefined;
  deviceProblem(deviceId: string): DeviceProblem | null;
}

export interface HouseholdMapDeps {
  db: Db;
  watch: WatchReader;
  clock: Clock;
  logger: Logger;
  /** A household's state, detail or alarm count changed. */
  emit: (household: MapHousehold) => void;
  sweepEveryMs?: number;
}

interface Household {
  id: string;
  villageId: string;
  address: string;
  lat: number;
  lng: number;
  residents: Array<{ id: string; name: string; away: boolean }>;
  deviceIds: string[];
}

const ACTIVE = new Set<string>(ACTIVE_STATUSES);

export class HouseholdMap {
  private households = new Map<string, Household>();
  private householdOfResident = new Map<string, string>();
  private householdOfDevice = new Map<string, string>();
  /** Active cases: alarm id → household and kind. */
  private readonly activeAlarms = new Map<string, { householdId: string; kind: AlarmKind }>();
  /** The same by household: alarm id → kind (a refresh reads its household's, not every active case of the county). */
  private readonly activeByHousehold = new Map<string, Map<string, AlarmKind>>();
  private readonly states = new Map<string, MapHousehold>();
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(private readonly deps: HouseholdMapDeps) {}

  /** Loads the registry and the active cases and computes every household; then sweeps periodically. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loadActiveAlarms();
    this.sweep();
  }

  /** Clears the sweep timer; idempotent. */
  stop(): void {
    this.running = false;
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** The in-scope households, alarms first (most active cases first), then by address. A null user (no auth layer) sees all. */
  list(user: SessionUser | null): MapHousehold[] {
    const out: MapHousehold[] = [];
    for (const state of this.states.values()) {
      const scoped = scopeHousehold(state, user);
      if (scoped) out.push(scoped);
    }
    return out.sort(byUrgency);
  }

  /** The household as `user` may see it, or undefined when out of scope. */
  scoped(household: MapHousehold, user: SessionUser | null): MapHousehold | undefined {
    return scopeHousehold(household, user);
  }

  /** A case was opened or changed. */
  alarmChanged(alarm: AlarmView): void {
    const active = ACTIVE.has(alarm.status);
    const known = this.activeAlarms.get(alarm.id);
    if (known) this.forgetActive(alarm.id, known.householdId);
    if (active) this.setActive(alarm.id, alarm.household.id, alarm.kind);
    if (!this.households.has(alarm.household.id)) this.reload();
    this.refresh([alarm.household.id, ...(known && known.householdId !== alarm.household.id ? [known.householdId] : [])]);
  }

  /** A device's presence or health changed. */
  deviceChanged(deviceId: string): void {
    const householdId = this.householdOfDevice.get(deviceId);
    if (householdId) this.refresh([householdId]);
  }

  /** The detectors' view of these residents changed (reminder, device health). */
  residentsChanged(residentIds: readonly string[]): void {
    const ids = new Set<string>();
    for (const r of residentIds) {
      const h = this.householdOfResident.get(r);
      if (h) ids.add(h);
    }
    this.refresh(ids);
  }

  /** Away mode was set or cleared. */
  awayChanged(residentId: string, away: boolean): void {
    const householdId = this.householdOfResident.get(residentId);
    const resident = householdId ? this.households.get(householdId)?.residents.find((r) => r.id === residentId) : undefined;
    if (!resident || !householdId) return;
    resident.away = away;
    this.refresh([householdId]);
  }

  /** Re-reads the registry and recomputes every household (emitting the changes). */
  sweep(): void {
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    try {
      this.reload();
      this.refresh(this.households.keys());
      for (const id of [...this.states.keys()]) if (!this.households.has(id)) this.states.delete(id);
    } catch (err) {
      this.deps.logger.error({ err }, 'could not recompute the household map');
    }
    if (this.running) this.timer = this.deps.clock.setTimeout(() => this.sweep(), this.deps.sweepEveryMs ?? MAP_SWEEP_EVERY_MS);
  }

  private setActive(alarmId: string, householdId: string, kind: AlarmKind): void {
    this.activeAlarms.set(alarmId, { householdId, kind });
    let ofHousehold = this.activeByHousehold.get(householdId);
    if (ofHousehold === undefined) this.activeByHousehold.set(householdId, (ofHousehold = new Map()));
    ofHousehold.set(alarmId, kind);
  }

  private forgetActive(alarmId: string, householdId: string): void {
    this.activeAlarms.delete(alarmId);
    const ofHousehold = this.activeByHousehold.get(householdId);
    ofHousehold?.delete(alarmId);
    if (ofHousehold?.size === 0) this.activeByHousehold.delete(householdId);
  }

  private refresh(householdIds: Iterable<string>): void {
    const now = this.deps.clock.nowMs();
    for (const id of householdIds) {
      const h = this.households.get(id);
      if (!h) continue;
      const kinds: AlarmKind[] = [];
      for (const kind of this.activeByHousehold.get(id)?.values() ?? []) kinds.push(kind);
      const { state, detail } = householdState({
        activeAlarmKinds: kinds,
        residents: h.residents.map((r) => ({ away: r.away, watch: this.deps.watch.residentWatch(r.id) })),
        deviceProblems: h.deviceIds.map((d) => this.deps.watch.deviceProblem(d)),
      });
      const previous = this.states.get(id);
      const residents = h.residents.map((r) => ({ id: r.id, name: r.name }));
      const same =
        previous !== undefined &&
        previous.state === state &&
        previous.detail === detail &&
        previous.activeAlarms === kinds.length &&
        previous.address === h.address &&
        previous.lat === h.lat &&
        previous.lng === h.lng &&
        JSON.stringify(previous.residents) === JSON.stringify(residents);
      if (same) continue;
      const next: MapHousehold = { id, villageId: h.villageId, address: h.address, lat: h.lat, lng: h.lng, residents, state, detail, activeAlarms: kinds.length, changedAt: now };
      this.states.set(id, next);
      // The first computation at start is not a change anybody is waiting for.
      if (previous !== undefined) this.deps.emit(next);
    }
  }

  private reload(): void {
    const db = this.deps.db;
    const rows = db.prepare('SELECT id, village_id AS villageId, address, lat, lng FROM households ORDER BY rowid').all() as Array<Omit<Household, 'residents' | 'deviceIds'>>;
    const households = new Map<string, Household>();
    for (const r of rows) households.set(r.id, { ...r, residents: [], deviceIds: [] });
    const byResident = new Map<string, string>();
    const byDevice = new Map<string, string>();
    for (const r of db.prepare('SELECT id, household_id AS householdId, name, away FROM residents ORDER BY created_at, rowid').all() as Array<{ id: string; householdId: string; name: string; away: number }>) {
      households.get(r.householdId)?.residents.push({ id: r.id, name: r.name, away: r.away === 1 });
      byResident.set(r.id, r.householdId);
    }
    for (const d of db.prepare('SELECT id, household_id AS householdId FROM devices ORDER BY created_at, rowid').all() as Array<{ id: string; householdId: string }>) {
      households.get(d.householdId)?.deviceIds.push(d.id);
      byDevice.set(d.id, d.householdId);
    }
    // A household with nobody in it is not watched.
    for (const [id, h] of households) if (h.residents.length === 0) households.delete(id);
    this.households = households;
    this.householdOfResident = byResident;
    this.householdOfDevice = byDevice;
  }

  private loadActiveAlarms(): void {
    const marks = ACTIVE_STATUSES.map(() => '?').join(', ');
    const rows = this.deps.db.prepare(`SELECT id, household_id AS householdId, kind FROM alarms WHERE status IN (${marks})`).all(...ACTIVE_STATUSES) as Array<{ id: string; householdId: string; kind: AlarmKind }>;
    this.activeAlarms.clear();
    this.activeByHousehold.clear();
    for (const r of rows) this.setActive(r.id, r.householdId, r.kind);
  }
}

const RANK: Record<MapHousehold['state'], number> = { alarm: 0, reminder: 1, device: 2, away: 3, learning: 4, fine: 5 };

/** Alarms first (the most active cases first), then reminders, device problems…; then by address. */
export function byUrgency(a: MapHousehold, b: MapHousehold): number {
  return RANK[a.state] - RANK[b.state] || b.activeAlarms - a.activeAlarms || a.address.localeCompare(b.address, 'zh-CN');
}

function scopeHousehold(h: MapHousehold, user: SessionUser | null): MapHousehold | undefined {
  if (user === null) return h;
  if (!canSeeVillage(user, h.villageId)) return undefined;
  if (user.residentIds === undefined) return h;
  // A helper sees the households of their own residents, and only those residents' names.
  const residents = h.residents.filter((r) => canSeeResident(user, h.villageId, r.id));
  return residents.length === 0 ? undefined : { ...h, residents };
}
