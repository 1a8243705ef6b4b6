/**
 * The link of a bundled SMS (several alarms for one number in one message,
 * issue 12) through the real system (SQLite, outbox, HTTP on a free port,
 * fake clock): the carrier's code lists every case the SMS named, opens each
 * with `?case=`, and acts on each with that case's own grant (its contact as
 * taker, in the history and the audit log); a case of another SMS is 404;
 * the link works while any case of the SMS is live and expires when none is.
 */
import { defaultPolicies } from '@kanjia/alerts';
import { FakeClock, type AnswerView, type RegistryFile } from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { hashAnswerCode } from '../src/alarms/answer-codes.js';
import { loadSettings } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { logCapture, oneHousehold, RecordingSender, systemClient, tempDataDir, until } from './helpers.js';

const S = 1000;
const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);
const SHARED = '13800000009';
const LINK = /(http:\/\/127\.0\.0\.1:\d+)\/a\/([0-9a-z]{12})$/;

/**
 * 王秀英's household of oneHousehold() (her own chain, 13800000001 first) and
 * three more of 石门村 whose first contact is one phone, 13800000009, under
 * three names: the taker recorded shows whose grant was used.
 */
function sharedNumber(): RegistryFile {
  const registry = oneHousehold([{ kind: 'sosButton' }, { kind: 'waterLeakSensor' }]);
  const village = registry.villages[0]!;
  const household = (n: number, name: string, contact: { name: string; role: 'helper' | 'duty' | 'doctor' }) => ({
    address: `石门村二组${n}号`,
    lat: 27.113,
    lng: 111.032,
    residents: [{ name, contacts: [{ ...contact, phone: SHARED }] }],
    devices: [{ kind: 'sosButton' as const }, { kind: 'waterLeakSensor' as const }],
  });
  village.households.push(
    household(3, '张德福', { name: '孙立新', role: 'helper' }),
    household(5, '李桂兰', { name: '李主任', role: 'duty' }),
    household(7, '赵大爷', { name: '孙师傅', role: 'helper' }),
  );
  return registry;
}

