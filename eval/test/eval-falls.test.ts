import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { Aedes } from 'aedes';
import { DEFAULT_FALL_CONFIG, FallDetector, type FallDetection } from '@kanjia/detection';
import { readTrials, replayTrial, trialWindows } from '@kanjia/firmware-sim';
import { parseDeviceTopic, parseUplink, topics } from '@kanjia/protocol';
import { countDetections, evaluateFalls, runEvalFalls, type FallEvalSummary } from '../src/index.js';

type Vec = [number, number, number];
type Trial = { id: string; subject: string; age: number; label: 'fall' | 'adl'; activity: string; position: 'chest' | 'waist' | 'wrist'; hz: number; unit: 'g'; samples: Vec[] };

const dir = mkdtempSync(join(tmpdir(), 'kanjia-eval-falls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ——— synthetic trials of exactly 15 s, in a frame where standing reads +1 g along z ———

const tilt = (deg: number, g = 1): Vec => [Math.sin((deg * Math.PI) / 180) * g, 0, Math.cos((deg * Math.PI) / 180) * g];
type Segment = { ms: number; at: (t: number, ms: number) => Vec };
const still = (ms: number, deg: number): Segment => ({ ms, at: () => tilt(deg) });
const drop = (ms: number, minG: number): Segment => ({ ms, at: (t, len) => tilt(0, 1 - (1 - minG) * Math.sin((Math.PI * t) / len)) });
const hit = (ms: number, peakG: number, fromDeg: number, toDeg: number): Segment => ({
  ms,
  at: (t, len) => tilt(fromDeg + ((toDeg - fromDeg) * t) / len, 0.5 + (peakG - 0.5) * Math.sin((Math.PI * t) / len)),
});
const walk = (ms: number): Segment => ({ ms, at: (t) => tilt(3 * Math.sin((t / 500) * 2 * Math.PI), 1 + 0.8 * Math.max(0, Math.sin((t / 500) * 2 * Math.PI)) ** 9) });

/** Renders 15 s at `hz`; the last segment's posture continues to the end. */
function render(hz: number, segments: Segment[]): Vec[] {
  const out: Vec[] = [];
  let start = 0;
  let k = 0;
  const total = 15_000;
  for (const [i, seg] of segments.entries()) {
    const end = i === segments.length - 1 ? total : start + seg.ms;
    for (; (k * 1000) / hz < end; k++) {
      const t = (k * 1000) / hz - start;
      const v = seg.at(Math.min(t, seg.ms), seg.ms);
      out.push([Math.round(v[0] * 1e4) / 1e4, Math.round(v[1] * 1e4) / 1e4, Math.round(v[2] * 1e4) / 1e4]);
    }
    start = end;
  }
  return out;
}

const fall = (hz: number, impactG: number, freeFallG = 0.3): Vec[] => render(hz, [still(4000, 0), drop(500, freeFallG), hit(150, impactG, 45, 90), still(1, 90)]);

function t(id: string, subject: string, age: number, label: 'fall' | 'adl', activity: string, position: Trial['position'], hz: number, samples: Vec[]): Trial {
  return { id, subject, age, label, activity, position, hz, unit: 'g', samples };
}

const claps: Segment[] = [still(3000, 0)];
for (let i = 0; i < 8; i++) claps.push(hit(100, 3.5, 30, 30), still(400, 30));
claps.push(still(1, 0));

/**
 * 8 trials, 15 s each. Expected: chest 1 of 2 falls (the 1.2 g one without
 * free fall is missed), 1 of 2 ADLs alarms (a 3 g "flop onto the bed" that
 * looks exactly like a fall); waist and wrist everything right.
 */
const TRIALS: Trial[] = [
  t('syn/s1/fall/chest', 'syn-01', 72, 'fall', 'backwardFall', 'chest', 50, fall(50, 3)),
  t('syn/s1/walk/chest', 'syn-01', 72, 'adl', 'Walking', 'chest', 20, render(20, [walk(15_000)])),
  t('syn/s1/fall/waist', 'syn-01', 72, 'fall', 'lateralFall', 'waist', 100, fall(100, 3)),
  t('syn/s2/flop/chest', 'syn-02', 30, 'adl', 'LyingDown_OnABed', 'chest', 50, fall(50, 3)),
  t('syn/s2/soft/chest', 'syn-02', 30, 'fall', 'forwardFall', 'chest', 20, fall(20, 1.2, 0.9)),
  t('syn/s2/fall/wrist', 'syn-02', 30, 'fall', 'forwardFall', 'wrist', 200, fall(200, 3.5)),
  t('syn/s2/claps/wrist', 'syn-02', 30, 'adl', 'Aplausing', 'wrist', 50, render(50, claps)),
  t('syn/s3/sit/waist', 'syn-03', 0, 'adl', 'Sitting_GettingUpOnAChair', 'waist', 50, render(50, [still(4000, 0), drop(400, 0.5), hit(150, 2.8, 10, 20), still(1, 20)])),
];

function writeDataset(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
  return file;
}

const FIXTURE = writeDataset('synthetic.jsonl.gz', TRIALS.map((x) => JSON.stringify(x)));

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runEvalFalls(argv, { stdout: (l) => out.push(l), stderr: (l) => err.push(l) });
  return { code, out, err };
}

const lastJson = (out: string[]): FallEvalSummary => JSON.parse(out[out.length - 1] ?? '') as FallEvalSummary;

/** Figures of a group, as the summary states them. */
function group(falls: number, detectedFalls: number, adls: number, falseAlarms: number): Record<string, number | null> {
  const adlHours = (adls * 15) / 3600;
  return {
    trials: falls + adls,
    falls,
    detectedFalls,
    sensitivity: falls === 0 ? null : Math.round((detectedFalls / falls) * 10_000) / 10_000,
    adls,
    falseAlarmTrials: falseAlarms,
    specificity: adls === 0 ? null : Math.round(((adls - falseAlarms) / adls) * 10_000) / 10_000,
    adlHours: Math.round(adlHours * 10_000) / 10_000,
    falseAlarms,
    falseAlarmsPerHour: adls === 0 ? null : Math.round((falseAlarms / adlHours) * 100) / 100,
  };
}

describe('kanjia eval-falls', () => {
  it('reports exactly: chest 1/2 falls and 1/2 ADLs alarming (120 false alarms/h over 30 s), waist and wrist 1/1 and 0/1, overall 75 % and 75 %', async () => {
    const { code, out, err } = await run(['--dataset', FIXTURE]);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const summary = lastJson(out);
    expect(summary).toMatchObject({ dataset: `${dir.split('/').pop()}/synthetic.jsonl.gz`, trials: 8, falls: 4, adls: 4, adlHours: 0.0167, windowMs: 2000, limitPerPositionAndLabel: null, loso: null });
    expect(summary.positions.chest).toEqual({ ...group(2, 1, 2, 1), byAge: { '<60': group(1, 0, 1, 1), '>=60': group(1, 1, 1, 0) } });
    expect(summary.positions.waist).toEqual({ ...group(1, 1, 1, 0), byAge: { '>=60': group(1, 1, 0, 0), unknown: group(0, 0, 1, 0) } });
    expect(summary.positions.wrist).toEqual({ ...group(1, 1, 1, 0), byAge: { '<60': group(1, 1, 1, 0) } });
    expect(summary.overall).toEqual(group(4, 3, 4, 1));
    expect(summary.overall.sensitivity).toBe(0.75);
    expect(summary.positions.chest?.falseAlarmsPerHour).toBe(120);
    expect(summary.params).toEqual(JSON.parse(JSON.stringify(DEFAULT_FALL_CONFIG)));
    // The table: one row per position and age group, then the overall row.
    expect(out.find((l) => l.startsWith('chest     all'))).toMatch(/^chest\s+all\s+2\s+1\s+50\.0%\s+2\s+1\s+50\.0%\s+0\.01\s+120\.00$/);
    expect(out.find((l) => l.startsWith('all'))).toMatch(/^all\s+all\s+4\s+3\s+75\.0%\s+4\s+1\s+75\.0%/);
  });

  it('gives the same figures whatever the window length the device uses (1 s or 5 s)', async () => {
    const base = lastJson((await run(['--dataset', FIXTURE, '--json-only'])).out);
    for (const ms of ['1000', '5000']) {
      const other = lastJson((await run(['--dataset', FIXTURE, '--json-only', '--window-ms', ms])).out);
      expect(other.positions).toEqual(base.positions);
    }
  });

  it('with --json-only prints one line; with --limit 1 takes the first trial of each position and label (6 of 8)', async () => {
    const json = await run(['--dataset', FIXTURE, '--json-only']);
    expect(json.out).toHaveLength(1);
    const limited = lastJson((await run(['--dataset', FIXTURE, '--json-only', '--limit', '1'])).out);
    expect(limited.trials).toBe(6);
    expect(limited.limitPerPositionAndLabel).toBe(1);
    expect(limited.positions.chest).toMatchObject({ falls: 1, detectedFalls: 1, adls: 1, falseAlarmTrials: 0 });
  });

  it('--loso judges every trial once with thresholds fitted on the other subjects, and the probe re-judged with the defaults matches the live detector', async () => {
    const { code, out } = await run(['--dataset', FIXTURE, '--loso']);
    expect(code).toBe(0);
    const loso = lastJson(out).loso;
    expect(loso?.overall).toMatchObject({ falls: 4, adls: 4 });
    for (const [position, subjects] of [
      ['chest', ['syn-01', 'syn-02']],
      ['waist', ['syn-01', 'syn-03']],
      ['wrist', ['syn-02']],
    ] as const) {
      expect(loso?.fits.filter((f) => f.position === position).flatMap((f) => f.heldOutSubjects).sort()).toEqual(subjects);
    }
    expect(out.some((l) => l.startsWith('leave one subject out'))).toBe(true);

    const { outcomes } = await evaluateFalls(readTrials(FIXTURE), { loso: true });
    for (const o of outcomes) expect(countDetections(o.impacts ?? [], DEFAULT_FALL_CONFIG.positions[o.position], DEFAULT_FALL_CONFIG)).toBe(o.detections);
  });

  it('stops with exit code 1 and the line number on an invalid line; --skip-invalid skips and counts it', async () => {
    const lines = TRIALS.map((x) => JSON.stringify(x));
    lines.splice(2, 0, JSON.stringify({ ...TRIALS[0], id: 'broken', hz: 500 }));
    const file = writeDataset('broken.jsonl.gz', lines);
    const failed = await run(['--dataset', file]);
    expect(failed.code).toBe(1);
    expect(failed.err.join('\n')).toMatch(/DATASET_INVALID_LINE: .*line 3: hz/);
    const skipped = await run(['--dataset', file, '--skip-invalid', '--json-only']);
    expect(skipped.code).toBe(0);
    expect(lastJson(skipped.out)).toMatchObject({ trials: 8, dataQuality: { skippedLines: 1 } });
  });

  it('exits 2 with the usage when --dataset is missing or --limit is not a whole number', async () => {
    const missing = await run([]);
    expect(missing.code).toBe(2);
    expect(missing.err.join('\n')).toMatch(/--dataset FILE is required/);
    expect((await run(['--dataset', FIXTURE, '--limit', 'lots'])).code).toBe(2);
    expect((await run(['--dataset', join(dir, 'absent.jsonl.gz')])).code).toBe(1);
  });

  // 30 real UMAFall trials kept in the repo (fixtures/umafall/README.md): six subjects, two of them over 60.
  const FIXTURE_UMAFALL = fileURLToPath(new URL('./fixtures/umafall/trials.jsonl.gz', import.meta.url));
  it('judges the 30 UMAFall trials of the repo (12 falls, 18 ADLs, 6 subjects) per position and age group, and leaves each subject out once', async () => {
    const { code, out } = await run(['--dataset', FIXTURE_UMAFALL, '--loso']);
    expect(code).toBe(0);
    const summary = lastJson(out);
    expect(summary).toMatchObject({ dataset: 'umafall/trials.jsonl.gz', trials: 30, falls: 12, adls: 18, dataQuality: { skippedLines: 0 } });
    for (const position of ['chest', 'waist', 'wrist'] as const) {
      const p = summary.positions[position];
      expect(p).toMatchObject({ falls: 4, adls: 6, byAge: { '<60': { falls: 4, adls: 4 }, '>=60': { falls: 0, adls: 2 } } });
      const heldOut = summary.loso?.fits.filter((f) => f.position === position).flatMap((f) => f.heldOutSubjects).sort();
      expect(heldOut).toEqual(['umafall-01', 'umafall-02', 'umafall-03', 'umafall-04', 'umafall-11', 'umafall-15']);
      expect(summary.loso?.positions[position]).toMatchObject({ falls: 4, adls: 6 });
    }
    // Loose floors on real falls onto mats and ordinary activities (the full dataset's figures are in the README).
    expect(summary.positions.chest?.sensitivity).toBeGreaterThanOrEqual(0.75);
    expect(summary.positions.waist?.sensitivity).toBeGreaterThanOrEqual(0.75);
    expect(summary.overall.specificity).toBeGreaterThanOrEqual(0.8);
    expect(out.find((l) => l.startsWith('chest     >=60'))).toMatch(/^chest\s+>=60\s+0\s+0\s+—\s+2\s/);
  });

  it('--limit N takes the first N trials of each position and label', async () => {
    const { code, out } = await run(['--dataset', FIXTURE_UMAFALL, '--limit', '2', '--loso', '--json-only']);
    expect(code).toBe(0);
    const summary = lastJson(out);
    // 3 positions × (falls, ADLs) × 2.
    expect(summary).toMatchObject({ dataset: 'umafall/trials.jsonl.gz', trials: 12, falls: 6, adls: 6 });
  });

  it('a fall trial replayed over MQTT (bare aedes) into a live FallDetector raises the one fall the evaluator counts, at the same offset', async () => {
    const aedes = await Aedes.createBroker();
    const detector = new FallDetector();
    const live: FallDetection[] = [];
    let lastDevice = '';
    await new Promise<void>((resolve) =>
      aedes.subscribe(
        topics.allOf('accel'),
        (packet, cb) => {
          const parsed = parseUplink('accel', packet.payload);
          const deviceId = parseDeviceTopic(packet.topic)?.deviceId ?? '';
          if (parsed.ok && parsed.value.channel === 'accel') live.push(...detector.push(deviceId, parsed.value.payload));
          lastDevice = deviceId;
          cb();
        },
        resolve,
      ),
    );
    const server = net.createServer(aedes.handle);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      const trial = TRIALS[0] as Trial;
      const startTs = 1_767_225_600_000;
      await replayTrial({ brokerUrl: `mqtt://127.0.0.1:${address.port}`, deviceId: 'pendant-0001', secret: 'x', trial, speed: Infinity, startTs });
      live.push(...detector.flush('pendant-0001'));
      expect(lastDevice).toBe('pendant-0001');
      expect(live).toHaveLength(1);
      const { outcomes } = await evaluateFalls([trial]);
      expect(outcomes[0]?.detections).toBe(1);
      // The same windows pushed directly, without MQTT, give the same fall at the same device time.
      const offline = new FallDetector();
      const expected = trialWindows(trial, { startTs }).flatMap((w) => offline.push('x', w));
      expected.push(...offline.flush('x'));
      expect(live).toEqual(expected);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => aedes.close(() => resolve()));
    }
  });
});
