/**
 * Issue 12, acceptance 1 and 2, through real processes: `kanjia start` with
 * Aliyun SMS pointed at its local stand-in (the signature checked), Twilio as
 * the fallback SMS provider (its local stand-in checks the Basic auth) and a
 * DingTalk group robot with a signed webhook (its stand-in checks the sign
 * as DingTalk does). A simulated button presses SOS over MQTT.
 *
 * - a critical alarm at night (the night set to the whole day here) rings
 *   the first helper through Aliyun's voice service (its stand-in checks the
 *   signature, the TTS template and its variables) and texts them;
 * - the duty group hears of the case's opening, taking and closing, each
 *   post signed correctly;
 * - Aliyun answering errors (503): the helper's SMS falls over to Twilio
 *   within the configured failover time, and the case says so;
 * - Aliyun's flow control (isv.BUSINESS_LIMIT_CONTROL) is not retried: the
 *   SMS goes by Twilio at once.
 */
import { VOICE_TEMPLATES } from '@kanjia/alerts';
import { LocalAliyunSmsServer, LocalAliyunVoiceServer, LocalRobotServer, LocalTwilioServer } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import type { AlarmView } from '@kanjia/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addUser, ALIYUN_TEST_TEMPLATES, apiClient, twilioFallbackEnv, household, importVillage, kanjiaEnv, sleep, startKanjia, tempDir, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const silent = { info: () => undefined, warn: () => undefined };
const ALIYUN = { accessKeyId: 'LTAI5tKanjiaChannelsE2E', accessKeySecret: 'channels-e2e-secret-0123456789' };
const TWILIO = { accountSid: `AC${'0123456789abcdef'.repeat(2)}`, authToken: 'twilio-e2e-token-0123456789' };
const DINGTALK = { token: 'dingtalkE2Etoken0123456789', secret: 'SECdingtalk-e2e-secret-0123456789' };
/** The shortest failover time the settings take: the test waits it out for real. */
const FAILOVER_SECONDS = 10;

