/**
 * The TTS templates keep Aliyun's rules for voice templates (help.aliyun.com/document_detail/414170),
 * and the console caller prints the call with the number masked.
 */
import { ALARM_KINDS } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import { VOICE_KIND_TEMPLATES, VOICE_TEMPLATES, voiceParamValue, voiceText } from '../src/messages/voice-templates.js';
import { renderSms } from '../src/messages/sms-templates.js';
import { ConsoleVoiceCaller } from '../src/voice/console-voice-caller.js';

const ALL = [...Object.entries(VOICE_TEMPLATES), ...Object.entries(VOICE_KIND_TEMPLATES)];

describe('voice templates', () => {
  it.each(ALL)('%s keeps Aliyun’s rules: no forbidden character, no adjacent variables, each variable once, 1–1000 characters', (_key, definition) => {
    for (const content of Object.values(definition.content)) {
      const fixed = content.replace(/\$\{\w+\}/g, '');
      expect(fixed).not.toMatch(/[#/:\-%¥【】]|https?/);
      expect(content).not.toMatch(/\}\s*\$\{/);
      const names = [...content.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]);
      expect(new Set(names).size).toBe(names.length);
      expect(names.every((n) => /^[A-Za-z]\w*$/.test(n ?? '') && !['email', 'mobile', 'id', 'nick', 'site'].includes(n ?? ''))).toBe(true);
      expect(Array.from(content).length).toBeLessThanOrEqual(1000);
    }
  });

  it('each kind’s own templates have at most 2 variables (the shared mode’s limit), and say the kind in their text', () => {
    for (const kind of ALARM_KINDS) {
      for (const role of ['alarm', 'escalation'] as const) {
        const definition = VOICE_KIND_TEMPLATES[`${role}.${kind}`];
        expect(definition.variables).toEqual(['village', 'name']);
      }
    }
    expect(VOICE_KIND_TEMPLATES['alarm.fall'].content['zh-CN']).toBe('智慧看家紧急通知，${village}的${name}家跌倒报警，请马上处理。');
    expect(VOICE_TEMPLATES.alarm.variables).toEqual(['village', 'name', 'kind']);
    expect(VOICE_TEMPLATES.escalation.variables).toEqual(['village', 'name', 'kind', 'minutes']);
  });

  it('reads the SMS variables of a rendered alarm aloud, cut and cleaned for the voice', () => {
    const { params } = renderSms('escalation', {
      kind: 'co', residentName: '王秀英', address: '王庄村3组12号', villageName: '王庄村', atMs: Date.UTC(2026, 0, 15, 18, 10), timeZone: 'Asia/Shanghai',
      minutesUnanswered: 10, answerCode: 'k7m2p9', publicUrl: 'https://kanjia.example.cn',
    });
    expect(voiceText({ template: 'escalation', kind: 'co', params })).toBe('智慧看家紧急通知，王庄村的王秀英家一氧化碳报警，已10分钟无人接警，请马上处理。');
    expect(voiceText({ template: 'escalation', kind: 'co', params }, 'zh-CN', true)).toBe('智慧看家紧急通知，王庄村的王秀英家一氧化碳报警，至今无人接警，请马上处理。');
    expect(voiceText({ template: 'cancelled', kind: 'co', params })).toBeUndefined();
    expect(voiceParamValue('东#村/3-组 http://x')).toBe('东 村 3 组 http x');
    expect(voiceParamValue('王'.repeat(30))).toBe('王'.repeat(20));
    expect(voiceParamValue('  ')).toBe('-');
  });
});

describe('ConsoleVoiceCaller', () => {
  it('prints the call it would make with the text read aloud and the number masked; a cancelled notice is not rung', async () => {
    const blocks: string[] = [];
    const caller = new ConsoleVoiceCaller({ write: (b) => blocks.push(b) });
    expect(caller).toMatchObject({ name: 'console-voice', medium: 'voice' });
    const params = { village: '王庄村', name: '王秀英', kind: '跌倒' };
    expect(await caller.send({ to: '13812345678', template: 'alarm', kind: 'fall', params, text: '', outId: 'ntf-c1' })).toEqual({ ok: true, providerRef: null });
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toContain('CALL to 138****5678 · alarm.fall · ntf-c1 · said 2×');
    expect(blocks[0]).toContain('智慧看家紧急通知，王庄村的王秀英家跌倒报警，请马上处理。');
    expect(blocks[0]).not.toContain('13812345678');
    expect(await caller.send({ to: '13812345678', template: 'cancelled', kind: 'fall', params, text: '', outId: 'ntf-c2' })).toMatchObject({ ok: false, kind: 'limited' });
    expect(blocks).toHaveLength(1);
  });
});
