/**
 * The SMS reminder the evening before visits fall due (issue 11,
 * docs/township.md "The visit reminder"), on a real SQLite database and a fake
 * clock: at 18:00 village time each helper whose people are due tomorrow gets
 * one SMS listing them; never twice for a day; none for people who left or
 * were visited; a village in Asia/Urumqi at its own 18:00; failures retried
 * twice, 10 minutes apart. Then through the real system: a reminder decided
 * but not sent (a crash) goes out at the next start, once; and through
 * Aliyun's local stand-in, with its own template code and variables.
 */
import { AliyunSmsSender, SMS_NOTICE_TEMPLATES, SMS_TEMPLATES, type SmsMessage, type SmsNotice, type SmsNoticeKey, type SmsNoticeSender, type SmsResult, type SmsSender } from '@kanjia/alerts';
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { CreateVisitBody, DEFAULT_VISIT_FREQUENCY, FakeClock, maskPhone, VisitRemindersAnswer, type RegistryFileInput } from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem } from '../src/system.js';
import { SqliteTownshipStore } from '../src/township/township-store.js';
import { REMINDER_RETRY_MS, SqliteVisitReminderStore } from '../src/township/visit-reminder-store.js';
import { VisitReminders } from '../src/township/visit-reminders.js';
import { reminderFailureReason } from '../src/township/reminder-reasons.js';
import { settingsProblems, systemClient, tempDataDir } from './helpers.js';
import { visitBody } from './township-helpers.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** 2026-12-02 17:59 in Asia/Shanghai (15:59 in Asia/Urumqi). */
const EVE = Date.UTC(2026, 11, 2, 9, 59);
const LIU = '13800000001';
const CHEN = '13800000005';
const ZHANG_WEI = '13900000001';

/**
 * 石门村 (Asia/Shanghai): 王秀英 (especially difficult, joined 11-26: due 12-03) and 张德福 (ordinary, joined 11-18: due
 * 12-03), both helped by 刘建军; 张德福 also by 陈明, who helps 李桂兰 (due 12-03, leaves today) and 赵大爷 (due 12-03,
 * visited today); 孙奶奶 (due 12-05) by 刘建军. 天山村 (Asia/Urumqi): 阿依古丽 (due 12-03 there) by 张伟.
 */
function registryFile(): RegistryFileInput {
  const person = (name: string, careLevel: 'ordinary' | 'especiallyDifficult', joinedOn: string, helpers: Array<[string, string]>) => ({
    name,
    careLevel,
    joinedOn,
    contacts: [...helpers.map(([n, phone]) => ({ name: n, role: 'helper' as const, phone })), { name: '村医', role: 'doctor' as const, phone: '13800000002' }],
  });
  return {
    villages: [
      {
        name: '石门村',
        timezone: 'Asia/Shanghai',
        lat: 27.11,
        lng: 111.03,
        households: [
          { address: '一组1号', lat: 27.1, lng: 111.0, residents: [person('王秀英', 'especiallyDifficult', '2026-11-26', [['刘建军', LIU]])], devices: [] },
          { address: '一组2号', lat: 27.1, lng: 111.0, residents: [person('张德福', 'ordinary', '2026-11-18', [['刘建军', LIU], ['陈明', CHEN]])], devices: [] },
          { address: '一组3号', lat: 27.1, lng: 111.0, residents: [person('李桂兰', 'ordinary', '2026-11-18', [['陈明', CHEN]])], devices: [] },
          { address: '一组4号', lat: 27.1, lng: 111.0, residents: [person('赵大爷', 'ordinary', '2026-11-18', [['陈明', CHEN]])], devices: [] },
          { address: '一组5号', lat: 27.1, lng: 111.0, residents: [person('孙奶奶', 'ordinary', '2026-11-20', [['刘建军', LIU]])], devices: [] },
        ],
      },
      {
        name: '天山村',
        timezone: 'Asia/Urumqi',
        lat: 43.8,
        lng: 87.6,
        households: [{ address: '二组7号', lat: 43.8, lng: 87.6, residents: [person('阿依古丽', 'ordinary', '2026-11-18', [['张伟', ZHANG_WEI]])], devices: [] }],
      },
    ],
  };
}

