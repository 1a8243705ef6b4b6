/**
 * The live detection pipeline: routes device messages to the detectors of
 * `@kanjia/detection` and turns what they find into alarm cases, device
 * reminders and case notes. Falls wait out a durable grace period in which
 * the person can cancel with a press; the device beeps meanwhile.
 */
import {
  CheckInMonitor,
  DeviceHealthMonitor,
  EnvironmentMonitor,
  FallDetector,
  InactivityMonitor,
  fallFinding,
  type Activity,
  type CheckInSnapshot,
  type DetectorOutput,
  type Finding,
} from '@kanjia/detection';
import { localDayMinute, weekdayOfDay, type AccelWindow, type Clock, type DeviceCommand, type DeviceEvent, type DeviceKind, type DeviceStatus, type Readings, type Telemetry, type TimerHandle } from '@kanjia/protocol';
import type { CommandPublisher } from '../alarms/alarm-service.js';
import type { SqliteAlarmStore } from '../alarms/alarm-store.js';
import type { Db } from '../db/database.js';
import { immediateWrites, StorageError, type Attempt, type DurableWrites, type WriteOptions } from '../db/storage-guard.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { SqliteRegistryStore } from '../registry/registry-store.js';
import { activitiesFromReadings, activityFromEvent } from './activity.js';
import { GraceGate } from './grace-gate.js';
import type { SqliteTelemetryStore } from './telemetry-store.js';
import type { SqliteActivityLog } from './activity-log.js';
import type { SqliteDeviceHistory } from '../registry/device-history.js';

/** Kinds that are a person's emergency button: if the only one is offline, that is urgent. */
const EMERGENCY_BUTTONS: readonly DeviceKind[] = ['sosButton', 'pendant'];
/** Readings replayed into the environment detectors at start. */
const ENVIRONMENT_REPLAY_MS = 2 * 3600_000;
/** How often learned state is saved (besides at stop) and new registry entries picked up. */
const SAVE_STATE_EVERY_MS = 5 * 60_000;

export interface PipelineDeps {
  db: Db;
  registry: SqliteRegistryStore;
  store: SqliteAlarmStore;
  telemetry: SqliteTelemetryStore;
  commands: CommandPublisher;
  clock: Clock;
  logger: Logger;
  /** Grace period of a fall before the alarm goes out (default 30 s). */
  fallGraceMs: number;
  /** Cases opened, joined or noted: push them live, kick the outbox, reschedule escalation. */
  onAlarmsChanged: (alarmIds: string[]) => void;
  /** Where signs of life are counted for the resident card (optional: tests of the detectors alone). */
  activity?: SqliteActivityLog;
  /** Where presence changes and battery levels are kept for the device health view. */
  deviceHistory?: SqliteDeviceHistory;
  /** What residentWatch() or deviceProblem() says of these residents (or their devices) may have changed: the map recomputes them. */
  onWatchChanged?: (residentIds: string[]) => void;
  /** Where alarms, notes and readings are written: kept and retried while the database is locked or full (storage-guard.ts). */
  writes?: DurableWrites;
}

/** What the resident card shows of the inactivity detector's learned routine. */
export interface RoutineSummary {
  /** Usual getting-up time, local minute of the day; null until learned. */
  usualWakeMin: number | null;
  /** Today's when this weekday is a learned lie-in, else null. */
  todayWakeMin: number | null;
  lastActivityAt: number | null;
}

/** What the detectors say of a resident now, for the map (residentWatch). */
export interface ResidentWatch {
  /** The device asked the person to press and nobody answered yet. */
  reminder: 'inactivity' | 'checkIn' | null;
  /** The inactivity detector still uses its fixed limits (the first week). */
  learning: boolean;
}

interface DeviceInfo {
  deviceId: string;
  kind: DeviceKind;
  isExit: boolean;
  residentIds: string[];
  timeZone: string;
}

