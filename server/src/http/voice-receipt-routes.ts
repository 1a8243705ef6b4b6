/**
 * The receipts Aliyun's voice service pushes to us (HTTP批量推送): `POST
 * /api/voice/receipts/<token>`, a JSON array of call reports (VoiceReport,
 * VoiceCallReport). They carry the key the contact pressed in an IvrCall
 * (`dtmf`): 1 takes the case as that contact (AlarmService.act, audited as the
 * answer page's take), 2 moves the escalation on to the next contact now. The
 * report's state also records whether the call was answered (recordDelivery).
 *
 * Aliyun calls it, not a browser: no session; the token in the URL is the
 * credential (KANJIA_ALIYUN_VOICE_RECEIPT_TOKEN, compared in constant time).
 * A wrong token is 404 as any unknown route, logged with the token masked, and
 * counted per client address like the answer page's unknown codes. Each report
 * is handled on its own: a bad one is named in the 400 and the others are
 * handled all the same (Aliyun resends the batch; every step here can be
 * repeated without doing it twice). Aliyun waits 700 ms for the answer
 * (help.aliyun.com/document_detail/112503): everything here is one SQLite
 * write or a few, well inside it.
 */
import type { Clock } from '@kanjia/protocol';
import { callStateOutcome, parseAliyunDateTime } from '@kanjia/alerts';
import type { FastifyPluginAsync } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AlarmService } from '../alarms/alarm-service.js';
import { AlarmError, type SqliteAlarmStore, type VoiceCallRef } from '../alarms/alarm-store.js';
import type { SqliteAuditLog } from '../auth/audit-log.js';
import type {} from './access.js';
import { apiError, sendApiError } from './api-errors.js';
import { FixedWindowRateLimiter, type RateLimit } from './rate-limiter.js';

export const VOICE_RECEIPT_PATH = '/api/voice/receipts';
/** The shortest receipt token accepted (it is the only credential of the route). */
export const VOICE_RECEIPT_TOKEN_MIN_CHARS = 24;
/** What Aliyun expects back from a receipt push it may consider delivered. */
export const ALIYUN_PUSH_ACK = { code: 0, msg: '成功' } as const;
type Locale = 'zh-CN' | 'en';
const IVR_TAKE_KEY = '1';
const IVR_PASS_KEY = '2';
const FIVE_MINUTES_MS = 5 * 60_000;
/** A batch is at most a few hundred reports; 1 MiB leaves room for Aliyun's extra fields. */
const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * One report of the push, as Aliyun documents VoiceReport and VoiceCallReport
 * (help.aliyun.com/document_detail/55499, /zh/vms/developer-reference/voicecallreport-4):
 * the fields read here; the others (fee, duration, toll_type, …) pass.
 */
export const AliyunVoicePushReport = z
  .object({
    call_id: z.string().min(1, 'the CallId of the call'),
    out_id: z.string().nullish(),
    dtmf: z.string().nullish(),
    status_code: z.coerce.string().nullish(),
    status_msg: z.string().nullish(),
    start_time: z.string().nullish(),
    end_time: z.string().nullish(),
    status_time: z.string().nullish(),
  })
  .passthrough();
export type AliyunVoicePushReport = z.infer<typeof AliyunVoicePushReport>;

const PushBody = z.array(z.unknown(), { error: 'a JSON array of call reports, as Aliyun pushes them' }).max(5000, 'at most 5000 reports in one push');
const TokenParams = z.object({ token: z.string().max(200) });

export interface VoiceReceiptRoutesOptions {
  /** The secret part of the URL, at least 24 characters. */
  token: string;
  /** The channel whose calls these receipts are about ('aliyun-voice'). */
  channel: string;
  alarms: Pick<AlarmService, 'act'>;
  store: Pick<SqliteAlarmStore, 'voiceCallByRef' | 'callPassedOn' | 'callKeyNoted' | 'recordDelivery'>;
  clock: Pick<Clock, 'nowMs'>;
  audit?: Pick<SqliteAuditLog, 'record'>;
  locale?: Locale;
  /** A case changed (a key pressed, a receipt recorded): the live feed and the escalation timers are told. */
  onChange?: (alarmId: string) => void;
  /** Requests with a wrong token per client address; default 300 per 5 minutes, as the answer page's unknown codes. */
  perAddress?: RateLimit;
}

/** The token as a log may show it: its first 4 characters. */
export function maskReceiptToken(token: string): string {
  return `${token.slice(0, 4)}…(${token.length} chars)`;
}

