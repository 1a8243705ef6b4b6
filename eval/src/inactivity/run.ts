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
import { evaluateHome, evaluateHomes, HomesError } from './recorded-homes.js';
import { homeReport, homesTable, simulationReport } from './report.js';
import { simulate } from './simulation.js';

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
        const result = await evaluateHome(args.file, args.cuts, args.seed, args.config);
        print(homeReport(result));
        io.stdout(JSON.stringify(result.summary));
        return 0;
      }
      case 'logs': {
        const { summary } = await evaluateHomes(args.dir, args.cuts, args.seed, args.config);
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
