/**
 * Commands to devices that must arrive (`received`, `taken`, `onTheWay`,
 * `resolved`, `cancelled`), resent until the device acknowledges them.
 *
 * The broker's PUBACK path says nothing about the device: with clean sessions a
 * command accepted by the broker the instant the device drops is gone. So each
 * such command is a row (written in the transaction of the change it reports),
 * sent at once, then again after 2 s, 4 s, 8 s … (the delay doubles) and at once
 * whenever the device comes back online, until the device publishes an `ack`
 * event naming the command's id, a newer command of the same case is
 * acknowledged (it carries the news), or the command expires. A device that
 * never acks (firmware before the `ack` event) still gets every command, a few
 * times more than once, and nothing is resent after the expiry.
 */
import type { Clock, DeviceCommand, TimerHandle } from '@kanjia/protocol';
import { transactionRunner, withRelaxedCommit, type Db } from '../db/database.js';
import type { Logger } from '../logger.js';

/** The commands that go through the queue: the ones the alarm path relies on. */
export type QueuedCommandType = 'received' | 'taken' | 'onTheWay' | 'resolved' | 'cancelled';

/**
 * How long a command stays worth resending, from when it was made. `received`:
 * an hour — after that the device, which resends its event until it hears
 * `received`, gets a fresh one for its next copy. The case commands: a day —
 * a device off the network for longer hears the case's next news, or none.
 */
export const COMMAND_TTL_MS: Readonly<Record<QueuedCommandType, number>> = {
  received: 3600_000,
  taken: 24 * 3600_000,
  onTheWay: 24 * 3600_000,
  resolved: 24 * 3600_000,
  cancelled: 24 * 3600_000,
};

/** Delay before the first resend; each later one doubles (2 s, 4 s, 8 s, …: 11 copies in the hour of a `received`). */
export const COMMAND_FIRST_RESEND_MS = 2_000;

/** Ended commands are kept this long (what reached which device, for an investigation), then deleted. */
export const ENDED_COMMANDS_KEPT_MS = 30 * 24 * 3600_000;
const PRUNE_EVERY_MS = 3600_000;

/** Why a command stopped being resent. */
export type CommandEndReason = 'acked' | 'superseded' | 'expired';

/** One open command as stored. */
export interface OpenCommand {
  id: string;
  deviceId: string;
  alarmId: string | null;
  command: DeviceCommand;
  attempts: number;
  createdAt: number;
  expiresAt: number;
  nextAttemptAt: number;
}

interface CommandRow {
  id: string;
  device_id: string;
  alarm_id: string | null;
  payload_json: string;
  attempts: number;
  created_at: number;
  expires_at: number;
  next_attempt_at: number | null;
}

/** Delay after the `attempts`-th copy before the next one. */
export function resendDelayMs(attempts: number): number {
  return COMMAND_FIRST_RESEND_MS * 2 ** Math.max(0, Math.min(attempts - 1, 30));
}

/** True for the command types that are queued and resent. */
export function isQueuedCommand(command: DeviceCommand): command is Extract<DeviceCommand, { type: QueuedCommandType }> {
  return command.type in COMMAND_TTL_MS;
}

/** The device_commands table (migration 11). Synchronous better-sqlite3, like the other stores. */
export class SqliteDeviceCommandStore {
  constructor(private readonly db: Db) {}

  /** Runs `fn` in one transaction (the store's own writes inside it become savepoints): one commit for a batch. */
  inTransaction<T>(fn: () => T): T {
    return transactionRunner(this.db)(fn);
  }

  /** As inTransaction, for the devices' acknowledgements: not fsync'd on its own (withRelaxedCommit: a lost mark means a resend the device recognises). */
  inAckTransaction<T>(fn: () => T): T {
    return withRelaxedCommit(this.db, () => transactionRunner(this.db)(fn));
  }

