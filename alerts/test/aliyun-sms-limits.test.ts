/**
 * The provider's flow control (isv.BUSINESS_LIMIT_CONTROL, counted per number,
 * sign name and template) and bundles, AliyunSmsSender against the local
 * Aliyun SMS server (the signature checked): a kind's own template hit by the
 * limit is tried once with the generic template (another allowance), never
 * again as it was; both limited is `limited`; a bundle always goes with the
 * generic template.
 */
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bundleMessage } from '../src/channels/bundles.js';
import { renderSms, SMS_KIND_TEMPLATES, SMS_TEMPLATES } from '../src/messages/sms-templates.js';
import { AliyunSmsSender } from '../src/sms/aliyun-sms-sender.js';
import type { SmsMessage } from '../src/sms/sms-sender.js';

const KEY = { accessKeyId: 'LTAI5tKanjiaLimitKey', accessKeySecret: 'kanjia-limit-secret-0123456789' };
const CODES = { alarm: 'SMS_480020001', escalation: 'SMS_480020002', cancelled: 'SMS_480020003', 'alarm.fall': 'SMS_480020101' };

function message(name: string, kind: 'fall' | 'deviceOffline', outId: string): SmsMessage {
  const { params, text } = renderSms('alarm', {
    kind,
    residentName: name,
    address: '王庄村3组12号',
    villageName: '王庄村',
    atMs: Date.UTC(2026, 0, 15, 2, 0),
    timeZone: 'Asia/Shanghai',
    answerCode: `k7m2p9x4${outId.slice(-4)}`,
    publicUrl: 'https://kanjia.example.cn',
  });
  return { to: '13812345678', template: 'alarm', kind, params, text, outId };
}

describe('AliyunSmsSender and the provider flow control', () => {
  let server: LocalAliyunSmsServer;
  let sender: AliyunSmsSender;
  let logs: string[];

  beforeEach(async () => {
    logs = [];
    server = new LocalAliyunSmsServer({
      ...KEY,
      signNames: ['智慧看家'],
      templates: {
        [CODES.alarm]: SMS_TEMPLATES.alarm.variables,
        [CODES.escalation]: SMS_TEMPLATES.escalation.variables,
        [CODES.cancelled]: SMS_TEMPLATES.cancelled.variables,
        [CODES['alarm.fall']]: SMS_KIND_TEMPLATES['alarm.fall'].variables,
      },
    });
    const { endpoint } = await server.start();
    sender = new AliyunSmsSender({ ...KEY, signName: '智慧看家', templateCodes: CODES, endpoint, protocol: 'http', timeoutMs: 2_000 }, { log: (line) => logs.push(line) });
  });
  afterEach(async () => {
    await server.stop();
  });

  it("a kind's own template at its limit: the generic template (another allowance) carries the SMS", async () => {
    server.failNext(1, { code: 'isv.BUSINESS_LIMIT_CONTROL' });
    const result = await sender.send(message('王秀英', 'fall', 'ntf_0001'));
    expect(result.ok).toBe(true);
    expect(server.accepted.map((m) => m.templateCode)).toEqual([CODES.alarm]);
    expect(server.rejected.map((r) => r.code)).toEqual(['isv.BUSINESS_LIMIT_CONTROL']);
    expect(logs.some((l) => l.includes("flow control") && l.includes(CODES['alarm.fall']))).toBe(true);
  });

  it('both at their limit: limited, each asked once, none again', async () => {
    server.failNext(2, { code: 'isv.BUSINESS_LIMIT_CONTROL' });
    const result = await sender.send(message('王秀英', 'fall', 'ntf_0002'));
    expect(result).toMatchObject({ ok: false, kind: 'limited', code: 'isv.BUSINESS_LIMIT_CONTROL' });
    expect(server.rejected).toHaveLength(2);
    expect(server.accepted).toEqual([]);
  });

  it('a bundle goes with the generic template, its variables naming every alarm', async () => {
    const bundle = bundleMessage([message('王秀英', 'fall', 'ntf_0003'), message('张德福', 'deviceOffline', 'ntf_0004')], 'zh-CN', '智慧看家');
    expect((await sender.send(bundle)).ok).toBe(true);
    const [sms] = server.accepted;
    expect(sms!.templateCode).toBe(CODES.alarm);
    expect(sms!.templateParam).toMatchObject({ kind: '跌倒等2起', name: '王秀英、张德福', detail: '共2起报警未处理，请逐一确认，链接中可查看全部' });
    expect(sms!.templateParam.code).toBe(message('王秀英', 'fall', 'ntf_0003').params.code);
    // Free-text channels get the list, and the one link says it opens them all.
    expect(bundle.text).toMatch(/^【智慧看家】2起报警待处理：王秀英（王庄村）跌倒，10:00；张德福（王庄村）设备离线，10:00。请逐一电话确认，或打开链接查看全部并接警：https:\/\/kanjia\.example\.cn\/a\/k7m2p9x40003$/);
    expect(bundleMessage([message('王秀英', 'fall', 'ntf_0003'), message('张德福', 'deviceOffline', 'ntf_0004')], 'en', 'Kanjia').text).toMatch(
      /Check each by phone, or open the link to see them all and take them: https:\/\/kanjia\.example\.cn\/a\/k7m2p9x40003$/,
    );
  });
});
