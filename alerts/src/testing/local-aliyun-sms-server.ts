/**
 * A stand-in for Aliyun's SMS API (dysmsapi 2017-05-25: SendSms and
 * QuerySendDetails) on 127.0.0.1, for adapter tests, end-to-end tests and
 * benchmarks. The signature, the date window, nonces, the modes and the control
 * endpoint are those of every local Aliyun API (local-aliyun-api-server.ts).
 *
 * SendSms is checked as Aliyun checks it: the numbers, the sign name and the
 * template registered, the variables of the template, no link in a value
 * (isv.PARAM_NOT_SUPPORT_URL: a template's link must be its fixed text), the
 * variables' length. QuerySendDetails answers the receipts of the SMS it
 * accepted: by default each is delivered `deliveredAfterMs` (2 s) after it was
 * accepted, on the server's clock, and waiting (SendStatus 1) before; the
 * receipt of a number is set through the control endpoint ("delivered",
 * "pending" for ever, or "failed:<ErrCode>"), so that a test can make one SMS
 * delivered and another failed.
 *
 * Its mode plays the provider's failures: a signature error or a disabled key
 * (the key was rotated or switched off in the console), no credit, the account
 * stopped, flow control on the account, an outage (503, or the connection reset
 * without an answer); and some numbers can be made bad
 * (isv.MOBILE_NUMBER_ILLEGAL) or limited (the per-number flow control).
 */
import { maskPhone } from '@kanjia/protocol';
import { z } from 'zod';
import { aliyunDateTime, aliyunDay } from '../sms/aliyun-api-call.js';
import {
  ALIYUN_API_VERSION,
  bareNumber,
  isReply,
  LocalAliyunApiServer,
  replacePerNumber,
  LocalApiControl,
  type LocalAliyunApiServerOptions,
  type LocalApiState,
  type Reply,
  type RequestContext,
} from './local-aliyun-api-server.js';

export {
  ACS_MAX_CLOCK_SKEW_MS,
  describeRejection,
  LOCAL_SMS_CONTROL_PATH,
  LOCAL_SMS_MODES,
  type InjectedFailure,
  type LocalAliyunSmsAddress,
  type LocalSmsMode,
  type RejectedRequest,
} from './local-aliyun-api-server.js';

export const SEND_SMS_ACTION = 'SendSms';
export const QUERY_SEND_DETAILS_ACTION = 'QuerySendDetails';
export const DYSMSAPI_VERSION = ALIYUN_API_VERSION;
/** The "other" template variable types of Aliyun allow 35 characters. */
export const ALIYUN_MAX_PARAM_CHARS = 35;
/** By default an accepted SMS is delivered 2 s after it was accepted (server clock). */
export const LOCAL_SMS_DEFAULT_DELIVERED_AFTER_MS = 2_000;
/** SendSms takes at most 1000 numbers, comma-separated. */
const MAX_PHONE_NUMBERS = 1000;
/** Mainland numbers with the prefixes SendSms documents: +, +86, 0086, 86. */
const PHONE_NUMBER = /^(?:\+|\+86|0086|86)?1[3-9]\d{9}$/;
/** QuerySendDetails answers at most 50 records a page. */
const MAX_PAGE_SIZE = 50;

/** A number's receipt: delivered (after deliveredAfterMs), pending for ever, or failed with the operator's ErrCode. */
export const LocalSmsReceipt = z.union([z.literal('delivered'), z.literal('pending'), z.string().regex(/^failed:[\w.:-]{1,40}$/, 'delivered, pending or failed:<ErrCode>')]);
export type LocalSmsReceipt = z.infer<typeof LocalSmsReceipt>;

/** What the control endpoint (and setState) changes; numbers as SendSms receives them (11 digits). */
export const LocalSmsControl = LocalApiControl.extend({
  /** Number → its receipt; numbers left out are delivered. Replaces the whole map. */
  receipts: z.record(z.string().regex(/^\+?\d{5,20}$/), LocalSmsReceipt).optional(),
  /** How long after its acceptance an SMS is delivered (SendStatus 1 before). */
  deliveredAfterMs: z.number().int().min(0).max(86_400_000).optional(),
}).strict();
export type LocalSmsControl = z.infer<typeof LocalSmsControl>;

