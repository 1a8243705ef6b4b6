/**
 * What every local stand-in of an Aliyun RPC API (the SMS service's and the
 * voice service's, both version 2017-05-25) shares: it speaks the API as the
 * official SDKs call it — POST / with the parameters in the query string (or a
 * form body), x-acs-action / x-acs-version headers — and checks the
 * ACS3-HMAC-SHA256 signature with its own implementation (acs3-signature.ts),
 * the date window and nonce reuse, as Aliyun does; it plays the provider's
 * failures by mode (setMode, or PUT /_control), records what it accepted and
 * what it refused, and answers each action through its subclass.
 *
 * Answers follow Aliyun: authentication errors are HTTP 4xx with a JSON
 * {RequestId, HostId, Code, Message}; business errors (isv.*) are HTTP 200 with
 * their Code; success is {Code:'OK', Message:'OK', RequestId, …}.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '@kanjia/protocol';
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

/** Both the SMS API (dysmsapi) and the voice API (dyvmsapi) are version 2017-05-25. */
export const ALIYUN_API_VERSION = '2017-05-25';
/** Aliyun accepts a request whose x-acs-date is within 15 minutes of its own clock. */
export const ACS_MAX_CLOCK_SKEW_MS = 15 * 60_000;
const MAX_BODY_BYTES = 1024 * 1024;
const ACS_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/**
 * What Aliyun takes for a link in a variable value (a scheme, www., or a host
 * name with a common top-level domain): it answers isv.PARAM_NOT_SUPPORT_URL,
 * because a link must be fixed text of the registered template.
 */
export const URL_IN_VALUE = /(?:[a-z][a-z0-9+.-]*:\/\/|www\.)|(?:^|[^a-z0-9-])[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|gov|edu|io|top|xyz|info|cc|me|vip|ai|app|dev|link)(?![a-z0-9-])/i;

/**
 * How the server answers every authenticated request:
 * - ok: as Aliyun does when all is well;
 * - signature-error: SignatureDoesNotMatch (HTTP 400), as after the secret was changed;
 * - key-disabled: InvalidAccessKeyId.Inactive (HTTP 400), the key switched off;
 * - no-credit: isv.AMOUNT_NOT_ENOUGH (HTTP 200) to a send, the balance used up;
 * - out-of-service: isv.OUT_OF_SERVICE (HTTP 200) to a send, the account stopped;
 * - flow-control: isv.BUSINESS_LIMIT_CONTROL (HTTP 200) to every send, the account's flow control;
 * - outage-503: ServiceUnavailable (HTTP 503) before any check;
 * - outage-reset: the connection is reset without an answer.
 * A query (QuerySendDetails, QueryCallDetailByCallId) is answered in the account
 * modes: only sends are refused for credit or flow control.
 */
export const LOCAL_SMS_MODES = ['ok', 'signature-error', 'key-disabled', 'no-credit', 'out-of-service', 'flow-control', 'outage-503', 'outage-reset'] as const;
export type LocalSmsMode = (typeof LOCAL_SMS_MODES)[number];

/** Path of the control endpoint: GET the state, PUT (or POST) a control object as JSON. */
export const LOCAL_SMS_CONTROL_PATH = '/_control';

const NUMBER = z.string().regex(/^\+?\d{5,20}$/);

/** What every stand-in's control endpoint (and setState) changes; numbers as the API receives them. */
export const LocalApiControl = z
  .object({
    mode: z.enum(LOCAL_SMS_MODES).optional(),
    /** Answered isv.MOBILE_NUMBER_ILLEGAL (a number that cannot be reached). */
    badNumbers: z.array(NUMBER).max(1000).optional(),
    /** Answered isv.BUSINESS_LIMIT_CONTROL (the per-number limit reached). */
    limitedNumbers: z.array(NUMBER).max(1000).optional(),
  })
  .strict();
export type LocalApiControl = z.infer<typeof LocalApiControl>;

export interface LocalApiState {
  mode: LocalSmsMode;
  badNumbers: string[];
  limitedNumbers: string[];
  accepted: number;
  rejected: number;
}

