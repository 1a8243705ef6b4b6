import { FakeClock } from '@kanjia/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { EscalationScheduler, OutboxWorker, type OutboxItem, type OutboxStore, type SmsMessage, type SmsResult, type SmsSender } from '@kanjia/alerts';

interface Row {
  id: string;
  alarmId: string;
  status: 'pending' | 'sending' | 'sent' | 'failed';
  attempts: number;
  nextAttemptAt: number | null;
  error: string | null;
}

/** The outbox port over an array: the contract SqliteAlarmStore implements. */
class MemoryOutbox implements OutboxStore {
  rows: Row[] = [];
  add(id: string, dueAt: number, status: Row['status'] = 'pending'): void {
    this.rows.push({ id, alarmId: `alm-${id}`, status, attempts: 0, nextAttemptAt: dueAt, error: null });
  }
  claimDueNotifications(nowMs: number, limit: number): OutboxItem[] {
    const due = this.rows.filter((r) => r.status === 'pending' && (r.nextAttemptAt ?? Infinity) <= nowMs).slice(0, limit);
    for (const r of due) r.status = 'sending';
    return due.map((r) => ({ id: r.id, alarmId: r.alarmId, attempts: r.attempts, message: { to: '13800000001', template: 'alarm', kind: 'sos', params: {}, text: 't', outId: r.id } }));
  }
  private row(id: string): Row {
    const r = this.rows.find((x) => x.id === id);
    if (!r) throw new Error(id);
    return r;
  }
  markNotificationSent(id: string): void {
    Object.assign(this.row(id), { status: 'sent', attempts: this.row(id).attempts + 1, nextAttemptAt: null });
  }
  markNotificationRetry(id: string, _now: number, next: number, error: string): void {
    Object.assign(this.row(id), { status: 'pending', attempts: this.row(id).attempts + 1, nextAttemptAt: next, error });
  }
  markNotificationFailed(id: string, _now: number, error: string): void {
    Object.assign(this.row(id), { status: 'failed', attempts: this.row(id).attempts + 1, nextAttemptAt: null, error });
  }
  nextNotificationDueAt(): number | null {
    const due = this.rows.filter((r) => r.status === 'pending').map((r) => r.nextAttemptAt ?? Infinity);
    return due.length === 0 ? null : Math.min(...due);
  }
  requeueInterruptedNotifications(nowMs: number): number {
    const stuck = this.rows.filter((r) => r.status === 'sending');
    for (const r of stuck) Object.assign(r, { status: 'pending', nextAttemptAt: nowMs });
    return stuck.length;
  }
}

class ScriptedSender implements SmsSender {
  readonly name = 'scripted';
  readonly calls: SmsMessage[] = [];
  constructor(private readonly script: SmsResult[]) {}
  async send(message: SmsMessage): Promise<SmsResult> {
    this.calls.push(message);
    return this.script.shift() ?? { ok: true, providerRef: 'biz' };
  }
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('OutboxWorker', () => {
  let worker: OutboxWorker | undefined;
  afterEach(async () => {
    await worker?.stop();
  });

  function setup(script: SmsResult[], maxAttempts = 12) {
    const clock = new FakeClock(1_000_000);
    const store = new MemoryOutbox();
    const sender = new ScriptedSender(script);
    const changed: string[] = [];
    worker = new OutboxWorker({ store, sender, clock, logger: silent, backoff: { initialDelayMs: 5_000, maxDelayMs: 300_000, maxAttempts }, random: () => 0.5, onChange: (id) => changed.push(id) });
    return { clock, store, sender, changed, worker };
  }

  it('sends a due notification at once and marks it sent', async () => {
    const { store, sender, changed, worker } = setup([]);
    store.add('n1', 1_000_000);
    worker.start();
    await worker.idle();
    expect(sender.calls).toHaveLength(1);
    expect(store.rows[0]).toMatchObject({ status: 'sent', attempts: 1 });
    expect(changed).toEqual(['alm-n1']);
  });

  it('retries a throttled SMS after 5 s, then 10 s, and records success', async () => {
    const throttled: SmsResult = { ok: false, kind: 'retryMessage', code: 'isv.BUSINESS_LIMIT_CONTROL', message: 'throttled' };
    const { clock, store, sender, worker } = setup([throttled, throttled]);
    store.add('n1', 1_000_000);
    worker.start();
    await worker.idle();
    expect(store.rows[0]).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: 1_005_000 });
    clock.advance(4_999);
    await worker.idle();
    expect(sender.calls).toHaveLength(1);
    clock.advance(1);
    await flush();
    await worker.idle();
    expect(store.rows[0]).toMatchObject({ status: 'pending', attempts: 2, nextAttemptAt: 1_015_000 });
    clock.advance(10_000);
    await flush();
    await worker.idle();
    expect(sender.calls).toHaveLength(3);
    expect(store.rows[0]).toMatchObject({ status: 'sent', attempts: 3 });
  });

