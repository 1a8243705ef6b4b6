/**
 * A stand-in for Aliyun's SMS API (dysmsapi, SendSms, version 2017-05-25) on
 * 127.0.0.1, for adapter tests, end-to-end tests and benchmarks. It speaks the
 * API as the official SDK calls it — POST / with the parameters in the query
 * string (or a form body), x-acs-action / x-acs-version headers — and checks
 * the ACS3-HMAC-SHA256 signature with its own implementation (acs3-signature.ts),
 * the date window and nonce reuse, as Aliyun does.
 *
 * Answers follow Aliyun: authentication errors are HTTP 4xx with a JSON
 * {RequestId, HostId, Code, Message}; SendSms business errors (isv.*) are HTTP
 * 200 with their Code; success is {Code:'OK', Message:'OK', BizId, RequestId}.
 * A link in a variable value is refused (isv.PARAM_NOT_SUPPORT_URL), as Aliyun
 * refuses it: a template's link must be its fixed text.
 *
 * Its mode is switched at run time (setMode, or PUT /_control with
 * {"mode": …}) to play the provider's failures: a signature error or a disabled
 * key (the key was rotated or switched off in the console), no credit, the
 * account stopped, flow control on the account, an outage (503, or the
 * connection reset without an answer); and some numbers can be made bad
 * (isv.MOBILE_NUMBER_ILLEGAL) or limited (the per-number flow control).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { maskPhone, systemClock, type Clock } from '@kanjia/protocol';
import { z } from 'zod';
import {
  ACS3_ALGORITHM,
  acs3Signature,
  canonicalRequest,
  isSignableHeader,
  parseAuthorization,
  parseQueryPairs,
  sha256Hex,
  signaturesEqual,
  stringToSign,
} from './acs3-signature.js';

export const SEND_SMS_ACTION = 'SendSms';
export const DYSMSAPI_VERSION = '2017-05-25';
/** Aliyun accepts a request whose x-acs-date is within 15 minutes of its own clock. */
export const ACS_MAX_CLOCK_SKEW_MS = 15 * 60_000;
/** The "other" template variable types of Aliyun allow 35 characters. */
export const ALIYUN_MAX_PARAM_CHARS = 35;
/** SendSms takes at most 1000 numbers, comma-separated. */
const MAX_PHONE_NUMBERS = 1000;
const MAX_BODY_BYTES = 1024 * 1024;
/** Mainland numbers with the prefixes SendSms documents: +, +86, 0086, 86. */
const PHONE_NUMBER = /^(?:\+|\+86|0086|86)?1[3-9]\d{9}$/;
const ACS_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/**
 * What Aliyun takes for a link in a variable value (a scheme, www., or a host
 * name with a common top-level domain): it answers isv.PARAM_NOT_SUPPORT_URL,
 * because a link must be fixed text of the registered template.
 */
