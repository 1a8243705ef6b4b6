import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { AccelWindow } from '@kanjia/protocol';
import { DatasetError, readTrials, trialDurationMs, trialWindows, type FallTrial } from '../src/dataset.js';

const dir = mkdtempSync(join(tmpdir(), 'kanjia-dataset-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function trial(id: string, overrides: Partial<FallTrial> = {}): FallTrial {
  const hz = overrides.hz ?? 20;
  const samples = overrides.samples ?? Array.from({ length: Math.round(hz * 3) }, (_, i): [number, number, number] => [0.01 * i, 0, 1]);
  return { id, subject: 'test-01', age: 70, label: 'adl', activity: 'Walking', position: 'chest', hz, unit: 'g', ...overrides, samples };
}

function writeGz(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, gzipSync(`${lines.join('\n')}\n`));
  return file;
}

async function collect(file: string, options?: Parameters<typeof readTrials>[1]): Promise<FallTrial[]> {
  const out: FallTrial[] = [];
  for await (const t of readTrials(file, options)) out.push(t);
  return out;
}

async function failure(promise: Promise<unknown>): Promise<DatasetError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DatasetError) return error;
    throw error;
  }
  throw new Error('expected a DatasetError');
}

describe('readTrials', () => {
  it('streams every trial of a gzip JSON Lines file in order, at 20, 50 and 200 Hz and at the three positions', async () => {
    const trials = [trial('a', { hz: 20 }), trial('b', { hz: 50, position: 'waist', label: 'fall' }), trial('c', { hz: 200, position: 'wrist', age: 0 })];
    const file = writeGz('three.jsonl.gz', trials.map((t) => JSON.stringify(t)));
    const read = await collect(file);
    expect(read.map((t) => [t.id, t.hz, t.position, t.samples.length])).toEqual([
      ['a', 20, 'chest', 60],
      ['b', 50, 'waist', 150],
      ['c', 200, 'wrist', 600],
    ]);
    expect(read[0]).toEqual(trials[0]);
  });

  it('reads an uncompressed .jsonl file too, and ignores blank lines', async () => {
    const file = join(dir, 'plain.jsonl');
    writeFileSync(file, `${JSON.stringify(trial('a'))}\n\n${JSON.stringify(trial('b'))}\n`);
    expect((await collect(file)).map((t) => t.id)).toEqual(['a', 'b']);
  });

  it('stops at an invalid line with its line number and the field (line 3: hz 10 is below 20 Hz)', async () => {
    const file = writeGz('bad.jsonl.gz', [JSON.stringify(trial('a')), JSON.stringify(trial('b')), JSON.stringify({ ...trial('c'), hz: 10 }), JSON.stringify(trial('d'))]);
    const error = await failure(collect(file));
    expect(error.code).toBe('DATASET_INVALID_LINE');
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/line 3: hz: /);
  });

  it('with invalidLines "skip" skips and reports bad lines (not JSON on line 2, 65 g on line 3) and yields the 2 good trials', async () => {
    const bad = trial('c');
    bad.samples[5] = [65, 0, 0];
    const file = writeGz('skip.jsonl.gz', [JSON.stringify(trial('a')), '{"id": "b", oops', JSON.stringify(bad), JSON.stringify(trial('d'))]);
    const skipped: Array<{ line: number; message: string }> = [];
    const read = await collect(file, { invalidLines: 'skip', onSkipped: (p) => skipped.push(p) });
    expect(read.map((t) => t.id)).toEqual(['a', 'd']);
    expect(skipped.map((s) => s.line)).toEqual([2, 3]);
    expect(skipped[0]?.message).toMatch(/not JSON/);
    expect(skipped[1]?.message).toMatch(/samples\.5\.0/);
  });

  it('rejects a trial id that appears twice (line 2)', async () => {
    const file = writeGz('dup.jsonl.gz', [JSON.stringify(trial('a')), JSON.stringify(trial('a'))]);
    const error = await failure(collect(file));
    expect(error.code).toBe('DATASET_DUPLICATE_ID');
    expect(error.line).toBe(2);
  });

  it('says DATASET_NOT_FOUND for a missing file and DATASET_UNREADABLE for a corrupt gzip', async () => {
    expect((await failure(collect(join(dir, 'nope.jsonl.gz')))).code).toBe('DATASET_NOT_FOUND');
    const corrupt = join(dir, 'corrupt.jsonl.gz');
    writeFileSync(corrupt, Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from('definitely not deflate data')]));
    expect((await failure(collect(corrupt))).code).toBe('DATASET_UNREADABLE');
  });
});

describe('trialWindows', () => {
  it('cuts a 15 s, 20 Hz trial into 8 contract-valid windows of 40 samples (the last has 20), ts 2000 ms apart', () => {
    const t = trial('a', { samples: Array.from({ length: 300 }, (_, i): [number, number, number] => [i, 0, 1].map((v) => v / 100) as [number, number, number]) });
    const ws = trialWindows(t, { startTs: 1_000_000, idPrefix: 'pendant-1' });
    expect(ws.map((w) => w.samples.length)).toEqual([40, 40, 40, 40, 40, 40, 40, 20]);
    expect(ws.map((w) => w.ts)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((k) => 1_000_000 + 2000 * k));
    expect(ws.map((w) => w.id)).toEqual(['pendant-1-1', 'pendant-1-2', 'pendant-1-3', 'pendant-1-4', 'pendant-1-5', 'pendant-1-6', 'pendant-1-7', 'pendant-1-8']);
    for (const w of ws) expect(AccelWindow.safeParse(w).success).toBe(true);
    expect(ws.flatMap((w) => w.samples)).toEqual(t.samples);
    expect(trialDurationMs(t)).toBe(15_000);
  });

  it('windows 10 s at 200 Hz into 5 windows of 400 samples, and 1 s windows into 10 of 200', () => {
    const t = trial('a', { hz: 200, samples: Array.from({ length: 2000 }, (): [number, number, number] => [0, 0, 1]) });
    expect(trialWindows(t).map((w) => w.samples.length)).toEqual([400, 400, 400, 400, 400]);
    expect(trialWindows(t, { windowMs: 1000 })).toHaveLength(10);
  });

  it('resamples a 25.6 Hz trial to 26 Hz (the contract states whole Hz), keeping its 10 s duration', () => {
    const t = trial('a', { hz: 25.6, samples: Array.from({ length: 256 }, (_, i): [number, number, number] => [i / 256, 0, 1]) });
    const ws = trialWindows(t);
    expect(ws.every((w) => w.hz === 26)).toBe(true);
    expect(ws.reduce((n, w) => n + w.samples.length, 0)).toBe(260);
    for (const w of ws) expect(AccelWindow.safeParse(w).success).toBe(true);
  });

  it('refuses a window longer than the contract allows (12 s > 10 s)', () => {
    expect(() => trialWindows(trial('a'), { windowMs: 12_000 })).toThrow(/windowMs/);
  });
});
