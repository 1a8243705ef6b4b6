/**
 * What each answer of Aliyun's voice service (Dyvmsapi 2017-05-25) means for the
 * outbox, and what a call's state code in QueryCallDetailByCallId means for the
 * notice's delivery.
 *
 * Sources: "API错误码" of the voice service (help.aliyun.com/document_detail/178344,
 * help.aliyun.com/zh/vms/the-error-code-list), "运营商回执错误码"
 * (help.aliyun.com/document_detail/55085) for the call states, "呼叫状态码"
 * (help.aliyun.com/document_detail/112804) for the states of a call under way.
 * The OpenAPI codes (signature, key, throttling, the endpoint) and most isv.*
 * codes are the same as the SMS service's: they are classified by
 * classifyAliyunFailure, and only the voice service's own codes are listed here.
 */
import { classifyAliyunFailure } from '../sms/aliyun-error-codes.js';
import type { SmsFailureKind } from '../sms/sms-sender.js';

/**
 * Codes of the voice service's flow control and call restrictions, about this
 * number and this route only: never retried as they are, the notice moves to its
 * next channel (an SMS still reaches the phone).
 * - isv.BUSINESS_LIMIT_CONTROL: per called number, for one "资质+用途", 1 call a
 *   minute, 5 an hour, 20 in 24 hours (document_detail/178344);
 * - isv.VOICE_ROBOT_NOT_PERIOD: the call falls in a period in which calls are not
 *   allowed (发送时间不能在限制时段内);
 * - isv.COMPLAINT_REJECT: the anti-harassment interception of the operator (防骚扰拦截).
 */
export const ALIYUN_VOICE_LIMITED_CODES: ReadonlySet<string> = new Set(['isv.BUSINESS_LIMIT_CONTROL', 'isv.VOICE_ROBOT_NOT_PERIOD', 'isv.COMPLAINT_REJECT']);

/** Codes about the deployment's voice setup (its TTS templates, its display number, its billing account): every call would fail so. */
export const ALIYUN_VOICE_ACCOUNT_CODES: ReadonlySet<string> = new Set([
  'isv.TTS_TEMPLATE_ILLEGAL', // TTS模板不合法: not registered, or not approved
  'isv.TEMPLATE_ILLEGAL', // 模板非法或不存在
  'isv.VOICE_FILE_ILLEGAL', // 语音文件不合法
  'isv.DISPLAY_NUMBER_ILLEGAL', // 号显不合法: the display number (CalledShowNumber) is not ours or not usable
  'isv.BILLID_NOT_EXIST', // 计费账号不存在: the display number does not belong to this account
  'isv.VOICE_CALL_PERIOD_ERROR', // 获取语音呼叫时段失败
]);

/** Codes about this one call that may go through later. */
export const ALIYUN_VOICE_RETRY_MESSAGE_CODES: ReadonlySet<string> = new Set(['isv.VOICE_CALL_FAIL']);

/** The kind of an Aliyun voice failure `code` answered with HTTP `httpStatus` (200 for business errors). */
export function classifyAliyunVoiceFailure(code: string, httpStatus: number): SmsFailureKind {
  if (ALIYUN_VOICE_LIMITED_CODES.has(code)) return 'limited';
  if (ALIYUN_VOICE_ACCOUNT_CODES.has(code)) return 'account';
  if (ALIYUN_VOICE_RETRY_MESSAGE_CODES.has(code)) return 'retryMessage';
  return classifyAliyunFailure(code, httpStatus);
}

/** Product id of the voice notification (语音通知) in QueryCallDetailByCallId (help.aliyun.com/document_detail/393529). */
export const ALIYUN_VOICE_NOTIFICATION_PROD_ID = 11000000300006;

/** Call states that say the helper answered: 200000 heard the message to its end, 200001 answered and hung up before its end. */
export const ALIYUN_CALL_ANSWERED_STATES: ReadonlyMap<string, string> = new Map([
  ['200000', '用户听完语音'],
  ['200001', '用户提前挂机未完整收听'],
]);

/** States of a call still under way: ask again later (呼叫状态码, 单呼呼叫中间状态码). */
export const ALIYUN_CALL_UNDER_WAY_STATES: ReadonlySet<string> = new Set(['200101', '200201', '200102']);

/** Final states of a call that did not reach the helper (运营商回执错误码). */
export const ALIYUN_CALL_FAILED_STATES: ReadonlyMap<string, string> = new Map([
  ['200002', '用户占线'],
  ['200003', '用户收到呼叫但未接听'],
  ['200004', '用户号码不合法'],
  ['200005', '被叫用户无法接通'],
  ['200006', '语音播放失败'],
  ['200007', '用户无法接通（不在服务区）'],
  ['200010', '关机'],
  ['200011', '停机'],
  ['200012', '呼损'],
  ['200117', '来电显示号码不合法'],
  ['200118', '供应商时间段限呼'],
  ['200119', '供应商超频限呼'],
  ['200121', '呼叫超并发'],
  ['999999', '系统错误'],
  ['500', '运营商错误'],
  ['400', '网元繁忙'],
  ['482', '被叫号码不可用'],
  ['476', '号码强制回收'],
]);

/**
 * What a call's `state` says about the notice: answered (delivered), under way or
 * unknown to us (pending: ask again), or a final state that did not reach the
 * helper (failed, with the state as the code).
 */
export function callStateOutcome(state: string): 'delivered' | 'pending' | 'failed' {
  if (ALIYUN_CALL_ANSWERED_STATES.has(state)) return 'delivered';
  if (ALIYUN_CALL_FAILED_STATES.has(state)) return 'failed';
  return 'pending';
}
