/**
 * Sends SMS through the Messages REST API that Twilio and many other providers
 * speak (API version 2010-04-01): `POST {baseUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json`
 * with a form (To, From or MessagingServiceSid, Body, StatusCallback) and HTTP
 * Basic auth (the Account SID and its auth token, or an API key SID and its
 * secret). The answer's `sid` is the providerRef; `GET …/Messages/{Sid}.json`
 * tells whether it was delivered.
 *
 * Plain fetch, not the `twilio` package: we need two endpoints, and the SDK
 * brings a large dependency tree for them. `baseUrl` is a setting so the local
 * stand-in (src/testing/local-twilio-server.ts) or another compatible provider
 * can take Twilio's place.
 */
import { maskPhone } from '@kanjia/protocol';
import { z } from 'zod';
import type { DeliveryAnswer, DeliveryQuery, NoticeChannel } from '../channels/channel.js';
import { httpAddress, parseChannelSettings } from '../channels/channel-settings.js';
import { httpJson, scrubSecrets, type ChannelFailure, type HttpJsonAnswer } from '../channels/http-json.js';
import { classifyTwilioFailure } from './twilio-error-codes.js';
import { normalizeMainlandMobile, SMS_ERROR_CODES, type SmsMessage, type SmsResult } from './sms-sender.js';
import type { SmsNotice, SmsNoticeKey, SmsNoticeSender } from './sms-notices.js';

export const TWILIO_DEFAULT_BASE_URL = 'https://api.twilio.com';
export const TWILIO_API_VERSION = '2010-04-01';
export const TWILIO_DEFAULT_TIMEOUT_MS = 5_000;

/** E.164: a + and up to 15 digits, the first not 0. */
export const E164_NUMBER = /^\+[1-9]\d{6,14}$/;
/** An alphanumeric sender ID (where the destination allows one): 1 to 11 letters, digits and spaces, at least one letter. */
const ALPHANUMERIC_SENDER = /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/;
/** SIDs go into the URL's path: letters, digits, - and _ only (Twilio's are AC/SK/MG and 32 hex digits; compatible providers differ). */
const SID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The settings of TwilioSmsSender (docs/channels.md lists their environment
 * variables). Credentials: the Account SID with its auth token, or an API key
 * (SID and secret) of that account. Sender: a From number (E.164) or an
 * alphanumeric sender ID, or a Messaging Service SID.
 */
export const TwilioSmsSettings = z
  .object({
    accountSid: z.string().regex(SID, 'the Account SID (AC followed by 32 hex digits at Twilio)'),
    authToken: z.string().min(1).optional(),
    apiKeySid: z.string().regex(SID, 'an API key SID (SK followed by 32 hex digits at Twilio)').optional(),
    apiKeySecret: z.string().min(1).optional(),
    from: z
      .string()
      .refine((v) => E164_NUMBER.test(v) || ALPHANUMERIC_SENDER.test(v), 'an E.164 number such as +8613812345678, or an alphanumeric sender ID of at most 11 characters')
      .optional(),
    messagingServiceSid: z.string().regex(SID, 'a Messaging Service SID (MG followed by 32 hex digits at Twilio)').optional(),
    /** Where the provider posts status changes; optional: the outbox asks with queryDelivery anyway. */
    statusCallback: httpAddress('https://kanjia.example.cn/twilio/status').optional(),
    /** Default https://api.twilio.com; the local stand-in's url in tests. */
    baseUrl: httpAddress(TWILIO_DEFAULT_BASE_URL).default(TWILIO_DEFAULT_BASE_URL),
    /** Deadline for one API call, connection and answer included. */
    timeoutMs: z.coerce.number().int().min(100).max(60_000).default(TWILIO_DEFAULT_TIMEOUT_MS),
  })
  .strict()
  .superRefine((s, ctx) => {
    const apiKey = s.apiKeySid !== undefined || s.apiKeySecret !== undefined;
    if (apiKey && (s.apiKeySid === undefined || s.apiKeySecret === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.apiKeySid === undefined ? 'apiKeySid' : 'apiKeySecret'], message: 'an API key needs both its SID and its secret' });
    }
    if (!apiKey && s.authToken === undefined) ctx.addIssue({ code: 'custom', path: ['authToken'], message: 'required: the auth token, or an API key (apiKeySid and apiKeySecret)' });
    if (s.from === undefined && s.messagingServiceSid === undefined) {
      ctx.addIssue({ code: 'custom', path: ['from'], message: 'required: the sender (from), or a Messaging Service (messagingServiceSid)' });
    }
  });
