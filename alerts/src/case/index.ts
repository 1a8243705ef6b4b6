export * from './lifecycle.js';
export * from './case-policy.js';
export * from './notices.js';
export * from './case-sms.js';
export * from './history-notes.js';
