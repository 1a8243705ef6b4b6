import { ANSWER_ERROR_CODES } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import { codeFromPath } from '../src/answer/answer-api';
import { ANSWER_MESSAGES, isAnswerKey } from '../src/answer/answer-i18n';
import { LANGS } from '../src/i18n';

const placeholders = (s: string): string[] => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? '').sort();

describe('the answer page’s words', () => {
  it('has every key in both languages, none empty, with the same placeholders', () => {
    expect(Object.keys(ANSWER_MESSAGES.en).sort()).toEqual(Object.keys(ANSWER_MESSAGES.zh).sort());
    for (const lang of LANGS) for (const [key, text] of Object.entries(ANSWER_MESSAGES[lang])) expect(text.trim(), `${lang} ${key}`).not.toBe('');
    for (const key of Object.keys(ANSWER_MESSAGES.zh)) {
      if (!isAnswerKey(key)) throw new Error(key);
      expect(placeholders(ANSWER_MESSAGES.en[key]), key).toEqual(placeholders(ANSWER_MESSAGES.zh[key]));
    }
  });

  it('says something of its own for the rate limit and for every lifecycle refusal', () => {
    for (const code of ['RATE_LIMITED', 'ALARM_ALREADY_TAKEN', 'ALARM_CLOSED', 'ALARM_WRONG_STATE']) expect(isAnswerKey(`answer.error.${code}`), code).toBe(true);
    expect(ANSWER_ERROR_CODES).toContain('RATE_LIMITED');
  });

  it('reads the code from the last segment of /a/<code>', () => {
    expect(codeFromPath('/a/k7m2p9x4q3r8')).toBe('k7m2p9x4q3r8');
    expect(codeFromPath('/kanjia/a/k7m2p9x4q3r8/')).toBe('k7m2p9x4q3r8');
  });
});