export interface LocalAliyunApiServerOptions<A> {
  accessKeyId: string;
  accessKeySecret: string;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Longest accepted variable value in characters; default 35 (isv.PARAM_LENGTH_LIMIT beyond). */
  maxParamChars?: number;
  /** Allowed difference between x-acs-date and the server clock; default 15 minutes. */
  maxClockSkewMs?: number;
  /** Server clock for the date window, receivedAtMs and receipts; default the system clock. */
  clock?: Pick<Clock, 'nowMs'>;
  /** Called for each accepted send (the command prints them). */
  onAccepted?: (accepted: A) => void;
  /** Called for each rejected request. */
  onRejected?: (rejection: RejectedRequest) => void;
  /** The mode to start in; default ok. */
  mode?: LocalSmsMode;
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
  /** host:port, the `endpoint` setting of the Aliyun channels (with protocol 'http'). */
  endpoint: string;
}

export interface Reply {
  status: number;
  body: Record<string, unknown>;
}

/** What a subclass gets with each authenticated request. */
export interface RequestContext {
  receivedAtMs: number;
  requestId: string;
  outId: string | null;
}

/** What the API is: its actions, which of them send (and are refused in the account modes), and the HostId of its errors. */
export interface ApiSpec {
  actions: ReadonlySet<string>;
  sendingActions: ReadonlySet<string>;
  hostId: string;
  /** What waitFor names in its timeout message, e.g. "SMS", "call". */
  noun: string;
}

interface Waiter<A> {
  predicate: (accepted: A) => boolean;
  resolve: (accepted: A) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** The prefixes a called number may carry: +, +86, 0086, 86 before an 11-digit mobile. */
export function bareNumber(number: string): string {
  return number.trim().replace(/^(?:\+86|0086|86|\+)(?=1\d{10}$)/, '');
}

export abstract class LocalAliyunApiServer<A, C extends LocalApiControl, S extends LocalApiState> {
  private server: Server | undefined;
  private address: LocalAliyunSmsAddress | undefined;
  protected readonly acceptedList: A[] = [];
  private readonly rejectedList: RejectedRequest[] = [];
  /** Nonce → when it may be forgotten (its date is then out of the window anyway). */
  private readonly nonces = new Map<string, number>();
  private readonly waiters = new Set<Waiter<A>>();
  private readonly replyTimers = new Set<ReturnType<typeof setTimeout>>();
  private failures: Array<Required<InjectedFailure>> = [];
  private latencyMs = 0;
  private modeNow: LocalSmsMode = 'ok';
  protected readonly badNumbers = new Set<string>();
  protected readonly limitedNumbers = new Set<string>();
  protected readonly clock: Pick<Clock, 'nowMs'>;
  protected readonly maxParamChars: number;
  private readonly maxClockSkewMs: number;

  protected constructor(
    protected readonly options: LocalAliyunApiServerOptions<A>,
    private readonly spec: ApiSpec,
    /** The schema of the control endpoint's body (LocalApiControl and the subclass's own fields). */
    private readonly controlSchema: z.ZodType<C>,
  ) {
    this.clock = options.clock ?? systemClock;
    this.maxClockSkewMs = options.maxClockSkewMs ?? ACS_MAX_CLOCK_SKEW_MS;
    this.maxParamChars = options.maxParamChars ?? 35;
    this.modeNow = options.mode ?? 'ok';
  }

  /** Answers one authenticated request of one of the API's actions. */
  protected abstract answer(action: string, params: ReadonlyMap<string, string>, ctx: RequestContext): Reply;

  /** Changes what `control` names; what it leaves out stays. */
  abstract setState(control: C): void;

  /** The mode, the numbers set, and how many requests were accepted and rejected. */
  abstract state(): S;

  /** Forgets the subclass's own records and settings (reset() calls it). */
  protected abstract resetOwn(): void;

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
      waiter.reject(new Error(`${this.constructor.name} stopped while waiting for a matching ${this.spec.noun}`));
    }
    this.waiters.clear();
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** Everything accepted, oldest first. */
  get accepted(): readonly A[] {
    return this.acceptedList;
  }

