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
} from '@kanjia/protocol';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { AlarmError, type AlarmErrorCode, type SqliteAlarmStore, type TransitionAction } from '../alarms/alarm-store.js';
import type { AlarmService } from '../alarms/alarm-service.js';
import type { Logger } from '../logger.js';
import { mapRoutes, type MapRouteDeps } from './map-routes.js';

const STATUS_OF: Record<AlarmErrorCode, number> = {
  ALARM_NOT_FOUND: 404,
  ALARM_ALREADY_TAKEN: 409,
  ALARM_CLOSED: 409,
  ALARM_WRONG_STATE: 409,
};

export interface AppDeps {
  alarms: AlarmService;
  store: SqliteAlarmStore;
  logger: Logger;
  version: string;
  /** Sets a resident's away mode; undefined for an unknown resident. */
  setAway: (residentId: string, away: boolean, by: string, note: string | undefined) => AwayResponse | undefined;
  /** Villages for the dashboard header. */
  villages: () => VillageSummary[];
  /** Operating figures for /api/stats. */
  stats: () => SystemStats;
  /** Named readiness checks; /api/health is ok when all are true. */
  health: () => Record<string, boolean>;
  /** Folder of the built dashboard; omitted or missing → a plain page saying how to build it. */
  dashboardDir?: string;
  /** Largest request body, bytes. */
  bodyLimit?: number;
  /** The village map's routes (/api/map/…); omitted in tests that do not need them. */
  map?: MapRouteDeps;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'http' }) as unknown as FastifyBaseLogger,
    bodyLimit: deps.bodyLimit ?? 64 * 1024,
    // Per-request lines would bury the alarm log; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  app.setErrorHandler((err, request, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const message = err.validation.map((v) => `${err.validationContext ?? 'request'}${v.instancePath.replace(/\//g, '.')}: ${v.message}`).join('; ');
      return reply.code(400).send({ code: 'BAD_REQUEST', message });
    }
    if (err instanceof AlarmError) return reply.code(STATUS_OF[err.code]).send({ code: err.code, message: err.message });
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    const message = err instanceof Error ? err.message : String(err);
    if (status < 500) {
      const code = status === 413 ? 'PAYLOAD_TOO_LARGE' : status === 415 ? 'UNSUPPORTED_MEDIA_TYPE' : status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST';
      return reply.code(status).send({ code, message });
    }
    request.log.error({ err }, 'request failed');
    return reply.code(500).send({ code: 'INTERNAL', message: 'internal error; the details are in the server log' });
  });
  app.setNotFoundHandler((request, reply) => {
    if (request.url.startsWith('/api/')) return reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${request.url.split('?')[0]}` });
    return reply.code(404).type('text/plain; charset=utf-8').send('Not found');
  });

  await app.register(async (api) => {
    const r = api.withTypeProvider<ZodTypeProvider>();
    const errors = { 400: ApiError, 404: ApiError, 409: ApiError };

    r.get('/api/health', { schema: { response: { 200: HealthResponse, 503: HealthResponse } } }, async (_req, reply) => {
      const checks = deps.health();
      const ok = Object.values(checks).every(Boolean);
      return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'starting', checks, version: deps.version });
    });

    r.get('/api/villages', { schema: { response: { 200: z.object({ villages: z.array(VillageSummary) }) } } }, async () => ({ villages: deps.villages() }));

    r.get('/api/stats', { schema: { response: { 200: SystemStats } } }, async () => deps.stats());

    r.get('/api/alarms', { schema: { querystring: AlarmListQuery, response: { 200: z.object({ alarms: z.array(AlarmView) }), 400: ApiError } } }, async (req) => {
      return { alarms: deps.store.list(req.query.status, req.query.limit) };
    });

    r.get('/api/alarms/:id', { schema: { params: AlarmIdParams, response: { 200: AlarmView, ...errors } } }, async (req, reply) => {
      const view = deps.store.view(req.params.id);
      if (!view) return reply.code(404).send({ code: 'ALARM_NOT_FOUND', message: `no alarm with id ${req.params.id}` });
      return view;
    });

    const step = (path: string, action: TransitionAction, body: typeof TakeAlarmBody | typeof AlarmStepBody | typeof ResolveAlarmBody) =>
      r.post(path, { schema: { params: AlarmIdParams, body, response: { 200: AlarmView, ...errors } } }, async (req) => {
        const b = req.body as { by: string; note?: string };
        return deps.alarms.act(req.params.id, action, b.by, b.note);
      });
    step('/api/alarms/:id/take', 'take', TakeAlarmBody);
    step('/api/alarms/:id/on-the-way', 'onTheWay', AlarmStepBody);
    step('/api/alarms/:id/on-site', 'onSite', AlarmStepBody);
    step('/api/alarms/:id/resolve', 'resolve', ResolveAlarmBody);
    r.post('/api/residents/:id/away', { schema: { params: ResidentIdParams, body: AwayBody, response: { 200: AwayResponse, ...errors } } }, async (req, reply) => {
      const result = deps.setAway(req.params.id, req.body.away, req.body.by, req.body.note);
      if (!result) return reply.code(404).send({ code: 'RESIDENT_NOT_FOUND', message: `no resident with id ${req.params.id}` });
      return result;
    });

    r.post('/api/alarms/:id/cancel', { schema: { params: AlarmIdParams, body: CancelAlarmBody, response: { 200: AlarmView, ...errors } } }, async (req) => {
      return deps.alarms.act(req.params.id, 'cancel', req.body.by, req.body.reason);
    });

    if (deps.map) await api.register(mapRoutes, deps.map);
  });

  if (deps.dashboardDir && existsSync(deps.dashboardDir)) {
    await app.register(fastifyStatic, { root: deps.dashboardDir, prefix: '/', index: ['index.html'] });
  } else {
    app.get('/', async (_req, reply) =>
      reply
        .type('text/html; charset=utf-8')
        .send('<!doctype html><meta charset="utf-8"><title>Kanjia</title><p>The dashboard is not built. Run <code>npm run build</code>.</p>'),
    );
  }
  return app;
}
