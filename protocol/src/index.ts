export * from './topics.js';
export * from './mqtt.js';
export * from './alarms.js';
export * from './socket.js';
export * from './registry.js';
export * from './clock.js';
export * from './mask.js';
export * from './local-time.js';
