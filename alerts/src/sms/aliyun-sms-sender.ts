/**
 * Sends SMS through Aliyun's SendSms API (dysmsapi 2017-05-25) with the official
 * SDK, which signs with ACS3-HMAC-SHA256. `endpoint` and `protocol` are settings
 * so the local server in src/testing can stand in for Aliyun.
 *
 * Aliyun answers business errors (isv.*) with HTTP 200 and a Code in the body,
 * and authentication errors with HTTP 4xx, which the SDK throws as ClientError;
 * both are mapped to the same stable codes here, each with its kind
 * (aliyun-error-codes.ts): a verdict on the message or an outage of the channel.
 */
import DysmsapiModule, { QuerySendDetailsRequest, SendSmsRequest } from '@alicloud/dysmsapi20170525';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import { ALARM_KINDS, maskPhone } from '@kanjia/protocol';
import { SMS_KIND_TEMPLATES, SMS_PARAM_MAX_CHARS, SMS_TEMPLATES, truncateSmsParam } from '../messages/sms-templates.js';
import { ALIYUN_LIMITED_CODES, classifyAliyunFailure } from './aliyun-error-codes.js';
import {
  isKindTemplateKey,
  normalizeMainlandMobile,
  SMS_ERROR_CODES,
  SMS_TEMPLATE_KEYS,
  type SmsFailureKind,
  type SmsKindTemplateKey,
  type SmsMessage,
  type SmsResult,
  type SmsSender,
  type SmsTemplateKey,
} from './sms-sender.js';
import type { DeliveryAnswer, DeliveryQuery, NoticeChannel } from '../channels/channel.js';
import { SMS_NOTICE_KEYS, type SmsNotice, type SmsNoticeKey, type SmsNoticeSender } from './sms-notices.js';
import {
  aliyunDay,
  aliyunRuntime,
  classifyThrown,
  parseAliyunDateTime,
  scrubProviderText as scrub,
  sdkClientClass,
  sendWithGenericFallback,
  withDeadline,
  type AliyunAttempt,
  type AliyunFailure as Failure,
} from './aliyun-api-call.js';

/**
 * Approved template codes (e.g. SMS_123456789): the generic template of each
 * role is required; a kind's own template (`alarm.co`, `escalation.fall`, …)
 * is used for that kind when its code is given.
 */
export type AliyunTemplateCodes = Readonly<Record<SmsTemplateKey, string>> & Readonly<Partial<Record<SmsKindTemplateKey, string>>>;

export interface AliyunSmsSettings {
  accessKeyId: string;
  accessKeySecret: string;
  /** Approved sign name (短信签名), shown by the phone in 【】. */
  signName: string;
  /** Approved template code of each registered template: both generic ones, and any per-kind ones. */
  templateCodes: AliyunTemplateCodes;
  /** Approved template codes of the notices that are not about a case (sms-notices.ts); a notice without one is not sent. */
  noticeTemplateCodes?: Readonly<Partial<Record<SmsNoticeKey, string>>>;
  /** Host[:port] of the API; default dysmsapi.aliyuncs.com. */
  endpoint?: string;
  /** Default https; http only for a local stand-in. */
  protocol?: 'https' | 'http';
  /** Deadline for one SendSms call, connection and answer included; default 5000 ms (Aliyun advises at least 1 s). */
  timeoutMs?: number;
}

export interface AliyunSmsSenderOptions {
  /** Where failures are reported, one line each, phone masked; default stderr. */
  log?: (line: string) => void;
}

export const ALIYUN_DEFAULT_ENDPOINT = 'dysmsapi.aliyuncs.com';
export const ALIYUN_DEFAULT_TIMEOUT_MS = 5_000;

type DysmsapiClientClass = typeof DysmsapiModule.default;
type DysmsapiClient = InstanceType<DysmsapiClientClass>;

function dysmsapiClientClass(): DysmsapiClientClass {
  return sdkClientClass<DysmsapiClientClass>(DysmsapiModule, '@alicloud/dysmsapi20170525');
}

export class AliyunSmsSender implements NoticeChannel, SmsNoticeSender {
  readonly name = 'aliyun';
  readonly medium = 'sms' as const;
  private readonly client: DysmsapiClient;
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;

