/** The simulated life of an old person living alone, as their home's sensors see it (seeded, deterministic). */
export { applyIncidents, firstIndexAtOrAfter, generateRoutine, incidentTail, stateAt, SENSOR_KINDS } from './generate-routine.js';
export type { HouseholdSensor, Incident, Interval, Routine, RoutineEquipment, RoutineOptions, RoutineTruth, SensorEvent, SensorKind } from './generate-routine.js';
export { drawPerson, PROFILE_NAMES, PROFILE_WEIGHTS } from './profiles.js';
export type { PersonHabits, ProfileName } from './profiles.js';
export { Prng, hashSeed } from './prng.js';
