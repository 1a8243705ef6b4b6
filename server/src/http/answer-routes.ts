/**
 * The helper's answer page and its API: `GET /a/<code>` serves the phone page
 * (a second entry of the dashboard build), `GET /api/answer/<code>` the case
 * it opens, `POST /api/answer/<code>/<step>` moves the case exactly as the
 * dashboard's buttons do (AlarmService.act), recorded as the contact the SMS
 * went to. The code in the URL is the credential (route access 'code'): it
 * opens one case for one contact until the case closes or 24 hours pass, and
 * is counted per code; unknown and expired codes are counted per client
 * address. Codes are never logged.
 *
 * A bundled SMS (several alarms for one number in one message) carries only
 * its first notice's code; that code opens every case of the message
 * (store.answerBundle), each acted on with that case's own grant: its contact,
 * role and expiry, so history, audit and the device's `taken` are as if its
 * own link had been used. `?case=<alarmId>` picks the case to show; the link
 * has expired only when no case of the message is still live.
 *
 * Why valid codes do not count against the address: a village office, a
 * township LAN or a mobile carrier's NAT puts many helpers behind one address,
 * and one person guessing (or a script) from it would otherwise lock out every
 * helper there for 5 minutes. The address limit then does not hide whether a
 * code is valid (429 against 200): the codes' 60 random bits are what stops
 * guessing (2^60 codes; at 10,000 guesses a second, thousands of years to hit
 * one of a hundred live codes), the limit only keeps junk from one address cheap.
 */
