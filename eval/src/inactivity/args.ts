/** The command line of `kanjia eval-inactivity`: simulated person-months, one recorded home, or a folder of them. */
import { parseArgs } from 'node:util';
import { InactivityError, resolveInactivityConfig, type InactivityConfig } from '@kanjia/detection';
import { isValidTimeZone, KanjiaError } from '@kanjia/protocol';

export const EVAL_INACTIVITY_USAGE = `Usage: kanjia eval-inactivity [--persons N] [--months M] [--seed S] [--tz ZONE] [--incidents-per-month K] [--config JSON]
       kanjia eval-inactivity --log FILE [--cut N] [--seed S] [--config JSON]
       kanjia eval-inactivity --logs DIR [--cut N] [--seed S] [--config JSON]

  Simulated (default 200 persons × 6 months, Asia/Shanghai, 4 incidents per person-month):
  false alarms per person-month and detection delays for day and night incapacitations,
  against the fixed 12 h rule. CI size: --persons 20 --months 2.
  --config JSON overrides InactivityConfig settings (e.g. '{"remindGraceMs":1200000}').
  --log FILE replays a recorded home (EVENTS-FORMAT.md) through the same detector from its
  first day; --cut N also cuts it at N random moments (missed: no alarm or notice in 24 h).
  --logs DIR replays every recording in DIR (*.jsonl, *.jsonl.gz): one row per home with the
  12 h rule beside it (alarms, notices, reminders per 30 days; cut delays day / night / out).
  The last line of the output is a JSON summary.`;

export type EvalInactivityArgs =
  | { mode: 'help' }
  | { mode: 'simulate'; persons: number; months: number; seed: number; timeZone: string; perMonth: number; config: Partial<InactivityConfig> }
  | { mode: 'log'; file: string; cuts: number; seed: number; config: Partial<InactivityConfig> }
  | { mode: 'logs'; dir: string; cuts: number; seed: number; config: Partial<InactivityConfig> };

/** Every problem of a bad command line, for one message. */
export class InactivityUsageError extends KanjiaError<'EVAL_USAGE'> {
  override readonly name = 'InactivityUsageError';
  constructor(readonly problems: string[]) {
    super('EVAL_USAGE', problems.join('; '));
  }
}

/** Parses the arguments; throws InactivityUsageError listing every problem. */
export function parseEvalInactivityArgs(argv: string[]): EvalInactivityArgs {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        persons: { type: 'string' },
        months: { type: 'string' },
        seed: { type: 'string' },
        tz: { type: 'string' },
        'incidents-per-month': { type: 'string' },
        log: { type: 'string' },
        logs: { type: 'string' },
        cut: { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new InactivityUsageError([(err as Error).message]);
  }
  if (values.help === true) return { mode: 'help' };
  const problems: string[] = [];
  const int = (name: string, def: number, min: number): number => {
    const raw = values[name];
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) problems.push(`--${name}: an integer ≥ ${min} (got "${String(raw)}")`);
    return n;
  };
  const seed = int('seed', 1, 0);
  let config: Partial<InactivityConfig> = {};
  if (typeof values.config === 'string') {
    try {
      config = JSON.parse(values.config) as Partial<InactivityConfig>;
      // Validated here (the monitor would throw later, in the middle of a run).
      resolveInactivityConfig(config);
    } catch (err) {
      problems.push(`--config: ${err instanceof InactivityError ? err.message : `not JSON (${(err as Error).message})`}`);
    }
  }
  const recorded = typeof values.log === 'string' ? 'log' : typeof values.logs === 'string' ? 'logs' : undefined;
  if (typeof values.log === 'string' && typeof values.logs === 'string') problems.push('--log and --logs: one or the other');
  if (recorded !== undefined) {
    for (const k of ['persons', 'months', 'tz', 'incidents-per-month']) if (values[k] !== undefined) problems.push(`--${k}: not with --${recorded}`);
    const cuts = int('cut', 0, 0);
    if (problems.length > 0) throw new InactivityUsageError(problems);
    return recorded === 'log' ? { mode: 'log', file: String(values.log), cuts, seed, config } : { mode: 'logs', dir: String(values.logs), cuts, seed, config };
  }
  if (values.cut !== undefined) problems.push('--cut: only with --log or --logs');
  const persons = int('persons', 200, 1);
  const months = int('months', 6, 1);
  const perMonth = int('incidents-per-month', 4, 0);
  const timeZone = typeof values.tz === 'string' ? values.tz : 'Asia/Shanghai';
  if (!isValidTimeZone(timeZone)) problems.push(`--tz: not an IANA time zone ("${timeZone}")`);
  if (problems.length > 0) throw new InactivityUsageError(problems);
  return { mode: 'simulate', persons, months, seed, timeZone, perMonth, config };
}