export type TwilioSmsSettings = z.output<typeof TwilioSmsSettings>;
export type TwilioSmsSettingsInput = z.input<typeof TwilioSmsSettings>;

export interface TwilioSmsSenderOptions {
  /** Where failures are reported, one line each, phone masked; default stderr. */
  log?: (line: string) => void;
}

/** The part of a Message resource we read (Create answers it, Fetch too). */
const TwilioMessage = z.object({
  sid: z.string().min(1),
  status: z.string(),
  error_code: z.union([z.number(), z.string()]).nullish(),
  error_message: z.string().nullish(),
  date_updated: z.string().nullish(),
  date_sent: z.string().nullish(),
});

/** Twilio's error answer: {code, message, more_info, status}. */
const TwilioError = z.object({ code: z.union([z.number(), z.string()]), message: z.string().optional() });

/** Message statuses that are not yet an outcome (scheduled and accepted come with a Messaging Service). */
const PENDING_STATUSES: ReadonlySet<string> = new Set(['scheduled', 'accepted', 'queued', 'sending', 'sent']);
const DELIVERED_STATUSES: ReadonlySet<string> = new Set(['delivered', 'read']);
const FAILED_STATUSES: ReadonlySet<string> = new Set(['undelivered', 'failed', 'canceled']);

export class TwilioSmsSender implements NoticeChannel, SmsNoticeSender {
  readonly name = 'twilio';
  readonly medium = 'sms' as const;
  private readonly settings: TwilioSmsSettings;
  private readonly authorization: string;
  private readonly log: (line: string) => void;

