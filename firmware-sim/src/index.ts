/** @kanjia/firmware-sim: simulated devices and households speaking MQTT contract v1 over a real connection. */
export { SimDevice } from './sim-device.js';
export type { AckHandle, ButtonName, EventBody, ReceivedCommand, SimDeviceEvents, SimDeviceOptions, TakenCommand } from './sim-device.js';
export { SimHousehold, SimDeviceCredentials, HouseholdCredentialsFile } from './sim-household.js';
export type { SimHouseholdOptions } from './sim-household.js';
export { runSimCli, parseHouseholdFile, SIM_EXIT, SIM_USAGE } from './cli.js';
export type { SimCliIo } from './cli.js';
export { SimDeviceError, SIM_ERROR_CODES } from './errors.js';
export type { SimErrorCode } from './errors.js';
export { lineLogger, silentLogger, stderrLogger } from './logger.js';
export type { SimLogger } from './logger.js';
export { describeCommand, describeEvent } from './beeps.js';
export type { Listener } from './typed-events.js';
export * from './dataset.js';
export * from './dataset-replay.js';
export * from './routine/index.js';
export * from './event-log.js';
export * from './life/index.js';
