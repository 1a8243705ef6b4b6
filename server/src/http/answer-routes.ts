/**
 * The helper's answer page and its API: `GET /a/<code>` serves the phone page
 * (a second entry of the dashboard build), `GET /api/answer/<code>` the case
 * it opens, `POST /api/answer/<code>/<step>` moves the case exactly as the
 * dashboard's buttons do (AlarmService.act), recorded as the contact the SMS
 * went to. The code in the URL is the credential (route access 'code'): it
 * opens one case for one contact until the case closes or 24 hours pass, and
 * is counted per code and per client address. Codes are never logged.
 */
import {
  type AuditAction,
  ANSWER_STEPS,
  AnswerCodeParams,
  AnswerError,
  AnswerResolveBody,
  AnswerStepBody,
  AnswerView,
  type AnswerStep,
  type Clock,
} from '@kanjia/protocol';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AlarmService } from '../alarms/alarm-service.js';
import type { AnswerGrant, SqliteAlarmStore, TransitionAction } from '../alarms/alarm-store.js';
import { hashAnswerCode } from '../alarms/answer-codes.js';
import type {} from './access.js';
import { FixedWindowRateLimiter, type RateLimit } from './rate-limiter.js';
import type { SqliteAuditLog } from '../auth/audit-log.js';

export interface AnswerRoutesOptions {
  alarms: Pick<AlarmService, 'act'>;
  store: Pick<SqliteAlarmStore, 'answerGrant' | 'answerView'>;
  clock: Pick<Clock, 'nowMs'>;
  /** Where each step a helper takes is recorded (who, which case, from which address). */
  audit?: Pick<SqliteAuditLog, 'record'>;
  /** Folder of the built dashboard, which holds answer.html. */
  dashboardDir?: string;
  /** Requests per code; default 60 per 5 minutes (the page refreshes every 30 s). */
  perCode?: RateLimit;
  /** Requests per client address, all codes together; default 300 per 5 minutes (a village office may share one address). */
  perAddress?: RateLimit;
}

const FIVE_MINUTES_MS = 5 * 60_000;

const ACTION_OF: Record<AnswerStep, TransitionAction> = { take: 'take', 'on-the-way': 'onTheWay', 'on-site': 'onSite', resolve: 'resolve' };
const AUDIT_OF: Record<AnswerStep, AuditAction> = { take: 'alarm.take', 'on-the-way': 'alarm.onTheWay', 'on-site': 'alarm.onSite', resolve: 'alarm.resolve' };

/** Headers of every answer response: the URL is a credential, so no cache keeps it and no referrer carries it away. */
function private_(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').header('x-robots-tag', 'noindex');
}

export const answerRoutes: FastifyPluginAsync<AnswerRoutesOptions> = async (app, options) => {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const now = () => options.clock.nowMs();
  const perCode = new FixedWindowRateLimiter(options.perCode ?? { limit: 60, windowMs: FIVE_MINUTES_MS }, now);
  const perAddress = new FixedWindowRateLimiter(options.perAddress ?? { limit: 300, windowMs: FIVE_MINUTES_MS }, now);
  const errors = { 400: AnswerError, 404: AnswerError, 409: AnswerError, 410: AnswerError, 429: AnswerError };
  // Errors too (a 409 from the lifecycle, a 400 from validation) carry the headers.
  app.addHook('onRequest', async (_req, reply) => {
    private_(reply);
  });

  /** Counts the request; a refusal is sent and true returned when over either limit. */
  const limited = (reply: FastifyReply, ip: string, codeHash: string): boolean => {
    const waitMs = Math.max(perAddress.hit(`ip:${ip}`), perCode.hit(`code:${codeHash}`));
    if (waitMs === 0) return false;
    const seconds = Math.ceil(waitMs / 1000);
    void reply
      .code(429)
      .header('retry-after', String(seconds))
      .send({ code: 'RATE_LIMITED', message: `请求太频繁，请${seconds}秒后再试。Too many requests: try again in ${seconds} s.`, retryAfterSeconds: seconds });
    return true;
  };

  /** The live grant of a code, or the answer that says why there is none (nothing of the case in it). */
  const grantOr = (reply: FastifyReply, codeHash: string): AnswerGrant | undefined => {
    const grant = options.store.answerGrant(codeHash, now());
    if (!grant) {
      void reply.code(404).send({ code: 'ANSWER_CODE_UNKNOWN', message: '此链接无效，请核对短信中的链接。This link is not valid; check it against the SMS.' });
      return undefined;
    }
    if (!grant.live) {
      const reason = now() >= grant.expiresAt ? 'timeout' : 'closed';
      void reply.code(410).send({ code: 'ANSWER_CODE_EXPIRED', message: '此链接已失效。This link has expired.', reason });
      return undefined;
    }
    return grant;
  };

  r.get('/a/:code', { config: { access: 'code' } }, async (_req, reply) => {
    const file = options.dashboardDir ? join(options.dashboardDir, 'answer.html') : undefined;
    const html = file ? await readFile(file, 'utf8').catch(() => undefined) : undefined;
    if (html === undefined) return reply.code(503).type('text/plain; charset=utf-8').send('The answer page is not built. Run `npm run build`.');
    return reply.type('text/html; charset=utf-8').send(html);
  });

  r.get('/api/answer/:code', { config: { access: 'code' }, schema: { params: AnswerCodeParams, response: { 200: AnswerView, ...errors } } }, async (req, reply) => {
    const codeHash = hashAnswerCode(req.params.code);
    if (limited(reply, req.ip, codeHash)) return reply;
    const grant = grantOr(reply, codeHash);
    if (!grant) return reply;
    const view = options.store.answerView(grant);
    if (!view) return reply.code(404).send({ code: 'ANSWER_CODE_UNKNOWN', message: 'no such case' });
    return reply.send(view);
  });

  for (const step of ANSWER_STEPS) {
    const body = step === 'resolve' ? AnswerResolveBody : AnswerStepBody;
    r.post(`/api/answer/:code/${step}`, { config: { access: 'code' }, schema: { params: AnswerCodeParams, body, response: { 200: AnswerView, ...errors } } }, async (req, reply) => {
      const codeHash = hashAnswerCode(req.params.code);
      if (limited(reply, req.ip, codeHash)) return reply;
      const grant = grantOr(reply, codeHash);
      if (!grant) return reply;
      const { alarmId, note } = req.body as AnswerStepBody;
      // A code opens one case: a step about any other answers as if that case did not exist.
      if (alarmId !== grant.alarmId) return reply.code(404).send({ code: 'ALARM_NOT_FOUND', message: `no alarm with id ${alarmId}` });
      options.alarms.act(grant.alarmId, ACTION_OF[step], grant.actor, note);
      options.audit?.record({ action: AUDIT_OF[step], actor: grant.actor, target: grant.alarmId, detail: note ? `SMS link: ${note}` : 'SMS link', address: req.ip });
      const view = options.store.answerView(grant);
      if (!view) return reply.code(404).send({ code: 'ANSWER_CODE_UNKNOWN', message: 'no such case' });
      return reply.send(view);
    });
  }
};
