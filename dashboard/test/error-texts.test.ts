import { API_ERROR_CODES, ERROR_CODES, ERROR_CATALOG } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import { LANGS } from '../src/i18n';
import { ERROR_TEXTS, errorSentence } from '../src/i18n-errors';

describe('the dashboard’s error sentences', () => {
  it('has a sentence of its own in Chinese and English for every code the API or the dashboard can give', () => {
    const shown = ERROR_CODES.filter((c) => API_ERROR_CODES.includes(c as never) || ERROR_CATALOG[c].from === 'dashboard');
    expect(shown.length).toBeGreaterThan(30);
    for (const lang of LANGS) {
      for (const code of shown) {
        const text = (ERROR_TEXTS[lang].codes as Record<string, string | undefined>)[code];
        expect(text?.trim(), `${lang} ${code}`).toBeTruthy();
        expect(text, `${lang} ${code}`).not.toContain(code);
      }
      // Nothing extra: a sentence for a code the catalog does not have is a typo or a code left behind.
      expect(Object.keys(ERROR_TEXTS[lang].codes).sort()).toEqual([...shown].sort());
    }
    expect(ERROR_TEXTS.zh.codes.ALARM_ALREADY_TAKEN).toBe('此警报已被他人接警。');
  });

  it('shows a code from a newer server as a sentence naming the code', () => {
    expect(errorSentence('zh', 'SOMETHING_NEW')).toBe('服务器报告了一个错误（代码 SOMETHING_NEW）。');
    expect(errorSentence('en', 'SOMETHING_NEW')).toBe('The server reported an error (code SOMETHING_NEW).');
    expect(errorSentence('en', 'LOGIN_FAILED')).toBe('Wrong name or password.');
  });
});
