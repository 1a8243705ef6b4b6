import { FakeClock } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import { EscalationScheduler, WATCHDOG_MS, type EscalationStore } from '../src/escalation-scheduler.js';

/** A store whose due cases the test sets, as the database's rows would be. */
class Store implements EscalationStore {
  due: Array<{ id: string; at: number }> = [];
  escalated: string[] = [];
  escalateDueAlarms(nowMs: number): string[] {
    const now = this.due.filter((d) => d.at <= nowMs).map((d) => d.id);
    this.due = this.due.filter((d) => d.at > nowMs);
    this.escalated.push(...now);
    return now;
  }
  nextEscalationAt(): number | null {
    return this.due.length === 0 ? null : Math.min(...this.due.map((d) => d.at));
  }
}

const quiet = { info: () => undefined, error: () => undefined };

describe('EscalationScheduler', () => {
  it('wakes at the earliest due case when told of it', () => {
    const clock = new FakeClock(0);
    const store = new Store();
    const onEscalated: string[][] = [];
    const scheduler = new EscalationScheduler({ store, clock, logger: quiet, onEscalated: (ids) => onEscalated.push(ids) });
    scheduler.start();
    store.due.push({ id: 'a1', at: 30_000 });
    scheduler.reschedule();
    clock.advance(29_999);
    expect(store.escalated).toEqual([]);
    clock.advance(1);
    expect(onEscalated).toEqual([['a1']]);
    scheduler.stop();
  });

  it('a case that became due without a reschedule (a result written late, after a lock) is escalated within a minute', () => {
    const clock = new FakeClock(0);
    const store = new Store();
    const scheduler = new EscalationScheduler({ store, clock, logger: quiet, onEscalated: () => undefined });
    scheduler.start();
    // Nothing was due when it last looked; then a write that had waited made a case due, and nobody said so.
    store.due.push({ id: 'a1', at: 5_000 });
    clock.advance(WATCHDOG_MS - 1);
    expect(store.escalated).toEqual([]);
    clock.advance(1);
    expect(store.escalated).toEqual(['a1']);
    // And it keeps looking, however long nothing is due.
    store.due.push({ id: 'a2', at: clock.nowMs() + 1 });
    clock.advance(WATCHDOG_MS);
    expect(store.escalated).toEqual(['a1', 'a2']);
    scheduler.stop();
  });

  it('stop() leaves no timer: nothing is escalated after it', () => {
    const clock = new FakeClock(0);
    const store = new Store();
    const scheduler = new EscalationScheduler({ store, clock, logger: quiet, onEscalated: () => undefined });
    scheduler.start();
    scheduler.stop();
    store.due.push({ id: 'a1', at: 1 });
    clock.advance(10 * WATCHDOG_MS);
    expect(store.escalated).toEqual([]);
  });
});
