import { USER_ROLES, type UserRole } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import type { SessionUser } from '../src/http/access.js';
import { idNumberFor, phoneFor } from '../src/http/masking.js';

const as = (role: UserRole): SessionUser => ({ id: 'u', name: 'u', displayName: 'u', role, villageIds: 'all' });

describe('personal numbers by role', () => {
  it('shows phones in clear to admin, township and duty; masks them for helpers', () => {
    const shown = Object.fromEntries(USER_ROLES.map((r) => [r, phoneFor(as(r), '13812345678')]));
    expect(shown).toEqual({ admin: '13812345678', township: '13812345678', duty: '13812345678', helper: '138****5678' });
    expect(phoneFor(as('helper'), null)).toBeNull();
  });

  it('shows ID numbers in clear to admin and township only', () => {
    const shown = Object.fromEntries(USER_ROLES.map((r) => [r, idNumberFor(as(r), '430524194101011240')]));
    expect(shown).toEqual({ admin: '430524194101011240', township: '430524194101011240', duty: '430524********1240', helper: '430524********1240' });
  });
});
