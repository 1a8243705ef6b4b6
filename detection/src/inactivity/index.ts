/**
 * Inactivity: no sign of life for longer than this person's learned routine
 * allows at this time of day. `InactivityMonitor` is pure and clock-injected:
 * one timer per person, reset by every sign of life.
 *
 * Policy (defaults in DEFAULT_INACTIVITY_CONFIG; times are local to the
 * person's IANA zone, so limits follow DST):
 *
 * - Signs of life: a door, cupboard, bed or chair changing either way; motion,
 *   power use and water switching on (their "off" is a timeout or a machine
 *   finishing); any button press. A repeated "on" counts only as a PIR
 *   re-trigger (within 3 min of the last report, and for at most 1 h without
 *   an "off"): a sensor stuck "on" counts no more. Time is the server's receive
 *   time (`atMs`), never the device's clock.
 * - States: a sensor that stays "on" means something. A bed occupied in the
 *   sleep period is sleep (below); a bed occupied in the daytime is a lie-down
 *   (`rest`: the longest recent lie-down + 45 min, 1.5–4 h; 3 h until
 *   learned); a seat occupied is someone sitting (`seated`: the longest recent
 *   sitting begun within 2 h of that hour + 45 min, or the longest of all
 *   when that would end in the hours the person ordinarily spends seated —
 *   seated then on half the recent days; 2–8 h; 6 h until learned), never taken for the night's
 *   sleep. A PIR that has reported "off" before and is held "on" (a sensor
 *   that reports changes only) is motion still being seen, for up to 2 h.
 * - Each long silence first asks the person, on their devices, to press the
 *   button (`remind`); 20 min later without any sign of life, an `inactivity`
 *   alarm (eventId `inactivity:{subjectId}:{lastActivityMs}`); the next sign of
 *   life emits `cleared`.
 * - Out of the house is not a silent house: not back from a trip by day (the
 *   limits below) raises one not-back-home notice (kind `notBack`, eventId
 *   `notBack:{subjectId}:{departureMs}`), no reminder and no alarm; due in the
 *   quiet hours (22:00–07:00) it waits until 07:00. Coming back emits
 *   `cleared`. A departure in the night stays an urgent alarm.
 * - Day: the reminder comes when the silence outlasts the learned limit for
 *   the half hour in which it began: the 95th percentile of the longest daily
 *   gaps begun within ±30 min over the last 28 days, × 1.3 + 15 min, within
 *   45 min … 6 h, and never below the home's floor: the median of each day's
 *   longest silence up and about (not in bed, not seated, not out) + 15 min,
 *   at most 3 h (a home whose sensors see little has long ordinary silences);
 *   nor below the floor of the sensor last seen: the 75th percentile of each
 *   day's longest silence up and about after it + 15 min (a door-frame PIR
 *   that does not see the sofa is ordinarily followed by long silences).
 *   The alarm after an unanswered reminder also waits until the silence
 *   outlasts the longest silence up and about of the last 28 days + 15 min,
 *   never past 80 min on that account (a beep unheard in the next room is not
 *   yet an SMS in a home that has been this quiet before).
 * - Night: a silence that begins in the usual sleep period (from 30 min before
 *   the early bedtime to the usual getting-up time, learned from each night's
 *   sleep) is sleep: reminder at the late (90th percentile) getting-up time
 *   + 30 min, never later than the usual (median) getting-up time + 75 min, so
 *   the alarm comes at most 95 min after the usual getting-up time. A weekday
 *   whose recent mornings (≥ 4) are all later than 90 % of the others, with a
 *   median an hour or more later, against otherwise regular mornings (10th–90th
 *   percentile within 2 h), gets its own usual and late getting-up times (a
 *   weekend lie-in; Saturday and Sunday are also judged together). A bed
 *   sensor that proves reliable (occupied at the start of ≥ 70 % of nights)
 *   tells sleep from silence: in bed is sleep; out of bed is the day rule, and
 *   in the core of the night (late bedtime → early getting-up time) 90 min
 *   unless learned.
 * - The morning after the night (once learned): one sign of life that ended
 *   the night and none after it is not a day begun, so the morning's reminder
 *   still stands when it comes before the daytime limit; still in bed after
 *   the night (not up since: a stir, a reminder answered from bed) is a
 *   lie-in, judged by the morning's reminder while it is ahead, then asked
 *   again after `restLimitMinMs` (90 min), not by an afternoon lie-down's.
 * - The way to bed: the sensors last before at least a tenth of recent nights'
 *   sleep (the bedroom's PIR, the bed) are learned. An evening silence in the
 *   sleep period, before its core, whose last sign of life came from another
 *   sensor (the living room) while some evening sensor is not on the way to
 *   bed, is not taken for the night: the day rule of its half hour applies
 *   (3 h unless learned), so a collapse in the chair is not found only the
 *   next morning.
 * - Going out: a passage through an exit door after signs of life at home is
 *   a departure, the next one (after 5 min or more) the return. While out:
 *   no reminder until the longest recent day trip × 1.25 + 1 h (4–14 h), and
 *   not after 2 h past the late bedtime (never stays out overnight), or, for a
 *   person who has stayed away overnight in the last 90 days and leaves within
 *   1 h of the time of day they left for such a stay, 72 h (or 1.25 × their
 *   longest stay); leaving at another hour (a visitor going, say) is a trip.
 *   These end in the not-back notice. Leaving in the core of the night, or
 *   within 20 min of getting up from sleep before the usual getting-up time
 *   (the toilet outside), allows 1–4 h (longest recent night trip × 1.5 +
 *   30 min), then the urgent alarm.
 * - Away mode (resident or duty staff) suppresses everything while nobody is
 *   home; a sign of life at home resumes watching until the next departure.
 * - Until 7 days are learned (a new installation): 4 h of daytime silence;
 *   a silence begun after 20:00 or before 07:00 is sleep, reminder at 08:30 if
 *   not up, or after 11 h of sleep if that is later (a late riser); seated 6 h;
 *   lying on the bed in the daytime 3 h; out 10 h or not back by 23:00 (the
 *   notice); out in the night (00:00–05:00, or straight out of bed) 3 h.
 * - Known limits: a visitor leaving looks like the person leaving; where the
 *   sensors cannot tell the way to bed (one PIR for the whole house), and
 *   during a lie-down in bed in the late afternoon, a collapse looks like an
 *   early night (found next morning); for a person who stays away overnight
 *   at times, a collapse right after a visitor leaves at the hour she leaves
 *   for such stays is found only after 72 h — use away mode for planned stays
 *   so this tolerance can be lowered.
 */
export { InactivityMonitor, INACTIVITY_STATE_VERSION } from './inactivity-monitor.js';
export type { InactivityRegistration, InactivityState, InactivityWatch } from './inactivity-monitor.js';
export { DEFAULT_INACTIVITY_CONFIG, InactivityError, INACTIVITY_ERROR_CODES, resolveInactivityConfig } from './config.js';
export type { InactivityConfig, InactivityErrorCode } from './config.js';
export type { RoutineLimits as InactivityRoutineLimits, RoutineState as InactivityRoutineState, SilenceContext as InactivitySilenceContext } from './routine-model.js';
