/**
 * The duty group's posts: every event in both locales, a title with the kind
 * and the person then 3 to 5 short lines, times in the village's zone, and
 * never a phone number.
 */
import { describe, expect, it } from 'vitest';
import { GROUP_POST_EVENTS, renderGroupPost, type GroupPostEvent, type GroupPostInput } from '../src/messages/group-posts.js';
import { SMS_LOCALES, type SmsLocale } from '../src/messages/sms-templates.js';
import { WANG_FALL_OPENED } from './group-post-fixtures.js';

const { event: _opened, ...BASE } = WANG_FALL_OPENED;

function input(event: GroupPostEvent, locale: SmsLocale, extra: Partial<Record<string, unknown>> = {}): GroupPostInput {
  const at = BASE.alarmAtMs + 7 * 60_000;
  const byEvent: Record<GroupPostEvent, Record<string, unknown>> = {
    opened: {},
    escalated: { minutesUnanswered: 5, nextContact: '村医 李四' },
    taken: { by: '帮扶责任人 张三', atMs: at },
    closed: { outcome: 'resolved', by: '帮扶责任人 张三', reason: '老人摔倒无大碍，已扶起', atMs: BASE.alarmAtMs + 40 * 60_000 },
    fellOver: { contact: '帮扶责任人 张三' },
  };
  return { ...BASE, event, locale, ...byEvent[event], ...extra } as GroupPostInput;
}

const MOBILE = /(?<!\d)1[3-9]\d{9}(?!\d)/;

