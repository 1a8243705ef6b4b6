/** A household's simulated life played over MQTT: plan (pure, seeded), climate model, incidents, runner. */
export { planHouseholdLife, HEARTBEAT_INTERVAL_MS, MAINS_POWERED } from './life-plan.js';
export type { Capability, LifeAction, LifeDevice, LifePlan, LifePlanOptions, LifeStep } from './life-plan.js';
export { simulateClimate, heatingSeason, OUTDOOR_MONTHLY_MEAN_C } from './environment.js';
export type { ClimateOptions, ClimateSample } from './environment.js';
export { parseIncidentSpec, describeIncident, IncidentSpecError, DEFAULT_CO_PEAK_PPM, DEFAULT_CO_RAMP_MIN, DEFAULT_POWER_CUT_MIN } from './incidents.js';
export type { LifeIncident, LifeIncidentKind } from './incidents.js';
export { HouseholdLifeRunner } from './life-runner.js';
export type { LifeRunnerOptions, LifeRunnerStats } from './life-runner.js';
