export * from './harness.js';
export * from './png.js';
export * from './db-lock.js';
export * from './certificates.js';
