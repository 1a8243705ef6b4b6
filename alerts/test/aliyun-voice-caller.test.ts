/**
 * AliyunVoiceCaller against the local voice stand-in on loopback: real HTTP, the
 * ACS3 signature of @alicloud/openapi-core checked by the stand-in's own verifier.
 */
import { LocalAliyunVoiceServer } from '@kanjia/alerts/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryQuery } from '../src/channels/channel.js';
import type { SmsMessage } from '../src/sms/sms-sender.js';
import { AliyunVoiceCaller, AliyunVoiceSettingsSchema, normalizeCalledNumber, voiceOutId, type AliyunVoiceSettingsInput } from '../src/voice/aliyun-voice-caller.js';

const KEY = { accessKeyId: 'LTAI5tKanjiaVoiceKey', accessKeySecret: 'kanjia-voice-secret-0123456789' };
const SHOW_NUMBER = '057112345678';
const HELPER = '13812345678';

const PARAMS = { kind: '紧急呼叫', name: '王秀英', village: '王庄村', time: '02:10', address: '王庄村3组12号', detail: '-', code: 'k7m2p9', minutes: '5' };

function message(change: Partial<SmsMessage> = {}): SmsMessage {
  return { to: HELPER, template: 'alarm', kind: 'sos', params: PARAMS, text: '', outId: 'ntf-voice-1', ...change };
}