export interface LocalSmsState extends LocalApiState {
  receipts: Record<string, LocalSmsReceipt>;
  deliveredAfterMs: number;
}

export interface LocalAliyunSmsServerOptions extends LocalAliyunApiServerOptions<AcceptedSms> {
  /** Approved sign names; when given, any other is isv.SMS_SIGNATURE_ILLEGAL. */
  signNames?: readonly string[];
  /** Approved templates: code → variable names; when given, other codes are isv.SMS_TEMPLATE_ILLEGAL and missing variables isv.TEMPLATE_MISSING_PARAMETERS. */
  templates?: Readonly<Record<string, readonly string[]>>;
}

export interface AcceptedSms {
  bizId: string;
  requestId: string;
  /** As sent: one number or several separated by commas. */
  phoneNumbers: string;
  signName: string;
  templateCode: string;
  templateParam: Record<string, string>;
  outId: string | null;
  receivedAtMs: number;
}

const SPEC = { actions: new Set([SEND_SMS_ACTION, QUERY_SEND_DETAILS_ACTION]), sendingActions: new Set([SEND_SMS_ACTION]), hostId: 'dysmsapi.aliyuncs.com', noun: 'SMS' };

export class LocalAliyunSmsServer extends LocalAliyunApiServer<AcceptedSms, LocalSmsControl, LocalSmsState> {
  private bizSeq = 0;
  private readonly receipts = new Map<string, LocalSmsReceipt>();
  private deliveredAfterMs = LOCAL_SMS_DEFAULT_DELIVERED_AFTER_MS;

  constructor(protected override readonly options: LocalAliyunSmsServerOptions) {
    super({ maxParamChars: ALIYUN_MAX_PARAM_CHARS, ...options }, SPEC, LocalSmsControl);
  }

  /** Changes what `control` names (mode, bad and limited numbers, receipts, the delivery delay); what it leaves out stays. */
  setState(control: LocalSmsControl): void {
    this.setBaseState(control);
    replacePerNumber(this.receipts, control.receipts);
    if (control.deliveredAfterMs !== undefined) this.deliveredAfterMs = control.deliveredAfterMs;
  }

  state(): LocalSmsState {
    return { ...this.baseState(), receipts: Object.fromEntries(this.receipts), deliveredAfterMs: this.deliveredAfterMs };
  }

  protected resetOwn(): void {
    this.receipts.clear();
    this.deliveredAfterMs = LOCAL_SMS_DEFAULT_DELIVERED_AFTER_MS;
  }

  protected answer(action: string, params: ReadonlyMap<string, string>, ctx: RequestContext): Reply {
    return action === QUERY_SEND_DETAILS_ACTION ? this.querySendDetails(params, ctx) : this.sendSms(params, ctx);
  }

  /** SendSms' parameters. Business errors come with HTTP 200, as from Aliyun. */
  private sendSms(params: ReadonlyMap<string, string>, ctx: RequestContext): Reply {
    const phoneNumbers = params.get('PhoneNumbers') ?? '';
    const numbers = phoneNumbers.split(',').map((n) => n.trim());
    if (phoneNumbers === '' || !numbers.every((n) => PHONE_NUMBER.test(n))) return this.reject(ctx, 200, 'isv.MOBILE_NUMBER_ILLEGAL', '非法手机号');
    if (numbers.length > MAX_PHONE_NUMBERS) return this.reject(ctx, 200, 'isv.MOBILE_COUNT_OVER_LIMIT', '手机号码数量超过限制');
    const bare = numbers.map(bareNumber);
    if (bare.some((n) => this.badNumbers.has(n))) return this.reject(ctx, 200, 'isv.MOBILE_NUMBER_ILLEGAL', '非法手机号', true);
    if (bare.some((n) => this.limitedNumbers.has(n))) return this.reject(ctx, 200, 'isv.BUSINESS_LIMIT_CONTROL', '触发天级流控Permits:10', true);
    const signName = params.get('SignName') ?? '';
    if (signName === '' || (this.options.signNames !== undefined && !this.options.signNames.includes(signName))) {
      return this.reject(ctx, 200, 'isv.SMS_SIGNATURE_ILLEGAL', '该账号下找不到对应签名');
    }
    const templateCode = params.get('TemplateCode') ?? '';
    const templates = this.options.templates;
    const variables = templates === undefined ? undefined : Object.hasOwn(templates, templateCode) ? templates[templateCode] : null;
    if (templateCode === '' || variables === null) return this.reject(ctx, 200, 'isv.SMS_TEMPLATE_ILLEGAL', '该账号下找不到对应模板');
    const templateParam = this.checkTemplateParam(ctx, params.get('TemplateParam'), variables, 'isv.INVALID_JSON_PARAM');
    if (isReply(templateParam)) return templateParam;

    const sms: AcceptedSms = {
      bizId: `${String(ctx.receivedAtMs).slice(-9)}${String(++this.bizSeq).padStart(9, '0')}^0`,
      requestId: ctx.requestId,
      phoneNumbers,
      signName,
      templateCode,
      templateParam,
      outId: ctx.outId,
      receivedAtMs: ctx.receivedAtMs,
    };
    this.record(sms);
    return { status: 200, body: { Code: 'OK', Message: 'OK', BizId: sms.bizId, RequestId: ctx.requestId } };
  }