  /** Every rejected request with its code, oldest first. */
  get rejected(): readonly RejectedRequest[] {
    return this.rejectedList;
  }

  /** Forgets what was accepted and rejected, the pending failures and the latency; back to mode ok with no numbers set. */
  reset(): void {
    this.acceptedList.length = 0;
    this.rejectedList.length = 0;
    this.failures = [];
    this.latencyMs = 0;
    this.modeNow = 'ok';
    this.badNumbers.clear();
    this.limitedNumbers.clear();
    this.resetOwn();
  }

  /** The mode every authenticated request is answered in from now on (see LOCAL_SMS_MODES). */
  setMode(mode: LocalSmsMode): void {
    this.modeNow = mode;
  }

  get mode(): LocalSmsMode {
    return this.modeNow;
  }

  /** The next `count` authenticated sends fail with this code / HTTP status. */
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

  /** Resolves with the first accepted send (already received or to come) that matches; rejects after `timeoutMs`. */
  waitFor(predicate: (accepted: A) => boolean = () => true, timeoutMs = 5_000): Promise<A> {
    const found = this.acceptedList.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise<A>((resolve, reject) => {
      const waiter: Waiter<A> = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const codes = this.rejectedList.map((r) => r.code).join(', ') || 'none';
          reject(new Error(`no matching ${this.spec.noun} within ${timeoutMs} ms (accepted: ${this.acceptedList.length}, rejected: ${codes})`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** The base part of setState: mode and the bad and limited numbers. */
  protected setBaseState(control: LocalApiControl): void {
    if (control.mode !== undefined) this.modeNow = control.mode;
    replaceNumbers(this.badNumbers, control.badNumbers);
    replaceNumbers(this.limitedNumbers, control.limitedNumbers);
  }

  /** The base part of state(). */
  protected baseState(): LocalApiState {
    return { mode: this.modeNow, badNumbers: [...this.badNumbers], limitedNumbers: [...this.limitedNumbers], accepted: this.acceptedList.length, rejected: this.rejectedList.length };
  }

  /** Records an accepted send: the list, onAccepted, and any waitFor it answers. */
  protected record(accepted: A): void {
    this.acceptedList.push(accepted);
    this.options.onAccepted?.(accepted);
    for (const waiter of this.waiters) {
      if (waiter.predicate(accepted)) {
        clearTimeout(waiter.timer);
        this.waiters.delete(waiter);
        waiter.resolve(accepted);
      }
    }
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

  /** GET: the state; PUT or POST a control object (JSON): changes it and answers the new state; 400 BAD_CONTROL otherwise. */
  private async control(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET') return this.send(res, { status: 200, body: { ...(this.state() as LocalApiState) } });
    if (req.method !== 'PUT' && req.method !== 'POST') return this.send(res, { status: 405, body: { code: 'BAD_CONTROL', message: 'GET the state, or PUT {"mode": …, "badNumbers": […], "limitedNumbers": […]}' } });
    let parsed: ReturnType<typeof this.controlSchema.safeParse>;
    try {
      parsed = this.controlSchema.safeParse(JSON.parse((await readBody(req, 64 * 1024)).toString('utf8')));
    } catch {
      return this.send(res, { status: 400, body: { code: 'BAD_CONTROL', message: 'the body must be JSON' } });
    }
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
      return this.send(res, { status: 400, body: { code: 'BAD_CONTROL', message: `${problems} (modes: ${LOCAL_SMS_MODES.join(', ')})` } });
    }
    this.setState(parsed.data);
    this.send(res, { status: 200, body: { ...(this.state() as LocalApiState) } });
  }

  /** Checks one request as Aliyun would, then lets the subclass answer it. */
  private process(req: IncomingMessage, body: Buffer, receivedAtMs: number, requestId: string): Reply {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const ctx: RequestContext = { receivedAtMs, requestId, outId: null };
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
    if (path !== '/' || action === undefined || !this.spec.actions.has(action)) return this.reject(ctx, 404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');
    if (header('x-acs-version') !== ALIYUN_API_VERSION) return this.reject(ctx, 400, 'InvalidVersion', 'Specified parameter Version is not valid.');

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

    if (this.spec.sendingActions.has(action)) {
      const injected = this.failures.shift();
      if (injected !== undefined) return this.reject(ctx, injected.httpStatus, injected.code, injected.message, true);
      // The account's business errors come before the message's, with HTTP 200 as from Aliyun.
      if (this.modeNow === 'no-credit') return this.reject(ctx, 200, 'isv.AMOUNT_NOT_ENOUGH', '账户余额不足', true);
      if (this.modeNow === 'out-of-service') return this.reject(ctx, 200, 'isv.OUT_OF_SERVICE', '业务停机', true);
      if (this.modeNow === 'flow-control') return this.reject(ctx, 200, 'isv.BUSINESS_LIMIT_CONTROL', '触发业务流控', true);
    }
    return this.answer(action, params, ctx);
  }

  /** Records a refused request and returns Aliyun's error answer for it. */
  protected reject(ctx: RequestContext, httpStatus: number, code: string, message: string, injected = false): Reply {
    const rejection: RejectedRequest = { code, httpStatus, message, requestId: ctx.requestId, outId: ctx.outId, receivedAtMs: ctx.receivedAtMs, injected };
    this.rejectedList.push(rejection);
    this.options.onRejected?.(rejection);
    const body: Record<string, unknown> = { RequestId: ctx.requestId, Code: code, Message: message };
    if (httpStatus !== 200) body.HostId = this.spec.hostId;
    return { status: httpStatus, body };
  }

  /**
   * The JSON variables of a template (TemplateParam, TtsParam) checked as Aliyun
   * checks them against the registered `variables` (undefined: any): a reply for
   * the first problem, else the values.
   */
  protected checkTemplateParam(ctx: RequestContext, raw: string | undefined, variables: readonly string[] | undefined, invalidJsonCode: string): Reply | Record<string, string> {
    let values: Record<string, string> = {};
    if (raw === undefined || raw === '') {
      if (variables === undefined || variables.length > 0) return this.reject(ctx, 200, 'isv.TEMPLATE_MISSING_PARAMETERS', '模板变量缺少对应参数值');
    } else {
      const parsed = parseTemplateParam(raw);
      if (parsed === null) return this.reject(ctx, 200, invalidJsonCode, 'JSON参数不合法，只接受字符串值');
      values = parsed;
    }
    const urls = Object.entries(values).filter(([, value]) => URL_IN_VALUE.test(value));
    if (urls.length > 0) return this.reject(ctx, 200, 'isv.PARAM_NOT_SUPPORT_URL', `不支持url为变量: ${urls.map(([name]) => name).join(',')}`);
    const missing = (variables ?? []).filter((v) => !Object.hasOwn(values, v) || values[v] === '');
    if (missing.length > 0) return this.reject(ctx, 200, 'isv.TEMPLATE_MISSING_PARAMETERS', `模板变量缺少对应参数值: ${missing.join(',')}`);
    const tooLong = Object.entries(values).filter(([, value]) => Array.from(value).length > this.maxParamChars);
    if (tooLong.length > 0) return this.reject(ctx, 200, 'isv.PARAM_LENGTH_LIMIT', `参数超出长度限制 (${this.maxParamChars}): ${tooLong.map(([name]) => name).join(',')}`);
    return values;
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

/** Whether a reply came back from a check (rather than the checked values). */
export function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && 'status' in value && 'body' in value && typeof (value as Reply).status === 'number';
}

function replaceNumbers(set: Set<string>, numbers: readonly string[] | undefined): void {
  if (numbers === undefined) return;
  set.clear();
  for (const n of numbers) set.add(bareNumber(n));
}

/** Replaces a per-number setting (a receipt, a call outcome) with `entries`, the numbers bare; undefined leaves it as it is. */
export function replacePerNumber<V>(map: Map<string, V>, entries: Readonly<Record<string, V>> | undefined): void {
  if (entries === undefined) return;
  map.clear();
  for (const [number, value] of Object.entries(entries)) map.set(bareNumber(number), value);
}

/** A template's JSON variables as Aliyun reads them: an object of string (or number) values; null when it is not one. */
export function parseTemplateParam(raw: string): Record<string, string> | null {
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
