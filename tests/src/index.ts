export * from './harness.js';
export * from './png.js';
