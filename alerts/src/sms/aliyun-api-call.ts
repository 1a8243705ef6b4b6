/**
 * What every Aliyun channel does around one OpenAPI call (SendSms, QuerySendDetails,
 * SingleCallByTts, QueryCallDetailByCallId): one overall deadline, what the SDK
 * throws mapped to a failure kind and a stable code, and error texts scrubbed of
 * phone numbers and query strings before they reach a log or the dashboard.
 */
import { maskPhone } from '@kanjia/protocol';
import * as $dara from '@darabonba/typescript';
import { SMS_ERROR_CODES, type SmsFailureKind, type SmsResult } from './sms-sender.js';

/** A failed provider call before it becomes an SmsResult or a DeliveryAnswer. */
export interface AliyunFailure {
  kind: SmsFailureKind;
  code: string;
  message: string;
}

/** One attempt of a send with one template, its failure not yet logged. */
export type AliyunAttempt = { ok: true; providerRef: string | null } | ({ ok: false } & AliyunFailure);

export interface GenericFallback<P extends { key: string }> {
  /** The template picked for the message: the kind's own, or the role's generic one; undefined when there is none. */
  picked: P | undefined;
  /** What a message without a template fails with, under its role's name. */
  noTemplate: { role: string; failure: AliyunFailure };
  /** The role's generic template, used when a kind's own one is refused. */
  generic: () => P | undefined;
  attempt: (template: P) => Promise<AliyunAttempt>;
  /** Answers that say a kind's own template is wrong (not registered, other variables), not the message. */
  fallbackCodes: ReadonlySet<string>;
  /** Says in the log that the generic template is used instead, and why. */
  onFallback: (picked: P, code: string, generic: P) => void;
  /** Logs a failure of the template named and makes it the result. */
  fail: (template: string, failure: AliyunFailure) => SmsResult;
}

/**
 * Sends with the template picked and, when a kind's own template is refused as a
 * setup mistake of that one template, once more with the role's generic one, rather
 * than that kind's alarms being refused one after the other.
 */
export async function sendWithGenericFallback<P extends { key: string }>(send: GenericFallback<P>): Promise<SmsResult> {
  const { picked } = send;
  if (picked === undefined) return send.fail(send.noTemplate.role, send.noTemplate.failure);
  const result = await send.attempt(picked);
  if (result.ok) return result;
  const generic = picked.key === send.noTemplate.role ? undefined : send.generic();
  if (generic === undefined || !send.fallbackCodes.has(result.code)) return send.fail(picked.key, result);
  send.onFallback(picked, result.code, generic);
  const again = await send.attempt(generic);
  return again.ok ? again : send.fail(generic.key, again);
}

/**
 * The SDK's runtime options for one call: no retry of its own (the outbox retries,
 * with backoff) and our timeout for connecting and reading.
 */
export function aliyunRuntime(timeoutMs: number): $dara.RuntimeOptions {
  return new $dara.RuntimeOptions({ autoretry: false, readTimeout: timeoutMs, connectTimeout: timeoutMs });
}

/**
 * Runs `call` with one overall deadline: the SDK's timeouts do not cover reading
 * the answer's body. 'timeout' when it passed; the abandoned call's end is ignored.
 */
export async function withDeadline<T>(call: Promise<T>, timeoutMs: number): Promise<T | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([call, deadline]);
    if (outcome === 'timeout') call.catch(() => undefined);
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The SDK is CommonJS with `exports.default = Client`. Node's ESM loader makes the
 * default import module.exports, so the class is `.default` (what TypeScript's
 * NodeNext types say); vitest's loader applies the usual interop and makes the
 * default import the class itself. Accept both.
 */
export function sdkClientClass<T>(imported: unknown, packageName: string): T {
  const candidate = typeof imported === 'function' ? imported : (imported as { default?: unknown } | null)?.default;
  if (typeof candidate !== 'function') throw new Error(`${packageName}: no Client class found in the module`);
  return candidate as T;
}

interface ThrownShape {
  name?: unknown;
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

/**
 * Maps what the SDK throws: ClientError/ServerError/ThrottlingError carry statusCode
 * and Code (classified by `classify`, the channel's own table); network errors an errno.
 */
export function classifyThrown(err: unknown, classify: (code: string, httpStatus: number) => SmsFailureKind): AliyunFailure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as ThrownShape;
  const text = scrubProviderText(typeof e.message === 'string' ? e.message : String(err));
  const name = typeof e.name === 'string' ? e.name : '';
  const errno = typeof e.code === 'string' ? e.code : '';
  if (typeof e.statusCode === 'number') {
    const code = errno !== '' && errno !== 'undefined' ? errno : `HTTP_${e.statusCode}`;
    return { kind: classify(code, e.statusCode), code, message: text };
  }
  if (name.includes('Timeout') || errno === 'ETIMEDOUT') return { kind: 'transport', code: SMS_ERROR_CODES.timeout, message: text };
  if (err instanceof SyntaxError) return { kind: 'transport', code: SMS_ERROR_CODES.badResponse, message: text };
  // ECONNREFUSED, ECONNRESET, ENOTFOUND, EAI_AGAIN, socket hang up, …: the network, not the message.
  return { kind: 'transport', code: SMS_ERROR_CODES.network, message: errno !== '' ? `${errno}: ${text}` : text };
}

/**
 * The SDK's network errors quote the whole request URL, whose query string holds
 * the phone number, the resident's name and address. Cut query strings and mask
 * any mobile number left, so the message can go to logs and the dashboard.
 */
export function scrubProviderText(text: string): string {
  return text
    .replace(/\?[A-Za-z][\w.-]*=[^\s]*/g, '?…')
    // httpx glues "GET https://…" to the previous sentence.
    .replace(/(\S)((?:GET|POST) https?:\/\/)/g, '$1 $2')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)/g, (phone) => maskPhone(phone))
    .slice(0, 300);
}

const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/** The wall clock of `atMs` in `timeZone` as parts (year … second). */
function wallClock(atMs: number, timeZone: string): Record<'year' | 'month' | 'day' | 'hour' | 'minute' | 'second', string> {
  let format = dateTimeFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    dateTimeFormats.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(atMs).map((p) => [p.type, p.value]));
  return { year: parts.year ?? '1970', month: parts.month ?? '01', day: parts.day ?? '01', hour: parts.hour ?? '00', minute: parts.minute ?? '00', second: parts.second ?? '00' };
}

/** Aliyun's own time zone: QuerySendDetails' SendDate and the receipts' dates are Beijing time. */
export const ALIYUN_TIME_ZONE = 'Asia/Shanghai';

/** yyyyMMdd of `atMs` in Beijing time (QuerySendDetails' SendDate). */
export function aliyunDay(atMs: number): string {
  const c = wallClock(atMs, ALIYUN_TIME_ZONE);
  return `${c.year}${c.month}${c.day}`;
}

/** "yyyy-MM-dd HH:mm:ss" of `atMs` in Beijing time, as Aliyun writes dates in answers. */
export function aliyunDateTime(atMs: number): string {
  const c = wallClock(atMs, ALIYUN_TIME_ZONE);
  return `${c.year}-${c.month}-${c.day} ${c.hour}:${c.minute}:${c.second}`;
}

/** Reads an Aliyun "yyyy-MM-dd HH:mm:ss" (Beijing time, UTC+8 all year) as ms since the epoch; null when it is not one. */
export function parseAliyunDateTime(text: string | undefined | null): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/.exec((text ?? '').trim());
  if (match === null) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h - 8, mi, s);
}
