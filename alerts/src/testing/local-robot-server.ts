/**
 * A stand-in for the DingTalk and WeCom group robot webhooks on 127.0.0.1,
 * both on one port (their paths differ): `POST /robot/send?access_token=T
 * [&timestamp=MS&sign=S]` as DingTalk's custom robot, `POST
 * /cgi-bin/webhook/send?key=K` as WeCom's group robot.
 *
 * It checks what the real ones check: DingTalk's signed request (加签) —
 * the timestamp within an hour of the server's clock, the sign equal to
 * base64(HmacSHA256(secret, `${MS}\n${secret}`)) after URL decoding — and its
 * keywords (自定义关键词) when set, answering 310000 as DingTalk does; WeCom's
 * key (93000); the message's shape and size; and each robot's 20 posts a
 * minute (DingTalk 130101, then refusing for 10 minutes; WeCom 45009).
 * Accepted posts are recorded.
 *
 * Its mode is switched at run time (setMode, or PUT /_control
 * {"mode": …, "errcode": N}): an errcode for every post, the rate limit, an
 * outage (503, or the connection reset without an answer).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { systemClock, type Clock } from '@kanjia/protocol';
import { z } from 'zod';
import { AcceptedWaiters, LoopbackListener, readRequestBody, writeJson } from './stand-in-http.js';

export const LOCAL_ROBOT_MODES = ['ok', 'error', 'rate-limited', 'outage-503', 'outage-reset'] as const;
export type LocalRobotMode = (typeof LOCAL_ROBOT_MODES)[number];
export const LOCAL_ROBOT_CONTROL_PATH = '/_control';

export const DINGTALK_ROBOT_PATH = '/robot/send';
export const WECOM_ROBOT_PATH = '/cgi-bin/webhook/send';
/** DingTalk's window for the signature's timestamp. */
export const DINGTALK_SIGN_WINDOW_MS = 60 * 60_000;
/** After its 20 posts a minute, DingTalk refuses a robot's posts for 10 minutes. */
export const DINGTALK_THROTTLE_MS = 10 * 60_000;
const MINUTE_MS = 60_000;
const WECOM_MAX_TEXT_BYTES = 2048;
const WECOM_MAX_MARKDOWN_BYTES = 4096;

export const LocalRobotControl = z
  .object({
    mode: z.enum(LOCAL_ROBOT_MODES).optional(),
    /** Mode error: the errcode answered to every post (310000, 93000, …). */
    errcode: z.number().int().optional(),
  })
  .strict();
export type LocalRobotControl = z.infer<typeof LocalRobotControl>;

export interface LocalDingTalkRobot {
  /** The 加签 secret; absent: the robot takes unsigned posts. */
  secret?: string;
  /** 自定义关键词: when given, a post must contain one of them. */
  keywords?: readonly string[];
}

export interface LocalRobotServerOptions {
  /** DingTalk robots by access token. */
  dingtalk?: Readonly<Record<string, LocalDingTalkRobot>>;
  /** WeCom robot keys. */
  wecom?: readonly string[];
  /** Default 20 (both robots' limit); posts beyond it in one minute are refused. */
  postsPerMinute?: number;
  /** Default 1 hour (DingTalk's). */
  signWindowMs?: number;
  host?: string;
  port?: number;
  /** Server clock of the signature window, the per-minute limit and the records; default the system clock. */
  clock?: Pick<Clock, 'nowMs'>;
  mode?: LocalRobotMode;
  /** Called for each accepted post (the command prints them). */
  onAccepted?: (post: LocalRobotPost) => void;
  /** Called for each refused post. */
  onRejected?: (rejection: LocalRobotRejection) => void;
}

export interface LocalRobotPost {
  robot: 'dingtalk' | 'wecom';
  /** The DingTalk access token or the WeCom key. */
  token: string;
  msgtype: string;
  /** DingTalk markdown's title. */
  title: string | null;
  /** DingTalk markdown.text or text.content; WeCom markdown.content or text.content. */
  text: string;
  /** DingTalk at.isAtAll, or WeCom's mentioned_list holding @all. */
  mentionAll: boolean;
  /** DingTalk at.atMobiles and WeCom mentioned_mobile_list: phone numbers sent to the robot. */
  mentionedMobiles: string[];
  /** Whether the DingTalk post was signed (and the sign checked). */
  signed: boolean;
  receivedAtMs: number;
}

export interface LocalRobotRejection {
  robot: 'dingtalk' | 'wecom' | 'unknown';
  errcode: number;
  errmsg: string;
  httpStatus: number;
  receivedAtMs: number;
  injected: boolean;
}

interface Reply {
  status: number;
  body: unknown;
}

