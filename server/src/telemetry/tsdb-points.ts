/**
 * What Kanjia writes to the time-series database, as line protocol.
 *
 * Two measurements, chosen for what a county dashboard asks ("CO in every
 * home of this village last night", "homes without a sign of life since
 * noon"), with only ids in tags: no names, phone numbers or addresses.
 *
 * - `kanjia_telemetry`, tags `device`, `kind`, `household`, `village`; one
 *   field per reading, snake case with its unit (`co_ppm`, `temperature_c`,
 *   `motion` as a boolean…); time = when the server received it, ms.
 *   In VictoriaMetrics each field is a series `kanjia_telemetry_co_ppm{…}`.
 * - `kanjia_activity`, tags `resident`, `household`, `village`; field
 *   `signs` (integer): the signs of life the inactivity detector counted,
 *   as the activity log writes them (one point per resident and flush, at
 *   the time of the first of them). The resident card's 7-day chart reads
 *   these (activity-chart.ts).
 */
import { Point } from '@influxdata/influxdb-client';
import type { Readings } from '@kanjia/protocol';

export const TELEMETRY_MEASUREMENT = 'kanjia_telemetry';
export const ACTIVITY_MEASUREMENT = 'kanjia_activity';
/** The series VictoriaMetrics (and a Prometheus-style query) knows the activity counts by: measurement_field. */
export const ACTIVITY_SERIES = `${ACTIVITY_MEASUREMENT}_signs`;

/** Where a device or resident belongs, by id. */
export interface PlaceTags {
  householdId?: string | undefined;
  villageId?: string | undefined;
}

/** `coPpm` → `co_ppm`, `temperatureC` → `temperature_c`. */
export function fieldName(reading: string): string {
  return reading.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** One telemetry message as a line; undefined when it holds no reading. */
export function telemetryLine(deviceId: string, kind: string | undefined, place: PlaceTags, receivedAtMs: number, readings: Readings): string | undefined {
  const point = new Point(TELEMETRY_MEASUREMENT).tag('device', deviceId);
  if (kind) point.tag('kind', kind);
  if (place.householdId) point.tag('household', place.householdId);
  if (place.villageId) point.tag('village', place.villageId);
  for (const [key, value] of Object.entries(readings)) {
    if (typeof value === 'boolean') point.booleanField(fieldName(key), value);
    else if (typeof value === 'number' && Number.isFinite(value)) point.floatField(fieldName(key), value);
  }
  point.timestamp(Math.round(receivedAtMs));
  return Object.keys(point.fields).length > 0 ? point.toLineProtocol() : undefined;
}

/** A resident's signs of life counted since the last flush, at the time of the first. */
export function activityLine(residentId: string, place: PlaceTags, firstAtMs: number, signs: number): string | undefined {
  if (signs <= 0) return undefined;
  const point = new Point(ACTIVITY_MEASUREMENT).tag('resident', residentId);
  if (place.householdId) point.tag('household', place.householdId);
  if (place.villageId) point.tag('village', place.villageId);
  return point.intField('signs', signs).timestamp(Math.round(firstAtMs)).toLineProtocol();
}
