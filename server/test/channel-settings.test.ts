/**
 * The settings of the channels and their routes (issue 12): each problem is
 * named by its variable and says what to set; good values reach the settings.
 */
import { describe, expect, it } from 'vitest';
import { aliyunVoiceCallerSettings, loadSettings } from '../src/config.js';
import { ALIYUN_ENV, settingsProblems } from './helpers.js';

const TWILIO_ENV = { KANJIA_TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`, KANJIA_TWILIO_AUTH_TOKEN: 'token-0123456789', KANJIA_TWILIO_FROM: '+8610690000' };


describe('channel settings', () => {
  it('defaults: no voice, no group robot, the night 22:00-07:00, failover 2/10/30 minutes, receipts due in 5 minutes, bundles of a minute', () => {
    const s = loadSettings({});
    expect(s).toMatchObject({
      voiceProvider: 'off',
      groupRobot: 'off',
      voiceNight: { fromMinute: 22 * 60, toMinute: 7 * 60 },
      voiceOnUnanswered: true,
      failoverCriticalSeconds: 120,
      failoverUrgentSeconds: 600,
      failoverMaintenanceSeconds: 1800,
      deliveryDeadlineSeconds: 300,
      smsBundleWindowSeconds: 60,
    });
    expect(s.smsFallback).toBeUndefined();
  });

  it('reads the night window (spanning midnight or not), or off; refuses a malformed one naming the variable', () => {
    expect(loadSettings({ KANJIA_VOICE_NIGHT: '21:30-06:00' }).voiceNight).toEqual({ fromMinute: 21 * 60 + 30, toMinute: 6 * 60 });
    expect(loadSettings({ KANJIA_VOICE_NIGHT: 'off' }).voiceNight).toBeNull();
    expect(settingsProblems({ KANJIA_VOICE_NIGHT: '22-7' })).toMatch(/KANJIA_VOICE_NIGHT.*22:00-07:00/);
    expect(settingsProblems({ KANJIA_VOICE_NIGHT: '07:00-07:00' })).toMatch(/KANJIA_VOICE_NIGHT.*empty window/);
    expect(settingsProblems({ KANJIA_VOICE_ON_UNANSWERED: 'maybe' })).toMatch(/KANJIA_VOICE_ON_UNANSWERED.*true or false/);
  });

  it('refuses a failover time under 10 seconds and a bundle window over 10 minutes', () => {
    const problems = settingsProblems({ KANJIA_FAILOVER_CRITICAL_SECONDS: '5', KANJIA_SMS_BUNDLE_WINDOW_SECONDS: '3600' });
    expect(problems).toMatch(/KANJIA_FAILOVER_CRITICAL_SECONDS/);
    expect(problems).toMatch(/KANJIA_SMS_BUNDLE_WINDOW_SECONDS/);
  });

  it('twilio as the provider or the fallback needs its settings; the fallback must differ from the provider', () => {
    expect(settingsProblems({ KANJIA_SMS_PROVIDER: 'twilio' })).toMatch(/KANJIA_TWILIO_ACCOUNT_SID/);
    expect(settingsProblems({ ...ALIYUN_ENV, KANJIA_SMS_FALLBACK: 'twilio' })).toMatch(/fallback SMS provider is twilio/);
    expect(settingsProblems({ ...ALIYUN_ENV, KANJIA_SMS_FALLBACK: 'aliyun' })).toMatch(/KANJIA_SMS_FALLBACK.*must differ/);
    const s = loadSettings({ ...ALIYUN_ENV, ...TWILIO_ENV, KANJIA_SMS_FALLBACK: 'twilio' });
    expect(s.twilio).toMatchObject({ accountSid: TWILIO_ENV.KANJIA_TWILIO_ACCOUNT_SID, from: '+8610690000', baseUrl: 'https://api.twilio.com' });
    expect(settingsProblems({ ...TWILIO_ENV, KANJIA_SMS_PROVIDER: 'twilio', KANJIA_TWILIO_FROM: '' , KANJIA_TWILIO_MESSAGING_SERVICE_SID: '' })).toMatch(/KANJIA_TWILIO_FROM.*sender/);
  });

  it('the Aliyun voice service needs a key (its own or the SMS one) and a TTS code', () => {
    expect(settingsProblems({ KANJIA_VOICE_PROVIDER: 'aliyun' })).toMatch(/KANJIA_ALIYUN_VOICE_ACCESS_KEY_ID/);
    expect(settingsProblems({ ...ALIYUN_ENV, KANJIA_VOICE_PROVIDER: 'aliyun' })).toMatch(/KANJIA_ALIYUN_VOICE_TTS_CODE_ALARM/);
    const s = loadSettings({ ...ALIYUN_ENV, KANJIA_VOICE_PROVIDER: 'aliyun', KANJIA_ALIYUN_VOICE_TTS_CODE_ALARM: 'TTS_1', KANJIA_ALIYUN_VOICE_TTS_CODES: '{"alarm.fall":"TTS_2"}', KANJIA_ALIYUN_VOICE_PLAY_TIMES: '3' });
    expect(aliyunVoiceCallerSettings(s)).toMatchObject({ accessKeyId: 'LTAIexample', ttsCodes: { alarm: 'TTS_1', 'alarm.fall': 'TTS_2' }, playTimes: 3 });
    expect(settingsProblems({ ...ALIYUN_ENV, KANJIA_VOICE_PROVIDER: 'aliyun', KANJIA_ALIYUN_VOICE_TTS_CODE_ALARM: 'TTS_1', KANJIA_ALIYUN_VOICE_PLAY_TIMES: '9' })).toMatch(/KANJIA_ALIYUN_VOICE_PLAY_TIMES/);
    expect(settingsProblems({ ...ALIYUN_ENV, KANJIA_VOICE_PROVIDER: 'aliyun', KANJIA_ALIYUN_VOICE_TTS_CODES: '{not json' })).toMatch(/KANJIA_ALIYUN_VOICE_TTS_CODES.*not valid JSON/);
  });

  it('a group robot needs its webhooks: the JSON map per village, or the shorthand for the default group', () => {
    expect(settingsProblems({ KANJIA_GROUP_ROBOT: 'dingtalk' })).toMatch(/KANJIA_DINGTALK_(ROBOTS|WEBHOOK)/);
    expect(settingsProblems({ KANJIA_GROUP_ROBOT: 'wecom' })).toMatch(/KANJIA_WECOM_ROBOTS/);
    const map = loadSettings({ KANJIA_GROUP_ROBOT: 'dingtalk', KANJIA_DINGTALK_ROBOTS: JSON.stringify({ default: { webhook: 'https://oapi.dingtalk.com/robot/send?access_token=abcdef0123456789abcd', secret: 'SECabc' } }) });
    expect(map.dingtalk?.groups.default).toMatchObject({ webhook: 'abcdef0123456789abcd', secret: 'SECabc' });
    const short = loadSettings({ KANJIA_GROUP_ROBOT: 'dingtalk', KANJIA_DINGTALK_WEBHOOK: 'abcdef0123456789abcd', KANJIA_DINGTALK_SECRET: 'SECabc' });
    expect(short.dingtalk?.groups.default).toMatchObject({ webhook: 'abcdef0123456789abcd', secret: 'SECabc' });
    // Named by the variable that was given: the map, not the shorthand that leads to the same field.
    expect(settingsProblems({ KANJIA_GROUP_ROBOT: 'dingtalk', KANJIA_DINGTALK_ROBOTS: '{"default":{"webhook":"x"}}' })).toMatch(/^KANJIA_DINGTALK_ROBOTS "default" "webhook"/m);
    expect(settingsProblems({ KANJIA_GROUP_ROBOT: 'dingtalk', KANJIA_DINGTALK_WEBHOOK: 'x' })).toMatch(/^KANJIA_DINGTALK_WEBHOOK:/m);
  });
});
