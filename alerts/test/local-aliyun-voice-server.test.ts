/**
 * The local Aliyun voice stand-in's own checks, with requests crafted by hand and
 * signed with the test helper (not the SDK), sent with fetch.
 */
import { LOCAL_SMS_CONTROL_PATH, LocalAliyunVoiceServer, runLocalAliyunSmsCommand, signAcs3Request } from '@kanjia/alerts/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AliyunVoiceCaller } from '../src/voice/aliyun-voice-caller.js';

const KEY = { accessKeyId: 'LTAI5tKanjiaVoiceKey', accessKeySecret: 'kanjia-voice-secret-0123456789' };
const CALL = {
  CalledShowNumber: '057112345678',
  CalledNumber: '13812345678',
  TtsCode: 'TTS_ALARM',
  TtsParam: JSON.stringify({ village: '王庄村', name: '王秀英', kind: '跌倒' }),
  PlayTimes: '2',
  OutId: 'ntf-hand-1',
};

describe('LocalAliyunVoiceServer', () => {
  let server: LocalAliyunVoiceServer;
  let url: string;
  let endpoint: string;
  let nowMs: number;

  beforeEach(async () => {
    nowMs = Date.now();
    server = new LocalAliyunVoiceServer({ ...KEY, showNumbers: ['057112345678'], ttsTemplates: { TTS_ALARM: ['village', 'name', 'kind'] }, clock: { nowMs: () => nowMs } });
    ({ url, endpoint } = await server.start());
  });

  afterEach(() => server.stop());

  async function post(action: string, params: Record<string, string>, secret = KEY.accessKeySecret) {
    const request = signAcs3Request({
      method: 'POST',
      host: endpoint,
      query: params,
      headers: { 'x-acs-action': action, 'x-acs-version': '2017-05-25' },
      accessKeyId: KEY.accessKeyId,
      accessKeySecret: secret,
    });
    const { host: _host, ...headers } = request.headers;
    const response = await fetch(`${url}${request.pathWithQuery}`, { method: 'POST', headers });
    return { status: response.status, body: (await response.json()) as { Code: string; Message: string; CallId?: string; Data?: string } };
  }

  it('accepts a call signed by hand and records it with a CallId', async () => {
    const { status, body } = await post('SingleCallByTts', CALL);
    expect(status).toBe(200);
    expect(body).toMatchObject({ Code: 'OK', Message: 'OK' });
    expect(body.CallId).toMatch(/^\d+\^\d+$/);
    expect(server.accepted[0]).toMatchObject({ callId: body.CallId, calledNumber: '13812345678', ttsParam: { kind: '跌倒' }, playTimes: 2, outId: 'ntf-hand-1' });
  });

  it('refuses a signature made with another secret and an action it does not serve', async () => {
    expect(await post('SingleCallByTts', CALL, 'guess')).toMatchObject({ status: 400, body: { Code: 'SignatureDoesNotMatch' } });
    expect(await post('SendSms', CALL)).toMatchObject({ status: 404, body: { Code: 'InvalidAction.NotFound' } });
    expect(server.accepted).toEqual([]);
  });

  it.each([
    ['a called number that is no phone', { CalledNumber: '12345' }, 'isv.MOBILE_NUMBER_ILLEGAL'],
    ['an unregistered display number', { CalledShowNumber: '01099999999' }, 'isv.DISPLAY_NUMBER_ILLEGAL'],
    ['an unknown TtsCode', { TtsCode: 'TTS_OTHER' }, 'isv.TTS_TEMPLATE_ILLEGAL'],
    ['TtsParam that is not JSON', { TtsParam: '{village:王庄村}' }, 'isv.INVALID_PARAMETERS'],
    ['a missing TtsParam', { TtsParam: '' }, 'isv.TEMPLATE_MISSING_PARAMETERS'],
    ['a missing template variable', { TtsParam: JSON.stringify({ village: '王庄村', name: '王秀英' }) }, 'isv.TEMPLATE_MISSING_PARAMETERS'],
    ['a link in a variable', { TtsParam: JSON.stringify({ village: 'www.kanjia.cn', name: '王秀英', kind: '跌倒' }) }, 'isv.PARAM_NOT_SUPPORT_URL'],
    ['PlayTimes 4', { PlayTimes: '4' }, 'isv.INVALID_PARAMETERS'],
    ['Volume 101', { Volume: '101' }, 'isv.INVALID_PARAMETERS'],
    ['an OutId of 16 bytes', { OutId: 'ntf_3k9x2a7fq1mz' }, 'isv.INVALID_PARAMETERS'],
    ['variables of 250 characters together', { TtsParam: JSON.stringify({ village: '村'.repeat(200), name: '王'.repeat(48), kind: '跌倒' }) }, 'isv.PARAM_LENGTH_LIMIT'],
  ])('refuses %s with HTTP 200 and %s, and records nothing', async (_label, change, code) => {
    const { status, body } = await post('SingleCallByTts', { ...CALL, ...change });
    expect(status).toBe(200);
    expect(body.Code).toBe(code);
    expect(body.Message).not.toBe('');
    expect(server.accepted).toEqual([]);
    expect(server.rejected.at(-1)).toMatchObject({ code, injected: false });
  });

  it('accepts a call without CalledShowNumber (the shared mode)', async () => {
    const { CalledShowNumber: _left, ...shared } = CALL;
    expect((await post('SingleCallByTts', shared)).body.Code).toBe('OK');
    expect(server.accepted[0]?.calledShowNumber).toBeNull();
  });

  it('answers QueryCallDetailByCallId: empty Data before the call ended, for another product or day; the detail after', async () => {
    server.setState({ outcomes: { '13812345678': 'off' } });
    const callId = (await post('SingleCallByTts', CALL)).body.CallId ?? '';
    const query = { CallId: callId, ProdId: '11000000300006', QueryDate: String(nowMs) };
    expect((await post('QueryCallDetailByCallId', query)).body).toMatchObject({ Code: 'OK', Data: '' });
    nowMs += 5_000;
    expect((await post('QueryCallDetailByCallId', { ...query, ProdId: '11000000300005' })).body.Data).toBe('');
    expect((await post('QueryCallDetailByCallId', { ...query, QueryDate: String(nowMs - 3 * 86_400_000) })).body.Data).toBe('');
    const detail = JSON.parse((await post('QueryCallDetailByCallId', query)).body.Data ?? '') as Record<string, unknown>;
    expect(detail).toMatchObject({ callee: '13812345678', state: '200010', stateDesc: '关机', startDate: '', duration: 0 });
    expect((await post('QueryCallDetailByCallId', { ...query, CallId: '' })).body.Code).toBe('isv.INVALID_PARAMETERS');
  });

  it('is switched over HTTP: outcomes and settleAfterMs in PUT /_control, a bad outcome refused with BAD_CONTROL', async () => {
    const put = (body: string) => fetch(`${url}${LOCAL_SMS_CONTROL_PATH}`, { method: 'PUT', body });
    const changed = await put(JSON.stringify({ mode: 'flow-control', outcomes: { '13900000001': 'no-answer' }, settleAfterMs: 0 }));
    expect(await changed.json()).toEqual({ mode: 'flow-control', badNumbers: [], limitedNumbers: [], accepted: 0, rejected: 0, outcomes: { '13900000001': 'no-answer' }, settleAfterMs: 0, keys: {}, receiptUrl: null, pushes: [] });
    expect((await post('SingleCallByTts', CALL)).body.Code).toBe('isv.BUSINESS_LIMIT_CONTROL');
    const refused = await put(JSON.stringify({ outcomes: { '13900000001': 'maybe' } }));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { code: string }).code).toBe('BAD_CONTROL');
    expect(server.state().outcomes).toEqual({ '13900000001': 'no-answer' });
  });

  it('waitFor resolves with a call that arrives later', async () => {
    const waiting = server.waitFor((call) => call.outId === 'ntf-later', 2_000);
    await post('SingleCallByTts', { ...CALL, OutId: 'ntf-later' });
    expect((await waiting).outId).toBe('ntf-later');
    await expect(server.waitFor((call) => call.outId === 'never', 50)).rejects.toThrow(/no matching call within 50 ms/);
  });
});

