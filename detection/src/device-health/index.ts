/** Device health (offline, low battery, never seen): see device-health-monitor.ts for the rules and their reasons. */
export { DeviceHealthMonitor, DEFAULT_HEARTBEAT_TIMEOUT_MS, DEFAULT_DEVICE_HEALTH_SETTINGS, deviceHealthSeverity } from './device-health-monitor.js';
export type { DeviceHealthDeviceOptions, DeviceHealthMonitorOptions, DeviceHealthSettings } from './device-health-monitor.js';
