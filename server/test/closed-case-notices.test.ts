/**
 * What happens to the SMS of a case that is no longer open, through the real
 * SQLite store and the real outbox worker on a fake clock. A provider whose
 * every send waits for the test's verdict puts the cancel or the take at each
 * point of the outbox's claim → send → commit.
 */
import { OutboxWorker, defaultPolicies, type SmsMessage, type SmsResult, type SmsSender } from '@kanjia/alerts';
import { findingsFromEvent } from '@kanjia/detection';
import { FakeClock, type DeviceEvent } from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { oneHousehold, tempDataDir } from './helpers.js';

const KEY = Buffer.alloc(32, 7);
const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);
const MINUTE = 60_000;
const FIRST = '13800000001';
const SECOND = '13800000002';
const THIRD = '13800000003';

/** A provider that holds every SMS until the test says how the send went. */
class GateSender implements SmsSender {
  readonly name = 'gate';
  readonly waiting: Array<{ message: SmsMessage; answer: (r: SmsResult) => void }> = [];
  readonly handed: SmsMessage[] = [];
  private arrived: (() => void) | undefined;
  send(message: SmsMessage): Promise<SmsResult> {
    this.handed.push(message);
    return new Promise((resolve) => {
      this.waiting.push({ message, answer: resolve });
      this.arrived?.();
    });
  }
  /** Resolves once a send is waiting for its verdict. */
  arrival(): Promise<void> {
    if (this.waiting.length > 0) return Promise.resolve();
    return new Promise((resolve) => (this.arrived = resolve));
  }
  /** Answers the oldest send still waiting. */
  answer(result: SmsResult): SmsMessage {
    const next = this.waiting.shift();
    if (!next) throw new Error('no send is waiting');
    next.answer(result);
    return next.message;
  }
}

const OK: SmsResult = { ok: true, providerRef: 'biz-1' };
const FOR_GOOD: SmsResult = { ok: false, kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: 'bad number' };
// The provider's limit of SMS to one number: this message is retried, the others go on.
const AGAIN: SmsResult = { ok: false, kind: 'retryMessage', code: 'isv.BUSINESS_LIMIT_CONTROL', message: 'try later' };

