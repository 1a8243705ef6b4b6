/**
 * Who may reach which route. One onRequest hook for the whole app:
 *
 * 1. CSRF: a state-changing request (POST/PUT/PATCH/DELETE) whose Origin (or
 *    Referer when there is no Origin) is not this server's own origin (or
 *    that of KANJIA_PUBLIC_URL: origin.ts, the live feed's rule too) is
 *    refused 403 CROSS_ORIGIN, on every route, login included. A request with
 *    neither header passes: every browser sends Origin on a cross-origin POST
 *    (and on same-origin fetch POSTs), so a request without one is not a page
 *    riding the officer's cookie but a script (curl) that must hold the cookie
 *    itself. The cookie is SameSite=Strict on top of that.
 * 2. Access: the route's `config.access` ('session' when absent) — a valid
 *    session cookie sets request.user, else 401 UNAUTHENTICATED; `config.roles`
 *    → 403 FORBIDDEN for another role.
 *
 * Also the login, logout, me and audit routes, and the login throttle.
 */
import {
  ApiError,
  AuditPage,
  AuditQuery,
  LoginBody,
  LoginThrottledError,
  MeResponse,
  type UserRole,
} from '@kanjia/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { SqliteAuditLog } from '../auth/audit-log.js';
import { LoginGuard } from '../auth/login-guard.js';
import { normaliseUserName, SESSION_ABSOLUTE_MS, type SessionInfo, type SqliteUserStore } from '../auth/user-store.js';
import type { RouteAccess, SessionUser } from './access.js';
import { phoneFor } from './masking.js';
import { originAllowed, originOf } from './origin.js';
import { apiError, sendApiError } from './api-errors.js';

export const SESSION_COOKIE = 'kanjia_session';

export { LOGIN_THROTTLE } from '../auth/login-guard.js';

export interface AuthOptions {
  users: SqliteUserStore;
  audit: SqliteAuditLog;
  nowMs: () => number;
  /**
   * KANJIA_PUBLIC_URL: its origin passes the same-origin check too (a TLS proxy
   * that does not forward the scheme), and when it is https the cookie is
   * Secure for requests to its host (not for the same server reached as
   * plain http on the LAN, where a Secure cookie would be dropped).
   */
  publicUrl?: string;
  /** A session ended (logout): its live-feed sockets are disconnected. */
  onSessionEnded?: (sessionKey: string) => void;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The session key (SHA-256 of the token) on 'session' routes; null elsewhere. */
    sessionKey: string | null;
  }
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      try {
        return decodeURIComponent(value);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The origin a request says it comes from: Origin, else Referer's origin; undefined when neither is sent; 'invalid' for garbage. */
export function claimedOrigin(headers: Record<string, string | string[] | undefined>): string | undefined {
  const origin = headers.origin;
  if (typeof origin === 'string' && origin !== '') return origin.toLowerCase();
  const referer = headers.referer;
  if (typeof referer === 'string' && referer !== '') {
    try {
      return new URL(referer).origin.toLowerCase();
    } catch {
      return 'invalid';
    }
  }
  return undefined;
}

/** This server's own origin as the browser sees it: scheme (x-forwarded-proto with trustProxy) and Host. */
export function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`.toLowerCase();
}

/** Looks up the session of a Cookie header without renewing it (socket.io handshakes). */
export function sessionFromCookie(users: SqliteUserStore, cookieHeader: string | undefined, touch = false): SessionInfo | undefined {
  const token = readCookie(cookieHeader, SESSION_COOKIE);
  return token ? users.session(token, touch) : undefined;
}

const BILINGUAL = {
  loginFailed: '用户名或密码不正确。Wrong name or password.',
  busy: '正在处理很多登录请求，请几秒后再试。The server is handling many logins: try again in a few seconds.',
  throttled: (minutes: number) => `登录失败次数过多，请 ${minutes} 分钟后再试。Too many failed logins: try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
};

