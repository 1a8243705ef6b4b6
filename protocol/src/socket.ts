/**
 * socket.io events between the server and the dashboard. The feed is one-way:
 * actions go through the REST API, so every change has one validated path.
 */
import { z } from 'zod';
import { AlarmView, type SystemHealthEvent } from './alarms.js';
import type { HouseholdStateEvent } from './map.js';

export const SOCKET_EVENTS = {
  /** An alarm was opened or changed; the payload is the whole case. */
  alarmUpdate: 'alarm:update',
  /** A device went online or offline. */
  devicePresence: 'device:presence',
  /** A household's map state changed (protocol/src/map.ts). */
  householdState: 'household:state',
  /** The system's own problems changed (or a socket connected): the whole list, empty when all is well. */
  systemHealth: 'system:health',
} as const;

export const AlarmUpdateEvent = AlarmView;
export type AlarmUpdateEvent = z.infer<typeof AlarmUpdateEvent>;

export const DevicePresenceEvent = z.object({
  deviceId: z.string(),
  online: z.boolean(),
  at: z.number().int().nonnegative(),
});
export type DevicePresenceEvent = z.infer<typeof DevicePresenceEvent>;

export interface ServerToClientEvents {
  'alarm:update': (alarm: AlarmUpdateEvent) => void;
  'device:presence': (event: DevicePresenceEvent) => void;
  'household:state': (event: HouseholdStateEvent) => void;
  'system:health': (event: SystemHealthEvent) => void;
}
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface ClientToServerEvents {}
