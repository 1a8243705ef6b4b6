/**
 * A stand-in for Twilio's Messages API (2010-04-01) on 127.0.0.1, for adapter
 * and end-to-end tests: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`
 * (a form: To in E.164, From or MessagingServiceSid, Body, StatusCallback) and
 * `GET …/Messages/{Sid}.json`, HTTP Basic auth with the account's auth token
 * or an API key, answers shaped like Twilio's: 201 with the Message resource,
 * errors as {code, message, more_info, status}.
 *
 * Its mode is switched at run time (setMode, or PUT /_control
 * {"mode": …, "errorCode": N}) to play the provider's failures: an error code
 * for every message, the API's rate limit (429, 20429), an outage (503, or
 * the connection reset without an answer); some numbers can be made bad
 * (21614). Each message's delivery status is set with setDelivery or
 * PUT /_control/messages/{Sid} {"status": "delivered" | "undelivered" | …, "errorCode": 30003}.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { maskPhone, systemClock, type Clock } from '@kanjia/protocol';
import { z } from 'zod';
import { AcceptedWaiters, LoopbackListener, readRequestBody, writeJson } from './stand-in-http.js';

export const LOCAL_TWILIO_MODES = ['ok', 'error', 'rate-limit', 'outage-503', 'outage-reset'] as const;
export type LocalTwilioMode = (typeof LOCAL_TWILIO_MODES)[number];

export const LOCAL_TWILIO_CONTROL_PATH = '/_control';
/** Twilio's longest message body, in characters. */
export const TWILIO_MAX_BODY_CHARS = 1600;

const E164 = /^\+[1-9]\d{6,14}$/;
const MAX_BODY_BYTES = 64 * 1024;

export const MESSAGE_STATUSES = ['accepted', 'scheduled', 'queued', 'sending', 'sent', 'delivered', 'read', 'undelivered', 'failed', 'canceled'] as const;
export type LocalTwilioMessageStatus = (typeof MESSAGE_STATUSES)[number];

/** What PUT /_control (and setState) changes; what it leaves out stays. */
export const LocalTwilioControl = z
  .object({
    mode: z.enum(LOCAL_TWILIO_MODES).optional(),
    /** Mode error: the Twilio code answered to every message (e.g. 21610, 63038). */
    errorCode: z.number().int().min(1).max(99_999).optional(),
    /** Mode error: the HTTP status of that answer; default 400. */
    errorStatus: z.number().int().min(400).max(599).optional(),
    /** Numbers (E.164) answered 21614, not a valid mobile number. */
    badNumbers: z.array(z.string().regex(E164)).max(1000).optional(),
  })
  .strict();
export type LocalTwilioControl = z.infer<typeof LocalTwilioControl>;

/** A message's delivery, as PUT /_control/messages/{Sid} sets it. */
export const LocalTwilioDelivery = z
  .object({
    status: z.enum(MESSAGE_STATUSES),
    /** The carrier's code of an undelivered or failed message (30003 unreachable, 30005 unknown, 30006 landline, …). */
    errorCode: z.number().int().nullable().optional(),
    errorMessage: z.string().max(500).nullable().optional(),
  })
  .strict();
export type LocalTwilioDelivery = z.infer<typeof LocalTwilioDelivery>;

export interface LocalTwilioMessage {
  sid: string;
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  statusCallback: string | null;
  /** Who authenticated: the Account SID or an API key SID. */
  authUser: string;
  status: LocalTwilioMessageStatus;
  errorCode: number | null;
  errorMessage: string | null;
  receivedAtMs: number;
  updatedAtMs: number;
}

export interface LocalTwilioRejection {
  code: number;
  httpStatus: number;
  message: string;
  receivedAtMs: number;
  /** True when the failure was ordered: a mode other than ok, a bad number. */
  injected: boolean;
}

export interface LocalTwilioServerOptions {
  accountSid: string;
  authToken: string;
  /** API keys of the account: SID → secret. */
  apiKeys?: Readonly<Record<string, string>>;
  /** The account's senders; when given, any other From is 21606. */
  senders?: readonly string[];
  /** The account's Messaging Services; when given, any other is 21701. */
  messagingServiceSids?: readonly string[];
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Server clock of the records and the dates answered; default the system clock. */
  clock?: Pick<Clock, 'nowMs'>;
  mode?: LocalTwilioMode;
  /** Called for each accepted message (the command prints them). */
  onAccepted?: (message: LocalTwilioMessage) => void;
  /** Called for each refused request (its message may quote the number: mask it before logging). */
  onRejected?: (rejection: LocalTwilioRejection) => void;
}

