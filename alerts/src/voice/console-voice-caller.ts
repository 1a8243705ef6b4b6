/**
 * Prints each call instead of ringing: the demo's voice channel, and the one to
 * use before an Aliyun voice account exists. The number is masked (house rule
 * 12); the text read aloud is printed in full, so the demo shows what the helper
 * would hear, and how many times.
 */
import { maskPhone } from '@kanjia/protocol';
import type { NoticeChannel } from '../channels/channel.js';
import { voiceText } from '../messages/voice-templates.js';
import type { SmsLocale } from '../messages/sms-templates.js';
import { SMS_ERROR_CODES, type SmsMessage, type SmsResult } from '../sms/sms-sender.js';

export interface ConsoleVoiceCallerOptions {
  /** Receives one block of text per call, without a trailing newline; default stdout. */
  write?: (block: string) => void;
  /** How many times the message would be said; default 2, as the Aliyun caller. */
  playTimes?: number;
  /** The language of the text read aloud; default zh-CN. */
  locale?: SmsLocale;
}

export class ConsoleVoiceCaller implements NoticeChannel {
  readonly name = 'console-voice';
  readonly medium = 'voice' as const;
  private readonly write: (block: string) => void;
  private readonly playTimes: number;
  private readonly locale: SmsLocale;

  constructor(options: ConsoleVoiceCallerOptions = {}) {
    this.write = options.write ?? ((block) => process.stdout.write(`${block}\n`));
    this.playTimes = options.playTimes ?? 2;
    this.locale = options.locale ?? 'zh-CN';
  }

  /** Prints the call with the kind's own text; always succeeds, except for a role that is never rung (cancelled), passed on to the next channel as the Aliyun caller does. */
  async send(message: SmsMessage): Promise<SmsResult> {
    const text = voiceText(message, this.locale, true);
    if (text === undefined) {
      return { ok: false, kind: 'limited', code: SMS_ERROR_CODES.unknownTemplate, message: `a "${message.template}" notice is not rung` };
    }
    this.write(
      [`──── CALL to ${maskPhone(message.to)} · ${message.template}.${message.kind} · ${message.outId} · said ${this.playTimes}× ────`, text, '─'.repeat(40)].join('\n'),
    );
    return { ok: true, providerRef: null };
  }
}
