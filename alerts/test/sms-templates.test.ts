import { ALARM_KINDS } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import {
  ALARM_KIND_LABELS,
  formatLocalTime,
  renderSms,
  SMS_LOCALES,
  SMS_PARAM_MAX_CHARS,
  SMS_TEMPLATES,
  truncateSmsParam,
  type RenderSmsInput,
} from '../src/messages/sms-templates.js';

/** 2026-01-15T02:00:00Z = 10:00 in Beijing time. */
const AT_MS = Date.UTC(2026, 0, 15, 2, 0, 0);

const fall: RenderSmsInput = {
  kind: 'fall',
  residentName: '王秀英',
  address: '王庄村3组12号',
  villageName: '王庄村',
  atMs: AT_MS,
  timeZone: 'Asia/Shanghai',
};

describe('renderSms', () => {
  it('renders the Chinese alarm SMS: who, where, what, since when, what to do', () => {
    const { params, text } = renderSms('alarm', fall);
    expect(params).toEqual({ kind: '跌倒', name: '王秀英', village: '王庄村', time: '10:00', address: '王庄村3组12号' });
    expect(text).toBe('【智慧看家】跌倒报警：王秀英（王庄村），10:00起，地址：王庄村3组12号。请立即联系或前往查看。');
  });

  it('renders the Chinese escalation SMS with the minutes nobody has taken the alarm', () => {
    const { params, text } = renderSms('escalation', { ...fall, kind: 'sos', minutesUnanswered: 15, signName: '看家平台' });
    expect(params.minutes).toBe('15');
    expect(params.kind).toBe('紧急呼叫');
    expect(text).toBe('【看家平台】紧急呼叫报警已15分钟无人响应：王秀英（王庄村），10:00起，地址：王庄村3组12号。请立即联系或前往查看。');
  });

  it('renders the English texts', () => {
    expect(renderSms('alarm', { ...fall, locale: 'en', residentName: 'Wang Xiuying', villageName: 'Wangzhuang', address: 'Group 3 No. 12' }).text).toBe(
      '【智慧看家】Fall alarm: Wang Xiuying (Wangzhuang) since 10:00. Address: Group 3 No. 12. Please call or go there now.',
    );
    const escalation = renderSms('escalation', { ...fall, kind: 'co', locale: 'en', minutesUnanswered: 4.6 });
    expect(escalation.params).toMatchObject({ kind: 'Carbon monoxide', minutes: '5' });
    expect(escalation.text).toContain('Carbon monoxide alarm, nobody has answered for 5 min');
  });

  it('shows 2026-01-15T02:00Z as 10:00 in Asia/Shanghai and as 08:00 in Asia/Urumqi', () => {
    expect(renderSms('alarm', fall).params.time).toBe('10:00');
    expect(renderSms('alarm', { ...fall, timeZone: 'Asia/Urumqi' }).params.time).toBe('08:00');
  });

  it('shows half past midnight as 00:30, not 24:30', () => {
    expect(formatLocalTime(Date.UTC(2026, 0, 15, 16, 30), 'Asia/Shanghai')).toBe('00:30');
  });

  it('falls back to Asia/Shanghai for an unknown time zone rather than losing the SMS', () => {
    expect(renderSms('alarm', { ...fall, timeZone: 'Mars/Olympus_Mons' }).params.time).toBe('10:00');
  });

  it(`cuts names and addresses longer than ${SMS_PARAM_MAX_CHARS} characters, ending with …, but keeps them whole in the text`, () => {
    const longName = '欧阳'.repeat(20); // 40 characters
    const longAddress = `${'某某省某某市某某县某某镇'.repeat(5)}王庄村3组12号`;
    const { params, text } = renderSms('alarm', { ...fall, residentName: longName, address: longAddress });
    expect(Array.from(params.name ?? '')).toHaveLength(SMS_PARAM_MAX_CHARS);
    expect(params.name?.endsWith('…')).toBe(true);
    expect(params.name?.startsWith('欧阳欧阳')).toBe(true);
    expect(Array.from(params.address ?? '')).toHaveLength(SMS_PARAM_MAX_CHARS);
    expect(text).toContain(longName);
    expect(text).toContain(longAddress);
    for (const value of Object.values(params)) expect(Array.from(value).length).toBeLessThanOrEqual(SMS_PARAM_MAX_CHARS);
  });

  it('leaves a value of exactly 35 characters alone', () => {
    const exact = '李'.repeat(35);
    expect(truncateSmsParam(exact)).toBe(exact);
    expect(truncateSmsParam(`${exact}李`)).toBe(`${'李'.repeat(34)}…`);
  });

  it('puts an address on one line and keeps 【】 out of the variables', () => {
    const { params } = renderSms('alarm', { ...fall, address: '王庄村\n3组  12号【后院】' });
    expect(params.address).toBe('王庄村 3组 12号[后院]');
  });

  it('refuses an escalation without minutesUnanswered', () => {
    expect(() => renderSms('escalation', fall)).toThrow(/minutesUnanswered/);
  });

  it('fills exactly the variables each template declares, in every locale', () => {
    for (const [key, definition] of Object.entries(SMS_TEMPLATES)) {
      for (const locale of SMS_LOCALES) {
        const placeholders = [...definition.content[locale].matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]).sort();
        expect(placeholders, `${key}/${locale}`).toEqual([...definition.variables].sort());
      }
      const rendered = renderSms(key as 'alarm' | 'escalation', { ...fall, minutesUnanswered: 5 });
      expect(Object.keys(rendered.params).sort()).toEqual([...definition.variables].sort());
      expect(rendered.text).not.toContain('${');
    }
  });
});

describe('ALARM_KIND_LABELS', () => {
  it('names every alarm kind in Chinese and English, each label distinct', () => {
    for (const locale of SMS_LOCALES) {
      const labels = ALARM_KINDS.map((kind) => ALARM_KIND_LABELS[locale][kind]);
      expect(labels.every((l) => typeof l === 'string' && l.length > 0)).toBe(true);
      expect(new Set(labels).size).toBe(ALARM_KINDS.length);
    }
  });

  it('uses the words of the care team', () => {
    expect(ALARM_KINDS.map((kind) => ALARM_KIND_LABELS['zh-CN'][kind])).toEqual([
      '紧急呼叫', '跌倒', '长时间无活动', '未平安打卡', '设备离线', '电量低', '一氧化碳', '烟雾', '燃气', '漏水', '室温过低', '室温过高',
    ]);
  });
});
