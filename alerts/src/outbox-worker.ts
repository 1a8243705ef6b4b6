/**
 * Drains the durable notification outbox (DESIGN.md "Alarms you can trust" §3):
 * every SMS to be sent is a row written in the same transaction as its alarm;
 * this worker sends the rows that are due, retries with backoff, records the
 * final failure where the duty room sees it, and after a restart picks up
 * whatever a crash interrupted.
 *
 * A failure is a verdict on one message or an outage of the channel
 * (SmsFailureKind). A verdict fails or retries that message. An outage — the
 * provider refusing the account or out of reach — condemns no message: the
 * channel pauses, every pending notice is held (no attempt counted; its case's
 * escalation waits for it, see OutboxStore.holdPendingNotifications), one real
 * notice at a time probes the provider with a growing delay, and the first
 * success sends everything waiting. The state is not stored: after a restart
 * the first send is a lone probe and learns it again.
 */
import type { Clock, TimerHandle } from '@kanjia/protocol';
import { maskPhone } from '@kanjia/protocol';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { isOutageKind, type SmsFailureKind, type SmsMessage, type SmsResult, type SmsSender } from './sms/sms-sender.js';

/** A notification row ready to be sent. */
export interface OutboxItem {
  id: string;
  alarmId: string;
  message: SmsMessage;
  /** Failed attempts so far. */
  attempts: number;
  /** Other cases whose notices went in this one message (a bundle): told of the verdict too. */
  alsoAlarmIds?: string[];
}

/** A due row the store could not get ready to send; it stays queued and is tried again later. */
export interface ClaimProblem {
  notificationId: string;
  alarmId: string;
  error: unknown;
}

/** The storage side of the outbox; SqliteAlarmStore implements it. */
export interface OutboxStore {
  /**
   * Marks up to `limit` due rows (pending, next attempt <= now) as sending and
   * returns them. A row that cannot be got ready (a throw while preparing it)
   * must not hold up the others: it is left queued, put off, and reported to
   * `onProblem`.
   */
  claimDueNotifications(nowMs: number, limit: number, onProblem?: (problem: ClaimProblem) => void, channel?: string): OutboxItem[];
  // The verdicts below may return the promise of their commit (a store whose writes wait for a
  // grouped commit, or for a locked database): the worker holds the send's place in its window,
  // and tells onChange, only once it has landed.
  markNotificationSent(id: string, nowMs: number, providerRef: string | null): void | Promise<void>;
  /** Pending again until `nextAttemptAtMs`; `counted` false: the attempt is not counted (the channel held it back itself). */
  markNotificationRetry(id: string, nowMs: number, nextAttemptAtMs: number, error: string, counted?: boolean): void | Promise<void>;
  /**
   * This channel cannot deliver the notice (a permanent failure, the provider's
   * flow control, the last attempt spent): the store moves it to the next
   * channel of its route, or, on its last channel, fails it for good.
   */
  markNotificationFailed(id: string, nowMs: number, error: string): void | Promise<void>;
  /**
   * A send the channel's outage kept from going: back to pending and due,
   * its attempts untouched, `error` as its last error, and held (as by
   * holdPendingNotifications) until it is sent or fails on its own account.
   */
  markNotificationHeld(id: string, nowMs: number, error: string): void | Promise<void>;
  /**
   * The channel is out: every pending row not yet held is held from `nowMs`
   * with `error` as its last error — shown as waiting for the provider, and
   * its case's escalation does not move past it while it waits. Returns the
   * alarm ids of the rows newly held.
   */
  holdPendingNotifications(nowMs: number, error: string, channel?: string): string[];
  /** Earliest next attempt of any pending row, or null when none is pending. */
  nextNotificationDueAt(channel?: string): number | null;
  /** Rows left in `sending` by a crash go back to pending; returns how many. */
  requeueInterruptedNotifications(nowMs: number, channel?: string): number;
}

export interface OutboxLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** How often the provider is tried during an outage: the delay doubles from the first to the longest. */
export interface OutageProbePolicy {
  initialDelayMs: number;
  maxDelayMs: number;
}

/** 5 s after the outage began, then 10, 20, … up to 2 minutes between two probes. */
export const DEFAULT_OUTAGE_PROBE: OutageProbePolicy = { initialDelayMs: 5_000, maxDelayMs: 120_000 };

/**
 * Per-message retries (retryMessage) answered for this many different numbers
 * in a row, with nothing sent in between, are the account's limit rather than
 * each number's: an outage.
 */
