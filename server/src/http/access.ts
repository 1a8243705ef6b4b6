/**
 * Who is asking, and what they may see: the contract between the session
 * layer (auth plugin) and every route. Every route requires a session unless
 * its config says otherwise; a route walk test enforces it.
 *
 * - admin: the whole deployment.
 * - township (镇民政办): every village of its township.
 * - duty (村委值班): the villages given to them.
 * - helper (帮扶责任人): the residents whose contact chain they are in (matched by phone).
 */
import type { UserRole } from '@kanjia/protocol';

/** The user of a valid session, as the routes see it (request.user). */
export interface SessionUser {
  id: string;
  name: string;
  /** Shown on the case history and to the button's owner: "值班员 李明". */
  displayName: string;
  role: UserRole;
  /** Villages in scope: 'all' for admin; a township's villages; a duty officer's villages; for a helper the villages of their residents. */
  villageIds: 'all' | ReadonlySet<string>;
  /** For a helper only: the residents whose chain they are in; undefined = every resident of the villages in scope. */
  residentIds?: ReadonlySet<string>;
}

/**
 * How a route is reached, in its fastify route `config.access`:
 * - 'session' (the default when absent): a valid session cookie, else 401;
 * - 'public': no session (health, login, the static dashboard files);
 * - 'code': the SMS answer code in the URL is the credential (the helper's phone page).
 */
export type RouteAccess = 'session' | 'public' | 'code';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
    /** Roles allowed on this route; absent = every role with a session. */
    roles?: readonly UserRole[];
  }
  interface FastifyRequest {
    /** Set by the auth plugin on 'session' routes; null on 'public'/'code' routes. */
    user: SessionUser | null;
  }
}

/** True if the user's scope includes the village. */
export function canSeeVillage(user: SessionUser, villageId: string): boolean {
  return user.villageIds === 'all' || user.villageIds.has(villageId);
}

/** True if the user's scope includes this resident of this village. */
export function canSeeResident(user: SessionUser, villageId: string, residentId: string): boolean {
  if (!canSeeVillage(user, villageId)) return false;
  return user.residentIds === undefined || user.residentIds.has(residentId);
}

/** Roles that see phone numbers in clear, to call the contact chain (the others get 138****5678). */
export function seesPhoneNumbers(user: SessionUser): boolean {
  return user.role === 'admin' || user.role === 'township' || user.role === 'duty';
}

/** Roles that see ID numbers (身份证号) in clear: the registry keepers only. */
export function seesIdNumbers(user: SessionUser): boolean {
  return user.role === 'admin' || user.role === 'township';
}

/** Roles that may change the registry (villages, households, residents, contacts, devices). */
export function canEditRegistry(user: SessionUser): boolean {
  return user.role === 'admin' || user.role === 'township';
}
