/**
 * bench:load in its smallest mode: it runs to the end and its JSON line has
 * every figure (the values are the benchmark's business, not this test's).
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, cleanEnv, haveBinary } from '../src/harness.js';

const hasMosquitto = haveBinary('mosquitto', 'apt-get install mosquitto');

const BROKER = ['connectMs', 'connectPerS', 'rssPerConnectionKb'];
const LATENCY = ['n', 'p50', 'p99', 'max'];
const SEARCH = ['steps', 'maxSustainablePerS', 'cpuMsPerSos'];
const STEP = ['offeredPerS', 'seconds', 'presses', 'lost', 'latency', 'steady', 'cpuMsPerSos', 'sustained'];

function expectKeys(value: unknown, keys: string[], where: string): void {
  expect(value, where).toBeTypeOf('object');
  for (const k of keys) expect(Object.keys(value as object), `${where}.${k}`).toContain(k);
}

describe.skipIf(!hasMosquitto)('npm run bench:load --quick', () => {
  it('runs every phase against 20 devices and prints a table and one JSON line with every figure', () => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'tests', 'dist', 'bench-load.js'), '--quick', '--devices', '20', '--skip-node-red'], { env: cleanEnv(), encoding: 'utf8', timeout: 170_000 });
    expect(r.status, r.stderr.slice(-3000)).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(r.stdout).toContain('broker');
    expect(r.stdout).toContain('past capacity');
    const json = JSON.parse(lines.at(-1)!) as Record<string, any>;

    expectKeys(json, ['bench', 'machine', 'devices', 'provisionMs', 'kanjia', 'peers', 'runSeconds', 'loadAverageAtEnd'], 'json');
    expect(json.devices).toBe(20);
    expectKeys(json.kanjia, [...BROKER, 'sos', 'storm', 'search', 'pastCapacity'], 'kanjia');
    expectKeys(json.kanjia.sos, ['presses', 'telemetryPerS', 'toReceived', 'toSocketIo', 'toSmsRequest', 'lost'], 'kanjia.sos');
    for (const l of ['toReceived', 'toSocketIo', 'toSmsRequest']) expectKeys(json.kanjia.sos[l], LATENCY, `kanjia.sos.${l}`);
    expectKeys(json.kanjia.storm, ['devices', 'allBackMs', 'dropped', 'sosPressed', 'sosLost', 'refusedByCode'], 'kanjia.storm');
    expectKeys(json.kanjia.search, SEARCH, 'kanjia.search');
    expect(json.kanjia.search.steps.length).toBeGreaterThan(0);
    expectKeys(json.kanjia.search.steps[0], STEP, 'kanjia.search.steps[0]');
    expectKeys(json.kanjia.pastCapacity, ['offeredPerS', 'seconds', 'presses', 'crashed', 'devicesDisconnected', 'unanswered', 'windowMs', 'backlogDrainedMs', 'recoveryMs', 'toReceived'], 'kanjia.pastCapacity');
    expectKeys(json.peers.bareAedes, BROKER, 'peers.bareAedes');
    expectKeys(json.peers.mosquitto, BROKER, 'peers.mosquitto');
    expectKeys(json.peers.mosquittoForwarder, SEARCH, 'peers.mosquittoForwarder');
    expect(json.peers.mosquittoNodeRed).toEqual({ skipped: '--skip-node-red' });
  }, 180_000);
});
