/**
 * The HTTP side: REST API under /api (zod-validated bodies, stable error
 * codes) and the dashboard's static files at /. Built by a function so tests
 * can use inject() without opening a port.
 */
import fastifyStatic from '@fastify/static';
import {
  AlarmIdParams,
  AlarmListQuery,
  AlarmStepBody,
  AlarmView,
  ApiError,
  AwayBody,
  AwayResponse,
  CancelAlarmBody,
  HealthResponse,
  ResidentIdParams,
  ResolveAlarmBody,
  SystemStats,
  TakeAlarmBody,
  VillageSummary,
  type UserRole,
  type AlarmOutcome,
} from '@kanjia/protocol';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type RouteOptions } from 'fastify';
import { hasZodFastifySchemaValidationErrors, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import type { SqliteAlarmStore, TransitionAction } from '../alarms/alarm-store.js';
import { apiError, errorAnswer, sendApiError } from './api-errors.js';
import type { AlarmService } from '../alarms/alarm-service.js';
import type { Logger } from '../logger.js';
import type { SystemHealth } from '../system-health.js';
import { storageErrorReply } from '../db/storage-errors.js';
import { mapRoutes, type MapRouteDeps } from './map-routes.js';
import { canSeeResident, canSeeVillage, type SessionUser } from './access.js';
import { authRoutes, type AuthOptions } from './auth-plugin.js';
import { withRoleTitle } from '../auth/user-store.js';
import { registryRoutes, type RegistryRouteDeps } from './registry-routes.js';
import { spreadsheetRoutes, type SpreadsheetRouteDeps } from './spreadsheet-routes.js';
import { reportRoutes, type ReportRouteDeps } from './report-routes.js';
import { townshipRoutes, type TownshipRouteDeps } from './township-routes.js';
import { answerRoutes, stepAuditDetail, type AnswerRoutesOptions } from './answer-routes.js';
import { voiceReceiptRoutes, type VoiceReceiptRoutesOptions } from './voice-receipt-routes.js';
import { securityHeadersHook } from './security-headers.js';
import { hostCheckHook, type AllowedHosts } from './hosts.js';
import { createKanjiaServer, HTTP_LIMITS, type HttpLimits, type TlsCredentials } from './http-server.js';

export interface AppDeps {
  alarms: AlarmService;
  store: SqliteAlarmStore;
  logger: Logger;
  version: string;
  /** Users, sessions and the audit log (auth-plugin.ts). */
  auth: AuthOptions;
  /** Behind a reverse proxy: the proxies whose X-Forwarded-* to believe (config.ts trustProxyOption). */
  trustProxy?: false | string[];
  /** Sees every route as it is registered (the route-walk test). */
  onRoute?: (route: RouteOptions) => void;
  /** The village of a resident; undefined for an unknown one (scope of the away route). */
  residentVillage: (residentId: string) => string | undefined;
  /** Sets a resident's away mode; undefined for an unknown resident. */
  setAway: (residentId: string, away: boolean, by: string, note: string | undefined) => AwayResponse | undefined;
  /** The registry, resident card and device health routes (registry-routes.ts). */
  registry: Omit<RegistryRouteDeps, 'logger'>;
  /** The township's registry list, person records, history, leaving and visits (township-routes.ts). */
  township?: Omit<TownshipRouteDeps, 'logger'>;
  /** Villages for the dashboard header. */
  villages: () => VillageSummary[];
  /** Operating figures for /api/stats. */
  stats: () => SystemStats;
  /** Named readiness checks; /api/health is ok when all are true. */
  health: () => Record<string, boolean>;
  /** The system's own problems (system-health.ts): degraded, or unhealthy (503) when one stops this node doing its job. */
  systemHealth?: Pick<SystemHealth, 'problems' | 'unhealthy'>;
  /** Folder of the built dashboard; omitted or missing → a plain page saying how to build it. */
  dashboardDir?: string;
  /** Largest request body, bytes. */
  bodyLimit?: number;
  /** The helper's answer page and its API (/a/<code>, /api/answer/<code>). */
  answer?: Omit<AnswerRoutesOptions, 'dashboardDir'>;
  /** The voice service's receipt push (POST /api/voice/receipts/<token>): only with a token. */
  voiceReceipts?: VoiceReceiptRoutesOptions;
  /**
   * A write to the registry (villages, households, residents, contacts,
   * devices) succeeded: the scopes of helpers, which follow contact chains,
   * may have changed (the live feed's rooms are recomputed).
   */
  onRegistryWrite?: () => void;
  /** The registry's spreadsheet import and export (/api/registry/import, /api/registry/export.xlsx); omitted in tests that do not need them. */
  spreadsheets?: SpreadsheetRouteDeps;
  /** The township's reports (/api/reports, docs/reports.md); omitted in tests that do not need them. */
  reports?: ReportRouteDeps;
  /** The village map's routes (/api/map/…); omitted in tests that do not need them. */
  map?: MapRouteDeps;
  /** Deadlines and the connection cap of the listener (http-server.ts); HTTP_LIMITS where not given. */
  httpLimits?: Partial<HttpLimits>;
  /** Serve HTTPS with this certificate and key instead of plain HTTP. */
  tls?: TlsCredentials;
  /** The hosts this server answers to (hosts.ts); others get 421 HOST_NOT_ALLOWED. Omitted: any (inject() tests). */
  hosts?: { allowed: AllowedHosts; onRefused: (host: string | undefined, address: string | undefined) => void };
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as unknown as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    // Per-request lines would bury the alarm log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: deps.trustProxy ?? false,
    serverFactory: (handler) => createKanjiaServer(handler, { limits: { ...HTTP_LIMITS, ...deps.httpLimits }, tls: deps.tls, logger: deps.logger.child({ component: 'http' }), nowMs: deps.auth.nowMs }),
  });
  if (deps.onRoute) app.addHook('onRoute', deps.onRoute);
  // First of all hooks: every answer carries them, refusals and errors included.
  app.addHook('onRequest', securityHeadersHook(deps.map?.tiles ?? { kind: 'none' }));
  // Before the session check: a rebound name reads nothing, not even a 401.
  if (deps.hosts) app.addHook('onRequest', hostCheckHook(deps.hosts.allowed, deps.hosts.onRefused));
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((err, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      // "body.note: …"; a problem of the whole body (an unknown key) is "body: …".
      const message = err.validation
        .map((v) => {
          const at = v.instancePath.replace(/^\/+/, '').replace(/\//g, '.');
          return `${err.validationContext ?? 'request'}${at === '' ? '' : `.${at}`}: ${v.message}`;
        })
        .join('; ');
      return sendApiError(reply, 'BAD_REQUEST', message);
    }
    // AlarmError, RegistryError, MapPlanError, ApiProblem…: the catalog's status for the code.
    const known = errorAnswer(err);
    if (known) return reply.code(known.status).send(known.body);
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    const message = err instanceof Error ? err.message : String(err);
    if (status < 500) {
      // Fastify's own refusals keep the status fastify chose (408, 431…: BAD_REQUEST is documented so).
      const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST';
      return reply.code(status).send(apiError(code, message));
    }
    const storage = storageErrorReply(err);
    if (storage) {
      request.log.warn({ err, code: storage.code }, 'request failed: the database cannot write');
      return sendApiError(reply, storage.code, storage.message);
    }
    request.log.error({ err }, 'request failed');
    return sendApiError(reply, 'INTERNAL', 'internal error; the details are in the server log');
  });
  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/api/')) return sendApiError(reply, 'NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`);
    return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
  });

  await app.register(authRoutes, deps.auth);
  if (deps.onRegistryWrite) {
    const onWrite = deps.onRegistryWrite;
    const REGISTRY = /^\/api\/(villages|households|residents|contacts|devices)(\/|$|\?)/;
    app.addHook('onResponse', async (request, reply) => {
      if (request.method !== 'GET' && request.method !== 'HEAD' && reply.statusCode < 400 && REGISTRY.test(request.url)) onWrite();
    });
  }
  const { audit } = deps.auth;

  await app.register(async (api) => {
    const r = api.withTypeProvider<ZodTypeProvider>();
    const errors = { 400: ApiError, 404: ApiError, 409: ApiError };
    /** The session user of a 'session' route (the auth hook has refused the request otherwise). */
    const userOf = (req: FastifyRequest): SessionUser => {
      if (!req.user) throw new Error('a session route ran without a session user');
      return req.user;
    };
    const alarmNotFound = (id: string) => apiError('ALARM_NOT_FOUND', `no alarm with id ${id}`);
    /** The alarm if it exists and is in the user's scope: out of scope is answered exactly as missing. */
    const alarmInScope = (user: SessionUser, id: string) => {
      const view = deps.store.view(id);
      return view && canSeeResident(user, view.village.id, view.resident.id) ? view : undefined;
    };
    const list = (ids: 'all' | ReadonlySet<string> | undefined) => (ids === undefined || ids === 'all' ? undefined : [...ids]);

    r.get('/api/health', { config: { access: 'public' }, schema: { response: { 200: HealthResponse, 503: HealthResponse } } }, async (_req, reply) => {
      const checks = deps.health();
      const ready = Object.values(checks).every(Boolean);
      const problems = deps.systemHealth?.problems() ?? [];
      const unhealthy = deps.systemHealth?.unhealthy() === true;
      const status = !ready ? 'starting' : unhealthy ? 'unhealthy' : problems.length > 0 ? 'degraded' : 'ok';
      return reply.code(ready && !unhealthy ? 200 : 503).send({ status, checks, problems, version: deps.version });
    });

    r.get('/api/villages', { schema: { response: { 200: z.object({ villages: z.array(VillageSummary) }) } } }, async (req) => {
      const user = userOf(req);
      return { villages: deps.villages().filter((v) => canSeeVillage(user, v.id)) };
    });

    r.get('/api/stats', { config: { roles: ['admin', 'township'] }, schema: { response: { 200: SystemStats } } }, async () => deps.stats());

    r.get('/api/alarms', { schema: { querystring: AlarmListQuery, response: { 200: z.object({ alarms: z.array(AlarmView) }), 400: ApiError } } }, async (req) => {
      const user = userOf(req);
      const villageIds = list(user.villageIds);
      const residentIds = list(user.residentIds);
      return { alarms: deps.store.list(req.query.status, req.query.limit, { ...(villageIds ? { villageIds } : {}), ...(residentIds ? { residentIds } : {}) }) };
    });

    r.get('/api/alarms/:id', { schema: { params: AlarmIdParams, response: { 200: AlarmView, ...errors } } }, async (req, reply) => {
      const view = alarmInScope(userOf(req), req.params.id);
      if (!view) return reply.code(404).send(alarmNotFound(req.params.id));
      return view;
    });

    const step = (path: string, action: TransitionAction, body: typeof TakeAlarmBody | typeof AlarmStepBody | typeof ResolveAlarmBody) =>
      r.post(path, { schema: { params: AlarmIdParams, body, response: { 200: AlarmView, ...errors } } }, async (req, reply) => {
        const user = userOf(req);
        if (!alarmInScope(user, req.params.id)) return reply.code(404).send(alarmNotFound(req.params.id));
        const b = req.body as { note?: string; outcome?: AlarmOutcome };
        const view = deps.alarms.act(req.params.id, action, user.displayName, b.note, b.outcome);
        audit.record({ action: `alarm.${action}`, userId: user.id, actor: user.displayName, target: req.params.id, detail: stepAuditDetail(b.note, b.outcome), address: req.ip });
        return view;
      });
    step('/api/alarms/:id/take', 'take', TakeAlarmBody);
    step('/api/alarms/:id/on-the-way', 'onTheWay', AlarmStepBody);
    step('/api/alarms/:id/on-site', 'onSite', AlarmStepBody);
    step('/api/alarms/:id/resolve', 'resolve', ResolveAlarmBody);
    r.post(
      '/api/residents/:id/away',
      { config: { roles: ['admin', 'township', 'duty'] }, schema: { params: ResidentIdParams, body: AwayBody, response: { 200: AwayResponse, ...errors } } },
      async (req, reply) => {
        const user = userOf(req);
        const notFound = apiError('RESIDENT_NOT_FOUND', `no resident with id ${req.params.id}`);
        const villageId = deps.residentVillage(req.params.id);
        if (villageId === undefined || !canSeeResident(user, villageId, req.params.id)) return reply.code(404).send(notFound);
        const result = deps.setAway(req.params.id, req.body.away, user.displayName, req.body.note);
        if (!result) return reply.code(404).send(notFound);
        audit.record({ action: 'resident.away', userId: user.id, actor: user.displayName, target: req.params.id, detail: `${req.body.away ? 'away' : 'home'}${req.body.note ? `: ${req.body.note}` : ''}`, address: req.ip });
        return result;
      },
    );

    // A helper who finds a false alarm resolves it with a note; calling a case off (and what the cancelled SMS says) is the desk's.
    const cancelRoles: readonly UserRole[] = ['admin', 'township', 'duty'];
    r.post('/api/alarms/:id/cancel', { config: { roles: cancelRoles }, schema: { params: AlarmIdParams, body: CancelAlarmBody, response: { 200: AlarmView, ...errors } } }, async (req, reply) => {
      const user = userOf(req);
      if (!alarmInScope(user, req.params.id)) return reply.code(404).send(alarmNotFound(req.params.id));
      // With the role title first: the cancelled SMS names the canceller's real role (sms-templates.ts actorPhrase).
      const view = deps.alarms.act(req.params.id, 'cancel', withRoleTitle(user), req.body.reason);
      audit.record({ action: 'alarm.cancel', userId: user.id, actor: user.displayName, target: req.params.id, detail: req.body.reason, address: req.ip });
      return view;
    });

    if (deps.map) await api.register(mapRoutes, deps.map);
  });

  await app.register(registryRoutes, { ...deps.registry, logger: deps.logger });
  if (deps.spreadsheets) await app.register(spreadsheetRoutes, deps.spreadsheets);
  if (deps.reports) await app.register(reportRoutes, deps.reports);
  if (deps.township) await app.register(townshipRoutes, { ...deps.township, logger: deps.logger });
  if (deps.answer) await app.register(answerRoutes, { ...deps.answer, ...(deps.dashboardDir ? { dashboardDir: deps.dashboardDir } : {}) });
  if (deps.voiceReceipts) await app.register(voiceReceiptRoutes, deps.voiceReceipts);

  if (deps.dashboardDir && existsSync(deps.dashboardDir)) {
    const root = deps.dashboardDir;
    // The page itself holds no data: it is public, and logs in through the API.
    await app.register(async (files) => {
      files.addHook('onRoute', (route) => {
        route.config = { ...route.config, access: 'public' };
      });
      await files.register(fastifyStatic, { root, prefix: '/', index: ['index.html'] });
    });
  } else {
    app.get('/', { config: { access: 'public' } }, async (_req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send('<!doctype html><meta charset="utf-8"><title>Kanjia</title><p>The dashboard is not built. Run <code>npm run build</code>.</p>'),
    );
  }
  return app;
}
