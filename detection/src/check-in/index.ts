/** Missed daily check-in (平安打卡): see check-in-monitor.ts for the rules and their reasons. */
export { CheckInMonitor, CHECK_IN_DEFAULTS } from './check-in-monitor.js';
export type { CheckInSubjectOptions, CheckInSnapshot } from './check-in-monitor.js';
export { MonitorConfigError } from './monitor-config-error.js';
export type { MonitorConfigErrorCode } from './monitor-config-error.js';
