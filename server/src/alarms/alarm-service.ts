/**
 * The alarm path inside the server: a device event becomes a case (exactly
 * once per device event id), the device hears `received` only after the case
 * and its notifications are committed, the dashboard sees every change, and
 * duty-staff actions move the case and tell the device.
 */
import type { EscalationScheduler, OutboxWorker } from '@kanjia/alerts';
import { findingsFromEvent } from '@kanjia/detection';
import type { Finding } from '@kanjia/detection';
import { ACTIVE_STATUSES, type AlarmOutcome, type AlarmView, type DeviceCommand, type DeviceEvent } from '@kanjia/protocol';
import { createHash } from 'node:crypto';
import type { Clock } from '@kanjia/protocol';
import { immediateWrites, type DurableWrites } from '../db/storage-guard.js';
import { storageFault } from '../db/storage-errors.js';
import { newId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { SqliteRegistryStore } from '../registry/registry-store.js';
import type { SqliteAlarmStore, TransitionAction } from './alarm-store.js';
import { DeviceCommandQueue, type CommandPublisher } from './device-commands.js';

export type { CommandPublisher } from './device-commands.js';

/**
 * Events whose `received` is queued and resent until the device acks it: the
 * ones a device resends until it hears `received` (docs/protocol.md). A door
 * event's `received` is sent once.
 */
const QUEUED_RECEIVED: ReadonlySet<DeviceEvent['type']> = new Set(['sos', 'fall', 'checkIn', 'cancel']);

/** Sees every new device event inside the transaction that records it (the detection pipeline). */
export interface DeviceEventObserver {
  onDeviceEvent(deviceId: string, event: DeviceEvent, atMs: number, finding: Finding | undefined): void;
}

/** Where changes go live (socket.io). */
export interface AlarmFeed {
  alarmChanged(alarm: AlarmView): void;
  /** Only `alarm.repeats` (and updatedAt) changed since the case was last sent whole. */
  alarmRepeated(alarm: AlarmView): void;
  devicePresence(deviceId: string, online: boolean, atMs: number, unstable?: boolean): void;
}

/** How steady a device's connection is, as PresenceDebouncer says with each presence change. */
export interface PresenceStability {
  unstable: boolean;
  /** While unstable: until when, if nothing changes. */
  unstableUntilMs?: number;
  /** False when only `unstable` changed. */
  stateChanged: boolean;
}

export interface AlarmServiceDeps {
  store: SqliteAlarmStore;
  registry: SqliteRegistryStore;
  commands: CommandPublisher;
  clock: Clock;
  logger: Logger;
  /** kickSoon, when there, for the cases an event opened: the events of one grouped commit make one claim. */
  outbox: Pick<OutboxWorker, 'kick'> & Partial<Pick<OutboxWorker, 'kickSoon'>>;
  escalation: Pick<EscalationScheduler, 'reschedule'>;
  feed: AlarmFeed;
  /** Where device events and presence are written: kept and retried while the database is locked or full (storage-guard.ts). */
  writes?: DurableWrites;
  /** A case was resolved (the township opens a follow-up visit); a throw is logged, never undoes the resolution. */
  onResolved?: (alarm: AlarmView) => void;
}

export class AlarmService {
  /**
   * Per active case, a digest of the case as last pushed whole, without its
   * repeat count: a change of the count alone then goes as a small
   * `alarm:repeats`, anything else as the whole case (so no page can hold a
   * stale status). Dropped when the case closes.
   */
  private readonly pushed = new Map<string, string>();
  private observer: DeviceEventObserver | undefined;
  /** Commands to devices, resent until acknowledged (device-commands.ts). */
  readonly commandQueue: DeviceCommandQueue;

  /** Connects the detection pipeline (it is built after the service). */
  observeEvents(observer: DeviceEventObserver): void {
    this.observer = observer;
  }

  private readonly writes: DurableWrites;

  constructor(private readonly deps: AlarmServiceDeps) {
    this.writes = deps.writes ?? immediateWrites;
    this.commandQueue = new DeviceCommandQueue({ store: deps.store.commands, publisher: deps.commands, clock: deps.clock, logger: deps.logger });
  }

  /** Starts resending unacknowledged device commands by time. */
  start(): void {
    this.commandQueue.start();
  }

  /** Idempotent: stops the resend timer. */
  stop(): void {
    this.commandQueue.stop();
  }

  /**
   * Handles one validated device event; resolves once the device has been
   * acknowledged. The event is committed before `received` goes out; while
   * the database cannot write it waits, in order, and the device hears
   * `received` when it is committed (or resends, if we die meanwhile).
   */
  async handleEvent(deviceId: string, event: DeviceEvent): Promise<void> {
    const { store, clock, logger } = this.deps;
    // The time it arrived, also when the database takes it only later.
    const now = clock.nowMs();
    if (event.type === 'ack') {
      // The device acted on a command: stop resending it. It is alive (device
      // health), but an ack is no sign of the person (activity.ts); never answered.
      this.commandQueue.acknowledged(deviceId, event.commandId);
      this.observer?.onDeviceEvent(deviceId, event, now, undefined);
      return;
    }
    const [finding] = findingsFromEvent(deviceId, event);
    // A fall the device detected waits out its grace period in the pipeline; an SOS opens a case at once.
    const immediate = finding?.kind === 'fall' && this.observer ? undefined : finding;
    const key = `event:${deviceId}:${event.id}`;
    // The device resent an event that is still waiting for the database: it shares that write's outcome.
    const resentWhileWaiting = this.writes.isQueued(key);
    const receivedId = newId('ack');
    let written: { alarmId: string | null; duplicate: boolean; opened: boolean; cancelled: string | null };
    try {
      // One SQLite transaction: committed (fsync'd) when it returns, with
      // whatever the pipeline held for a grace period, the cancel's note, and
      // the `received` that is resent until the device acknowledges it.
      written = await this.writes.write(
        `device event ${event.type}`,
        () => {
          const r = store.inTransaction(() => {
            const recorded = store.recordEvent(deviceId, event, immediate, now);
            if (!recorded.duplicate) {
              this.observer?.onDeviceEvent(deviceId, event, now, finding);
              // Sent right after this commit: its first resend counts from the commit, not from the arrival (a lock
              // may lie between them), so the resend timer is not set in the past.
              if (QUEUED_RECEIVED.has(event.type)) store.commands.insert(deviceId, recorded.alarmId, receivedFor(receivedId, now, event.id, recorded.alarmId), clock.nowMs(), true);
            }
            return recorded;
          });
          let cancelled: string | null = null;
          if (event.type === 'cancel' && !r.duplicate) {
            try {
              cancelled = store.inTransaction(() => store.noteResidentCancel(deviceId, event.refId, now));
            } catch (err) {
              // The press itself is recorded either way; only a storage fault waits and retries the whole.
              if (storageFault(err) !== undefined) throw err;
              logger.error({ deviceId, eventId: event.id, err }, 'could not note the resident\'s cancel on the case');
            }
          }
          return { ...r, cancelled };
        },
        { key },
      );
    } catch (err) {
      logger.error({ deviceId, eventId: event.id, type: event.type, err }, 'device event not recorded, so not acknowledged: the device resends it');
      return;
    }
    const result = resentWhileWaiting ? { ...written, duplicate: true } : written;
    if (result.cancelled && !result.duplicate) this.publishAlarm(result.cancelled);
    if (result.duplicate) {
      logger.info({ deviceId, eventId: event.id, type: event.type, alarmId: result.alarmId }, 'duplicate device event: acknowledged again');
    } else if (result.opened && result.alarmId) {
      logger.warn({ deviceId, eventId: event.id, kind: finding?.kind, alarmId: result.alarmId }, 'alarm opened');
    }
    if (!result.duplicate && result.alarmId) {
      this.publishAlarm(result.alarmId);
      // A press joining an open case queues no SMS and moves no timer.
      if (result.opened) {
        const { outbox } = this.deps;
        if (outbox.kickSoon) outbox.kickSoon();
        else outbox.kick();
        this.deps.escalation.reschedule();
      }
    }
    // Sent to whoever holds the commands topic now, online or not: the event
    // just came in. A repeat gets the open `received` again, same id.
    const received = receivedFor(receivedId, now, event.id, result.alarmId);
    if (result.duplicate) await this.commandQueue.answerRepeat(deviceId, received);
    else await this.commandQueue.publishNow(deviceId, received);
  }

  /** Applies a duty-staff action, then pushes the case and tells the device. */
  act(alarmId: string, action: TransitionAction, by: string, note?: string, outcome?: AlarmOutcome): AlarmView {
    const { store, clock } = this.deps;
    store.transition(alarmId, action, by, note, clock.nowMs(), outcome);
    this.deps.escalation.reschedule();
    // A cancelled critical case's first SMS was rewritten to say so and is due; a taking or a closing is posted to the duty group.
    this.deps.outbox.kick();
    const view = this.publishAlarm(alarmId);
    if (!view) throw new Error(`alarm ${alarmId} vanished`);
    this.commandQueue.kick();
    if (action === 'resolve' && this.deps.onResolved) {
      try {
        this.deps.onResolved(view);
      } catch (err) {
        this.deps.logger.error({ alarmId, err }, 'after the case was resolved: the follow-up visit could not be opened');
      }
    }
    return view;
  }

  /** Device came online or went offline (debounced: at most once per few seconds), or its connection became unstable or stable again. */
  handlePresence(deviceId: string, online: boolean, atMs: number, firmware?: string, batteryPct?: number, stability: PresenceStability = { unstable: false, stateChanged: true }): void {
    const until = stability.unstableUntilMs ?? null;
    this.writes
      .write('device presence', () => {
        if (stability.stateChanged) this.deps.registry.setPresence(deviceId, online, atMs, firmware, batteryPct, until);
        else this.deps.registry.setUnstable(deviceId, until);
      })
      .catch((err: unknown) => this.deps.logger.warn({ deviceId, online, err }, 'could not record the device\'s presence'));
    this.deps.feed.devicePresence(deviceId, online, atMs, stability.unstable);
    // The commands waiting for it went when it came back (flushCommands, on the raw presence).
  }

  /** The device is back online (raw presence, not debounced): its open commands go now, whatever their backoff. */
  flushCommands(deviceId: string): void {
    this.commandQueue.deviceOnline(deviceId);
  }

  /** Cases changed by the outbox or escalation: push them live. */
  alarmsChanged(alarmIds: Iterable<string>): void {
    for (const id of new Set(alarmIds)) this.publishAlarm(id);
  }

  private publishAlarm(alarmId: string): AlarmView | undefined {
    const view = this.deps.store.view(alarmId);
    if (view) {
      const { repeats: _repeats, updatedAt: _updatedAt, ...rest } = view;
      const digest = createHash('sha256').update(JSON.stringify(rest)).digest('base64');
      const countOnly = view.repeats != null && this.pushed.get(alarmId) === digest;
      if (ACTIVE_STATUSES.includes(view.status)) this.pushed.set(alarmId, digest);
      else this.pushed.delete(alarmId);
      try {
        if (countOnly) this.deps.feed.alarmRepeated(view);
        else this.deps.feed.alarmChanged(view);
      } catch (err) {
        this.deps.logger.error({ alarmId, err }, 'live feed failed');
      }
    }
    return view;
  }
}

/** The `received` of device event `eventId`, with the case it opened or joined. */
function receivedFor(id: string, ts: number, eventId: string, alarmId: string | null): DeviceCommand & { type: 'received' } {
  return { id, ts, type: 'received', eventId, ...(alarmId ? { alarmId } : {}) };
}