async function authPlugin(app: FastifyInstance, options: AuthOptions): Promise<void> {
  const { users, audit, nowMs } = options;
  const guard = new LoginGuard(audit, nowMs);
  const publicOrigin = originOf(options.publicUrl);
  const publicHttpsHost = publicOrigin?.startsWith('https:') ? new URL(publicOrigin).host : undefined;
  app.decorateRequest('user', null);
  app.decorateRequest('sessionKey', null);

  app.addHook('onRequest', async (request, reply) => {
    if (STATE_CHANGING.has(request.method)) {
      const claimed = claimedOrigin(request.headers);
      if (claimed !== undefined && !originAllowed(claimed, ownOrigin(request), publicOrigin)) {
        return sendApiError(reply, 'CROSS_ORIGIN', `refused: this request comes from another site (${claimed}); use the dashboard at ${ownOrigin(request)}`);
      }
    }
    const access: RouteAccess = request.routeOptions.config.access ?? 'session';
    if (access !== 'session') return;
    const info = sessionFromCookie(users, request.headers.cookie, true);
    if (!info) return sendApiError(reply, 'UNAUTHENTICATED', 'log in first (no session, or it has ended)');
    request.user = info.user;
    request.sessionKey = info.sessionKey;
    const roles = request.routeOptions.config.roles;
    if (roles && !roles.includes(info.user.role)) {
      return sendApiError(reply, 'FORBIDDEN', `the role ${info.user.role} may not do this`);
    }
  });

  const r = app.withTypeProvider<ZodTypeProvider>();

  const setCookie = (request: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number) => {
    // Over https, or at the https public address behind a proxy that does not say so.
    const secure = request.protocol === 'https' || (publicHttpsHost !== undefined && request.host.toLowerCase() === publicHttpsHost);
    reply.header('set-cookie', `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`);
  };

  const me = (info: { user: SessionUser; idleExpiresAt: number; expiresAt: number }) => {
    const user = users.viewById(info.user.id, true);
    if (!user) throw new Error(`user ${info.user.id} vanished`);
    return { user: { ...user, phone: phoneFor(info.user, user.phone) }, idleExpiresAt: info.idleExpiresAt, expiresAt: info.expiresAt };
  };

  r.post(
    '/api/auth/login',
    { config: { access: 'public' }, schema: { body: LoginBody, response: { 200: MeResponse, 400: ApiError, 401: ApiError, 429: LoginThrottledError, 503: ApiError } } },
    async (request, reply) => {
      const name = normaliseUserName(request.body.name);
      const address = request.ip;
      const admission = guard.admit(name, address);
      if (!admission.ok && admission.reason === 'busy') {
        reply.header('retry-after', '2');
        return reply.code(503).send(apiError('LOGIN_BUSY', BILINGUAL.busy));
      }
      if (!admission.ok) {
        const retryAfterSeconds = Math.max(1, Math.ceil(admission.retryAfterMs / 1000));
        // One row per name and address per window: a flood of refused attempts must not flood the log (and the disk).
        if (admission.firstInWindow) audit.record({ action: 'loginThrottled', actor: name, target: name, address });
        reply.header('retry-after', String(retryAfterSeconds));
        return reply.code(429).send(apiError('LOGIN_THROTTLED', BILINGUAL.throttled(Math.ceil(retryAfterSeconds / 60)), { retryAfterSeconds }));
      }
      const { attempt } = admission;
      let user: Awaited<ReturnType<SqliteUserStore['checkLogin']>>;
      try {
        user = await attempt.check(() => users.checkLogin(name, request.body.password));
        if (!user) audit.record({ action: 'loginFailed', actor: name, target: name, address });
      } finally {
        // After the failure row is written (same tick): the reservation becomes the row, no gap between.
        attempt.release();
      }
      if (!user) {
        request.log.info({ name, address }, 'login failed');
        return reply.code(401).send(apiError('LOGIN_FAILED', BILINGUAL.loginFailed));
      }
      const session = users.createSession(user.id, address);
      audit.record({ action: 'login', userId: user.id, actor: user.displayName, target: name, address });
      request.log.info({ user: user.name, role: user.role, address }, 'logged in');
      setCookie(request, reply, session.token, Math.floor(SESSION_ABSOLUTE_MS / 1000));
      const info = users.session(session.token, false);
      if (!info) throw new Error('the new session is not readable');
      return me(info);
    },
  );

  r.post('/api/auth/logout', { schema: { response: { 200: ApiError.pick({ message: true }) } } }, async (request, reply) => {
    const user = request.user as SessionUser;
    const key = request.sessionKey as string;
    users.revoke(key);
    audit.record({ action: 'logout', userId: user.id, actor: user.displayName, target: user.name, address: request.ip });
    options.onSessionEnded?.(key);
    setCookie(request, reply, '', 0);
    return { message: 'logged out' };
  });

  r.get('/api/auth/me', { schema: { response: { 200: MeResponse } } }, async (request) => {
    const info = users.sessionByKey(request.sessionKey as string, false);
    if (!info) throw new Error('session vanished during the request');
    return me(info);
  });

  const auditRoles: readonly UserRole[] = ['admin'];
  r.get('/api/audit', { config: { roles: auditRoles }, schema: { querystring: AuditQuery, response: { 200: AuditPage, 400: ApiError } } }, async (request) => {
    return audit.page(request.query.before, request.query.limit);
  });
}

/** The auth hook and routes, applied to the whole app (not encapsulated). */
export const authRoutes = fp(authPlugin, { name: 'kanjia-auth', fastify: '5.x' });
