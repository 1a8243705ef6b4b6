/**
 * Records every successful change a route group makes (POST/PUT/PATCH/DELETE
 * answered 2xx) in the audit log: who, which route, which record, from where.
 * The body is not recorded: it may hold phone and ID numbers.
 */
import type { AuditAction } from '@kanjia/protocol';
import type { FastifyInstance } from 'fastify';
import type { SqliteAuditLog } from '../auth/audit-log.js';

const CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Adds an onResponse hook to `app` (an encapsulated route group) that audits its changes as `action`. */
export function auditChanges(app: FastifyInstance, audit: Pick<SqliteAuditLog, 'record'> | undefined, action: AuditAction): void {
  if (!audit) return;
  app.addHook('onResponse', async (req, reply) => {
    if (!CHANGING.has(req.method) || reply.statusCode >= 300 || !req.user) return;
    const params = (req.params ?? {}) as Record<string, string | undefined>;
    const target = params.id ?? params.villageId ?? params.contactId ?? null;
    audit.record({ action, userId: req.user.id, actor: req.user.displayName, target, detail: `${req.method} ${req.routeOptions.url ?? req.url}`, address: req.ip });
  });
}
