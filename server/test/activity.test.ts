import { describe, expect, it } from 'vitest';
import { activitiesFromReadings, activityFromEvent } from '../src/pipeline/activity.js';

describe('signs of life from device messages', () => {
  it('passes every motion report and the clear (the detector tells a re-trigger from a stuck sensor by their spacing)', () => {
    expect(activitiesFromReadings('motionSensor', false, { motion: true }, undefined, 5)).toEqual([{ atMs: 5, source: 'motion', value: 1 }]);
    expect(activitiesFromReadings('motionSensor', false, { motion: true }, { motion: true }, 6)).toEqual([{ atMs: 6, source: 'motion', value: 1 }]);
    expect(activitiesFromReadings('motionSensor', false, { motion: false }, { motion: true }, 7)).toEqual([{ atMs: 7, source: 'motion', value: 0 }]);
    expect(activitiesFromReadings('motionSensor', false, { motion: false }, { motion: false }, 8)).toEqual([]);
  });

  it('water: the start and the end of a flow', () => {
    expect(activitiesFromReadings('hub', false, { waterFlowLpm: 6 }, { waterFlowLpm: 0 }, 1)).toEqual([{ atMs: 1, source: 'water', value: 1 }]);
    expect(activitiesFromReadings('hub', false, { waterFlowLpm: 5 }, { waterFlowLpm: 6 }, 2)).toEqual([]);
    expect(activitiesFromReadings('hub', false, { waterFlowLpm: 0 }, { waterFlowLpm: 5 }, 3)).toEqual([{ atMs: 3, source: 'water', value: 0 }]);
  });

  it('marks the front door as an exit', () => {
    expect(activitiesFromReadings('doorSensor', true, { contactOpen: true }, { contactOpen: false }, 1)).toEqual([{ atMs: 1, source: 'door', value: 1, exit: true }]);
    expect(activityFromEvent({ id: 'd', ts: 0, type: 'door', open: false }, false, 2)).toEqual({ atMs: 2, source: 'door', value: 0 });
  });

  it('counts getting out of bed and an appliance switched on above 15 W', () => {
    expect(activitiesFromReadings('bedSensor', false, { occupancy: false }, { occupancy: true }, 1)).toEqual([{ atMs: 1, source: 'bed', value: 0 }]);
    expect(activitiesFromReadings('powerMeter', false, { powerW: 800 }, { powerW: 2 }, 1)).toEqual([{ atMs: 1, source: 'appliance', value: 1 }]);
    expect(activitiesFromReadings('powerMeter', false, { powerW: 10 }, { powerW: 2 }, 1)).toEqual([]);
  });

  it('counts a button press', () => {
    expect(activityFromEvent({ id: 'c', ts: 0, type: 'checkIn' }, false, 9)).toEqual({ atMs: 9, source: 'button', value: 1 });
  });

  it('does not count a device acknowledging a command: the device answers by itself, the person may be lying on the floor', () => {
    expect(activityFromEvent({ id: 'a', ts: 0, type: 'ack', commandId: 'cmd_1' }, false, 9)).toBeUndefined();
  });
});
