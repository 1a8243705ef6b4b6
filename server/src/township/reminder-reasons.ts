/**
 * Why a visit reminder did not go, in terms the township office acts on
 * (phone the helper whose number is refused; tell the operator about the
 * account), from the provider's code kept on the row. The row keeps the code,
 * not the failure's kind, so the code is sorted again here by the providers'
 * own tables (alerts/src/sms/*-error-codes.ts): Twilio's codes are numbers,
 * Aliyun's and ours (SMS_TIMEOUT, …) are names.
 */
import { classifyAliyunFailure, classifyTwilioFailure, SMS_ERROR_CODES, type SmsFailureKind } from '@kanjia/alerts';
import type { ReminderFailureReason } from '@kanjia/protocol';

/** The codes that say the number itself is refused (not the words of the message). */
const BAD_NUMBER_CODES: ReadonlySet<string> = new Set([
  'isv.MOBILE_NUMBER_ILLEGAL', // 非法手机号
  'isv.SMS_TEST_NUMBER_LIMIT', // a test template to a number that did not opt in
  '21211', // Invalid 'To' Phone Number
  '21614', // 'To' number is not a valid mobile number
  '21612', // The 'To' phone number is not currently reachable via SMS
  '21610', // the recipient answered STOP
  '21635', // The 'To' number cannot be a landline
]);

/** The reason of a failure answered with `code` (null: no failure recorded). */
export function reminderFailureReason(code: string | null): ReminderFailureReason | null {
  if (code === null) return null;
  if (BAD_NUMBER_CODES.has(code)) return 'badNumber';
  const kind: SmsFailureKind = /^\d+$/.test(code) ? classifyTwilioFailure(code, 400) : classifyAliyunFailure(code, 200);
  switch (kind) {
    case 'limited':
      return 'flowControl';
    case 'account':
      return 'account';
    case 'transport':
      return 'unreachable';
    case 'permanent':
    case 'retryMessage':
      // A sender without the template says so in our own code: the account's setup, not this message.
      return code === SMS_ERROR_CODES.unknownTemplate ? 'account' : 'refused';
  }
}