describe('local Aliyun command with --api voice', () => {
  it('serves the voice API and prints one JSON line per accepted call, the number masked with --mask-phones', async () => {
    const out: string[] = [];
    const { server, address } = await runLocalAliyunSmsCommand(
      ['--api', 'voice', '--port', '0', '--access-key-id', KEY.accessKeyId, '--access-key-secret', KEY.accessKeySecret, '--template', 'TTS_ALARM=village,name,kind', '--show-number', '057112345678', '--mask-phones'],
      { stdout: (l) => out.push(l), stderr: () => {}, env: {} },
    );
    try {
      const caller = new AliyunVoiceCaller({ ...KEY, showNumber: '057112345678', ttsCodes: { alarm: 'TTS_ALARM' }, endpoint: address.endpoint, protocol: 'http' }, { log: () => {} });
      const sent = await caller.send({ to: '13812345678', template: 'alarm', kind: 'fall', params: { village: '王庄村', name: '王秀英', kind: '跌倒' }, text: '', outId: 'ntf-cli' });
      expect(sent.ok).toBe(true);
      expect(out).toHaveLength(2);
      expect(JSON.parse(out[1] ?? '')).toMatchObject({ type: 'call', calledNumber: '138****5678', ttsCode: 'TTS_ALARM', outId: 'ntf-cli' });
    } finally {
      await server.stop();
    }
    await expect(runLocalAliyunSmsCommand(['--api', 'fax', '--access-key-id', 'a', '--access-key-secret', 'b'], { stdout: () => {}, stderr: () => {}, env: {} })).rejects.toThrow(/--api must be sms or voice/);
  });
});