  constructor(
    private readonly settings: AliyunSmsSettings,
    options: AliyunSmsSenderOptions = {},
  ) {
    const problems = settingsProblems(settings);
    if (problems.length > 0) throw new Error(`AliyunSmsSender: bad settings:\n- ${problems.join('\n- ')}`);
    this.timeoutMs = settings.timeoutMs ?? ALIYUN_DEFAULT_TIMEOUT_MS;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    const Client = dysmsapiClientClass();
    this.client = new Client(
      new $OpenApiUtil.Config({
        accessKeyId: settings.accessKeyId,
        accessKeySecret: settings.accessKeySecret,
        endpoint: settings.endpoint ?? ALIYUN_DEFAULT_ENDPOINT,
        protocol: settings.protocol ?? 'https',
        connectTimeout: this.timeoutMs,
        readTimeout: this.timeoutMs,
      }),
    );
  }

  /**
   * Sends one SMS; returns ok:false with a stable code for every provider or network failure.
   * A kind's own template that Aliyun does not know or whose variables do not match is a
   * setup mistake of that one template: the SMS goes with the generic template instead
   * (logged), rather than that kind's alarms being refused one after the other.
   */
  async send(message: SmsMessage): Promise<SmsResult> {
    const phone = normalizeMainlandMobile(message.to);
    if (phone === null) {
      return this.fail(message, message.template, { kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: 'not a mainland mobile number (checked before sending)' });
    }
    return sendWithGenericFallback({
      picked: this.pickTemplate(message),
      noTemplate: { role: message.template, failure: { kind: 'permanent', code: SMS_ERROR_CODES.unknownTemplate, message: `no Aliyun template code for "${message.template}"` } },
      generic: () => this.genericTemplate(message),
      attempt: (template) => this.sendWith(message, phone, template),
      // Flow control counts per number, sign and template: the generic template is another allowance.
      fallbackCodes: KIND_TEMPLATE_OR_LIMIT_FALLBACK_CODES,
      onFallback: (kindOwn, code, generic) =>
        this.log(
          ALIYUN_LIMITED_CODES.has(code)
            ? `aliyun sms: the template ${kindOwn.key} (${kindOwn.templateCode}) hit the provider's flow control for this number (${code}): outId ${message.outId} goes with the generic template ${generic.key} instead`
            : `aliyun sms: the template ${kindOwn.key} (${kindOwn.templateCode}) was refused with ${code}: outId ${message.outId} goes with the generic template ${generic.key} instead; fix its code in KANJIA_ALIYUN_TEMPLATE_CODES (docs/sms-templates.md)`,
        ),
      fail: (template, failure) => this.fail(message, template, failure),
    });
  }

  /** Whether the notice's template code is configured (KANJIA_ALIYUN_TEMPLATE_VISIT_REMINDER). */
  canSendNotice(template: SmsNoticeKey): boolean {
    return Boolean(this.settings.noticeTemplateCodes?.[template]);
  }

  /** Sends one notice with its own registered template (no generic fallback: an alarm template would say the wrong thing). */
  async sendNotice(notice: SmsNotice): Promise<SmsResult> {
    const phone = normalizeMainlandMobile(notice.to);
    if (phone === null) return this.fail(notice, notice.template, { kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: 'not a mainland mobile number (checked before sending)' });
    const templateCode = this.settings.noticeTemplateCodes?.[notice.template];
    if (!templateCode) return this.fail(notice, notice.template, { kind: 'permanent', code: SMS_ERROR_CODES.unknownTemplate, message: `no Aliyun template code for "${notice.template}"` });
    const result = await this.sendWith(notice, phone, { key: notice.template, templateCode, variables: Object.keys(notice.params) });
    return result.ok ? result : this.fail(notice, notice.template, result);
  }

