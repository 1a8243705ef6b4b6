import { describe, expect, it } from 'vitest';
import { ALARM_ACTIONS, ALARM_KINDS, AUDIT_ACTIONS, ALARM_STATUSES, CONTACT_ROLES, NOTIFICATION_STATUSES, SEVERITIES } from '@kanjia/protocol';
import { isMessageKey, LANGS, MESSAGES, translate } from '../src/i18n';

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '').sort();

describe('i18n', () => {
  it('has every key in both languages, none empty', () => {
    const zhKeys = Object.keys(MESSAGES.zh).sort();
    const enKeys = Object.keys(MESSAGES.en).sort();
    expect(enKeys).toEqual(zhKeys);
    for (const lang of LANGS) {
      for (const [key, text] of Object.entries(MESSAGES[lang])) expect(text.trim(), `${lang} ${key}`).not.toBe('');
    }
  });

  it('uses the same placeholders in both languages', () => {
    for (const key of Object.keys(MESSAGES.zh)) {
      if (!isMessageKey(key)) throw new Error(key);
      expect(placeholders(MESSAGES.en[key]), key).toEqual(placeholders(MESSAGES.zh[key]));
    }
  });

  it('labels every alarm kind, severity, status, contact role, notification status and history action', () => {
    const keys = [
      ...ALARM_KINDS.map((k) => `kind.${k}`),
      ...SEVERITIES.map((s) => `severity.${s}`),
      ...ALARM_STATUSES.map((s) => `status.${s}`),
      ...CONTACT_ROLES.map((r) => `role.${r}`),
      ...NOTIFICATION_STATUSES.map((s) => `notif.status.${s}`),
      ...AUDIT_ACTIONS.map((a) => `audit.action.${a}`),
      ...ALARM_ACTIONS.map((a) => `history.${a}`),
    ];
    for (const key of keys) expect(isMessageKey(key), key).toBe(true);
  });

  it('uses the duty-room words for kinds and statuses', () => {
    expect(translate('zh', 'kind.sos')).toBe('紧急呼叫');
    expect(translate('zh', 'kind.missedCheckIn')).toBe('未平安打卡');
    expect(translate('zh', 'kind.co')).toBe('一氧化碳');
    expect(translate('zh', 'status.open')).toBe('待接警');
    expect(translate('zh', 'status.onSite')).toBe('已到场');
    expect(translate('zh', 'queue.empty')).toBe('当前没有待处理的警报');
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('zh', 'card.nextEscalation', { in: '3分钟后' })).toBe('3分钟后将通知下一位联系人');
    expect(translate('en', 'card.age', { n: 82 })).toBe('82 yrs');
    expect(translate('en', 'card.age')).toBe('{n} yrs');
  });
});