import {
  type AuditAction,
  ANSWER_STEPS,
  AnswerCaseQuery,
  AnswerCodeParams,
  AnswerError,
  AnswerResolveBody,
  AnswerStepBody,
  AnswerView,
  type AlarmOutcome,
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
import { apiError, sendApiError } from './api-errors.js';

export interface AnswerRoutesOptions {
  alarms: Pick<AlarmService, 'act'>;
  store: Pick<SqliteAlarmStore, 'answerGrant' | 'answerBundle' | 'answerView'>;
  clock: Pick<Clock, 'nowMs'>;
  /** Where each step a helper takes is recorded (who, which case, from which address). */
  audit?: Pick<SqliteAuditLog, 'record'>;
  /** Folder of the built dashboard, which holds answer.html. */
  dashboardDir?: string;
  /** Requests per code; default 60 per 5 minutes (the page refreshes every 30 s). */
  perCode?: RateLimit;
  /** Requests with an unknown or expired code per client address; default 300 per 5 minutes (a village office may share one address). */
  perAddress?: RateLimit;
}

const FIVE_MINUTES_MS = 5 * 60_000;

/** The audit detail of a step on a case: the outcome a resolve said, then the note ("[falseAlarm] 老人平安，误按"); null: neither. */
export function stepAuditDetail(note: string | undefined, outcome: AlarmOutcome | undefined): string | null {
  const said = [outcome === undefined ? '' : `[${outcome}]`, note ?? ''].filter((s) => s !== '').join(' ');
  return said === '' ? null : said;
}

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

  /** Sends the refusal and returns true when `waitMs` (from a limiter) says the request is over its limit. */
  const refused = (reply: FastifyReply, waitMs: number): boolean => {
    if (waitMs === 0) return false;
    const seconds = Math.ceil(waitMs / 1000);
    void reply
      .code(429)
      .header('retry-after', String(seconds))
      .send(apiError('RATE_LIMITED', `请求太频繁，请${seconds}秒后再试。Too many requests: try again in ${seconds} s.`, { retryAfterSeconds: seconds }));
    return true;
  };

  /**
   * The grants of a code's SMS (its own first, then the other cases of a
   * bundled SMS) while one of them is live, counted against the code; or, for
   * a code that opens nothing (unknown, or no case of its SMS live), counted
   * against the address, with the answer that says why (nothing of the cases
   * in it), or 429 over the limit.
   */
  const grantsOr = (reply: FastifyReply, ip: string, codeHash: string): AnswerGrant[] | undefined => {
    const grant = options.store.answerGrant(codeHash, now());
    const grants = grant ? options.store.answerBundle(grant, now()) : [];
    if (!grant || !grants.some((g) => g.live)) {
      if (refused(reply, perAddress.hit(`ip:${ip}`))) return undefined;
      if (!grant) {
        void sendApiError(reply, 'ANSWER_CODE_UNKNOWN', '此链接无效，请核对短信中的链接。This link is not valid; check it against the SMS.');
      } else {
        expired(reply, grants);
      }
      return undefined;
    }
    if (refused(reply, perCode.hit(`code:${codeHash}`))) return undefined;
    return grants;
  };

  /** 410: closed when every case of `grants` closed within its 24 hours, else timed out. */
  const expired = (reply: FastifyReply, grants: readonly AnswerGrant[]): void => {
    const reason = grants.every((g) => now() < g.expiresAt) ? 'closed' : 'timeout';
    void sendApiError(reply, 'ANSWER_CODE_EXPIRED', '此链接已失效。This link has expired.', { reason });
  };

  const notFound = (reply: FastifyReply, alarmId: string) => reply.code(404).send(apiError('ALARM_NOT_FOUND', `no alarm with id ${alarmId}`));

  r.get('/a/:code', { config: { access: 'code' } }, async (_req, reply) => {
    const file = options.dashboardDir ? join(options.dashboardDir, 'answer.html') : undefined;
    const html = file ? await readFile(file, 'utf8').catch(() => undefined) : undefined;
    if (html === undefined) return reply.code(503).type('text/plain; charset=utf-8').send('The answer page is not built. Run `npm run build`.');
    return reply.type('text/html; charset=utf-8').send(html);
  });

  r.get(
    '/api/answer/:code',
    { config: { access: 'code' }, schema: { params: AnswerCodeParams, querystring: AnswerCaseQuery, response: { 200: AnswerView, ...errors } } },
    async (req, reply) => {
      const grants = grantsOr(reply, req.ip, hashAnswerCode(req.params.code));
      if (!grants) return reply;
      const wanted = req.query.case;
      const asked = wanted === undefined ? undefined : grants.find((g) => g.alarmId === wanted);
      // A case of another SMS answers as if it did not exist.
      if (wanted !== undefined && !asked) return notFound(reply, wanted);
      // The case asked for (the carrier's without `case`) while it is live; else the first live one: a closed case shows nothing.
      const shown = asked ?? grants[0]!;
      const grant = shown.live ? shown : grants.find((g) => g.live)!;
      const view = options.store.answerView(grant, grants);
      if (!view) return reply.code(404).send(apiError('ANSWER_CODE_UNKNOWN', 'no such case'));
      return reply.send(view);
    },
  );

  for (const step of ANSWER_STEPS) {
    const body = step === 'resolve' ? AnswerResolveBody : AnswerStepBody;
    r.post(`/api/answer/:code/${step}`, { config: { access: 'code' }, schema: { params: AnswerCodeParams, body, response: { 200: AnswerView, ...errors } } }, async (req, reply) => {
      const grants = grantsOr(reply, req.ip, hashAnswerCode(req.params.code));
      if (!grants) return reply;
      const { alarmId, note, outcome } = req.body as AnswerStepBody & { outcome?: AlarmOutcome };
      // A code opens the cases of its SMS: a step about any other answers as if that case did not exist.
      const grant = grants.find((g) => g.alarmId === alarmId);
      if (!grant) return notFound(reply, alarmId);
      // A case of the SMS that closed (or whose 24 hours passed) answers as its own link would.
      if (!grant.live) {
        expired(reply, [grant]);
        return reply;
      }
      options.alarms.act(grant.alarmId, ACTION_OF[step], grant.actor, note, outcome);
      const said = stepAuditDetail(note, outcome);
      options.audit?.record({ action: AUDIT_OF[step], actor: grant.actor, target: grant.alarmId, detail: said === null ? 'SMS link' : `SMS link: ${said}`, address: req.ip });
      const view = options.store.answerView(grant, grants);
      if (!view) return reply.code(404).send(apiError('ANSWER_CODE_UNKNOWN', 'no such case'));
      return reply.send(view);
    });
  }
};
