/**
 * A notification channel (CONVENTIONS.md §5, DESIGN.md "Alarms you can trust"):
 * the outbox hands a rendered notice to a channel and gets back a result with
 * a stable code, whatever the channel reaches — a phone by SMS, the same
 * phone by a voice call, or a village's duty group by a group robot's post.
 * Every channel is an SmsSender as far as the outbox is concerned (one
 * SmsMessage in, one SmsResult out); the medium says what `to` is and how
 * the notice is read.
 *
 * Each notification has an ordered list of channels (its route): a permanent
 * failure, the provider's flow control (`limited`) or an outage that lasts
 * past the failover time moves it to the next one (see alerts/README.md).
 */
import type { SmsSender } from '../sms/sms-sender.js';

/**
 * - `sms`: `to` is a mobile number; the message's template and params or its text.
 * - `voice`: `to` is a phone number that is rung; a text-to-speech template reads
 *   the resident's name, village and the kind (messages/voice-templates.ts).
 * - `group`: `to` is the key of a duty group (a village id, or `default`); the
 *   channel posts the message's text to that group's robot webhook.
 */
export type ChannelMedium = 'sms' | 'voice' | 'group';

export const CHANNEL_MEDIA: readonly ChannelMedium[] = ['sms', 'voice', 'group'];

/** What a delivery query needs to find one sent notice at the provider. */
export interface DeliveryQuery {
  /** What the send returned as providerRef (Aliyun BizId / CallId, Twilio Message SID). */
  providerRef: string;
  /** The number (or group key) it went to. */
  to: string;
  /** When it was accepted by the provider (Aliyun's QuerySendDetails needs the day). */
  sentAtMs: number;
  /** Our notification id (the OutId it was sent with). */
  outId: string;
}

/**
 * The provider's word on one sent notice:
 * - `delivered`: the handset (or the group) has it; for a call, it was answered;
 * - `failed`: it will never arrive (switched off past the provider's retries,
 *   unknown number, call not answered or refused); `code` is the provider's;
 * - `pending`: not yet known; ask again later;
 * - `unknown`: the query itself failed (network, throttled): ask again later.
 */
export type DeliveryAnswer =
  | { state: 'delivered'; atMs: number | null; detail?: string }
  | { state: 'failed'; code: string; message: string; atMs: number | null }
  | { state: 'pending' }
  | { state: 'unknown'; code: string; message: string };

export interface NoticeChannel extends SmsSender {
  /** What the channel reaches (see ChannelMedium). */
  readonly medium: ChannelMedium;
  /**
   * Asks the provider whether a notice it accepted has arrived. Absent: the
   * channel has no receipts and its acceptance is all we learn (a group
   * robot's post, the console). Never throws: the query's own failure is
   * `unknown`.
   */
  queryDelivery?(query: DeliveryQuery): Promise<DeliveryAnswer>;
  /**
   * A channel that reaches several targets through credentials of their own
   * (a group robot per village) reports here the targets it cannot reach
   * while the others work: the whole list, each time it changes. A fault of
   * every target is an outage instead (`account`, `transport`).
   */
  watchFaults?(listener: (faults: readonly ChannelFault[]) => void): void;
}

/** One target of a channel that does not work while the others do. */
export interface ChannelFault {
  /** The target: a group key (a village id, or `default`). */
  target: string;
  /** The provider's code (dingtalk.310000, wecom.45009). */
  code: string;
  message: string;
  /** `setup`: the target's credentials or group are refused until somebody fixes them; `throttled`: it refuses posts for a while. */
  kind: 'setup' | 'throttled';
  sinceMs: number;
  /** When the next post to it is tried. */
  retryAtMs: number;
}