export interface LocalTwilioAddress {
  port: number;
  /** http://127.0.0.1:port, the `baseUrl` setting of TwilioSmsSender. */
  url: string;
}

interface Reply {
  status: number;
  body: unknown;
}

export class LocalTwilioServer {
  private readonly listener: LoopbackListener;
  private readonly messageList: LocalTwilioMessage[] = [];
  private readonly bySid = new Map<string, LocalTwilioMessage>();
  private readonly rejectedList: LocalTwilioRejection[] = [];
  private readonly waiters = new AcceptedWaiters<LocalTwilioMessage>('Twilio message');
  private readonly replyTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly badNumbers = new Set<string>();
  private modeNow: LocalTwilioMode;
  private errorCode = 21610;
  private errorStatus = 400;
  private latencyMs = 0;
  private readonly clock: Pick<Clock, 'nowMs'>;

  constructor(private readonly options: LocalTwilioServerOptions) {
    this.clock = options.clock ?? systemClock;
    this.listener = new LoopbackListener(options.host ?? '127.0.0.1', options.port ?? 0);
    this.modeNow = options.mode ?? 'ok';
  }

  /** Listens (127.0.0.1, port 0 unless told otherwise); `url` is the baseUrl of TwilioSmsSender. */
  async start(): Promise<LocalTwilioAddress> {
    return this.listener.start((req, res) => this.handle(req, res), (err) => twilioError(20500, `Internal Server Error: ${String(err)}`, 500));
  }

  /** Closes the port and every connection, drops delayed answers, fails pending waitFor calls. Idempotent. */
  async stop(): Promise<void> {
    for (const timer of this.replyTimers) clearTimeout(timer);
    this.replyTimers.clear();
    this.waiters.rejectAll('LocalTwilioServer stopped while waiting for a message');
    await this.listener.stop();
  }

  /** Every accepted message, oldest first. */
  get messages(): readonly LocalTwilioMessage[] {
    return this.messageList;
  }

  /** Every refused request, oldest first. */
  get rejected(): readonly LocalTwilioRejection[] {
    return this.rejectedList;
  }

  get mode(): LocalTwilioMode {
    return this.modeNow;
  }

  /** The mode of every authenticated request from now on; `errorCode`/`errorStatus` for mode error. */
  setMode(mode: LocalTwilioMode, error: { errorCode?: number; errorStatus?: number } = {}): void {
    this.setState({ mode, ...error });
  }

  /** Changes what `control` names. */
  setState(control: LocalTwilioControl): void {
    if (control.mode !== undefined) this.modeNow = control.mode;
    if (control.errorCode !== undefined) this.errorCode = control.errorCode;
    if (control.errorStatus !== undefined) this.errorStatus = control.errorStatus;
    if (control.badNumbers !== undefined) {
      this.badNumbers.clear();
      for (const n of control.badNumbers) this.badNumbers.add(n);
    }
  }

  state(): { mode: LocalTwilioMode; errorCode: number; errorStatus: number; badNumbers: string[]; accepted: number; rejected: number } {
    return { mode: this.modeNow, errorCode: this.errorCode, errorStatus: this.errorStatus, badNumbers: [...this.badNumbers], accepted: this.messageList.length, rejected: this.rejectedList.length };
  }

  /** Sets a message's delivery status (and error code); false when no message has that SID. */
  setDelivery(sid: string, delivery: LocalTwilioDelivery): boolean {
    const message = this.bySid.get(sid);
    if (message === undefined) return false;
    message.status = delivery.status;
    message.errorCode = delivery.errorCode ?? null;
    message.errorMessage = delivery.errorMessage ?? null;
    message.updatedAtMs = this.clock.nowMs();
    return true;
  }

