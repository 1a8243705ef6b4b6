/**
 * The helper's answer link through the real system (SQLite, outbox, HTTP on a
 * free port, fake clock): every SMS carries its own code; a code opens one
 * case for one contact, moves it as the dashboard does and is recorded as that
 * contact; it stops working when the case closes or after 24 hours, is
 * counted per code and per address, and never appears in a log line.
 */
import type { SmsMessage, SmsResult } from '@kanjia/alerts';
import { FakeClock, type AnswerView, type RegistryFile } from '@kanjia/protocol';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { logCapture, oneHousehold, RecordingSender, systemClient, tempDataDir, until } from './helpers.js';

const MINUTE = 60_000;
const LINK = /(http:\/\/127\.0\.0\.1:\d+)\/a\/([0-9a-z]{12})$/;


/** The village of oneHousehold() and a second household, 李桂兰's, with a chain of her own. */
function twoHouseholds(): RegistryFile {
  const registry = oneHousehold();
  registry.villages[0]!.households.push({
    address: '石门村二组3号',
    lat: 27.113,
    lng: 111.032,
    residents: [{ name: '李桂兰', sex: 'F', birthYear: 1938, contacts: [{ name: '孙立新', role: 'helper', phone: '13800000009' }] }],
    devices: [{ kind: 'sosButton' }],
  });
  return registry;
}

