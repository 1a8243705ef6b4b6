/**
 * Issue 12: each notice's route through the channels, through the real system
 * (MQTT gateway, SQLite, outbox, REST) with a fake clock. Voice calls at night
 * and after an unanswered SMS; failover on a permanent failure, on the
 * provider's flow control and on an outage past the failover time; a notice no
 * channel could deliver (red, counted); the duty group's posts; delivery
 * receipts and the delivery deadline. The channels here answer what each test
 * sets (ScriptedChannel): the providers' protocols are tested against their
 * stand-ins (alerts/test, and channels-stand-ins.test.ts).
 */
import { SimDevice } from '@kanjia/firmware-sim';
import { FakeClock, type AlarmView } from '@kanjia/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { oneHousehold, ScriptedChannel, systemClient, tempDataDir, until } from './helpers.js';

const MINUTE = 60_000;
const silent = { info: () => undefined, warn: () => undefined };
/** 10:00 in Shanghai. */
const DAY = Date.UTC(2026, 0, 15, 2, 0, 0);
/** 23:30 in Shanghai. */
const NIGHT = Date.UTC(2026, 0, 15, 15, 30, 0);

interface Harness {
  clock: FakeClock;
  system: KanjiaSystem;
  api: ReturnType<typeof systemClient>;
  running: RunningSystem;
  device: SimDevice;
  primary: ScriptedChannel;
  backup: ScriptedChannel;
  voice: ScriptedChannel;
  group: ScriptedChannel;
  /** Presses SOS and waits for the case. */
  sos(): Promise<string>;
  view(alarmId: string): Promise<AlarmView>;
  /** Advances the fake clock and lets the sends and commits it caused run. */
  advance(ms: number): Promise<void>;
  /** Waits for `check`, firing the timers that fall due now (a verdict reschedules the escalation to now) as real time would. */
  eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T>;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(startMs: number, overrides: Record<string, unknown> = {}, receipts = false): Promise<Harness> {
  const tmp = tempDataDir();
  const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', escalationTimeoutSeconds: 300, logLevel: 'silent', ...overrides } });
  const db = openDatabase(databaseFile(settings));
  const creds = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(oneHousehold()).devices[0]!;
  db.close();
  const clock = new FakeClock(startMs);
  const primary = new ScriptedChannel('primary', 'sms', receipts);
  const backup = new ScriptedChannel('backup', 'sms');
  const voice = new ScriptedChannel('voice', 'voice');
  const group = new ScriptedChannel('group', 'group');
  const system = new KanjiaSystem({ settings, clock, smsSender: primary, channels: { sms: [backup], voice, group }, logger: createLogger('silent') });
  const running = await system.start();
  const api = systemClient(() => system.users, running.httpUrl, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
  const device = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: creds.deviceId, secret: creds.secret, logger: silent, resendIntervalMs: 600_000 });
  await device.start();
  cleanups.push(async () => {
    await device.stop();
    await system.stop();
    tmp.cleanup();
  });
  const settle = async () => {
    for (let i = 0; i < 5; i++) {
      clock.advance(0);
      await new Promise((r) => setTimeout(r, 20));
      await system.outboxWorker?.idle();
      await system.deliveryTracker?.idle();
    }
  };
  return {
    clock,
    system,
    api,
    running,
    device,
    primary,
    backup,
    voice,
    group,
    sos: async () => (await device.pressSos().received).alarmId as string,
    view: (alarmId) => api.get<AlarmView>(`/api/alarms/${alarmId}`),
    advance: async (ms) => {
      clock.advance(ms);
      await settle();
    },
    eventually: (what, check) =>
      until(what, () => {
        clock.advance(0);
        return check();
      }),
  };
}

const chainOf = (v: AlarmView) => v.notifications.filter((n) => n.purpose === 'chain');