export class DetectionPipeline {
  private readonly falls = new FallDetector();
  private readonly inactivity: InactivityMonitor;
  private readonly checkIns: CheckInMonitor;
  private readonly health: DeviceHealthMonitor;
  private readonly environment: EnvironmentMonitor;
  private readonly gate: GraceGate;
  private readonly devices = new Map<string, DeviceInfo>();
  private readonly residents = new Set<string>();
  /** Last readings per device, to see edges (motion starting, a door opening). */
  private readonly lastReadings = new Map<string, Readings>();
  private saveTimer: TimerHandle | undefined;
  private running = false;
  /** Unanswered reminders by resident; for inactivity, the start of the silence it was about. */
  private readonly reminders = new Map<string, { reason: 'inactivity' | 'checkIn'; silenceSinceMs?: number }>();

  constructor(private readonly deps: PipelineDeps) {
    const context = { clock: deps.clock, emit: (output: DetectorOutput) => this.onOutput(output) };
    this.inactivity = new InactivityMonitor(context);
    this.checkIns = new CheckInMonitor(context);
    this.health = new DeviceHealthMonitor(context);
    this.environment = new EnvironmentMonitor(context);
    this.gate = new GraceGate({
      db: deps.db,
      clock: deps.clock,
      logger: deps.logger,
      raise: (finding, nowMs) => {
        // A "fall" after which the bed still says someone lies in it is rolling over in bed until shown otherwise:
        // beep and ask on the device, text nobody. A fall out of bed empties the bed first, and is a fall.
        if (finding.kind === 'fall' && finding.subjectId !== undefined && this.inBed(finding.subjectId)) {
          this.askAfterRollOver(finding);
          return undefined;
        }
        return deps.store.raiseFinding(finding, nowMs).alarmId;
      },
      afterRaise: (finding, alarmId) => {
        if (!alarmId) return;
        deps.logger.warn({ kind: finding.kind, deviceId: finding.deviceId, alarmId }, 'grace period over: alarm raised');
        deps.onAlarmsChanged([alarmId]);
      },
    });
  }

  /** Registers every resident and device of the registry with the detectors, with what they learned before. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.sync();
    this.inactivity.start();
    this.checkIns.start();
    this.health.start();
    this.environment.start();
    this.gate.start();
    this.scheduleSave();
  }

  /**
   * Registers residents and devices the detectors do not know yet: the
   * registry commands write to the database while the server runs, so this
   * runs at start, every few minutes, and when an unknown device speaks.
   */
  sync(): void {
    const now = this.deps.clock.nowMs();
    for (const person of this.deps.registry.watchList()) {
      const buttons = person.devices.filter((d) => EMERGENCY_BUTTONS.includes(d.kind));
      const remindOn = (buttons.length > 0 ? buttons : person.devices.filter((d) => d.kind === 'checkInButton')).map((d) => d.deviceId);
      const deviceIds = remindOn.length > 0 ? remindOn : person.devices.map((d) => d.deviceId);
      if (deviceIds.length === 0) continue;
      if (!this.residents.has(person.residentId)) {
        this.residents.add(person.residentId);
        const state = this.loadState('inactivity', person.residentId);
        this.inactivity.register({ subjectId: person.residentId, timeZone: person.timezone, deviceIds, ...(state ? { state } : {}) });
        // A reminder sent before a restart is still unanswered.
        if ((state as { phase?: { kind?: string } } | undefined)?.phase?.kind === 'reminded') this.noteReminder(person.residentId, 'inactivity');
        if (person.away) this.inactivity.setAway(person.residentId, true, person.awaySince ?? now);
        if (person.devices.some((d) => d.kind === 'checkInButton')) {
          const snapshot = this.loadState('checkIn', person.residentId) as CheckInSnapshot | undefined;
          this.checkIns.register({
            subjectId: person.residentId,
            timeZone: person.timezone,
            deviceIds: [...person.devices.filter((d) => d.kind === 'checkInButton').map((d) => d.deviceId), ...deviceIds],
            ...(snapshot ? { lastCheckInMs: snapshot.lastCheckInMs, watchingSinceMs: snapshot.watchingSinceMs, consecutiveMissedDays: snapshot.consecutiveMissedDays } : {}),
            away: person.away,
          });
        }
      }
      for (const d of person.devices) {
        const known = this.devices.get(d.deviceId);
        if (known) {
          if (!known.residentIds.includes(person.residentId)) known.residentIds.push(person.residentId);
          continue;
        }
        this.devices.set(d.deviceId, { deviceId: d.deviceId, kind: d.kind, isExit: d.isExit, residentIds: [person.residentId], timeZone: person.timezone });
        this.health.register({
          deviceId: d.deviceId,
          kind: d.kind,
          subjectId: person.residentId,
          timeZone: person.timezone,
          installedAtMs: d.createdAt,
          isOnlyEmergencyButton: buttons.length === 1 && buttons[0]?.deviceId === d.deviceId,
          ...(d.lastSeenAt !== null ? { lastSeenMs: d.lastSeenAt } : {}),
        });
        if (d.kind === 'coSensor' || d.kind === 'smokeSensor' || d.kind === 'thermometer' || d.kind === 'waterLeakSensor') {
          this.environment.register({ deviceId: d.deviceId, subjectId: person.residentId, timeZone: person.timezone });
          // The environment detectors keep no state on disk: the last 2 h of readings rebuild it (a slow CO exposure is not forgotten by a restart).
          for (const r of this.deps.telemetry.recent(d.deviceId, now - ENVIRONMENT_REPLAY_MS)) this.environment.reading(d.deviceId, r.readings, r.receivedAtMs);
        }
      }
    }
  }

