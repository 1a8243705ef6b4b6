/**
 * AliyunSmsSender (the official SDK, ACS3-HMAC-SHA256) against the local Aliyun
 * server, whose signature check is written independently: a message that
 * arrives proves the SDK and our reading of Aliyun's algorithm agree.
 */
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderSms, SMS_KIND_TEMPLATES, SMS_TEMPLATES, type RenderSmsInput } from '../src/messages/sms-templates.js';
import { AliyunSmsSender, type AliyunSmsSettings } from '../src/sms/aliyun-sms-sender.js';
import type { SmsMessage } from '../src/sms/sms-sender.js';

const KEY = { accessKeyId: 'LTAI5tKanjiaTestKey', accessKeySecret: 'kanjia-test-secret-0123456789' };
const SIGN_NAME = '智慧看家';
const TEMPLATE_CODES = { alarm: 'SMS_480010001', escalation: 'SMS_480010002', cancelled: 'SMS_480010003' };
const PHONE = '13812345678';

const WANG: Omit<RenderSmsInput, 'kind'> = {
  residentName: '王秀英',
  address: '王庄村3组12号',
  villageName: '王庄村',
  atMs: Date.UTC(2026, 0, 15, 2, 0),
  timeZone: 'Asia/Shanghai',
  answerCode: 'k7m2p9x4q3r8',
  publicUrl: 'https://kanjia.example.cn',
};

function alarmMessage(overrides: Partial<SmsMessage> = {}): SmsMessage {
  const { params, text } = renderSms('alarm', { ...WANG, kind: 'fall' });
  return { to: `+86${PHONE}`, template: 'alarm', kind: 'fall', params, text, outId: 'ntf-0001', ...overrides };
}