  /** One SendSms call with the template `picked`; a failure is returned unlogged. */
  private async sendWith(message: Pick<SmsMessage, 'params' | 'outId'>, phone: string, picked: PickedTemplate): Promise<AliyunAttempt> {
    const { templateCode, variables } = picked;
    // Exactly the variables of the template picked: a per-kind template has fewer than the generic one.
    const params: Record<string, string> = {};
    for (const variable of variables) {
      const value = message.params[variable];
      if (value !== undefined) params[variable] = truncateSmsParam(value, SMS_PARAM_MAX_CHARS);
    }
    const failed = (failure: Failure) => ({ ok: false as const, ...failure });
    try {
      const request = new SendSmsRequest({
        phoneNumbers: phone,
        signName: this.settings.signName,
        templateCode,
        templateParam: JSON.stringify(params),
        outId: message.outId,
      });
      // The SDK retries nothing (the outbox does, with backoff). SendSms is not idempotent, so
      // the retry after a timeout may text twice: for an alarm, better twice than never.
      const response = await withDeadline(this.client.sendSmsWithOptions(request, aliyunRuntime(this.timeoutMs)), this.timeoutMs);
      if (response === 'timeout') return failed({ kind: 'transport', code: SMS_ERROR_CODES.timeout, message: `no answer from Aliyun within ${this.timeoutMs} ms` });
      const body = response.body;
      const code = body?.code;
      if (code === 'OK') return { ok: true, providerRef: body?.bizId ?? null };
      if (typeof code !== 'string' || code === '') {
        return failed({ kind: 'transport', code: SMS_ERROR_CODES.badResponse, message: `answer without a Code (HTTP ${response.statusCode ?? 'status unknown'})` });
      }
      return failed({
        kind: classifyAliyunFailure(code, response.statusCode ?? 200),
        code,
        message: scrub(`${body?.message ?? ''} (request id ${body?.requestId ?? 'unknown'})`),
      });
    } catch (err) {
      return failed(classifyThrown(err, classifyAliyunFailure));
    }
  }

  /**
   * The handset's receipt of one SMS, by QuerySendDetails (PhoneNumber, BizId and the
   * day it was sent, Beijing time): SendStatus 3 delivered (ReceiveDate), 2 failed
   * (ErrCode, the operator's state code such as MK:0001 or a switched-off handset's),
   * 1 waiting for the receipt. No record yet is pending too: Aliyun's records trail
   * the send by a few seconds. Never throws: a failed query is `unknown`.
   */
  async queryDelivery(query: DeliveryQuery): Promise<DeliveryAnswer> {
    const phone = normalizeMainlandMobile(query.to);
    if (phone === null) return { state: 'unknown', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: 'not a mainland mobile number' };
    try {
      const request = new QuerySendDetailsRequest({ phoneNumber: phone, bizId: query.providerRef, sendDate: aliyunDay(query.sentAtMs), pageSize: 10, currentPage: 1 });
      const response = await withDeadline(this.client.querySendDetailsWithOptions(request, aliyunRuntime(this.timeoutMs)), this.timeoutMs);
      if (response === 'timeout') return { state: 'unknown', code: SMS_ERROR_CODES.timeout, message: `no answer from Aliyun within ${this.timeoutMs} ms` };
      const body = response.body;
      if (body?.code !== 'OK') {
        return { state: 'unknown', code: typeof body?.code === 'string' && body.code !== '' ? body.code : SMS_ERROR_CODES.badResponse, message: scrub(body?.message ?? 'answer without a Code') };
      }
      const details = body.smsSendDetailDTOs?.smsSendDetailDTO ?? [];
      const detail = details.find((d) => d.outId === query.outId) ?? details[0];
      if (detail === undefined) return { state: 'pending' };
      const atMs = parseAliyunDateTime(detail.receiveDate);
      if (detail.sendStatus === 3) return { state: 'delivered', atMs, ...(detail.errCode ? { detail: detail.errCode } : {}) };
      if (detail.sendStatus === 2) {
        const code = detail.errCode || 'UNKNOWN';
        return { state: 'failed', code, message: `the handset did not receive the SMS (${code})`, atMs };
      }
      return { state: 'pending' };
    } catch (err) {
      const failure = classifyThrown(err, classifyAliyunFailure);
      return { state: 'unknown', code: failure.code, message: failure.message };
    }
  }

  /** The role's generic template (every account registers it). */
  private genericTemplate(message: SmsMessage): PickedTemplate | undefined {
    if (!(SMS_TEMPLATE_KEYS as readonly string[]).includes(message.template)) return undefined;
    const templateCode = this.settings.templateCodes[message.template];
    if (templateCode === undefined) return undefined;
    return { key: message.template, templateCode, variables: SMS_TEMPLATES[message.template].variables };
  }

