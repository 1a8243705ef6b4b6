/**
 * `kanjia eval-falls`: replays every trial of a fall dataset through the live
 * FallDetector and prints sensitivity, specificity and false alarms per hour
 * of ADL data per body position and age group, then one JSON summary on its
 * last line. `--loso` also fits the thresholds leaving each subject out.
 */
import { DatasetError, readTrials } from '@kanjia/firmware-sim';
import { processIo, type EvalIo } from '../io.js';
import { EVAL_FALLS_USAGE, FallsUsageError, parseEvalFallsArgs, type EvalFallsArgs } from './args.js';
import { evaluateFalls, type FallEvalResult } from './replay.js';
import { fallReport } from './report.js';

/** `kanjia eval-falls …`; returns the exit code (0 done, 1 the dataset could not be read, 2 usage). */
export async function runEvalFalls(argv: string[], io: EvalIo = processIo): Promise<number> {
  let args: EvalFallsArgs;
  try {
    args = parseEvalFallsArgs(argv);
  } catch (error) {
    if (error instanceof FallsUsageError) {
      if (error.message !== '') io.stderr(`kanjia eval-falls: ${error.message}`);
      io.stderr(EVAL_FALLS_USAGE);
      return error.message === '' ? 0 : 2;
    }
    throw error;
  }

  let skippedLines = 0;
  const skipped: string[] = [];
  let result: FallEvalResult;
  try {
    const trials = readTrials(args.dataset, {
      invalidLines: args.skipInvalid ? 'skip' : 'fail',
      onSkipped: (problem) => {
        skippedLines += 1;
        skipped.push(problem.message);
      },
    });
    result = await evaluateFalls(trials, {
      file: args.dataset,
      windowMs: args.windowMs,
      loso: args.loso,
      ...(args.limit === undefined ? {} : { limitPerPositionAndLabel: args.limit }),
    });
  } catch (error) {
    if (error instanceof DatasetError) {
      io.stderr(`kanjia eval-falls: ${error.code}: ${error.message}`);
      return 1;
    }
    throw error;
  }
  result.summary.dataQuality.skippedLines = skippedLines;

  if (!args.jsonOnly) {
    for (const line of skipped) io.stderr(`skipped ${line}`);
    for (const line of fallReport(result, args.verbose)) io.stdout(line);
  }
  io.stdout(JSON.stringify(result.summary));
  return 0;
}
