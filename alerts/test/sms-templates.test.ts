import { ALARM_KINDS, type AlarmKind } from '@kanjia/protocol';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ALARM_KIND_LABELS,
  answerLinkOf,
  fillTemplate,
  formatLocalTime,
  renderSms,
  renderVisitReminder,
  SMS_KIND_TEMPLATES,
  SMS_NOTICE_TEMPLATES,
  SMS_LOCALES,
  SMS_PARAM_MAX_CHARS,
  SMS_TEMPLATES,
  templateVariables,
  truncateSmsParam,
  type RenderSmsInput,
} from '../src/messages/sms-templates.js';
import { SMS_KIND_ROLES, SMS_KIND_TEMPLATE_KEYS, SMS_TEMPLATE_KEYS } from '../src/sms/sms-sender.js';
import { SMS_NOTICE_KEYS } from '../src/sms/sms-notices.js';

/** 2026-01-15T02:00:00Z = 10:00 in Beijing time. */
const AT_MS = Date.UTC(2026, 0, 15, 2, 0, 0);

const fall: RenderSmsInput = {
  kind: 'fall',
  residentName: '王秀英',
  address: '王庄村3组12号',
  villageName: '王庄村',
  atMs: AT_MS,
  timeZone: 'Asia/Shanghai',
  answerCode: 'k7m2p9x4q3r8',
  publicUrl: 'https://kanjia.example.cn',
};
const LINK = '点此接警：https://kanjia.example.cn/a/k7m2p9x4q3r8';

