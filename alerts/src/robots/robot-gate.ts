/**
 * What stands between the outbox and a village's group robot (DingTalk,
 * WeCom), so that one group's robot never holds up another's:
 *
 * - **Pacing.** A robot takes at most 20 posts a minute; past that DingTalk
 *   refuses it for 10 minutes (errcode 130101) and WeCom refuses it (45009).
 *   A day with thirty alarms in one village would lose posts, so the gate
 *   counts each robot's posts over the last minute and holds the 21st until a
 *   place frees: it is not sent, not counted as an attempt, and goes later.
 * - **The robot's own throttle.** Should the robot still refuse for speed
 *   (another program posting to the same robot), its group's posts wait out
 *   the throttle (DingTalk's 10 minutes, otherwise a minute) and then go;
 *   they are never failed for it.
 * - **One robot's setup.** With a robot per village, a refused token or
 *   secret, a dissolved group or a stopped robot is that village's problem:
 *   the other groups go on, the refused group's posts wait for a probe
 *   (30 s, doubling to 5 minutes: one post tries it, the others stay held), and
 *   the fault is reported (`watchFaults`) until a post goes through. Each
 *   wait counts as an attempt of that post: a group nobody fixes ends with
 *   its posts failed (red on the dashboard) after the outbox's last attempt.
 *   With one robot for every village the same refusal is an outage of the
 *   whole channel (`account`), as before.
 */
import type { Clock } from '@kanjia/protocol';
import type { ChannelFault } from '../channels/channel.js';
import type { SmsResult } from '../sms/sms-sender.js';
import { ROBOT_POSTS_PER_MINUTE } from './group-robots.js';

/** The code of a post held back because its robot had its 20 posts this minute. */
export const ROBOT_PACED_CODE = 'GROUP_ROBOT_PACED';

const MINUTE_MS = 60_000;
/** The first probe of a group whose robot refused its setup, then doubling up to the longest. */
export const ROBOT_FIRST_PROBE_MS = 30_000;
export const ROBOT_MAX_PROBE_MS = 5 * MINUTE_MS;

export interface RobotGateOptions {
  clock: Pick<Clock, 'nowMs'>;
  /** How many groups the channel has robots for: with one, a setup refusal is the channel's outage. */
  groups: number;
  /** How long the robot refuses posts after its throttle answer `code`. */
  throttleMs: (code: string) => number;
  /** Posts per robot per minute; default 20. */
  perMinute?: number;
}

type Fault = ChannelFault & { probes: number; probing: boolean };

export class RobotGate {
  /** Each robot's posts of the last minute (by its webhook credential: two groups may share one robot). */
  private readonly posted = new Map<string, number[]>();
  private readonly faults = new Map<string, Fault>();
  private readonly listeners: Array<(faults: readonly ChannelFault[]) => void> = [];

  constructor(private readonly options: RobotGateOptions) {}

  /**
   * Before a post to group `group` through the robot `robot` (its webhook
   * credential): the result that holds it back, or undefined to post it now
   * (then it is counted against the robot's minute).
   */
  hold(group: string, robot: string): SmsResult | undefined {
    const nowMs = this.options.clock.nowMs();
    const fault = this.faults.get(group);
    if (fault !== undefined) {
      if (nowMs < fault.retryAtMs || fault.probing) return held(fault.code, `${fault.message}; the posts to group ${group} wait (next try ${iso(fault.retryAtMs)})`, Math.max(fault.retryAtMs, nowMs + 1_000), fault.kind === 'setup');
      // This post is the probe: the others wait for its answer.
      fault.probing = true;
    }
    const perMinute = this.options.perMinute ?? ROBOT_POSTS_PER_MINUTE;
    const times = (this.posted.get(robot) ?? []).filter((t) => t > nowMs - MINUTE_MS);
    if (times.length >= perMinute) {
      this.posted.set(robot, times);
      if (fault !== undefined) fault.probing = false;
      const at = (times[0] as number) + MINUTE_MS;
      return held(ROBOT_PACED_CODE, `the robot of group ${group} takes ${perMinute} posts a minute: this one goes at ${iso(at)}`, at, false);
    }
    times.push(nowMs);
    this.posted.set(robot, times);
    return undefined;
  }

  /** After a post to `group`: the result as the outbox must read it; the group's fault set or cleared. */
  judge(group: string, result: SmsResult): SmsResult {
    const nowMs = this.options.clock.nowMs();
    const fault = this.faults.get(group);
    if (fault !== undefined) fault.probing = false;
    if (result.ok) {
      if (this.faults.delete(group)) this.tell();
      return result;
    }
    if (result.kind === 'limited') {
      const retryAtMs = nowMs + this.options.throttleMs(result.code);
      this.setFault(group, { kind: 'throttled', code: result.code, message: result.message, sinceMs: fault?.sinceMs ?? nowMs, retryAtMs, probes: 0, probing: false, target: group });
      return { ...result, kind: 'retryMessage', retryAtMs, uncounted: true, message: `${result.message}; the robot refuses posts for a while: this one goes again at ${iso(retryAtMs)}` };
    }
    if (result.kind === 'account' && this.options.groups > 1) {
      const probes = fault?.kind === 'setup' ? fault.probes + 1 : 1;
      const retryAtMs = nowMs + Math.min(ROBOT_MAX_PROBE_MS, ROBOT_FIRST_PROBE_MS * 2 ** (probes - 1));
      this.setFault(group, { kind: 'setup', code: result.code, message: result.message, sinceMs: fault?.kind === 'setup' ? fault.sinceMs : nowMs, retryAtMs, probes, probing: false, target: group });
      return { ...result, kind: 'retryMessage', retryAtMs, message: `${result.message}; only this group's robot refuses: its posts wait, the other groups go on` };
    }
    return result;
  }

  /** The groups that cannot be posted to now. */
  current(): ChannelFault[] {
    return [...this.faults.values()].map(({ probes: _p, probing: _q, ...f }) => f);
  }

  watch(listener: (faults: readonly ChannelFault[]) => void): void {
    this.listeners.push(listener);
  }

  private setFault(group: string, fault: Fault): void {
    const before = this.faults.get(group);
    this.faults.set(group, fault);
    if (before === undefined || before.code !== fault.code || before.kind !== fault.kind) this.tell();
  }

  private tell(): void {
    const faults = this.current();
    for (const l of this.listeners) l(faults);
  }
}

function held(code: string, message: string, retryAtMs: number, counted: boolean): SmsResult {
  return { ok: false, kind: 'retryMessage', code, message, retryAtMs, ...(counted ? {} : { uncounted: true }) };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
