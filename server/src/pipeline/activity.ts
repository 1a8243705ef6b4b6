/**
 * Turns device messages into signs of life for the inactivity detector: the
 * start of motion, a door or bed changing state, an appliance switched on,
 * water starting to flow, a button pressed.
 */
import type { Activity } from '@kanjia/detection';
import type { DeviceEvent, DeviceKind, Readings } from '@kanjia/protocol';

/** Power above this, in watts, means an appliance is in use (a rice cooker, a TV); below it is standby. */
export const APPLIANCE_ON_W = 15;

/**
 * What one telemetry message tells the inactivity detector, given the previous
 * readings of the same device: motion reports and clears, and the edges of the
 * levels (door, bed, power, water). The detector decides what is a sign of life.
 */
export function activitiesFromReadings(kind: DeviceKind, isExit: boolean, readings: Readings, previous: Readings | undefined, atMs: number): Activity[] {
  const out: Activity[] = [];
  // Every "motion" report goes to the detector, and the clear: it tells a PIR re-triggering
  // (a person moving) from one stuck "on" by the reports' spacing (docs/protocol.md).
  if (readings.motion === true) out.push({ atMs, source: 'motion', value: 1 });
  else if (readings.motion === false && previous?.motion === true) out.push({ atMs, source: 'motion', value: 0 });
  if (readings.contactOpen !== undefined && readings.contactOpen !== previous?.contactOpen) {
    out.push({ atMs, source: 'door', value: readings.contactOpen ? 1 : 0, ...(isExit ? { exit: true } : {}) });
  }
  if (readings.occupancy !== undefined && readings.occupancy !== previous?.occupancy) {
    out.push({ atMs, source: kind === 'bedSensor' ? 'bed' : 'chair', value: readings.occupancy ? 1 : 0 });
  }
  if (readings.powerW !== undefined) {
    const on = readings.powerW > APPLIANCE_ON_W;
    const wasOn = previous?.powerW !== undefined && previous.powerW > APPLIANCE_ON_W;
    if (on !== wasOn) out.push({ atMs, source: 'appliance', value: on ? 1 : 0 });
  }
  if (readings.waterFlowLpm !== undefined) {
    const flowing = readings.waterFlowLpm > 0;
    const wasFlowing = previous?.waterFlowLpm !== undefined && previous.waterFlowLpm > 0;
    if (flowing !== wasFlowing) out.push({ atMs, source: 'water', value: flowing ? 1 : 0 });
  }
  return out;
}

/** A press or a door event is a sign of life too. */
export function activityFromEvent(event: DeviceEvent, isExit: boolean, atMs: number): Activity | undefined {
  switch (event.type) {
    case 'sos':
    case 'checkIn':
    case 'cancel':
      return { atMs, source: 'button', value: 1 };
    case 'door':
      return { atMs, source: 'door', value: event.open ? 1 : 0, ...(isExit ? { exit: true } : {}) };
    case 'ack':
      // The device answering a command by itself: it is alive, the person may not be.
      return undefined;
    default:
      return undefined;
  }
}
