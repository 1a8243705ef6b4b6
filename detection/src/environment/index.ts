/** Environment hazards (CO, smoke, gas, water leak, cold, heat): see environment-monitor.ts and co-stages.ts for the thresholds and their sources. */
export { EnvironmentMonitor, DEFAULT_ENVIRONMENT_THRESHOLDS } from './environment-monitor.js';
export type { EnvironmentDeviceOptions, EnvironmentMonitorOptions, EnvironmentThresholds } from './environment-monitor.js';
export { CO_ALARM_STAGES_EN50291 } from './co-stages.js';
export type { CoAlarmStage } from './co-stages.js';
