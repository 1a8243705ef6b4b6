/**
 * Texts that are not about an alarm case — today the evening reminder to a
 * helper whose visits are due tomorrow (docs/township.md "The visit
 * reminder"). They have templates of their own (SmsNoticeKey, registered with
 * Aliyun like the alarm ones) and a message type of their own, so the alarm
 * paths (SmsTemplateKey, the outbox, case/) never see them: a sender that can
 * send them says so by implementing SmsNoticeSender besides SmsSender.
 */
import type { SmsMessage, SmsResult, SmsSender } from './sms-sender.js';

/** The key of a notice's template. */
export type SmsNoticeKey = 'visitReminder';

export const SMS_NOTICE_KEYS: readonly SmsNoticeKey[] = ['visitReminder'];

/** One notice: the SMS message's fields without an alarm kind. */
export interface SmsNotice extends Pick<SmsMessage, 'to' | 'params' | 'text' | 'outId'> {
  template: SmsNoticeKey;
}

export interface SmsNoticeSender {
  /** Whether this sender has what it needs to send `template` (a registered template code at Aliyun). */
  canSendNotice(template: SmsNoticeKey): boolean;
  /** Sends one notice; never throws for provider or network errors, like SmsSender.send. */
  sendNotice(notice: SmsNotice): Promise<SmsResult>;
}

/** Whether `sender` also sends notices (the console, Aliyun and Twilio senders do). */
export function sendsNotices(sender: SmsSender): sender is SmsSender & SmsNoticeSender {
  const s = sender as Partial<SmsNoticeSender>;
  return typeof s.sendNotice === 'function' && typeof s.canSendNotice === 'function';
}