  /** Delays every answer by `ms` (timeouts); 0 answers at once. */
  setLatencyMs(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** Forgets messages and rejections; mode ok, no bad numbers, no latency. */
  reset(): void {
    this.messageList.length = 0;
    this.bySid.clear();
    this.rejectedList.length = 0;
    this.latencyMs = 0;
    this.setState({ mode: 'ok', errorCode: 21610, errorStatus: 400, badNumbers: [] });
  }

  /** The first accepted message (already or to come) that matches; rejects after `timeoutMs`. */
  waitFor(predicate: (message: LocalTwilioMessage) => boolean = () => true, timeoutMs = 5_000): Promise<LocalTwilioMessage> {
    return this.waiters.waitFor(this.messageList, predicate, timeoutMs, () => `accepted: ${this.messageList.length}, rejected: ${this.rejectedList.map((r) => r.code).join(', ') || 'none'}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === LOCAL_TWILIO_CONTROL_PATH || path.startsWith(`${LOCAL_TWILIO_CONTROL_PATH}/`)) return this.control(req, res, path);
    const receivedAtMs = this.clock.nowMs();
    if (this.modeNow === 'outage-reset') {
      this.reject(receivedAtMs, 0, 0, 'connection reset without an answer (mode outage-reset)', true);
      req.socket.destroy();
      return;
    }
    let body: Buffer;
    try {
      body = await readRequestBody(req, MAX_BODY_BYTES);
    } catch {
      return this.reply(res, this.reject(receivedAtMs, 413, 21617, 'The request body is too large.'));
    }
    this.reply(res, this.process(req, path, body, receivedAtMs));
  }

  private process(req: IncomingMessage, path: string, body: Buffer, receivedAtMs: number): Reply {
    if (this.modeNow === 'outage-503') return this.reject(receivedAtMs, 503, 20503, 'Service Unavailable (mode outage-503)', true);
    const route = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages(?:\/([^/]+))?\.json$/.exec(path);
    if (route === null) return this.reject(receivedAtMs, 404, 20404, `The requested resource ${path} was not found`);
    const authUser = this.authenticate(req.headers.authorization);
    if (authUser === null) return this.reject(receivedAtMs, 401, 20003, 'Authenticate');
    if (route[1] !== this.options.accountSid) return this.reject(receivedAtMs, 404, 20404, `The requested resource ${path} was not found`);
    if (this.modeNow === 'rate-limit') return this.reject(receivedAtMs, 429, 20429, 'Too Many Requests (mode rate-limit)', true);
    const sid = route[2];
    if (sid !== undefined) {
      if (req.method !== 'GET') return this.reject(receivedAtMs, 405, 20004, `Method ${req.method} not allowed`);
      const message = this.bySid.get(sid);
      return message === undefined ? this.reject(receivedAtMs, 404, 20404, `The requested resource ${path} was not found`) : { status: 200, body: this.resource(message) };
    }
    if (req.method !== 'POST') return this.reject(receivedAtMs, 405, 20004, `Method ${req.method} not allowed`);
    if (this.modeNow === 'error') return this.reject(receivedAtMs, this.errorStatus, this.errorCode, `injected error ${this.errorCode} (mode error)`, true);
    const form = new URLSearchParams(body.toString('utf8'));
    const to = form.get('To') ?? '';
    const from = form.get('From');
    const service = form.get('MessagingServiceSid');
    const text = form.get('Body') ?? '';
    // Twilio's messages quote the number; TwilioSmsSender must mask it before it logs them.
    if (to === '') return this.reject(receivedAtMs, 400, 21604, "A 'To' phone number is required.");
    if (!E164.test(to)) return this.reject(receivedAtMs, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    if (from === null && service === null) return this.reject(receivedAtMs, 400, 21603, "A 'From' phone number is required.");
    if (from !== null && this.options.senders !== undefined && !this.options.senders.includes(from)) {
      return this.reject(receivedAtMs, 400, 21606, `The From phone number ${from} is not a valid, SMS-capable inbound phone number or short code for your account.`);
    }
    if (service !== null && this.options.messagingServiceSids !== undefined && !this.options.messagingServiceSids.includes(service)) {
      return this.reject(receivedAtMs, 400, 21701, `The Messaging Service ${service} does not exist.`);
    }
    if (text === '') return this.reject(receivedAtMs, 400, 21602, 'Message body is required.');
    if (Array.from(text).length > TWILIO_MAX_BODY_CHARS) return this.reject(receivedAtMs, 400, 21617, 'The concatenated message body exceeds the 1600 character limit.');
    if (this.badNumbers.has(to)) return this.reject(receivedAtMs, 400, 21614, `'To' number ${to} is not a valid mobile number`, true);

    const message: LocalTwilioMessage = {
      sid: `SM${randomBytes(16).toString('hex')}`,
      to,
      from,
      messagingServiceSid: service,
      body: text,
      statusCallback: form.get('StatusCallback'),
      authUser,
      // With a Messaging Service Twilio first answers accepted (it picks the sender), else queued.
      status: service !== null ? 'accepted' : 'queued',
      errorCode: null,
      errorMessage: null,
      receivedAtMs,
      updatedAtMs: receivedAtMs,
    };
    this.messageList.push(message);
    this.bySid.set(message.sid, message);
    this.options.onAccepted?.(message);
    this.waiters.notify(message);
    return { status: 201, body: this.resource(message) };
  }

  /** The user of valid Basic credentials (the Account SID or an API key SID), else null. */
  private authenticate(header: string | undefined): string | null {
    const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? '');
    if (match === null) return null;
    const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return null;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    if (user === this.options.accountSid && password === this.options.authToken) return user;
    const apiKeys = this.options.apiKeys ?? {};
    return Object.hasOwn(apiKeys, user) && apiKeys[user] === password ? user : null;
  }

  /** The Message resource as Twilio answers it (the fields a client reads). */
  private resource(m: LocalTwilioMessage): Record<string, unknown> {
    const date = (ms: number) => new Date(ms).toUTCString().replace('GMT', '+0000');
    return {
      sid: m.sid,
      account_sid: this.options.accountSid,
      api_version: '2010-04-01',
      to: m.to,
      from: m.from,
      messaging_service_sid: m.messagingServiceSid,
      body: m.body,
      status: m.status,
      direction: 'outbound-api',
      num_segments: String(Math.max(1, Math.ceil(Array.from(m.body).length / 67))),
      error_code: m.errorCode,
      error_message: m.errorMessage,
      date_created: date(m.receivedAtMs),
      date_updated: date(m.updatedAtMs),
      date_sent: m.status === 'accepted' || m.status === 'queued' ? null : date(m.updatedAtMs),
      price: null,
      uri: `/2010-04-01/Accounts/${this.options.accountSid}/Messages/${m.sid}.json`,
    };
  }

  /** GET: the state; PUT/POST a LocalTwilioControl, or PUT /_control/messages/{Sid} a LocalTwilioDelivery. */
  private async control(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method === 'GET' && path === LOCAL_TWILIO_CONTROL_PATH) return writeJson(res, 200, this.state());
    if (req.method !== 'PUT' && req.method !== 'POST') return writeJson(res, 405, { code: 'BAD_CONTROL', message: 'GET the state, PUT {"mode": …}, or PUT /_control/messages/{Sid} {"status": …}' });
    let json: unknown;
    try {
      json = JSON.parse((await readRequestBody(req, 64 * 1024)).toString('utf8'));
    } catch {
      return writeJson(res, 400, { code: 'BAD_CONTROL', message: 'the body must be JSON' });
    }
    const sid = /^\/_control\/messages\/([^/]+)$/.exec(path)?.[1];
    if (sid !== undefined) {
      const delivery = LocalTwilioDelivery.safeParse(json);
      if (!delivery.success) return writeJson(res, 400, { code: 'BAD_CONTROL', message: `${issues(delivery.error)} (statuses: ${MESSAGE_STATUSES.join(', ')})` });
      if (!this.setDelivery(sid, delivery.data)) return writeJson(res, 404, { code: 'BAD_CONTROL', message: `no message ${sid}` });
      const message = this.bySid.get(sid);
      return writeJson(res, 200, message === undefined ? {} : this.resource(message));
    }
    if (path !== LOCAL_TWILIO_CONTROL_PATH) return writeJson(res, 404, { code: 'BAD_CONTROL', message: `unknown control path ${path}` });
    const control = LocalTwilioControl.safeParse(json);
    if (!control.success) return writeJson(res, 400, { code: 'BAD_CONTROL', message: `${issues(control.error)} (modes: ${LOCAL_TWILIO_MODES.join(', ')})` });
    this.setState(control.data);
    writeJson(res, 200, this.state());
  }

  private reject(receivedAtMs: number, httpStatus: number, code: number, message: string, injected = false): Reply {
    const rejection: LocalTwilioRejection = { code, httpStatus, message, receivedAtMs, injected };
    this.rejectedList.push(rejection);
    this.options.onRejected?.(rejection);
    return { status: httpStatus, body: twilioError(code, message, httpStatus) };
  }

  private reply(res: ServerResponse, reply: Reply): void {
    if (this.latencyMs === 0) return writeJson(res, reply.status, reply.body);
    const timer = setTimeout(() => {
      this.replyTimers.delete(timer);
      writeJson(res, reply.status, reply.body);
    }, this.latencyMs);
    this.replyTimers.add(timer);
  }
}

function twilioError(code: number, message: string, status: number): Record<string, unknown> {
  return { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status };
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
}

/** The message with its number masked, for logs. */
export function maskTwilioMessage(message: LocalTwilioMessage): LocalTwilioMessage {
  return { ...message, to: maskPhone(message.to) };
}
