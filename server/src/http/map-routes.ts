/**
 * REST routes of the village map: the in-scope households with their state,
 * the map's configuration (tiles or plans), and the plan image upload.
 * Out-of-scope villages answer 404 exactly as if they did not exist.
 */
import { ApiError, MapConfigResponse, MapHouseholdsResponse, MapPlan, MapPlanQuery, VillageIdParams, type MapTiles, type VillageSummary } from '@kanjia/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HouseholdMap } from '../map/household-map.js';
import { MAX_PLAN_BYTES, type MapPlanStore } from '../map/map-plans.js';
import { apiError, sendApiError } from './api-errors.js';
import type { SqliteAuditLog } from '../auth/audit-log.js';
import { canEditRegistry, canSeeVillage, type SessionUser } from './access.js';
import { auditChanges } from './audit-changes.js';

export interface MapRouteDeps {
  /** Where plan uploads and removals are recorded. */
  audit?: Pick<SqliteAuditLog, 'record'>;
  households: HouseholdMap;
  plans: MapPlanStore;
  tiles: MapTiles;
  villages: () => VillageSummary[];
  nowMs: () => number;
}

/** The session user; null while no auth layer sets one (then everything is in scope). */
function userOf(req: FastifyRequest): SessionUser | null {
  return (req as { user?: SessionUser | null }).user ?? null;
}

function seesVillage(user: SessionUser | null, villageId: string): boolean {
  return user === null || canSeeVillage(user, villageId);
}

/** Registers the /api/map routes (an encapsulated plugin: its image body parser stays inside). */
export async function mapRoutes(app: FastifyInstance, deps: MapRouteDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  auditChanges(app, deps.audit, 'map.plan');
  app.addContentTypeParser(['image/png', 'image/jpeg'], { parseAs: 'buffer', bodyLimit: MAX_PLAN_BYTES }, (_req, body, done) => done(null, body));
  app.setErrorHandler((err, req, reply) => {
    // Fastify's own 413 for a body over the limit: the plan is too large. MapPlanError and the rest: the app's handler.
    if ((err as { statusCode?: number }).statusCode === 413) return sendApiError(reply, 'PLAN_TOO_LARGE', `the plan is larger than ${MAX_PLAN_BYTES} bytes (10 MiB)`);
    throw err;
  });
  const notFound = (villageId: string) => apiError('VILLAGE_NOT_FOUND', `no village with id ${villageId}`);

  r.get('/api/map/households', { schema: { response: { 200: MapHouseholdsResponse } } }, async (req) => ({ households: deps.households.list(userOf(req)) }));

  r.get('/api/map/config', { schema: { response: { 200: MapConfigResponse } } }, async (req) => {
    const user = userOf(req);
    return {
      tiles: deps.tiles,
      plans: deps.plans.list().filter((p) => seesVillage(user, p.villageId)),
      villages: deps.villages()
        .filter((v) => seesVillage(user, v.id))
        .map((v) => ({ id: v.id, name: v.name, lat: v.lat, lng: v.lng })),
    };
  });

  r.get('/api/map/plans/:villageId', { schema: { params: VillageIdParams } }, async (req, reply) => {
    if (!seesVillage(userOf(req), req.params.villageId)) return reply.code(404).send(notFound(req.params.villageId));
    const { contentType, bytes } = deps.plans.image(req.params.villageId);
    // The URL carries the upload time, so the image may be cached; private: it is behind the session.
    return reply.type(contentType).header('cache-control', 'private, max-age=86400').send(bytes);
  });

  r.put(
    '/api/map/plans/:villageId',
    {
      config: { roles: ['admin', 'township'] },
      schema: { params: VillageIdParams, querystring: MapPlanQuery, response: { 200: MapPlan, 400: ApiError, 403: ApiError, 404: ApiError, 413: ApiError, 415: ApiError } },
    },
    async (req, reply) => {
      const user = userOf(req);
      if (!seesVillage(user, req.params.villageId)) return reply.code(404).send(notFound(req.params.villageId));
      if (user !== null && !canEditRegistry(user)) return sendApiError(reply, 'FORBIDDEN', 'only the registry keepers (admin, township) may change the village plan');
      const body = req.body;
      if (!Buffer.isBuffer(body)) return sendApiError(reply, 'UNSUPPORTED_MEDIA_TYPE', 'send the plan as the body with content-type image/png or image/jpeg');
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim() ?? '';
      const plan = deps.plans.save(req.params.villageId, contentType, body, req.query, user?.displayName ?? null, deps.nowMs());
      req.log.info({ villageId: req.params.villageId, width: plan.width, height: plan.height, bytes: body.length }, 'village plan uploaded');
      return plan;
    },
  );

  r.delete(
    '/api/map/plans/:villageId',
    { config: { roles: ['admin', 'township'] }, schema: { params: VillageIdParams, response: { 200: z.object({ removed: z.literal(true) }), 403: ApiError, 404: ApiError } } },
    async (req, reply) => {
      const user = userOf(req);
      if (!seesVillage(user, req.params.villageId)) return reply.code(404).send(notFound(req.params.villageId));
      if (user !== null && !canEditRegistry(user)) return sendApiError(reply, 'FORBIDDEN', 'only the registry keepers (admin, township) may change the village plan');
      deps.plans.remove(req.params.villageId);
      return { removed: true as const };
    },
  );
}
