/**
 * Prints each SMS instead of sending it: the demo channel, and the one to use
 * before an Aliyun account is set up. The phone number is masked (house rule 12);
 * the text is printed in full so the demo shows what the helper would read.
 */
import { maskPhone } from '@kanjia/protocol';
import type { SmsMessage, SmsResult, SmsSender } from './sms-sender.js';
import type { NoticeChannel } from '../channels/channel.js';
import type { SmsNotice, SmsNoticeKey, SmsNoticeSender } from './sms-notices.js';

export interface ConsoleSmsSenderOptions {
  /** Receives one block of text per SMS, without a trailing newline; default stdout. */
  write?: (block: string) => void;
}

export class ConsoleSmsSender implements NoticeChannel, SmsNoticeSender {
  readonly name = 'console';
  readonly medium = 'sms' as const;
  private readonly write: (block: string) => void;

  constructor(options: ConsoleSmsSenderOptions = {}) {
    this.write = options.write ?? ((block) => process.stdout.write(`${block}\n`));
  }

  /** Prints the SMS; always succeeds. */
  async send(message: SmsMessage): Promise<SmsResult> {
    this.write(
      [
        `──── SMS to ${maskPhone(message.to)} · ${message.template}.${message.kind} · ${message.outId} ────`,
        message.text,
        '─'.repeat(40),
      ].join('\n'),
    );
    return { ok: true, providerRef: null };
  }

  /** Prints any notice: the console needs no registered template. */
  canSendNotice(_template: SmsNoticeKey): boolean {
    return true;
  }

  /** Prints the notice like an SMS; always succeeds. */
  async sendNotice(notice: SmsNotice): Promise<SmsResult> {
    this.write([`──── SMS to ${maskPhone(notice.to)} · ${notice.template} · ${notice.outId} ────`, notice.text, '─'.repeat(40)].join('\n'));
    return { ok: true, providerRef: null };
  }
}
