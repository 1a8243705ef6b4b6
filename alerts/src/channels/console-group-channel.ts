/**
 * Prints each post to a village's duty group instead of posting it to a group
 * robot: the demo's group channel, and a way to see what the group would read
 * before a DingTalk or WeCom robot is set up. A group post never holds a phone
 * number, so it is printed as it is.
 */
import type { SmsMessage, SmsResult } from '../sms/sms-sender.js';
import type { NoticeChannel } from './channel.js';

export interface ConsoleGroupChannelOptions {
  /** Receives one block of text per post, without a trailing newline; default stdout. */
  write?: (block: string) => void;
}

export class ConsoleGroupChannel implements NoticeChannel {
  readonly name = 'console-group';
  readonly medium = 'group' as const;
  private readonly write: (block: string) => void;

  constructor(options: ConsoleGroupChannelOptions = {}) {
    this.write = options.write ?? ((block) => process.stdout.write(`${block}\n`));
  }

  /** Prints the post; always succeeds. */
  async send(message: SmsMessage): Promise<SmsResult> {
    this.write([`──── duty group of village ${message.to} · ${message.outId} ────`, message.text, '─'.repeat(40)].join('\n'));
    return { ok: true, providerRef: null };
  }
}
