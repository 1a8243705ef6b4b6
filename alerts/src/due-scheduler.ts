/**
 * Wakes up when the earliest piece of some durable work is due (a case to
 * escalate, a notice to move to its next channel, an SMS past its delivery
 * deadline), asks the store to do everything due, and sleeps until the next.
 * The store decides in one transaction; this only keeps the time.
 */
import type { Clock, TimerHandle } from '@kanjia/protocol';

export interface DueWork {
  /** Does everything due at `nowMs`; returns the ids of the cases changed. */
  runDue(nowMs: number): string[];
  /** When the next piece falls due, or null when nothing is waiting. */
  nextDueAt(): number | null;
}

export interface DueSchedulerOptions {
  work: DueWork;
  clock: Clock;
  logger: { info(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** What the work is, for the log ("alarms escalated to the next contact"). */
  doneMessage: string;
  /** Called with the ids of the cases changed. */
  onDone: (alarmIds: string[]) => void;
}

/** The longest the scheduler sleeps without looking at the store again. */
export const WATCHDOG_MS = 60_000;

export class DueScheduler {
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(private readonly options: DueSchedulerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  stop(): void {
    this.running = false;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * Something changed that may move the next due time. Never sleeps longer
   * than WATCHDOG_MS: a change that reached the database without a call here
   * (a result written late, after a lock) is still acted on within a minute.
   */
  reschedule(): void {
    if (!this.running) return;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.options.clock.nowMs();
    const due = this.options.work.nextDueAt();
    const delay = Math.min(WATCHDOG_MS, due === null ? WATCHDOG_MS : Math.max(0, due - now));
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, delay);
  }

  private tick(): void {
    if (!this.running) return;
    try {
      const changed = this.options.work.runDue(this.options.clock.nowMs());
      if (changed.length > 0) {
        this.options.logger.info({ alarmIds: changed }, this.options.doneMessage);
        this.options.onDone(changed);
      }
    } catch (err) {
      this.options.logger.error({ err }, `${this.options.doneMessage}: failed; retrying in 5 s`);
      this.timer = this.options.clock.setTimeout(() => this.tick(), 5_000);
      return;
    }
    this.reschedule();
  }
}