/** A primary SMS sender that keeps every notice; `answer` decides each (default: accepted). */
class NoticeRecorder implements SmsSender, SmsNoticeSender {
  readonly name = 'recorder';
  readonly notices: SmsNotice[] = [];
  answer: (notice: SmsNotice) => SmsResult = () => ({ ok: true, providerRef: `ref-${this.notices.length}` });
  async send(_message: SmsMessage): Promise<SmsResult> {
    return { ok: true, providerRef: null };
  }
  canSendNotice(template: SmsNoticeKey): boolean {
    return template === 'visitReminder';
  }
  async sendNotice(notice: SmsNotice): Promise<SmsResult> {
    this.notices.push(notice);
    return this.answer(notice);
  }
  to(phone: string): SmsNotice[] {
    return this.notices.filter((n) => n.to === phone);
  }
}

interface World {
  db: Db;
  clock: FakeClock;
  registry: SqliteRegistryStore;
  township: SqliteTownshipStore;
  store: SqliteVisitReminderStore;
  id: (name: string) => string;
}

function world(dir: string, startMs: number): World {
  const clock = new FakeClock(startMs);
  const db = openDatabase(`${dir}/kanjia.sqlite`);
  const registry = new SqliteRegistryStore(db, Buffer.alloc(32, 1), () => clock.nowMs());
  const township = new SqliteTownshipStore(db, registry, () => clock.nowMs(), DEFAULT_VISIT_FREQUENCY);
  return { db, clock, registry, township, store: new SqliteVisitReminderStore(db, registry, township), id: (name) => registry.residents({}).find((r) => r.name === name)!.id };
}

function reminders(w: World, sender: NoticeRecorder): VisitReminders {
  return new VisitReminders({ store: w.store, sender, hour: 18, zones: () => w.registry.villages().map((v) => v.timezone), clock: w.clock, logger: createLogger(process.env.DEBUG_REMINDERS ? 'debug' : 'silent'), locale: 'zh-CN' });
}