  /**
   * Writes a command to send; call inside the transaction of the change it
   * reports. `sentNow`: the caller publishes it right after the commit (a
   * `received`), so it counts as the first copy and the first resend is due in 2 s.
   */
  insert(deviceId: string, alarmId: string | null, command: Extract<DeviceCommand, { type: QueuedCommandType }>, nowMs: number, sentNow = false): void {
    const expiresAt = nowMs + COMMAND_TTL_MS[command.type];
    // One kept `received` per device and case: a stuck button's 200 presses of one case are not 200 commands resent
    // (and flushed on every reconnect). An older press whose `received` is so ended is still answered: the device
    // resends it until heard, and a repeat with no open `received` gets a fresh one (answerRepeat).
    if (command.type === 'received' && alarmId !== null) {
      this.db
        .prepare(
          "UPDATE device_commands SET ended_at = ?, end_reason = 'superseded' WHERE device_id = ? AND alarm_id = ? AND ended_at IS NULL AND json_extract(payload_json, '$.type') = 'received'",
        )
        .run(nowMs, deviceId, alarmId);
    }
    this.db
      .prepare(
        'INSERT INTO device_commands (id, device_id, alarm_id, payload_json, created_at, sent_at, expires_at, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(command.id, deviceId, alarmId, JSON.stringify(command), nowMs, sentNow ? nowMs : null, expiresAt, sentNow ? 1 : 0, sentNow ? nowMs + resendDelayMs(1) : nowMs);
  }

  /** Commands not ended (and, given `nowMs`, not expired), oldest first: all devices or one. */
  open(deviceId?: string, nowMs?: number): OpenCommand[] {
    const expiry = nowMs === undefined ? '' : ' AND expires_at > @now';
    const rows = (
      deviceId === undefined
        ? this.db.prepare(`SELECT * FROM device_commands WHERE ended_at IS NULL${expiry} ORDER BY created_at, rowid`).all(nowMs === undefined ? {} : { now: nowMs })
        : this.db.prepare(`SELECT * FROM device_commands WHERE ended_at IS NULL AND device_id = @device${expiry} ORDER BY created_at, rowid`).all({ device: deviceId, ...(nowMs === undefined ? {} : { now: nowMs }) })
    ) as CommandRow[];
    return rows.map(toOpenCommand);
  }

  /** Open, unexpired commands whose next copy is due at `nowMs`, oldest first: all devices or one. */
  due(nowMs: number, deviceId?: string): OpenCommand[] {
    const rows = (
      deviceId === undefined
        ? this.db.prepare('SELECT * FROM device_commands WHERE ended_at IS NULL AND next_attempt_at <= ? AND expires_at > ? ORDER BY created_at, rowid').all(nowMs, nowMs)
        : this.db
            .prepare('SELECT * FROM device_commands WHERE ended_at IS NULL AND device_id = ? AND next_attempt_at <= ? AND expires_at > ? ORDER BY created_at, rowid')
            .all(deviceId, nowMs, nowMs)
    ) as CommandRow[];
    return rows.map(toOpenCommand);
  }

  /** The devices with a command due at `nowMs` (the resend pass reads each one's own afterwards). */
  dueDevices(nowMs: number): string[] {
    const rows = this.db.prepare('SELECT DISTINCT device_id FROM device_commands INDEXED BY device_commands_due WHERE ended_at IS NULL AND next_attempt_at <= ? AND expires_at > ?').all(nowMs, nowMs) as Array<{ device_id: string }>;
    return rows.map((r) => r.device_id);
  }

  /** The open `received` of one device event, if any (a repeated event is answered with it again). */
  openReceived(deviceId: string, eventId: string, nowMs: number): OpenCommand | undefined {
    const row = this.db
      .prepare(
        "SELECT * FROM device_commands WHERE ended_at IS NULL AND device_id = ? AND expires_at > ? AND json_extract(payload_json, '$.type') = 'received' AND json_extract(payload_json, '$.eventId') = ? ORDER BY created_at DESC LIMIT 1",
      )
      .get(deviceId, nowMs, eventId) as CommandRow | undefined;
    return row === undefined ? undefined : toOpenCommand(row);
  }

  /** Records copies just handed to the broker, in one transaction: attempts + 1, the next copy after the doubled delay. */
  recordAttempts(ids: readonly string[], nowMs: number): void {
    if (ids.length === 0) return;
    const update = this.db.prepare(
      `UPDATE device_commands SET attempts = attempts + 1, sent_at = COALESCE(sent_at, @now),
              next_attempt_at = @now + (@first * (1 << MIN(attempts, 30)))
        WHERE id = @id AND ended_at IS NULL`,
    );
    transactionRunner(this.db)(() => {
      for (const id of ids) update.run({ id, now: nowMs, first: COMMAND_FIRST_RESEND_MS });
    });
  }

  /**
   * Ends the commands a device acknowledged, in one transaction; an acked case
   * command also ends the older open case commands of the same case to the same
   * device (a `resolved` heard makes a late `taken` noise). Returns the commands
   * ended, each with its reason; ids the device does not own or already ended are ignored.
   */
  acknowledge(deviceId: string, commandIds: readonly string[], nowMs: number): Array<{ id: string; reason: CommandEndReason }> {
    const ended: Array<{ id: string; reason: CommandEndReason }> = [];
    const find = this.db.prepare('SELECT id, alarm_id, created_at, rowid AS seq, json_extract(payload_json, \'$.type\') AS type FROM device_commands WHERE device_id = ? AND id = ? AND ended_at IS NULL');
    const end = this.db.prepare('UPDATE device_commands SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL');
    const older = this.db.prepare(
      `SELECT id FROM device_commands
        WHERE device_id = ? AND alarm_id = ? AND ended_at IS NULL AND (created_at < ? OR (created_at = ? AND rowid < ?))
          AND json_extract(payload_json, '$.type') <> 'received'`,
    );
    transactionRunner(this.db)(() => {
      for (const commandId of commandIds) {
        const row = find.get(deviceId, commandId) as { id: string; alarm_id: string | null; created_at: number; seq: number; type: string } | undefined;
        if (row === undefined) continue;
        end.run(nowMs, 'acked', row.id);
        ended.push({ id: row.id, reason: 'acked' });
        if (row.type === 'received' || row.alarm_id === null) continue;
        for (const o of older.all(deviceId, row.alarm_id, row.created_at, row.created_at, row.seq) as Array<{ id: string }>) {
          end.run(nowMs, 'superseded', o.id);
          ended.push({ id: o.id, reason: 'superseded' });
        }
      }
    });
    return ended;
  }

  /** Ends every open command past its expiry; returns them. */
  expire(nowMs: number): OpenCommand[] {
    return this.db.transaction(() => {
      const rows = this.db.prepare('SELECT * FROM device_commands WHERE ended_at IS NULL AND expires_at <= ?').all(nowMs) as CommandRow[];
      if (rows.length > 0) this.db.prepare("UPDATE device_commands SET ended_at = ?, end_reason = 'expired' WHERE ended_at IS NULL AND expires_at <= ?").run(nowMs, nowMs);
      return rows.map(toOpenCommand);
    })();
  }

  /** When something next falls due after `nowMs`: a resend or an expiry; null when nothing is open. */
  nextWakeAt(nowMs: number): number | null {
    const row = this.db
      .prepare(
        `SELECT MIN(t) AS t FROM (
           SELECT MIN(next_attempt_at) AS t FROM device_commands WHERE ended_at IS NULL AND next_attempt_at > @now
           UNION ALL SELECT MIN(expires_at) FROM device_commands WHERE ended_at IS NULL)`,
      )
      .get({ now: nowMs }) as { t: number | null };
    return row.t;
  }

  /** Deletes commands that ended before `beforeMs`; returns how many. */
  prune(beforeMs: number): number {
    return this.db.prepare('DELETE FROM device_commands WHERE ended_at IS NOT NULL AND ended_at < ?').run(beforeMs).changes;
  }

  /** How each command ended, for tests and the operator: null while open. */
  endReason(id: string): CommandEndReason | 'published' | null | undefined {
    const row = this.db.prepare('SELECT end_reason FROM device_commands WHERE id = ?').get(id) as { end_reason: CommandEndReason | 'published' | null } | undefined;
    return row?.end_reason;
  }
}

function toOpenCommand(row: CommandRow): OpenCommand {
  return {
    id: row.id,
    deviceId: row.device_id,
    alarmId: row.alarm_id,
    command: JSON.parse(row.payload_json) as DeviceCommand,
    attempts: row.attempts,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    nextAttemptAt: row.next_attempt_at ?? row.created_at,
  };
}

/** How the queue reaches devices (the gateway in the embedded setup). */
export interface CommandPublisher {
  publishCommand(deviceId: string, command: DeviceCommand): Promise<void>;
  isOnline(deviceId: string): boolean;
}

export interface DeviceCommandQueueDeps {
  store: SqliteDeviceCommandStore;
  publisher: CommandPublisher;
  clock: Clock;
  logger: Logger;
}

/**
 * Sends the open commands and resends them until acknowledged or expired.
 * Constructor assigns; start() arms the resend timer; stop() clears it and
 * writes the acknowledgements still batched. Without start() (tests of the
 * alarm service alone) commands still go out on kick() and deviceOnline(),
 * but nothing is resent by time.
 */
export class DeviceCommandQueue {
  private timer: TimerHandle | undefined;
  private timerAt: number | undefined;
  private running = false;
  private stopped = false;
  /** Devices with a send in flight, and whether another pass for them was asked for meanwhile. */
  private readonly inFlight = new Map<string, { again: boolean; all: boolean }>();
  /** Acknowledgements waiting for their batched write. */
  private acks: Array<{ deviceId: string; commandId: string }> = [];
  private ackFlush: ReturnType<typeof setImmediate> | undefined;
  private lastPruneAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly deps: DeviceCommandQueueDeps) {}

