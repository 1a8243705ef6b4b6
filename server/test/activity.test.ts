import { describe, expect, it } from 'vitest';
import { activitiesFromReadings, activityFromEvent } from '../src/pipeline/activity.js';

describe('signs of life from device messages', () => {
  it('counts the start of motion, not every report of it', () => {
    expect(activitiesFromReadings('motionSensor', false, { motion: true }, undefined, 5)).toEqual([{ atMs: 5, source: 'motion', value: 1 }]);
    expect(activitiesFromReadings('motionSensor', false, { motion: true }, { motion: true }, 6)).toEqual([]);
    expect(activitiesFromReadings('motionSensor', false, { motion: false }, { motion: true }, 7)).toEqual([]);
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
});