  it('marks a permanent failure failed at once, with its code, and never retries it', async () => {
    const { clock, store, sender, worker } = setup([{ ok: false, kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: 'bad number' }]);
    store.add('n1', 1_000_000);
    worker.start();
    await worker.idle();
    clock.advance(3_600_000);
    await worker.idle();
    expect(sender.calls).toHaveLength(1);
    expect(store.rows[0]).toMatchObject({ status: 'failed', error: 'isv.MOBILE_NUMBER_ILLEGAL: bad number' });
    expect(worker.stats).toEqual({ sent: 0, retried: 0, failed: 1, unprepared: 0 });
  });

  it('gives up after 3 attempts when the provider keeps failing', async () => {
    const down: SmsResult = { ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR', message: 'refused' };
    const { clock, store, worker } = setup([down, down, down, down], 3);
    store.add('n1', 1_000_000);
    worker.start();
    for (let i = 0; i < 5; i++) {
      await worker.idle();
      clock.advance(60_000);
      await flush();
    }
    await worker.idle();
    expect(store.rows[0]).toMatchObject({ status: 'failed', attempts: 3 });
  });

  it('sends again, after a restart, what a crash left in `sending`', async () => {
    const { store, sender, worker } = setup([]);
    store.add('n1', 1_000_000, 'sending');
    worker.start();
    await worker.idle();
    expect(sender.calls).toHaveLength(1);
    expect(store.rows[0]?.status).toBe('sent');
  });

  it('leaves no timer behind after stop()', async () => {
    const { clock, store, worker } = setup([{ ok: false, kind: 'retryMessage', code: 'X', message: 'x' }]);
    store.add('n1', 1_000_000);
    worker.start();
    await worker.idle();
    expect(clock.pendingTimers()).toBe(1);
    await worker.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('EscalationScheduler', () => {
  it('escalates when the earliest case falls due, not before, and reschedules for the next', () => {
    const clock = new FakeClock(0);
    let due: number[] = [300_000, 600_000];
    const escalated: string[][] = [];
    const scheduler = new EscalationScheduler({
      clock,
      logger: silent,
      store: {
        escalateDueAlarms: (now) => {
          const hit = due.filter((t) => t <= now);
          due = due.filter((t) => t > now);
          return hit.map((t) => `alm-${t}`);
        },
        nextEscalationAt: () => (due.length ? Math.min(...due) : null),
      },
      onEscalated: (ids) => escalated.push(ids),
    });
    scheduler.start();
    clock.advance(299_999);
    expect(escalated).toEqual([]);
    clock.advance(1);
    expect(escalated).toEqual([['alm-300000']]);
    clock.advance(300_000);
    expect(escalated).toEqual([['alm-300000'], ['alm-600000']]);
    expect(clock.pendingTimers()).toBe(0);
    scheduler.stop();
  });
});
