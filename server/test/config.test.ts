import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../src/config.js';

describe('loadSettings', () => {
  it('uses embedded defaults when nothing is set', () => {
    const s = loadSettings({});
    expect(s).toMatchObject({ httpPort: 8080, mqttPort: 1883, dataDir: './data', smsProvider: 'console', locale: 'zh-CN', timezone: 'Asia/Shanghai', escalationTimeoutSeconds: 300 });
    expect(Object.isFrozen(s)).toBe(true);
  });

  it('reads KANJIA_* variables, including the Aliyun settings', () => {
    const s = loadSettings({
      KANJIA_HTTP_PORT: '9000',
      KANJIA_SMS_PROVIDER: 'aliyun',
      KANJIA_ALIYUN_ACCESS_KEY_ID: 'LTAIexample',
      KANJIA_ALIYUN_ACCESS_KEY_SECRET: 'secret',
      KANJIA_ALIYUN_SIGN_NAME: '智慧看家',
      KANJIA_ALIYUN_TEMPLATE_ALARM: 'SMS_100',
      KANJIA_ALIYUN_TEMPLATE_ESCALATION: 'SMS_101',
      KANJIA_ALIYUN_ENDPOINT: '127.0.0.1:9999',
      KANJIA_ALIYUN_PROTOCOL: 'http',
    });
    expect(s.httpPort).toBe(9000);
    expect(s.aliyun).toMatchObject({ endpoint: '127.0.0.1:9999', protocol: 'http', templateAlarm: 'SMS_100' });
  });

  it('lists every problem at once, named by its environment variable', () => {
    let error: unknown;
    try {
      loadSettings({ KANJIA_HTTP_PORT: 'eighty', KANJIA_MQTT_PORT: '70000', KANJIA_SMS_PROVIDER: 'pigeon', KANJIA_TIMEZONE: 'Mars/Olympus', KANJIA_HTTP_PROT: '1' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const problems = (error as SettingsError).problems.join('\n');
    expect(problems).toMatch(/KANJIA_HTTP_PORT/);
    expect(problems).toMatch(/KANJIA_MQTT_PORT/);
    expect(problems).toMatch(/KANJIA_SMS_PROVIDER/);
    expect(problems).toMatch(/KANJIA_TIMEZONE/);
    expect(problems).toMatch(/KANJIA_HTTP_PROT: unknown setting/);
  });

  it('refuses the aliyun provider without its settings, saying which to set', () => {
    expect(() => loadSettings({ KANJIA_SMS_PROVIDER: 'aliyun' })).toThrowError(/KANJIA_ALIYUN_ACCESS_KEY_ID/);
  });

  it('refuses a config file that is not JSON, naming the file', () => {
    expect(() => loadSettings({}, { configFile: '/nonexistent/kanjia.json' })).toThrowError(/kanjia\.json/);
  });
});
