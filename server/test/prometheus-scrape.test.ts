/**
 * Debian's real `prometheus` scrapes a running system: the main port with the
 * bearer token (authorization.credentials_file), the separate metrics listener,
 * and the main port without the token (that target must be down with a 401).
 * Prometheus parses what we expose itself — a target whose text it cannot
 * read is down too — and its query API must answer with our series.
 *
 * Needs the prometheus binary: CI fails without it; elsewhere the suite is
 * skipped with a message saying how to install it.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, haveBinary } from '../../tests/src/harness.js';
import { loadSettings } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { importBeforeStart, oneHousehold, RecordingSender, tempDataDir, until } from './helpers.js';

const HAVE_PROMETHEUS = haveBinary('prometheus', 'apt-get install prometheus');
const TOKEN = 'prometheus-scrape-token-0123456789abcdef';
/** The alerting rules the README offers, and their promtool unit tests. */
const RULES = fileURLToPath(new URL('../../docs/prometheus/kanjia-alerts.yml', import.meta.url));
const RULE_TESTS = fileURLToPath(new URL('./fixtures/kanjia-alerts.test.yml', import.meta.url));
const silent = { info: () => undefined, warn: () => undefined };

interface VectorResult {
  metric: Record<string, string>;
  value: [number, string];
}

describe.skipIf(!HAVE_PROMETHEUS)('Prometheus scrapes /metrics', () => {
  const tmp = tempDataDir();
  let system: KanjiaSystem;
  let running: RunningSystem;
  let device: SimDevice;
  let prometheus: ChildProcess;
  let prometheusUrl: string;
  let prometheusOutput = '';

  const query = async (promql: string): Promise<VectorResult[]> => {
    const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
    const body = (await res.json()) as { status: string; data: { resultType: string; result: VectorResult[] } };
    expect(body.status, promql).toBe('success');
    return body.data.result;
  };
  const one = async (promql: string): Promise<number> => {
    const result = await query(promql);
    expect(result, promql).toHaveLength(1);
    return Number(result[0]!.value[1]);
  };

  beforeAll(async () => {
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', metricsToken: TOKEN, metricsAddress: '127.0.0.1:0' } });
    const creds = importBeforeStart(settings, oneHousehold());
    system = new KanjiaSystem({ settings, smsSender: new RecordingSender(), logger: createLogger('silent') });
    running = await system.start();
    device = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: creds[0]!.deviceId, secret: creds[0]!.secret, logger: silent, resendIntervalMs: 60_000 });
    await device.start();
    await device.pressSos().received;

    const tokenFile = join(tmp.dir, 'metrics-token');
    writeFileSync(tokenFile, TOKEN, { mode: 0o600 });
    const listener = new URL(running.metricsUrl!);
    const configFile = join(tmp.dir, 'prometheus.yml');
    writeFileSync(
      configFile,
      [
        'global:',
        '  scrape_interval: 1s',
        '  scrape_timeout: 1s',
        // The offered rules are loaded too: a rule Prometheus cannot read stops it.
        `rule_files: [${JSON.stringify(RULES)}]`,
        'scrape_configs:',
        '  - job_name: kanjia',
        `    authorization: { type: Bearer, credentials_file: ${JSON.stringify(tokenFile)} }`,
        `    static_configs: [{ targets: ["127.0.0.1:${running.httpPort}"] }]`,
        '  - job_name: kanjia-listener',
        `    authorization: { type: Bearer, credentials_file: ${JSON.stringify(tokenFile)} }`,
        `    static_configs: [{ targets: ["${listener.host}"] }]`,
        '  - job_name: kanjia-no-token',
        `    static_configs: [{ targets: ["127.0.0.1:${running.httpPort}"] }]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn('prometheus', [`--config.file=${configFile}`, `--storage.tsdb.path=${join(tmp.dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const keep = (chunk: Buffer) => {
      prometheusOutput = (prometheusOutput + chunk.toString('utf8')).slice(-4000);
    };
    prometheus.stdout?.on('data', keep);
    prometheus.stderr?.on('data', keep);
    // Every target scraped at least once (up is written for each scrape, 1 or 0).
    await until(
      'prometheus to have scraped the three targets',
      async () => {
        if (prometheus.exitCode !== null) throw new Error(`prometheus exited with ${prometheus.exitCode}:\n${prometheusOutput}`);
        try {
          return (await query('up')).length === 3;
        } catch {
          return false;
        }
      },
      45_000,
    );
  }, 60_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus.once('exit', resolve));
      prometheus.kill('SIGTERM');
      await exited;
    }
    await device?.stop();
    await system?.stop();
    tmp.cleanup();
  }, 30_000);

  it('reads our exposition on the main port with the token and on the separate listener', async () => {
    expect(await one('up{job="kanjia"}'), prometheusOutput).toBe(1);
    expect(await one('up{job="kanjia-listener"}'), prometheusOutput).toBe(1);
  });

  it('is refused without the token: the target is down with a 401', async () => {
    expect(await one('up{job="kanjia-no-token"}')).toBe(0);
    const targets = (await (await fetch(`${prometheusUrl}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ labels: { job: string }; lastError: string }> } };
    const noToken = targets.data.activeTargets.find((t) => t.labels.job === 'kanjia-no-token');
    expect(noToken?.lastError).toMatch(/401/);
  });

  it('loads the offered alerting rules, which pass promtool check and their unit tests (an outage, a node down, a failed SMS)', async () => {
    const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as { data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> } };
    const loaded = rules.data.groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name)).toContain('KanjiaSmsProviderOutage');
    expect(loaded.filter((r) => r.health === 'err')).toEqual([]);
    for (const args of [['check', 'rules', RULES], ['test', 'rules', RULE_TESTS]]) {
      const run = spawnSync('promtool', args, { encoding: 'utf8', timeout: 30_000 });
      expect(run.status, `promtool ${args.join(' ')}:\n${run.stdout}${run.stderr}`).toBe(0);
    }
  });

  it('answers queries on our series: the connection, the open SOS case, commit times, event-loop lag', async () => {
    expect(await one('kanjia_mqtt_connections_accepted_total{job="kanjia"}')).toBe(1);
    expect(await one('kanjia_mqtt_connections_open{job="kanjia-listener"}')).toBe(1);
    expect(await one('kanjia_mqtt_messages_in_total{job="kanjia",kind="events"}')).toBeGreaterThanOrEqual(1);
    expect(await one('kanjia_alarm_cases_active{job="kanjia",kind="sos",severity="critical"}')).toBe(1);
    expect(await one('sum(kanjia_alarm_cases_active{job="kanjia"})')).toBe(1);
    expect(await one('kanjia_sqlite_commit_duration_seconds_count{job="kanjia"}')).toBeGreaterThan(0);
    expect(await one('kanjia_outbox_send_latency_seconds_count{job="kanjia"}')).toBe(1);
    expect(await one('nodejs_eventloop_lag_seconds{job="kanjia"}')).toBeGreaterThanOrEqual(0);
  });
});