describe('renderSms', () => {
  it("renders the Chinese fall SMS: who, where, what, since when, then the fall's own instructions", () => {
    const { params, text } = renderSms('alarm', fall);
    expect(params).toEqual({ kind: '跌倒', name: '王秀英', village: '王庄村', time: '10:00', address: '王庄村3组12号', detail: '疑似跌倒', code: 'k7m2p9x4q3r8' });
    expect(text).toBe(`【智慧看家】跌倒报警：王秀英（王庄村）10:00疑似摔倒。地址：王庄村3组12号。请立即打电话并上门。勿急于扶起老人，先问哪里疼；伤重或叫不醒拨打120。${LINK}`);
  });

  it('renders the Chinese escalation SMS led by the minutes nobody has taken the alarm', () => {
    const { params, text } = renderSms('escalation', { ...fall, kind: 'sos', minutesUnanswered: 15, signName: '看家平台' });
    expect(params.minutes).toBe('15');
    expect(params.kind).toBe('紧急呼叫');
    expect(text).toBe(`【看家平台】已15分钟无人接警！紧急呼叫：王秀英（王庄村）10:00按了紧急按钮。地址：王庄村3组12号。请马上打电话，打不通立即上门查看。${LINK}`);
  });

  it('puts the figures of the finding in the text: a CO alarm at 320 ppm says so, and what to do about CO', () => {
    const { params, text } = renderSms('alarm', { ...fall, kind: 'co', details: { coPpm: 320, peakPpm: 320, stagePpm: 300, localStart: '09:58' } });
    expect(params.detail).toBe('浓度320ppm');
    expect(text).toBe(`【智慧看家】一氧化碳报警：王秀英（王庄村）家中10:00起一氧化碳浓度320ppm。地址：王庄村3组12号。请立即打电话并前往：开门窗通风，把人移到室外，必要时拨打120。${LINK}`);
  });

  it('renders the English texts', () => {
    expect(renderSms('alarm', { ...fall, locale: 'en', residentName: 'Wang Xiuying', villageName: 'Wangzhuang', address: 'Group 3 No. 12' }).text).toBe(
      '【智慧看家】Fall: Wang Xiuying (Wangzhuang) may have fallen at 10:00. Address: Group 3 No. 12. Call and go now. Do not rush to lift them; ask where it hurts. Badly hurt or not answering: call 120. Take it here: https://kanjia.example.cn/a/k7m2p9x4q3r8',
    );
    const escalation = renderSms('escalation', { ...fall, kind: 'co', locale: 'en', minutesUnanswered: 4.6, details: { coPpm: 150 } });
    expect(escalation.params).toMatchObject({ kind: 'Carbon monoxide', minutes: '5', detail: 'CO at 150 ppm' });
    expect(escalation.text).toContain('Not taken for 5 min! Carbon monoxide: 王秀英 (王庄村), CO at 150 ppm since 10:00.');
  });

  it('shows 2026-01-15T02:00Z as 10:00 in Asia/Shanghai and as 08:00 in Asia/Urumqi', () => {
    expect(renderSms('alarm', fall).params.time).toBe('10:00');
    expect(renderSms('alarm', { ...fall, timeZone: 'Asia/Urumqi' }).params.time).toBe('08:00');
  });

  it('formats each minute afresh, in each zone, however the calls interleave (the last minute is remembered per zone)', () => {
    const at = Date.UTC(2026, 0, 15, 2, 0, 59, 999);
    expect(formatLocalTime(at, 'Asia/Shanghai')).toBe('10:00');
    expect(formatLocalTime(at, 'Asia/Kathmandu')).toBe('07:45');
    expect(formatLocalTime(at + 1, 'Asia/Shanghai')).toBe('10:01');
    expect(formatLocalTime(at, 'Asia/Shanghai')).toBe('10:00');
    expect(formatLocalTime(at + 1, 'Asia/Kathmandu')).toBe('07:46');
    expect(formatLocalTime(at + 3600_000, 'Asia/Urumqi')).toBe('09:00');
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

  it('puts the public address as fixed text and only the code in a variable; a trailing slash or a path prefix is kept right', () => {
    expect(SMS_TEMPLATES.alarm.content['zh-CN']).toContain('https://your.domain/a/${code}');
    const { params, text } = renderSms('alarm', { ...fall, publicUrl: 'https://gov.example.cn/kanjia/' });
    expect(text.endsWith('点此接警：https://gov.example.cn/kanjia/a/k7m2p9x4q3r8')).toBe(true);
    expect(params.code).toBe('k7m2p9x4q3r8');
    for (const value of Object.values(params)) expect(value).not.toMatch(/https?:|example\.cn/);
  });

  it('refuses a first notice or an escalation without its answer code: an SMS without its link would go out', () => {
    const { answerCode: _code, ...withoutCode } = fall;
    expect(() => renderSms('alarm', withoutCode)).toThrow(/answerCode/);
    expect(() => renderSms('escalation', { ...withoutCode, minutesUnanswered: 3 })).toThrow(/answerCode/);
  });

  it('renders the cancelled first notice: what happened, who cancelled it and why, no link', () => {
    const { params, text } = renderSms('cancelled', { ...fall, kind: 'sos', answerCode: undefined, cancelledBy: '值班员 李明', cancelReason: '老人按错了按钮，已电话确认' });
    expect(text).toBe('【智慧看家】紧急呼叫报警已取消：王秀英（王庄村）10:00起，老人按了紧急按钮，已被值班员李明取消，原因：老人按错了按钮，已电话确认。地址：王庄村3组12号。如有疑问请打电话确认老人平安。');
    expect(params).toEqual({ kind: '紧急呼叫', name: '王秀英', village: '王庄村', time: '10:00', detail: '老人按了紧急按钮', officer: '值班员李明', reason: '老人按错了按钮，已电话确认', address: '王庄村3组12号' });
    expect(renderSms('cancelled', { ...fall, locale: 'en', cancelledBy: '值班员 Li Ming', cancelReason: 'pressed by mistake' }).text).toContain('cancelled by duty officer Li Ming, reason: pressed by mistake.');
    // The canceller's own role, not 值班员 for everyone.
    expect(renderSms('cancelled', { ...fall, cancelledBy: '民政办 张红', cancelReason: '误报' }).text).toContain('已被民政办张红取消');
    expect(renderSms('cancelled', { ...fall, cancelledBy: '管理员 admin', cancelReason: '误报' }).params.officer).toBe('管理员admin');
    expect(renderSms('cancelled', { ...fall, locale: 'en', cancelledBy: '民政办 张红', cancelReason: 'x' }).text).toContain('cancelled by township office 张红');
    expect(() => renderSms('cancelled', fall)).toThrow(/cancelledBy/);
  });

  it('fills exactly the variables each generic template declares, in every locale', () => {
    for (const [key, definition] of Object.entries(SMS_TEMPLATES)) {
      for (const locale of SMS_LOCALES) {
        const placeholders = [...definition.content[locale].matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]).sort();
        expect(placeholders, `${key}/${locale}`).toEqual([...definition.variables].sort());
      }
      const rendered = renderSms(key as 'alarm' | 'escalation' | 'cancelled', { ...fall, minutesUnanswered: 5, cancelledBy: '李明', cancelReason: '误报' });
      expect(Object.keys(rendered.params).sort()).toEqual([...definition.variables].sort());
      expect(rendered.text).not.toContain('${');
    }
  });

  it('gives the generic templates a `detail`, and the escalation the alarm text led by the minutes', () => {
    expect(SMS_TEMPLATES.alarm.variables).toContain('detail');
    for (const locale of SMS_LOCALES) {
      const alarm = SMS_TEMPLATES.alarm.content[locale];
      const escalation = SMS_TEMPLATES.escalation.content[locale];
      expect(escalation.endsWith(alarm), locale).toBe(true);
      expect(escalation.slice(0, escalation.length - alarm.length)).toContain('${minutes}');
    }
  });
});

/** Realistic details of each kind, with the keys its detector emits (detection/src/*). */
const DETAILS: Readonly<Record<AlarmKind, Record<string, number | string | boolean> | undefined>> = {
  sos: undefined,
  fall: { confidence: 0.82, position: 'chest', hz: 20, peakG: 3.1, freeFallMinG: 0.4, postureChangeDeg: 75, stillnessSdG: 0.02, stillnessObservedMs: 8000 },
  inactivity: { silenceMin: 200, limitMin: 180, graceMin: 30, context: 'day', learned: true, lastActivity: '2026-01-15 07:12' },
  missedCheckIn: { localDate: '2026-01-15', windowStart: '07:00', windowEnd: '10:00', timeZone: 'Asia/Shanghai', daysMissed: 1, escalated: false, graceMin: 30 },
  deviceOffline: { neverSeen: false, viaLastWill: false, silentMin: 540, heartbeatTimeoutMin: 540, lastSeenMs: AT_MS - 540 * 60_000, deviceKind: 'sosButton', isOnlyEmergencyButton: true, severity: 'urgent', urgent: true },
  lowBattery: { batteryPct: 15, lowBatteryPct: 20, deviceKind: 'smokeSensor', isOnlyEmergencyButton: false, severity: 'maintenance', urgent: false },
  co: { coPpm: 320, peakPpm: 450, stagePpm: 300, stageMin: 0, minutesAtStage: 0, startMs: AT_MS, localStart: '09:40', standard: 'EN 50291-1' },
  smoke: { smoke: true, readingsInRow: 2, startMs: AT_MS, localStart: '10:00' },
  gas: { gas: true, readingsInRow: 2, startMs: AT_MS, localStart: '10:00' },
  waterLeak: { waterLeak: true, readingsInRow: 1, startMs: AT_MS, localStart: '10:00' },
  cold: { temperatureC: 2.5, thresholdC: 5, minutes: 240, startMs: AT_MS, localStart: '06:00' },
  heat: { temperatureC: 37.2, thresholdC: 35, minutes: 125, startMs: AT_MS, localStart: '08:00' },
  notBack: { silenceMin: 540, limitMin: 520, context: 'out', learned: true, lastActivity: '2026-01-15 12:44', wentOut: '2026-01-15 12:44' },
};

/** Characters of a zh template without its ${…} placeholders. */
const fixedChars = (content: string) => Array.from(content.replace(/\$\{\w+\}/g, '')).length;

describe('the templates of each alarm kind', () => {
  it('has one for every role and kind, and a free-text channel gets it', () => {
    expect(Object.keys(SMS_KIND_TEMPLATES).sort()).toEqual([...SMS_KIND_TEMPLATE_KEYS].sort());
    expect(SMS_KIND_TEMPLATE_KEYS).toHaveLength(SMS_KIND_ROLES.length * ALARM_KINDS.length);
    for (const role of SMS_KIND_ROLES) {
      for (const kind of ALARM_KINDS) {
        const { params, text } = renderSms(role, { ...fall, kind, details: DETAILS[kind], minutesUnanswered: 3 });
        const filled = (content: string) => `【智慧看家】${fillTemplate(content, params)}`.replace('https://your.domain/', 'https://kanjia.example.cn/');
        expect(text, `${role}.${kind}`).toBe(filled(SMS_KIND_TEMPLATES[`${role}.${kind}`].content['zh-CN']));
        expect(text, `${role}.${kind}`).not.toBe(filled(SMS_TEMPLATES[role].content['zh-CN']));
      }
    }
  });

  it.each(SMS_LOCALES.flatMap((locale) => SMS_KIND_ROLES.flatMap((role) => ALARM_KINDS.map((kind) => [role, kind, locale] as const))))(
    'renders %s.%s in %s with every placeholder filled: who, where, since when',
    (role, kind, locale) => {
      const { params, text } = renderSms(role, { ...fall, kind, details: DETAILS[kind], minutesUnanswered: 12, locale });
      expect(text).not.toMatch(/\$\{/);
      expect(text).not.toMatch(/undefined|NaN|\[object/);
      expect(text).toContain('王秀英');
      expect(text).toContain('王庄村3组12号');
      expect(text).toContain('10:00');
      if (role === 'escalation') expect(text).toMatch(locale === 'zh-CN' ? /^【智慧看家】已12分钟无人接警！/ : /^【智慧看家】Not taken for 12 min! /);
      expect(text.endsWith('https://kanjia.example.cn/a/k7m2p9x4q3r8'), 'the link ends the text').toBe(true);
      // The kind's text uses only variables the generic template has, so one set of params serves both.
      for (const variable of SMS_KIND_TEMPLATES[`${role}.${kind}`].variables) expect(params[variable], variable).toBeTruthy();
      for (const value of Object.values(params)) expect(Array.from(value).length).toBeLessThanOrEqual(SMS_PARAM_MAX_CHARS);
    },
  );

  it("starts each Chinese text with the kind's label, as the dashboard shows it", () => {
    for (const kind of ALARM_KINDS) {
      const label = ALARM_KIND_LABELS['zh-CN'][kind];
      expect(SMS_KIND_TEMPLATES[`alarm.${kind}`].content['zh-CN'].startsWith(label), kind).toBe(true);
    }
  });

  it('declares the same variables in Chinese and English, in the alarm and the escalation (plus minutes)', () => {
    for (const kind of ALARM_KINDS) {
      const alarm = SMS_KIND_TEMPLATES[`alarm.${kind}`];
      const escalation = SMS_KIND_TEMPLATES[`escalation.${kind}`];
      for (const locale of SMS_LOCALES) {
        expect(templateVariables(alarm.content[locale]).sort(), `${kind}/${locale}`).toEqual([...alarm.variables].sort());
        expect(templateVariables(escalation.content[locale]).sort(), `${kind}/${locale}`).toEqual([...escalation.variables].sort());
      }
      expect([...escalation.variables].sort()).toEqual([...alarm.variables, 'minutes'].sort());
      for (const variable of escalation.variables) expect(SMS_TEMPLATES.escalation.variables, `${kind}: ${variable}`).toContain(variable);
    }
  });

  it('keeps every Chinese alarm text within one 70-character SMS segment without its values and its link', () => {
    const withoutLink = (content: string) => {
      expect(content.endsWith(answerLinkOf('zh-CN'))).toBe(true);
      return content.slice(0, content.length - answerLinkOf('zh-CN').length);
    };
    for (const kind of ALARM_KINDS) {
      expect(fixedChars(withoutLink(SMS_KIND_TEMPLATES[`alarm.${kind}`].content['zh-CN'])), kind).toBeLessThanOrEqual(70);
      expect(fixedChars(withoutLink(SMS_KIND_TEMPLATES[`escalation.${kind}`].content['zh-CN'])), kind).toBeLessThanOrEqual(70 + fixedChars('已${minutes}分钟无人接警！'));
    }
  });

  it.each([
    ['fall', /勿急于扶起老人/],
    ['co', /开门窗通风.*移到室外.*120/],
    ['gas', /关闭气源.*开窗.*切勿开关电器或使用明火/],
    ['smoke', /有火情拨打119/],
    ['waterLeak', /关闭总水阀/],
    ['cold', /检查取暖.*防煤气中毒/],
    ['heat', /降温.*多喝水/],
    ['deviceOffline', /如是紧急按钮，请先打电话确认老人平安/],
    ['lowBattery', /更换电池.*如是紧急按钮，请先打电话确认老人平安/],
    ['missedCheckIn', /打电话或上门确认老人平安/],
    ['inactivity', /立即打电话或上门查看/],
    ['notBack', /打个电话问问是否平安/],
  ] as const)('tells the helper what to do about %s', (kind, instruction) => {
    expect(SMS_KIND_TEMPLATES[`alarm.${kind}`].content['zh-CN']).toMatch(instruction);
    expect(SMS_KIND_TEMPLATES[`escalation.${kind}`].content['zh-CN']).toMatch(instruction);
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
      '紧急呼叫', '跌倒', '长时间无活动', '未平安打卡', '设备离线', '电量低', '一氧化碳', '烟雾', '燃气', '漏水', '室温过低', '室温过高', '未归',
    ]);
  });
});

describe('the visit reminder (visitReminder)', () => {
  it('has exactly the variables its texts use, in both languages', () => {
    for (const locale of SMS_LOCALES) expect(templateVariables(SMS_NOTICE_TEMPLATES.visitReminder.content[locale])).toEqual([...SMS_NOTICE_TEMPLATES.visitReminder.variables]);
  });

  it('renders the helper, the count, the names and the due date; each variable cut to 35 characters, the text in full', () => {
    const zh = renderVisitReminder({ helperName: '刘建军', residentNames: ['王秀英', '张德福'], dueDate: '2026-12-03' });
    expect(zh.params).toEqual({ helper: '刘建军', count: '2', names: '王秀英、张德福', date: '12月3日' });
    const en = renderVisitReminder({ helperName: 'Liu Jianjun', residentNames: ['Wang Xiuying', 'Zhang Defu'], dueDate: '2026-01-09', locale: 'en', signName: 'Kanjia' });
    expect(en.text).toBe('【Kanjia】Visit reminder: Liu Jianjun, 2 of the people you help are due a visit on 9 Jan: Wang Xiuying, Zhang Defu. Please visit or call them and record the visit.');
    const many = renderVisitReminder({ helperName: '刘建军', residentNames: Array.from({ length: 12 }, (_, i) => `老人${i + 1}号`), dueDate: '2026-12-03' });
    expect(Array.from(many.params.names!)).toHaveLength(SMS_PARAM_MAX_CHARS);
    expect(many.text).toContain('老人12号');
    expect(() => renderVisitReminder({ helperName: 'x', residentNames: ['y'], dueDate: '12/03' })).toThrow(/YYYY-MM-DD/);
  });
});

describe('docs/sms-templates.md', () => {
  const doc = readFileSync(new URL('../../docs/sms-templates.md', import.meta.url), 'utf8');
  /** The table row of a template key: `| \`key\` | name | \`content\` | variables |`. */
  const rowsOf = (key: string) => doc.split('\n').filter((line) => line.startsWith(`| \`${key}\` |`));

  it('lists every template in both languages exactly as the operator must register it, with its variables', () => {
    const all = [
      ...SMS_TEMPLATE_KEYS.map((key) => [key, SMS_TEMPLATES[key]] as const),
      ...SMS_KIND_TEMPLATE_KEYS.map((key) => [key, SMS_KIND_TEMPLATES[key]] as const),
      ...SMS_NOTICE_KEYS.map((key) => [key, SMS_NOTICE_TEMPLATES[key]] as const),
    ];
    for (const [key, definition] of all) {
      const rows = rowsOf(key);
      expect(rows, key).toHaveLength(SMS_LOCALES.length);
      SMS_LOCALES.forEach((locale, i) => {
        const cells = rows[i]!.split(' | ');
        expect(cells[2], `${key}/${locale}`).toBe(`\`${definition.content[locale]}\``);
        expect(cells[3]?.replace(/ \|$/, ''), `${key}/${locale}`).toBe(definition.variables.join(', '));
      });
    }
  });
});