  /** Arms the resend timer: what a crash left open goes out as its devices come online. */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.pass();
  }

  /** Idempotent: clears the timer and writes the batched acknowledgements. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.running = false;
    this.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.ackFlush !== undefined) clearImmediate(this.ackFlush);
    this.ackFlush = undefined;
    this.flushAcks();
  }

  /** New commands were written (a case changed): send what is due to the devices that are online. */
  kick(): void {
    if (this.stopped) return;
    this.pass();
  }

  /** The device came (back) online: every open command of it goes out now, whatever its backoff. */
  deviceOnline(deviceId: string): void {
    if (this.stopped) return;
    this.sendOpen(deviceId, true);
  }

  /**
   * Publishes a command now: a `received` stored with `sentNow` in the event's
   * transaction, or a one-shot one (a door event's, a repeat's). Never throws:
   * a queued one is resent, and the device resends its event until it hears `received`.
   */
  async publishNow(deviceId: string, command: DeviceCommand): Promise<boolean> {
    try {
      await this.deps.publisher.publishCommand(deviceId, command);
      return true;
    } catch (err) {
      this.deps.logger.warn({ deviceId, commandId: command.id, type: command.type, err }, 'command not published now; it is resent (or answered again when the device repeats its event)');
      return false;
    } finally {
      // A command just sent is due again at the earliest after the first resend delay: a timer by then is
      // enough (the pass re-arms exactly), no query per event.
      this.arm(this.deps.clock.nowMs() + COMMAND_FIRST_RESEND_MS);
    }
  }

  /**
   * A repeated device event: its open `received` goes out again now (the same
   * id, so the device recognises it), or, when none is open (already
   * acknowledged, expired, or a door event), a fresh one-shot `received`.
   */
  async answerRepeat(deviceId: string, fresh: DeviceCommand & { type: 'received' }): Promise<void> {
    const nowMs = this.deps.clock.nowMs();
    let open: OpenCommand | undefined;
    try {
      open = this.deps.store.openReceived(deviceId, fresh.eventId, nowMs);
    } catch (err) {
      this.deps.logger.error({ deviceId, err }, 'could not read the open received of a repeated event; answering with a fresh one');
    }
    if (open === undefined) {
      await this.publishNow(deviceId, fresh);
      return;
    }
    if (await this.publishNow(deviceId, open.command)) this.recordAttempts([open.id]);
  }

  /** The device's `ack` of command `commandId`; written in a batch with the others of this turn of the event loop. */
  acknowledged(deviceId: string, commandId: string): void {
    if (this.stopped) return;
    this.acks.push({ deviceId, commandId });
    this.ackFlush ??= setImmediate(() => {
      this.ackFlush = undefined;
      this.flushAcks();
    });
  }

  private flushAcks(): void {
    const acks = this.acks;
    this.acks = [];
    if (acks.length === 0) return;
    const nowMs = this.deps.clock.nowMs();
    const byDevice = new Map<string, string[]>();
    for (const a of acks) byDevice.set(a.deviceId, [...(byDevice.get(a.deviceId) ?? []), a.commandId]);
    const ackAll = () => {
      for (const [deviceId, ids] of byDevice) {
        try {
          // A savepoint per device inside the one transaction: one device's failure keeps the others.
          const ended = this.deps.store.acknowledge(deviceId, ids, nowMs);
          const known = new Set(ended.map((e) => e.id));
          this.deps.logger.debug({ deviceId, acked: ended.filter((e) => e.reason === 'acked').length, superseded: ended.filter((e) => e.reason === 'superseded').length, unknown: ids.filter((id) => !known.has(id)).length }, 'device acknowledged commands');
        } catch (err) {
          // Not fatal: the commands are resent, and the device acknowledges them again.
          this.deps.logger.error({ deviceId, err }, 'could not record the acknowledgement of device commands');
        }
      }
    };
    try {
      // Every acknowledgement of this turn in one commit (after a reconnect storm, thousands), not one per device.
      this.deps.store.inAckTransaction(ackAll);
    } catch (err) {
      this.deps.logger.error({ devices: byDevice.size, err }, 'could not record the acknowledgements of device commands; they are resent and acknowledged again');
    }
  }

  /** Expires what is past its time, sends what is due to the devices online, and re-arms the timer. */
  private pass(): void {
    const nowMs = this.deps.clock.nowMs();
    let due: string[] = [];
    try {
      for (const c of this.deps.store.expire(nowMs)) {
        // A `received` is also covered by the device resending its event; a lost `taken` is news the person never heard.
        const level = c.command.type === 'received' ? 'info' : 'warn';
        this.deps.logger[level]({ deviceId: c.deviceId, commandId: c.id, type: c.command.type, attempts: c.attempts }, 'device command expired without an acknowledgement (device offline all that time, or firmware without the ack event)');
      }
      if (nowMs - this.lastPruneAt >= PRUNE_EVERY_MS) {
        this.lastPruneAt = nowMs;
        const pruned = this.deps.store.prune(nowMs - ENDED_COMMANDS_KEPT_MS);
        if (pruned > 0) this.deps.logger.info({ pruned }, 'pruned old ended device commands');
      }
      due = this.deps.store.dueDevices(nowMs);
    } catch (err) {
      this.deps.logger.error({ err }, 'could not read the device command queue; trying again shortly');
      this.arm(nowMs + COMMAND_FIRST_RESEND_MS);
      return;
    }
    for (const deviceId of due) this.sendOpen(deviceId, false);
    this.arm();
  }

  /** Sends one device's due (or, `all`, every open) commands in order, one flight per device at a time. */
  private sendOpen(deviceId: string, all: boolean): void {
    if (!this.deps.publisher.isOnline(deviceId)) return;
    const flight = this.inFlight.get(deviceId);
    if (flight !== undefined) {
      flight.again = true;
      flight.all ||= all;
      return;
    }
    this.inFlight.set(deviceId, { again: false, all: false });
    this.sendBatch(deviceId, all)
      .catch((err: unknown) => this.deps.logger.error({ deviceId, err }, 'device command send failed'))
      .finally(() => {
        const f = this.inFlight.get(deviceId);
        this.inFlight.delete(deviceId);
        if (f?.again && !this.stopped) this.sendOpen(deviceId, f.all);
        else this.arm();
      });
  }

  private async sendBatch(deviceId: string, all: boolean): Promise<void> {
    const nowMs = this.deps.clock.nowMs();
    // This device's own: not every due command of every device once per device (quadratic when many wait).
    const commands = all ? this.deps.store.open(deviceId, nowMs) : this.deps.store.due(nowMs, deviceId);
    const sent: string[] = [];
    try {
      for (const c of commands) {
        if (this.stopped || !this.deps.publisher.isOnline(deviceId)) break;
        try {
          await this.deps.publisher.publishCommand(deviceId, c.command);
        } catch (err) {
          this.deps.logger.warn({ deviceId, commandId: c.id, type: c.command.type, err }, 'command not published; resent later');
        }
        // A copy the broker refused counts too: the delay still doubles, so a broken path is not hammered.
        sent.push(c.id);
        if (c.attempts > 0) this.deps.logger.debug({ deviceId, commandId: c.id, type: c.command.type, copy: c.attempts + 1 }, 'device command resent (no ack yet)');
      }
    } finally {
      this.recordAttempts(sent);
    }
  }

  private recordAttempts(ids: string[]): void {
    try {
      this.deps.store.recordAttempts(ids, this.deps.clock.nowMs());
    } catch (err) {
      this.deps.logger.error({ err, commands: ids.length }, 'could not record device command attempts; they are resent sooner');
    }
  }

  /** Sets the timer for the next resend or expiry (or `atMs`); nothing while not started. */
  private arm(atMs?: number): void {
    if (!this.running) return;
    let wake = atMs;
    if (wake === undefined) {
      try {
        wake = this.deps.store.nextWakeAt(this.deps.clock.nowMs()) ?? undefined;
      } catch (err) {
        this.deps.logger.error({ err }, 'could not read when the next device command is due; trying again shortly');
        wake = this.deps.clock.nowMs() + COMMAND_FIRST_RESEND_MS;
      }
    }
    // At least hourly, for the pruning.
    wake = Math.min(wake ?? Number.POSITIVE_INFINITY, this.deps.clock.nowMs() + PRUNE_EVERY_MS);
    if (this.timer !== undefined && this.timerAt !== undefined && this.timerAt <= wake) return;
    this.deps.clock.clearTimeout(this.timer);
    this.timerAt = wake;
    this.timer = this.deps.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = undefined;
      if (this.running) this.pass();
    }, wake - this.deps.clock.nowMs());
  }
}