type Robot = LocalRobotPost['robot'];

export class LocalRobotServer {
  private readonly listener: LoopbackListener;
  private readonly postList: LocalRobotPost[] = [];
  private readonly rejectedList: LocalRobotRejection[] = [];
  private readonly waiters = new AcceptedWaiters<LocalRobotPost>('robot post');
  /** robot:token → when its accepted posts came, the last minute's. */
  private readonly recent = new Map<string, number[]>();
  /** robot:token → until when DingTalk refuses it (the 10 minutes after the limit). */
  private readonly throttledUntil = new Map<string, number>();
  private modeNow: LocalRobotMode;
  private errcode = 310000;
  private readonly clock: Pick<Clock, 'nowMs'>;
  private readonly postsPerMinute: number;
  private readonly signWindowMs: number;

  constructor(private readonly options: LocalRobotServerOptions) {
    this.clock = options.clock ?? systemClock;
    this.listener = new LoopbackListener(options.host ?? '127.0.0.1', options.port ?? 0);
    this.modeNow = options.mode ?? 'ok';
    this.postsPerMinute = options.postsPerMinute ?? 20;
    this.signWindowMs = options.signWindowMs ?? DINGTALK_SIGN_WINDOW_MS;
  }

  /** Listens (127.0.0.1, port 0 unless told otherwise); `url` is the baseUrl of both robot channels. */
  async start(): Promise<{ port: number; url: string }> {
    return this.listener.start((req, res) => this.handle(req, res), (err) => ({ errcode: -1, errmsg: `system busy: ${String(err)}` }));
  }

  /** Closes the port and every connection, fails pending waitFor calls. Idempotent. */
  async stop(): Promise<void> {
    this.waiters.rejectAll('LocalRobotServer stopped while waiting for a post');
    await this.listener.stop();
  }

  /** Every accepted post, oldest first. */
  get posts(): readonly LocalRobotPost[] {
    return this.postList;
  }

  /** Every refused post, oldest first. */
  get rejected(): readonly LocalRobotRejection[] {
    return this.rejectedList;
  }

  get mode(): LocalRobotMode {
    return this.modeNow;
  }

  /** The mode of every post from now on; `errcode` for mode error. */
  setMode(mode: LocalRobotMode, errcode?: number): void {
    this.setState({ mode, errcode });
  }

  setState(control: LocalRobotControl): void {
    if (control.mode !== undefined) this.modeNow = control.mode;
    if (control.errcode !== undefined) this.errcode = control.errcode;
  }

  state(): { mode: LocalRobotMode; errcode: number; accepted: number; rejected: number } {
    return { mode: this.modeNow, errcode: this.errcode, accepted: this.postList.length, rejected: this.rejectedList.length };
  }

  /** Forgets posts, rejections and the rate windows; mode ok. */
  reset(): void {
    this.postList.length = 0;
    this.rejectedList.length = 0;
    this.recent.clear();
    this.throttledUntil.clear();
    this.setState({ mode: 'ok', errcode: 310000 });
  }

