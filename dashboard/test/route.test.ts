import { describe, expect, it } from 'vitest';
import { parseRoute, routeHash } from '../src/route';

describe('view routes in the URL hash', () => {
  it('reads the views and falls back to the queue', () => {
    expect(parseRoute('#/residents/res_3k9x')).toEqual({ name: 'resident', id: 'res_3k9x' });
    expect(parseRoute('#/residents')).toEqual({ name: 'residents' });
    expect(parseRoute('#/devices')).toEqual({ name: 'devices' });
    expect(parseRoute('')).toEqual({ name: 'queue' });
    expect(parseRoute('#/nonsense')).toEqual({ name: 'queue' });
  });

  it('writes what it reads', () => {
    for (const r of [{ name: 'queue' }, { name: 'residents' }, { name: 'resident', id: 'res_a b' }, { name: 'devices' }] as const) expect(parseRoute(routeHash(r))).toEqual(r);
  });
});