  /** Forgets a device removed or changed in the registry, then registers what the registry now says. */
  registryChanged(deviceIds: readonly string[]): void {
    for (const deviceId of deviceIds) {
      this.devices.delete(deviceId);
      this.lastReadings.delete(deviceId);
      this.health.unregister(deviceId);
      this.environment.unregister(deviceId);
    }
    if (this.running) this.sync();
  }

  /** The learned getting-up time and the last sign of life, for the resident card; undefined for an unknown resident. */
  routineOf(residentId: string, timeZone: string): RoutineSummary | undefined {
    const state = this.inactivity.exportState(residentId);
    if (!state) return undefined;
    const sleep = this.inactivity.routineOf(residentId)?.sleep ?? null;
    const norm = (m: number) => ((Math.round(m) % 1440) + 1440) % 1440;
    const weekday = weekdayOfDay(localDayMinute(timeZone, this.deps.clock.nowMs()).day);
    const late = sleep?.lateMornings[weekday] ?? null;
    return { usualWakeMin: sleep ? norm(sleep.usualWakeMin) : null, todayWakeMin: late ? norm(late.usualWakeMin) : null, lastActivityAt: state.lastActivityMs };
  }

  /** The device as the detectors know it; an unknown one triggers a sync first. */
  private device(deviceId: string): DeviceInfo | undefined {
    const known = this.devices.get(deviceId);
    if (known || !this.running) return known;
    this.sync();
    return this.devices.get(deviceId);
  }

  stop(): void {
    if (!this.running) return;
    this.saveState();
    this.running = false;
    this.deps.clock.clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.gate.stop();
    this.inactivity.stop();
    this.checkIns.stop();
    this.health.stop();
    this.environment.stop();
  }

  /**
   * A device event, called inside the transaction that records it (so a
   * fall held for its grace period is as durable as the `received` that
   * follows). `finding` is what the event itself carries (an on-device fall).
   */
  onDeviceEvent(deviceId: string, event: DeviceEvent, atMs: number, finding: Finding | undefined): void {
    const device = this.device(deviceId);
    if (!device) return;
    this.watchHealth(device, () => this.health.seen(deviceId, atMs));
    const subjectId = device.residentIds[0];
    if (event.type === 'fall' && finding && subjectId) this.holdFall({ ...finding, subjectId });
    if (event.type === 'cancel') {
      for (const residentId of device.residentIds) {
        const cancelled = this.gate.cancel(residentId);
        if (cancelled.length > 0) {
          this.deps.logger.info({ deviceId, residentId, falls: cancelled.length }, 'fall cancelled by the resident within the grace period');
          this.command(deviceId, { type: 'beep', pattern: 'short' });
        }
      }
    }
    if (event.type === 'checkIn') {
      for (const residentId of device.residentIds) {
        this.checkIns.checkIn(residentId, atMs);
        if (this.reminders.get(residentId)?.reason === 'checkIn') this.clearReminder(residentId);
      }
    }
    const activity = activityFromEvent(event, device.isExit, atMs);
    if (activity) this.observe(device, activity);
  }

