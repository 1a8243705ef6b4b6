/**
 * What each answer of Twilio's Messages API (2010-04-01, and the providers
 * that speak it) means for the outbox: a verdict on one message, the
 * provider's flow control, or an outage of the whole channel.
 *
 * Source: Twilio's error and warning dictionary (twilio.com/docs/api/errors/<code>).
 * Twilio answers a refused Create Message with an HTTP 4xx and a JSON body
 * {code, message, more_info, status}; the codes 30xxx arrive later, as the
 * `error_code` of a message that failed or was undelivered (a receipt), but a
 * compatible provider may answer them at once, so they are sorted here too.
 *
 * The same rule of thumb as aliyun-error-codes.ts: a code about *this
 * message* (its number, its body) condemns the message; a code about the
 * account, its credentials, its sender or its quota would answer every
 * message the same way, so it is an outage.
 */
import { SMS_ERROR_CODES, type SmsFailureKind } from './sms-sender.js';

/** Codes that condemn one message: fail it, and let the escalation move on to the next contact. */
export const TWILIO_PERMANENT_CODES: ReadonlySet<string> = new Set([
  // The number
  '21211', // Invalid 'To' Phone Number
  '21614', // 'To' number is not a valid mobile number
  '21612', // The 'To' phone number is not currently reachable via SMS
  '21604', // A 'To' phone number is required
  '21608', // A trial account may only text verified numbers
  '21610', // Attempt to send to an unsubscribed recipient (the person answered STOP)
  '21635', // The 'To' number cannot be a landline
  // The body
  '21602', // Message body is required
  '21617', // The concatenated message body exceeds the 1600 character limit
]);

/** Codes that refuse the account: its credentials, its sender, its permissions, its quota or the API's rate. */
export const TWILIO_ACCOUNT_CODES: ReadonlySet<string> = new Set([
  '20003', // Authenticate: the SID or the token (or the API key) is wrong or was revoked
  '20404', // The requested resource was not found: a wrong Account SID or base URL
  '20005', // Account not active
  '30002', // Account suspended
  '21212', // Invalid 'From' number
  '21603', // A 'From' phone number is required
  '21606', // The 'From' number is not a valid message-capable phone number for this account
  '21659', // The 'From' is not a Twilio number or a valid alphanumeric sender
  '21701', // The Messaging Service does not exist
  '21408', // Permission to send to this region (mainland China, for us) is not enabled: every number would fail
  '21611', // The 'From' number's queue is full (more than 10 hours of messages waiting)
  '20429', // Too Many Requests: the API's rate limit
  '63017', // Rate limit exceeded: the account's 2000 messages a second
  // The account's own quota, like Aliyun's isv.DAY_LIMIT_CONTROL: the rolling 24 hours of the
  // whole account, not of one number, so every message gets it until the window moves on.
  '63038', // Account exceeded the daily messages limit
]);

/**
 * The carriers' flow control for a sender and destination: sending the same
 * again only meets the same limit, so the notice moves to its next channel.
 * Both are US A2P 10DLC codes of the carrier (usually in a receipt); a
 * compatible provider answering them at once means the same.
 */
export const TWILIO_LIMITED_CODES: ReadonlySet<string> = new Set([
  '30022', // Rate limits exceeded for the campaign, or too many messages to the same number in a short time
  '30023', // Daily message cap of the brand reached at this carrier (other carriers' numbers still pass)
]);

/** The provider itself is broken: an outage of the transport. */
export const TWILIO_TRANSPORT_CODES: ReadonlySet<string> = new Set([
  '20500', // Internal Server Error
  '20503', // Service Unavailable
  SMS_ERROR_CODES.timeout,
  SMS_ERROR_CODES.network,
  SMS_ERROR_CODES.badResponse,
]);

/**
 * The kind of a Twilio failure `code` (the JSON `code`, as a string; or
 * HTTP_<status> when the answer had none) answered with HTTP `httpStatus`.
 * Unknown codes: HTTP 401 and 403 are the account's credentials, 429 the
 * API's rate (the account), 5xx the transport, anything else this message
 * (retried with backoff, attempts counted).
 */
export function classifyTwilioFailure(code: string, httpStatus: number): SmsFailureKind {
  if (TWILIO_PERMANENT_CODES.has(code)) return 'permanent';
  if (TWILIO_ACCOUNT_CODES.has(code)) return 'account';
  if (TWILIO_LIMITED_CODES.has(code)) return 'limited';
  if (TWILIO_TRANSPORT_CODES.has(code)) return 'transport';
  if (httpStatus === 401 || httpStatus === 403 || httpStatus === 429) return 'account';
  if (httpStatus >= 500) return 'transport';
  return 'retryMessage';
}
