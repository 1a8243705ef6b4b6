/**
 * One HTTP call of a channel adapter with `fetch` (Node 20 has it) and one
 * deadline over the connection, the request and the answer's body: the
 * adapters that speak a plain JSON-over-HTTP API (Twilio's Messages API, the
 * DingTalk and WeCom group robots) need no SDK. It never throws: a network
 * failure, the deadline or an unreadable answer is a `Failure` with one of
 * SMS_ERROR_CODES, kind `transport` (the channel, not the message).
 */
import { maskPhone } from '@kanjia/protocol';
import { SMS_ERROR_CODES, type SmsFailureKind } from '../sms/sms-sender.js';

export interface HttpJsonRequest {
  method: 'GET' | 'POST';
  url: string;
  headers?: Record<string, string>;
  /** A JSON body (sent as application/json) or a form (application/x-www-form-urlencoded). */
  body?: { json: unknown } | { form: URLSearchParams };
  /** Deadline of the whole call, answer body included. */
  timeoutMs: number;
}

/** A failed call before it becomes an SmsResult. */
export interface ChannelFailure {
  kind: SmsFailureKind;
  code: string;
  message: string;
}

export type HttpJsonAnswer =
  | { ok: true; status: number; json: unknown }
  /** The provider answered, but not with JSON (a proxy's HTML page, an empty 502). */
  | { ok: true; status: number; json: undefined; text: string }
  | { ok: false; failure: ChannelFailure };

/** Sends one request and reads the answer as JSON; never throws. */
export async function httpJson(request: HttpJsonRequest): Promise<HttpJsonAnswer> {
  const headers: Record<string, string> = { accept: 'application/json', ...request.headers };
  let body: string | undefined;
  if (request.body !== undefined && 'json' in request.body) {
    headers['content-type'] = 'application/json;charset=utf-8';
    body = JSON.stringify(request.body.json);
  } else if (request.body !== undefined) {
    headers['content-type'] = 'application/x-www-form-urlencoded;charset=utf-8';
    body = request.body.form.toString();
  }
  const signal = AbortSignal.timeout(request.timeoutMs);
  try {
    const response = await fetch(request.url, { method: request.method, headers, body, signal, redirect: 'error' });
    const text = await response.text();
    try {
      return { ok: true, status: response.status, json: JSON.parse(text) as unknown };
    } catch {
      return { ok: true, status: response.status, json: undefined, text: scrubSecrets(text.slice(0, 200)) };
    }
  } catch (err) {
    return { ok: false, failure: classifyFetchError(err, request.timeoutMs) };
  }
}

/** What fetch throws: the deadline (TimeoutError), or a TypeError whose cause carries the errno. */
function classifyFetchError(err: unknown, timeoutMs: number): ChannelFailure {
  const e = err as { name?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } } | null;
  const name = typeof e?.name === 'string' ? e.name : '';
  if (name === 'TimeoutError' || name === 'AbortError') {
    return { kind: 'transport', code: SMS_ERROR_CODES.timeout, message: `no answer within ${timeoutMs} ms` };
  }
  const errno = typeof e?.cause?.code === 'string' ? e.cause.code : '';
  const why = typeof e?.cause?.message === 'string' ? e.cause.message : typeof e?.message === 'string' ? e.message : String(err);
  if (errno === 'UND_ERR_HEADERS_TIMEOUT' || errno === 'UND_ERR_BODY_TIMEOUT') {
    return { kind: 'transport', code: SMS_ERROR_CODES.timeout, message: `no answer within ${timeoutMs} ms (${errno})` };
  }
  // ECONNREFUSED, ECONNRESET, ENOTFOUND, EAI_AGAIN, UND_ERR_SOCKET (the peer closed without answering), …
  return { kind: 'transport', code: SMS_ERROR_CODES.network, message: scrubSecrets(errno !== '' ? `${errno}: ${why}` : why) };
}

/**
 * Cuts query strings (a robot's webhook holds its access token or key there)
 * and masks mobile numbers, so a provider's or Node's message can go to logs
 * and the dashboard.
 */
export function scrubSecrets(text: string): string {
  return text
    .replace(/\?[A-Za-z][\w.-]*=[^\s"']*/g, '?…')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/(?<!\d)(?:\+?86)?1[3-9]\d{9}(?!\d)/g, (phone) => maskPhone(phone))
    .slice(0, 300);
}
