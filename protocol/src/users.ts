/**
 * Users of the dashboard and the helper's phone page, and their roles. The
 * role and the villages (or township) a user belongs to are their scope.
 */
import { z } from 'zod';

/** admin: the whole deployment; township: 镇民政办; duty: 村委值班; helper: 帮扶责任人. */
export const USER_ROLES = ['admin', 'township', 'duty', 'helper'] as const;
export const UserRole = z.enum(USER_ROLES);
export type UserRole = z.infer<typeof UserRole>;
