/**
 * The role check of `config.roles` (the auth plugin's contract), enforced in a
 * route group as well, so its routes refuse a write whatever plugin sets
 * request.user. Before the body is validated: a refused role is told so,
 * whatever the body carries.
 */
import type { FastifyInstance } from 'fastify';
import { sendApiError } from './api-errors.js';

/** Adds the preValidation hook to `app` (an encapsulated route group). */
export function checkRoles(app: FastifyInstance): void {
  app.addHook('preValidation', async (req, reply) => {
    const user = req.user;
    if (!user) return sendApiError(reply, 'UNAUTHENTICATED', 'log in first');
    const roles = req.routeOptions.config.roles;
    if (roles && !roles.includes(user.role)) return sendApiError(reply, 'FORBIDDEN', `a ${user.role} user may not do this`);
    return undefined;
  });
}