describe('the visit reminder at 18:00 village time', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let w: World;
  const running: VisitReminders[] = [];

  beforeEach(() => {
    tmp = tempDataDir();
    w = world(tmp.dir, EVE);
    w.registry.importRegistry(registryFile());
    const actor = { userId: null, name: '民政办 张红' };
    w.township.leave(w.id('李桂兰'), { reason: 'movedToChildren', date: '2026-12-02' }, actor);
    w.township.addVisit(w.id('赵大爷'), { ...visitBody(), at: EVE - 2 * HOUR } as CreateVisitBody, actor);
  });

  afterEach(async () => {
    for (const r of running.splice(0)) await r.stop();
    w.db.close();
    tmp.cleanup();
  });

  function start(sender: NoticeRecorder): VisitReminders {
    const r = reminders(w, sender);
    running.push(r);
    r.start();
    return r;
  }

  /** Moves the clock `step` at a time, letting each round (and a timer it set for now) finish before the next step. */
  async function advance(r: VisitReminders, ms: number, step = MINUTE): Promise<void> {
    for (let done = 0; done < ms; done += step) {
      w.clock.advance(Math.min(step, ms - done));
      await r.idle();
      w.clock.advance(0);
      await r.idle();
    }
  }

  it('sends nothing at 17:59, then one SMS per helper at 18:00 listing all their people due tomorrow', async () => {
    const sender = new NoticeRecorder();
    const r = start(sender);
    await r.idle();
    expect(sender.notices).toEqual([]);

    await advance(r, MINUTE);
    // 刘建军 helps 王秀英 and 张德福, both due 12-03: one SMS with both (孙奶奶 is due 12-05).
    expect(sender.to(LIU)).toHaveLength(1);
    const liu = sender.to(LIU)[0]!;
    expect(liu.template).toBe('visitReminder');
    expect(liu.params).toEqual({ helper: '刘建军', count: '2', names: '王秀英、张德福', date: '12月3日' });
    expect(liu.text).toBe('【智慧看家】探访提醒：刘建军您好，您帮扶的2位老人12月3日到期应探访：王秀英、张德福。请按时上门或电话探访，并记录探访情况。');
    // 陈明: 张德福 only (李桂兰 left, 赵大爷 was visited today).
    expect(sender.to(CHEN).map((n) => n.params)).toEqual([{ helper: '陈明', count: '1', names: '张德福', date: '12月3日' }]);
    // Nobody else: not the doctor, not 张伟 (it is 16:00 in Urumqi).
    expect(sender.notices).toHaveLength(2);
    expect(w.store.reminders('2026-12-03').map((x) => [x.phone, x.status, x.attempts, x.channel])).toEqual([
      [LIU, 'sent', 1, 'recorder'],
      [CHEN, 'sent', 1, 'recorder'],
    ]);
  });

  it("reminds a village in Asia/Urumqi at its own 18:00 (20:00 in Beijing), and nobody twice through the evening and a restart", async () => {
    const sender = new NoticeRecorder();
    const first = start(sender);
    await advance(first, 2 * HOUR, 10 * MINUTE); // to 19:59 Beijing, 17:59 Urumqi
    expect(sender.to(ZHANG_WEI)).toEqual([]);
    await advance(first, MINUTE); // 20:00 Beijing = 18:00 Urumqi
    expect(sender.to(ZHANG_WEI).map((n) => n.params)).toEqual([{ helper: '张伟', count: '1', names: '阿依古丽', date: '12月3日' }]);
    // The rest of the evening, with rechecks every 10 minutes: nothing more.
    await advance(first, 3 * HOUR, 10 * MINUTE);
    expect(sender.notices).toHaveLength(3);
    // A restart within the window (a new scheduler on the same database): nothing again.
    await first.stop();
    const second = start(sender);
    await second.idle();
    expect(sender.notices).toHaveLength(3);
    expect(w.store.counts()).toEqual({ pending: 0, sent: 3, failed: 0, expired: 0 });
  });

  it('retries a failed reminder at most twice, 10 minutes apart, and keeps the provider code; a final refusal is not retried', async () => {
    const sender = new NoticeRecorder();
    sender.answer = (n) => (n.to === LIU ? { ok: false, kind: 'transport', code: 'SMS_TIMEOUT', message: 'no answer' } : { ok: false, kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: 'bad number' });
    const r = start(sender);
    await advance(r, MINUTE);
    expect(sender.to(LIU)).toHaveLength(1);
    const chen = w.store.reminders('2026-12-03').find((x) => x.phone === CHEN)!;
    expect([chen.status, chen.attempts, chen.lastCode]).toEqual(['failed', 1, 'isv.MOBILE_NUMBER_ILLEGAL']);
    await advance(r, REMINDER_RETRY_MS - MINUTE);
    expect(sender.to(LIU)).toHaveLength(1);
    await advance(r, MINUTE);
    expect(sender.to(LIU)).toHaveLength(2);
    await advance(r, REMINDER_RETRY_MS);
    expect(sender.to(LIU)).toHaveLength(3);
    await advance(r, 2 * HOUR, 10 * MINUTE);
    expect(sender.to(LIU)).toHaveLength(3);
    expect(sender.to(CHEN)).toHaveLength(1);
    const liu = w.store.reminders('2026-12-03').find((x) => x.phone === LIU)!;
    expect([liu.status, liu.attempts, liu.lastCode]).toEqual(['failed', 3, 'SMS_TIMEOUT']);
  });

  it('sends on the second attempt when the provider is back', async () => {
    const sender = new NoticeRecorder();
    let calls = 0;
    sender.answer = () => (++calls === 1 ? { ok: false, kind: 'account', code: 'isv.AMOUNT_NOT_ENOUGH', message: 'no credit' } : { ok: true, providerRef: 'biz-2' });
    const r = start(sender);
    await advance(r, MINUTE);
    await advance(r, REMINDER_RETRY_MS);
    const liu = w.store.reminders('2026-12-03').find((x) => x.phone === LIU)!;
    expect([liu.status, liu.attempts, liu.providerRef, liu.lastCode]).toEqual(['sent', 2, 'biz-2', 'isv.AMOUNT_NOT_ENOUGH']);
  });

  it('does not send a reminder left pending past its due date (a server down for days)', async () => {
    w.store.decide(EVE + MINUTE, 18, () => ({ params: {}, text: 'x' }));
    expect(w.store.counts().pending).toBe(2);
    w.clock.advance(2 * 24 * HOUR); // 12-04 17:59: the day due (12-03) is over
    const sender = new NoticeRecorder();
    const r = start(sender);
    await r.idle();
    expect(sender.notices).toEqual([]);
    expect(w.store.counts()).toMatchObject({ pending: 0, expired: 2 });
  });
});