describe('notices of a case that is no longer open', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let store: SqliteAlarmStore;
  let deviceId: string;
  let clock: FakeClock;
  let sender: GateSender;
  let worker: OutboxWorker;
  let logged: Array<{ level: string; obj: Record<string, unknown>; msg: string | undefined }>;

  beforeEach(() => {
    tmp = tempDataDir();
    db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
    const registry = new SqliteRegistryStore(db, KEY, () => T0);
    store = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(5 * MINUTE), locale: 'zh-CN', channel: 'test', publicUrl: 'https://kanjia.example.cn' });
    deviceId = registry.importRegistry(oneHousehold()).devices[0]!.deviceId;
    clock = new FakeClock(T0);
    sender = new GateSender();
    logged = [];
    const log = (level: string) => (obj: object, msg?: string) => logged.push({ level, obj: obj as Record<string, unknown>, msg });
    worker = new OutboxWorker({ store, sender, clock, logger: { info: log('info'), warn: log('warn'), error: log('error') }, random: () => 0.5 });
  });
  afterEach(async () => {
    // Whatever is still with the provider comes back as sent, so stop() can wait for it.
    while (sender.waiting.length > 0) sender.answer(OK);
    await worker.stop();
    db.close();
    tmp.cleanup();
  });

  const sos = (id: string, at = T0): string => {
    const e: DeviceEvent = { id, ts: at - 1000, type: 'sos' };
    return store.recordEvent(deviceId, e, findingsFromEvent(deviceId, e)[0], at).alarmId!;
  };
  const notices = (alarmId: string) => store.view(alarmId)!.notifications.map((n) => [n.contactName, n.escalationLevel, n.status]);
  const notes = (alarmId: string) => store.view(alarmId)!.history.filter((h) => h.action === 'note').map((h) => h.note);
  const tick = () => new Promise((r) => setImmediate(r));
  /** Lets the worker record a verdict and claim what became due, until it is idle or waits for the provider. */
  const settle = async () => {
    await tick();
    await Promise.race([worker.idle(), sender.arrival()]);
    await tick();
  };
  const advance = async (ms: number) => {
    clock.advance(ms);
    await settle();
  };

  describe('taken (M7)', () => {
    it('skips an escalation SMS waiting in retry backoff when the case is taken, with a history note', () => {
      const alarmId = sos('e1');
      const [first] = store.claimDueNotifications(T0, 10);
      store.markNotificationSent(first!.id, T0 + 1000, 'x');
      store.escalateDueAlarms(T0 + 5 * MINUTE);
      const [escalation] = store.claimDueNotifications(T0 + 5 * MINUTE, 10);
      store.markNotificationRetry(escalation!.id, T0 + 5 * MINUTE, T0 + 6 * MINUTE, 'Throttling: retry');
      store.transition(alarmId, 'take', '值班员 李明', undefined, T0 + 5.5 * MINUTE);

      expect(store.claimDueNotifications(T0 + 6 * MINUTE, 10)).toEqual([]);
      expect(notices(alarmId)).toEqual([
        ['刘建军', 0, 'sent'],
        ['赵春梅', 1, 'skipped'],
      ]);
      expect(store.view(alarmId)!.notifications[1]!.lastError).toContain('CASE_TAKEN');
      expect(notes(alarmId)).toEqual(['发给赵春梅的短信未发出：警报已有人接警']);
      expect(store.nextNotificationDueAt()).toBeNull();
    });

    it('still sends the first notice of a taken case (the first contact is told), while escalations are skipped', () => {
      const alarmId = sos('e1');
      const [first] = store.claimDueNotifications(T0, 10);
      store.markNotificationRetry(first!.id, T0, T0 + MINUTE, 'Throttling: retry');
      store.transition(alarmId, 'take', '值班员 李明', undefined, T0 + 30_000);
      expect(store.claimDueNotifications(T0 + MINUTE, 10).map((i) => [i.message.to, i.message.template])).toEqual([[FIRST, 'alarm']]);
    });

    it('an escalation SMS already with the provider when the case is taken: sent is recorded once as sent; a retry is skipped and never handed over again', async () => {
      const alarmId = sos('e1');
      worker.start();
      sender.answer(OK);
      await settle();
      clock.advance(5 * MINUTE);
      store.escalateDueAlarms(clock.nowMs());
      worker.kick();
      expect(sender.waiting.map((w) => [w.message.to, w.message.template])).toEqual([[SECOND, 'escalation']]);
      store.transition(alarmId, 'take', '值班员 李明', undefined, clock.nowMs() + 1000);
      sender.answer(AGAIN);
      await settle();
      await advance(30 * MINUTE);
      expect(sender.handed.map((m) => m.to)).toEqual([FIRST, SECOND]);
      expect(notices(alarmId)).toEqual([
        ['刘建军', 0, 'sent'],
        ['赵春梅', 1, 'skipped'],
      ]);
      expect(notes(alarmId)).toEqual(['发给赵春梅的短信未发出：警报已有人接警']);

      // The same, answered "sent": it went, and it stays recorded as sent.
      const second = sos('e2', clock.nowMs());
      await advance(0);
      worker.kick();
      sender.answer(OK);
      await settle();
      clock.advance(5 * MINUTE);
      store.escalateDueAlarms(clock.nowMs());
      worker.kick();
      store.transition(second, 'take', '值班员 李明', undefined, clock.nowMs());
      sender.answer(OK);
      await settle();
      await advance(30 * MINUTE);
      expect(notices(second)).toEqual([
        ['刘建军', 0, 'sent'],
        ['赵春梅', 1, 'sent'],
      ]);
      expect(sender.handed.map((m) => m.to)).toEqual([FIRST, SECOND, FIRST, SECOND]);
      expect(notes(second)).toEqual([]);
    });
  });

  describe('cancelled critical case (M8): the cancelled notice reaches the first contact not known to have failed', () => {
    const cancel = (alarmId: string, at: number) => store.transition(alarmId, 'cancel', '值班员 李明', '误按', at);

    it('first SMS failed for good, escalation to #2 queued, then cancelled: #2 gets the cancelled notice instead of the escalation', () => {
      const alarmId = sos('e1');
      const [first] = store.claimDueNotifications(T0, 10);
      store.markNotificationFailed(first!.id, T0 + 1000, 'isv.MOBILE_NUMBER_ILLEGAL');
      store.escalateDueAlarms(T0 + 1000);
      cancel(alarmId, T0 + 2000);
      const out = store.claimDueNotifications(T0 + 3000, 10);
      expect(out.map((o) => [o.message.to, o.message.template])).toEqual([[SECOND, 'cancelled']]);
      expect(out[0]!.message.text).toContain('已被值班员李明取消，原因：误按');
      expect(notes(alarmId)).toEqual(['首位联系人的短信发送失败：改为短信告知赵春梅警报已取消及原因']);
    });

    it('first SMS failed for good and cancelled before the escalation was written: a cancelled notice to #2 is written', () => {
      const alarmId = sos('e1');
      const [first] = store.claimDueNotifications(T0, 10);
      store.markNotificationFailed(first!.id, T0 + 1000, 'isv.MOBILE_NUMBER_ILLEGAL');
      cancel(alarmId, T0 + 2000);
      expect(store.escalateDueAlarms(T0 + 3000)).toEqual([]);
      const out = store.claimDueNotifications(T0 + 3000, 10);
      expect(out.map((o) => [o.message.to, o.message.template])).toEqual([[SECOND, 'cancelled']]);
      expect(notices(alarmId)).toEqual([
        ['刘建军', 0, 'failed'],
        ['赵春梅', 1, 'sending'],
      ]);
    });

    it('first SMS with the provider at the cancel, then failed for good: #2 gets the cancelled notice', async () => {
      const alarmId = sos('e1');
      worker.start();
      cancel(alarmId, T0 + 100);
      sender.answer(FOR_GOOD);
      await settle();
      expect(sender.waiting.map((w) => [w.message.to, w.message.template])).toEqual([[SECOND, 'cancelled']]);
      sender.answer(OK);
      await settle();
      await advance(30 * MINUTE);
      expect(sender.handed.map((m) => [m.to, m.template])).toEqual([
        [FIRST, 'alarm'],
        [SECOND, 'cancelled'],
      ]);
      expect(notices(alarmId)).toEqual([
        ['刘建军', 0, 'failed'],
        ['赵春梅', 1, 'sent'],
      ]);
    });

    it('first SMS with the provider at the cancel, then to be retried: the same contact gets the cancelled notice on the retry', async () => {
      const alarmId = sos('e1');
      worker.start();
      cancel(alarmId, T0 + 100);
      sender.answer(AGAIN);
      await settle();
      await advance(MINUTE);
      expect(sender.waiting.map((w) => [w.message.to, w.message.template])).toEqual([[FIRST, 'cancelled']]);
      sender.answer(OK);
      await advance(30 * MINUTE);
      expect(sender.handed.map((m) => [m.to, m.template])).toEqual([
        [FIRST, 'alarm'],
        [FIRST, 'cancelled'],
      ]);
      expect(notices(alarmId)).toEqual([['刘建军', 0, 'sent']]);
    });

    it('first SMS with the provider at the cancel, then sent: the first contact knows, nothing more is sent', async () => {
      const alarmId = sos('e1');
      worker.start();
      cancel(alarmId, T0 + 100);
      sender.answer(OK);
      await settle();
      await advance(30 * MINUTE);
      expect(sender.handed.map((m) => [m.to, m.template])).toEqual([[FIRST, 'alarm']]);
      expect(notices(alarmId)).toEqual([['刘建军', 0, 'sent']]);
    });

    it('#1 and #2 failed for good: #3 gets it; when #3 fails too, the history says nobody could be told', async () => {
      const alarmId = sos('e1');
      worker.start();
      sender.answer(FOR_GOOD);
      await settle();
      store.escalateDueAlarms(clock.nowMs());
      worker.kick();
      cancel(alarmId, clock.nowMs() + 10);
      sender.answer(FOR_GOOD); // the escalation to #2, already with the provider at the cancel
      await settle();
      expect(sender.waiting.map((w) => [w.message.to, w.message.template])).toEqual([[THIRD, 'cancelled']]);
      sender.answer(FOR_GOOD);
      await settle();
      await advance(30 * MINUTE);
      expect(sender.handed.map((m) => m.to)).toEqual([FIRST, SECOND, THIRD]);
      expect(notes(alarmId).at(-1)).toBe('所有联系人的短信均发送失败：无人收到此警报取消的通知，请值班员电话告知');
    });

    it('the first notice in retry backoff and the escalation with the provider at the cancel: #1 gets the cancelled notice, the escalation is not retried', async () => {
      const alarmId = sos('e1');
      worker.start();
      sender.answer(AGAIN);
      await settle();
      clock.advance(5 * MINUTE - 1); // #1's retries keep failing until the escalation is due
      while (sender.waiting.length > 0) {
        sender.answer(AGAIN);
        await settle();
      }
      clock.advance(1);
      store.escalateDueAlarms(clock.nowMs());
      worker.kick();
      const escalation = sender.waiting.find((w) => w.message.template === 'escalation');
      expect(escalation?.message.to).toBe(SECOND);
      cancel(alarmId, clock.nowMs());
      while (sender.waiting.length > 0) {
        sender.answer(sender.waiting[0]!.message.template === 'cancelled' ? OK : AGAIN);
        await settle();
      }
      for (let i = 0; i < 30; i++) {
        await advance(MINUTE);
        while (sender.waiting.length > 0) {
          sender.answer(OK);
          await settle();
        }
      }
      const afterCancel = sender.handed.slice(sender.handed.indexOf(escalation!.message) + 1);
      expect(afterCancel.map((m) => [m.to, m.template])).toEqual([[FIRST, 'cancelled']]);
      const rows = notices(alarmId);
      expect(rows[0]).toEqual(['刘建军', 0, 'sent']);
      expect(rows[1]).toEqual(['赵春梅', 1, 'skipped']);
    });
  });

  describe('the outbox claim (M11)', () => {
    it('a notice that cannot be prepared is logged with its id, counted and tried again later; every other SMS still goes', async () => {
      const closed = sos('e1');
      const [first] = store.claimDueNotifications(T0, 10);
      store.markNotificationSent(first!.id, T0, 'x');
      store.escalateDueAlarms(T0 + 5 * MINUTE);
      const broken = (db.prepare("SELECT id FROM notifications WHERE alarm_id = ? AND escalation_level = 1").get(closed) as { id: string }).id;
      // Unreadable params (a bad upgrade, a hand edit): skipping the notice must blank its code and cannot read it.
      db.prepare("UPDATE notifications SET params_json = '{' WHERE id = ?").run(broken);
      store.transition(closed, 'resolve', '值班员 李明', '已电话确认平安', T0 + 5 * MINUTE);

      clock.advance(5 * MINUTE);
      const next = sos('e2', clock.nowMs());
      worker.start();
      expect(sender.waiting.map((w) => [w.message.to, w.message.template])).toEqual([[FIRST, 'alarm']]);
      sender.answer(OK);
      await settle();
      expect(notices(next)).toEqual([['刘建军', 0, 'sent']]);
      expect(worker.stats.unprepared).toBe(1);
      const line = logged.find((l) => l.level === 'error' && l.obj.notificationId === broken);
      expect(line).toMatchObject({ obj: { notificationId: broken, alarmId: closed } });
      // Tried again a minute later, logged again; never sent, never blocking.
      await advance(MINUTE);
      expect(worker.stats.unprepared).toBe(2);
      expect(sender.handed.map((m) => m.to)).toEqual([FIRST]);
      expect(store.view(closed)!.notifications[1]!.status).toBe('pending');
      // The officer reads it in the case (the resolve itself went through).
      expect(store.view(closed)!.status).toBe('resolved');
      expect(notes(closed).some((n) => n?.startsWith('此警报待发短信的状态更新出错'))).toBe(true);
    });

    it('an unreadable notice of an open case is put off a minute and reported, and the other due SMS are claimed', () => {
      const sosCase = sos('e1');
      const co = store.raiseFinding({ kind: 'co', deviceId, eventId: 'co-1', eventTs: T0, reason: 'CO 320 ppm' }, T0).alarmId;
      const broken = (db.prepare('SELECT id FROM notifications WHERE alarm_id = ?').get(sosCase) as { id: string }).id;
      // JSON.parse quotes what it cannot read: a code or a phone number must not reach the log that way.
      db.prepare("UPDATE notifications SET params_json = 'abcd1234efgh 13800000001' WHERE id = ?").run(broken);
      const problems: Array<{ notificationId: string; alarmId: string; error: unknown }> = [];
      const out = store.claimDueNotifications(T0, 10, (p) => problems.push(p));
      expect(out.map((o) => o.alarmId)).toEqual([co]);
      expect(problems).toEqual([{ notificationId: broken, alarmId: sosCase, error: expect.objectContaining({ code: 'NOTICE_UNPREPARED' }) }]);
      const error = problems[0]!.error as Error;
      expect(`${error.message} ${error.stack}`).not.toMatch(/abcd1234efgh|13800000001/);
      expect(store.view(sosCase)!.notifications[0]).toMatchObject({ status: 'pending', nextAttemptAt: T0 + MINUTE });
      expect(store.nextNotificationDueAt()).toBe(T0 + MINUTE);
    });
  });
});