  /** Sensor readings: stored, then to the environment, health and inactivity detectors. */
  onTelemetry(deviceId: string, message: Telemetry, atMs: number): void {
    const device = this.device(deviceId);
    // Gathered for the store's next batch (telemetry-store.ts: a transaction a second, through the storage guard);
    // the detectors see the reading now either way (a CO alarm must not wait for the disk).
    try {
      this.deps.telemetry.append(deviceId, atMs, message.ts, message.readings);
    } catch (err) {
      this.deps.logger.error({ err, deviceId }, 'could not keep a reading');
    }
    if (!device) return;
    this.watchHealth(device, () => {
      this.health.seen(deviceId, atMs);
      if (message.readings.batteryPct !== undefined) {
        this.health.battery(deviceId, message.readings.batteryPct, atMs);
        this.history((h) => h.battery(deviceId, message.readings.batteryPct as number, atMs));
      }
    });
    this.environment.reading(deviceId, message.readings, atMs);
    const previous = this.lastReadings.get(deviceId);
    this.lastReadings.set(deviceId, { ...previous, ...message.readings });
    for (const activity of activitiesFromReadings(device.kind, device.isExit, message.readings, previous, atMs)) this.observe(device, activity);
  }

  /** An accelerometer window from a wearable. */
  onAccel(deviceId: string, window: AccelWindow, atMs: number): void {
    const device = this.device(deviceId);
    if (!device) return;
    this.watchHealth(device, () => this.health.seen(deviceId, atMs));
    const subjectId = device.residentIds[0];
    for (const detection of this.falls.push(deviceId, window)) {
      if (subjectId) this.holdFall({ ...fallFinding(deviceId, detection), subjectId });
    }
  }

  /** A status message: `online` repeated is the device's heartbeat, with its battery. */
  onStatus(deviceId: string, status: DeviceStatus, atMs: number): void {
    const device = status.state === 'online' ? this.device(deviceId) : undefined;
    if (!device) return;
    this.watchHealth(device, () => {
      this.health.seen(deviceId, atMs);
      if (status.batteryPct !== undefined) {
        this.health.battery(deviceId, status.batteryPct, atMs);
        this.history((h) => h.battery(deviceId, status.batteryPct as number, atMs));
      }
    });
  }

  /** Presence from the gateway (status, last will, connection closed). */
  onPresence(deviceId: string, online: boolean, atMs: number, batteryPct?: number): void {
    const device = this.device(deviceId);
    if (!device) return;
    this.history((h) => h.presence(deviceId, online, atMs));
    this.watchHealth(device, () => {
      this.health.presence(deviceId, online, atMs);
      // Offline presence carries the last level the gateway knew: stale, and a
      // battery reading counts as a sign of the device, which would cancel the
      // last will it came with.
      if (online && batteryPct !== undefined) {
        this.health.battery(deviceId, batteryPct, atMs);
        this.history((h) => h.battery(deviceId, batteryPct, atMs));
      }
    });
  }

  /** Away mode set by the resident or the duty staff. */
  setAway(residentId: string, away: boolean, atMs: number): void {
    this.inactivity.setAway(residentId, away, atMs);
    this.checkIns.setAway(residentId, away, atMs);
    if (this.reminders.has(residentId)) this.clearReminder(residentId);
  }

  /** What the detectors say of a resident now (unanswered reminder, still learning); undefined if not watched. */
  residentWatch(residentId: string): ResidentWatch | undefined {
    if (!this.residents.has(residentId)) return undefined;
    const routine = this.inactivity.routineOf(residentId);
    return { reminder: this.reminders.get(residentId)?.reason ?? null, learning: routine !== undefined && !routine.learned };
  }

  /** What is wrong with a device now (offline, low battery, never seen), as the health detector sees it; null when fine or unknown. */
  deviceProblem(deviceId: string): 'offline' | 'lowBattery' | 'neverSeen' | null {
    return this.health.problemOf(deviceId);
  }

  /** Runs device-health input and tells the map when the device's problem changed. */
  private watchHealth(device: DeviceInfo, run: () => void): void {
    const before = this.health.problemOf(device.deviceId);
    run();
    if (this.health.problemOf(device.deviceId) !== before) this.deps.onWatchChanged?.([...device.residentIds]);
  }