describe('the answer link of an alarm SMS', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let sender: RecordingSender;
  let system: KanjiaSystem;
  let running: RunningSystem;
  let settings: Settings;
  let devices: string[];
  let logs: ReturnType<typeof logCapture>;

  beforeEach(async () => {
    tmp = tempDataDir();
    settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', escalationTimeoutSeconds: 300 } });
    const db = openDatabase(databaseFile(settings));
    devices = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(twoHouseholds()).devices.map((d) => d.deviceId);
    db.close();
    clock = new FakeClock(Date.UTC(2026, 0, 15, 2, 0, 0));
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
  const press = async (device: number, eventId: string) => {
    await system.alarmService!.handleEvent(devices[device]!, { id: eventId, ts: clock.nowMs(), type: 'sos' });
    return system.alarmStore!.alarmIdFor(devices[device]!, eventId)!;
  };
  const smsTo = (phone: string, nth = 0) => until(`SMS ${nth + 1} to ${phone}`, () => sender.sent.filter((m) => m.to === phone)[nth]);
  const codeOf = (sms: SmsMessage) => {
    const match = LINK.exec(sms.text);
    if (!match) throw new Error(`no answer link in: ${sms.text}`);
    expect(match[1]).toBe(base());
    expect(sms.params.code).toBe(match[2]);
    return match[2]!;
  };
  const get = (code: string) => fetch(`${base()}/api/answer/${code}`);
  const post = (code: string, step: string, body: unknown) =>
    fetch(`${base()}/api/answer/${code}/${step}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('texts a link with its own code, which shows who, where, the key holder, what and since when — without any phone number', async () => {
    const alarmId = await press(0, 'e1');
    const code = codeOf(await smsTo('13800000001'));
    const res = await get(code);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    const view = (await res.json()) as AnswerView;
    expect(view).toMatchObject({
      alarmId,
      kind: 'sos',
      status: 'open',
      openedAt: Date.UTC(2026, 0, 15, 2, 0, 0),
      detail: { 'zh-CN': '老人按了紧急按钮', en: 'SOS button pressed' },
      resident: { name: '王秀英', sex: 'F', age: 85 },
      household: { address: '石门村一组12号', keyHolderNote: '钥匙在隔壁王大姐家' },
      village: { name: '石门村', timezone: 'Asia/Shanghai' },
      you: { name: '刘建军', role: 'helper', actor: '帮扶责任人 刘建军' },
      takenBy: null,
      expiresAt: Date.UTC(2026, 0, 16, 2, 0, 0),
    });
    const json = JSON.stringify(view);
    expect(json).not.toMatch(/1380000000\d|430524/);
    // The page itself is served at /a/<code> (503 with a plain sentence when the dashboard is not built).
    expect([200, 503]).toContain((await fetch(`${base()}/a/${code}`)).status);
  });

  it('one case, one contact: the second contact’s code takes the case as them, the escalation stops and the device hears `taken`; the first contact’s code then cannot take it', async () => {
    const alarmId = await press(0, 'e1');
    const first = codeOf(await smsTo('13800000001'));
    clock.advance(5 * MINUTE);
    const second = codeOf(await smsTo('13800000002'));
    expect(second).not.toBe(first);

    // The actor comes from the code, never from the body.
    expect((await post(second, 'take', { alarmId, by: '刘建军' })).status).toBe(400);
    const taken = await post(second, 'take', { alarmId });
    expect(taken.status).toBe(200);
    expect(((await taken.json()) as AnswerView).takenBy).toBe('村医 赵春梅');
    const view = system.alarmStore!.view(alarmId)!;
    expect(view).toMatchObject({ status: 'taken', takenBy: '村医 赵春梅', nextEscalationAt: null });
    expect(view.history.at(-1)).toMatchObject({ action: 'taken', by: '村医 赵春梅' });
    expect(system.alarmStore!.pendingCommands(devices[0])).toContainEqual(expect.objectContaining({ command: expect.objectContaining({ type: 'taken', eventId: 'e1', alarmId }) }));

    const again = await post(first, 'take', { alarmId });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: 'ALARM_ALREADY_TAKEN' });
    // Nobody else is texted after the timeout: the case is taken.
    clock.advance(10 * MINUTE);
    await new Promise((r) => setTimeout(r, 50));
    expect(sender.sent.filter((m) => m.to === '13800000003')).toEqual([]);
    // The first contact may still say they are on their way, as on the dashboard.
    const onTheWay = await post(first, 'on-the-way', { alarmId });
    expect(onTheWay.status).toBe(200);
    expect(system.alarmStore!.view(alarmId)!.history.at(-1)).toMatchObject({ action: 'onTheWay', by: '帮扶责任人 刘建军' });
    // The admin's audit log says who acted from which SMS link (and never the code).
    const admin = systemClient(() => system.users, running.httpUrl);
    const { entries } = await admin.get<{ entries: Array<{ action: string; actor: string; target: string; detail: string }> }>('/api/audit');
    const fromLinks = entries.filter((e) => e.detail?.startsWith('SMS link'));
    expect(fromLinks.map((e) => [e.action, e.actor, e.target])).toEqual([
      ['alarm.onTheWay', '帮扶责任人 刘建军', alarmId],
      ['alarm.take', '村医 赵春梅', alarmId],
    ]);
    expect(JSON.stringify(entries)).not.toContain(first);
  });

  it('a code opens only its own case: a step naming another case is 404 and changes nothing, and another household’s code shows only its own resident', async () => {
    const wang = await press(0, 'e1');
    const li = await press(1, 'e2');
    const wangCode = codeOf(await smsTo('13800000001'));
    const liCode = codeOf(await smsTo('13800000009'));

    const cross = await post(liCode, 'take', { alarmId: wang });
    expect(cross.status).toBe(404);
    expect(await cross.json()).toMatchObject({ code: 'ALARM_NOT_FOUND' });
    expect((await post(wangCode, 'take', { alarmId: li })).status).toBe(404);
    expect(system.alarmStore!.view(wang)!.status).toBe('open');
    expect(system.alarmStore!.view(li)!.status).toBe('open');

    const liView = (await (await get(liCode)).json()) as AnswerView;
    expect(liView).toMatchObject({ alarmId: li, resident: { name: '李桂兰' }, you: { name: '孙立新' } });
    expect(JSON.stringify(liView)).not.toContain('王秀英');
    // A code that was never issued, and a malformed one.
    expect(await (await get('0123456789ab')).json()).toMatchObject({ code: 'ANSWER_CODE_UNKNOWN' });
    expect((await get('0123')).status).toBe(400);
  });

  it('goes on the way, arrives and resolves with a note; then the link has expired and shows nothing of the case', async () => {
    const alarmId = await press(0, 'e1');
    const code = codeOf(await smsTo('13800000001'));
    expect((await post(code, 'take', { alarmId })).status).toBe(200);
    expect((await post(code, 'on-the-way', { alarmId })).status).toBe(200);
    expect((await post(code, 'on-site', { alarmId })).status).toBe(200);
    expect(await (await post(code, 'resolve', { alarmId })).json()).toMatchObject({ code: 'BAD_REQUEST' }); // a note is required
    expect(await (await post(code, 'resolve', { alarmId, note: '老人摔倒后已扶起', outcome: 'maybe' })).json()).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('outcome: one of real, falseAlarm') });
    const resolved = await post(code, 'resolve', { alarmId, note: '老人摔倒后已扶起，无外伤', outcome: 'real' });
    expect(resolved.status).toBe(200);
    expect(await resolved.json()).toMatchObject({ status: 'resolved', resolutionNote: '老人摔倒后已扶起，无外伤' });
    expect(system.alarmStore!.view(alarmId)!.outcome).toBe('real');
    expect(system.alarmStore!.view(alarmId)!.history.map((h) => [h.action, h.by])).toEqual([
      ['opened', null],
      ['taken', '帮扶责任人 刘建军'],
      ['onTheWay', '帮扶责任人 刘建军'],
      ['onSite', '帮扶责任人 刘建军'],
      ['resolved', '帮扶责任人 刘建军'],
    ]);

    const expired = await get(code);
    expect(expired.status).toBe(410);
    const body = await expired.text();
    expect(JSON.parse(body)).toMatchObject({ code: 'ANSWER_CODE_EXPIRED', reason: 'closed' });
    expect(body).not.toMatch(/王秀英|石门村|钥匙/);
    expect((await post(code, 'on-site', { alarmId })).status).toBe(410);
  });

  it('expires 24 hours after the SMS even while the case is open', async () => {
    const alarmId = await press(0, 'e1');
    const code = codeOf(await smsTo('13800000001'));
    clock.advance(24 * 60 * MINUTE - 1);
    expect((await get(code)).status).toBe(200);
    clock.advance(1);
    const res = await get(code);
    expect(res.status).toBe(410);
    expect(await res.json()).toMatchObject({ code: 'ANSWER_CODE_EXPIRED', reason: 'timeout' });
    expect((await post(code, 'take', { alarmId })).status).toBe(410);
    expect(system.alarmStore!.view(alarmId)!.status).toBe('open');
  });

  it('answers 429 with a clear sentence and Retry-After past 60 requests of one code in 5 minutes', async () => {
    await press(0, 'e1');
    const code = codeOf(await smsTo('13800000001'));
    for (let i = 0; i < 60; i++) expect((await get(code)).status).toBe(200);
    const limited = await get(code);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('300');
    expect(await limited.json()).toMatchObject({ code: 'RATE_LIMITED', message: expect.stringContaining('请300秒后再试'), retryAfterSeconds: 300 });
    clock.advance(5 * MINUTE);
    expect((await get(code)).status).toBe(200);
  });

  it('counts only unknown and expired codes against an address (300 per 5 minutes): a guesser on the office network cannot lock out a helper behind it', async () => {
    const wang = await press(0, 'e1');
    const wangCode = codeOf(await smsTo('13800000001'));
    await press(1, 'e2');
    const closedCode = codeOf(await smsTo('13800000009'));
    system.alarmService!.act(system.alarmStore!.alarmIdFor(devices[1]!, 'e2')!, 'resolve', '值班员 李明', '已电话确认平安');
    // Valid requests from the address do not count against it.
    for (let i = 0; i < 50; i++) expect((await get(wangCode)).status).toBe(200);
    expect((await get(closedCode)).status).toBe(410);
    for (let n = 0; n < 299; n++) expect((await get(`${String(n).padStart(4, '0')}abcdefgh`)).status).toBe(404);
    // The 301st unknown or expired code from the address is refused, whatever it is.
    const guess = await get('zzzzabcdefgh');
    expect(guess.status).toBe(429);
    expect(guess.headers.get('retry-after')).toBe('300');
    expect((await get(closedCode)).status).toBe(429);
    // The helper on the same address still opens the live link and takes the case.
    expect((await get(wangCode)).status).toBe(200);
    expect((await post(wangCode, 'take', { alarmId: wang })).status).toBe(200);
    clock.advance(5 * MINUTE);
    expect((await get('zzzzabcdefgh')).status).toBe(404);
  });

  it('never writes a code into a log line, and blanks it from the outbox row once the SMS is sent', async () => {
    const alarmId = await press(0, 'e1');
    const code = codeOf(await smsTo('13800000001'));
    await get(code);
    await post(code, 'take', { alarmId, by: 'x' }); // 400
    await post(code, 'take', { alarmId });
    await post(code, 'take', { alarmId: 'alm_other' }); // 404
    await post(code, 'resolve', { alarmId, note: '已处理' });
    await get(code); // 410
    for (let i = 0; i < 62; i++) await get(code); // 429
    await until('the sent mark', () => (system.alarmStore!.view(alarmId)!.notifications[0]?.status === 'sent' ? true : undefined));

    expect(logs.text().length).toBeGreaterThan(0);
    expect(logs.text()).toContain(alarmId);
    expect(logs.text()).not.toContain(code);
    const db = new Database(databaseFile(settings), { readonly: true });
    try {
      const rows = db.prepare('SELECT params_json, text FROM notifications WHERE alarm_id = ?').all(alarmId) as Array<{ params_json: string; text: string }>;
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(code);
      expect(rows[0]!.text).toContain(`/a/${code.slice(0, 2)}…(12)`);
      const stored = db.prepare('SELECT code_hash FROM answer_codes WHERE alarm_id = ?').all(alarmId) as Array<{ code_hash: string }>;
      expect(stored).toHaveLength(1);
      expect(stored[0]!.code_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(stored[0]!.code_hash).not.toContain(code);
    } finally {
      db.close();
    }
  });
});

/** A channel that fails until told otherwise (by default no network: an outage): the first SMS stays unsent. */
class FlakySender extends RecordingSender {
  failing = true;
  failure: SmsResult = { ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR', message: 'no network' };
  override async send(message: SmsMessage): Promise<SmsResult> {
    if (this.failing) return this.failure;
    return super.send(message);
  }
}

describe('a critical case cancelled while its first SMS is unsent', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let sender: FlakySender;
  let system: KanjiaSystem;
  let deviceId: string;

  beforeEach(async () => {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', escalationTimeoutSeconds: 300, logLevel: 'silent' } });
    const db = openDatabase(databaseFile(settings));
    deviceId = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(oneHousehold()).devices[0]!.deviceId;
    db.close();
    clock = new FakeClock(Date.UTC(2026, 0, 15, 2, 0, 0));
    sender = new FlakySender();
    system = new KanjiaSystem({ settings, clock, smsSender: sender, logger: createLogger('silent') });
    await system.start();
  });
  afterEach(async () => {
    await system.stop();
    tmp.cleanup();
  });

  it('still sends it, saying the duty officer cancelled it and why; nobody else is texted', async () => {
    await system.alarmService!.handleEvent(deviceId, { id: 'e1', ts: clock.nowMs(), type: 'sos' });
    const alarmId = system.alarmStore!.alarmIdFor(deviceId, 'e1')!;
    // The provider is out of reach: the notice waits for it (no attempt counted, not failed).
    await until('the first notice waiting for the provider', () => (system.alarmStore!.view(alarmId)!.notifications[0]?.waitingForProvider ? true : undefined));
    system.alarmService!.act(alarmId, 'cancel', '值班员 李明', '老人按错了按钮，已电话确认平安');
    sender.failing = false;
    clock.advance(10 * MINUTE);
    const sms = await until('the cancelled notice', () => sender.sent[0]);
    expect(sms).toMatchObject({ to: '13800000001', template: 'cancelled', kind: 'sos', params: { officer: '值班员李明', reason: '老人按错了按钮，已电话确认平安' } });
    expect(sms.text).toBe('【智慧看家】紧急呼叫报警已取消：王秀英（石门村）10:00起，老人按了紧急按钮，已被值班员李明取消，原因：老人按错了按钮，已电话确认平安。地址：石门村一组12号。如有疑问请打电话确认老人平安。');
    // The provider's answer is written with the next grouped commit.
    const view = await until('the notice recorded as sent', () => {
      const v = system.alarmStore!.view(alarmId)!;
      return v.notifications.every((n) => n.status !== 'sending') ? v : undefined;
    });
    expect(view.notifications.map((n) => [n.contactName, n.status])).toEqual([['刘建军', 'sent']]);
    expect(view.history.map((h) => h.action)).toEqual(['opened', 'cancelled', 'note']);
    expect(sender.sent).toHaveLength(1);
  });

  it('skips the first SMS of a cancelled urgent case (inactivity), and the pending escalation of a cancelled SOS', async () => {
    const store = system.alarmStore!;
    // The limit of SMS to one number: each notice retried on its own, and the escalation runs (no outage holds it).
    sender.failure = { ok: false, kind: 'retryMessage', code: 'isv.BUSINESS_LIMIT_CONTROL', message: 'limited' };
    const inactivity = store.raiseFinding({ kind: 'inactivity', deviceId, eventId: 'in-1', eventTs: clock.nowMs(), reason: 'silent 4 h' }, clock.nowMs()).alarmId;
    system.alarmService!.act(inactivity, 'cancel', '值班员 李明', '老人在邻居家');
    await system.alarmService!.handleEvent(deviceId, { id: 'e2', ts: clock.nowMs(), type: 'sos' });
    const sos = store.alarmIdFor(deviceId, 'e2')!;
    // Neither the first SOS notice nor the escalation 5 minutes later gets through before the cancel.
    await until('the first attempt', () => (store.view(sos)!.notifications[0]?.attempts === 1 ? true : undefined));
    clock.advance(5 * MINUTE);
    await until('the escalation row', () => (store.view(sos)!.notifications.length === 2 ? true : undefined));
    system.alarmService!.act(sos, 'cancel', '值班员 李明', '误按');
    sender.failing = false;
    // Minute by minute past the retries' backoff: the outbox works between the clock's steps.
    const settled = () => store.view(sos)!.notifications.every((n) => n.status !== 'pending' && n.status !== 'sending');
    for (let i = 0; i < 120 && !settled(); i++) {
      clock.advance(MINUTE);
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(store.view(inactivity)!.notifications.map((n) => n.status)).toEqual(['skipped']);
    expect(store.view(sos)!.notifications.map((n) => [n.escalationLevel, n.status])).toEqual([
      [0, 'sent'],
      [1, 'skipped'],
    ]);
    expect(sender.sent.map((m) => m.template)).toEqual(['cancelled']);
  });
});