describe('the link of a bundled SMS opens every case it names', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let sender: RecordingSender;
  let system: KanjiaSystem;
  let running: RunningSystem;
  /** deviceId by household (0 王秀英, 1 张德福, 2 李桂兰, 3 赵大爷) and kind. */
  let devices: Array<{ sos: string; water: string }>;
  let logs: ReturnType<typeof logCapture>;

  beforeEach(async () => {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', escalationTimeoutSeconds: 300, smsBundleWindowSeconds: 60 } });
    const db = openDatabase(databaseFile(settings));
    const imported = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(sharedNumber()).devices.map((d) => d.deviceId);
    db.close();
    devices = [0, 1, 2, 3].map((h) => ({ sos: imported[2 * h]!, water: imported[2 * h + 1]! }));
    clock = new FakeClock(T0);
    sender = new RecordingSender();
    logs = logCapture();
    system = new KanjiaSystem({ settings, clock, smsSender: sender, logger: createLogger('trace', logs.stream) });
    running = await system.start();
  });
  afterEach(async () => {
    await system.stop();
    tmp.cleanup();
  });

  const base = () => running.httpUrl.replace(/\/$/, '');
  const get = (code: string, alarmId?: string) => fetch(`${base()}/api/answer/${code}${alarmId === undefined ? '' : `?case=${encodeURIComponent(alarmId)}`}`);
  const post = (code: string, step: string, body: unknown) =>
    fetch(`${base()}/api/answer/${code}/${step}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const codeOf = (text: string) => {
    const match = LINK.exec(text);
    if (!match) throw new Error(`no answer link in: ${text}`);
    return match[2]!;
  };

  /**
   * Water leaks at 张德福's, 李桂兰's and 赵大爷's (maintenance: they may wait), opened a second
   * apart and all due at one claim: one SMS to 13800000009. An SOS at 王秀英's goes to her own helper.
   */
  async function bundled(): Promise<{ zhang: string; li: string; zhao: string; wang: string; code: string; wangCode: string }> {
    const store = system.alarmStore!;
    const raise = (household: number, kind: 'waterLeak' | 'sos', atMs: number) =>
      store.raiseFinding({ kind, deviceId: kind === 'sos' ? devices[household]!.sos : devices[household]!.water, eventId: `${kind}-${household}`, eventTs: atMs, reason: kind }, atMs).alarmId;
    const zhang = raise(1, 'waterLeak', T0 - 3 * S);
    const li = raise(2, 'waterLeak', T0 - 2 * S);
    const zhao = raise(3, 'waterLeak', T0 - S);
    const wang = raise(0, 'sos', T0);
    system.outboxWorker!.kick();
    const sms = await until('the bundled SMS', () => sender.sent.find((m) => m.to === SHARED));
    expect(sms.bundled).toBe(3);
    expect(sms.text).toMatch(/^【智慧看家】3起报警待处理：张德福（石门村）漏水，09:59；李桂兰（石门村）漏水，09:59；赵大爷（石门村）漏水，09:59。请逐一电话确认，或打开链接查看全部并接警：http/);
    const wangSms = await until('王秀英’s SMS', () => sender.sent.find((m) => m.to === '13800000001'));
    await until('both marked sent', () => [zhang, wang].every((id) => store.view(id)!.notifications[0]?.status === 'sent') || undefined);
    expect(sender.sent.filter((m) => m.to === SHARED)).toHaveLength(1);
    return { zhang, li, zhao, wang, code: codeOf(sms.text), wangCode: codeOf(wangSms.text) };
  }

  it('the carrier’s code shows its case and lists the other two; `?case=` opens each as its own contact', async () => {
    const { zhang, li, zhao, code } = await bundled();
    const res = await get(code);
    expect(res.status).toBe(200);
    const view = (await res.json()) as AnswerView;
    expect(view).toMatchObject({ alarmId: zhang, kind: 'waterLeak', resident: { name: '张德福' }, you: { name: '孙立新', role: 'helper', actor: '帮扶责任人 孙立新' } });
    expect(view.otherCases).toEqual([
      { alarmId: li, kind: 'waterLeak', severity: 'maintenance', status: 'open', openedAt: T0 - 2 * S, resident: { name: '李桂兰' }, village: { name: '石门村', timezone: 'Asia/Shanghai' } },
      { alarmId: zhao, kind: 'waterLeak', severity: 'maintenance', status: 'open', openedAt: T0 - S, resident: { name: '赵大爷' }, village: { name: '石门村', timezone: 'Asia/Shanghai' } },
    ]);
    expect(JSON.stringify(view)).not.toMatch(/1380000000\d|430524/);

    const second = (await (await get(code, li)).json()) as AnswerView;
    expect(second).toMatchObject({ alarmId: li, resident: { name: '李桂兰' }, household: { address: '石门村二组5号' }, you: { name: '李主任', role: 'duty' } });
    expect(second.otherCases.map((c) => c.alarmId)).toEqual([zhang, zhao]);
    const third = (await (await get(code, zhao)).json()) as AnswerView;
    expect(third).toMatchObject({ alarmId: zhao, you: { name: '孙师傅' } });
    expect(third.otherCases.map((c) => c.alarmId)).toEqual([zhang, li]);
    // `case` is checked like every query.
    expect((await fetch(`${base()}/api/answer/${code}?case=`)).status).toBe(400);
    expect((await fetch(`${base()}/api/answer/${code}?other=1`)).status).toBe(400);
  });

  it('taking the second case through the carrier’s code records the second case’s contact: history, audit, the device’s `taken`', async () => {
    const { zhang, li, code } = await bundled();
    const taken = await post(code, 'take', { alarmId: li });
    expect(taken.status).toBe(200);
    const view = (await taken.json()) as AnswerView;
    expect(view).toMatchObject({ alarmId: li, status: 'taken', takenBy: '村委值班 李主任', you: { name: '李主任' } });
    expect(view.otherCases.map((c) => [c.alarmId, c.status])).toContainEqual([zhang, 'open']);

    const store = system.alarmStore!;
    expect(store.view(li)).toMatchObject({ status: 'taken', takenBy: '村委值班 李主任', nextEscalationAt: null });
    expect(store.view(li)!.history.at(-1)).toMatchObject({ action: 'taken', by: '村委值班 李主任' });
    expect(store.view(zhang)).toMatchObject({ status: 'open', takenBy: null });
    expect(store.pendingCommands(devices[2]!.water)).toContainEqual(expect.objectContaining({ command: expect.objectContaining({ type: 'taken', eventId: 'waterLeak-2', alarmId: li }) }));

    const admin = systemClient(() => system.users, running.httpUrl);
    const { entries } = await admin.get<{ entries: Array<{ action: string; actor: string; target: string; detail: string }> }>('/api/audit');
    expect(entries.filter((e) => e.detail?.startsWith('SMS link')).map((e) => [e.action, e.actor, e.target])).toEqual([['alarm.take', '村委值班 李主任', li]]);
    expect(JSON.stringify(entries)).not.toContain(code);
    expect(logs.text()).not.toContain(code);
  });

  it('a case of another SMS, by `?case=` or by a step, is 404 and changes nothing; that SMS’s own view lists no other case', async () => {
    const { wang, code, wangCode } = await bundled();
    const peek = await get(code, wang);
    expect(peek.status).toBe(404);
    const body = await peek.text();
    expect(JSON.parse(body)).toMatchObject({ code: 'ALARM_NOT_FOUND' });
    expect(body).not.toMatch(/王秀英|石门村一组|钥匙/);
    expect((await post(code, 'take', { alarmId: wang })).status).toBe(404);
    expect(system.alarmStore!.view(wang)!.status).toBe('open');
    expect((await get(code, 'alm_nothing')).status).toBe(404);

    const alone = (await (await get(wangCode)).json()) as AnswerView;
    expect(alone).toMatchObject({ alarmId: wang, resident: { name: '王秀英' }, otherCases: [] });
    expect(JSON.stringify(alone)).not.toMatch(/张德福|李桂兰|赵大爷/);
  });

  it('after the carrier’s case is resolved the link opens the others; a step on the closed one is 410; with every case closed the link is 410', async () => {
    const { zhang, li, zhao, code } = await bundled();
    expect((await post(code, 'resolve', { alarmId: zhang, note: '水管接头松了，已拧紧' })).status).toBe(200);
    expect(system.alarmStore!.view(zhang)).toMatchObject({ status: 'resolved', takenBy: '帮扶责任人 孙立新' });

    const next = (await (await get(code)).json()) as AnswerView;
    expect(next).toMatchObject({ alarmId: li, status: 'open' });
    expect(next.otherCases.map((c) => [c.alarmId, c.status])).toEqual([
      [zhang, 'resolved'],
      [zhao, 'open'],
    ]);
    // The closed case shows nothing more of itself: asked for, the first live one is shown.
    expect(((await (await get(code, zhang)).json()) as AnswerView).alarmId).toBe(li);
    const late = await post(code, 'on-site', { alarmId: zhang });
    expect(late.status).toBe(410);
    expect(await late.json()).toMatchObject({ code: 'ANSWER_CODE_EXPIRED', reason: 'closed' });

    expect((await post(code, 'resolve', { alarmId: li, note: '已关水阀' })).status).toBe(200);
    system.alarmService!.act(zhao, 'resolve', '值班员 李明', '已电话确认，邻居已处理');
    const expired = await get(code);
    expect(expired.status).toBe(410);
    const body = await expired.text();
    expect(JSON.parse(body)).toMatchObject({ code: 'ANSWER_CODE_EXPIRED', reason: 'closed' });
    expect(body).not.toMatch(/张德福|李桂兰|赵大爷|石门村/);
    expect((await get(code, zhao)).status).toBe(410);
    expect((await post(code, 'take', { alarmId: zhao })).status).toBe(410);
  });
});

describe('the cases of a bundled SMS, in the store', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let store: SqliteAlarmStore;
  let devices: string[];

  beforeEach(() => {
    tmp = tempDataDir();
    db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
    const registry = new SqliteRegistryStore(db, Buffer.alloc(32, 7), () => T0);
    store = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(5 * 60_000), locale: 'zh-CN', channel: 'test', publicUrl: 'https://kanjia.example.cn', bundleWindowMs: 60 * S });
    devices = registry.importRegistry(sharedNumber()).devices.map((d) => d.deviceId);
  });
  afterEach(() => {
    db.close();
    tmp.cleanup();
  });

  it('lists critical cases first, then the oldest, whichever case is shown', () => {
    // devices: [2h] sos, [2h + 1] water of household h (1 张德福, 2 李桂兰, 3 赵大爷), all due at one claim.
    const leak = store.raiseFinding({ kind: 'waterLeak', deviceId: devices[3]!, eventId: 'w-1', eventTs: T0, reason: 'leak' }, T0).alarmId;
    const sos1 = store.raiseFinding({ kind: 'sos', deviceId: devices[4]!, eventId: 's-2', eventTs: T0 + S, reason: 'sos' }, T0 + S).alarmId;
    const sos2 = store.raiseFinding({ kind: 'sos', deviceId: devices[6]!, eventId: 's-3', eventTs: T0 + 2 * S, reason: 'sos' }, T0 + 2 * S).alarmId;
    const [bundle] = store.claimDueNotifications(T0 + 3 * S, 10);
    expect(bundle).toMatchObject({ alarmId: sos1, message: { bundled: 3 } });
    const carrier = store.answerGrant(hashAnswerCode(bundle!.message.params.code!), T0 + 3 * S)!;
    const grants = store.answerBundle(carrier, T0 + 3 * S);
    expect(grants.map((g) => g.alarmId)).toEqual([sos1, sos2, leak]);
    expect(store.answerView(carrier, grants)!.otherCases.map((c) => [c.alarmId, c.severity])).toEqual([
      [sos2, 'critical'],
      [leak, 'maintenance'],
    ]);
    expect(store.answerView(grants[2]!, grants)!.otherCases.map((c) => c.alarmId)).toEqual([sos1, sos2]);
  });

  it('a refused bundle’s members go on their own and leave it: the carrier’s code then opens only its own case', () => {
    for (const [n, h] of [1, 2, 3].entries()) store.raiseFinding({ kind: 'waterLeak', deviceId: devices[2 * h + 1]!, eventId: `w-${h}`, eventTs: T0, reason: 'leak' }, T0 + n);
    const [bundle] = store.claimDueNotifications(T0 + 10, 10);
    expect(bundle!.message.bundled).toBe(3);
    const grant = store.answerGrant(hashAnswerCode(bundle!.message.params.code!), T0 + 10)!;
    expect(store.answerBundle(grant, T0 + 10).map((g) => g.contactName)).toEqual(['孙立新', '李主任', '孙师傅']);

    store.markNotificationFailed(bundle!.id, T0 + 20, 'isv.PARAM_LENGTH_LIMIT: too long');
    expect(store.answerBundle(grant, T0 + 20).map((g) => g.alarmId)).toEqual([grant.alarmId]);
    expect(store.answerView(grant, store.answerBundle(grant, T0 + 20))!.otherCases).toEqual([]);
  });
});