function sameToken(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** What the history says, in the village's language. */
const notes = {
  taken: (l: Locale) => (l === 'en' ? 'took it by pressing 1 on the call' : '电话按键接警'),
  takenByOther: (l: Locale, actor: string, why: string) => (l === 'en' ? `${actor} pressed 1 on the call, but ${why}` : `${actor}电话按1接警，但${why}`),
  alreadyTaken: (l: Locale) => (l === 'en' ? 'the case was already taken' : '此案已有人接警'),
  closed: (l: Locale) => (l === 'en' ? 'the case was already closed' : '此案已结束'),
};

export const voiceReceiptRoutes: FastifyPluginAsync<VoiceReceiptRoutesOptions> = async (app, options) => {
  if (options.token.length < VOICE_RECEIPT_TOKEN_MIN_CHARS) throw new Error(`voice receipts: the token must have at least ${VOICE_RECEIPT_TOKEN_MIN_CHARS} characters`);
  const now = () => options.clock.nowMs();
  const locale = options.locale ?? 'zh-CN';
  const perAddress = new FixedWindowRateLimiter(options.perAddress ?? { limit: 300, windowMs: FIVE_MINUTES_MS }, now);

  /** One report: what it says about the call and the key, applied; a line for the log when it found nothing. */
  const handle = (report: AliyunVoicePushReport, address: string, log: (msg: string, extra: Record<string, unknown>) => void): void => {
    const call = options.store.voiceCallByRef(options.channel, report.call_id, report.out_id ?? undefined);
    if (!call) {
      log('voice receipt for a call we do not know: acknowledged and ignored', { callId: report.call_id, outId: report.out_id ?? null });
      return;
    }
    let changed = recordAnswer(call, report);
    const key = (report.dtmf ?? '').trim().charAt(0);
    if (key === IVR_TAKE_KEY) changed = take(call, address) || changed;
    else if (key === IVR_PASS_KEY) changed = options.store.callPassedOn(call.id, now()) || changed;
    if (changed) options.onChange?.(call.alarmId);
  };

  /** The call's outcome when the report has one: answered (a key pressed is an answer too) or not. */
  const recordAnswer = (call: VoiceCallRef, report: AliyunVoicePushReport): boolean => {
    const state = report.status_code ?? '';
    const verdict = state === '' ? undefined : callStateOutcome(state);
    const atMs = parseAliyunDateTime(report.start_time ?? report.status_time ?? undefined);
    if (verdict === 'delivered' || (report.dtmf ?? '').trim() !== '') {
      options.store.recordDelivery(call.id, { state: 'delivered', atMs, detail: `${state} ${report.status_msg ?? ''}`.trim() }, now());
      return true;
    }
    if (verdict === 'failed') {
      const endMs = parseAliyunDateTime(report.end_time ?? report.status_time ?? undefined);
      options.store.recordDelivery(call.id, { state: 'failed', code: state, message: `the call did not reach the helper: ${report.status_msg ?? state}`, atMs: endMs }, now());
      return true;
    }
    return false;
  };

  /** Key 1: the case is taken by the contact rung, unless someone was first (then a note, quietly). */
  const take = (call: VoiceCallRef, address: string): boolean => {
    try {
      options.alarms.act(call.alarmId, 'take', call.actor, notes.taken(locale));
      options.audit?.record({ action: 'alarm.take', actor: call.actor, target: call.alarmId, detail: 'voice call key 1', address });
      return true;
    } catch (err) {
      if (!(err instanceof AlarmError) || (err.code !== 'ALARM_ALREADY_TAKEN' && err.code !== 'ALARM_CLOSED')) throw err;
      const why = err.code === 'ALARM_CLOSED' ? notes.closed(locale) : notes.alreadyTaken(locale);
      return options.store.callKeyNoted(call.id, notes.takenByOther(locale, call.actor, why), now());
    }
  };

  app.post(`${VOICE_RECEIPT_PATH}/:token`, { config: { access: 'code' }, bodyLimit: BODY_LIMIT_BYTES }, async (req, reply) => {
    reply.header('cache-control', 'no-store');
    const params = TokenParams.safeParse(req.params);
    const given = params.success ? params.data.token : '';
    if (!sameToken(given, options.token)) {
      req.log.warn({ token: maskReceiptToken(given), address: req.ip }, 'voice receipt with a wrong token: refused');
      const waitMs = perAddress.hit(`ip:${req.ip}`);
      if (waitMs > 0) {
        const seconds = Math.ceil(waitMs / 1000);
        return reply.code(429).header('retry-after', String(seconds)).send(apiError('RATE_LIMITED', `Too many requests: try again in ${seconds} s.`, { retryAfterSeconds: seconds }));
      }
      return sendApiError(reply, 'NOT_FOUND', `Route POST ${VOICE_RECEIPT_PATH}/… not found`);
    }
    const body = PushBody.safeParse(req.body);
    if (!body.success) return sendApiError(reply, 'BAD_REQUEST', `body: ${body.error.issues.map((i) => i.message).join('; ')}`);
    const problems: string[] = [];
    const log = (msg: string, extra: Record<string, unknown>) => req.log.info(extra, msg);
    body.data.forEach((item, index) => {
      const report = AliyunVoicePushReport.safeParse(item);
      if (!report.success) {
        problems.push(`[${index}] ${report.error.issues.map((i) => `${i.path.join('.') || '(report)'}: ${i.message}`).join(', ')}`);
        return;
      }
      handle(report.data, req.ip, log);
    });
    if (problems.length > 0) {
      req.log.warn({ problems }, 'voice receipts: reports not understood (the others were handled)');
      return sendApiError(reply, 'BAD_REQUEST', `reports not understood (the others were handled): ${problems.join('; ')}`);
    }
    return reply.send(ALIYUN_PUSH_ACK);
  });
};
