import { FakeClock } from '@kanjia/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { EscalationScheduler, OutboxWorker, type OutboxItem, type OutboxStore, type SmsMessage, type SmsOutage, type SmsResult, type SmsSender } from '@kanjia/alerts';

interface Row {
  id: string;
  alarmId: string;
  to: string;
  status: 'pending' | 'sending' | 'sent' | 'failed';
  attempts: number;
  nextAttemptAt: number | null;
  error: string | null;
  /** When an outage first held it; null when not held. */
  heldAt: number | null;
}

/** The outbox port over an array: the contract SqliteAlarmStore implements. */
class MemoryOutbox implements OutboxStore {
  rows: Row[] = [];
  add(id: string, dueAt: number, status: Row['status'] = 'pending', to = '13800000001'): void {
    this.rows.push({ id, alarmId: `alm-${id}`, to, status, attempts: 0, nextAttemptAt: dueAt, error: null, heldAt: null });
  }
  claimDueNotifications(nowMs: number, limit: number): OutboxItem[] {
    const due = this.rows
      .filter((r) => r.status === 'pending' && (r.nextAttemptAt ?? Infinity) <= nowMs)
      .sort((a, b) => (a.nextAttemptAt ?? 0) - (b.nextAttemptAt ?? 0))
      .slice(0, limit);
    for (const r of due) r.status = 'sending';
    return due.map((r) => ({ id: r.id, alarmId: r.alarmId, attempts: r.attempts, message: { to: r.to, template: 'alarm', kind: 'sos', params: {}, text: 't', outId: r.id } }));
  }
  markNotificationHeld(id: string, now: number, error: string): void {
    const r = this.row(id);
    // Behind every notice already due, as the SQLite store does: the next probe takes another one.
    const due = this.rows.filter((x) => x.status === 'pending' && (x.nextAttemptAt ?? Infinity) <= now).map((x) => x.nextAttemptAt ?? 0);
    Object.assign(r, { status: 'pending', nextAttemptAt: Math.max(now, ...due.map((t) => t + 1)), error, heldAt: r.heldAt ?? now });
  }
  holdPendingNotifications(now: number, error: string): string[] {
    const rows = this.rows.filter((r) => r.status === 'pending' && r.heldAt === null);
    for (const r of rows) Object.assign(r, { heldAt: now, error });
    return rows.map((r) => r.alarmId);
  }
  private row(id: string): Row {
    const r = this.rows.find((x) => x.id === id);
    if (!r) throw new Error(id);
    return r;
  }
  markNotificationSent(id: string): void {
    Object.assign(this.row(id), { status: 'sent', attempts: this.row(id).attempts + 1, nextAttemptAt: null, heldAt: null });
  }
  markNotificationRetry(id: string, _now: number, next: number, error: string, counted = true): void {
    Object.assign(this.row(id), { status: 'pending', attempts: this.row(id).attempts + (counted ? 1 : 0), nextAttemptAt: next, error, heldAt: null });
  }
  markNotificationFailed(id: string, _now: number, error: string): void {
    Object.assign(this.row(id), { status: 'failed', attempts: this.row(id).attempts + 1, nextAttemptAt: null, error, heldAt: null });
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

  it('a channel that says when to try a recipient again (retryAtMs) is taken at its word, for any number of recipients, without an outage; an uncounted hold spends no attempt', async () => {
    const at = 1_000_000 + 10 * 60_000;
    const hold = (to: string, uncounted: boolean): SmsResult => ({ ok: false, kind: 'retryMessage', code: 'dingtalk.130101', message: `group ${to} throttled`, retryAtMs: at, ...(uncounted ? { uncounted } : {}) });
    const { clock, store, sender, worker } = setup([hold('g1', true), hold('g2', true), hold('g3', true), hold('g4', false)], 3);
    for (const [i, to] of ['g1', 'g2', 'g3', 'g4'].entries()) store.add(`n${i + 1}`, 1_000_000, 'pending', to);
    worker.start();
    await worker.idle();
    // Four different recipients held: per-message retries for three would have been the account's limit, an outage.
    expect(worker.outage()).toBeUndefined();
    expect(store.rows.map((r) => [r.status, r.attempts, r.nextAttemptAt])).toEqual([
      ['pending', 0, at],
      ['pending', 0, at],
      ['pending', 0, at],
      ['pending', 1, at],
    ]);
    clock.advance(10 * 60_000 - 1);
    await flush();
    await worker.idle();
    expect(sender.calls).toHaveLength(4);
    clock.advance(1);
    await flush();
    await worker.idle();
    expect(sender.calls).toHaveLength(8);
    expect(store.rows.every((r) => r.status === 'sent')).toBe(true);
  });

  it('a counted hold on the last attempt fails the notice (a group nobody fixes ends red)', async () => {
    const { store, worker } = setup([{ ok: false, kind: 'retryMessage', code: 'dingtalk.310000', message: 'sign not match', retryAtMs: 2_000_000 }], 1);
    store.add('n1', 1_000_000);
    worker.start();
    await worker.idle();
    expect(store.rows[0]).toMatchObject({ status: 'failed', error: 'dingtalk.310000: sign not match' });
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
    expect(worker.stats).toEqual({ sent: 0, retried: 0, failed: 1, held: 0, outages: 0, unprepared: 0, limited: 0 });
  });

  it('gives up after 3 attempts when the provider keeps refusing this one message', async () => {
    const down: SmsResult = { ok: false, kind: 'retryMessage', code: 'isv.BUSINESS_LIMIT_CONTROL', message: 'limited' };
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

/** A provider whose answer the test switches, like the local SendSms server's modes. */
class SwitchableSender implements SmsSender {
  readonly name = 'switchable';
  readonly calls: SmsMessage[] = [];
  answer: (message: SmsMessage) => SmsResult = () => ({ ok: true, providerRef: 'biz' });
  async send(message: SmsMessage): Promise<SmsResult> {
    this.calls.push(message);
    return this.answer(message);
  }
}

const NO_CREDIT: SmsResult = { ok: false, kind: 'account', code: 'isv.AMOUNT_NOT_ENOUGH', message: '账户余额不足' };
const REFUSED: SmsResult = { ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR', message: 'ECONNREFUSED' };
const LIMITED: SmsResult = { ok: false, kind: 'retryMessage', code: 'isv.BUSINESS_LIMIT_CONTROL', message: '触发业务流控' };
const BAD_NUMBER: SmsResult = { ok: false, kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: '非法手机号' };

describe('OutboxWorker during a provider outage', () => {
  let worker: OutboxWorker | undefined;
  afterEach(async () => {
    await worker?.stop();
  });

  const T0 = 1_000_000;
  function setup(maxAttempts = 3, retryInitialDelayMs = 5_000) {
    const clock = new FakeClock(T0);
    const store = new MemoryOutbox();
    const sender = new SwitchableSender();
    const outages: Array<SmsOutage | null> = [];
    const changed: string[] = [];
    worker = new OutboxWorker({
      store,
      sender,
      clock,
      logger: silent,
      backoff: { initialDelayMs: retryInitialDelayMs, maxDelayMs: 300_000, maxAttempts },
      outageProbe: { initialDelayMs: 5_000, maxDelayMs: 40_000 },
      random: () => 0.5,
      onOutage: (o) => outages.push(o),
      onChange: (id) => changed.push(id),
    });
    /** Moves the fake clock and lets the worker do what fell due. */
    const advance = async (ms: number) => {
      clock.advance(ms);
      await flush();
      await worker!.idle();
    };
    return { clock, store, sender, outages, changed, worker, advance };
  }

  it('holds every notice without counting an attempt, probes one real notice at a time with a doubling delay up to the cap, and sends them all when the provider answers', async () => {
    const { store, sender, outages, worker, advance } = setup();
    sender.answer = () => NO_CREDIT;
    for (const id of ['n1', 'n2', 'n3']) store.add(id, T0);
    worker.start();
    await worker.idle();
    // The first send after the start goes alone: one request, not a burst of three.
    expect(sender.calls.map((m) => m.outId)).toEqual(['n1']);
    expect(outages).toMatchObject([{ kind: 'account', code: 'isv.AMOUNT_NOT_ENOUGH', sinceMs: T0, inferred: false }]);
    expect(store.rows.map((r) => [r.status, r.attempts, r.heldAt])).toEqual([
      ['pending', 0, T0],
      ['pending', 0, T0],
      ['pending', 0, T0],
    ]);
    expect(store.rows.every((r) => r.error === 'isv.AMOUNT_NOT_ENOUGH: 账户余额不足')).toBe(true);

    // Probes at +5 s, +10 s, +20 s, +40 s, then every 40 s: each a real notice, the one waiting longest.
    const probedAt: Array<[number, string]> = [];
    let seen = 1;
    for (let t = 0; t < 200_000; t += 1_000) {
      await advance(1_000);
      for (; seen < sender.calls.length; seen++) probedAt.push([t + 1_000, sender.calls[seen]!.outId]);
    }
    expect(probedAt).toEqual([
      [5_000, 'n2'],
      [15_000, 'n3'],
      [35_000, 'n1'],
      [75_000, 'n2'],
      [115_000, 'n3'],
      [155_000, 'n1'],
      [195_000, 'n2'],
    ]);
    // Far more failures than maxAttempts = 3, and nothing failed or counted.
    expect(store.rows.map((r) => [r.status, r.attempts])).toEqual([
      ['pending', 0],
      ['pending', 0],
      ['pending', 0],
    ]);
    expect(worker.outage()).toMatchObject({ code: 'isv.AMOUNT_NOT_ENOUGH', probes: 7 });

    sender.answer = () => ({ ok: true, providerRef: 'biz' });
    await advance(40_000);
    expect(store.rows.map((r) => [r.status, r.attempts, r.heldAt])).toEqual([
      ['sent', 1, null],
      ['sent', 1, null],
      ['sent', 1, null],
    ]);
    expect(outages.at(-1)).toBeNull();
    expect(worker.outage()).toBeUndefined();
    expect(worker.stats).toMatchObject({ sent: 3, failed: 0, retried: 0, held: 8, outages: 1 });
  });

  it('holds a notice queued during the outage at once, without sending it, and sends it with the rest', async () => {
    const { store, sender, changed, worker, advance } = setup();
    sender.answer = () => REFUSED;
    store.add('n1', T0);
    worker.start();
    await worker.idle();
    expect(worker.outage()).toMatchObject({ kind: 'transport', code: 'SMS_NETWORK_ERROR' });
    store.add('late', T0 + 1_000);
    await advance(1_000);
    worker.kick();
    await worker.idle();
    expect(sender.calls).toHaveLength(1);
    expect(store.rows.find((r) => r.id === 'late')).toMatchObject({ status: 'pending', heldAt: T0 + 1_000 });
    expect(changed).toContain('alm-late');
    sender.answer = () => ({ ok: true, providerRef: 'biz' });
    await advance(4_000);
    expect(store.rows.map((r) => r.status)).toEqual(['sent', 'sent']);
  });

  it('says what the provider answers now when a probe meets another error, keeping when the outage began', async () => {
    const { sender, store, outages, worker, advance } = setup();
    sender.answer = () => REFUSED;
    store.add('n1', T0);
    worker.start();
    await worker.idle();
    sender.answer = () => ({ ok: false, kind: 'account', code: 'SignatureDoesNotMatch', message: 'signature' });
    await advance(5_000);
    expect(outages.map((o) => o && [o.kind, o.code, o.sinceMs])).toEqual([
      ['transport', 'SMS_NETWORK_ERROR', T0],
      ['account', 'SignatureDoesNotMatch', T0],
    ]);
  });

  it('still fails a bad number during an outage (a verdict on that message), and probes the next notice at once', async () => {
    const { sender, store, worker, advance } = setup();
    sender.answer = () => NO_CREDIT;
    store.add('n1', T0, 'pending', '13800000001');
    store.add('n2', T0, 'pending', '13800000002');
    worker.start();
    await worker.idle();
    sender.answer = (m) => (m.to === '13800000002' ? BAD_NUMBER : NO_CREDIT);
    await advance(5_000);
    expect(sender.calls.map((m) => m.outId)).toEqual(['n1', 'n2', 'n1']);
    expect(store.rows.map((r) => [r.id, r.status])).toEqual([
      ['n1', 'pending'],
      ['n2', 'failed'],
    ]);
    expect(worker.outage()).toBeDefined();
  });

  it('takes the per-number limit answered for 3 different numbers, nothing sent between, as the account’s: an outage', async () => {
    const { sender, store, outages, worker } = setup();
    sender.answer = () => ({ ok: true, providerRef: 'biz' });
    store.add('warm', T0);
    worker.start();
    await worker.idle();
    sender.answer = () => LIMITED;
    store.add('a', T0, 'pending', '13800000001');
    store.add('b', T0, 'pending', '13800000002');
    worker.kick();
    await worker.idle();
    // Two numbers limited: each its own retry, attempts counted, no outage.
    expect(outages).toEqual([]);
    expect(store.rows.filter((r) => r.id !== 'warm').map((r) => [r.id, r.status, r.attempts, r.heldAt])).toEqual([
      ['a', 'pending', 1, null],
      ['b', 'pending', 1, null],
    ]);
    store.add('c', T0, 'pending', '+86 138 0000 0003');
    worker.kick();
    await worker.idle();
    expect(outages).toMatchObject([{ kind: 'account', code: 'isv.BUSINESS_LIMIT_CONTROL', inferred: true }]);
    expect(store.rows.filter((r) => r.id !== 'warm').map((r) => [r.id, r.attempts, r.heldAt])).toEqual([
      ['a', 1, T0],
      ['b', 1, T0],
      ['c', 0, T0],
    ]);
  });

  it('does not take one number’s limit, however often, for an outage', async () => {
    const { sender, store, outages, worker, advance } = setup(20);
    sender.answer = () => LIMITED;
    store.add('a', T0, 'pending', '13800000001');
    store.add('b', T0 + 1, 'pending', '13800000001');
    worker.start();
    for (let i = 0; i < 10; i++) await advance(60_000);
    expect(outages).toEqual([]);
    expect(store.rows.every((r) => r.attempts > 3 && r.heldAt === null)).toBe(true);
  });

  it('is not told the provider is back by a send that began before the outage did', async () => {
    const { sender, store, worker } = setup();
    store.add('warm', T0);
    worker.start();
    await worker.idle();
    // Two sends of one batch: the first answers the outage, the second (already under way) succeeds.
    const answers: SmsResult[] = [REFUSED, { ok: true, providerRef: 'biz' }];
    sender.answer = () => answers.shift() ?? REFUSED;
    store.add('x', T0);
    store.add('y', T0);
    worker.kick();
    await worker.idle();
    expect(store.rows.map((r) => [r.id, r.status])).toEqual([
      ['warm', 'sent'],
      ['x', 'pending'],
      ['y', 'sent'],
    ]);
    expect(worker.outage()).toMatchObject({ code: 'SMS_NETWORK_ERROR' });
  });

  it('probes with a notice that was in retry backoff when the outage began, once it falls due, with nothing else to wake the worker', async () => {
    const { sender, store, worker, advance } = setup(12, 60_000);
    sender.answer = () => LIMITED;
    store.add('later', T0, 'pending', '13800000009');
    worker.start();
    await worker.idle();
    expect(store.rows[0]).toMatchObject({ status: 'pending', attempts: 1, nextAttemptAt: T0 + 60_000 });
    // An outage begins with another notice, whose number then turns out bad at the first probe.
    sender.answer = () => REFUSED;
    store.add('bad', T0, 'pending', '13800000001');
    worker.kick();
    await worker.idle();
    expect(worker.outage()).toBeDefined();
    sender.answer = (m) => (m.to === '13800000001' ? BAD_NUMBER : { ok: true, providerRef: 'biz' });
    await advance(5_000);
    expect(store.rows.map((r) => [r.id, r.status])).toEqual([
      ['later', 'pending'],
      ['bad', 'failed'],
    ]);
    // Nothing is due until the held notice's own time: then it is the probe, and the outage ends.
    await advance(55_000);
    expect(store.rows.map((r) => [r.id, r.status])).toEqual([
      ['later', 'sent'],
      ['bad', 'failed'],
    ]);
    expect(worker.outage()).toBeUndefined();
  });

  it('after a restart learns the outage again from its first send, and leaves no timer after stop()', async () => {
    const { clock, sender, store, worker } = setup();
    sender.answer = () => REFUSED;
    store.add('n1', T0, 'sending');
    store.add('n2', T0);
    worker.start();
    await worker.idle();
    expect(sender.calls).toHaveLength(1);
    expect(worker.outage()).toBeDefined();
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
    // Nothing due: only the watchdog that looks again within a minute (escalation-scheduler.test.ts).
    expect(clock.pendingTimers()).toBe(1);
    scheduler.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('OutboxWorker: the continuous send window', () => {
  /** A sender whose every send waits until the test answers it. */
  class HandSender implements SmsSender {
    readonly name = 'hand';
    readonly open = new Map<string, (r: SmsResult) => void>();
    maxOpen = 0;
    send(message: SmsMessage): Promise<SmsResult> {
      return new Promise((resolve) => {
        this.open.set(message.outId, (r) => {
          this.open.delete(message.outId);
          resolve(r);
        });
        this.maxOpen = Math.max(this.maxOpen, this.open.size);
      });
    }
    answer(id: string, r: SmsResult = { ok: true, providerRef: `biz-${id}` }): void {
      const f = this.open.get(id);
      if (!f) throw new Error(`${id} is not with the provider`);
      f(r);
    }
  }
  const until = async (what: string, cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await flush();
    if (!cond()) throw new Error(`timed out waiting for ${what}`);
  };
  let worker: OutboxWorker | undefined;
  afterEach(async () => {
    for (const answer of sender?.open.values() ?? []) answer({ ok: true, providerRef: 'end' });
    await worker?.stop();
  });
  let sender: HandSender | undefined;

  function setup(concurrency: number, rows: number) {
    const clock = new FakeClock(1_000_000);
    const store = new MemoryOutbox();
    for (let i = 1; i <= rows; i++) store.add(`n${i}`, 1_000_000 - rows + i);
    sender = new HandSender();
    worker = new OutboxWorker({ store, sender, clock, logger: silent, concurrency, random: () => 0.5 });
    return { store, sender, worker };
  }

  it('never has more sends under way than its window, and a slow send does not hold up the others', async () => {
    const { store, sender, worker } = setup(3, 8);
    worker.start();
    // The first send learns whether the provider answers: alone.
    await until('the first send', () => sender.open.size === 1);
    sender.answer('n1');
    await until('the window full', () => sender.open.size === 3);
    expect([...sender.open.keys()]).toEqual(['n2', 'n3', 'n4']);
    // n2 hangs at the provider; n3 and n4 answer: n5 and n6 go at once, without waiting for n2.
    sender.answer('n3');
    sender.answer('n4');
    await until('the next two', () => sender.open.has('n5') && sender.open.has('n6'));
    expect(sender.open.has('n2')).toBe(true);
    for (const id of ['n2', 'n5', 'n6']) sender.answer(id);
    await until('the rest', () => sender.open.has('n7') && sender.open.has('n8'));
    sender.answer('n7');
    sender.answer('n8');
    await worker.idle();
    expect(sender.maxOpen).toBe(3);
    expect(store.rows.every((r) => r.status === 'sent')).toBe(true);
  });

  it("keeps a send's place until its verdict has landed, and tells onChange only then", async () => {
    const clock = new FakeClock(1_000_000);
    const store = new MemoryOutbox();
    store.add('n1', 1_000_000);
    store.add('n2', 1_000_000);
    let land: (() => void) | undefined;
    const changed: string[] = [];
    // A store whose verdicts wait for a grouped commit, as the server's does.
    const slow: OutboxStore = Object.assign(Object.create(store) as MemoryOutbox, {
      markNotificationSent: (id: string, now: number, ref: string | null) =>
        new Promise<void>((resolve) => {
          land = () => {
            store.markNotificationSent(id);
            resolve();
          };
          void now;
          void ref;
        }),
    });
    sender = new HandSender();
    worker = new OutboxWorker({ store: slow, sender, clock, logger: silent, concurrency: 1, onChange: (id) => changed.push(id) });
    worker.start();
    await until('the first send', () => sender!.open.size === 1);
    sender.answer('n1');
    await until('the verdict written', () => land !== undefined);
    await flush();
    // Sent, not yet recorded: nothing told, and the one-place window stays taken.
    expect(changed).toEqual([]);
    expect(sender.open.size).toBe(0);
    land!();
    await until('n2 sent', () => sender!.open.has('n2'));
    expect(changed).toEqual(['alm-n1']);
    expect(store.rows[0]!.status).toBe('sent');
    land = undefined;
    sender.answer('n2');
    await until('the second verdict', () => land !== undefined);
    land!();
    await worker.idle();
  });
});
