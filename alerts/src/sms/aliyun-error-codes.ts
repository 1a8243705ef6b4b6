/**
 * What each answer of Aliyun's SendSms (dysmsapi 2017-05-25) means for the
 * outbox: a verdict on one message, or an outage of the whole channel.
 *
 * Sources: Aliyun SMS "API错误码" (help.aliyun.com/document_detail/101346,
 * "国内消息API错误码"), the OpenAPI common error codes (signature, access key,
 * throttling) and what the SDK throws for network failures. Aliyun answers
 * business errors (isv.*, isp.*) with HTTP 200 and a Code in the body, and
 * authentication and rate-limit errors with HTTP 4xx.
 *
 * The rule of thumb: a code that names something about *this message* (its
 * number, its variables, its words) is a verdict on the message; a code that
 * names the account, its key, its sign name or template, its money or its
 * quota would answer every message the same way, so it is an outage; a
 * provider that does not answer properly is an outage of the transport.
 */
import { SMS_ERROR_CODES, type SmsFailureKind } from './sms-sender.js';

/** Codes that condemn one message: fail it, and let the escalation move on to the next contact. */
export const ALIYUN_PERMANENT_CODES: ReadonlySet<string> = new Set([
  // The number
  'isv.MOBILE_NUMBER_ILLEGAL', // 非法手机号
  'isv.MOBILE_COUNT_OVER_LIMIT', // 手机号码数量超过限制 (more than 1000 in one call)
  'isv.SMS_TEST_NUMBER_LIMIT', // 只能向已回复授权信息的手机号发送 (a test template to a number that did not opt in)
  // The variables and the words of this message
  'isv.TEMPLATE_MISSING_PARAMETERS', // 模板缺少变量
  'isv.TEMPLATE_PARAMS_ILLEGAL', // 模板变量里包含非法关键字
  'isv.INVALID_JSON_PARAM', // JSON参数不合法，只接受字符串值
  'isv.INVALID_PARAMETERS', // 参数异常
  'isv.PARAM_LENGTH_LIMIT', // 参数超出长度限制
  'isv.PARAM_NOT_SUPPORT_URL', // 不支持URL
  'isv.BLACK_KEY_CONTROL_LIMIT', // 黑名单管控: a variable holds words that may not be sent
  'isv.SMS_CONTENT_ILLEGAL', // 短信内容包含禁止发送内容
  'InvalidParameter',
  'MissingParameter',
  'RequestTooLarge',
  // Ours: the message names a role the sender has no template for.
  SMS_ERROR_CODES.unknownTemplate,
]);

/** Codes that refuse the account: every message would get the same answer until the operator fixes it. */
export const ALIYUN_ACCOUNT_CODES: ReadonlySet<string> = new Set([
  // Money and the account
  'isv.AMOUNT_NOT_ENOUGH', // 账户余额不足
  'isv.OUT_OF_SERVICE', // 业务停机 (balance below zero: even a package's SMS cannot go)
  'isv.ACCOUNT_NOT_EXISTS', // 账户不存在
  'isv.ACCOUNT_ABNORMAL', // 账户异常
  'Account.Abnormal',
  'isv.PRODUCT_UN_SUBSCRIPT', // 未开通云通信产品
  'isv.PRODUCT_UNSUBSCRIBE', // 产品未开通
  'isv.DENY_IP_RANGE', // 源IP地址所在的地区被禁用
  // The account's own quota (set in the console) and the API's rate limit
  'isv.DAY_LIMIT_CONTROL', // 触发日发送限额
  'isv.MONTH_LIMIT_CONTROL', // 触发月发送限额
  'Throttling',
  'Throttling.User',
  'Throttling.Api',
  'Throttling.Tenant',
  // The sign name and the templates registered for this deployment
  'isv.SMS_SIGNATURE_ILLEGAL', // 该账号下找不到对应签名
  'isv.SMS_SIGN_ILLEGAL', // 签名禁止使用
  'isv.SIGN_STATE_ILLEGAL', // 签名状态为“不可用”
  'isv.SMS_SIGNATURE_SCENE_ILLEGAL', // 签名和模板类型不一致
  'isv.SMS_TEMPLATE_ILLEGAL', // 该账号下找不到对应模板
  'isv.EXTEND_CODE_ERROR', // 扩展码使用错误
  'isv.DOMESTIC_NUMBER_NOT_SUPPORTED', // an international template configured for mainland numbers
  // The access key: wrong, disabled, not allowed, or our clock is off
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'InvalidAccessKeyId',
  'InvalidAccessKeyId.NotFound',
  'InvalidAccessKeyId.Inactive', // a disabled key
  'InvalidAccessKeySecret',
  'Forbidden',
  'Forbidden.RAM',
  'Forbidden.AccessKeyDisabled',
  'isp.RAM_PERMISSION_DENY', // RAM权限不足
  'InvalidTimeStamp.Expired',
  'InvalidTimeStamp.Format',
  // The endpoint is not Aliyun's SMS API (a wrong KANJIA_ALIYUN_ENDPOINT)
  'InvalidAction.NotFound',
  'InvalidVersion',
  'UnsupportedHTTPMethod',
]);