const URL_IN_VALUE = /(?:[a-z][a-z0-9+.-]*:\/\/|www\.)|(?:^|[^a-z0-9-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|gov|edu|io|top|xyz|info|cc|me|vip|ai|app|dev|link)(?![a-z0-9-])/i;

/**
 * How the server answers every authenticated SendSms (see LocalAliyunSmsServer):
 * - ok: as Aliyun does when all is well;
 * - signature-error: SignatureDoesNotMatch (HTTP 400), as after the secret was changed;
 * - key-disabled: InvalidAccessKeyId.Inactive (HTTP 400), the key switched off;
 * - no-credit: isv.AMOUNT_NOT_ENOUGH (HTTP 200), the balance used up;
 * - out-of-service: isv.OUT_OF_SERVICE (HTTP 200), the account stopped;
 * - flow-control: isv.BUSINESS_LIMIT_CONTROL (HTTP 200) for every number, the account's flow control;
 * - outage-503: ServiceUnavailable (HTTP 503) before any check;
 * - outage-reset: the connection is reset without an answer.
 */
export const LOCAL_SMS_MODES = ['ok', 'signature-error', 'key-disabled', 'no-credit', 'out-of-service', 'flow-control', 'outage-503', 'outage-reset'] as const;
export type LocalSmsMode = (typeof LOCAL_SMS_MODES)[number];

/** Path of the control endpoint: GET the state, PUT (or POST) a LocalSmsControl as JSON. */
export const LOCAL_SMS_CONTROL_PATH = '/_control';

/** What the control endpoint (and setState) changes; numbers as SendSms receives them (11 digits). */
export const LocalSmsControl = z
  .object({
    mode: z.enum(LOCAL_SMS_MODES).optional(),
    /** Answered isv.MOBILE_NUMBER_ILLEGAL (a number that cannot receive SMS). */
    badNumbers: z.array(z.string().regex(/^\+?\d{5,20}$/)).max(1000).optional(),
    /** Answered isv.BUSINESS_LIMIT_CONTROL (the per-number limit reached). */
    limitedNumbers: z.array(z.string().regex(/^\+?\d{5,20}$/)).max(1000).optional(),
  })
  .strict();
export type LocalSmsControl = z.infer<typeof LocalSmsControl>;

export interface LocalSmsState {
  mode: LocalSmsMode;
  badNumbers: string[];
  limitedNumbers: string[];
  accepted: number;
  rejected: number;
}

export interface LocalAliyunSmsServerOptions {
  accessKeyId: string;
  accessKeySecret: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Approved sign names; when given, any other is isv.SMS_SIGNATURE_ILLEGAL. */
  signNames?: readonly string[];
  /** Approved templates: code → variable names; when given, other codes are isv.SMS_TEMPLATE_ILLEGAL and missing variables isv.TEMPLATE_MISSING_PARAMETERS. */
  templates?: Readonly<Record<string, readonly string[]>>;
  /** Longest accepted variable value in characters; default 35 (isv.PARAM_LENGTH_LIMIT beyond). */
  maxParamChars?: number;
  /** Allowed difference between x-acs-date and the server clock; default 15 minutes. */
  maxClockSkewMs?: number;
  /** Server clock for the date window and receivedAtMs; default the system clock. */
  clock?: Pick<Clock, 'nowMs'>;
  /** Called for each accepted SMS (the command prints them). */
  onAccepted?: (sms: AcceptedSms) => void;
  /** Called for each rejected request. */
  onRejected?: (rejection: RejectedRequest) => void;
  /** The mode to start in; default ok. */
  mode?: LocalSmsMode;
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

export interface RejectedRequest {
  code: string;
  /** 0 when the connection was reset without an answer. */
  httpStatus: number;
  message: string;
  requestId: string;
  outId: string | null;
  receivedAtMs: number;
  /** True when the failure was ordered: failNext(), a mode other than ok, a bad or limited number. */
  injected: boolean;
}

export interface InjectedFailure {
  /** Aliyun code to answer with; default InternalError for HTTP 5xx. */
  code?: string;
  /** Default 500 without a code, 200 for isv.* codes (as Aliyun), 400 otherwise. */
  httpStatus?: number;
  message?: string;
}

export interface LocalAliyunSmsAddress {
  port: number;
  /** http://127.0.0.1:port */
  url: string;
  /** host:port, the `endpoint` setting of AliyunSmsSender (with protocol 'http'). */
  endpoint: string;
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

interface Waiter {
  predicate: (sms: AcceptedSms) => boolean;
  resolve: (sms: AcceptedSms) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export class LocalAliyunSmsServer {
  private server: Server | undefined;
  private address: LocalAliyunSmsAddress | undefined;
  private readonly acceptedList: AcceptedSms[] = [];
  private readonly rejectedList: RejectedRequest[] = [];
  /** Nonce → when it may be forgotten (its date is then out of the window anyway). */
  private readonly nonces = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();
  private readonly replyTimers = new Set<ReturnType<typeof setTimeout>>();
  private failures: Array<Required<InjectedFailure>> = [];
  private latencyMs = 0;
  private modeNow: LocalSmsMode = 'ok';
  private readonly badNumbers = new Set<string>();
  private readonly limitedNumbers = new Set<string>();
  private bizSeq = 0;
  private readonly clock: Pick<Clock, 'nowMs'>;
  private readonly maxClockSkewMs: number;
  private readonly maxParamChars: number;

  constructor(private readonly options: LocalAliyunSmsServerOptions) {
    this.clock = options.clock ?? systemClock;
    this.maxClockSkewMs = options.maxClockSkewMs ?? ACS_MAX_CLOCK_SKEW_MS;
    this.maxParamChars = options.maxParamChars ?? ALIYUN_MAX_PARAM_CHARS;
    this.modeNow = options.mode ?? 'ok';
  }

  /** Listens (127.0.0.1, port 0 unless told otherwise); resolves with where. */
  async start(): Promise<LocalAliyunSmsAddress> {
    if (this.address) return this.address;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.send(res, { status: 500, body: { Code: 'InternalError', Message: String(err) } });
      });
    });
    this.server = server;
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    this.address = { port, url: `http://${host}:${port}`, endpoint: `${host}:${port}` };
    return this.address;
  }

  /** Closes the port and every connection, drops delayed answers, fails pending waitFor calls. Idempotent. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.address = undefined;
    for (const timer of this.replyTimers) clearTimeout(timer);
    this.replyTimers.clear();
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error('LocalAliyunSmsServer stopped while waiting for an SMS'));
    }
    this.waiters.clear();
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Every accepted SMS, oldest first. */
  get accepted(): readonly AcceptedSms[] {
    return this.acceptedList;
  }

  /** Every rejected request with its code, oldest first. */
  get rejected(): readonly RejectedRequest[] {
    return this.rejectedList;
  }

  /** Forgets what was accepted and rejected, the pending failures and the latency; back to mode ok with no bad or limited numbers. */
  reset(): void {
    this.acceptedList.length = 0;
    this.rejectedList.length = 0;
    this.failures = [];
    this.latencyMs = 0;
    this.setState({ mode: 'ok', badNumbers: [], limitedNumbers: [] });
  }

  /** The mode every authenticated SendSms is answered in from now on (see LOCAL_SMS_MODES). */
  setMode(mode: LocalSmsMode): void {
    this.modeNow = mode;
  }

  get mode(): LocalSmsMode {
    return this.modeNow;
  }

  /** Changes what `control` names (mode, bad numbers, limited numbers); what it leaves out stays. */
  setState(control: LocalSmsControl): void {
    if (control.mode !== undefined) this.modeNow = control.mode;
    const replace = (set: Set<string>, numbers: readonly string[] | undefined) => {
      if (numbers === undefined) return;
      set.clear();
      for (const n of numbers) set.add(n.replace(/^(?:\+86|0086|86|\+)(?=1\d{10}$)/, ''));
    };
    replace(this.badNumbers, control.badNumbers);
    replace(this.limitedNumbers, control.limitedNumbers);
  }

  /** The mode, the bad and limited numbers, and how many requests were accepted and rejected. */
  state(): LocalSmsState {
    return { mode: this.modeNow, badNumbers: [...this.badNumbers], limitedNumbers: [...this.limitedNumbers], accepted: this.acceptedList.length, rejected: this.rejectedList.length };
  }

  /** The next `count` authenticated SendSms requests fail with this code / HTTP status. */
  failNext(count: number, failure: InjectedFailure = {}): void {
    const httpStatus = failure.httpStatus ?? (failure.code === undefined ? 500 : failure.code.startsWith('isv.') ? 200 : 400);
    const code = failure.code ?? (httpStatus >= 500 ? 'InternalError' : 'InvalidParameter');
    const message = failure.message ?? `injected failure: ${code}`;
    for (let i = 0; i < count; i++) this.failures.push({ code, httpStatus, message });
  }

  /** Delays every answer by `ms` (timeouts, benchmarks); 0 answers at once. */
  setLatencyMs(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** Resolves with the first accepted SMS (already received or to come) that matches; rejects after `timeoutMs`. */
  waitFor(predicate: (sms: AcceptedSms) => boolean = () => true, timeoutMs = 5_000): Promise<AcceptedSms> {
    const found = this.acceptedList.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<AcceptedSms>((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const codes = this.rejectedList.map((r) => r.code).join(', ') || 'none';
          reject(new Error(`no matching SMS within ${timeoutMs} ms (accepted: ${this.acceptedList.length}, rejected: ${codes})`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAtMs = this.clock.nowMs();
    const requestId = randomUUID().toUpperCase();
    const path = (req.url ?? '/').split('?')[0];
    if (path === LOCAL_SMS_CONTROL_PATH) {
      await this.control(req, res);
      return;
    }
    const ctx = { receivedAtMs, requestId, outId: null };
    if (this.modeNow === 'outage-reset') {
      // No answer at all: the caller sees the connection reset (ECONNRESET, socket hang up).
      this.reject(ctx, 0, 'ECONNRESET', 'connection reset without an answer (mode outage-reset)', true);
      req.socket.destroy();
      return;
    }
    if (this.modeNow === 'outage-503') {
      req.resume();
      this.reply(res, this.reject(ctx, 503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server (mode outage-503).', true));
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, MAX_BODY_BYTES);
    } catch {
      this.reply(res, this.reject(ctx, 413, 'RequestTooLarge', 'The request body is too large.'));
      return;
    }
    this.reply(res, this.process(req, body, receivedAtMs, requestId));
  }

  /** GET: the state; PUT or POST a LocalSmsControl (JSON): changes it and answers the new state; 400 BAD_CONTROL otherwise. */
  private async control(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET') return this.send(res, { status: 200, body: { ...this.state() } });
    if (req.method !== 'PUT' && req.method !== 'POST') return this.send(res, { status: 405, body: { code: 'BAD_CONTROL', message: 'GET the state, or PUT {"mode": …, "badNumbers": […], "limitedNumbers": […]}' } });
    let parsed: ReturnType<typeof LocalSmsControl.safeParse>;
    try {
      parsed = LocalSmsControl.safeParse(JSON.parse((await readBody(req, 64 * 1024)).toString('utf8')));
    } catch {
      return this.send(res, { status: 400, body: { code: 'BAD_CONTROL', message: 'the body must be JSON' } });
    }
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
      return this.send(res, { status: 400, body: { code: 'BAD_CONTROL', message: `${problems} (modes: ${LOCAL_SMS_MODES.join(', ')})` } });
    }
    this.setState(parsed.data);
    this.send(res, { status: 200, body: { ...this.state() } });
  }

  /** Checks one request as Aliyun would, records the outcome and returns the answer. */
  private process(req: IncomingMessage, body: Buffer, receivedAtMs: number, requestId: string): Reply {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const ctx = { receivedAtMs, requestId, outId: null as string | null };
    const header = (name: string): string | undefined => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    };

    let queryPairs: Array<[string, string]>;
    let params: Map<string, string>;
    try {
      queryPairs = parseQueryPairs(rawQuery);
      params = new Map(queryPairs);
      if (body.length > 0 && (header('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
        for (const [name, value] of parseQueryPairs(body.toString('utf8'))) params.set(name, value);
      }
    } catch {
      return this.reject(ctx, 400, 'InvalidParameter', 'A parameter is not correctly percent-encoded.');
    }
    ctx.outId = params.get('OutId') ?? null;

    // Which API
    if (req.method !== 'POST' && req.method !== 'GET') return this.reject(ctx, 400, 'UnsupportedHTTPMethod', `HTTP method ${req.method} is not supported.`);
    const action = header('x-acs-action');
    if (path !== '/' || action !== SEND_SMS_ACTION) return this.reject(ctx, 404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');
    if (header('x-acs-version') !== DYSMSAPI_VERSION) return this.reject(ctx, 400, 'InvalidVersion', 'Specified parameter Version is not valid.');

    // Who, and is it really them
    const auth = parseAuthorization(header('authorization'));
    if (auth === null || auth.algorithm !== ACS3_ALGORITHM) {
      return this.reject(ctx, 400, 'IncompleteSignature', `The Authorization header is missing or is not ${ACS3_ALGORITHM} Credential=…,SignedHeaders=…,Signature=….`);
    }
    if (auth.accessKeyId !== this.options.accessKeyId) return this.reject(ctx, 404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
    if (this.modeNow === 'key-disabled') return this.reject(ctx, 400, 'InvalidAccessKeyId.Inactive', 'Specified access key is disabled (mode key-disabled).', true);
    const date = header('x-acs-date');
    const nonce = header('x-acs-signature-nonce');
    const contentSha256 = header('x-acs-content-sha256');
    if (date === undefined || nonce === undefined || nonce === '' || contentSha256 === undefined || header('host') === undefined) {
      return this.reject(ctx, 400, 'IncompleteSignature', 'host, x-acs-date, x-acs-signature-nonce and x-acs-content-sha256 are required.');
    }
    if (!ACS_DATE.test(date)) return this.reject(ctx, 400, 'InvalidTimeStamp.Format', 'x-acs-date must look like 2026-01-15T02:00:00Z.');
    const dateMs = Date.parse(date);
    if (!Number.isFinite(dateMs) || Math.abs(receivedAtMs - dateMs) > this.maxClockSkewMs) {
      return this.reject(ctx, 400, 'InvalidTimeStamp.Expired', `x-acs-date ${date} is more than ${this.maxClockSkewMs / 60_000} minutes from the server time.`);
    }
    const bodySha256 = sha256Hex(body);
    if (contentSha256.toLowerCase() !== bodySha256) {
      return this.reject(ctx, 400, 'SignatureDoesNotMatch', 'x-acs-content-sha256 does not match the SHA-256 of the body received.');
    }
    const unsigned = Object.keys(req.headers).filter((name) => isSignableHeader(name) && !auth.signedHeaders.includes(name));
    if (unsigned.length > 0 || !auth.signedHeaders.includes('host')) {
      return this.reject(ctx, 400, 'SignatureDoesNotMatch', `Headers that must be signed are not: ${[...unsigned, ...(auth.signedHeaders.includes('host') ? [] : ['host'])].join(', ')}.`);
    }
    const canonical = canonicalRequest({
      method: req.method,
      canonicalUri: path,
      queryPairs,
      headers: req.headersDistinct,
      signedHeaders: auth.signedHeaders,
      payloadSha256Hex: bodySha256,
    });
    const toSign = stringToSign(canonical);
    // As if the secret had been changed in the console: the caller's signature no longer matches.
    if (this.modeNow === 'signature-error') return this.reject(ctx, 400, 'SignatureDoesNotMatch', 'Specified signature does not match our calculation (mode signature-error).', true);
    if (!signaturesEqual(acs3Signature(this.options.accessKeySecret, toSign), auth.signature)) {
      return this.reject(ctx, 400, 'SignatureDoesNotMatch', `Specified signature does not match our calculation. server string to sign is:${toSign}`);
    }
    this.forgetOldNonces(receivedAtMs);
    if (this.nonces.has(nonce)) return this.reject(ctx, 400, 'SignatureNonceUsed', 'Specified signature nonce was used already.');
    this.nonces.set(nonce, dateMs + this.maxClockSkewMs);

    const injected = this.failures.shift();
    if (injected !== undefined) return this.reject(ctx, injected.httpStatus, injected.code, injected.message, true);
    // The account's business errors come before the message's, with HTTP 200 as from Aliyun.
    if (this.modeNow === 'no-credit') return this.reject(ctx, 200, 'isv.AMOUNT_NOT_ENOUGH', '账户余额不足', true);
    if (this.modeNow === 'out-of-service') return this.reject(ctx, 200, 'isv.OUT_OF_SERVICE', '业务停机', true);
    if (this.modeNow === 'flow-control') return this.reject(ctx, 200, 'isv.BUSINESS_LIMIT_CONTROL', '触发业务流控', true);

    // What: SendSms parameters. Business errors come with HTTP 200, as from Aliyun.
    const phoneNumbers = params.get('PhoneNumbers') ?? '';
    const numbers = phoneNumbers.split(',').map((n) => n.trim());
    if (phoneNumbers === '' || !numbers.every((n) => PHONE_NUMBER.test(n))) return this.reject(ctx, 200, 'isv.MOBILE_NUMBER_ILLEGAL', '非法手机号');
    if (numbers.length > MAX_PHONE_NUMBERS) return this.reject(ctx, 200, 'isv.MOBILE_COUNT_OVER_LIMIT', '手机号码数量超过限制');
    const bare = numbers.map((n) => n.replace(/^(?:\+86|0086|86|\+)(?=1\d{10}$)/, ''));
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
    const rawParam = params.get('TemplateParam');
    let templateParam: Record<string, string> = {};
    if (rawParam === undefined || rawParam === '') {
      if (variables === undefined || variables.length > 0) return this.reject(ctx, 200, 'isv.TEMPLATE_MISSING_PARAMETERS', '模板变量缺少对应参数值');
    } else {
      const parsed = parseTemplateParam(rawParam);
      if (parsed === null) return this.reject(ctx, 200, 'isv.INVALID_JSON_PARAM', 'JSON参数不合法，只接受字符串值');
      templateParam = parsed;
    }
    const urls = Object.entries(templateParam).filter(([, value]) => URL_IN_VALUE.test(value));
    if (urls.length > 0) return this.reject(ctx, 200, 'isv.PARAM_NOT_SUPPORT_URL', `不支持url为变量: ${urls.map(([name]) => name).join(',')}`);
    const missing = (variables ?? []).filter((v) => !Object.hasOwn(templateParam, v) || templateParam[v] === '');
    if (missing.length > 0) return this.reject(ctx, 200, 'isv.TEMPLATE_MISSING_PARAMETERS', `模板变量缺少对应参数值: ${missing.join(',')}`);
    const tooLong = Object.entries(templateParam).filter(([, value]) => Array.from(value).length > this.maxParamChars);
    if (tooLong.length > 0) {
      return this.reject(ctx, 200, 'isv.PARAM_LENGTH_LIMIT', `参数超出长度限制 (${this.maxParamChars}): ${tooLong.map(([name]) => name).join(',')}`);
    }

    const sms: AcceptedSms = {
      bizId: `${String(receivedAtMs).slice(-9)}${String(++this.bizSeq).padStart(9, '0')}^0`,
      requestId,
      phoneNumbers,
      signName,
      templateCode,
      templateParam,
      outId: ctx.outId,
      receivedAtMs,
    };
    this.acceptedList.push(sms);
    this.options.onAccepted?.(sms);
    for (const waiter of this.waiters) {
      if (waiter.predicate(sms)) {
        clearTimeout(waiter.timer);
        this.waiters.delete(waiter);
        waiter.resolve(sms);
      }
    }
    return { status: 200, body: { Code: 'OK', Message: 'OK', BizId: sms.bizId, RequestId: requestId } };
  }

  private reject(
    ctx: { receivedAtMs: number; requestId: string; outId: string | null },
    httpStatus: number,
    code: string,
    message: string,
    injected = false,
  ): Reply {
    const rejection: RejectedRequest = { code, httpStatus, message, requestId: ctx.requestId, outId: ctx.outId, receivedAtMs: ctx.receivedAtMs, injected };
    this.rejectedList.push(rejection);
    this.options.onRejected?.(rejection);
    const body: Record<string, unknown> = { RequestId: ctx.requestId, Code: code, Message: message };
    if (httpStatus !== 200) body.HostId = 'dysmsapi.aliyuncs.com';
    return { status: httpStatus, body };
  }

  private forgetOldNonces(nowMs: number): void {
    if (this.nonces.size < 10_000) return;
    for (const [nonce, forgetAtMs] of this.nonces) if (forgetAtMs < nowMs) this.nonces.delete(nonce);
  }

  private reply(res: ServerResponse, reply: Reply): void {
    if (this.latencyMs === 0) {
      this.send(res, reply);
      return;
    }
    const timer = setTimeout(() => {
      this.replyTimers.delete(timer);
      this.send(res, reply);
    }, this.latencyMs);
    this.replyTimers.add(timer);
  }

  private send(res: ServerResponse, reply: Reply): void {
    if (res.destroyed) return;
    const payload = JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      'content-type': 'application/json;charset=utf-8',
      'content-length': Buffer.byteLength(payload),
      'x-acs-request-id': String(reply.body.RequestId ?? ''),
    });
    res.end(payload);
  }
}

/** TemplateParam as Aliyun reads it: a JSON object of string (or number) values; null when it is not one. */
function parseTemplateParam(raw: string): Record<string, string> | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === 'string') result[name] = value;
    else if (typeof value === 'number' && Number.isFinite(value)) result[name] = String(value);
    else return null;
  }
  return result;
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.pause();
        reject(new Error('body too large'));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** One line about a rejected request, phone-free, for logs. */
export function describeRejection(rejection: RejectedRequest): string {
  return `rejected ${rejection.code} (HTTP ${rejection.httpStatus}${rejection.injected ? ', injected' : ''}) outId=${rejection.outId ?? '-'}: ${rejection.message}`;
}

/** The accepted SMS with its phone numbers masked, for logs. */
export function maskAcceptedSms(sms: AcceptedSms): AcceptedSms {
  return { ...sms, phoneNumbers: sms.phoneNumbers.split(',').map((n) => maskPhone(n.trim())).join(',') };
}