describe('voice calls for critical alarms', () => {
  it('at night, a critical alarm rings the first helper and texts them', async () => {
    const h = await harness(NIGHT);
    const alarmId = await h.sos();
    await until('the SMS and the call', () => h.primary.sent.length === 1 && h.voice.sent.length === 1);
    expect(h.primary.sent[0]).toMatchObject({ to: '13800000001', template: 'alarm', kind: 'sos' });
    expect(h.voice.sent[0]).toMatchObject({ to: '13800000001', kind: 'sos', params: { name: '王秀英', village: '石门村', kind: '紧急呼叫' } });
    expect(h.voice.sent[0]!.params.code).toBeUndefined();
    const view = await h.view(alarmId);
    expect(view.notifications.map((n) => [n.purpose, n.medium, n.channel, n.status])).toEqual([
      ['chain', 'sms', 'primary', 'sent'],
      ['call', 'voice', 'voice', 'sent'],
      ['group', 'group', 'group', 'sent'],
    ]);
    expect(view.history.map((e) => e.note)).toContain('夜间紧急警报：同时给刘建军打语音电话');
  });

  it('by day there is no call at first; an SMS unanswered for the escalation time rings that helper as the next one is texted', async () => {
    const h = await harness(DAY);
    const alarmId = await h.sos();
    await until('the SMS', () => h.primary.sent.length === 1);
    await h.advance(MINUTE);
    expect(h.voice.sent).toHaveLength(0);
    await h.advance(4 * MINUTE);
    await until('the escalation and the call', () => h.primary.sent.length === 2 && h.voice.sent.length === 1);
    expect(h.primary.sent[1]).toMatchObject({ to: '13800000002', template: 'escalation' });
    expect(h.voice.sent[0]).toMatchObject({ to: '13800000001' });
    expect((await h.view(alarmId)).history.map((e) => e.note)).toContain('刘建军收到短信后未接警：给刘建军打语音电话');
  });

  it('a case taken before its call goes out skips the call', async () => {
    const h = await harness(NIGHT);
    h.voice.answer = () => ({ ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR', message: 'down' });
    const alarmId = await h.sos();
    await until('the SMS', () => h.primary.sent.length === 1);
    await until('the call tried', () => h.voice.sent.length === 1);
    expect((await h.api.post(`/api/alarms/${alarmId}/take`, {})).status).toBe(200);
    h.voice.answer = () => ({ ok: true, providerRef: 'call-1' });
    await h.advance(10 * MINUTE);
    const call = (await h.view(alarmId)).notifications.find((n) => n.purpose === 'call')!;
    expect(call.status).toBe('skipped');
    expect(h.voice.sent).toHaveLength(1);
  });
});

describe('failover from channel to channel', () => {
  it('a permanent failure moves the notice to the next channel at once, and the case history says so', async () => {
    const h = await harness(DAY);
    h.primary.answer = () => ({ ok: false, kind: 'permanent', code: 'isv.TEMPLATE_PARAMS_ILLEGAL', message: 'refused' });
    const alarmId = await h.sos();
    await until('the backup SMS', () => h.backup.sent.length === 1);
    expect(h.backup.sent[0]).toMatchObject({ to: '13800000001', template: 'alarm' });
    // The answer link still works: the code was not forgotten when the first channel failed.
    expect(h.backup.sent[0]!.params.code).toMatch(/^[A-Za-z0-9]{8,}$/);
    const [n] = chainOf(await h.view(alarmId));
    expect(n).toMatchObject({ channel: 'backup', status: 'sent', routeStep: 1, route: ['primary', 'backup', 'voice', 'group'], undeliverable: false });
    expect(n!.failovers).toEqual([expect.objectContaining({ from: 'primary', to: 'backup', reason: expect.stringContaining('isv.TEMPLATE_PARAMS_ILLEGAL') })]);
    expect((await h.view(alarmId)).history.map((e) => e.note)).toContainEqual(expect.stringMatching(/^发给刘建军的通知无法通过短信（primary）送达（isv\.TEMPLATE_PARAMS_ILLEGAL.*），已改用短信（backup）$/));
  });

  it("the provider's flow control is never retried: the notice moves on at once", async () => {
    const h = await harness(DAY);
    h.primary.answer = () => ({ ok: false, kind: 'limited', code: 'isv.BUSINESS_LIMIT_CONTROL', message: '触发天级流控Permits:50' });
    const alarmId = await h.sos();
    await until('the backup SMS', () => h.backup.sent.length === 1);
    await h.advance(30 * MINUTE);
    // Once per number: the later escalations to the other contacts try it again for their own numbers.
    expect(h.primary.sent.filter((m) => m.to === '13800000001')).toHaveLength(1);
    expect(chainOf(await h.view(alarmId))[0]).toMatchObject({ channel: 'backup', status: 'sent' });
    // Every answer of the flow control was taken as such, none as a failure to retry.
    expect(h.system.outboxWorker!.stats).toMatchObject({ limited: h.primary.sent.length, retried: 0 });
  });

  it('a provider out of reach holds the notice, then after the failover time (2 min, critical) it goes by the next channel; the health problem says where', async () => {
    const h = await harness(DAY);
    h.primary.answer = () => ({ ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR', message: 'connect ECONNREFUSED' });
    const alarmId = await h.sos();
    await until('the outage', () => h.system.systemHealth!.has('SMS_PROVIDER_OUTAGE'));
    const problem = h.system.systemHealth!.problems().find((p) => p.code === 'SMS_PROVIDER_OUTAGE')!;
    expect(problem.message).toContain('moves on to backup');
    expect(chainOf(await h.view(alarmId))[0]).toMatchObject({ channel: 'primary', status: 'pending', waitingForProvider: true });
    await h.advance(2 * MINUTE - 1_000);
    expect(h.backup.sent).toHaveLength(0);
    await h.advance(1_000);
    await until('the backup SMS', () => h.backup.sent.length === 1);
    const view = await h.view(alarmId);
    expect(chainOf(view)[0]).toMatchObject({ channel: 'backup', status: 'sent', waitingForProvider: false });
    expect(chainOf(view)[0]!.failovers[0]!.reason).toMatch(/^FAILOVER_TIMEOUT: not sent by primary within 2 min/);
    // The contact was told only now: their time to take it counts from the backup's SMS.
    expect(view.nextEscalationAt).toBe(h.clock.nowMs() + 5 * MINUTE);
  });

  it('a notice no channel could deliver is failed, red, counted, and the next contact is texted at once', async () => {
    const h = await harness(DAY);
    const refuse = () => ({ ok: false as const, kind: 'permanent' as const, code: 'isv.MOBILE_NUMBER_ILLEGAL', message: 'bad number' });
    h.primary.answer = (m) => (m.to === '13800000001' ? refuse() : { ok: true, providerRef: 'p' });
    h.backup.answer = refuse;
    h.voice.answer = refuse;
    // The contact's own notice, moved to the group ("nobody reached 刘建军, phone them"), is refused there too; the case's posts go.
    h.group.answer = (m) => (m.text.includes('刘建军') ? refuse() : { ok: true, providerRef: null });
    const alarmId = await h.sos();
    await h.eventually('the second contact texted', () => h.primary.sent.some((m) => m.to === '13800000002'));
    const view = await h.view(alarmId);
    const first = chainOf(view)[0]!;
    expect(first).toMatchObject({ status: 'failed', undeliverable: true, channel: 'group', routeStep: 3 });
    expect(first.failovers.map((f) => f.to)).toEqual(['backup', 'voice', 'group']);
    expect(view.history.map((e) => e.note)).toContainEqual(expect.stringMatching(/^所有渠道均无法通知刘建军/));
    const admin = systemClient(() => h.system.users, h.running.httpUrl);
    const stats = await admin.get<{ notifications: { undeliverable: number } }>('/api/stats');
    expect(stats.notifications.undeliverable).toBe(1);
  });

  it('a notice that reached only the duty group counts as not reached: the group is told to phone, and the next contact is texted at once', async () => {
    const h = await harness(DAY);
    const refuse = () => ({ ok: false as const, kind: 'permanent' as const, code: 'isv.MOBILE_NUMBER_ILLEGAL', message: 'bad number' });
    h.primary.answer = (m) => (m.to === '13800000001' ? refuse() : { ok: true, providerRef: 'p' });
    h.backup.answer = refuse;
    h.voice.answer = refuse;
    const alarmId = await h.sos();
    await h.eventually('the second contact texted', () => h.primary.sent.some((m) => m.to === '13800000002'));
    const fellOver = h.group.sent.find((m) => m.text.includes('刘建军'))!;
    expect(fellOver.params.title).toBe('【智慧看家】联系不上：紧急呼叫 · 王秀英');
    expect(fellOver.params.mentionAll).toBe('true');
    expect(fellOver.text).not.toMatch(/1[3-9]\d{9}/);
    expect(fellOver.params.code).toBeUndefined();
    const first = chainOf(await h.view(alarmId))[0]!;
    expect(first).toMatchObject({ status: 'sent', channel: 'group', medium: 'group', unreached: true, undeliverable: false });
  });
});

describe("a notice that fell over to the duty group", () => {
  it("does not hold the escalation while the group's robot holds its post (throttled for 10 minutes): the next contact is texted at once", async () => {
    const h = await harness(DAY);
    const refuse = () => ({ ok: false as const, kind: 'permanent' as const, code: 'isv.MOBILE_NUMBER_ILLEGAL', message: 'bad number' });
    h.primary.answer = (m) => (m.to === '13800000001' ? refuse() : { ok: true, providerRef: 'p' });
    h.backup.answer = refuse;
    h.voice.answer = refuse;
    // The robot is throttled: every post waits 10 minutes, uncounted (robot-gate.ts).
    h.group.answer = () => ({ ok: false, kind: 'retryMessage', code: 'dingtalk.130101', message: 'send too fast', retryAtMs: h.clock.nowMs() + 10 * MINUTE, uncounted: true });
    const alarmId = await h.sos();
    await h.eventually('the second contact texted', () => h.primary.sent.some((m) => m.to === '13800000002'));
    const first = chainOf(await h.view(alarmId))[0]!;
    expect(first).toMatchObject({ channel: 'group', status: 'pending', unreached: true });
    // Later the robot takes it: the post goes, nothing else changes.
    h.group.answer = () => ({ ok: true, providerRef: null });
    await h.advance(10 * MINUTE);
    await until('the post sent', async () => chainOf(await h.view(alarmId))[0]!.status === 'sent');
    // The chain went on by its own times meanwhile: the third contact after the escalation time.
    expect(h.primary.sent.find((m) => m.to === '13800000002')!.text).toContain('已0分钟无人接警');
    expect(h.primary.sent.find((m) => m.to === '13800000003')!.text).toContain('已5分钟无人接警');
  });
});

describe("the duty group's posts", () => {
  it('posts the opening, the taking and the closing of a case to the village group', async () => {
    const h = await harness(DAY);
    const alarmId = await h.sos();
    await until('the opening post', () => h.group.sent.length === 1);
    expect((await h.api.post(`/api/alarms/${alarmId}/take`, {})).status).toBe(200);
    await h.eventually('the taking post', () => h.group.sent.length === 2);
    expect((await h.api.post(`/api/alarms/${alarmId}/resolve`, { note: '老人平安，误按', outcome: 'falseAlarm' })).status).toBe(200);
    await h.eventually('the closing post', () => h.group.sent.length === 3);
    const view = await h.view(alarmId);
    expect(h.group.sent.every((m) => m.to === view.village.id)).toBe(true);
    expect(h.group.sent.every((m) => m.text.includes('王秀英'))).toBe(true);
    expect(h.group.sent.map((m) => m.params.title)).toEqual(['【智慧看家】紧急呼叫 · 王秀英', '【智慧看家】已接警：紧急呼叫 · 王秀英', '【智慧看家】已处理（误报）：紧急呼叫 · 王秀英']);
    expect(h.group.sent[2]!.text).toContain('老人平安，误按');
    expect(h.group.sent[0]!.params.mentionAll).toBe('true');
    for (const m of h.group.sent) expect(m.text).not.toMatch(/1[3-9]\d{9}/);
  });
});

describe('delivery receipts', () => {
  it('shows delivered, and a failed receipt counts as not reached: the next contact is texted at once', async () => {
    const h = await harness(DAY, {}, true);
    const alarmId = await h.sos();
    await until('the SMS', () => h.primary.sent.length === 1);
    let n = chainOf(await h.view(alarmId))[0]!;
    expect(n.delivery).toEqual({ state: 'waiting', at: null, error: null });
    h.primary.receipts.set('primary-1', { state: 'failed', code: 'MK:0001', message: 'the handset is switched off', atMs: h.clock.nowMs() });
    await h.advance(15_000);
    await h.eventually('the second contact texted', () => h.primary.sent.some((m) => m.to === '13800000002'));
    const view = await h.view(alarmId);
    n = chainOf(view)[0]!;
    expect(n).toMatchObject({ status: 'sent', unreached: true, delivery: { state: 'failed', error: 'MK:0001: the handset is switched off' } });
    expect(view.history.map((e) => e.note)).toContainEqual(expect.stringMatching(/^发给刘建军的短信未送达（MK:0001.*），视为未联系上，立即通知下一位联系人$/));
    h.primary.receipts.set('primary-2', { state: 'delivered', atMs: h.clock.nowMs() });
    await h.advance(15_000);
    await until('delivered', async () => chainOf(await h.view(alarmId))[1]!.delivery?.state === 'delivered');
    expect((await h.view(alarmId)).history.map((e) => e.note)).toContain('发给赵春梅的短信已送达');
  });

  it("a critical case's SMS not delivered within 5 minutes counts as not reached and moves the escalation on", async () => {
    const h = await harness(DAY, { escalationTimeoutSeconds: 900 }, true);
    const alarmId = await h.sos();
    await until('the SMS', () => h.primary.sent.length === 1);
    await h.advance(5 * MINUTE - 1_000);
    expect(h.primary.sent).toHaveLength(1);
    await h.advance(1_000);
    await h.eventually('the second contact texted', () => h.primary.sent.some((m) => m.to === '13800000002'));
    expect(chainOf(await h.view(alarmId))[0]).toMatchObject({ unreached: true, delivery: { state: 'waiting' } });
  });
});
