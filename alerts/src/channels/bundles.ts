/**
 * Several alarms for one recipient in one SMS (issue 12, the provider's
 * limits): Aliyun allows a number only so many notices a day per sign and
 * template (isv.BUSINESS_LIMIT_CONTROL), and a duty officer at the end of many
 * chains reaches it on a bad day (a power cut: thirty buttons offline at
 * once). Two rules:
 *
 * - **Gathering**: a notice to a number that was sent one by the same channel
 *   less than the bundle window ago (default a minute) is not sent at once
 *   but at the end of that window, together with whatever else came for the
 *   number meanwhile. Critical alarms never wait: they go at once (bundled
 *   with whatever is due for the number at that moment).
 * - **Bundling**: the notices due for one number on one channel at one claim
 *   go as one message, in the generic template of the first one's role (every
 *   provider account has it registered), its variables filled with all of
 *   them; the first notice's answer link opens every case of the message (the
 *   server's answer routes: each case taken with its own notice's grant), and
 *   the text says so.
 */
import type { SmsLocale } from '../messages/sms-templates.js';
import { truncateSmsParam } from '../messages/sms-param.js';
import type { SmsMessage } from '../sms/sms-sender.js';

/** Default bundle window: a minute. */
export const DEFAULT_BUNDLE_WINDOW_MS = 60_000;

/** When a new notice to a number may go, given when the channel last sent it one; `nowMs` when it need not wait. */
export function gatheredUntil(nowMs: number, lastSentAtMs: number | null, windowMs: number, critical: boolean): number {
  if (critical || windowMs <= 0 || lastSentAtMs === null) return nowMs;
  return Math.max(nowMs, lastSentAtMs + windowMs);
}

/** Whether a claimed notice may be bundled with others to the same number (SMS alarm and escalation notices only). */
export function bundleable(message: Pick<SmsMessage, 'template'>): boolean {
  return message.template === 'alarm' || message.template === 'escalation';
}

/**
 * One message for `messages` (two or more, the first the carrier: the most
 * severe, the oldest), all to the same number. The carrier's answer code and
 * role stay; the other variables name them all, within the providers' limit
 * per variable.
 */
export function bundleMessage(messages: readonly SmsMessage[], locale: SmsLocale, signName: string): SmsMessage {
  const [carrier, ...rest] = messages;
  if (carrier === undefined || rest.length === 0) throw new Error('bundleMessage: two or more messages');
  const n = messages.length;
  const p = (m: SmsMessage, key: string) => m.params[key] ?? '';
  const distinct = (key: string) => [...new Set(messages.map((m) => p(m, key)).filter((v) => v !== ''))];
  const zh = locale === 'zh-CN';
  const params: Record<string, string> = { ...carrier.params };
  params.kind = truncateSmsParam(zh ? `${p(carrier, 'kind')}等${n}起` : `${p(carrier, 'kind')} and ${n - 1} more`);
  params.name = truncateSmsParam(distinct('name').join(zh ? '、' : ', '));
  params.village = truncateSmsParam(distinct('village').join(zh ? '、' : ', '));
  params.address = truncateSmsParam(n > 1 && distinct('address').length > 1 ? (zh ? `${p(carrier, 'address')}等${distinct('address').length}处` : `${p(carrier, 'address')} and others`) : p(carrier, 'address'));
  params.detail = truncateSmsParam(zh ? `共${n}起报警未处理，请逐一确认，链接中可查看全部` : `${n} alarms not taken; the link shows them all`);
  const lines = messages.map((m) => (zh ? `${p(m, 'name')}（${p(m, 'village')}）${p(m, 'kind')}，${p(m, 'time')}` : `${p(m, 'name')} (${p(m, 'village')}) ${p(m, 'kind')}, ${p(m, 'time')}`));
  const link = /https?:\/\/\S+$/.exec(carrier.text)?.[0] ?? '';
  const text = zh
    ? `【${signName}】${n}起报警待处理：${lines.join('；')}。请逐一电话确认，或打开链接查看全部并接警：${link}`
    : `【${signName}】${n} alarms need you: ${lines.join('; ')}. Check each by phone, or open the link to see them all and take them: ${link}`;
  return { ...carrier, params, text, bundled: n };
}
