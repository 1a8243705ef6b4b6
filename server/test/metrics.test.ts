/**
 * /metrics through the real system: a real MQTT gateway and devices, SQLite on
 * disk, the real AliyunSmsSender against the local SendSms server (one helper's
 * number refused as illegal). After that traffic the text format is read
 * strictly and every figure of issue 10 must be there with the value the
 * traffic gave it: connections, messages in by kind, refused and invalid
 * messages, open cases by kind, outbox pending / failed / latency, SMS
 * provider errors, event-loop lag, SQLite commit time. And who may read it:
 * the bearer token on the main port, the separate listener, the settings.
 */
import type { SmsResult, SmsSender } from '@kanjia/alerts';
import type { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import { Gateway } from '@kanjia/gateway';
import { topics } from '@kanjia/protocol';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../src/config.js';
import { watchWrites } from '../src/db/write-watch.js';
import { createLogger } from '../src/logger.js';
import { KanjiaMetrics, MAX_SMS_ERROR_CODES } from '../src/metrics/metrics.js';
import { timeTransactions } from '../src/metrics/sqlite-timing.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { importBeforeStart, localAliyunSms, tempDataDir, twoVillages, until } from './helpers.js';
import { parsePrometheusText, valueOf, type Family } from './prometheus-text.js';

const KEY = { accessKeyId: 'LTAI5tKanjiaMetrics', accessKeySecret: 'metrics-secret-0123456789abcdef' };
const TEMPLATES = { alarm: 'SMS_200001', escalation: 'SMS_200002', cancelled: 'SMS_200003' };
const TOKEN = 'metrics-token-0123456789abcdef0123';
/** 王秀英's first helper: the local SendSms server answers isv.MOBILE_NUMBER_ILLEGAL for it. */
const BAD_HELPER = '13800000001';
const WANG_DOCTOR = '13800000002';
const silent = { info: () => undefined, warn: () => undefined };

/** The names issue 10 lists, with the type each must have. */
const REQUIRED: Array<[string, Family['type']]> = [
  ['kanjia_mqtt_connections_open', 'gauge'],
  ['kanjia_mqtt_connections_accepted_total', 'counter'],
  ['kanjia_mqtt_connections_refused_total', 'counter'],
  ['kanjia_mqtt_messages_in_total', 'counter'],
  ['kanjia_mqtt_messages_refused_total', 'counter'],
  ['kanjia_mqtt_messages_invalid_total', 'counter'],
  ['kanjia_alarm_cases_active', 'gauge'],
  ['kanjia_outbox_pending', 'gauge'],
  ['kanjia_outbox_failed', 'gauge'],
  ['kanjia_outbox_send_latency_seconds', 'histogram'],
  ['kanjia_sms_provider_errors_total', 'counter'],
  ['nodejs_eventloop_lag_seconds', 'gauge'],
  ['nodejs_eventloop_lag_p99_seconds', 'gauge'],
  ['kanjia_eventloop_delay_seconds', 'histogram'],
  ['kanjia_sqlite_commit_duration_seconds', 'histogram'],
  // The gateway's backpressure (issue 10: bounded queues that slow intake).
  ['kanjia_mqtt_uplinks_in_flight', 'gauge'],
  ['kanjia_mqtt_uplinks_waiting', 'gauge'],
  ['kanjia_mqtt_uplinks_delayed_total', 'counter'],
  ['kanjia_mqtt_pings_answered_total', 'counter'],
];

describe('/metrics after real traffic through a running system', () => {
  const tmp = tempDataDir();
  let sms: LocalAliyunSmsServer;
  let system: KanjiaSystem;
  let running: RunningSystem;
  let creds: Array<{ deviceId: string; secret: string }>;
  let families: Map<string, Family>;
  let exposition: string;
  const devices: SimDevice[] = [];
  const clients: mqtt.MqttClient[] = [];

  const scrape = (url: string, authorization?: string) => fetch(url, { headers: authorization ? { authorization } : {} });
  const metricsUrl = () => new URL('/metrics', running.httpUrl).href;

  beforeAll(async () => {
    const local = await localAliyunSms(KEY, TEMPLATES);
    sms = local.sms;
    sms.setState({ badNumbers: [BAD_HELPER] });
    const settings = loadSettings(
      {},
      { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', metricsToken: TOKEN, metricsAddress: '127.0.0.1:0', smsProvider: 'aliyun', aliyun: local.aliyun } },
    );
    creds = importBeforeStart(settings, twoVillages());
    system = new KanjiaSystem({ settings, logger: createLogger('silent') });
    running = await system.start();

    // 王秀英's button: online status, telemetry, an accelerometer window, an SOS.
    const wang = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: creds[0]!.deviceId, secret: creds[0]!.secret, logger: silent, resendIntervalMs: 60_000 });
    await wang.start();
    devices.push(wang);
    await wang.sendTelemetry({ batteryPct: 90, temperatureC: 12 });
    await wang.sendAccel({ id: 'accel-1', ts: Date.now(), hz: 20, position: 'chest', unit: 'g', samples: Array.from({ length: 20 }, () => [0, 0, 1] as [number, number, number]) });
    await wang.pressSos().received;
    // Her helper's number is refused (permanent): the doctor is texted at once.
    await until('the SMS to the doctor', () => sms.accepted.some((m) => m.phoneNumbers === WANG_DOCTOR), 10_000);

    // 张大爷's button, by hand: a payload that is not JSON, and a publish on another device's topic.
    const zhang = creds[1]!;
    const raw = await mqtt.connectAsync(running.mqttUrl, { clientId: zhang.deviceId, username: zhang.deviceId, password: zhang.secret, reconnectPeriod: 0 });
    clients.push(raw);
    await raw.publishAsync(topics.events(zhang.deviceId), 'not json', { qos: 1 });
    // QoS 0: a refused publish gets no PUBACK.
    await raw.publishAsync(topics.telemetry(wang.deviceId), JSON.stringify({ id: 't-1', ts: Date.now(), readings: { motion: true } }), { qos: 0 });
    // A wrong secret.
    await expect(mqtt.connectAsync(running.mqttUrl, { clientId: zhang.deviceId, username: zhang.deviceId, password: 'wrong-secret-000000000000', reconnectPeriod: 0 })).rejects.toThrow();

    // The broker's PUBACK may come before the gateway has counted: scrape until it has.
    await until('the gateway counted the invalid and the refused message', async () => {
      const res = await scrape(metricsUrl(), `Bearer ${TOKEN}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      exposition = await res.text();
      families = parsePrometheusText(exposition);
      return valueOf(families, 'kanjia_mqtt_messages_refused_total', { reason: 'acl' }) > 0 && valueOf(families, 'kanjia_mqtt_messages_invalid_total', { reason: 'PAYLOAD_NOT_JSON' }) > 0;
    });
  }, 60_000);

  afterAll(async () => {
    for (const c of clients.splice(0)) await c.endAsync(true);
    for (const d of devices.splice(0)) await d.stop();
    await system?.stop();
    await sms?.stop();
    tmp.cleanup();
  });

  it('names every figure of issue 10, each with its type and a HELP line', () => {
    const missing = REQUIRED.filter(([name, type]) => families.get(name)?.type !== type).map(([name, type]) => `${name} (${type}; found ${families.get(name)?.type ?? 'nothing'})`);
    expect(missing).toEqual([]);
    for (const [name] of REQUIRED) expect(families.get(name)!.help.length, name).toBeGreaterThan(10);
    // The conventions: our counters end in _total, every one of our names has the prefix.
    for (const f of families.values()) {
      if (f.type === 'counter') expect(f.name, f.name).toMatch(/_total$/);
      if (!/^(nodejs|process)_/.test(f.name)) expect(f.name).toMatch(/^kanjia_/);
    }
    // No time-series database configured here: its writer's series are absent (tsdb-system.test.ts has them).
    expect([...families.keys()].filter((n) => n.startsWith('kanjia_tsdb_'))).toEqual([]);
  });

  it('counts the connections, the uplinks by kind, the refused and the invalid messages', () => {
    // 张大爷's connection was closed for publishing on 王秀英's topic ([MQTT-3.3.5-2]): hers stays.
    expect(valueOf(families, 'kanjia_mqtt_connections_open')).toBe(1);
    expect(valueOf(families, 'kanjia_mqtt_connections_accepted_total')).toBe(2);
    expect(valueOf(families, 'kanjia_mqtt_connections_refused_total', { reason: 'credentials' })).toBe(1);
    expect(valueOf(families, 'kanjia_mqtt_messages_in_total', { kind: 'events' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(families, 'kanjia_mqtt_messages_in_total', { kind: 'telemetry' })).toBe(1);
    expect(valueOf(families, 'kanjia_mqtt_messages_in_total', { kind: 'accel' })).toBe(1);
    expect(valueOf(families, 'kanjia_mqtt_messages_in_total', { kind: 'status' })).toBeGreaterThanOrEqual(1);
    expect(valueOf(families, 'kanjia_mqtt_messages_invalid_total', { reason: 'PAYLOAD_NOT_JSON' })).toBe(1);
    expect(valueOf(families, 'kanjia_mqtt_messages_invalid_total', { reason: 'PAYLOAD_INVALID' })).toBe(0);
    expect(valueOf(families, 'kanjia_mqtt_messages_refused_total', { reason: 'acl' })).toBe(1);
  });

  it('shows the open SOS case, the failed SMS, the provider error by code and the queued → accepted latency', () => {
    expect(valueOf(families, 'kanjia_alarm_cases_active', { kind: 'sos', severity: 'critical' })).toBe(1);
    // Every kind and severity is there, 0 when nothing is open: a graph has no gaps.
    expect(valueOf(families, 'kanjia_alarm_cases_active', { kind: 'co', severity: 'critical' })).toBe(0);
    expect(families.get('kanjia_alarm_cases_active')!.samples).toHaveLength(13 * 3);
    expect(valueOf(families, 'kanjia_outbox_failed')).toBe(1);
    expect(valueOf(families, 'kanjia_outbox_pending')).toBe(0);
    expect(valueOf(families, 'kanjia_outbox_sent_total')).toBe(1);
    expect(valueOf(families, 'kanjia_outbox_failed_total')).toBe(1);
    expect(valueOf(families, 'kanjia_sms_provider_errors_total', { code: 'isv.MOBILE_NUMBER_ILLEGAL', kind: 'permanent' })).toBe(1);
    expect(valueOf(families, 'kanjia_sms_provider_requests_total', { result: 'ok' })).toBe(1);
    expect(valueOf(families, 'kanjia_sms_provider_requests_total', { result: 'error' })).toBe(1);
    expect(valueOf(families, 'kanjia_outbox_send_latency_seconds_count')).toBe(1);
    const latency = valueOf(families, 'kanjia_outbox_send_latency_seconds_sum');
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(10);
    expect(valueOf(families, 'kanjia_outbox_send_latency_seconds_bucket', { le: '+Inf' })).toBe(1);
  });

  it('times the SQLite commits and reports the event-loop lag and the system state', () => {
    // The registry import was before the start; since then: the probe write, the SOS case, the SMS results, presence.
    expect(valueOf(families, 'kanjia_sqlite_commit_duration_seconds_count')).toBeGreaterThanOrEqual(4);
    expect(valueOf(families, 'kanjia_sqlite_commit_duration_seconds_sum')).toBeGreaterThan(0);
    expect(valueOf(families, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(valueOf(families, 'kanjia_ready')).toBe(1);
    expect(valueOf(families, 'kanjia_system_unhealthy')).toBe(0);
    expect(valueOf(families, 'kanjia_storage_queued_writes')).toBe(0);
    expect(families.get('kanjia_build_info')!.samples[0]!.labels.version).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('shows an event loop blocked for 400 ms in the delay histogram, above its 0.25 s bucket', async () => {
    const delay = async () => {
      const f = parsePrometheusText(await (await scrape(metricsUrl(), `Bearer ${TOKEN}`)).text());
      return { above: valueOf(f, 'kanjia_eventloop_delay_seconds_count') - valueOf(f, 'kanjia_eventloop_delay_seconds_bucket', { le: '0.25' }), count: valueOf(f, 'kanjia_eventloop_delay_seconds_count') };
    };
    const before = await delay();
    // A few ticks of the sampling timer first: the first interval after the scrape's reset is not recorded.
    await new Promise((r) => setTimeout(r, 50));
    const end = Date.now() + 400;
    while (Date.now() < end) {
      // blocking on purpose
    }
    await new Promise((r) => setTimeout(r, 50));
    const after = await delay();
    expect(after.count).toBeGreaterThan(before.count);
    expect(after.above).toBeGreaterThan(before.above);
  });

  it('puts no device id, phone number or name in a label', () => {
    const labelValues = [...families.values()].flatMap((f) => f.samples.flatMap((s) => Object.values(s.labels)));
    for (const c of creds) expect(exposition).not.toContain(c.deviceId);
    expect(labelValues.filter((v) => /1[3-9]\d{9}/.test(v) || /[\u4e00-\u9fff]/.test(v))).toEqual([]);
  });

  it('answers 401 with a clear body to a scrape without the token or with a wrong one', async () => {
    for (const authorization of [undefined, `Bearer ${TOKEN}x`, `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`]) {
      const res = await scrape(metricsUrl(), authorization);
      expect(res.status, String(authorization)).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const body = (await res.json()) as { code: string; message: string };
      expect(body.code).toBe('UNAUTHENTICATED');
      expect(body.message).toMatch(/KANJIA_METRICS_TOKEN/);
    }
    // A session cookie is not the token.
    expect((await fetch(metricsUrl(), { headers: { cookie: 'kanjia_session=forged-token-000000000000' } })).status).toBe(401);
  });

  it('serves the same figures on the separate listener, with the token, and nothing else there', async () => {
    expect(running.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const url = running.metricsUrl!;
    const ok = await scrape(url, `Bearer ${TOKEN}`);
    expect(ok.status).toBe(200);
    expect(parsePrometheusText(await ok.text()).has('kanjia_mqtt_messages_in_total')).toBe(true);
    expect((await scrape(url)).status).toBe(401);
    expect((await scrape(new URL('/api/health', url).href, `Bearer ${TOKEN}`)).status).toBe(404);
    expect((await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(405);
  });
});

describe('who may scrape, by the settings', () => {
  const base = { dataDir: '/tmp/unused' };
  const problems = (overrides: Record<string, unknown>) => {
    try {
      loadSettings({}, { overrides: { ...base, ...overrides } });
      return [];
    } catch (err) {
      return (err as SettingsError).problems;
    }
  };

  it('reads KANJIA_METRICS_ADDRESS as HOST:PORT, [IPv6]:PORT or a port on 127.0.0.1', () => {
    expect(loadSettings({ KANJIA_METRICS_ADDRESS: '127.0.0.1:9464' }, { overrides: base }).metricsAddress).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadSettings({ KANJIA_METRICS_ADDRESS: '[::1]:9464' }, { overrides: base }).metricsAddress).toEqual({ host: '::1', port: 9464 });
    expect(loadSettings({ KANJIA_METRICS_ADDRESS: '9464' }, { overrides: base }).metricsAddress).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadSettings({}, { overrides: base }).metricsAddress).toBeUndefined();
    expect(problems({ metricsAddress: 'prometheus.lan:9464' })[0]).toMatch(/^KANJIA_METRICS_ADDRESS: HOST:PORT with an IP address/);
    expect(problems({ metricsAddress: '127.0.0.1:70000' })[0]).toMatch(/^KANJIA_METRICS_ADDRESS:/);
  });

  it('refuses a metrics listener beyond this machine without a token, and a short token', () => {
    expect(problems({ metricsAddress: '0.0.0.0:9464' })).toEqual([expect.stringMatching(/^KANJIA_METRICS_ADDRESS: 0\.0\.0\.0 listens beyond this machine: set KANJIA_METRICS_TOKEN/)]);
    expect(problems({ metricsAddress: '0.0.0.0:9464', metricsToken: TOKEN })).toEqual([]);
    expect(problems({ metricsToken: 'short' })).toEqual([expect.stringMatching(/^KANJIA_METRICS_TOKEN: at least 24 characters/)]);
    expect(problems({ metricsToken: `${TOKEN} x` })).toHaveLength(1);
  });

  it('without a token, /metrics on the main port answers 401 saying how to turn it on', async () => {
    const tmp = tempDataDir();
    const system = new KanjiaSystem({ settings: loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } }), logger: createLogger('silent') });
    try {
      const running = await system.start();
      expect(running.metricsUrl).toBeUndefined();
      const res = await fetch(new URL('/metrics', running.httpUrl), { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { message: string }).message).toMatch(/metrics are off on this port: set KANJIA_METRICS_TOKEN/);
    } finally {
      await system.stop();
      tmp.cleanup();
    }
  });
  it('stops the start with KANJIA_METRICS_ADDRESS named when its port is taken, and leaves nothing listening', async () => {
    const tmp = tempDataDir();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', metricsAddress: `127.0.0.1:${port}` } });
    const system = new KanjiaSystem({ settings, logger: createLogger('silent') });
    try {
      await expect(system.start()).rejects.toThrow(new RegExp(`KANJIA_METRICS_ADDRESS: 127\\.0\\.0\\.1:${port} is already in use`));
      // The start undid itself: the data directory is free for the next one.
      const again = new KanjiaSystem({ settings: { ...settings, metricsAddress: { host: '127.0.0.1', port: 0 } }, logger: createLogger('silent') });
      await again.start();
      await again.stop();
    } finally {
      await system.stop();
      await new Promise((r) => taken.close(r));
      tmp.cleanup();
    }
  });
});

describe('SQLite commit timing', () => {
  it('observes each outermost transaction once (savepoints inside it are not), a rolled-back one too, under the write watch', () => {
    const tmp = tempDataDir();
    const db = new Database(join(tmp.dir, 't.sqlite'));
    try {
      const seen: number[] = [];
      const untime = timeTransactions(db, (s) => seen.push(s));
      // As in the system: the write watch is installed after the timing, over it.
      const unwatch = watchWrites(db, { failed: () => undefined, succeeded: () => undefined });
      db.exec('CREATE TABLE t (n INTEGER)');
      const insert = db.prepare('INSERT INTO t VALUES (?)');
      const inner = db.transaction((n: number) => insert.run(n));
      const outer = db.transaction(() => {
        inner(1);
        inner.immediate(2);
      });
      outer.immediate();
      expect(seen).toHaveLength(1);
      inner(3);
      expect(seen).toHaveLength(2);
      expect(() =>
        db.transaction(() => {
          insert.run(4);
          throw new Error('undone');
        })(),
      ).toThrow('undone');
      expect(seen).toHaveLength(3);
      expect(seen.every((s) => s >= 0 && s < 5)).toBe(true);
      expect((db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(3);
      unwatch();
      untime();
      db.transaction(() => insert.run(5))();
      expect(seen).toHaveLength(3);
    } finally {
      db.close();
      tmp.cleanup();
    }
  });
});

describe('KanjiaMetrics on its own', () => {
  /** A gateway's own counts (all 0: it never started), with `connections` accepted. */
  const stats = (connections: number) => ({ ...new Gateway({ port: 0, authenticator: { verify: () => false } }).stats(), connections });

  it(`gives at most ${MAX_SMS_ERROR_CODES} provider error codes a label of their own, the rest are "other"`, async () => {
    const metrics = new KanjiaMetrics({ version: '0.0.0' });
    let n = 0;
    const failing: SmsSender = { name: 'failing', send: async (): Promise<SmsResult> => ({ ok: false, kind: 'permanent', code: `isv.CODE_${n++}`, message: 'refused' }) };
    const sender = metrics.meteredSender(failing, () => undefined, () => 0);
    const message = { to: '13800000001', template: 'alarm' as const, kind: 'sos' as const, params: {}, text: '', outId: 'ntf_1' };
    for (let i = 0; i < MAX_SMS_ERROR_CODES + 6; i++) await sender.send(message);
    await sender.send(message); // a 71st code
    const f = parsePrometheusText(await metrics.render());
    const samples = f.get('kanjia_sms_provider_errors_total')!.samples;
    expect(samples).toHaveLength(MAX_SMS_ERROR_CODES + 1);
    expect(valueOf(f, 'kanjia_sms_provider_errors_total', { code: 'other' })).toBe(7);
    expect(valueOf(f, 'kanjia_sms_provider_errors_total', { code: 'isv.CODE_0', kind: 'permanent' })).toBe(1);
    expect(sender.name).toBe('failing');
  });

  it('shows a gauge as unknown (NaN) when its source throws, keeps a counter at its last value, and says which source failed', async () => {
    const failed: string[] = [];
    const metrics = new KanjiaMetrics({ version: '0.0.0', onCollectError: (source) => failed.push(source) });
    let broken = false;
    metrics.collectFrom({
      gateway: () => {
        if (broken) throw new Error('the gateway is gone');
        return stats(5);
      },
    });
    let f = parsePrometheusText(await metrics.render());
    expect(valueOf(f, 'kanjia_mqtt_connections_accepted_total')).toBe(5);
    broken = true;
    f = parsePrometheusText(await metrics.render());
    expect(valueOf(f, 'kanjia_mqtt_connections_accepted_total')).toBe(5);
    expect(valueOf(f, 'kanjia_mqtt_connections_open')).toBeNaN();
    expect(f.get('kanjia_mqtt_connections_refused_total')!.samples.length).toBeGreaterThan(0);
    expect(failed).toContain('gateway');
  });
});
