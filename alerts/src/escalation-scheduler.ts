/**
 * Wakes up when the earliest untaken case is due to climb its contact chain
 * and asks the store to escalate everything that is due. The decision of who
 * is next is `nextEscalationStep` (policy.ts); the store applies it in one
 * transaction with the notification row it creates.
 */
import type { Clock, TimerHandle } from '@kanjia/protocol';

export interface EscalationStore {
  /** Escalates every case due at `nowMs`; returns the ids of the cases changed. */
  escalateDueAlarms(nowMs: number): string[];
  /** Earliest escalation time of any untaken case, or null. */
  nextEscalationAt(): number | null;
}

export interface EscalationSchedulerOptions {
  store: EscalationStore;
  clock: Clock;
  logger: { info(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** Called with the ids of escalated cases (new notifications are waiting in the outbox). */
  onEscalated: (alarmIds: string[]) => void;
}

/** The longest the scheduler sleeps without looking at the store again. */
export const WATCHDOG_MS = 60_000;

export class EscalationScheduler {
  private timer: TimerHandle | undefined;
  private running = false;

  constructor(private readonly options: EscalationSchedulerOptions) {}

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
   * A case was opened, taken or closed: the next due time may have changed.
   * Never sleeps longer than WATCHDOG_MS: a change that reached the database
   * without a call here (a result written late, after a lock) is still acted
   * on within a minute.
   */
  reschedule(): void {
    if (!this.running) return;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    const now = this.options.clock.nowMs();
    const due = this.options.store.nextEscalationAt();
    const delay = Math.min(WATCHDOG_MS, due === null ? WATCHDOG_MS : Math.max(0, due - now));
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.tick();
    }, delay);
  }

  private tick(): void {
    if (!this.running) return;
    try {
      const escalated = this.options.store.escalateDueAlarms(this.options.clock.nowMs());
      if (escalated.length > 0) {
        this.options.logger.info({ alarmIds: escalated }, 'alarms escalated to the next contact');
        this.options.onEscalated(escalated);
      }
    } catch (err) {
      this.options.logger.error({ err }, 'escalation failed; retrying in 5 s');
      this.timer = this.options.clock.setTimeout(() => this.tick(), 5_000);
      return;
    }
    this.reschedule();
  }
}