  /** The first accepted post (already or to come) that matches; rejects after `timeoutMs`. */
  waitFor(predicate: (post: LocalRobotPost) => boolean = () => true, timeoutMs = 5_000): Promise<LocalRobotPost> {
    return this.waiters.waitFor(this.postList, predicate, timeoutMs, () => `accepted: ${this.postList.length}, rejected: ${this.rejectedList.map((r) => r.errcode).join(', ') || 'none'}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    if (url.pathname === LOCAL_ROBOT_CONTROL_PATH) return this.control(req, res);
    const receivedAtMs = this.clock.nowMs();
    const robot: Robot | undefined = url.pathname === DINGTALK_ROBOT_PATH ? 'dingtalk' : url.pathname === WECOM_ROBOT_PATH ? 'wecom' : undefined;
    if (this.modeNow === 'outage-reset') {
      this.reject(robot, receivedAtMs, 0, 0, 'connection reset without an answer (mode outage-reset)', true);
      req.socket.destroy();
      return;
    }
    let body: Buffer;
    try {
      body = await readRequestBody(req, 64 * 1024);
    } catch {
      return this.answer(res, this.reject(robot, receivedAtMs, 413, robot === 'wecom' ? 40058 : 40035, 'body too large'));
    }
    if (this.modeNow === 'outage-503') return this.answer(res, this.reject(robot, receivedAtMs, 503, -1, 'system busy (mode outage-503)', true));
    if (robot === undefined || req.method !== 'POST') return this.answer(res, this.reject(robot, receivedAtMs, 404, 404, `no robot API at ${req.method} ${url.pathname}`));
    this.answer(res, robot === 'dingtalk' ? this.dingtalk(url.searchParams, body, receivedAtMs) : this.wecom(url.searchParams, body, receivedAtMs));
  }

  /** DingTalk's checks, in its order: the token, the signature, the rate, the message, the keywords. */
  private dingtalk(query: URLSearchParams, body: Buffer, receivedAtMs: number): Reply {
    const token = query.get('access_token') ?? '';
    const robots = this.options.dingtalk ?? {};
    if (!Object.hasOwn(robots, token)) return this.reject('dingtalk', receivedAtMs, 200, 300001, 'token is not exist');
    const robot = robots[token] ?? {};
    if (robot.secret !== undefined) {
      const timestamp = query.get('timestamp') ?? '';
      const sign = query.get('sign') ?? '';
      const timestampMs = /^\d{10,16}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
      if (!Number.isFinite(timestampMs) || Math.abs(receivedAtMs - timestampMs) > this.signWindowMs) {
        return this.reject('dingtalk', receivedAtMs, 200, 310000, 'invalid timestamp');
      }
      if (!signMatches(robot.secret, timestamp, sign)) return this.reject('dingtalk', receivedAtMs, 200, 310000, 'sign not match');
    }
    const injected = this.injected('dingtalk', receivedAtMs);
    if (injected !== undefined) return injected;
    if (this.overLimit('dingtalk', token, receivedAtMs)) return this.reject('dingtalk', receivedAtMs, 200, 130101, `send too fast, exceed ${this.postsPerMinute} times per minute`, true);
    const json = parseObject(body);
    if (json === undefined) return this.reject('dingtalk', receivedAtMs, 200, 40035, '缺少参数 json');
    const msgtype = typeof json.msgtype === 'string' ? json.msgtype : '';
    let title: string | null = null;
    let text: string;
    if (msgtype === 'markdown') {
      const markdown = asObject(json.markdown);
      if (typeof markdown?.title !== 'string' || markdown.title === '' || typeof markdown.text !== 'string' || markdown.text === '') {
        return this.reject('dingtalk', receivedAtMs, 200, 40035, '缺少参数 markdown.title / markdown.text');
      }
      title = markdown.title;
      text = markdown.text;
    } else if (msgtype === 'text') {
      const content = asObject(json.text)?.content;
      if (typeof content !== 'string' || content === '') return this.reject('dingtalk', receivedAtMs, 200, 40035, '缺少参数 text.content');
      text = content;
    } else {
      return this.reject('dingtalk', receivedAtMs, 200, 400105, `不支持的消息类型 ${msgtype.slice(0, 20)}`);
    }
    if (robot.keywords !== undefined && robot.keywords.length > 0 && !robot.keywords.some((k) => text.includes(k) || (title ?? '').includes(k))) {
      return this.reject('dingtalk', receivedAtMs, 200, 310000, 'keywords not in content');
    }
    const at = asObject(json.at);
    const atMobiles = Array.isArray(at?.atMobiles) ? at.atMobiles.filter((m): m is string => typeof m === 'string') : [];
    return this.accept({ robot: 'dingtalk', token, msgtype, title, text, mentionAll: at?.isAtAll === true, mentionedMobiles: atMobiles, signed: robot.secret !== undefined, receivedAtMs }, { errcode: 0, errmsg: 'ok' });
  }

  /** WeCom's checks: the key, the rate, the message. */
  private wecom(query: URLSearchParams, body: Buffer, receivedAtMs: number): Reply {
    const key = query.get('key') ?? '';
    if (!(this.options.wecom ?? []).includes(key)) return this.reject('wecom', receivedAtMs, 200, 93000, 'invalid webhook url, hint: [the key is not a robot of any group]');
    const injected = this.injected('wecom', receivedAtMs);
    if (injected !== undefined) return injected;
    if (this.overLimit('wecom', key, receivedAtMs)) return this.reject('wecom', receivedAtMs, 200, 45009, 'api freq out of limit', true);
    const json = parseObject(body);
    if (json === undefined) return this.reject('wecom', receivedAtMs, 200, 40058, 'Warning: wrong json format.');
    const msgtype = typeof json.msgtype === 'string' ? json.msgtype : '';
    if (msgtype !== 'markdown' && msgtype !== 'text') return this.reject('wecom', receivedAtMs, 200, 40008, 'invalid message type');
    const part = asObject(json[msgtype]);
    const content = part?.content;
    if (typeof content !== 'string' || content === '') return this.reject('wecom', receivedAtMs, 200, 44004, 'empty content');
    const maxBytes = msgtype === 'text' ? WECOM_MAX_TEXT_BYTES : WECOM_MAX_MARKDOWN_BYTES;
    if (Buffer.byteLength(content, 'utf8') > maxBytes) return this.reject('wecom', receivedAtMs, 200, 40058, `content exceed max length ${maxBytes}`);
    const strings = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
    return this.accept(
      {
        robot: 'wecom',
        token: key,
        msgtype,
        title: null,
        text: content,
        mentionAll: strings(part?.mentioned_list).includes('@all') || strings(part?.mentioned_mobile_list).includes('@all'),
        mentionedMobiles: strings(part?.mentioned_mobile_list).filter((m) => m !== '@all'),
        signed: false,
        receivedAtMs,
      },
      { errcode: 0, errmsg: 'ok' },
    );
  }

  /** The answer of mode error or rate-limited, once the robot is authenticated. */
  private injected(robot: Robot, receivedAtMs: number): Reply | undefined {
    if (this.modeNow === 'error') return this.reject(robot, receivedAtMs, 200, this.errcode, `injected errcode ${this.errcode} (mode error)`, true);
    if (this.modeNow === 'rate-limited') {
      return robot === 'dingtalk'
        ? this.reject(robot, receivedAtMs, 200, 130101, 'send too fast, exceed 20 times per minute (mode rate-limited)', true)
        : this.reject(robot, receivedAtMs, 200, 45009, 'api freq out of limit (mode rate-limited)', true);
    }
    return undefined;
  }

  /** Whether this robot has had its posts of the minute (DingTalk: or is still in its 10 minutes of refusal). */
  private overLimit(robot: Robot, token: string, nowMs: number): boolean {
    const id = `${robot}:${token}`;
    if (robot === 'dingtalk' && (this.throttledUntil.get(id) ?? 0) > nowMs) return true;
    const times = (this.recent.get(id) ?? []).filter((t) => t > nowMs - MINUTE_MS);
    this.recent.set(id, times);
    if (times.length < this.postsPerMinute) return false;
    if (robot === 'dingtalk') this.throttledUntil.set(id, nowMs + DINGTALK_THROTTLE_MS);
    return true;
  }

  private accept(post: LocalRobotPost, body: unknown): Reply {
    const id = `${post.robot}:${post.token}`;
    this.recent.set(id, [...(this.recent.get(id) ?? []), post.receivedAtMs]);
    this.postList.push(post);
    this.options.onAccepted?.(post);
    this.waiters.notify(post);
    return { status: 200, body };
  }

  private reject(robot: Robot | undefined, receivedAtMs: number, httpStatus: number, errcode: number, errmsg: string, injected = false): Reply {
    const rejection: LocalRobotRejection = { robot: robot ?? 'unknown', errcode, errmsg, httpStatus, receivedAtMs, injected };
    this.rejectedList.push(rejection);
    this.options.onRejected?.(rejection);
    return { status: httpStatus, body: { errcode, errmsg } };
  }

  private answer(res: ServerResponse, reply: Reply): void {
    writeJson(res, reply.status, reply.body);
  }

  /** GET: the state; PUT/POST a LocalRobotControl. */
  private async control(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'GET') return writeJson(res, 200, this.state());
    if (req.method !== 'PUT' && req.method !== 'POST') return writeJson(res, 405, { code: 'BAD_CONTROL', message: 'GET the state, or PUT {"mode": …, "errcode": N}' });
    let parsed: ReturnType<typeof LocalRobotControl.safeParse>;
    try {
      parsed = LocalRobotControl.safeParse(JSON.parse((await readRequestBody(req, 64 * 1024)).toString('utf8')));
    } catch {
      return writeJson(res, 400, { code: 'BAD_CONTROL', message: 'the body must be JSON' });
    }
    if (!parsed.success) {
      const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
      return writeJson(res, 400, { code: 'BAD_CONTROL', message: `${problems} (modes: ${LOCAL_ROBOT_MODES.join(', ')})` });
    }
    this.setState(parsed.data);
    writeJson(res, 200, this.state());
  }
}

/**
 * DingTalk's check of a signed request, written apart from the channel's
 * (dingTalkSignature): the HMAC of the bytes `timestamp`, LF, `secret`, its
 * base64 compared in constant time with the `sign` parameter as decoded from
 * the query (a sign sent without URL encoding loses its + to a space, and fails).
 */
function signMatches(secret: string, timestamp: string, sign: string): boolean {
  const data = Buffer.concat([Buffer.from(timestamp, 'utf8'), Buffer.from([0x0a]), Buffer.from(secret, 'utf8')]);
  const expected = Buffer.from(createHmac('sha256', Buffer.from(secret, 'utf8')).update(data).digest('base64'), 'utf8');
  const given = Buffer.from(sign, 'utf8');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    return asObject(JSON.parse(body.toString('utf8')));
  } catch {
    return undefined;
  }
}

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
