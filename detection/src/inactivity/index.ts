/**
 * Inactivity: no sign of life for longer than this person's learned routine
 * allows at this time of day.
 *
 * Policy (defaults in DEFAULT_INACTIVITY_CONFIG):
 *
 * - Signs of life: a door, cupboard, bed or chair changing either way; motion,
 *   power use and water switching on (their "off" is a timeout or a machine
 *   finishing); any button press. A sensor stuck "on" for more than 1 h counts
 *   no more until it reports "off". Time is the server's receive time.
 * - Daytime: a reminder on the person's devices when the silence outlasts the
 *   learned limit for the half hour in which it began (95th percentile of the
 *   longest daily gaps begun within ±30 min over the last 28 days, × 1.25 +
 *   15 min, kept within 45 min … 6 h); the alarm 30 min later if nothing comes.
 * - Night: a silence that begins in the usual sleep period (from 30 min before
 *   the early bedtime to the usual getting-up time, learned from each night's
 *   long gaps) is sleep: the reminder comes at the late getting-up time + 30 min
 *   but never later than the usual getting-up time + 75 min, so the alarm comes
 *   at most 1 h 45 min after the usual getting-up time. With a bed sensor that
 *   proves reliable (occupied at the start of ≥ 70 % of nights), being out of
 *   bed and silent at night is not sleep: the daytime-style limit (default
 *   90 min) applies.
 * - Going out: a passage through an exit door after signs of life at home is a
 *   departure; the next one is the return. While out there is no reminder until
 *   the longest recent day trip × 1.25 + 1 h (8–16 h), and not after 2 h past
 *   the late bedtime unless the person has stayed away overnight in the last
 *   90 days (then 72 h); leaving during the sleep period allows 1–4 h (longest
 *   recent night trip × 1.5 + 30 min).
 * - Away mode (resident or duty staff) suppresses everything while nobody is
 *   home; a sign of life at home resumes watching until the next departure.
 * - Until 7 days are learned: 4 h of daytime silence; a silence begun after
 *   20:00 or before 07:00 is sleep, reminder at 08:30 if not up; out 10 h or
 *   not back by 23:00; out at night 3 h.
 */
export { InactivityMonitor, INACTIVITY_STATE_VERSION } from './inactivity-monitor.js';
export type { InactivityRegistration, InactivityState, InactivityWatch } from './inactivity-monitor.js';
export { DEFAULT_INACTIVITY_CONFIG, InactivityError, INACTIVITY_ERROR_CODES, resolveInactivityConfig } from './config.js';
export type { InactivityConfig, InactivityErrorCode } from './config.js';
export type { RoutineLimits as InactivityRoutineLimits, RoutineState as InactivityRoutineState, SilenceContext as InactivitySilenceContext } from './routine-model.js';