export const DEFAULT_OUTAGE_AFTER_RECIPIENTS = 3;

/** The channel is out: since when, and what the provider last answered. */
export interface SmsOutage {
  sinceMs: number;
  kind: 'account' | 'transport';
  /** The provider's code (isv.AMOUNT_NOT_ENOUGH, SignatureDoesNotMatch, SMS_NETWORK_ERROR, …). */
  code: string;
  message: string;
  /** True when the outage was concluded from per-message limits answered for several numbers. */
  inferred: boolean;
  /** Failed probes since it began. */
  probes: number;
}

export interface OutboxWorkerOptions {
  store: OutboxStore;
  sender: SmsSender;
  /**
   * The channel name whose rows this worker sends (notifications.channel):
   * one worker per channel, each with its own window and outage. Undefined:
   * every row (a system with one channel).
   */
  channel?: string;
  clock: Clock;
  logger: OutboxLogger;
  backoff?: BackoffPolicy;
  /** Delays between probes during an outage; default DEFAULT_OUTAGE_PROBE. */
  outageProbe?: OutageProbePolicy;
  /** See DEFAULT_OUTAGE_AFTER_RECIPIENTS. */
  outageAfterRecipients?: number;
  /**
   * Sends under way at most, a continuous window: each send that ends makes
   * room for the next due one (no batch waits for its slowest). Default
   * DEFAULT_SEND_WINDOW; Aliyun allows some concurrency per account.
   */
  concurrency?: number;
  /** Called after a row changed state, with its alarm id (the server pushes the case to the dashboard). */
  onChange?: (alarmId: string) => void;
  /** Called when the channel goes out or its outage changes (the provider's new answer), and with null when it answers again. */
  onOutage?: (outage: SmsOutage | null) => void;
  random?: () => number;
}

export interface OutboxStats {
  sent: number;
  retried: number;
  failed: number;
  /** Sends an outage kept from going (held, no attempt counted). */
  held: number;
  /** Outages of the channel since the start. */
  outages: number;
  /** Claims of a row the store could not get ready to send (each one logged with the notification id). */
  unprepared: number;
  /** Sends the provider's flow control refused (never retried as they were: moved on, see SmsFailureKind `limited`). */
  limited: number;
}

/** Sends under way at most when the channel is up (OutboxWorkerOptions.concurrency). */
export const DEFAULT_SEND_WINDOW = 32;

/**
 * unknown: after the start, until the provider's first answer (one send at a
 * time); up: up to `concurrency` sends under way; out: an outage, probing one
 * notice at a time.
 */
type ChannelState = 'unknown' | 'up' | 'out';

export class OutboxWorker {
  private timer: TimerHandle | undefined;
  private running = false;
  /** The sends under way (each until its verdict is written). */
  private readonly inFlight = new Set<Promise<void>>();
  private filling = false;
  private again = false;
  private kickScheduled = false;
  /** Resolves at stop: a send does not wait past it for its verdict's commit (the storage's own stop decides that one). */
  private stopped: Promise<void> = new Promise(() => undefined);
  private signalStopped: () => void = () => undefined;
  private retryAfterError = false;
  private channel: ChannelState = 'unknown';
  private current: SmsOutage | undefined;
  /** Counts outages: a send that began before the current one cannot prove the provider is back. */
  private epoch = 0;
  /** When the next probe may go (during an outage); at or before now: at the next kick. */
  private probeAtMs = 0;
  /** Numbers answered a per-message retry since the last success (see DEFAULT_OUTAGE_AFTER_RECIPIENTS). */
  private readonly limitedRecipients = new Set<string>();
  readonly stats: OutboxStats = { sent: 0, retried: 0, failed: 0, held: 0, outages: 0, unprepared: 0, limited: 0 };

  constructor(private readonly options: OutboxWorkerOptions) {}

  /** The channel's outage now, if any. */
  outage(): SmsOutage | undefined {
    return this.current === undefined ? undefined : { ...this.current };
  }

