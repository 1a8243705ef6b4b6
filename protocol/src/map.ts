/**
 * The village map: every watched household with one state, the live
 * `household:state` event, and the map's configuration (tiles or an uploaded
 * village plan). Positions are WGS-84 everywhere; the page converts them for
 * tile services that use GCJ-02.
 */
import { z } from 'zod';
import { EpochMs } from './mqtt.js';
import { Latitude, Longitude } from './registry.js';

/**
 * A household's state, in order of precedence: the first that applies wins.
 * - alarm (报警): an active case (other than a device-health case);
 * - reminder (待确认): the device asked the person to press and nobody answered yet;
 * - device (设备异常): a device offline, unstable, on a low battery, never seen, or none installed;
 * - away (外出): every resident is in away mode;
 * - learning (学习中): the inactivity detector is still in its first week for a resident;
 * - fine (平安).
 */
export const HOUSEHOLD_STATES = ['alarm', 'reminder', 'device', 'away', 'learning', 'fine'] as const;
export const HouseholdState = z.enum(HOUSEHOLD_STATES);
export type HouseholdState = z.infer<typeof HouseholdState>;

/** Why a reminder or device state: what the list beside the map says. */
/** unstable: a device's connection keeps dropping (shown instead of a pin that flickers between device and fine). */
export const HOUSEHOLD_STATE_DETAILS = ['inactivity', 'checkIn', 'offline', 'lowBattery', 'neverSeen', 'noDevice', 'unstable'] as const;
export const HouseholdStateDetail = z.enum(HOUSEHOLD_STATE_DETAILS);
export type HouseholdStateDetail = z.infer<typeof HouseholdStateDetail>;

export const MapHousehold = z.object({
  id: z.string(),
  villageId: z.string(),
  address: z.string(),
  /** WGS-84. */
  lat: Latitude,
  lng: Longitude,
  residents: z.array(z.object({ id: z.string(), name: z.string() })),
  state: HouseholdState,
  detail: HouseholdStateDetail.nullable(),
  /** Active cases of any kind (device-health cases included). */
  activeAlarms: z.number().int().nonnegative(),
  /** When the server last computed a change of this household's state. */
  changedAt: EpochMs,
});
export type MapHousehold = z.infer<typeof MapHousehold>;

export const MapHouseholdsResponse = z.object({ households: z.array(MapHousehold) });
export type MapHouseholdsResponse = z.infer<typeof MapHouseholdsResponse>;

/** socket.io `household:state`: the household as the map shows it, sent on every change of its state, detail or alarm count. */
export const HouseholdStateEvent = MapHousehold;
export type HouseholdStateEvent = z.infer<typeof HouseholdStateEvent>;

/** One raster layer; `url` is a Leaflet template ({z}/{x}/{y}, {s} for a subdomain). */
export const MapTileLayer = z.object({
  url: z.string().min(1),
  subdomains: z.array(z.string()),
  attribution: z.string(),
  maxZoom: z.number().int().min(1).max(22),
});
export type MapTileLayer = z.infer<typeof MapTileLayer>;

/** none: no tile is ever requested (the ordinary case: no internet in the village office). */
export const MapTiles = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('none') }),
  z.object({
    kind: z.literal('tiles'),
    layers: z.array(MapTileLayer).min(1),
    /** Datum of the tiles: gcj02 for Gaode/Tencent-style tiles, whose positions are shifted by law (GCJ-02). */
    crs: z.enum(['wgs84', 'gcj02']),
  }),
]);
export type MapTiles = z.infer<typeof MapTiles>;

/** The bounds of an uploaded village plan image, WGS-84: south-west and north-east corners. */
export const MapPlanBounds = z
  .object({ south: Latitude, west: Longitude, north: Latitude, east: Longitude })
  .strict()
  .refine((b) => b.south < b.north, { message: 'south must be below north', path: ['north'] })
  .refine((b) => b.west < b.east, { message: 'west must be left of east', path: ['east'] });
export type MapPlanBounds = z.infer<typeof MapPlanBounds>;

/** Query string of a plan upload: the corners as numbers. */
export const MapPlanQuery = z
  .object({ south: z.coerce.number(), west: z.coerce.number(), north: z.coerce.number(), east: z.coerce.number() })
  .strict()
  .pipe(MapPlanBounds);

export const MapPlan = z.object({
  villageId: z.string(),
  /** Where the page fetches the image (same origin). */
  url: z.string(),
  contentType: z.enum(['image/png', 'image/jpeg']),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  bounds: z.object({ south: Latitude, west: Longitude, north: Latitude, east: Longitude }),
  uploadedAt: EpochMs,
});
export type MapPlan = z.infer<typeof MapPlan>;

export const MapConfigResponse = z.object({
  tiles: MapTiles,
  plans: z.array(MapPlan),
  /** Villages in scope with their centre, to frame a village without households yet. */
  villages: z.array(z.object({ id: z.string(), name: z.string(), lat: Latitude, lng: Longitude })),
});
export type MapConfigResponse = z.infer<typeof MapConfigResponse>;

export const VillageIdParams = z.object({ villageId: z.string().min(1).max(64) }).strict();