describe('a reminder decided but not sent (a crash between the commit and the send)', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  afterEach(() => tmp.cleanup());

  it('is sent at the next start, once', async () => {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', visitReminderHour: 18 } });
    // The crash's database: the rows are written (pending), no SMS went.
    const at = EVE + 30 * MINUTE;
    const db = openDatabase(databaseFile(settings));
    const registry = new SqliteRegistryStore(db, loadDeviceKey(settings), () => at);
    registry.importRegistry(registryFile());
    const township = new SqliteTownshipStore(db, registry, () => at, DEFAULT_VISIT_FREQUENCY);
    const decided = new SqliteVisitReminderStore(db, registry, township).decide(at, 18, () => ({ params: { helper: 'x', count: '1', names: 'x', date: '12月3日' }, text: '【智慧看家】decided before the crash' }));
    db.close();
    // 刘建军, and 陈明 (李桂兰 and 赵大爷 did not leave nor were visited in this database).
    expect(decided.map((d) => d.phone)).toEqual([LIU, CHEN]);

    const sender = new NoticeRecorder();
    const startAndStop = async (clock: FakeClock) => {
      const system = new KanjiaSystem({ settings, clock, smsSender: sender, logger: createLogger('silent') });
      await system.start();
      await system.visitReminders?.idle();
      const rows = system.visitReminderStore?.reminders('2026-12-03') ?? [];
      await system.stop();
      return rows;
    };
    // At 18:40 Beijing: the two decided ones go out, with the text decided before the crash; nothing new is decided.
    const rows = await startAndStop(new FakeClock(at + 10 * MINUTE));
    expect(sender.notices.map((n) => [n.to, n.outId, n.text])).toEqual(decided.map((d) => [d.phone, d.id, '【智慧看家】decided before the crash']));
    expect(rows.map((x) => x.status)).toEqual(['sent', 'sent']);
    await startAndStop(new FakeClock(at + 20 * MINUTE));
    expect(sender.notices).toHaveLength(2);
  });
});