/** Families of OpenAPI codes about the caller (throttling, permissions, the key, the clock): every sub-code is the account's. */
const ACCOUNT_PREFIXES: readonly string[] = ['Throttling.', 'Forbidden.', 'InvalidAccessKeyId.', 'InvalidTimeStamp.'];

/** The provider itself is broken: an outage of the transport. */
export const ALIYUN_TRANSPORT_CODES: ReadonlySet<string> = new Set([
  'isp.SYSTEM_ERROR', // 系统错误
  'isp.GATEWAY_ERROR',
  'ServiceUnavailable',
  'InternalError',
  SMS_ERROR_CODES.timeout,
  SMS_ERROR_CODES.network,
  SMS_ERROR_CODES.badResponse,
]);

/**
 * Codes about this one message that may go through later: SignatureNonceUsed
 * is answered afresh with a new nonce.
 */
export const ALIYUN_RETRY_MESSAGE_CODES: ReadonlySet<string> = new Set(['SignatureNonceUsed']);

/**
 * The provider's flow control for this number, sign name and template:
 * isv.BUSINESS_LIMIT_CONTROL is Aliyun's limit of SMS to one number (by default
 * 1 a minute, 5 an hour, 10 a day for verification codes, 50 a day per number,
 * sign and template for notices: "触发天级流控Permits:50"). Sending the same
 * again only spends what is left of the allowance, so it is never retried as
 * it is: the sender tries its other template, and the outbox moves the notice
 * to its next channel (SmsFailureKind `limited`).
 */
export const ALIYUN_LIMITED_CODES: ReadonlySet<string> = new Set(['isv.BUSINESS_LIMIT_CONTROL']);

/**
 * The kind of an Aliyun failure `code` answered with HTTP `httpStatus`
 * (200 for business errors). An unknown code: 5xx is the transport, anything
 * else this message (retried, attempts counted, and taken as an outage once it
 * is answered for several numbers in a row).
 */
export function classifyAliyunFailure(code: string, httpStatus: number): SmsFailureKind {
  if (ALIYUN_PERMANENT_CODES.has(code)) return 'permanent';
  if (ALIYUN_ACCOUNT_CODES.has(code) || ACCOUNT_PREFIXES.some((prefix) => code.startsWith(prefix))) return 'account';
  if (ALIYUN_TRANSPORT_CODES.has(code)) return 'transport';
  if (ALIYUN_LIMITED_CODES.has(code)) return 'limited';
  if (ALIYUN_RETRY_MESSAGE_CODES.has(code)) return 'retryMessage';
  if (httpStatus >= 500) return 'transport';
  return 'retryMessage';
}
