/**
 * `kanjia eval-inactivity`: how often the inactivity monitor cries wolf and
 * how fast it finds a person who cannot get up, in accelerated time with the
 * very detector code of the live pipeline (InactivityMonitor on a FakeClock):
 * on simulated person-months (simulation.ts), on one recorded home (`--log`)
 * or on every recording of a folder (`--logs`, recorded-homes.ts).
 */
import { EventLogError } from '@kanjia/firmware-sim';
import { processIo, type EvalIo } from '../io.js';
import { EVAL_INACTIVITY_USAGE, InactivityUsageError, parseEvalInactivityArgs, type EvalInactivityArgs } from './args.js';
import type { InactivityConfig } from '@kanjia/detection';
import { evaluateHome, evaluateHomes, HomesError, type MeasuredAnswers } from './recorded-homes.js';
import { homeReport, homesTable, simulationReport } from './report.js';
import { simulate } from './simulation.js';

/** Simulated person-months the answer shares of a recording's reminders are measured on (100 person-months: a few seconds). */
const ANSWER_PERSONS = 50;
const ANSWER_MONTHS = 2;

/**
 * How often a person answers a reminder by the button that no sensor answered,
 * measured on a small simulated run without incidents (a recording has no
 * button, so its unanswered reminders are all alarms).
 */
function measureAnswers(seed: number, config: Partial<InactivityConfig>): () => MeasuredAnswers {
  // Deterministic for a seed and config: measured once per process, and only once a recording has been read.
  const key = JSON.stringify([seed, config]);
  return () => {
    let measured = measuredAnswers.get(key);
    if (measured === undefined) {
      const run = simulate({ persons: ANSWER_PERSONS, months: ANSWER_MONTHS, seed, timeZone: 'Asia/Shanghai', perMonth: 0, config });
      measured = { answers: run.summary.learned.reminderAnswers, personMonths: run.summary.personMonths };
      measuredAnswers.set(key, measured);
    }
    return measured;
  };
}
const measuredAnswers = new Map<string, MeasuredAnswers>();

/** Runs the evaluator; returns the exit code (0 ok, 1 unreadable log, 2 bad arguments). */
export async function runEvalInactivity(argv: string[], io: EvalIo = processIo): Promise<number> {
  let args: EvalInactivityArgs;
  try {
    args = parseEvalInactivityArgs(argv);
  } catch (err) {
    if (!(err instanceof InactivityUsageError)) throw err;
    io.stderr(`eval-inactivity: ${err.message}\n${EVAL_INACTIVITY_USAGE}`);
    return 2;
  }
  const print = (lines: string[]) => lines.forEach((l) => io.stdout(l));
  try {
    switch (args.mode) {
      case 'help':
        io.stdout(EVAL_INACTIVITY_USAGE);
        return 0;
      case 'simulate': {
        const result = simulate(args);
        print(simulationReport(result));
        io.stdout(JSON.stringify(result.summary));
        return 0;
      }
      case 'log': {
        const result = await evaluateHome(args.file, args.cuts, args.seed, args.config, measureAnswers(args.seed, args.config));
        print(homeReport(result));
        io.stdout(JSON.stringify(result.summary));
        return 0;
      }
      case 'logs': {
        const { summary } = await evaluateHomes(args.dir, args.cuts, args.seed, args.config, measureAnswers(args.seed, args.config));
        print(homesTable(summary));
        io.stdout(JSON.stringify(summary));
        return 0;
      }
    }
  } catch (err) {
    if (err instanceof EventLogError || err instanceof HomesError) {
      io.stderr(`eval-inactivity: ${err.code}: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