  constructor(settings: TwilioSmsSettingsInput, options: TwilioSmsSenderOptions = {}) {
    this.settings = parseChannelSettings(TwilioSmsSettings, settings, 'TwilioSmsSender');
    const user = this.settings.apiKeySid ?? this.settings.accountSid;
    const password = this.settings.apiKeySecret ?? this.settings.authToken ?? '';
    this.authorization = `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /** Free text needs no registered template: every notice can go. */
  canSendNotice(_template: SmsNoticeKey): boolean {
    return true;
  }

  /** Sends a notice's full text, as an alarm SMS goes. */
  sendNotice(notice: SmsNotice): Promise<SmsResult> {
    return this.post(notice);
  }

  /** Sends one SMS (its full `text`); returns ok:false with a stable code for every provider or network failure. */
  send(message: SmsMessage): Promise<SmsResult> {
    return this.post(message);
  }

  private async post(message: Pick<SmsMessage, 'to' | 'text' | 'outId'>): Promise<SmsResult> {
    const to = twilioRecipient(message.to);
    if (to === null) return this.fail(message, { kind: 'permanent', code: '21211', message: 'not a mainland mobile or E.164 number (checked before sending)' });
    const form = new URLSearchParams({ To: to, Body: message.text });
    if (this.settings.messagingServiceSid !== undefined) form.set('MessagingServiceSid', this.settings.messagingServiceSid);
    if (this.settings.from !== undefined) form.set('From', this.settings.from);
    if (this.settings.statusCallback !== undefined) form.set('StatusCallback', this.settings.statusCallback);
    const answer = await httpJson({
      method: 'POST',
      url: `${this.accountUrl()}/Messages.json`,
      headers: { authorization: this.authorization },
      body: { form },
      timeoutMs: this.settings.timeoutMs,
    });
    if (!answer.ok) return this.fail(message, answer.failure);
    if (answer.status >= 200 && answer.status < 300) {
      const created = TwilioMessage.safeParse(answer.json);
      if (created.success) return { ok: true, providerRef: created.data.sid };
      return this.fail(message, { kind: 'transport', code: SMS_ERROR_CODES.badResponse, message: `HTTP ${answer.status} without a message sid` });
    }
    return this.fail(message, failureOf(answer));
  }

  /** Asks for one message's status; never throws (the query's own failure is `unknown`). */
  async queryDelivery(query: DeliveryQuery): Promise<DeliveryAnswer> {
    if (!SID.test(query.providerRef)) return { state: 'unknown', code: 'TWILIO_BAD_SID', message: 'the providerRef is not a message SID' };
    const answer = await httpJson({
      method: 'GET',
      url: `${this.accountUrl()}/Messages/${query.providerRef}.json`,
      headers: { authorization: this.authorization },
      timeoutMs: this.settings.timeoutMs,
    });
    if (!answer.ok) return { state: 'unknown', code: answer.failure.code, message: answer.failure.message };
    if (answer.status < 200 || answer.status >= 300) {
      const failure = failureOf(answer);
      return { state: 'unknown', code: failure.code, message: failure.message };
    }
    const fetched = TwilioMessage.safeParse(answer.json);
    if (!fetched.success) return { state: 'unknown', code: SMS_ERROR_CODES.badResponse, message: `HTTP ${answer.status} without a message status` };
    const { status, error_code: errorCode, error_message: errorMessage } = fetched.data;
    const atMs = parseTwilioDate(fetched.data.date_updated ?? fetched.data.date_sent);
    if (DELIVERED_STATUSES.has(status)) return { state: 'delivered', atMs, detail: status };
    if (FAILED_STATUSES.has(status)) {
      const code = errorCode === null || errorCode === undefined ? `TWILIO_${status.toUpperCase()}` : String(errorCode);
      return { state: 'failed', code, message: scrubSecrets(errorMessage ?? status), atMs };
    }
    if (PENDING_STATUSES.has(status)) return { state: 'pending' };
    return { state: 'unknown', code: SMS_ERROR_CODES.badResponse, message: `unknown message status "${status.slice(0, 40)}"` };
  }

  private accountUrl(): string {
    return `${this.settings.baseUrl}/${TWILIO_API_VERSION}/Accounts/${this.settings.accountSid}`;
  }

  /** Logs a failure (phone masked) and returns it as the result. */
  private fail(message: Pick<SmsMessage, 'to' | 'outId'>, failure: ChannelFailure): SmsResult {
    this.log(`twilio sms: ${failure.code} to ${maskPhone(message.to)} (outId ${message.outId}, ${failure.kind}): ${failure.message}`);
    return { ok: false, kind: failure.kind, code: failure.code, message: failure.message };
  }
}

/** The failure an error answer (HTTP 4xx/5xx) means: Twilio's code when the body has one, else HTTP_<status>. */
function failureOf(answer: Extract<HttpJsonAnswer, { ok: true }>): ChannelFailure {
  const error = TwilioError.safeParse(answer.json);
  if (error.success) {
    const code = String(error.data.code);
    return { kind: classifyTwilioFailure(code, answer.status), code, message: scrubSecrets(`${error.data.message ?? ''} (HTTP ${answer.status})`) };
  }
  const code = `HTTP_${answer.status}`;
  const kind = classifyTwilioFailure(code, answer.status);
  const message = `HTTP ${answer.status} without an error code`;
  if (kind !== 'retryMessage') return { kind, code, message };
  // An error answer without a code we can read (a proxy's page): the transport's, as for Aliyun.
  return { kind: 'transport', code: SMS_ERROR_CODES.badResponse, message };
}

/** A mainland mobile number as +86…, an E.164 number as it is; null for anything else. */
export function twilioRecipient(to: string): string | null {
  const mainland = normalizeMainlandMobile(to);
  if (mainland !== null) return `+86${mainland}`;
  const compact = to.replace(/[\s-]/g, '');
  return E164_NUMBER.test(compact) ? compact : null;
}

/** Twilio's dates are RFC 2822 ("Thu, 03 Dec 2026 01:00:00 +0000"); null when absent or unreadable. */
function parseTwilioDate(value: string | null | undefined): number | null {
  if (value === null || value === undefined) return null;
  const ms = Date.parse(value);
  return Number.isFinite(ms) ? ms : null;
}
