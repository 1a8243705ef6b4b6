/**
 * Every Aliyun SendSms answer we know, and our own codes, sorted into what the
 * outbox does with it: a verdict on one message (permanent, or retry this one
 * later) or an outage of the channel (account, transport).
 */
import { describe, expect, it } from 'vitest';
import {
  ALIYUN_ACCOUNT_CODES,
  ALIYUN_PERMANENT_CODES,
  ALIYUN_RETRY_MESSAGE_CODES,
  ALIYUN_TRANSPORT_CODES,
  classifyAliyunFailure,
} from '../src/sms/aliyun-error-codes.js';
import { isOutageKind, SMS_ERROR_CODES } from '../src/sms/sms-sender.js';

describe('classifyAliyunFailure', () => {
  it.each([
    // A bad number or a bad variable: this message, and the chain moves on.
    ['isv.MOBILE_NUMBER_ILLEGAL', 200, 'permanent'],
    ['isv.MOBILE_COUNT_OVER_LIMIT', 200, 'permanent'],
    ['isv.SMS_TEST_NUMBER_LIMIT', 200, 'permanent'],
    ['isv.BLACK_KEY_CONTROL_LIMIT', 200, 'permanent'],
    ['isv.INVALID_PARAMETERS', 200, 'permanent'],
    ['isv.PARAM_LENGTH_LIMIT', 200, 'permanent'],
    ['isv.PARAM_NOT_SUPPORT_URL', 200, 'permanent'],
    ['isv.TEMPLATE_MISSING_PARAMETERS', 200, 'permanent'],
    ['isv.TEMPLATE_PARAMS_ILLEGAL', 200, 'permanent'],
    ['isv.INVALID_JSON_PARAM', 200, 'permanent'],
    ['isv.SMS_CONTENT_ILLEGAL', 200, 'permanent'],
    ['InvalidParameter', 400, 'permanent'],
    [SMS_ERROR_CODES.unknownTemplate, 0, 'permanent'],
    // The account: signature, key, sign name, template, money, quota, API rate.
    ['SignatureDoesNotMatch', 400, 'account'],
    ['IncompleteSignature', 400, 'account'],
    ['InvalidAccessKeyId.NotFound', 404, 'account'],
    ['InvalidAccessKeyId.Inactive', 400, 'account'],
    ['Forbidden.RAM', 403, 'account'],
    ['Forbidden.SomethingNew', 403, 'account'],
    ['isp.RAM_PERMISSION_DENY', 200, 'account'],
    ['InvalidTimeStamp.Expired', 400, 'account'],
    ['isv.SMS_SIGNATURE_ILLEGAL', 200, 'account'],
    ['isv.SMS_SIGN_ILLEGAL', 200, 'account'],
    ['isv.SIGN_STATE_ILLEGAL', 200, 'account'],
    ['isv.SMS_SIGNATURE_SCENE_ILLEGAL', 200, 'account'],
    ['isv.SMS_TEMPLATE_ILLEGAL', 200, 'account'],
    ['isv.AMOUNT_NOT_ENOUGH', 200, 'account'],
    ['isv.OUT_OF_SERVICE', 200, 'account'],
    ['isv.ACCOUNT_NOT_EXISTS', 200, 'account'],
    ['isv.ACCOUNT_ABNORMAL', 200, 'account'],
    ['isv.PRODUCT_UN_SUBSCRIPT', 200, 'account'],
    ['isv.DENY_IP_RANGE', 200, 'account'],
    ['isv.DAY_LIMIT_CONTROL', 200, 'account'],
    ['isv.MONTH_LIMIT_CONTROL', 200, 'account'],
    ['Throttling', 400, 'account'],
    ['Throttling.User', 400, 'account'],
    ['Throttling', 503, 'account'],
    ['InvalidAction.NotFound', 404, 'account'],
    // The provider broken or out of reach.
    ['isp.SYSTEM_ERROR', 200, 'transport'],
    ['ServiceUnavailable', 503, 'transport'],
    ['InternalError', 500, 'transport'],
    ['SomethingNew', 502, 'transport'],
    ['HTTP_503', 503, 'transport'],
    [SMS_ERROR_CODES.timeout, 0, 'transport'],
    [SMS_ERROR_CODES.network, 0, 'transport'],
    [SMS_ERROR_CODES.badResponse, 200, 'transport'],
    // This one message, later: the limit of SMS to one number, a used nonce, anything unknown below 500.
    ['isv.BUSINESS_LIMIT_CONTROL', 200, 'limited'],
    ['SignatureNonceUsed', 400, 'retryMessage'],
    ['isv.SOMETHING_NEW', 200, 'retryMessage'],
    ['SomethingNew', 403, 'retryMessage'],
  ] as const)('%s (HTTP %i) → %s', (code, status, kind) => {
    expect(classifyAliyunFailure(code, status)).toBe(kind);
  });

  it('puts no code in two lists, and every listed code gets the kind of its list', () => {
    const lists = [
      [ALIYUN_PERMANENT_CODES, 'permanent'],
      [ALIYUN_ACCOUNT_CODES, 'account'],
      [ALIYUN_TRANSPORT_CODES, 'transport'],
      [ALIYUN_RETRY_MESSAGE_CODES, 'retryMessage'],
    ] as const;
    const seen = new Map<string, string>();
    for (const [codes, kind] of lists) {
      for (const code of codes) {
        expect(seen.get(code), `${code} is listed as ${seen.get(code)} and ${kind}`).toBeUndefined();
        seen.set(code, kind);
        // The HTTP status Aliyun would send does not change a known code's kind.
        for (const status of [200, 400, 500]) expect(classifyAliyunFailure(code, status), `${code} (HTTP ${status})`).toBe(kind);
      }
    }
  });

  it('calls account and transport failures outages, and the per-message kinds not', () => {
    expect(['permanent', 'retryMessage', 'account', 'transport'].map((k) => isOutageKind(k as never))).toEqual([false, false, true, true]);
  });
});