describe('channels through real processes: failover to a second SMS provider, flow control, the duty group robot', () => {
  const tmp = tempDir();
  const aliyun = new LocalAliyunSmsServer({
    ...ALIYUN,
    signNames: ['智慧看家'],
    templates: ALIYUN_TEST_TEMPLATES,
  });
  const twilio = new LocalTwilioServer({ ...TWILIO, senders: ['+8610690000'] });
  const robots = new LocalRobotServer({ dingtalk: { [DINGTALK.token]: { secret: DINGTALK.secret } } });
  const voice = new LocalAliyunVoiceServer({ ...ALIYUN, showNumbers: ['057188880000'], ttsTemplates: { TTS_300001: VOICE_TEMPLATES.alarm.variables, TTS_300002: VOICE_TEMPLATES.escalation.variables } });
  let kanjia: KanjiaProcess;
  let api: ApiClient;
  const devices: SimDevice[] = [];

  beforeAll(async () => {
    const address = await aliyun.start();
    const twilioAt = await twilio.start();
    const robotsAt = await robots.start();
    const voiceAt = await voice.start();
    const made = await kanjiaEnv(tmp.dir, { ...address, ...ALIYUN });
    const env = {
      ...made.env,
      KANJIA_SMS_OUTAGE_PROBE_MAX_SECONDS: '1',
      ...twilioFallbackEnv(TWILIO, twilioAt.url),
      KANJIA_GROUP_ROBOT: 'dingtalk',
      KANJIA_DINGTALK_ROBOTS: JSON.stringify({ default: { webhook: `https://oapi.dingtalk.com/robot/send?access_token=${DINGTALK.token}`, secret: DINGTALK.secret } }),
      KANJIA_DINGTALK_BASE_URL: robotsAt.url,
      KANJIA_FAILOVER_CRITICAL_SECONDS: String(FAILOVER_SECONDS),
      // Voice calls by Aliyun's voice service (the SMS key), and "night" all day long.
      KANJIA_VOICE_PROVIDER: 'aliyun',
      KANJIA_VOICE_NIGHT: '00:00-23:59',
      KANJIA_ALIYUN_VOICE_SHOW_NUMBER: '057188880000',
      KANJIA_ALIYUN_VOICE_TTS_CODE_ALARM: 'TTS_300001',
      KANJIA_ALIYUN_VOICE_TTS_CODE_ESCALATION: 'TTS_300002',
      KANJIA_ALIYUN_VOICE_ENDPOINT: voiceAt.endpoint,
      KANJIA_ALIYUN_VOICE_PROTOCOL: 'http',
      // Three households, each pressing once: no bundling of their SMS to one helper's number.
      KANJIA_SMS_BUNDLE_WINDOW_SECONDS: '0',
    };
    const creds = importVillage(env, [
      household('石门村一组1号', '王秀英', [['刘建军', 'helper', '13800000001']]),
      household('石门村一组2号', '张德福', [['王志强', 'helper', '13800000002']]),
      household('石门村一组3号', '李桂兰', [['陈小红', 'helper', '13800000003']]),
    ]);
    addUser(env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, undefined, { name: 'liming' });
    for (const c of creds) {
      const d = new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${made.mqttPort}`, deviceId: c.deviceId, secret: c.secret, logger: silent, resendIntervalMs: 1000 });
      await d.start();
      devices.push(d);
    }
  }, 60_000);

  afterAll(async () => {
    for (const d of devices) await d.stop();
    await kanjia?.kill('SIGTERM');
    await aliyun.stop();
    await twilio.stop();
    await robots.stop();
    await voice.stop();
    tmp.cleanup();
  });

  const view = (alarmId: string) => api.get<AlarmView>(`/api/alarms/${alarmId}`);

  it("a critical alarm at night rings the first helper and texts them; the case's opening, taking and closing go to the duty group, each with DingTalk's signature right", async () => {
    const alarmId = (await devices[0]!.pressSos().received).alarmId as string;
    const sms = await aliyun.waitFor((m) => m.phoneNumbers === '13800000001', 10_000);
    expect(sms).toMatchObject({ signName: '智慧看家', templateCode: 'SMS_100001', templateParam: { name: '王秀英' } });
    const call = await voice.waitFor((c) => c.calledNumber === '13800000001', 10_000);
    expect(call).toMatchObject({ calledShowNumber: '057188880000', ttsCode: 'TTS_300001', playTimes: 2, ttsParam: { name: '王秀英', village: '石门村' } });
    await expect
      .poll(async () => (await view(alarmId)).notifications.filter((n) => n.purpose === 'call').map((n) => [n.medium, n.channel, n.status]), { timeout: 10_000 })
      .toEqual([['voice', 'aliyun-voice', 'sent']]);
    expect((await view(alarmId)).history.map((e) => e.note)).toContain('夜间紧急警报：同时给刘建军打语音电话');
    const opened = await robots.waitFor((p) => p.text.includes('王秀英'), 10_000);
    expect(opened).toMatchObject({ robot: 'dingtalk', token: DINGTALK.token, signed: true, msgtype: 'markdown', mentionAll: true, mentionedMobiles: [] });
    expect(opened.title).toBe('【智慧看家】紧急呼叫 · 王秀英');
    expect((await api.post(`/api/alarms/${alarmId}/take`, {})).status).toBe(200);
    const taken = await robots.waitFor((p) => p.title === '【智慧看家】已接警：紧急呼叫 · 王秀英', 10_000);
    expect(taken.text).toContain('李明');
    expect((await api.post(`/api/alarms/${alarmId}/resolve`, { note: '老人平安' })).status).toBe(200);
    const closed = await robots.waitFor((p) => p.title === '【智慧看家】已处理：紧急呼叫 · 王秀英', 10_000);
    expect(closed.text).toContain('老人平安');
    expect(closed.signed).toBe(true);
    expect(robots.rejected).toEqual([]);
    for (const p of robots.posts) expect(`${p.title ?? ''} ${p.text}`).not.toMatch(/1[3-9]\d{9}/);
  });

  it(`Aliyun answering errors: the SMS falls over to Twilio within ${FAILOVER_SECONDS} s, and the case says so`, async () => {
    aliyun.setMode('outage-503');
    const pressedAt = Date.now();
    const alarmId = (await devices[1]!.pressSos().received).alarmId as string;
    const message = await twilio.waitFor((m) => m.to === '+8613800000002', (FAILOVER_SECONDS + 10) * 1000);
    const tookMs = message.receivedAtMs - pressedAt;
    expect(tookMs).toBeGreaterThanOrEqual(FAILOVER_SECONDS * 1000 - 500);
    expect(tookMs).toBeLessThan((FAILOVER_SECONDS + 8) * 1000);
    expect(message).toMatchObject({ from: '+8610690000', authUser: TWILIO.accountSid });
    expect(message.body).toContain('张德福');
    expect(message.body).toMatch(/\/a\/[A-Za-z0-9]+$/);
    expect(aliyun.accepted.filter((m) => m.phoneNumbers === '13800000002')).toEqual([]);
    await expect
      .poll(async () => (await view(alarmId)).notifications.find((n) => n.purpose === 'chain')?.status, { timeout: 10_000 })
      .toBe('sent');
    const n = (await view(alarmId)).notifications.find((x) => x.purpose === 'chain')!;
    expect(n).toMatchObject({ channel: 'twilio', routeStep: 1, route: ['aliyun', 'twilio', 'aliyun-voice', 'dingtalk'] });
    expect(n.failovers[0]).toMatchObject({ from: 'aliyun', to: 'twilio' });
    expect(n.failovers[0]!.reason).toMatch(/^FAILOVER_TIMEOUT/);
    expect((await view(alarmId)).history.map((e) => e.note)).toContainEqual(expect.stringMatching(/^发给王志强的通知无法通过短信（aliyun）送达.*已改用短信（twilio）$/));
  }, 40_000);

  it("Aliyun's flow control is not retried: the SMS goes by Twilio at once", async () => {
    aliyun.setMode('flow-control');
    // The outage of the last test must be over for Aliyun to be asked at all: it answers again (flow control is an answer).
    await sleep(1_500);
    const before = aliyun.rejected.length;
    const alarmId = (await devices[2]!.pressSos().received).alarmId as string;
    const message = await twilio.waitFor((m) => m.to === '+8613800000003', 15_000);
    expect(message.body).toContain('李桂兰');
    await sleep(3_000);
    const asked = aliyun.rejected.slice(before).filter((r) => r.code === 'isv.BUSINESS_LIMIT_CONTROL');
    expect(asked).toHaveLength(1);
    await expect
      .poll(async () => (await view(alarmId)).notifications.find((n) => n.purpose === 'chain')?.failovers.map((f) => f.reason.split(':')[0]), { timeout: 10_000 })
      .toEqual(['isv.BUSINESS_LIMIT_CONTROL']);
  }, 40_000);
});
