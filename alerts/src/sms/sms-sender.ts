/**
 * The SMS port (CONVENTIONS.md §5): the outbox hands a rendered message to an
 * SmsSender and gets back a result with a stable code. Adapters are named after
 * their technology (AliyunSmsSender, ConsoleSmsSender).
 */

import { ALARM_KINDS, type AlarmKind } from '@kanjia/protocol';

/**
 * The role of a message — the first notice of a case, an escalation, or the
 * first notice of a critical case a duty officer cancelled before it went out —
 * and the key of its generic template, the one every provider account must
 * register (see messages/sms-templates.ts).
 */
export type SmsTemplateKey = 'alarm' | 'escalation' | 'cancelled';

export const SMS_TEMPLATE_KEYS: readonly SmsTemplateKey[] = ['alarm', 'escalation', 'cancelled'];

/** The roles that also have a template of their own per alarm kind; `cancelled` has only the generic one. */
export type SmsKindRole = Exclude<SmsTemplateKey, 'cancelled'>;

export const SMS_KIND_ROLES: readonly SmsKindRole[] = ['alarm', 'escalation'];

/** Key of the optional template of one role for one alarm kind, e.g. `alarm.co`. */
export type SmsKindTemplateKey = `${SmsKindRole}.${AlarmKind}`;

/** Every per-kind template key: alarm.sos … escalation.heat. */
export const SMS_KIND_TEMPLATE_KEYS: readonly SmsKindTemplateKey[] = SMS_KIND_ROLES.flatMap((role) => ALARM_KINDS.map((kind): SmsKindTemplateKey => `${role}.${kind}`));

/** The per-kind template key of a role and kind; undefined for a role without per-kind templates. */
export function kindTemplateKey(template: SmsTemplateKey, kind: AlarmKind): SmsKindTemplateKey | undefined {
  return template === 'cancelled' ? undefined : `${template}.${kind}`;
}

/** Whether `key` names a per-kind template (`alarm.co`, `escalation.fall`, …). */
export function isKindTemplateKey(key: string): key is SmsKindTemplateKey {
  return (SMS_KIND_TEMPLATE_KEYS as readonly string[]).includes(key);
}

export interface SmsMessage {
  /** Mainland mobile number, 11 digits, optionally prefixed with +86 or 86. */
  to: string;
  /** The role of the message; with `kind` it names the per-kind template. */
  template: SmsTemplateKey;
  /** The alarm kind: a provider with a template registered for this kind uses it. */
  kind: AlarmKind;
  /**
   * The variables of the generic template of `template`, already cut to the
   * provider's length limit (see renderSms); every per-kind template uses a
   * subset of them, and a provider sends only those of the template it picks.
   */
  params: Record<string, string>;
  /** The full rendered text of the per-kind template, for channels that send free text (console, group bots). */
  text: string;
  /** Our notification id, passed to the provider for correlation (Aliyun OutId). */
  outId: string;
  /**
   * Several alarms for one recipient in one message (the provider's limit per
   * number, see alerts/README.md "Bundles"): how many. The params are then the
   * generic template's, filled with all of them; a provider must use the
   * generic template of `template`, never a per-kind one.
   */
  bundled?: number;
}

/**
 * What a failed send says about the message and about the channel; the
 * outbox acts on it (alerts/README.md "When the provider fails"):
 * - `permanent`: this message can never go as it is (a bad number, a template
 *   variable the provider refuses): it fails, and the case's escalation moves
 *   on to the next contact at once.
 * - `retryMessage`: this one message may go later (a nonce the provider saw
 *   twice, a sender bug): it is retried with backoff, its attempts counted;
 *   the other messages go on.
 * - `limited`: the provider's flow control for this number, sign name and
 *   template (Aliyun isv.BUSINESS_LIMIT_CONTROL, documented at 50 a day per
 *   number, sign and template for notices): sending the same again only
 *   spends the day's allowance, so it is never retried as it is; the sender
 *   has already tried its other templates, and the outbox moves the notice to
 *   its next channel (or fails it, and the escalation moves on).
 * - `account`: the provider refuses the account (signature, key, credit,
 *   sign name or template, the account's own quota or API rate limit):
 *   every message would fail the same way — an outage of the channel.
 * - `transport`: the provider cannot be reached or is broken (timeout,
 *   refused or reset connection, 5xx, an unreadable answer) — an outage too.
 */
export type SmsFailureKind = 'permanent' | 'retryMessage' | 'limited' | 'account' | 'transport';

export const SMS_FAILURE_KINDS: readonly SmsFailureKind[] = ['permanent', 'retryMessage', 'limited', 'account', 'transport'];

/** Whether a failure of this kind is an outage of the whole channel rather than a verdict on one message. */
export function isOutageKind(kind: SmsFailureKind): boolean {
  return kind === 'account' || kind === 'transport';
}

export type SmsResult =
  | { ok: true; providerRef: string | null }
  | {
      ok: false;
      /** What the failure says about this message and the channel (see SmsFailureKind). */
      kind: SmsFailureKind;
      /** Stable code: the provider's own (e.g. isv.MOBILE_NUMBER_ILLEGAL) or one of SMS_ERROR_CODES. */
      code: string;
      /** A sentence for the dashboard and logs; never contains a phone number in clear. */
      message: string;
      /**
       * `retryMessage` only: try this message again at this time, not by the
       * backoff, and infer nothing about the channel from it (a group robot
       * holding one group's posts while that robot is throttled or refuses
       * them: the other groups go on).
       */
      retryAtMs?: number;
      /** With `retryAtMs`: no attempt is counted (the channel's own pacing, or a wait it bounds in time itself: robot-gate.ts). */
      uncounted?: boolean;
    };

/** Codes of failures that happen on our side of the provider's API. */
export const SMS_ERROR_CODES = {
  /** No answer within the sender's timeout. */
  timeout: 'SMS_TIMEOUT',
  /** Connection refused, reset, DNS failure and the like. */
  network: 'SMS_NETWORK_ERROR',
  /** The provider answered something we could not read (e.g. an HTML error page from a proxy). */
  badResponse: 'SMS_BAD_RESPONSE',
  /** The message names a template the sender has no provider template code for. */
  unknownTemplate: 'SMS_UNKNOWN_TEMPLATE',
} as const;

export interface SmsSender {
  /** Channel name shown with each notification, e.g. 'aliyun', 'console'. */
  readonly name: string;
  /** Sends one SMS. Never throws for provider or network errors: it returns ok:false with a stable code. */
  send(message: SmsMessage): Promise<SmsResult>;
}

/** Mainland mobile number with optional +86 / 86 / 0086 prefix; group 1 is the 11-digit number. */
export const MAINLAND_MOBILE = /^(?:\+86|0086|86)?(1[3-9]\d{9})$/;

/** 11-digit mainland number without prefix, or null when `phone` is not a mainland mobile number. */
export function normalizeMainlandMobile(phone: string): string | null {
  const match = MAINLAND_MOBILE.exec(phone.replace(/[\s-]/g, ''));
  return match?.[1] ?? null;
}