  private noteReminder(residentId: string, reason: 'inactivity' | 'checkIn'): void {
    const silenceSinceMs = reason === 'inactivity' ? this.inactivity.watchOf(residentId)?.sinceMs : undefined;
    this.reminders.set(residentId, { reason, ...(silenceSinceMs !== undefined ? { silenceSinceMs } : {}) });
    this.deps.onWatchChanged?.([residentId]);
  }

  private clearReminder(residentId: string): void {
    if (this.reminders.delete(residentId)) this.deps.onWatchChanged?.([residentId]);
  }

  /** A bed sensor of the person's home said "occupied" in its last reading (unknown after a restart until it reports: not in bed). */
  private inBed(residentId: string): boolean {
    for (const d of this.devices.values()) {
      if (d.kind === 'bedSensor' && d.residentIds.includes(residentId) && this.lastReadings.get(d.deviceId)?.occupancy === true) return true;
    }
    return false;
  }

  private askAfterRollOver(finding: Finding): void {
    this.deps.logger.info({ deviceId: finding.deviceId, eventId: finding.eventId }, 'fall detected while the bed is occupied: taken for rolling over, asked on the device, nobody texted');
    this.command(finding.deviceId, { type: 'beep', pattern: 'long' });
    this.command(finding.deviceId, { type: 'remind', reason: 'fall' });
  }

  private holdFall(finding: Finding): void {
    if (this.gate.hold(finding, this.deps.fallGraceMs)) {
      this.deps.logger.warn({ deviceId: finding.deviceId, eventId: finding.eventId }, 'fall detected: waiting out the grace period');
      // The device beeps so the person knows an alarm is about to go out and can cancel it.
      this.command(finding.deviceId, { type: 'beep', pattern: 'alarm' });
    }
  }

  private observe(device: DeviceInfo, activity: Activity): void {
    // Each device (and each kind of reading of it) is its own sensor: the detector learns which ones are on the way to bed.
    const sensed: Activity = { ...activity, sensorId: activity.sensorId ?? `${device.deviceId}:${activity.source}` };
    for (const residentId of device.residentIds) {
      // The card's chart counts what the detector took for a sign of life (not a PIR's own "clear", not a stuck sensor).
      if (this.inactivity.observe(residentId, sensed)) this.deps.activity?.record(residentId, device.timeZone, Math.min(activity.atMs, this.deps.clock.nowMs()));
      // A sign of life starts a new silence: the inactivity reminder is answered.
      const reminder = this.reminders.get(residentId);
      if (reminder?.reason === 'inactivity' && this.inactivity.watchOf(residentId)?.sinceMs !== reminder.silenceSinceMs) this.clearReminder(residentId);
    }
  }

  private onOutput(output: DetectorOutput): void {
    const now = this.deps.clock.nowMs();
    try {
      switch (output.type) {
        case 'alarm': {
          // A detector says a thing once: while the database cannot write, its finding waits and is raised when it can.
          this.durably(
            `${output.finding.kind} alarm`,
            () => this.deps.store.raiseFinding(output.finding, now),
            {},
            (result) => {
              if (result.duplicate) return;
              this.deps.logger.warn({ kind: output.finding.kind, deviceId: output.finding.deviceId, alarmId: result.alarmId }, 'detector raised an alarm');
              this.deps.onAlarmsChanged([result.alarmId]);
            },
          );
          // The reminder went unanswered: it is the alarm now.
          const subjectId = output.finding.subjectId;
          if (subjectId && (output.finding.kind === 'inactivity' || output.finding.kind === 'missedCheckIn')) this.clearReminder(subjectId);
          return;
        }
        case 'remind':
          for (const deviceId of output.deviceIds) this.command(deviceId, { type: 'remind', reason: output.reason });
          this.noteReminder(output.subjectId, output.reason);
          return;
        case 'cleared': {
          const residentId = output.subjectId ?? this.devices.get(output.deviceId)?.residentIds[0];
          if (!residentId) return;
          this.durably('case note', () => this.deps.store.noteOnActiveCase(residentId, output.kind, output.reason, now), {}, (alarmId) => {
            if (alarmId) this.deps.onAlarmsChanged([alarmId]);
          });
          return;
        }
      }
    } catch (err) {
      this.deps.logger.error({ err, output: output.type }, 'detector output could not be handled');
    }
  }