  /**
   * The kind's own template when its code is configured, else the role's generic one;
   * undefined for an unknown role. A bundle (several alarms in one SMS) is always the
   * generic one: only its variables can name several kinds.
   */
  private pickTemplate(message: SmsMessage): PickedTemplate | undefined {
    if (message.bundled !== undefined) return this.genericTemplate(message);
    const kindKey = `${message.template}.${message.kind}`;
    if (isKindTemplateKey(kindKey)) {
      const templateCode = this.settings.templateCodes[kindKey];
      if (templateCode !== undefined) return { key: kindKey, templateCode, variables: SMS_KIND_TEMPLATES[kindKey].variables };
    }
    return this.genericTemplate(message);
  }

  /** Logs a failure (phone masked) with the template it was sent with, and returns it as the result. */
  private fail(message: Pick<SmsMessage, 'to' | 'outId'>, template: string, failure: Failure): SmsResult {
    this.log(
      `aliyun sms: ${failure.code} to ${maskPhone(message.to)} (outId ${message.outId}, template ${template}, ${failure.kind}): ${failure.message}`,
    );
    return { ok: false, kind: failure.kind, code: failure.code, message: failure.message };
  }
}

interface PickedTemplate {
  key: string;
  templateCode: string;
  variables: readonly string[];
}

/**
 * Answers to a kind's own template that say the template, not the message, is wrong
 * (not registered or not approved; its variables not those we send): the generic one is used.
 */
const KIND_TEMPLATE_FALLBACK_CODES: ReadonlySet<string> = new Set(['isv.SMS_TEMPLATE_ILLEGAL', 'isv.TEMPLATE_MISSING_PARAMETERS']);
/** …and the provider's flow control, which counts per template: the generic one may still have room. */
const KIND_TEMPLATE_OR_LIMIT_FALLBACK_CODES: ReadonlySet<string> = new Set([...KIND_TEMPLATE_FALLBACK_CODES, ...ALIYUN_LIMITED_CODES]);

function settingsProblems(settings: AliyunSmsSettings): string[] {
  const problems: string[] = [];
  if (!settings.accessKeyId) problems.push('accessKeyId: required');
  if (!settings.accessKeySecret) problems.push('accessKeySecret: required');
  if (!settings.signName) problems.push('signName: required (the approved 短信签名)');
  for (const key of SMS_TEMPLATE_KEYS) {
    if (!settings.templateCodes?.[key]) problems.push(`templateCodes.${key}: required (an approved template code such as SMS_123456789)`);
  }
  for (const [key, code] of Object.entries(settings.templateCodes ?? {})) {
    if ((SMS_TEMPLATE_KEYS as readonly string[]).includes(key)) continue;
    if (!isKindTemplateKey(key)) {
      problems.push(`templateCodes.${key}: unknown template (alarm, escalation, or a role and an alarm kind such as alarm.co; kinds: ${ALARM_KINDS.join(', ')})`);
    } else if (code !== undefined && (typeof code !== 'string' || code === '')) {
      problems.push(`templateCodes.${key}: an approved template code such as SMS_123456789, or leave the key out`);
    }
  }
  for (const [key, code] of Object.entries(settings.noticeTemplateCodes ?? {})) {
    if (!(SMS_NOTICE_KEYS as readonly string[]).includes(key)) problems.push(`noticeTemplateCodes.${key}: unknown notice (${SMS_NOTICE_KEYS.join(', ')})`);
    else if (code !== undefined && (typeof code !== 'string' || code === '')) problems.push(`noticeTemplateCodes.${key}: an approved template code such as SMS_123456789, or leave the key out`);
  }
  if (settings.protocol !== undefined && settings.protocol !== 'https' && settings.protocol !== 'http') problems.push('protocol: https or http');
  if (settings.timeoutMs !== undefined && !(Number.isFinite(settings.timeoutMs) && settings.timeoutMs > 0)) problems.push('timeoutMs: a positive number of milliseconds');
  if (settings.endpoint !== undefined && !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(settings.endpoint)) problems.push('endpoint: host or host:port, without scheme or path');
  return problems;
}
