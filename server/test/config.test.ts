import { renderSms, SMS_KIND_TEMPLATES, SMS_TEMPLATES } from '@kanjia/alerts';
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError, trustProxyOption, trustProxyWarning } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { consoleSmsWarning, createSmsSender, isLoopbackUrl, publicUrlOf } from '../src/system.js';
import { ALIYUN_ENV, settingsProblems, tempDataDir } from './helpers.js';



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
      KANJIA_ALIYUN_TEMPLATE_CANCELLED: 'SMS_102',
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

  it('reads the gateway pacing and backpressure settings (unset: the gateway defaults) and refuses more per connection than in all', () => {
    expect(loadSettings({})).not.toHaveProperty('mqttConnectsPerSecond');
    const s = loadSettings({ KANJIA_MQTT_CONNECTS_PER_SECOND: '800', KANJIA_MQTT_IN_FLIGHT_UPLINKS: '2000', KANJIA_MQTT_IN_FLIGHT_PER_CONNECTION: '8' });
    expect(s).toMatchObject({ mqttConnectsPerSecond: 800, mqttInFlightUplinks: 2000, mqttInFlightPerConnection: 8 });
    expect(settingsProblems({ KANJIA_MQTT_CONNECTS_PER_SECOND: '0' })).toContain('KANJIA_MQTT_CONNECTS_PER_SECOND');
    expect(loadSettings({})).not.toHaveProperty('mqttConnectWaitMs');
    expect(loadSettings({ KANJIA_MQTT_CONNECT_WAIT_MS: '0' })).toMatchObject({ mqttConnectWaitMs: 0 });
    expect(settingsProblems({ KANJIA_MQTT_CONNECT_WAIT_MS: '10000' })).toMatch(/KANJIA_MQTT_CONNECT_WAIT_MS.*at most 9000 ms/);
    expect(settingsProblems({ KANJIA_MQTT_CONNECT_WAIT_MS: '-1' })).toContain('KANJIA_MQTT_CONNECT_WAIT_MS');
    expect(settingsProblems({ KANJIA_MQTT_IN_FLIGHT_UPLINKS: '10' })).toMatch(/KANJIA_MQTT_IN_FLIGHT_PER_CONNECTION.*16 uplinks per connection cannot exceed the 10 in all/);
  });

  it('reads the per-kind template codes of KANJIA_ALIYUN_TEMPLATE_CODES (JSON) and leaves them out when unset', () => {
    const s = loadSettings({ ...ALIYUN_ENV, KANJIA_ALIYUN_TEMPLATE_CODES: '{"alarm.co":"SMS_200","escalation.fall":"SMS_201"}' });
    expect(s.aliyun?.templateCodes).toEqual({ 'alarm.co': 'SMS_200', 'escalation.fall': 'SMS_201' });
    expect(loadSettings(ALIYUN_ENV).aliyun?.templateCodes).toBeUndefined();
  });

  it('takes the per-kind codes as an object in the config file', () => {
    const tmp = tempDataDir();
    try {
      const file = `${tmp.dir}/kanjia.json`;
      writeFileSync(file, JSON.stringify({ aliyun: { templateCodes: { 'alarm.smoke': 'SMS_300' } } }));
      expect(loadSettings(ALIYUN_ENV, { configFile: file }).aliyun?.templateCodes).toEqual({ 'alarm.smoke': 'SMS_300' });
    } finally {
      tmp.cleanup();
    }
  });

  it.each([
    ['not JSON', '{alarm.co: SMS_1}', /KANJIA_ALIYUN_TEMPLATE_CODES: not valid JSON/],
    ['a JSON array', '["SMS_1"]', /KANJIA_ALIYUN_TEMPLATE_CODES: a JSON object of template key → code/],
    ['an unknown kind', '{"alarm.flood":"SMS_1"}', /KANJIA_ALIYUN_TEMPLATE_CODES "alarm\.flood": unknown template key.*sos, fall/],
    ['an unknown role', '{"reminder.co":"SMS_1"}', /KANJIA_ALIYUN_TEMPLATE_CODES "reminder\.co": unknown template key/],
    ['a generic key', '{"alarm":"SMS_1"}', /KANJIA_ALIYUN_TEMPLATE_CODES "alarm": the generic alarm template has its own setting \(KANJIA_ALIYUN_TEMPLATE_ALARM\)/],
    ['a code that is not SMS_ and digits', '{"alarm.co":"co-template"}', /KANJIA_ALIYUN_TEMPLATE_CODES "alarm\.co": an approved template code such as SMS_123456789/],
  ])('refuses KANJIA_ALIYUN_TEMPLATE_CODES with %s, naming the variable and the key', (_what, value, problem) => {
    expect(settingsProblems({ ...ALIYUN_ENV, KANJIA_ALIYUN_TEMPLATE_CODES: value })).toMatch(problem);
  });

  it('lists a bad KANJIA_ALIYUN_TEMPLATE_CODES with the other problems, every bad key once', () => {
    const problems = settingsProblems({ ...ALIYUN_ENV, KANJIA_HTTP_PORT: 'eighty', KANJIA_ALIYUN_TEMPLATE_CODES: '{"alarm.flood":"SMS_1","escalation.co":"nope","alarm.gas":"SMS_2"}' }).split('\n');
    expect(problems.filter((p) => p.startsWith('KANJIA_HTTP_PORT'))).toHaveLength(1);
    expect(problems.filter((p) => p.startsWith('KANJIA_ALIYUN_TEMPLATE_CODES "alarm.flood"'))).toHaveLength(1);
    expect(problems.filter((p) => p.startsWith('KANJIA_ALIYUN_TEMPLATE_CODES "escalation.co"'))).toHaveLength(1);
    expect(problems.some((p) => p.includes('alarm.gas'))).toBe(false);
  });

  it("wires the per-kind codes into the Aliyun sender: a CO alarm goes out with the CO template's code", async () => {
    const server = new LocalAliyunSmsServer({
      accessKeyId: ALIYUN_ENV.KANJIA_ALIYUN_ACCESS_KEY_ID,
      accessKeySecret: ALIYUN_ENV.KANJIA_ALIYUN_ACCESS_KEY_SECRET,
      templates: { SMS_100: SMS_TEMPLATES.alarm.variables, SMS_101: SMS_TEMPLATES.escalation.variables, SMS_200: SMS_KIND_TEMPLATES['alarm.co'].variables },
    });
    const { endpoint } = await server.start();
    try {
      const settings = loadSettings({ ...ALIYUN_ENV, KANJIA_ALIYUN_ENDPOINT: endpoint, KANJIA_ALIYUN_PROTOCOL: 'http', KANJIA_ALIYUN_TEMPLATE_CODES: '{"alarm.co":"SMS_200"}' });
      const sender = createSmsSender(settings, createLogger('silent'));
      const input = { residentName: '王秀英', address: '石门村一组12号', villageName: '石门村', atMs: Date.UTC(2026, 0, 15, 2, 0), timeZone: 'Asia/Shanghai', details: { coPpm: 320 }, answerCode: 'k7m2p9x4q3r8', publicUrl: 'https://kanjia.example.cn' };
      for (const kind of ['co', 'smoke'] as const) {
        const { params, text } = renderSms('alarm', { ...input, kind });
        expect(await sender.send({ to: '13800000001', template: 'alarm', kind, params, text, outId: `ntf-${kind}` })).toMatchObject({ ok: true });
      }
      expect(server.accepted.map((m) => [m.outId, m.templateCode])).toEqual([
        ['ntf-co', 'SMS_200'],
        ['ntf-smoke', 'SMS_100'],
      ]);
      expect(server.accepted[0]?.templateParam).not.toHaveProperty('kind');
    } finally {
      await server.stop();
    }
  });

  it('takes the public address for the SMS links, without its trailing slash, and refuses one that is not http(s)', () => {
    expect(loadSettings({ KANJIA_PUBLIC_URL: 'https://kanjia.example.cn/' }).publicUrl).toBe('https://kanjia.example.cn');
    expect(loadSettings({ KANJIA_PUBLIC_URL: 'https://gov.example.cn/kanjia' }).publicUrl).toBe('https://gov.example.cn/kanjia');
    expect(loadSettings({}).publicUrl).toBeUndefined();
    expect(settingsProblems({ KANJIA_PUBLIC_URL: 'kanjia.example.cn' })).toMatch(/KANJIA_PUBLIC_URL: an http\(s\) address/);
    expect(settingsProblems({ KANJIA_PUBLIC_URL: 'ftp://kanjia.example.cn' })).toMatch(/KANJIA_PUBLIC_URL/);
    expect(settingsProblems({ KANJIA_PUBLIC_URL: 'https://kanjia.example.cn/?x=1' })).toMatch(/KANJIA_PUBLIC_URL: the address alone/);
  });

  it('derives the default public address from the HTTP listener, and knows a loopback address when it sees one', () => {
    expect(publicUrlOf(loadSettings({ KANJIA_HTTP_HOST: '0.0.0.0' }), 18180)).toBe('http://127.0.0.1:18180');
    expect(publicUrlOf(loadSettings({ KANJIA_HTTP_HOST: '192.168.1.20' }), 8080)).toBe('http://192.168.1.20:8080');
    expect(publicUrlOf(loadSettings({ KANJIA_PUBLIC_URL: 'https://kanjia.example.cn' }), 8080)).toBe('https://kanjia.example.cn');
    expect(['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080'].map(isLoopbackUrl)).toEqual([true, true, true]);
    expect(['http://192.168.1.20:8080', 'https://kanjia.example.cn'].map(isLoopbackUrl)).toEqual([false, false]);
  });

  it('refuses the aliyun provider without the cancelled template, naming it', () => {
    const { KANJIA_ALIYUN_TEMPLATE_CANCELLED: _dropped, ...withoutCancelled } = ALIYUN_ENV;
    expect(settingsProblems(withoutCancelled)).toMatch(/KANJIA_ALIYUN_TEMPLATE_CANCELLED/);
  });

  it('refuses the aliyun provider without its settings, saying which to set', () => {
    expect(() => loadSettings({ KANJIA_SMS_PROVIDER: 'aliyun' })).toThrowError(/KANJIA_ALIYUN_ACCESS_KEY_ID/);
  });

  it('trusts X-Forwarded-For only from the proxies named in KANJIA_TRUST_PROXY; true is read as loopback with a warning, a hop count is refused', () => {
    expect(trustProxyOption(loadSettings({}).trustProxy)).toBe(false);
    expect(trustProxyOption(loadSettings({ KANJIA_TRUST_PROXY: 'loopback, 10.0.0.0/8,fd00::1' }).trustProxy)).toEqual(['loopback', '10.0.0.0/8', 'fd00::1']);
    const legacy = loadSettings({ KANJIA_TRUST_PROXY: 'true' }).trustProxy;
    expect(trustProxyOption(legacy)).toEqual(['loopback']);
    expect(trustProxyWarning(legacy)).toMatch(/choose its own address.*read as loopback/);
    expect(trustProxyWarning(loadSettings({ KANJIA_TRUST_PROXY: '127.0.0.1' }).trustProxy)).toBeUndefined();
    expect(settingsProblems({ KANJIA_TRUST_PROXY: '2' })).toMatch(/^KANJIA_TRUST_PROXY "0": not an IP address.*hop count cannot tell a proxy from a client/);
    expect(settingsProblems({ KANJIA_TRUST_PROXY: '10.0.0.0/33' })).toMatch(/KANJIA_TRUST_PROXY/);
  });

  it('warns that the console SMS provider prints live answer links when the server listens beyond this machine', () => {
    expect(consoleSmsWarning(loadSettings({ KANJIA_HTTP_HOST: '0.0.0.0' }))).toMatch(/prints every SMS with its live answer link.*listens on 0\.0\.0\.0.*KANJIA_SMS_PROVIDER=aliyun/);
    expect(consoleSmsWarning(loadSettings({ KANJIA_HTTP_HOST: '10.0.0.5' }))).toBeDefined();
    for (const host of ['127.0.0.1', 'localhost', '::1']) expect(consoleSmsWarning(loadSettings({ KANJIA_HTTP_HOST: host })), host).toBeUndefined();
    expect(consoleSmsWarning(loadSettings({ ...ALIYUN_ENV, KANJIA_HTTP_HOST: '0.0.0.0' }))).toBeUndefined();
  });

  it('refuses a config file that is not JSON, naming the file', () => {
    expect(() => loadSettings({}, { configFile: '/nonexistent/kanjia.json' })).toThrowError(/kanjia\.json/);
  });
});