  /**
   * Runs a write now, or when the database can take it (locked, full): `then`
   * with its result, synchronously when it committed at once. A failure is
   * logged, never thrown into the detectors.
   */
  private durably<T>(label: string, fn: () => T, options: WriteOptions = {}, then?: (value: T) => void): void {
    const writes = this.deps.writes ?? immediateWrites;
    const fail = (err: unknown) => {
      // Dropped telemetry is counted and logged once by the storage guard, not once per reading.
      if (options.droppable && err instanceof StorageError) return;
      this.deps.logger.error({ err, write: label }, options.droppable ? 'could not store a reading or history line' : 'could not record what a detector found');
    };
    let attempt: Attempt<T>;
    try {
      // A reading or a history line waits for the next grouped commit (one fsync for many); what a detector found commits now.
      attempt = options.droppable ? { pending: writes.write(label, fn, options) } : writes.attempt(label, fn, options);
    } catch (err) {
      fail(err);
      return;
    }
    const done = (value: T) => {
      try {
        then?.(value);
      } catch (err) {
        this.deps.logger.error({ err, write: label }, 'handling a recorded write failed');
      }
    };
    if ('pending' in attempt) attempt.pending.then(done, fail);
    else done(attempt.value);
  }

  /** A line of the device's history (presence, battery), when the database can take it. */
  private history(write: (history: SqliteDeviceHistory) => void): void {
    const history = this.deps.deviceHistory;
    if (history) this.durably('device history', () => write(history), { droppable: true });
  }

  /** Commands that need no durability (a lost beep or reminder is followed by the alarm itself). */
  private command(deviceId: string, body: { type: 'beep'; pattern: 'short' | 'long' | 'alarm' } | { type: 'remind'; reason: 'checkIn' | 'inactivity' | 'fall' }): void {
    const command = { id: newId('cmd'), ts: this.deps.clock.nowMs(), ...body } as DeviceCommand;
    if (!this.deps.commands.isOnline(deviceId)) return;
    this.deps.commands.publishCommand(deviceId, command).catch((err: unknown) => this.deps.logger.warn({ deviceId, err }, 'command not delivered'));
  }

  private loadState(detector: string, subjectId: string): unknown {
    const row = this.deps.db.prepare('SELECT state_json FROM detector_state WHERE detector = ? AND subject_id = ?').get(detector, subjectId) as { state_json: string } | undefined;
    return row ? (JSON.parse(row.state_json) as unknown) : undefined;
  }

  private saveState(): void {
    const now = this.deps.clock.nowMs();
    const upsert = this.deps.db.prepare(
      'INSERT INTO detector_state (detector, subject_id, state_json, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (detector, subject_id) DO UPDATE SET state_json = excluded.state_json, updated_at = excluded.updated_at',
    );
    try {
      this.deps.db.transaction(() => {
        for (const residentId of this.residents) {
          const state = this.inactivity.exportState(residentId);
          if (state !== undefined) upsert.run('inactivity', residentId, JSON.stringify(state), now);
          const snapshot = this.checkIns.snapshot(residentId);
          if (snapshot !== undefined) upsert.run('checkIn', residentId, JSON.stringify(snapshot), now);
        }
        const seen = this.deps.db.prepare('UPDATE devices SET last_seen_at = MAX(COALESCE(last_seen_at, 0), ?) WHERE id = ?');
        for (const deviceId of this.devices.keys()) {
          const last = this.health.lastSeenMs(deviceId);
          if (last !== undefined) seen.run(last, deviceId);
        }
      })();
    } catch (err) {
      this.deps.logger.error({ err }, 'could not save what the detectors learned');
    }
  }

  private scheduleSave(): void {
    if (!this.running) return;
    this.saveTimer = this.deps.clock.setTimeout(() => {
      this.saveState();
      try {
        this.sync();
      } catch (err) {
        this.deps.logger.error({ err }, 'could not sync the detectors with the registry');
      }
      this.scheduleSave();
    }, SAVE_STATE_EVERY_MS);
  }
}
