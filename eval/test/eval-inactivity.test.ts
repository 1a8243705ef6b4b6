/**
 * `kanjia eval-inactivity` at CI size, and `--log` / `--cut` on a synthetic
 * EVENTS-FORMAT recording made by the routine generator.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateRoutine, writeEventLog } from '@kanjia/firmware-sim';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runEvalInactivity } from '../src/index.js';

function capture() {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { io: { stdout: (l: string) => stdout.push(l), stderr: (l: string) => stderr.push(l) }, stdout, stderr };
}

const lastJson = (lines: string[]): Record<string, any> => JSON.parse(lines[lines.length - 1] ?? '{}') as Record<string, any>;

const dir = mkdtempSync(join(tmpdir(), 'kanjia-eval-inactivity-'));
const logPath = join(dir, 'home.jsonl.gz');

beforeAll(async () => {
  // Five weeks of a frail person in a DST zone: the learning week, then an ordinary life.
  const r = generateRoutine({ seed: 7, startDate: '2026-03-01', days: 35, timeZone: 'Europe/Amsterdam', profile: 'frailIndoors' });
  await writeEventLog(logPath, { home: 'synthetic-frail', timezone: r.timeZone, sensors: r.sensors }, r.events);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Each run simulates or replays whole months: CPU-bound, bounded, slow on a loaded machine.
describe('eval-inactivity', { timeout: 180_000 }, () => {
  it('CI size (--persons 20 --months 2) runs in well under 30 s and ends with a JSON summary beating the 12-h baseline', async () => {
    const { io, stdout } = capture();
    const started = Date.now();
    expect(await runEvalInactivity(['--persons', '20', '--months', '2', '--seed', '1'], io)).toBe(0);
    expect(Date.now() - started).toBeLessThan(30_000);
    const s = lastJson(stdout);
    expect(s).toMatchObject({ mode: 'simulated', persons: 20, months: 2, personMonths: 40 });
    expect(stdout.join('\n')).toMatch(/false alarms per person-month/);
    expect(stdout.join('\n')).toMatch(/delay after usual wake-up/);
    // Loose bounds at this small size (the full run's figures are in the README).
    expect(s.learned.falseAlarmsPerPersonMonth).toBeLessThan(2);
    expect(s.learned.day.medianMin).toBeLessThan(120);
    expect(s.learned.nightAfterUsualWake.p95Min).toBeLessThanOrEqual(120);
    expect(s.learned.day.medianMin).toBeLessThan(s.baseline12h.day.medianMin / 4);
    expect(s.learned.day.n + s.learned.night.n).toBeGreaterThan(100);
    // Every reminder ended one way: the button, a sensor, or the alarm (each unanswered reminder is one false alarm).
    const a = s.learned.reminderAnswers;
    expect(a.button + a.sensor + a.none).toBe(a.reminders);
    expect(a.reminders / 40).toBeCloseTo(s.learned.remindersPerPersonMonth, 2);
    expect(a.none / 40).toBeCloseTo(s.learned.falseAlarmsPerPersonMonth, 2);
    expect(a.buttonShare).toBeGreaterThan(0.5);
    expect(a.buttonShare).toBeLessThan(1);
    expect(Object.values(a.byContext as Record<string, { reminders: number }>).reduce((n, c) => n + c.reminders, 0)).toBe(a.reminders);
  }, 60_000);

  it('is deterministic: the same seed prints the same figures', async () => {
    const a = capture();
    const b = capture();
    await runEvalInactivity(['--persons', '3', '--months', '1', '--seed', '5'], a.io);
    await runEvalInactivity(['--persons', '3', '--months', '1', '--seed', '5'], b.io);
    const strip = (s: Record<string, any>) => ({ ...s, seconds: 0 });
    expect(strip(lastJson(b.stdout))).toEqual(strip(lastJson(a.stdout)));
  });

  it('--log replays a recorded home from its first day: every reminder and alarm with local time, then days and false alarms per day', async () => {
    const { io, stdout } = capture();
    expect(await runEvalInactivity(['--log', logPath], io)).toBe(0);
    const text = stdout.join('\n');
    expect(text).toMatch(/synthetic-frail \(Europe\/Amsterdam\)/);
    expect(text).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2} {2}(remind|ALARM)/);
    const s = lastJson(stdout);
    expect(s).toMatchObject({ mode: 'log', home: 'synthetic-frail', timeZone: 'Europe/Amsterdam' });
    expect(s.days).toBeGreaterThan(33);
    expect(s.days).toBeLessThan(36);
    expect(s.falseAlarmsPerDay).toBeCloseTo(s.alarms / s.days, 3);
    expect(s.falseAlarmsPerDay).toBeLessThan(0.2);
  });

  it('--cut 8 cuts the log at 8 random moments and finds every one, with the delays by kind of silence', async () => {
    const { io, stdout } = capture();
    expect(await runEvalInactivity(['--log', logPath, '--cut', '8', '--seed', '3'], io)).toBe(0);
    const s = lastJson(stdout);
    expect(s.cuts).toMatchObject({ n: 8, found: 8, missed: 0 });
    expect(s.cuts.maxMin).toBeLessThan(16 * 60);
    expect(stdout.filter((l) => l.startsWith('  cut '))).toHaveLength(8);
  });

  it('bad arguments exit 2 with the usage; an unreadable log exits 1 with its code', async () => {
    const a = capture();
    expect(await runEvalInactivity(['--persons', 'many'], a.io)).toBe(2);
    expect(a.stderr.join('\n')).toMatch(/--persons: an integer ≥ 1/);
    const b = capture();
    expect(await runEvalInactivity(['--cut', '3'], b.io)).toBe(2);
    const c = capture();
    expect(await runEvalInactivity(['--log', join(dir, 'nope.jsonl.gz')], c.io)).toBe(1);
    expect(c.stderr.join('\n')).toMatch(/EVENT_LOG_UNREADABLE/);
    const d = capture();
    expect(await runEvalInactivity(['--config', '{"remindGraceMs":-5}'], d.io)).toBe(2);
    const e = capture();
    expect(await runEvalInactivity(['--help'], e.io)).toBe(0);
    expect(e.stdout.join('\n')).toMatch(/--persons 20 --months 2/);
  });
});
