/**
 * socket.io events between the server and the dashboard. The feed is one-way:
 * actions go through the REST API, so every change has one validated path.
 */
import { z } from 'zod';
import { AlarmRepeats, AlarmView, type SystemHealthEvent } from './alarms.js';
import { EpochMs } from './mqtt.js';
import type { HouseholdStateEvent } from './map.js';

export const SOCKET_EVENTS = {
  /** An alarm was opened or changed; the payload is the whole case. */
  alarmUpdate: 'alarm:update',
  /** Only the repeat count of an open case changed (a stuck button): the count, not the whole case; at most one a second per case. */
  alarmRepeats: 'alarm:repeats',
  /** A device went online or offline, or its connection became unstable or stable again. */
  devicePresence: 'device:presence',
  /** A household's map state changed (protocol/src/map.ts). */
  householdState: 'household:state',
  /** The system's own problems changed (or a socket connected): the whole list, empty when all is well. */
  systemHealth: 'system:health',
} as const;

export const AlarmUpdateEvent = AlarmView;
export type AlarmUpdateEvent = z.infer<typeof AlarmUpdateEvent>;

/**
 * `alarm:repeats`: the case `id` was triggered again and nothing else about it
 * changed. Applied to the case the page holds when it is not older than
 * `updatedAt`; anything else about a case always comes as a whole `alarm:update`.
 */
export const AlarmRepeatsEvent = z.object({ id: z.string(), repeats: AlarmRepeats, updatedAt: EpochMs });
export type AlarmRepeatsEvent = z.infer<typeof AlarmRepeatsEvent>;

export const DevicePresenceEvent = z.object({
  deviceId: z.string(),
  online: z.boolean(),
  at: z.number().int().nonnegative(),
  /**
   * The connection keeps dropping: `online` says little, the page shows
   * 连接不稳定 instead. Presence is sent at most once per 5 s per device.
   * Absent from an older server: stable.
   */
  unstable: z.boolean().optional(),
});
export type DevicePresenceEvent = z.infer<typeof DevicePresenceEvent>;

export interface ServerToClientEvents {
  'alarm:update': (alarm: AlarmUpdateEvent) => void;
  'alarm:repeats': (event: AlarmRepeatsEvent) => void;
  'device:presence': (event: DevicePresenceEvent) => void;
  'household:state': (event: HouseholdStateEvent) => void;
  'system:health': (event: SystemHealthEvent) => void;
}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ClientToServerEvents {}
