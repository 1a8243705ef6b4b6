import type { MapHousehold } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import { countStates, householdList, STATE_GLYPH } from '../src/map/households';
import { parseRoute, routeHash } from '../src/router';

const hh = (id: string, state: MapHousehold['state'], activeAlarms = 0, address = id): MapHousehold => ({
  id,
  villageId: 'v',
  address,
  lat: 27.1,
  lng: 111,
  residents: [{ id: `r-${id}`, name: id }],
  state,
  detail: null,
  activeAlarms,
  changedAt: 0,
});

describe('the list beside the map', () => {
  it('puts alarms first (most cases first), then reminders, device problems, away, learning, fine', () => {
    const list = householdList([hh('a', 'fine'), hh('b', 'learning'), hh('c', 'alarm', 1), hh('d', 'device'), hh('e', 'alarm', 2), hh('f', 'reminder'), hh('g', 'away')], 10);
    expect(list.rows.map((r) => r.id)).toEqual(['e', 'c', 'f', 'd', 'g', 'b', 'a']);
    expect(list.more).toBe(0);
  });
  it('cuts at the limit and says how many were left out', () => {
    const many = Array.from({ length: 250 }, (_, i) => hh(`h${i}`, i === 249 ? 'alarm' : 'fine', i === 249 ? 1 : 0));
    const list = householdList(many, 200);
    expect(list.rows).toHaveLength(200);
    expect(list.rows[0]?.id).toBe('h249');
    expect([list.more, list.total]).toEqual([50, 250]);
  });
  it('counts the households of each state for the legend', () => {
    expect(countStates([hh('a', 'fine'), hh('b', 'fine'), hh('c', 'alarm', 1)])).toEqual({ alarm: 1, reminder: 0, device: 0, away: 0, learning: 0, fine: 2 });
  });
  it('gives each state its own glyph besides its colour', () => {
    expect(new Set(Object.values(STATE_GLYPH)).size).toBe(6);
  });
});

describe('the desk’s routes', () => {
  it('reads #/map and #/residents/<id>; anything else is the alarm queue', () => {
    expect(parseRoute('#/map')).toEqual({ view: 'map', param: '' });
    expect(parseRoute('#/residents/res_1')).toEqual({ view: 'residents', param: 'res_1' });
    expect(parseRoute('')).toEqual({ view: 'alarms', param: '' });
    expect(parseRoute('#/nonsense/x')).toEqual({ view: 'alarms', param: '' });
    expect(routeHash('residents', 'res 1')).toBe('#/residents/res%201');
  });
});
