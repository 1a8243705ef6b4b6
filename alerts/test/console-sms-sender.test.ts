import { describe, expect, it } from 'vitest';
import { renderSms } from '../src/messages/sms-templates.js';
import { ConsoleSmsSender } from '../src/sms/console-sms-sender.js';

describe('ConsoleSmsSender', () => {
  it('prints one block per SMS with the phone masked and the Chinese text in full, the whole answer link included', async () => {
    const blocks: string[] = [];
    const sender = new ConsoleSmsSender({ write: (block) => blocks.push(block) });
    const { params, text } = renderSms('alarm', {
      kind: 'sos',
      residentName: '王秀英',
      address: '王庄村3组12号',
      villageName: '王庄村',
      atMs: Date.UTC(2026, 0, 15, 2, 0),
      timeZone: 'Asia/Shanghai',
      answerCode: 'k7m2p9x4q3r8',
      publicUrl: 'http://192.168.1.20:8080/',
    });

    const result = await sender.send({ to: '+8613812345678', template: 'alarm', kind: 'sos', params, text, outId: 'ntf-1' });

    expect(result).toEqual({ ok: true, providerRef: null });
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toContain('138****5678');
    expect(blocks[0]).not.toContain('13812345678');
    expect(blocks[0]).toContain(text);
    expect(blocks[0]).toContain('ntf-1');
    expect(blocks[0]).toContain('alarm.sos');
    expect(text).toContain('按了紧急按钮');
    // The whole link, so the demo shows what the helper taps.
    expect(blocks[0]).toContain('点此接警：http://192.168.1.20:8080/a/k7m2p9x4q3r8');
    expect(sender.name).toBe('console');
  });
});
