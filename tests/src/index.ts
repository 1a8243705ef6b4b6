export * from './harness.js';
export * from './png.js';
export * from './certificates.js';
