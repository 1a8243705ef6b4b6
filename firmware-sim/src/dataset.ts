/**
 * Fall-trial datasets (../shared/datasets/FORMAT.md): one trial per line of a
 * gzip-compressed JSON Lines file, read as a stream so that a file of any size
 * works, and cut into the `accel` windows a wearable would send.
 *
 * Bad lines: by default the first invalid line stops the read with a
 * DatasetError naming the line number and the field — an evaluation computed
 * over a silently thinned dataset would report figures nobody can reproduce.
 * `invalidLines: 'skip'` skips them instead and reports each one to
 * `onSkipped`, for exploring a damaged file.
 */
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { BODY_POSITIONS, KanjiaError, MessageId, formatZodError, type AccelWindow, type ErrorCode } from '@kanjia/protocol';
import { z } from 'zod';

/** Largest |acceleration| a window may carry (MQTT contract v1, AccelWindow). */
const MAX_ABS_G = 64;

type Sample = [number, number, number];

/**
 * `[[x, y, z], …]` in g. Checked by hand rather than with z.tuple(): a 200 Hz
 * dataset has millions of samples and this is ten times faster; the first bad
 * sample is reported with its path (`samples.41.2`).
 */
const Samples = z
  .array(z.unknown())
  .min(1)
  .superRefine((rows, ctx) => {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (!Array.isArray(row) || row.length !== 3) {
        ctx.addIssue({ code: 'custom', path: [i], message: 'expected [x, y, z]' });
        return;
      }
      for (let k = 0; k < 3; k++) {
        const v: unknown = row[k];
        if (typeof v !== 'number' || !(Math.abs(v) <= MAX_ABS_G)) {
          ctx.addIssue({ code: 'custom', path: [i, k], message: `expected a number of g from -${MAX_ABS_G} to ${MAX_ABS_G}, got ${JSON.stringify(v)}` });
          return;
        }
      }
    }
  })
  .transform((rows) => rows as Sample[]);

/** One line of a dataset file: one trial recorded by one accelerometer at one body position. */
export const FallTrial = z.object({
  id: z.string().min(1),
  /** Who performed it (a trial-id prefix plus the subject number). */
  subject: z.string().min(1),
  /** Age in years; 0 when unknown. */
  age: z.number().min(0).max(130),
  /** `adl` = an activity of daily living, which must NOT raise an alarm. */
  label: z.enum(['fall', 'adl']),
  activity: z.string(),
  position: z.enum(BODY_POSITIONS),
  /** Uniform sample rate, Hz; need not be an integer. */
  hz: z.number().min(20).max(200),
  unit: z.literal('g'),
  samples: Samples,
});
export type FallTrial = z.infer<typeof FallTrial>;

export const DATASET_ERROR_CODES = ['DATASET_NOT_FOUND', 'DATASET_UNREADABLE', 'DATASET_INVALID_LINE', 'DATASET_DUPLICATE_ID', 'WINDOWING_INVALID_OPTIONS'] as const satisfies readonly ErrorCode[];
export type DatasetErrorCode = (typeof DATASET_ERROR_CODES)[number];

export class DatasetError extends KanjiaError<DatasetErrorCode> {
  override readonly name = 'DatasetError';
  constructor(
    code: DatasetErrorCode,
    message: string,
    /** 1-based line number, for DATASET_INVALID_LINE and DATASET_DUPLICATE_ID. */
    readonly line?: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export interface ReadTrialsOptions {
  /** `fail` (default): the first invalid line throws DATASET_INVALID_LINE. `skip`: it is skipped and reported to onSkipped. */
  invalidLines?: 'fail' | 'skip';
  onSkipped?: (problem: { line: number; message: string }) => void;
}

/**
 * Streams the trials of a dataset file, validated, in file order. Gzip is
 * recognised by its magic bytes, so an uncompressed .jsonl file works too.
 * Blank lines are ignored; a repeated trial id is an error either way.
 */
export async function* readTrials(file: string, options: ReadTrialsOptions = {}): AsyncGenerator<FallTrial> {
  const skip = options.invalidLines === 'skip';
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new DatasetError(code === 'ENOENT' ? 'DATASET_NOT_FOUND' : 'DATASET_UNREADABLE', `cannot open dataset ${file}: ${errorMessage(error)}`, undefined, { cause: error });
  }
  const magic = Buffer.alloc(2);
  const { bytesRead } = await handle.read(magic, 0, 2, 0);
  const gzip = bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b;
  const raw = handle.createReadStream({ start: 0, autoClose: true });
  // pipeline() forwards an error of the file stream to the gunzip stream, which the line iterator then throws.
  const input = gzip ? pipeline(raw, createGunzip(), () => undefined) : raw;
  const lines = createInterface({ input, crlfDelay: Infinity });
  const seen = new Set<string>();
  let lineNo = 0;
  try {
    for await (const text of lines) {
      lineNo += 1;
      if (text.trim() === '') continue;
      const problem = parseLine(text);
      if (typeof problem === 'string') {
        const message = `${file} line ${lineNo}: ${problem}`;
        if (!skip) throw new DatasetError('DATASET_INVALID_LINE', message, lineNo);
        options.onSkipped?.({ line: lineNo, message });
        continue;
      }
      if (seen.has(problem.id)) throw new DatasetError('DATASET_DUPLICATE_ID', `${file} line ${lineNo}: trial id "${problem.id}" appears twice`, lineNo);
      seen.add(problem.id);
      yield problem;
    }
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    throw new DatasetError('DATASET_UNREADABLE', `${file}: cannot read${lineNo > 0 ? ` after line ${lineNo}` : ''}: ${errorMessage(error)}`, undefined, { cause: error });
  } finally {
    lines.close();
    raw.destroy();
    await handle.close().catch(() => undefined);
  }
}

/** The trial of one line, or what is wrong with it. */
function parseLine(text: string): FallTrial | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `not JSON (${errorMessage(error)})`;
  }
  const parsed = FallTrial.safeParse(json);
  if (!parsed.success) {
    const issues = formatZodError(parsed.error).split('; ');
    return issues.length > 3 ? `${issues.slice(0, 3).join('; ')}; … ${issues.length - 3} more problem(s)` : issues.join('; ');
  }
  return parsed.data;
}

