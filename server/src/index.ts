export { KanjiaSystem, VERSION, createSmsSender, type RunningSystem, type SystemOptions } from './system.js';
export { loadSettings, Settings, SettingsError, ENV_VARS } from './config.js';
export { main } from './cli.js';
export { SqliteRegistryStore, RegistryError } from './registry/registry-store.js';
export { SqliteAlarmStore, AlarmError } from './alarms/alarm-store.js';
export { openDatabase } from './db/database.js';
export { demoVillage } from './demo-village.js';
