/**
 * Issue 12, "press 1 to take it": through the real system (MQTT gateway,
 * SQLite, outbox, REST) with the Aliyun voice caller in IVR mode against the
 * local voice stand-in, which answers IvrCall (signature checked) and pushes
 * the receipt with the key pressed to our receipt route, as Aliyun's HTTP
 * batch push does. The SMS go through a scripted channel; the system's clock
 * is fake, the stand-in's real (the SDK signs with the real date).
 */
import { SimDevice } from '@kanjia/firmware-sim';
import { LocalAliyunVoiceServer } from '@kanjia/alerts/testing';
import { FakeClock, type AlarmView } from '@kanjia/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem } from '../src/system.js';
import { oneHousehold, ScriptedChannel, systemClient, tempDataDir, until } from './helpers.js';

const silent = { info: () => undefined, warn: () => undefined };
/** 23:30 in Shanghai: a critical alarm rings the helper. */
const NIGHT = Date.UTC(2026, 0, 15, 15, 30, 0);
const TOKEN = 'rcpt_0123456789abcdefghijklmnop';
const KEY = { accessKeyId: 'LTAI5tKanjiaVoiceKey', accessKeySecret: 'kanjia-voice-secret-0123456789' };
const SHOW_NUMBER = '057112345678';
const HELPER = '13800000001';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness() {
  const voiceServer = new LocalAliyunVoiceServer({
    ...KEY,
    showNumbers: [SHOW_NUMBER],
    ttsTemplates: { TTS_IVR_ALARM: ['village', 'name', 'kind'], TTS_IVR_ESC: ['village', 'name', 'kind', 'minutes'], TTS_TAKE: [], TTS_PASS: [] },
    pushDelayMs: 50,
  });
  const { endpoint } = await voiceServer.start();
  const tmp = tempDataDir();
  const settings = loadSettings(
    {},
    {
      overrides: {
        dataDir: tmp.dir,
        httpPort: 0,
        mqttPort: 0,
        mqttHost: '127.0.0.1',
        escalationTimeoutSeconds: 300,
        logLevel: 'silent',
        voiceProvider: 'aliyun',
        aliyunVoice: { ...KEY, showNumber: SHOW_NUMBER, ttsCodeAlarm: 'TTS_IVR_ALARM', ttsCodeEscalation: 'TTS_IVR_ESC', endpoint, protocol: 'http', ivr: true, ivrTakeCode: 'TTS_TAKE', ivrPassCode: 'TTS_PASS', receiptToken: TOKEN },
      },
    },
  );
  const db = openDatabase(databaseFile(settings));
  const creds = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(oneHousehold()).devices[0]!;
  db.close();
  const clock = new FakeClock(NIGHT);
  const sms = new ScriptedChannel('primary', 'sms');
  const system = new KanjiaSystem({ settings, clock, smsSender: sms, logger: createLogger('silent') });
  const running = await system.start();
  const receiptUrl = new URL(`/api/voice/receipts/${TOKEN}`, running.httpUrl).href;
  voiceServer.setState({ receiptUrl });
  const api = systemClient(() => system.users, running.httpUrl, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
  const admin = systemClient(() => system.users, running.httpUrl, { name: 'admin1', role: 'admin', displayName: '管理员' });
  const device = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: creds.deviceId, secret: creds.secret, logger: silent, resendIntervalMs: 600_000 });
  const takenHeard: string[] = [];
  device.on('taken', ({ command }) => takenHeard.push(command.alarmId ?? ""));
  await device.start();
  cleanups.push(async () => {
    await device.stop();
    await system.stop();
    await voiceServer.stop();
    tmp.cleanup();
  });
  const view = (alarmId: string) => api.get<AlarmView>(`/api/alarms/${alarmId}`);
  const eventually = <T,>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>) =>
    until(what, () => {
      clock.advance(0);
      return check();
    });
  const push = (body: unknown, token = TOKEN) => fetch(new URL(`/api/voice/receipts/${token}`, running.httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { voiceServer, system, running, api, admin, device, sms, clock, view, eventually, push, takenHeard, sos: async () => (await device.pressSos().received).alarmId as string };
}

describe('press 1 to take it (IvrCall and the receipt push)', () => {
  it('a night SOS rings the helper by IvrCall; key 1 pushed back takes the case as that helper: history, audit, the device hears taken, no more SMS', async () => {
    const h = await harness();
    h.voiceServer.setState({ keys: { [HELPER]: '1' } });
    const alarmId = await h.sos();
    const call = await h.voiceServer.waitFor((c) => c.calledNumber === HELPER);
    expect(call).toMatchObject({ calledShowNumber: SHOW_NUMBER, ttsCode: 'TTS_IVR_ALARM', ivr: { menuKeys: { '1': 'TTS_TAKE', '2': 'TTS_PASS' } } });
    const taken = await h.eventually('the case taken by key 1', async () => {
      const v = await h.view(alarmId);
      return v.status === 'taken' ? v : undefined;
    });
    expect(taken).toMatchObject({ takenBy: '帮扶责任人 刘建军', nextEscalationAt: null });
    expect(taken.history).toContainEqual(expect.objectContaining({ action: 'taken', by: '帮扶责任人 刘建军', note: '电话按键接警' }));
    expect(taken.notifications.find((n) => n.purpose === 'call')).toMatchObject({ status: 'sent' });
    expect(h.voiceServer.pushes()).toEqual([expect.objectContaining({ status: 200, answer: JSON.stringify({ code: 0, msg: '成功' }) })]);
    await until('the device hears taken', () => h.takenHeard.includes(alarmId));
    const { entries } = await h.admin.get<{ entries: Array<{ action: string; actor: string; target: string; detail: string }> }>('/api/audit');
    expect(entries).toContainEqual(expect.objectContaining({ action: 'alarm.take', actor: '帮扶责任人 刘建军', target: alarmId, detail: 'voice call key 1' }));
    // The escalation stopped: the time out passes and nobody else is texted.
    const texted = h.sms.sent.length;
    h.clock.advance(10 * 60_000);
    await new Promise((r) => setTimeout(r, 200));
    expect(h.sms.sent.slice(texted).filter((m) => m.template === 'escalation')).toEqual([]);
    // Aliyun may push the same receipt twice: nothing happens twice.
    const again = await h.push([h.voiceServer.pushes()[0]!.report]);
    expect(again.status).toBe(200);
    const after = await h.view(alarmId);
    expect(after.history.filter((e) => e.action === 'taken')).toHaveLength(1);
  });

  it('key 2 texts the next contact at once', async () => {
    const h = await harness();
    h.voiceServer.setState({ keys: { [HELPER]: '2' } });
    const alarmId = await h.sos();
    await h.eventually('the next contact texted', () => h.sms.sent.find((m) => m.to === '13800000002'));
    const v = await h.view(alarmId);
    expect(v.status).toBe('open');
    expect(v.history.map((e) => e.note ?? '').join('\n')).toContain('在语音电话中按2：转给下一位联系人');
  });

  it('a key 1 after someone else took the case does not take it again: noted in the history, acknowledged', async () => {
    const h = await harness();
    const alarmId = await h.sos();
    const call = await h.voiceServer.waitFor((c) => c.calledNumber === HELPER);
    await h.api.post(`/api/alarms/${alarmId}/take`, {});
    const res = await h.push([{ call_id: call.callId, status_code: '200000', dtmf: '1', start_time: '2026-01-15 23:30:10', end_time: '2026-01-15 23:30:30' }]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ code: 0, msg: '成功' });
    const v = await h.view(alarmId);
    expect(v.takenBy).toBe('值班员 李明');
    expect(v.history.map((e) => e.note ?? '')).toContain('帮扶责任人 刘建军电话按1接警，但此案已有人接警');
  });

  it('a wrong token is 404; a malformed report is 400 naming it while the good ones of the batch are handled; an unknown CallId is acknowledged and ignored', async () => {
    const h = await harness();
    const wrong = await h.push([], 'x'.repeat(30));
    expect(wrong.status).toBe(404);
    expect(await wrong.json()).toMatchObject({ code: 'NOT_FOUND' });

    const notArray = await h.push({ call_id: 'x' });
    expect(notArray.status).toBe(400);
    expect(await notArray.json()).toMatchObject({ code: 'BAD_REQUEST' });

    const alarmId = await h.sos();
    const call = await h.voiceServer.waitFor((c) => c.calledNumber === HELPER);
    await h.eventually('the call recorded as sent', async () => (await h.view(alarmId)).notifications.some((n) => n.purpose === 'call' && n.status === 'sent'));
    const mixed = await h.push([{ dtmf: '1' }, { call_id: call.callId, status_code: '200000', dtmf: '2' }]);
    expect(mixed.status).toBe(400);
    const answer = (await mixed.json()) as { code: string; message: string };
    expect(answer.code).toBe('BAD_REQUEST');
    expect(answer.message).toContain('[0] call_id');
    await h.eventually('the good report handled: the next contact texted', () => h.sms.sent.find((m) => m.to === '13800000002'));

    // Wrong tokens are counted per address like the answer page's unknown codes: 300 per 5 minutes, then 429.
    for (let i = 0; i < 299; i++) expect((await h.push([], `wrong-token-${String(i).padStart(20, '0')}`)).status).toBe(404);
    const limited = await h.push([], 'y'.repeat(30));
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
    // The right token still works: Aliyun's pushes are not limited.
    const unknown = await h.push([{ call_id: '999999^000000', dtmf: '1', status_code: '200000' }]);
    expect(unknown.status).toBe(200);
    expect((await h.view(alarmId)).status).toBe('open');
  });
});
