/** The command line of `kanjia eval-falls`. */
import { parseArgs } from 'node:util';
import { DEFAULT_WINDOW_MS } from '@kanjia/firmware-sim';
import { KanjiaError } from '@kanjia/protocol';

export const EVAL_FALLS_USAGE = `Usage: kanjia eval-falls --dataset FILE [--loso] [--limit N] [--window-ms MS] [--skip-invalid] [--verbose] [--json-only]

  --dataset FILE   a fall dataset (gzip JSON Lines, ../shared/datasets/FORMAT.md)
  --loso           also evaluate leaving whole subjects out (thresholds fitted on the others)
  --limit N        only the first N trials of each position and label (a quick run for CI)
  --window-ms MS   length of the accel windows the device sends (default ${DEFAULT_WINDOW_MS})
  --skip-invalid   skip invalid lines (counted in the summary) instead of stopping at the first
  --verbose        list every missed fall and every false alarm
  --json-only      print only the JSON summary line`;

/** A bad command line; an empty message means `--help` was asked for. */
export class FallsUsageError extends KanjiaError<'EVAL_USAGE'> {
  override readonly name = 'FallsUsageError';
  constructor(message: string) {
    super('EVAL_USAGE', message);
  }
}

export interface EvalFallsArgs {
  dataset: string;
  loso: boolean;
  limit: number | undefined;
  windowMs: number;
  skipInvalid: boolean;
  verbose: boolean;
  jsonOnly: boolean;
}

/** Parses the arguments; throws FallsUsageError. */
export function parseEvalFallsArgs(argv: string[]): EvalFallsArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        dataset: { type: 'string' },
        loso: { type: 'boolean', default: false },
        limit: { type: 'string' },
        'window-ms': { type: 'string' },
        'skip-invalid': { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        'json-only': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new FallsUsageError(error instanceof Error ? error.message : String(error));
  }
  if (values.help === true) throw new FallsUsageError('');
  if (values.dataset === undefined || values.dataset === '') throw new FallsUsageError('--dataset FILE is required');
  const whole = (name: string, text: string | undefined, min: number, max: number): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isInteger(n) || n < min || n > max) throw new FallsUsageError(`${name}: expected a whole number ${min}–${max}, got "${text}"`);
    return n;
  };
  return {
    dataset: values.dataset,
    loso: values.loso === true,
    limit: whole('--limit', values.limit, 1, 1_000_000),
    windowMs: whole('--window-ms', values['window-ms'], 50, 10_000) ?? DEFAULT_WINDOW_MS,
    skipInvalid: values['skip-invalid'] === true,
    verbose: values.verbose === true,
    jsonOnly: values['json-only'] === true,
  };
}
