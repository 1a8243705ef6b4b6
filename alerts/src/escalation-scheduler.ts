/**
 * Wakes up when the earliest untaken case is due to climb its contact chain
 * and asks the store to escalate everything that is due. The decision of who
 * is next is `nextEscalationStep` (policy.ts); the store applies it in one
 * transaction with the notification row it creates.
 */
import type { Clock } from '@kanjia/protocol';
import { DueScheduler } from './due-scheduler.js';

export { WATCHDOG_MS } from './due-scheduler.js';

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

export class EscalationScheduler extends DueScheduler {
  constructor(options: EscalationSchedulerOptions) {
    const { store } = options;
    super({
      work: { runDue: (nowMs) => store.escalateDueAlarms(nowMs), nextDueAt: () => store.nextEscalationAt() },
      clock: options.clock,
      logger: options.logger,
      doneMessage: 'alarms escalated to the next contact',
      onDone: options.onEscalated,
    });
  }
}