describe('the reminder through Aliyun (the local SendSms stand-in checks the signature, template and variables)', () => {
  let sms: LocalAliyunSmsServer | undefined;
  afterEach(async () => {
    await sms?.stop();
    sms = undefined;
  });

  it('goes with its own template code and exactly its variables, the names cut to 35 characters', async () => {
    const key = { accessKeyId: 'LTAIreminder', accessKeySecret: 'reminder-secret-0123' };
    sms = new LocalAliyunSmsServer({ ...key, signNames: ['智慧看家'], templates: { SMS_100: SMS_TEMPLATES.alarm.variables, SMS_101: SMS_TEMPLATES.escalation.variables, SMS_102: SMS_TEMPLATES.cancelled.variables, SMS_777: SMS_NOTICE_TEMPLATES.visitReminder.variables } });
    const { endpoint } = await sms.start();
    const settings = { ...key, signName: '智慧看家', templateCodes: { alarm: 'SMS_100', escalation: 'SMS_101', cancelled: 'SMS_102' }, endpoint, protocol: 'http' as const, timeoutMs: 2_000 };
    const lines: string[] = [];
    const sender = new AliyunSmsSender({ ...settings, noticeTemplateCodes: { visitReminder: 'SMS_777' } }, { log: (l) => lines.push(l) });
    expect(sender.canSendNotice('visitReminder')).toBe(true);
    const { renderVisitReminder } = await import('@kanjia/alerts');
    const names = ['王秀英', '张德福', '李桂兰', '赵大爷', '孙奶奶', '欧阳春花', '司马长风', '诸葛明月', '上官婉儿', '慕容秋水'];
    const rendered = renderVisitReminder({ helperName: '刘建军', residentNames: names, dueDate: '2026-12-03' });
    const result = await sender.sendNotice({ to: LIU, template: 'visitReminder', params: rendered.params, text: rendered.text, outId: 'vrm_test' });
    expect(result.ok).toBe(true);
    expect(sms.accepted).toHaveLength(1);
    const got = sms.accepted[0]!;
    expect([got.templateCode, got.phoneNumbers, got.signName, got.outId]).toEqual(['SMS_777', LIU, '智慧看家', 'vrm_test']);
    expect(Object.keys(got.templateParam).sort()).toEqual(['count', 'date', 'helper', 'names']);
    expect(got.templateParam.count).toBe('10');
    expect(Array.from(got.templateParam.names!)).toHaveLength(35);
    expect(got.templateParam.names!.endsWith('…')).toBe(true);
    // The free text keeps every name.
    expect(rendered.text).toContain('慕容秋水');

    // Without the template code the sender cannot send it: refused before any request, the code says why.
    const without = new AliyunSmsSender(settings, { log: (l) => lines.push(l) });
    expect(without.canSendNotice('visitReminder')).toBe(false);
    const refused = await without.sendNotice({ to: LIU, template: 'visitReminder', params: rendered.params, text: rendered.text, outId: 'vrm_none' });
    expect(refused).toMatchObject({ ok: false, kind: 'permanent', code: 'SMS_UNKNOWN_TEMPLATE' });
    expect(sms.accepted).toHaveLength(1);
    expect(lines.join('\n')).not.toContain(LIU);
  });

  it('is off with one warning at start when Aliyun is the provider and KANJIA_ALIYUN_TEMPLATE_VISIT_REMINDER is not set', async () => {
    const tmp = tempDataDir();
    try {
      const settings = loadSettings(
        {},
        {
          overrides: {
            dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', visitReminderHour: 18, smsProvider: 'aliyun',
            aliyun: { accessKeyId: 'LTAIx', accessKeySecret: 'secret-x', signName: '智慧看家', templateAlarm: 'SMS_1', templateEscalation: 'SMS_2', templateCancelled: 'SMS_3', endpoint: '127.0.0.1:9', protocol: 'http' },
          },
        },
      );
      const warnings: string[] = [];
      const logger = createLogger('silent');
      const child = logger.child;
      const system = new KanjiaSystem({ settings, clock: new FakeClock(EVE), logger: Object.assign(Object.create(logger) as typeof logger, {
        child: (bindings: Record<string, unknown>) => {
          const c = child.call(logger, bindings);
          return bindings.component === 'visit-reminders' ? Object.assign(Object.create(c) as typeof c, { warn: (_o: object, msg?: string) => warnings.push(msg ?? '') }) : c;
        },
      }) });
      const running = await system.start();
      expect(system.visitReminders).toBeUndefined();
      // The dashboard's panel is told why (the hour is set, the template is not).
      const answer = VisitRemindersAnswer.parse(await systemClient(() => system.users, running.httpUrl).get('/api/visits/reminders'));
      expect([answer.enabled, answer.hour, answer.off]).toEqual([false, null, 'noTemplate']);
      await system.stop();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('KANJIA_ALIYUN_TEMPLATE_VISIT_REMINDER');
    } finally {
      tmp.cleanup();
    }
  });
});

