/**
 * Drains the durable notification outbox (DESIGN.md "Alarms you can trust" §3):
 * every SMS to be sent is a row written in the same transaction as its alarm;
 * this worker sends the rows that are due, retries with backoff, records the
 * final failure where the duty room sees it, and after a restart picks up
 * whatever a crash interrupted.
 */
import type { Clock, TimerHandle } from '@kanjia/protocol';
import { maskPhone } from '@kanjia/protocol';
import { backoffDelayMs, DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import type { SmsMessage, SmsSender } from './sms/sms-sender.js';

/** A notification row ready to be sent. */
export interface OutboxItem {
  id: string;
  alarmId: string;
  message: SmsMessage;
  /** Failed attempts so far. */
  attempts: number;
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
  claimDueNotifications(nowMs: number, limit: number, onProblem?: (problem: ClaimProblem) => void): OutboxItem[];
  markNotificationSent(id: string, nowMs: number, providerRef: string | null): void;
  markNotificationRetry(id: string, nowMs: number, nextAttemptAtMs: number, error: string): void;
  markNotificationFailed(id: string, nowMs: number, error: string): void;
  /** Earliest next attempt of any pending row, or null when none is pending. */
  nextNotificationDueAt(): number | null;
  /** Rows left in `sending` by a crash go back to pending; returns how many. */
  requeueInterruptedNotifications(nowMs: number): number;
}

export interface OutboxLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface OutboxWorkerOptions {
  store: OutboxStore;
  sender: SmsSender;
  clock: Clock;
  logger: OutboxLogger;
  backoff?: BackoffPolicy;
  /** Rows sent at once; Aliyun allows some concurrency per account. */
  batchSize?: number;
  /** Called after a row changed state, with its alarm id (the server pushes the case to the dashboard). */
  onChange?: (alarmId: string) => void;
  random?: () => number;
}

export interface OutboxStats {
  sent: number;
  retried: number;
  failed: number;
  /** Claims of a row the store could not get ready to send (each one logged with the notification id). */
  unprepared: number;
}

export class OutboxWorker {
  private timer: TimerHandle | undefined;
  private running = false;
  private draining: Promise<void> | undefined;
  private again = false;
  private retryAfterError = false;
  readonly stats: OutboxStats = { sent: 0, retried: 0, failed: 0, unprepared: 0 };

  constructor(private readonly options: OutboxWorkerOptions) {}

  /** Requeues what a crash interrupted and starts sending. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const requeued = this.options.store.requeueInterruptedNotifications(this.options.clock.nowMs());
    if (requeued > 0) this.options.logger.warn({ requeued }, 'outbox: notifications interrupted by a restart are sent again');
    this.kick();
  }

  /** Stops scheduling; waits for the sends under way. Idempotent. */
  async stop(): Promise<void> {
    this.running = false;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.draining;
  }

  /** Something was added to the outbox: send what is due now. */
  kick(): void {
    if (!this.running) return;
    if (this.draining) {
      this.again = true;
      return;
    }
    this.draining = this.drain()
      .catch((err: unknown) => {
        // A database error (busy, full) must not take the process down: retry shortly.
        this.options.logger.error({ err }, 'outbox: could not read the outbox; retrying in 5 s');
        this.retryAfterError = true;
      })
      .finally(() => {
      this.draining = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      } else {
        this.schedule();
      }
    });
  }

  /** Resolves when nothing is being sent right now (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private schedule(): void {
    if (!this.running) return;
    this.options.clock.clearTimeout(this.timer);
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
      due = this.options.store.nextNotificationDueAt();
    } catch (err) {
      this.options.logger.error({ err }, 'outbox: could not read the next due time; retrying in 5 s');
      due = this.options.clock.nowMs() + 5_000;
    }
    if (due === null) return;
    const delay = Math.max(0, due - this.options.clock.nowMs());
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, delay);
  }

  private async drain(): Promise<void> {
    const batchSize = this.options.batchSize ?? 16;
    for (;;) {
      if (!this.running) return;
      const items = this.options.store.claimDueNotifications(this.options.clock.nowMs(), batchSize, (problem) => this.unprepared(problem));
      if (items.length === 0) return;
      await Promise.all(items.map((item) => this.sendOne(item)));
    }
  }

  private unprepared({ notificationId, alarmId, error }: ClaimProblem): void {
    this.stats.unprepared++;
    this.options.logger.error({ notificationId, alarmId, err: error }, 'outbox: a notification could not be prepared; it stays queued and is tried again later, the others go on');
  }

  private async sendOne(item: OutboxItem): Promise<void> {
    const { store, sender, clock, logger } = this.options;
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
    const log = { notificationId: item.id, alarmId: item.alarmId, to: maskPhone(item.message.to), channel: sender.name, attempt: item.attempts + 1 };
    let result;
    try {
      result = await sender.send(item.message);
    } catch (err) {
      // A sender must not throw, but a bug in one must not strand the row in 'sending'.
      result = { ok: false as const, kind: 'retryMessage' as const, code: 'SENDER_THREW', message: (err as Error).message };
    }
    const now = clock.nowMs();
    try {
      if (result.ok) {
        store.markNotificationSent(item.id, now, result.providerRef);
        this.stats.sent++;
        logger.info(log, 'sms sent');
      } else {
        const attempts = item.attempts + 1;
        const error = `${result.code}: ${result.message}`;
        if (result.kind !== 'permanent' && attempts < backoff.maxAttempts) {
          const next = now + backoffDelayMs(attempts, backoff, this.options.random);
          store.markNotificationRetry(item.id, now, next, error);
          this.stats.retried++;
          logger.warn({ ...log, error, nextAttemptAt: new Date(next).toISOString() }, 'sms failed, will retry');
        } else {
          store.markNotificationFailed(item.id, now, error);
          this.stats.failed++;
          logger.error({ ...log, error }, 'sms failed for good');
        }
      }
    } catch (err) {
      logger.error({ ...log, err }, 'outbox: could not record the result of a send');
    }
    try {
      this.options.onChange?.(item.alarmId);
    } catch (err) {
      logger.error({ ...log, err }, 'outbox: onChange listener failed');
    }
  }
}
