/**
 * The map's view of the households, without Leaflet: the state order, the
 * glyph each state shows beside its colour (so colour-blind officers can tell
 * them apart), and the list beside the map, alarms first.
 */
import { HOUSEHOLD_STATES, type HouseholdState, type MapHousehold } from '@kanjia/protocol';

/** The mark inside each pin, besides its colour and shape. */
export const STATE_GLYPH: Readonly<Record<HouseholdState, string>> = {
  alarm: '!',
  reminder: '?',
  device: '×',
  away: '→',
  learning: '…',
  fine: '✓',
};

const RANK = new Map<HouseholdState, number>(HOUSEHOLD_STATES.map((s, i) => [s, i]));

/** Alarms first (most cases first), then reminders, device problems, away, learning, fine; then by address. */
export function compareHouseholds(a: MapHousehold, b: MapHousehold): number {
  return (RANK.get(a.state) ?? 9) - (RANK.get(b.state) ?? 9) || b.activeAlarms - a.activeAlarms || a.address.localeCompare(b.address, 'zh-CN');
}

/** The first `limit` households in list order, and how many were left out. */
export function householdList(all: Iterable<MapHousehold>, limit: number): { rows: MapHousehold[]; more: number; total: number } {
  const sorted = [...all].sort(compareHouseholds);
  return { rows: sorted.slice(0, limit), more: Math.max(0, sorted.length - limit), total: sorted.length };
}

/** How many households are in each state. */
export function countStates(all: Iterable<MapHousehold>): Record<HouseholdState, number> {
  const counts = Object.fromEntries(HOUSEHOLD_STATES.map((s) => [s, 0])) as Record<HouseholdState, number>;
  for (const h of all) counts[h.state] += 1;
  return counts;
}
