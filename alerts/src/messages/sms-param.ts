/**
 * The length limit of one SMS template variable, shared by the templates and
 * the detail phrases (a module of its own so that neither imports the other).
 */

/**
 * Aliyun limits each template variable: the "other" variable types accept at most
 * 35 characters, and a longer value makes SendSms fail with isv.PARAM_LENGTH_LIMIT.
 * We cut every value to this length (ending with …) rather than lose the SMS.
 */
export const SMS_PARAM_MAX_CHARS = 35;

/** Cuts a value to `maxChars` characters (code points), ending with … when cut. */
export function truncateSmsParam(value: string, maxChars = SMS_PARAM_MAX_CHARS): string {
  const chars = Array.from(value);
  if (chars.length <= maxChars) return value;
  return `${chars.slice(0, Math.max(0, maxChars - 1)).join('')}…`;
}
