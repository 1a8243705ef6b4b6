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
 *   the throttle (DingTalk's 10 minutes, otherwise a minute) and then go.
 * - **One robot's setup.** With a robot per village, a refused token or
 *   secret, a dissolved group or a stopped robot is that village's problem:
 *   the other groups go on, the refused group's posts wait for a probe
 *   (30 s, doubling to 5 minutes: one post tries it, the others wait for its
 *   answer), and the fault is reported (`watchFaults`) until a post goes
 *   through. When every group's robot refuses, it is an outage of the
 *   channel (`account`), as with a single robot for every village.
 *
 * Waiting here spends no attempt of the outbox, so it is bounded in time
 * instead: once a group's fault has lasted `giveUpAfterMs` (default 45
 * minutes), its posts fail (red on the dashboard) rather than wait, except
 * the one that probes, every 5 minutes, so that a robot fixed later is seen.
 * A contact's notice that fell over to the group does not hold the
 * escalation meanwhile (the store counts it as not reached at once).
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
/** How long a group's posts wait for its robot before they fail. */
export const ROBOT_GIVE_UP_MS = 45 * MINUTE_MS;
/** A post held while another probes the robot looks again this much later (the probe's answer is in by then). */
const WHILE_PROBING_MS = 5_000;

export interface RobotGateOptions {
  clock: Pick<Clock, 'nowMs'>;
  /** How many groups the channel has robots for: a setup refusal from every one of them is the channel's outage. */
  groups: number;
  /** How long the robot refuses posts after its throttle answer `code`. */
  throttleMs: (code: string) => number;
  /** Posts per robot per minute; default 20. */
  perMinute?: number;
  /** Default ROBOT_GIVE_UP_MS. */
  giveUpAfterMs?: number;
}

type Fault = ChannelFault & { probes: number; probing: boolean };

export class RobotGate {
  /** Each robot's posts of the last minute (by its webhook credential: two groups may share one robot). */
  private readonly posted = new Map<string, number[]>();
  private readonly faults = new Map<string, Fault>();
  private readonly listeners: Array<(faults: readonly ChannelFault[]) => void> = [];

  constructor(private readonly options: RobotGateOptions) {}

  /**
   * One post to group `group` through the robot `robot` (its webhook
   * credential): held back, or `post()` called and its result judged. Never
   * throws: a `post` that throws is a failure of this message, and the
   * group's probe ends with it.
   */
  async run(group: string, robot: string, post: () => Promise<SmsResult>): Promise<SmsResult> {
    const nowMs = this.options.clock.nowMs();
    const fault = this.faults.get(group);
    let probe = false;
    if (fault !== undefined) {
      if (nowMs < fault.retryAtMs || fault.probing) {
        const at = fault.probing ? nowMs + WHILE_PROBING_MS : fault.retryAtMs;
        if (this.givenUp(fault, nowMs)) return this.givenUpResult(group, fault);
        return held(fault.code, `${fault.message}; the posts to group ${group} wait (next try ${iso(at)})`, at);
      }
      probe = true;
      fault.probing = true;
    }
    const perMinute = this.options.perMinute ?? ROBOT_POSTS_PER_MINUTE;
    const times = (this.posted.get(robot) ?? []).filter((t) => t > nowMs - MINUTE_MS);
    this.posted.set(robot, times);
    if (times.length >= perMinute) {
      if (fault !== undefined) fault.probing = false;
      const at = (times[0] as number) + MINUTE_MS;
      return held(ROBOT_PACED_CODE, `the robot of group ${group} takes ${perMinute} posts a minute: this one goes at ${iso(at)}`, at);
    }
    times.push(nowMs);
    let result: SmsResult;
    try {
      result = await post();
    } catch (err) {
      result = { ok: false, kind: 'retryMessage', code: 'SENDER_THREW', message: (err as Error).message };
    } finally {
      const now = this.faults.get(group);
      if (probe && now !== undefined) now.probing = false;
    }
    return this.judge(group, result, probe);
  }

  /** The result of a post, as the outbox must read it; the group's fault set or cleared. */
  private judge(group: string, result: SmsResult, probe: boolean): SmsResult {
    const nowMs = this.options.clock.nowMs();
    const fault = this.faults.get(group);
    if (result.ok) {
      if (this.faults.delete(group)) this.tell();
      return result;
    }
    if (result.kind === 'limited') {
      const retryAtMs = nowMs + this.options.throttleMs(result.code);
      const next: Fault = { target: group, kind: 'throttled', code: result.code, message: result.message, sinceMs: fault?.sinceMs ?? nowMs, retryAtMs, probes: 0, probing: false };
      this.setFault(group, next);
      if (this.givenUp(next, nowMs)) return this.givenUpResult(group, next);
      return { ...result, kind: 'retryMessage', retryAtMs, uncounted: true, message: `${result.message}; the robot refuses posts for a while: this one goes again at ${iso(retryAtMs)}` };
    }
    if (result.kind === 'account' && this.options.groups > 1) {
      // Posts already on their way when the fault began answer the same: only the probe moves the next probe on.
      const setup = fault?.kind === 'setup' ? fault : undefined;
      const probes = setup === undefined ? 1 : probe ? setup.probes + 1 : setup.probes;
      const retryAtMs = setup !== undefined && !probe ? setup.retryAtMs : nowMs + Math.min(ROBOT_MAX_PROBE_MS, ROBOT_FIRST_PROBE_MS * 2 ** (probes - 1));
      const next: Fault = { target: group, kind: 'setup', code: result.code, message: result.message, sinceMs: setup?.sinceMs ?? nowMs, retryAtMs, probes, probing: false };
      this.setFault(group, next);
      // Every group refuses: the channel's own setup (its IP list, the organisation), an outage like a single robot's.
      if ([...this.faults.values()].filter((f) => f.kind === 'setup').length >= this.options.groups) return result;
      if (this.givenUp(next, nowMs)) return this.givenUpResult(group, next);
      return { ...result, kind: 'retryMessage', retryAtMs, uncounted: true, message: `${result.message}; only this group's robot refuses: its posts wait, the other groups go on` };
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

  private givenUp(fault: Fault, nowMs: number): boolean {
    return nowMs - fault.sinceMs >= (this.options.giveUpAfterMs ?? ROBOT_GIVE_UP_MS);
  }

  private givenUpResult(group: string, fault: Fault): SmsResult {
    const minutes = Math.round((this.options.giveUpAfterMs ?? ROBOT_GIVE_UP_MS) / MINUTE_MS);
    return { ok: false, kind: 'permanent', code: fault.code, message: `${fault.message}; the robot of group ${group} has not taken posts for ${minutes} min: this one is not sent` };
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

/** Held back by the gate itself: no attempt spent (the wait is bounded by giveUpAfterMs instead). */
function held(code: string, message: string, retryAtMs: number): SmsResult {
  return { ok: false, kind: 'retryMessage', code, message, retryAtMs, uncounted: true };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
