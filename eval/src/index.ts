/**
 * @kanjia/eval: the offline evaluators of the detectors, `kanjia eval-falls`
 * and `kanjia eval-inactivity` (the server's CLI dispatches to them).
 */
export type { EvalIo } from './io.js';
export { runEvalFalls } from './falls/run.js';
export { EVAL_FALLS_USAGE, parseEvalFallsArgs, type EvalFallsArgs } from './falls/args.js';
export { evaluateFalls, type EvaluateFallsOptions, type FallEvalResult, type FallEvalSummary, type PositionFigures } from './falls/replay.js';
export { countDetections, leaveOneSubjectOut, LOSO_RULE, type LosoFigures, type LosoFit } from './falls/loso.js';
export { AGE_GROUPS, type AgeGroup, type GroupFigures, type TrialOutcome } from './falls/statistics.js';
export { runEvalInactivity } from './inactivity/run.js';
export { EVAL_INACTIVITY_USAGE, parseEvalInactivityArgs, type EvalInactivityArgs } from './inactivity/args.js';
export { simulate, type SimOptions, type SimResult, type SimSummary } from './inactivity/simulation.js';
export { evaluateHome, evaluateHomes, recordingsIn, HomesError, CUT_GIVE_UP_MS, type CutFigures, type HomeResult, type HomeSummary, type HomesSummary } from './inactivity/recorded-homes.js';
export { CUT_KINDS, cutKind, sleepWindow, type CutKind, type SleepWindow } from './inactivity/cut-kind.js';
export { NOTICE_KINDS, isNoticeKind, countFindings, delayFigures, per30Days, type DelayFigures } from './inactivity/statistics.js';
