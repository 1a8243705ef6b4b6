/** Test doubles of @kanjia/alerts (package export @kanjia/alerts/testing). */
export * from './acs3-signature.js';
export * from './local-aliyun-sms-server.js';
export { LocalAliyunApiServer, LocalApiControl, ALIYUN_API_VERSION, bareNumber, type LocalApiState, type LocalAliyunApiServerOptions } from './local-aliyun-api-server.js';
export * from './local-aliyun-voice-server.js';
export { runLocalAliyunSmsCommand, LOCAL_ALIYUN_SMS_USAGE, type CommandIo, type RunningLocalAliyunSms } from './local-aliyun-sms-command.js';
export * from './local-twilio-server.js';
export * from './local-robot-server.js';
export { runLocalLinksCommand, LOCAL_LINKS_USAGE, type RunningLocalLinks } from './local-links-command.js';
