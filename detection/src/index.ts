/**
 * The stream processor: normalised device events in, findings out. Pure: no
 * I/O, time comes from the caller. This first part turns the events that are
 * alarms in themselves (an SOS press, a fall the device detected) into
 * findings; the sensor-based detectors (fall from accelerometer windows,
 * inactivity, missed check-in, device health, environment) follow in issue 3.
 */
import type { DeviceEvent } from '@kanjia/protocol';
import type { Finding } from './types.js';

export * from './types.js';

/** Findings that a single device event carries by itself. */
export function findingsFromEvent(deviceId: string, event: DeviceEvent): Finding[] {
  switch (event.type) {
    case 'sos':
      return [{ kind: 'sos', deviceId, eventId: event.id, eventTs: event.ts, reason: 'sos button pressed' }];
    case 'fall':
      return [
        {
          kind: 'fall',
          deviceId,
          eventId: event.id,
          eventTs: event.ts,
          reason: event.confidence === undefined ? 'fall detected by the device' : `fall detected by the device (confidence ${event.confidence})`,
        },
      ];
    default:
      return [];
  }
}
export * from './fall/index.js';
export * from './inactivity/index.js';
export * from './check-in/index.js';
export * from './device-health/index.js';
export * from './environment/index.js';