  /**
   * QuerySendDetails: the records of one number on one day (SendDate yyyyMMdd,
   * Beijing time), of one send when BizId is given, a page at a time.
   */
  private querySendDetails(params: ReadonlyMap<string, string>, ctx: RequestContext): Reply {
    const phone = params.get('PhoneNumber') ?? '';
    if (!PHONE_NUMBER.test(phone)) return this.reject(ctx, 200, 'isv.MOBILE_NUMBER_ILLEGAL', '非法手机号');
    const sendDate = params.get('SendDate') ?? '';
    if (!/^\d{8}$/.test(sendDate)) return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', 'SendDate must be yyyyMMdd');
    const pageSize = Number(params.get('PageSize'));
    const currentPage = Number(params.get('CurrentPage'));
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_PAGE_SIZE) return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', `PageSize must be 1..${MAX_PAGE_SIZE}`);
    if (!Number.isInteger(currentPage) || currentPage < 1) return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', 'CurrentPage must be 1 or more');
    const bizId = params.get('BizId');
    const number = bareNumber(phone);
    const nowMs = this.clock.nowMs();
    const records = this.acceptedList
      .filter((sms) => (bizId === undefined || bizId === '' || sms.bizId === bizId) && aliyunDay(sms.receivedAtMs) === sendDate && sms.phoneNumbers.split(',').map(bareNumber).includes(number))
      .map((sms) => this.detailOf(sms, number, nowMs));
    const page = records.slice((currentPage - 1) * pageSize, currentPage * pageSize);
    return { status: 200, body: { Code: 'OK', Message: 'OK', RequestId: ctx.requestId, TotalCount: String(records.length), SmsSendDetailDTOs: { SmsSendDetailDTO: page } } };
  }

  /** One SmsSendDetailDTO as Aliyun writes it: SendStatus 1 waiting, 2 failed, 3 delivered. */
  private detailOf(sms: AcceptedSms, number: string, nowMs: number): Record<string, unknown> {
    const receipt = this.receipts.get(number) ?? 'delivered';
    const settledAtMs = sms.receivedAtMs + this.deliveredAfterMs;
    const settled = receipt !== 'pending' && nowMs >= settledAtMs;
    const failedCode = receipt.startsWith('failed:') ? receipt.slice('failed:'.length) : null;
    return {
      PhoneNum: number,
      SendStatus: !settled ? 1 : failedCode !== null ? 2 : 3,
      ErrCode: !settled ? '' : (failedCode ?? 'DELIVERED'),
      TemplateCode: sms.templateCode,
      Content: `【${sms.signName}】${Object.values(sms.templateParam).join('，')}`,
      SendDate: aliyunDateTime(sms.receivedAtMs),
      ReceiveDate: settled ? aliyunDateTime(settledAtMs) : '',
      OutId: sms.outId ?? '',
    };
  }
}

/** The accepted SMS with its phone numbers masked, for logs. */
export function maskAcceptedSms(sms: AcceptedSms): AcceptedSms {
  return { ...sms, phoneNumbers: sms.phoneNumbers.split(',').map((n) => maskPhone(n.trim())).join(',') };
}