describe('AliyunSmsSender against the local Aliyun SMS server', () => {
  let server: LocalAliyunSmsServer;
  let endpoint: string;
  let logs: string[];

  function sender(overrides: Partial<AliyunSmsSettings> = {}): AliyunSmsSender {
    return new AliyunSmsSender(
      { ...KEY, signName: SIGN_NAME, templateCodes: TEMPLATE_CODES, endpoint, protocol: 'http', timeoutMs: 2_000, ...overrides },
      { log: (line) => logs.push(line) },
    );
  }

  beforeEach(async () => {
    logs = [];
    server = new LocalAliyunSmsServer({
      ...KEY,
      signNames: [SIGN_NAME],
      templates: {
        [TEMPLATE_CODES.alarm]: SMS_TEMPLATES.alarm.variables,
        [TEMPLATE_CODES.escalation]: SMS_TEMPLATES.escalation.variables,
        [TEMPLATE_CODES.cancelled]: SMS_TEMPLATES.cancelled.variables,
      },
    });
    ({ endpoint } = await server.start());
  });

  afterEach(async () => {
    await server.stop();
    // House rule 12: whatever went wrong, no log line carries a phone number in clear.
    for (const line of logs) expect(line).not.toContain(PHONE);
  });

  it('delivers a correctly signed SendSms with the sign name, template code, phone and the alarm params', async () => {
    const message = alarmMessage();
    const result = await sender().send(message);

    const [sms] = server.accepted;
    expect(result).toEqual({ ok: true, providerRef: sms?.bizId });
    expect(server.rejected).toEqual([]);
    expect(sms).toMatchObject({
      phoneNumbers: PHONE,
      signName: SIGN_NAME,
      templateCode: 'SMS_480010001',
      outId: 'ntf-0001',
    });
    // The generic template: all its variables, the kind's label and the detail phrase included.
    expect(sms?.templateParam).toEqual({ kind: '跌倒', name: '王秀英', village: '王庄村', time: '10:00', address: '王庄村3组12号', detail: '疑似跌倒', code: 'k7m2p9x4q3r8' });
  });

  it('sends the link as fixed template text: only the answer code is a variable, so Aliyun takes it', async () => {
    const message = alarmMessage();
    expect(message.text).toContain('https://kanjia.example.cn/a/k7m2p9x4q3r8');
    expect(Object.values(message.params).join(' ')).not.toMatch(/https?:|kanjia\.example/);
    expect((await sender().send(message)).ok).toBe(true);
    // Had the whole link been a variable, Aliyun would refuse it, permanently.
    const linkAsVariable = await sender().send(alarmMessage({ params: { ...message.params, code: 'https://kanjia.example.cn/a/k7m2p9x4q3r8' }, outId: 'ntf-url' }));
    expect(linkAsVariable).toMatchObject({ ok: false, kind: 'permanent', code: 'isv.PARAM_NOT_SUPPORT_URL' });
  });

  it('sends the first notice of a cancelled case with the cancelled template: who cancelled it and why', async () => {
    const { params, text } = renderSms('cancelled', { ...WANG, kind: 'sos', cancelledBy: '值班员 李明', cancelReason: '老人按错了按钮' });
    expect((await sender().send({ to: PHONE, template: 'cancelled', kind: 'sos', params, text, outId: 'ntf-cancel' })).ok).toBe(true);
    const sms = await server.waitFor((m) => m.outId === 'ntf-cancel', 1_000);
    expect(sms.templateCode).toBe(TEMPLATE_CODES.cancelled);
    expect(sms.templateParam).toMatchObject({ officer: '值班员李明', reason: '老人按错了按钮', name: '王秀英' });
  });

  it('sends the escalation template with its own code and the minutes', async () => {
    const { params, text } = renderSms('escalation', {
      kind: 'sos',
      residentName: '李桂兰',
      address: '李家湾5号',
      villageName: '李家湾村',
      atMs: Date.UTC(2026, 0, 15, 2, 0),
      timeZone: 'Asia/Shanghai',
      minutesUnanswered: 10,
      answerCode: 'q3r8k7m2p9x4',
      publicUrl: 'https://kanjia.example.cn/',
    });
    const result = await sender().send({ to: PHONE, template: 'escalation', kind: 'sos', params, text, outId: 'ntf-0002' });
    expect(result.ok).toBe(true);
    const sms = await server.waitFor((s) => s.outId === 'ntf-0002', 1_000);
    expect(sms.templateCode).toBe('SMS_480010002');
    expect(sms.templateParam).toMatchObject({ kind: '紧急呼叫', minutes: '10', name: '李桂兰', code: 'q3r8k7m2p9x4' });
    expect(text).toMatch(/点此接警：https:\/\/kanjia\.example\.cn\/a\/q3r8k7m2p9x4$/);
  });

  describe('per-kind templates', () => {
    const CO_DETAILS = { coPpm: 320, peakPpm: 450, stagePpm: 300, localStart: '09:40' };
    const KIND_CODES = { 'alarm.co': 'SMS_480010107', 'escalation.sos': 'SMS_480010201' } as const;

    beforeEach(async () => {
      // Aliyun knows the two generic templates and the two per-kind ones, each with its own variables.
      await server.stop();
      server = new LocalAliyunSmsServer({
        ...KEY,
        signNames: [SIGN_NAME],
        templates: {
          [TEMPLATE_CODES.alarm]: SMS_TEMPLATES.alarm.variables,
          [TEMPLATE_CODES.escalation]: SMS_TEMPLATES.escalation.variables,
          [KIND_CODES['alarm.co']]: SMS_KIND_TEMPLATES['alarm.co'].variables,
          [KIND_CODES['escalation.sos']]: SMS_KIND_TEMPLATES['escalation.sos'].variables,
        },
      });
      ({ endpoint } = await server.start());
    });

    const withKindCodes = () => sender({ templateCodes: { ...TEMPLATE_CODES, ...KIND_CODES } });

    it("sends a CO alarm with the CO template's code and exactly its variables, without the generic `kind`", async () => {
      const { params, text } = renderSms('alarm', { ...WANG, kind: 'co', details: CO_DETAILS });
      expect(params.kind).toBe('一氧化碳'); // rendered for the generic template, filtered by the sender
      const result = await withKindCodes().send({ to: PHONE, template: 'alarm', kind: 'co', params, text, outId: 'ntf-co-1' });
      expect(result.ok).toBe(true);
      const sms = await server.waitFor((s) => s.outId === 'ntf-co-1', 1_000);
      expect(sms.templateCode).toBe('SMS_480010107');
      expect(sms.templateParam).toEqual({ name: '王秀英', village: '王庄村', time: '10:00', detail: '浓度320ppm，最高450ppm', address: '王庄村3组12号', code: 'k7m2p9x4q3r8' });
      expect(Object.keys(sms.templateParam).sort()).toEqual([...SMS_KIND_TEMPLATES['alarm.co'].variables].sort());
    });

    it('sends a kind without its own code (a fall) with the generic template and all its variables', async () => {
      const result = await withKindCodes().send(alarmMessage({ outId: 'ntf-fall-1' }));
      expect(result.ok).toBe(true);
      const sms = await server.waitFor((s) => s.outId === 'ntf-fall-1', 1_000);
      expect(sms.templateCode).toBe(TEMPLATE_CODES.alarm);
      expect(Object.keys(sms.templateParam).sort()).toEqual([...SMS_TEMPLATES.alarm.variables].sort());
    });

    it('picks by role and kind: an SOS escalation has its own code, the first SOS notice and a CO escalation do not', async () => {
      const s = withKindCodes();
      const escalationParams = (kind: 'sos' | 'co') => renderSms('escalation', { ...WANG, kind, minutesUnanswered: 10, details: CO_DETAILS }).params;
      expect((await s.send({ to: PHONE, template: 'escalation', kind: 'sos', params: escalationParams('sos'), text: '', outId: 'ntf-e-sos' })).ok).toBe(true);
      expect((await s.send({ to: PHONE, template: 'alarm', kind: 'sos', params: renderSms('alarm', { ...WANG, kind: 'sos' }).params, text: '', outId: 'ntf-a-sos' })).ok).toBe(true);
      expect((await s.send({ to: PHONE, template: 'escalation', kind: 'co', params: escalationParams('co'), text: '', outId: 'ntf-e-co' })).ok).toBe(true);
      const codeOf = (outId: string) => server.accepted.find((m) => m.outId === outId)?.templateCode;
      expect([codeOf('ntf-e-sos'), codeOf('ntf-a-sos'), codeOf('ntf-e-co')]).toEqual(['SMS_480010201', TEMPLATE_CODES.alarm, TEMPLATE_CODES.escalation]);
      expect(server.accepted.find((m) => m.outId === 'ntf-e-sos')?.templateParam).toEqual({ minutes: '10', name: '王秀英', village: '王庄村', time: '10:00', address: '王庄村3组12号', code: 'k7m2p9x4q3r8' });
    });

    it('sends with the generic template when Aliyun does not know the kind’s own, naming the template to fix, phone masked', async () => {
      const { params, text } = renderSms('alarm', { ...WANG, kind: 'co', details: CO_DETAILS });
      const result = await sender({ templateCodes: { ...TEMPLATE_CODES, 'alarm.co': 'SMS_999' } }).send({ to: PHONE, template: 'alarm', kind: 'co', params, text, outId: 'ntf-co-2' });
      expect(result.ok).toBe(true);
      expect(server.rejected.map((r) => r.code)).toEqual(['isv.SMS_TEMPLATE_ILLEGAL']);
      const sms = await server.waitFor((m) => m.outId === 'ntf-co-2', 1_000);
      expect(sms.templateCode).toBe(TEMPLATE_CODES.alarm);
      expect(sms.templateParam).toMatchObject({ kind: '一氧化碳', detail: '浓度320ppm，最高450ppm' });
      expect(logs.join('\n')).toMatch(/the template alarm\.co \(SMS_999\) was refused with isv\.SMS_TEMPLATE_ILLEGAL.*generic template alarm.*KANJIA_ALIYUN_TEMPLATE_CODES/);
    });

    it('sends with the generic template when the kind’s own was registered with other variables', async () => {
      await server.stop();
      server = new LocalAliyunSmsServer({ ...KEY, signNames: [SIGN_NAME], templates: { [TEMPLATE_CODES.alarm]: SMS_TEMPLATES.alarm.variables, [KIND_CODES['alarm.co']]: ['name', 'ppm'] } });
      ({ endpoint } = await server.start());
      const { params, text } = renderSms('alarm', { ...WANG, kind: 'co', details: CO_DETAILS });
      expect((await withKindCodes().send({ to: PHONE, template: 'alarm', kind: 'co', params, text, outId: 'ntf-co-3' })).ok).toBe(true);
      expect(server.rejected.map((r) => r.code)).toEqual(['isv.TEMPLATE_MISSING_PARAMETERS']);
      expect(server.accepted.map((m) => m.templateCode)).toEqual([TEMPLATE_CODES.alarm]);
    });

    it('reports the generic template’s own refusal (a sign name Aliyun does not know is the account’s), without a second try', async () => {
      const { params, text } = renderSms('alarm', { ...WANG, kind: 'co', details: CO_DETAILS });
      const result = await sender({ signName: '未审核签名', templateCodes: { ...TEMPLATE_CODES, ...KIND_CODES } }).send({ to: PHONE, template: 'alarm', kind: 'co', params, text, outId: 'ntf-co-4' });
      expect(result).toMatchObject({ ok: false, kind: 'account', code: 'isv.SMS_SIGNATURE_ILLEGAL' });
      expect(server.rejected).toHaveLength(1);
      expect(logs.join('\n')).toContain('template alarm.co');
    });

    it('refuses unknown per-kind keys and empty codes, listing each', () => {
      const codes = { ...TEMPLATE_CODES, 'alarm.flood': 'SMS_1', 'sms.co': 'SMS_2', 'alarm.co': '' } as unknown as AliyunSmsSettings['templateCodes'];
      expect(() => sender({ templateCodes: codes })).toThrow(/templateCodes\.alarm\.flood: unknown template[\s\S]*templateCodes\.sms\.co: unknown template[\s\S]*templateCodes\.alarm\.co: an approved template code/);
      expect(() => sender({ templateCodes: { ...TEMPLATE_CODES, 'escalation.heat': 'SMS_3' } })).not.toThrow();
    });
  });

  it("signs values with characters RFC 3986 treats specially (' ( ) ! * ~ + & = and spaces) the same way as the verifier", async () => {
    const params = { ...alarmMessage().params, name: "O'Neil (Li)! *~", address: 'No.1 a+b & c=d, 3/4 路' };
    const result = await sender().send(alarmMessage({ params }));
    expect(result.ok).toBe(true);
    expect(server.accepted[0]?.templateParam).toMatchObject({ name: "O'Neil (Li)! *~", address: 'No.1 a+b & c=d, 3/4 路' });
  });

  it('cuts template values over 35 characters before Aliyun would refuse them', async () => {
    const params = { ...alarmMessage().params, address: '某'.repeat(50) };
    const result = await sender().send(alarmMessage({ params }));
    expect(result.ok).toBe(true);
    expect(server.accepted[0]?.templateParam.address).toBe(`${'某'.repeat(34)}…`);
  });

  it('is refused with SignatureDoesNotMatch, an account failure (an outage, not a verdict on the message), when the access key secret is wrong', async () => {
    const result = await sender({ accessKeySecret: 'not-the-secret' }).send(alarmMessage());
    expect(result).toMatchObject({ ok: false, kind: 'account', code: 'SignatureDoesNotMatch' });
    expect(server.rejected.map((r) => r.code)).toEqual(['SignatureDoesNotMatch']);
    expect(server.accepted).toEqual([]);
    expect(logs.join('\n')).toContain('138****5678');
  });

  it('is refused with InvalidAccessKeyId.NotFound, an account failure, for an unknown access key id', async () => {
    const result = await sender({ accessKeyId: 'LTAI5tSomebodyElse' }).send(alarmMessage());
    expect(result).toMatchObject({ ok: false, kind: 'account', code: 'InvalidAccessKeyId.NotFound' });
  });

  it.each([
    ['isv.BUSINESS_LIMIT_CONTROL (HTTP 200, per-number frequency limit)', 'limited', { code: 'isv.BUSINESS_LIMIT_CONTROL' }, 'isv.BUSINESS_LIMIT_CONTROL'],
    ['Throttling.User (HTTP 400, API rate limit)', 'account', { code: 'Throttling.User' }, 'Throttling.User'],
    ['isv.AMOUNT_NOT_ENOUGH (HTTP 200, no credit)', 'account', { code: 'isv.AMOUNT_NOT_ENOUGH' }, 'isv.AMOUNT_NOT_ENOUGH'],
    ['HTTP 500', 'transport', { httpStatus: 500 }, 'InternalError'],
    ['HTTP 503 ServiceUnavailable', 'transport', { httpStatus: 503, code: 'ServiceUnavailable' }, 'ServiceUnavailable'],
  ] as const)('reports %s as kind %s, and the next attempt goes through', async (_label, kind, failure, code) => {
    server.failNext(1, failure);
    const s = sender();
    const first = await s.send(alarmMessage());
    expect(first).toMatchObject({ ok: false, kind, code });
    const second = await s.send(alarmMessage());
    expect(second.ok).toBe(true);
    expect(server.accepted).toHaveLength(1);
  });

  it('reports a missing variable as permanent for the message, and a sign name or template Aliyun does not know as the account’s', async () => {
    const { address: _dropped, ...withoutAddress } = alarmMessage().params;
    expect(await sender().send(alarmMessage({ params: withoutAddress }))).toMatchObject({
      ok: false,
      kind: 'permanent',
      code: 'isv.TEMPLATE_MISSING_PARAMETERS',
    });
    expect(await sender({ signName: '未审核签名' }).send(alarmMessage())).toMatchObject({ ok: false, kind: 'account', code: 'isv.SMS_SIGNATURE_ILLEGAL' });
    expect(await sender({ templateCodes: { alarm: 'SMS_000', escalation: 'SMS_001', cancelled: 'SMS_002' } }).send(alarmMessage())).toMatchObject({
      ok: false,
      kind: 'account',
      code: 'isv.SMS_TEMPLATE_ILLEGAL',
    });
  });

  it('refuses a number that is not a mainland mobile before calling Aliyun', async () => {
    const result = await sender().send(alarmMessage({ to: '010-12345678' }));
    expect(result).toMatchObject({ ok: false, kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL' });
    expect(server.accepted).toEqual([]);
    expect(server.rejected).toEqual([]);
  });

  it('reports a refused connection as a transport failure within the timeout, without personal data in the message', async () => {
    await server.stop(); // nothing listens on the port any more
    const started = Date.now();
    const result = await sender({ timeoutMs: 1_000 }).send(alarmMessage());
    const elapsedMs = Date.now() - started;
    expect(result).toMatchObject({ ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR' });
    expect(elapsedMs).toBeLessThan(1_500);
    if (!result.ok) {
      expect(result.message).toContain('ECONNREFUSED');
      // The SDK's error quotes the request URL, query string included.
      expect(result.message).not.toContain(PHONE);
      expect(result.message).not.toContain(encodeURIComponent('王秀英'));
    }
  });

  it.each([
    ['signature-error', 'account', 'SignatureDoesNotMatch'],
    ['key-disabled', 'account', 'InvalidAccessKeyId.Inactive'],
    ['no-credit', 'account', 'isv.AMOUNT_NOT_ENOUGH'],
    ['out-of-service', 'account', 'isv.OUT_OF_SERVICE'],
    ['flow-control', 'limited', 'isv.BUSINESS_LIMIT_CONTROL'],
    ['outage-503', 'transport', 'ServiceUnavailable'],
    ['outage-reset', 'transport', 'SMS_NETWORK_ERROR'],
  ] as const)('the local server in mode %s is a %s failure (%s) through the SDK', async (mode, kind, code) => {
    server.setMode(mode);
    expect(await sender().send(alarmMessage())).toMatchObject({ ok: false, kind, code });
    server.setMode('ok');
    expect((await sender().send(alarmMessage())).ok).toBe(true);
  });

  it('gives up after timeoutMs = 300 when Aliyun does not answer, as a transport failure', async () => {
    server.setLatencyMs(5_000);
    const started = Date.now();
    const result = await sender({ timeoutMs: 300 }).send(alarmMessage());
    const elapsedMs = Date.now() - started;
    expect(result).toMatchObject({ ok: false, kind: 'transport', code: 'SMS_TIMEOUT' });
    expect(elapsedMs).toBeGreaterThanOrEqual(250);
    expect(elapsedMs).toBeLessThan(1_500);
  });

  it('refuses incomplete settings, listing every problem', () => {
    expect(
      () => new AliyunSmsSender({ accessKeyId: '', accessKeySecret: '', signName: '', templateCodes: { alarm: '', escalation: '', cancelled: '' }, timeoutMs: -1 }),
    ).toThrow(/accessKeyId[\s\S]*accessKeySecret[\s\S]*signName[\s\S]*templateCodes\.alarm[\s\S]*templateCodes\.escalation[\s\S]*templateCodes\.cancelled[\s\S]*timeoutMs/);
  });
});