describe('KANJIA_VISIT_REMINDER_HOUR', () => {
  it('is off when absent, takes a village-local hour 0–23, and refuses anything else with a clear message', () => {
    expect(loadSettings({}).visitReminderHour).toBeUndefined();
    expect(loadSettings({ KANJIA_VISIT_REMINDER_HOUR: '18' }).visitReminderHour).toBe(18);
    expect(loadSettings({ KANJIA_VISIT_REMINDER_HOUR: '0' }).visitReminderHour).toBe(0);
    for (const bad of ['24', '-1', '18.5', 'evening']) {
      expect(settingsProblems({ KANJIA_VISIT_REMINDER_HOUR: bad })).toMatch(/^KANJIA_VISIT_REMINDER_HOUR: a whole hour of the village's day, 0–23/);
    }
    expect(settingsProblems({ KANJIA_ALIYUN_TEMPLATE_VISIT_REMINDER: 'reminder', KANJIA_SMS_PROVIDER: 'aliyun' })).toContain('KANJIA_ALIYUN_TEMPLATE_VISIT_REMINDER: an approved template code such as SMS_123456789');
  });
});

describe('GET /api/visits/reminders (the dashboard\'s panel) on the real system', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let system: KanjiaSystem | undefined;
  afterEach(async () => {
    await system?.stop();
    system = undefined;
    tmp.cleanup();
  });

  /** Starts the real system at `startMs` on the test registry, reminding at `hour` (undefined: off); the sender answers as told. */
  async function startSystem(startMs: number, hour: number | undefined, sender: NoticeRecorder) {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', ...(hour === undefined ? {} : { visitReminderHour: hour }) } });
    const db = openDatabase(databaseFile(settings));
    new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(registryFile());
    db.close();
    const clock = new FakeClock(startMs);
    const started = new KanjiaSystem({ settings, clock, smsSender: sender, logger: createLogger('silent') });
    system = started;
    const running = await started.start();
    await started.visitReminders?.idle();
    const client = (user: Parameters<typeof systemClient>[2]) => systemClient(() => started.users, running.httpUrl, user);
    const read = async (c: ReturnType<typeof client>, query = '') => {
      const res = await c.request(`/api/visits/reminders${query}`);
      expect(res.status, await res.clone().text()).toBe(200);
      return VisitRemindersAnswer.parse(await res.json());
    };
    /** Moves the fake clock in 10-minute steps, letting each round finish. */
    const advance = async (ms: number) => {
      for (let done = 0; done < ms; done += 10 * MINUTE) {
        clock.advance(Math.min(10 * MINUTE, ms - done));
        await started.visitReminders?.idle();
        clock.advance(0);
        await started.visitReminders?.idle();
      }
    };
    return { client, read, advance };
  }

  it("lists tonight's sent and failed reminders with the provider's code and reason, a retry waiting, and counts per status", async () => {
    const sender = new NoticeRecorder();
    let liuTries = 0;
    sender.answer = (n) => {
      if (n.to === CHEN) return { ok: false, kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: '非法手机号' };
      if (n.to === ZHANG_WEI) return { ok: false, kind: 'limited', code: 'isv.BUSINESS_LIMIT_CONTROL', message: '触发天级流控Permits:50' };
      return ++liuTries === 1 ? { ok: false, kind: 'transport', code: 'SMS_TIMEOUT', message: 'no answer within 5000 ms' } : { ok: true, providerRef: 'biz-liu' };
    };
    const { client, read, advance } = await startSystem(EVE + MINUTE, 18, sender); // 18:00 Beijing
    const admin = client({ name: 'admin', role: 'admin' });

    // 18:00: 刘建军's first attempt timed out (tried again at 18:10), 陈明's number is refused (not retried).
    const first = await read(admin, '?date=2026-12-03');
    expect([first.date, first.enabled, first.hour, first.off]).toEqual(['2026-12-03', true, 18, null]);
    expect(first.counts).toEqual({ pending: 1, sent: 0, failed: 1, expired: 0 });
    const chen = first.reminders[0]!;
    expect([chen.helperName, chen.phone, chen.phoneMasked, chen.status, chen.attempts, chen.code, chen.error, chen.reason, chen.nextAttemptAt, chen.sentAt]).toEqual(
      ['陈明', CHEN, false, 'failed', 1, 'isv.MOBILE_NUMBER_ILLEGAL', '非法手机号', 'badNumber', null, null],
    );
    // Nobody left or was visited in this database: 陈明 is reminded of all three of his people.
    expect(chen.residents.map((p) => [p.name, p.villageName])).toEqual([['张德福', '石门村'], ['李桂兰', '石门村'], ['赵大爷', '石门村']]);
    const liu = first.reminders[1]!;
    expect([liu.helperName, liu.status, liu.attempts, liu.code, liu.reason, liu.nextAttemptAt]).toEqual(['刘建军', 'pending', 1, 'SMS_TIMEOUT', 'unreachable', EVE + MINUTE + REMINDER_RETRY_MS]);
    expect(liu.residents.map((p) => p.name)).toEqual(['王秀英', '张德福']);

    // 18:10: the retry went through; at 20:00 Beijing (18:00 in Urumqi) 张伟 hits the provider's flow control.
    await advance(2 * HOUR);
    const later = await read(admin, '?date=2026-12-03');
    expect(later.counts).toEqual({ pending: 0, sent: 1, failed: 2, expired: 0 });
    expect(later.reminders.map((x) => [x.helperName, x.status, x.reason])).toEqual([
      ['陈明', 'failed', 'badNumber'],
      ['张伟', 'failed', 'flowControl'],
      ['刘建军', 'sent', null],
    ]);
    const sent = later.reminders[2]!;
    expect([sent.attempts, sent.sentAt, sent.code]).toEqual([2, EVE + MINUTE + REMINDER_RETRY_MS, 'SMS_TIMEOUT']);
    expect(later.reminders[1]!.residents.map((p) => [p.name, p.villageName])).toEqual([['阿依古丽', '天山村']]);
    // Without a date: tomorrow in the asker's first village by name (天山村, Asia/Urumqi, where it is 18:01 on 12-02 now).
    expect((await read(admin)).date).toBe('2026-12-03');
  });

  it('scopes the reminders to the asker: a duty officer of another village sees none, a helper only their people with numbers masked', async () => {
    const sender = new NoticeRecorder();
    // The provider's words may hold the number itself (Twilio's do): the answer never shows it in clear.
    sender.answer = (n) => (n.to === CHEN ? { ok: false, kind: 'permanent', code: '21211', message: `The 'To' number +86${CHEN} is not a valid phone number.` } : { ok: true, providerRef: 'biz' });
    const { client, read } = await startSystem(EVE + MINUTE, 18, sender);

    const shimen = await read(client({ name: 'shimen', role: 'duty', villages: ['石门村'] }), '?date=2026-12-03');
    expect(shimen.reminders.map((x) => [x.helperName, x.phone, x.status])).toEqual([['陈明', CHEN, 'failed'], ['刘建军', LIU, 'sent']]);
    expect(shimen.timezone).toBe('Asia/Shanghai');

    const tianshan = await read(client({ name: 'tianshan', role: 'duty', villages: ['天山村'] }), '?date=2026-12-03');
    expect(tianshan.reminders).toEqual([]);
    expect(tianshan.counts).toEqual({ pending: 0, sent: 0, failed: 0, expired: 0 });
    expect(tianshan.timezone).toBe('Asia/Urumqi');

    // 陈明 helps 张德福, 李桂兰 and 赵大爷: his own reminder, and 刘建军's naming only 张德福 of his two people.
    const helper = await read(client({ name: 'chen', role: 'helper', phone: CHEN }), '?date=2026-12-03');
    expect(helper.reminders.map((x) => [x.helperName, x.phone, x.phoneMasked, x.residents.map((p) => p.name)])).toEqual([
      ['陈明', '138****0005', true, ['张德福', '李桂兰', '赵大爷']],
      ['刘建军', '138****0001', true, ['张德福']],
    ]);
    expect(JSON.stringify(helper)).not.toContain(LIU);
    expect(JSON.stringify(helper)).not.toContain(CHEN);
    expect(helper.reminders[0]!.error).toBe(`The 'To' number ${maskPhone(`+86${CHEN}`)} is not a valid phone number.`);
  });

  it('says the reminder is off when KANJIA_VISIT_REMINDER_HOUR is not set, and answers a bad date with 400 naming the format', async () => {
    const sender = new NoticeRecorder();
    const { client, read } = await startSystem(EVE + MINUTE, undefined, sender);
    const admin = client({ name: 'admin', role: 'admin' });
    const off = await read(admin, '?date=2026-12-03');
    expect([off.enabled, off.hour, off.off, off.reminders]).toEqual([false, null, 'notSet', []]);
    expect(sender.notices).toEqual([]);

    for (const [query, message] of [
      ['?date=tomorrow', /date.*YYYY-MM-DD, such as 2026-12-01/],
      ['?date=2026-02-30', /date.*not a real date/],
      ['?day=2026-12-03', /day/],
    ] as const) {
      const res = await admin.request(`/api/visits/reminders${query}`);
      const body = (await res.json()) as { code: string; message: string };
      expect([res.status, body.code], JSON.stringify(body)).toEqual([400, 'BAD_REQUEST']);
      expect(body.message).toMatch(message);
    }
  });

  it('names the reason of each provider code the office acts on', () => {
    expect(['isv.MOBILE_NUMBER_ILLEGAL', '21211', 'isv.BUSINESS_LIMIT_CONTROL', 'isv.AMOUNT_NOT_ENOUGH', 'SMS_UNKNOWN_TEMPLATE', 'SMS_TIMEOUT', 'isp.SYSTEM_ERROR', 'isv.TEMPLATE_PARAMS_ILLEGAL'].map(reminderFailureReason)).toEqual(
      ['badNumber', 'badNumber', 'flowControl', 'account', 'account', 'unreachable', 'unreachable', 'refused'],
    );
    expect(reminderFailureReason(null)).toBeNull();
  });
});