/** Duration of a trial's recording, ms. */
export function trialDurationMs(trial: Pick<FallTrial, 'hz' | 'samples'>): number {
  return (trial.samples.length * 1000) / trial.hz;
}

export interface TrialWindowOptions {
  /** Length of each window, ms (a device sends one window per this long). Default 2000; at most 10 000 (the contract's limit). */
  windowMs?: number;
  /** Device time of the first sample, ms since the epoch. Default 1 January 2026 00:00 UTC. */
  startTs?: number;
  /** Message ids are `{idPrefix}-{sequence base 36}`, like a device's. Default `accel`. */
  idPrefix?: string;
}

export const DEFAULT_WINDOW_MS = 2000;
const DEFAULT_START_TS = Date.UTC(2026, 0, 1);

/**
 * Cuts a trial into consecutive AccelWindow payloads as a device sends them:
 * each window holds the samples of the next `windowMs` (the last one what is
 * left), `ts` is the device time of its first sample and `id` a per-device
 * sequence. A trial whose rate is not a whole number of Hz is first resampled
 * (linear interpolation) to the nearest whole rate, which is what the
 * contract's `hz` can state.
 */
export function trialWindows(trial: Pick<FallTrial, 'hz' | 'position' | 'samples'>, options: TrialWindowOptions = {}): AccelWindow[] {
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const startTs = options.startTs ?? DEFAULT_START_TS;
  const idPrefix = options.idPrefix ?? 'accel';
  const problems: string[] = [];
  if (!(Number.isFinite(windowMs) && windowMs > 0 && windowMs <= 10_000)) problems.push(`windowMs: must be in (0, 10000], got ${windowMs}`);
  if (!(Number.isInteger(startTs) && startTs >= 0)) problems.push(`startTs: must be a whole number of ms ≥ 0, got ${startTs}`);
  if (!MessageId.safeParse(`${idPrefix}-zzzzzz`).success || idPrefix.length > 56) problems.push(`idPrefix "${idPrefix}": 1–56 characters of A–Z, a–z, 0–9, . _ : -`);
  if (!(trial.hz >= 20 && trial.hz <= 200)) problems.push(`hz: must be 20–200, got ${trial.hz}`);
  if (problems.length > 0) throw new DatasetError('WINDOWING_INVALID_OPTIONS', `trialWindows: ${problems.join('; ')}`);

  const hz = Math.round(trial.hz);
  const samples = hz === trial.hz ? trial.samples : resample(trial.samples, trial.hz, hz);
  // At least one sample per window, at most the contract's 2000 samples / 10 s.
  const perWindow = Math.min(2000, hz * 10, Math.max(1, Math.round((hz * windowMs) / 1000)));
  const windows: AccelWindow[] = [];
  for (let start = 0, seq = 1; start < samples.length; start += perWindow, seq += 1) {
    windows.push({
      id: `${idPrefix}-${seq.toString(36)}`,
      ts: startTs + Math.round((start * 1000) / hz),
      hz,
      position: trial.position,
      unit: 'g',
      samples: samples.slice(start, start + perWindow),
    });
  }
  return windows;
}

/** Linear interpolation of a uniformly sampled signal from one rate to another, over the same duration. */
function resample(samples: Sample[], fromHz: number, toHz: number): Sample[] {
  const count = Math.max(1, Math.round((samples.length * toHz) / fromHz));
  const out: Sample[] = [];
  for (let k = 0; k < count; k++) {
    const pos = (k * fromHz) / toHz;
    const i = Math.min(Math.floor(pos), samples.length - 1);
    const a = samples[i] as Sample;
    const b = samples[Math.min(i + 1, samples.length - 1)] as Sample;
    const f = Math.min(1, pos - i);
    out.push([a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f]);
  }
  return out;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