describe('AliyunVoiceCaller', () => {
  let server: LocalAliyunVoiceServer;
  let endpoint: string;
  let nowMs: number;
  let logs: string[];

  beforeEach(async () => {
    nowMs = Date.now();
    server = new LocalAliyunVoiceServer({
      ...KEY,
      showNumbers: [SHOW_NUMBER],
      ttsTemplates: { TTS_ALARM: ['village', 'name', 'kind'], TTS_ESC: ['village', 'name', 'kind', 'minutes'], TTS_FALL: ['village', 'name'] },
      clock: { nowMs: () => nowMs },
    });
    ({ endpoint } = await server.start());
    logs = [];
  });

  afterEach(() => server.stop());

  function caller(change: Partial<AliyunVoiceSettingsInput> = {}): AliyunVoiceCaller {
    return new AliyunVoiceCaller(
      { ...KEY, showNumber: SHOW_NUMBER, ttsCodes: { alarm: 'TTS_ALARM', escalation: 'TTS_ESC', 'alarm.fall': 'TTS_FALL' }, endpoint, protocol: 'http', ...change },
      { log: (line) => logs.push(line) },
    );
  }

  it('rings with SingleCallByTts: display number, called number, the TTS code, exactly the template variables, PlayTimes 2 and OutId; the CallId is the providerRef', async () => {
    const result = await caller().send(message());
    expect(result).toEqual({ ok: true, providerRef: server.accepted[0]?.callId });
    expect(server.accepted).toHaveLength(1);
    expect(server.accepted[0]).toMatchObject({
      calledNumber: HELPER,
      calledShowNumber: SHOW_NUMBER,
      ttsCode: 'TTS_ALARM',
      ttsParam: { village: '王庄村', name: '王秀英', kind: '紧急呼叫' },
      playTimes: 2,
      volume: null,
      outId: 'ntf-voice-1',
    });
    expect(logs).toEqual([]);
  });

  it('uses the kind’s own template (2 variables, the shared mode’s limit) when its code is configured, and the escalation template with the minutes', async () => {
    const voice = caller({ playTimes: 3, volume: 100 });
    expect((await voice.send(message({ kind: 'fall', params: { ...PARAMS, kind: '跌倒' } }))).ok).toBe(true);
    expect((await voice.send(message({ template: 'escalation', outId: 'ntf-voice-2' }))).ok).toBe(true);
    expect(server.accepted.map((c) => [c.ttsCode, c.ttsParam, c.playTimes, c.volume])).toEqual([
      ['TTS_FALL', { village: '王庄村', name: '王秀英' }, 3, 100],
      ['TTS_ESC', { village: '王庄村', name: '王秀英', kind: '紧急呼叫', minutes: '5' }, 3, 100],
    ]);
  });

  it('sends our notification id as OutId within Aliyun’s 15 bytes: as it is, without its prefix, or not at all', async () => {
    const voice = caller();
    for (const outId of ['ntf_3k9x2a7fq1mz', 'a-notification-id-of-30-bytes!']) expect((await voice.send(message({ outId }))).ok).toBe(true);
    expect(server.accepted.map((c) => c.outId)).toEqual(['3k9x2a7fq1mz', null]);
    expect([voiceOutId('ntf-1'), voiceOutId('ntf_3k9x2a7fq1mz'), voiceOutId('x'.repeat(16))]).toEqual(['ntf-1', '3k9x2a7fq1mz', undefined]);
  });

  it('leaves CalledShowNumber out in the shared mode (no showNumber)', async () => {
    expect((await caller({ showNumber: undefined }).send(message())).ok).toBe(true);
    expect(server.accepted[0]?.calledShowNumber).toBeNull();
  });

  it('rings with the generic template when the kind’s own code is unknown to Aliyun, and says so in the log', async () => {
    const result = await caller({ ttsCodes: { alarm: 'TTS_ALARM', escalation: 'TTS_ESC', 'alarm.co': 'TTS_NOT_REGISTERED' } }).send(message({ kind: 'co', params: { ...PARAMS, kind: '一氧化碳' } }));
    expect(result.ok).toBe(true);
    expect(server.rejected.map((r) => r.code)).toEqual(['isv.TTS_TEMPLATE_ILLEGAL']);
    expect(server.accepted[0]?.ttsCode).toBe('TTS_ALARM');
    expect(logs.join('\n')).toContain('alarm.co (TTS_NOT_REGISTERED) was refused with isv.TTS_TEMPLATE_ILLEGAL');
  });

  it('refuses before calling: a cancelled notice (never rung) and a kind without any code go to the next channel (limited), a number that is no phone is permanent', async () => {
    const voice = caller({ ttsCodes: { 'alarm.fall': 'TTS_FALL' } });
    expect(await voice.send(message({ template: 'cancelled' }))).toMatchObject({ ok: false, kind: 'limited', code: 'SMS_UNKNOWN_TEMPLATE' });
    expect(await voice.send(message())).toMatchObject({ ok: false, kind: 'limited', code: 'SMS_UNKNOWN_TEMPLATE' });
    expect([voice.ringsFor('alarm', 'fall'), voice.ringsFor('alarm', 'sos'), voice.ringsFor('escalation', 'fall'), voice.ringsFor('cancelled', 'fall')]).toEqual([true, false, false, false]);
    expect(caller().ringsFor('escalation', 'gas')).toBe(true);
    expect(await caller().send(message({ to: '12345' }))).toMatchObject({ ok: false, kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL' });
    expect(server.accepted).toEqual([]);
    expect(server.rejected).toEqual([]);
  });

  it('with ivr: rings by IvrCall (StartCode, StartTtsParams, MenuKeyMap 1 take / 2 pass, Timeout, OutId), same send() result; without a display number the settings are refused', async () => {
    const ivrCaller = caller({ ttsCodes: { alarm: 'TTS_ALARM' }, ivr: { takeCode: 'TTS_FALL', passCode: 'TTS_ESC', keyTimeoutMs: 8_000 } });
    const result = await ivrCaller.send(message());
    expect(result).toEqual({ ok: true, providerRef: server.accepted[0]?.callId });
    expect(server.accepted[0]).toMatchObject({
      calledNumber: HELPER,
      calledShowNumber: SHOW_NUMBER,
      ttsCode: 'TTS_ALARM',
      ttsParam: { village: '王庄村', name: '王秀英', kind: '紧急呼叫' },
      playTimes: 2,
      outId: 'ntf-voice-1',
      ivr: { menuKeys: { '1': 'TTS_FALL', '2': 'TTS_ESC' }, timeoutMs: 8_000 },
    });
    // A key code Aliyun does not know is refused as the template is.
    const bad = await caller({ ivr: { takeCode: 'TTS_NOPE', passCode: 'TTS_ESC' } }).send(message());
    expect(bad).toMatchObject({ ok: false, code: 'isv.TTS_TEMPLATE_ILLEGAL' });
    expect(() => caller({ showNumber: undefined, ivr: { takeCode: 'TTS_FALL', passCode: 'TTS_ESC' } })).toThrow(/showNumber: required with ivr/);
  });

  it('rings a fixed line with its area code', async () => {
    expect(normalizeCalledNumber('+86 571 8765 4321')).toBe('057187654321');
    expect((await caller().send(message({ to: '0571-87654321' }))).ok).toBe(true);
    expect(server.accepted[0]?.calledNumber).toBe('057187654321');
  });

  describe('every failure of the provider maps to its kind', () => {
    it.each([
      ['flow-control', 'limited', 'isv.BUSINESS_LIMIT_CONTROL'],
      ['no-credit', 'account', 'isv.AMOUNT_NOT_ENOUGH'],
      ['out-of-service', 'account', 'isv.OUT_OF_SERVICE'],
      ['key-disabled', 'account', 'InvalidAccessKeyId.Inactive'],
      ['signature-error', 'account', 'SignatureDoesNotMatch'],
      ['outage-503', 'transport', 'ServiceUnavailable'],
      ['outage-reset', 'transport', 'SMS_NETWORK_ERROR'],
    ] as const)('mode %s: %s with %s', async (mode, kind, code) => {
      server.setMode(mode);
      expect(await caller().send(message())).toMatchObject({ ok: false, kind, code });
      expect(server.accepted).toEqual([]);
    });

    it.each([
      ['isv.COMPLAINT_REJECT', 'limited'],
      ['isv.VOICE_ROBOT_NOT_PERIOD', 'limited'],
      ['isv.VOICE_CALL_FAIL', 'retryMessage'],
      ['isv.BILLID_NOT_EXIST', 'account'],
      ['isp.SYSTEM_ERROR', 'transport'],
      ['isv.BLACK_KEY_CONTROL_LIMIT', 'permanent'],
    ] as const)('an answer %s is %s', async (code, kind) => {
      server.failNext(1, { code });
      expect(await caller().send(message())).toMatchObject({ ok: false, kind, code });
    });

    it('a number at its flow-control limit is limited (moves to the next channel), a bad one permanent', async () => {
      server.setState({ limitedNumbers: [HELPER], badNumbers: ['13900000000'] });
      expect(await caller().send(message())).toMatchObject({ ok: false, kind: 'limited', code: 'isv.BUSINESS_LIMIT_CONTROL' });
      expect(await caller().send(message({ to: '13900000000' }))).toMatchObject({ ok: false, kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL' });
    });

    it('a bad secret is refused by the stand-in’s signature check and classified account; an unregistered display number and TTS code too', async () => {
      expect(await caller({ accessKeySecret: 'not-the-secret' }).send(message())).toMatchObject({ ok: false, kind: 'account', code: 'SignatureDoesNotMatch' });
      expect(await caller({ showNumber: '01000000000' }).send(message())).toMatchObject({ ok: false, kind: 'account', code: 'isv.DISPLAY_NUMBER_ILLEGAL' });
      expect(await caller({ ttsCodes: { alarm: 'TTS_OTHER' } }).send(message())).toMatchObject({ ok: false, kind: 'account', code: 'isv.TTS_TEMPLATE_ILLEGAL' });
      expect(server.accepted).toEqual([]);
    });

    it('gives up after timeoutMs when Aliyun does not answer: transport SMS_TIMEOUT', async () => {
      server.setLatencyMs(1_000);
      expect(await caller({ timeoutMs: 150 }).send(message())).toMatchObject({ ok: false, kind: 'transport', code: 'SMS_TIMEOUT' });
    });

    it('logs each failure with the number masked', async () => {
      server.setMode('no-credit');
      await caller().send(message());
      expect(logs).toHaveLength(1);
      expect(logs[0]).toContain('138****5678');
      expect(logs.join('\n')).not.toContain(HELPER);
    });
  });

  describe('queryDelivery (QueryCallDetailByCallId)', () => {
    async function rung(to = HELPER): Promise<DeliveryQuery> {
      const result = await caller().send(message({ to }));
      if (!result.ok || result.providerRef === null) throw new Error('the call did not go out');
      return { providerRef: result.providerRef, to, sentAtMs: nowMs, outId: 'ntf-voice-1' };
    }

    it('is pending until the call is in Aliyun’s records, then delivered when answered, with the time it was answered', async () => {
      const voice = caller();
      const query = await rung();
      expect(await voice.queryDelivery(query)).toEqual({ state: 'pending' });
      nowMs += 5_000;
      const answer = await voice.queryDelivery(query);
      expect(answer).toMatchObject({ state: 'delivered', detail: '200000 用户听完语音' });
      expect(answer.state === 'delivered' ? answer.atMs : null).toBe(Math.floor((query.sentAtMs + 1_000) / 1_000) * 1_000);
    });

    it.each([
      ['no-answer', 'failed', '200003'],
      ['busy', 'failed', '200002'],
      ['off', 'failed', '200010'],
      ['unreachable', 'failed', '200005'],
      ['hung-up-early', 'delivered', undefined],
      ['ringing', 'pending', undefined],
    ] as const)('a call that ends %s is %s %s', async (outcome, state, code) => {
      server.setState({ outcomes: { [HELPER]: outcome } });
      const query = await rung();
      nowMs += 5_000;
      const answer = await caller().queryDelivery(query);
      expect(answer.state).toBe(state);
      if (code !== undefined) expect(answer).toMatchObject({ code, message: expect.stringContaining('did not reach the helper') });
    });

    it('tells one helper’s answered call from another’s unanswered one', async () => {
      server.setState({ outcomes: { '13900000001': 'no-answer' } });
      const answered = await rung();
      const unanswered = await rung('13900000001');
      nowMs += 5_000;
      expect((await caller().queryDelivery(answered)).state).toBe('delivered');
      expect(await caller().queryDelivery(unanswered)).toMatchObject({ state: 'failed', code: '200003' });
    });

    it('is unknown when the query itself fails (outage, bad secret), pending for a call Aliyun does not know', async () => {
      const query = await rung();
      nowMs += 5_000;
      server.setMode('outage-503');
      expect(await caller().queryDelivery(query)).toMatchObject({ state: 'unknown', code: 'ServiceUnavailable' });
      server.setMode('ok');
      expect(await caller({ accessKeySecret: 'wrong' }).queryDelivery(query)).toMatchObject({ state: 'unknown', code: 'SignatureDoesNotMatch' });
      expect(await caller().queryDelivery({ ...query, providerRef: '1^2' })).toEqual({ state: 'pending' });
      expect(await caller().queryDelivery({ ...query, sentAtMs: query.sentAtMs - 2 * 86_400_000 })).toEqual({ state: 'pending' });
    });

    it('answers a query in the account modes: only calls are refused for credit or flow control', async () => {
      const query = await rung();
      nowMs += 5_000;
      server.setMode('no-credit');
      expect((await caller().queryDelivery(query)).state).toBe('delivered');
    });
  });

  describe('settings', () => {
    it('refuses bad settings with every problem listed', () => {
      expect(() => new AliyunVoiceCaller({ accessKeyId: '', accessKeySecret: 's', ttsCodes: { 'alarm.nope': 'TTS_1' }, playTimes: 4, endpoint: 'https://x/' })).toThrow(
        /accessKeyId: required[\s\S]*ttsCodes[\s\S]*playTimes[\s\S]*endpoint: host or host:port/,
      );
      expect(() => new AliyunVoiceCaller({ ...KEY, ttsCodes: {} })).toThrow(/at least one TTS template code/);
    });

    it('fills the defaults: PlayTimes 2, Aliyun’s endpoint, https, 5 s', () => {
      expect(AliyunVoiceSettingsSchema.parse({ ...KEY, ttsCodes: { alarm: 'TTS_1' } })).toMatchObject({ playTimes: 2, endpoint: 'dyvmsapi.aliyuncs.com', protocol: 'https', timeoutMs: 5_000 });
    });
  });
});