describe('renderGroupPost', () => {
  for (const locale of SMS_LOCALES) {
    for (const event of GROUP_POST_EVENTS) {
      it(`${event} (${locale}): a title with the kind and the name, 3 to 5 lines after it, the link last, no phone number`, () => {
        const post = renderGroupPost(input(event, locale));
        const lines = post.markdown.split(/\n+/);
        expect(lines[0]).toBe(`### ${post.title}`);
        expect(post.title.startsWith('【智慧看家】')).toBe(true);
        expect(post.title).toContain('王秀英');
        expect(post.title).toContain(locale === 'en' ? 'Fall' : '跌倒');
        expect(lines.length - 1).toBeGreaterThanOrEqual(3);
        expect(lines.length - 1).toBeLessThanOrEqual(5);
        expect(lines.at(-1)).toMatch(/^\[.+\]\(https:\/\/kanjia\.example\.cn\/alarms\/al-0042\)$/);
        expect(post.markdown).not.toMatch(MOBILE);
      });
    }
  }

  it('opened: severity, village and the alarm time in the village\'s zone, the address and the situation; a critical case wakes the group', () => {
    const post = renderGroupPost(input('opened', 'zh-CN'));
    expect(post.markdown).toBe(
      ['### 【智慧看家】跌倒 · 王秀英', '**紧急** 王庄村 · 10:00', '地址：王庄村3组12号', '情况：疑似跌倒', '[查看详情](https://kanjia.example.cn/alarms/al-0042)'].join('\n\n'),
    );
    expect(post.mentionAll).toBe(true);
    expect(renderGroupPost({ ...input('opened', 'zh-CN'), severity: 'maintenance', alarmKind: 'lowBattery' }).mentionAll).toBe(false);
  });

  it('escalated: how long nobody took it and the chain\'s next contact, in bold; wakes the group', () => {
    const post = renderGroupPost(input('escalated', 'zh-CN'));
    expect(post.title).toBe('【智慧看家】跌倒 · 王秀英 · 无人接警');
    expect(post.markdown).toContain('**已5分钟无人接警，现通知下一位：村医 李四**');
    expect(post.mentionAll).toBe(true);
    expect(renderGroupPost(input('escalated', 'en')).markdown).toContain('**Not taken for 5 min; now telling the next contact: 村医 李四**');
  });

  it('taken: by whom and when (village time); does not wake the group', () => {
    const post = renderGroupPost(input('taken', 'zh-CN'));
    expect(post.title).toBe('【智慧看家】已接警：跌倒 · 王秀英');
    expect(post.markdown).toContain('帮扶责任人 张三 已于 10:07 接警');
    expect(post.mentionAll).toBe(false);
    expect(renderGroupPost(input('taken', 'en')).markdown).toContain('帮扶责任人 张三 took it at 10:07');
  });

  it('closed: resolved or cancelled, by whom, when and why', () => {
    const resolved = renderGroupPost(input('closed', 'zh-CN'));
    expect(resolved.title).toBe('【智慧看家】已处理：跌倒 · 王秀英');
    expect(resolved.markdown).toContain('帮扶责任人 张三 于 10:40 处理完毕');
    expect(resolved.markdown).toContain('结果：老人摔倒无大碍，已扶起');
    const cancelled = renderGroupPost(input('closed', 'en', { outcome: 'cancelled', by: '值班员 李明', reason: 'pressed by mistake' }));
    expect(cancelled.title).toBe('【智慧看家】Cancelled: Fall · 王秀英');
    expect(cancelled.markdown).toContain('值班员 李明 cancelled it at 10:40');
    expect(cancelled.markdown).toContain('Reason: pressed by mistake');
    expect(cancelled.mentionAll).toBe(false);
    const falseAlarm = renderGroupPost(input('closed', 'zh-CN', { falseAlarm: true, reason: '老人平安，误按' }));
    expect(falseAlarm.title).toBe('【智慧看家】已处理（误报）：跌倒 · 王秀英');
    expect(renderGroupPost(input('closed', 'en', { falseAlarm: true, reason: 'fine, pressed by mistake' })).title).toBe('【智慧看家】Resolved (false alarm): Fall · 王秀英');
  });

  it('fellOver: red and bold "phone them now" for the duty officers, in each robot\'s colour; wakes the group', () => {
    const dingtalk = renderGroupPost(input('fellOver', 'zh-CN'));
    expect(dingtalk.markdown.split('\n\n')[1]).toBe('**<font color=#FF0000>请值班人员立即电话联系</font>**');
    expect(dingtalk.markdown).toContain('短信和电话均未能送达 帮扶责任人 张三');
    expect(dingtalk.mentionAll).toBe(true);
    const wecom = renderGroupPost(input('fellOver', 'zh-CN', { dialect: 'wecom' }));
    expect(wecom.markdown.split('\n')[1]).toBe('**<font color="warning">请值班人员立即电话联系</font>**');
  });

  it('masks a phone number written into a free-text value (a reason, an address, a contact)', () => {
    const post = renderGroupPost(
      input('closed', 'zh-CN', { reason: '已联系家属 138 1234 5678，由家属接走', by: '张三 13900001111', address: '王庄村3组12号（钥匙在+86-13700002222家）' }),
    );
    expect(post.markdown).not.toMatch(MOBILE);
    expect(post.markdown).not.toMatch(/1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}/);
    // Masked, with full-width stars: four * in a row would be markdown.
    expect(post.markdown).toContain('138＊＊＊＊5678');
    expect(post.markdown).toContain('139＊＊＊＊1111');
    const fell = renderGroupPost(input('fellOver', 'zh-CN', { contact: '张三（13812345678）' }));
    expect(fell.markdown).not.toMatch(MOBILE);
  });

  it('a value cannot inject markdown or a colour: its special characters become full-width', () => {
    const post = renderGroupPost(input('opened', 'zh-CN', { residentName: '**王**[秀英](http://evil.example)', address: '<font color=#00FF00>x</font> #1' }));
    expect(post.title).toBe('【智慧看家】跌倒 · ＊＊王＊＊［秀英］(http://evil.example)');
    expect(post.markdown).not.toContain('<font color=#00FF00>');
    expect(post.markdown).toContain('地址：＜font color=＃00FF00＞x＜/font＞ ＃1');
  });

  it('leaves out a link that is not http(s), and cuts a long value to 120 characters', () => {
    const post = renderGroupPost(input('closed', 'zh-CN', { link: 'javascript:alert(1)', reason: '很'.repeat(300) }));
    expect(post.markdown).not.toContain('javascript:');
    const reason = post.markdown.split('\n\n').find((line) => line.startsWith('结果：')) ?? '';
    expect(Array.from(reason.slice('结果：'.length)).length).toBe(120);
    expect(reason.endsWith('…')).toBe(true);
  });

  it('an unknown time zone falls back to Beijing time instead of throwing', () => {
    expect(renderGroupPost(input('opened', 'zh-CN', { timeZone: 'Mars/Olympus' })).markdown).toContain('王庄村 · 10:00');
  });
});