  /** Requeues what a crash interrupted and starts sending (the first send alone: it learns whether the provider answers). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.channel = 'unknown';
    this.stopped = new Promise((resolve) => (this.signalStopped = resolve));
    const requeued = this.options.store.requeueInterruptedNotifications(this.options.clock.nowMs(), this.options.channel);
    if (requeued > 0) this.options.logger.warn({ requeued }, 'outbox: notifications interrupted by a restart are sent again');
    this.kick();
  }

  /** Stops scheduling; waits for the sends under way. Idempotent. */
  async stop(): Promise<void> {
    this.running = false;
    this.signalStopped();
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  /** Something was added to the outbox, or a send ended: send what is due, as far as the window has room. */
  kick(): void {
    if (!this.running) return;
    if (this.filling) {
      this.again = true;
      return;
    }
    this.filling = true;
    try {
      do {
        this.again = false;
        this.fill();
      } while (this.again && this.running);
    } finally {
      this.filling = false;
    }
    this.schedule();
  }

  /** Resolves when nothing is being sent right now (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0 || this.kickScheduled) {
      if (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
      // The look that the last send to end asked for (kickSoon) has not run yet.
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Nothing being sent and no look asked for (ChannelOutbox.idle). */
  isIdle(): boolean {
    return this.inFlight.size === 0 && !this.kickScheduled;
  }

  /** The window's size now: one at a time until the provider has answered (after the start, during an outage). */
  private windowSize(): number {
    return this.channel === 'up' ? Math.max(1, this.options.concurrency ?? DEFAULT_SEND_WINDOW) : 1;
  }

  /** Claims due notices for the room left in the window and starts sending them. */
  private fill(): void {
    const { store, clock } = this.options;
    try {
      for (;;) {
        if (!this.running) return;
        if (this.channel === 'out') {
          // Whatever was queued since (a new alarm, an escalation) waits too, and shows so.
          this.holdNew(clock.nowMs());
          if (this.probeAtMs > clock.nowMs()) return;
        }
        const room = this.windowSize() - this.inFlight.size;
        if (room <= 0) return;
        const epoch = this.epoch;
        const items = store.claimDueNotifications(clock.nowMs(), room, (problem) => this.unprepared(problem), this.options.channel);
        if (items.length === 0) return;
        for (const item of items) this.track(this.sendOne(item, epoch));
      }
    } catch (err) {
      // A database error (busy, full) must not take the process down: retry shortly.
      this.options.logger.error({ err }, 'outbox: could not read the outbox; retrying in 5 s');
      this.retryAfterError = true;
    }
  }

  /** Keeps a send's place in the window until it has ended, then lets the next one in. */
  private track(send: Promise<void>): void {
    const tracked: Promise<void> = send
      .catch((err: unknown) => this.options.logger.error({ err }, 'outbox: a send ended unexpectedly'))
      .finally(() => {
        this.inFlight.delete(tracked);
        this.kickSoon();
      });
    this.inFlight.add(tracked);
  }

  /**
   * Sends that end together (their verdicts land in one grouped commit) make one
   * claim for their room, not one each; in the same turn of the event loop,
   * after the promise callbacks already queued: under a flood of events a turn
   * is long, and a freed slot that waited for the next turn sent a fraction of
   * what the provider takes. Also for callers with many new notices in one
   * turn (the cases a grouped commit opened): one claim for all of them.
   */
  kickSoon(): void {
    if (this.kickScheduled) return;
    this.kickScheduled = true;
    queueMicrotask(() => {
      this.kickScheduled = false;
      this.kick();
    });
  }

  private schedule(): void {
    if (!this.running) return;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const probeInMs = this.probeAtMs - this.options.clock.nowMs();
    if (this.channel === 'out' && !this.retryAfterError && probeInMs > 0) {
      // Paused until the next probe. Once it is due, the next notice to fall due is the probe (below).
      this.timer = this.options.clock.setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, probeInMs);
      return;
    }
    // A full window: the next send to end looks again.
    if (this.inFlight.size >= this.windowSize()) return;
    if (this.retryAfterError) {
      this.retryAfterError = false;
      this.timer = this.options.clock.setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, 5_000);
      return;
    }
    let due: number | null;
    try {
      due = this.options.store.nextNotificationDueAt(this.options.channel);
    } catch (err) {
      this.options.logger.error({ err }, 'outbox: could not read the next due time; retrying in 5 s');
      due = this.options.clock.nowMs() + 5_000;
    }
    if (due === null) return;
    // Due already yet not claimed (a notice put off as it was claimed has moved): look again shortly, never spin.
    const delay = due > this.options.clock.nowMs() ? due - this.options.clock.nowMs() : 50;
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, delay);
  }

  /** Holds the pending rows not yet held (the channel is out) and tells the dashboard of their cases. */
  private holdNew(nowMs: number): void {
    const outage = this.current;
    if (outage === undefined) return;
    const alarmIds = this.options.store.holdPendingNotifications(nowMs, outageError(outage), this.options.channel);
    for (const alarmId of alarmIds) this.changed(alarmId, {});
  }

  /** The channel is out: pause, hold every pending notice, tell the system. */
  private enterOutage(kind: 'account' | 'transport', code: string, message: string, inferred: boolean, nowMs: number): void {
    if (this.channel === 'out') return;
    this.channel = 'out';
    this.epoch++;
    this.stats.outages++;
    this.limitedRecipients.clear();
    this.current = { sinceMs: nowMs, kind, code, message, inferred, probes: 0 };
    this.probeAtMs = nowMs + this.probeDelayMs(0);
    this.options.logger.error(
      { channel: this.options.sender.name, kind, code, inferred, error: message, nextProbeAt: new Date(this.probeAtMs).toISOString() },
      'sms provider outage: no SMS can go out; every notice waits (none is failed for it) and the provider is tried with one of them at a time',
    );
    try {
      this.holdNew(nowMs);
    } catch (err) {
      // The rows are held again at the next kick; the outage itself must still be told.
      this.options.logger.error({ err }, 'outbox: could not mark the waiting notices; retried at the next probe');
    }
    this.tellOutage();
  }

  /** A send started during this outage went through: the provider answers again. */
  private recover(nowMs: number): void {
    const outage = this.current;
    this.channel = 'up';
    this.current = undefined;
    this.probeAtMs = 0;
    this.limitedRecipients.clear();
    if (outage === undefined) return;
    this.options.logger.warn(
      { channel: this.options.sender.name, code: outage.code, lastedMs: nowMs - outage.sinceMs, probes: outage.probes },
      'sms provider answers again: every waiting notice of an open case goes out now, the most severe and oldest first',
    );
    this.tellOutage();
  }

  private tellOutage(): void {
    try {
      this.options.onOutage?.(this.outage() ?? null);
    } catch (err) {
      this.options.logger.error({ err }, 'outbox: onOutage listener failed');
    }
  }

  private probeDelayMs(failedProbes: number): number {
    const { initialDelayMs, maxDelayMs } = this.options.outageProbe ?? DEFAULT_OUTAGE_PROBE;
    return Math.min(maxDelayMs, initialDelayMs * 2 ** Math.min(failedProbes, 30));
  }

  private unprepared({ notificationId, alarmId, error }: ClaimProblem): void {
    this.stats.unprepared++;
    this.options.logger.error({ notificationId, alarmId, err: error }, 'outbox: a notification could not be prepared; it stays queued and is tried again later, the others go on');
  }

  private async sendOne(item: OutboxItem, epoch: number): Promise<void> {
    const { sender, clock, logger } = this.options;
    const log = { notificationId: item.id, alarmId: item.alarmId, to: maskPhone(item.message.to), channel: sender.name, attempt: item.attempts + 1 };
    let result: SmsResult;
    try {
      result = await sender.send(item.message);
    } catch (err) {
      // A sender must not throw, but a bug in one must not strand the row in 'sending' (nor pause the channel).
      result = { ok: false, kind: 'retryMessage', code: 'SENDER_THREW', message: (err as Error).message };
    }
    const now = clock.nowMs();
    try {
      // Its place in the window is kept until the verdict is written: a retry is then pending again, with its time.
      const landed = this.record(item, result, epoch, now, log);
      if (landed !== undefined) await Promise.race([landed, this.stopped]);
    } catch (err) {
      logger.error({ ...log, err }, 'outbox: could not record the result of a send');
    }
    this.changed(item.alarmId, log);
    for (const alarmId of item.alsoAlarmIds ?? []) this.changed(alarmId, log);
  }

  /** Writes the verdict of one send and moves the channel's state; returns the verdict's commit when the store gives one. */
  private record(item: OutboxItem, result: SmsResult, epoch: number, now: number, log: object): void | Promise<void> {
    const { store, logger } = this.options;
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
    if (result.ok) {
      const landed = store.markNotificationSent(item.id, now, result.providerRef);
      this.stats.sent++;
      this.limitedRecipients.clear();
      logger.info(log, 'sms sent');
      // A send begun before this outage proves nothing; one begun during it is a probe that went through.
      if (this.channel === 'unknown' || (this.channel === 'out' && epoch === this.epoch)) this.recover(now);
      return landed;
    }
    const error = `${result.code}: ${result.message}`;
    const kind: SmsFailureKind = result.kind;
    if (kind === 'permanent' || kind === 'limited') {
      // Flow control is never retried as it was: the same number, sign and template would spend the day's allowance
      // (the sender has already tried its other templates). Both move the notice to its next channel, if it has one.
      const landed = store.markNotificationFailed(item.id, now, error);
      if (kind === 'limited') this.stats.limited++;
      else this.stats.failed++;
      logger.error(
        { ...log, error },
        kind === 'limited'
          ? "the provider's flow control refused this message: not retried; it moves to the next channel (or the next contact)"
          : 'sms failed for good on this channel: it moves to the next channel (or the next contact)',
      );
      // The provider did answer: during an outage the next probe need not wait.
      if (this.channel === 'out' && epoch === this.epoch) this.probeAtMs = Math.min(this.probeAtMs, now);
      return landed;
    }
    if (kind === 'retryMessage' && result.retryAtMs !== undefined) {
      // The channel says when this one recipient (one group) may be tried again; it says nothing of the channel.
      return this.retryOrFail(item, now, Math.max(result.retryAtMs, now + 1), error, log, result.uncounted !== true, {
        retry: 'not sent now: this recipient waits, the others go on',
        last: 'not sent after its last attempt: it moves to the next channel (or the next contact)',
      });
    }
    if (this.channel !== 'out' && isOutageKind(kind)) {
      this.enterOutage(kind as 'account' | 'transport', result.code, result.message, false, now);
    } else if (this.channel !== 'out') {
      // retryMessage: this number's limit — unless the same is answered for several numbers, then it is the account's.
      this.limitedRecipients.add(recipientKey(item.message.to));
      if (this.limitedRecipients.size >= (this.options.outageAfterRecipients ?? DEFAULT_OUTAGE_AFTER_RECIPIENTS)) {
        this.enterOutage('account', result.code, `${result.message} (answered for ${this.limitedRecipients.size} different numbers, nothing sent in between: the account's limit)`, true, now);
      } else {
        return this.retryOrFail(item, now, now + backoffDelayMs(item.attempts + 1, backoff, this.options.random), error, log, true, {
          retry: 'sms failed, will retry',
          last: 'sms failed for good after its last attempt; the next contact is texted',
        });
      }
    }
    // The channel is out: the message is not judged, it waits.
    const landed = store.markNotificationHeld(item.id, now, error);
    this.stats.held++;
    const outage = this.current;
    if (outage !== undefined && epoch === this.epoch) {
      // A probe: try again later, and say what the provider answers now.
      outage.probes++;
      this.probeAtMs = now + this.probeDelayMs(outage.probes);
      if (outage.code !== result.code) {
        outage.code = result.code;
        outage.message = result.message;
        if (isOutageKind(kind)) outage.kind = kind as 'account' | 'transport';
        this.tellOutage();
      }
    }
    logger.warn({ ...log, error, ...(outage ? { outageSince: new Date(outage.sinceMs).toISOString(), nextProbeAt: new Date(this.probeAtMs).toISOString() } : {}) }, 'sms not sent: the provider is out; the notice waits');
    return landed;
  }

  /**
   * Pending again at `next` while it has attempts left (a hold that is not
   * `counted` always has), else failed for good on this channel.
   */
  private retryOrFail(item: OutboxItem, now: number, next: number, error: string, log: object, counted: boolean, say: { retry: string; last: string }): void | Promise<void> {
    const { store, logger } = this.options;
    if (!counted || item.attempts + 1 < (this.options.backoff ?? DEFAULT_BACKOFF).maxAttempts) {
      const landed = store.markNotificationRetry(item.id, now, next, error, counted);
      this.stats.retried++;
      logger.warn({ ...log, error, nextAttemptAt: new Date(next).toISOString() }, say.retry);
      return landed;
    }
    const landed = store.markNotificationFailed(item.id, now, error);
    this.stats.failed++;
    logger.error({ ...log, error }, say.last);
    return landed;
  }

  private changed(alarmId: string, log: object): void {
    try {
      this.options.onChange?.(alarmId);
    } catch (err) {
      this.options.logger.error({ ...log, err }, 'outbox: onChange listener failed');
    }
  }
}

/** The last error written on every notice an outage holds. */
function outageError(outage: SmsOutage): string {
  return `${outage.code}: ${outage.message}`;
}

/** One key per number whatever its prefix (+86, 86, spaces). */
function recipientKey(phone: string): string {
  return phone.replace(/\D/g, '').slice(-11);
}
