export * from './sms/sms-sender.js';
export * from './sms/aliyun-sms-sender.js';
export * from './sms/console-sms-sender.js';
export * from './messages/sms-templates.js';
export * from './policy.js';
export * from './backoff.js';
export * from './outbox-worker.js';
export * from './escalation-scheduler.js';
