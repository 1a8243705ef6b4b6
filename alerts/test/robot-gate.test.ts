/**
 * RobotGate's rules on a fake clock: the pacing of each robot, one probe at a
 * time for a group whose robot refuses, the faults reported as they change.
 * Against the real robots' stand-in: group-robots.test.ts and
 * server/test/group-robot-faults.test.ts.
 */
import { FakeClock } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import type { ChannelFault } from '../src/channels/channel.js';
import { ROBOT_FIRST_PROBE_MS, ROBOT_MAX_PROBE_MS, ROBOT_PACED_CODE, RobotGate } from '../src/robots/robot-gate.js';
import type { SmsResult } from '../src/sms/sms-sender.js';

const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);
const ok: SmsResult = { ok: true, providerRef: null };
const badSign: SmsResult = { ok: false, kind: 'account', code: 'dingtalk.310000', message: 'sign not match (HTTP 200); robot of group v-a' };
const throttled: SmsResult = { ok: false, kind: 'limited', code: 'dingtalk.130101', message: 'send too fast (HTTP 200)' };

function gate(groups = 2, perMinute = 20) {
  const clock = new FakeClock(T0);
  const told: ChannelFault[][] = [];
  const g = new RobotGate({ clock, groups, perMinute, throttleMs: (code) => (code === 'dingtalk.130101' ? 10 * 60_000 : 60_000) });
  g.watch((faults) => told.push([...faults]));
  return { clock, g, told };
}

describe('RobotGate', () => {
  it('lets a robot post its 20 a minute and holds the next until the oldest is a minute old, uncounted; two groups on one robot share its 20', () => {
    const { clock, g } = gate(2, 3);
    for (let i = 0; i < 3; i++) {
      expect(g.hold(i === 2 ? 'v-b' : 'v-a', 'robot-1')).toBeUndefined();
      clock.advance(1_000);
    }
    expect(g.hold('v-b', 'robot-1')).toMatchObject({ ok: false, kind: 'retryMessage', code: ROBOT_PACED_CODE, retryAtMs: T0 + 60_000, uncounted: true });
    // Another robot has its own minute.
    expect(g.hold('v-c', 'robot-2')).toBeUndefined();
    clock.set(T0 + 60_000);
    expect(g.hold('v-b', 'robot-1')).toBeUndefined();
  });

  it('a group whose robot refuses its setup waits for probes (30 s, doubling to 5 min), one post at a time; counted; the fault is told once and cleared by a post that goes', () => {
    const { clock, g, told } = gate();
    expect(g.hold('v-a', 'r-a')).toBeUndefined();
    expect(g.judge('v-a', badSign)).toMatchObject({ kind: 'retryMessage', code: 'dingtalk.310000', retryAtMs: T0 + ROBOT_FIRST_PROBE_MS });
    expect(told).toEqual([[expect.objectContaining({ target: 'v-a', kind: 'setup', code: 'dingtalk.310000', sinceMs: T0, retryAtMs: T0 + ROBOT_FIRST_PROBE_MS })]]);
    // Held, counted (a group nobody fixes ends failed), and the robot is not asked.
    expect(g.hold('v-a', 'r-a')).toMatchObject({ kind: 'retryMessage', code: 'dingtalk.310000', retryAtMs: T0 + ROBOT_FIRST_PROBE_MS });
    expect(g.hold('v-a', 'r-a')).not.toHaveProperty('uncounted');
    // The other group goes.
    expect(g.hold('v-b', 'r-b')).toBeUndefined();

    clock.set(T0 + ROBOT_FIRST_PROBE_MS);
    expect(g.hold('v-a', 'r-a')).toBeUndefined();
    // While that probe is out, the others wait for its answer.
    expect(g.hold('v-a', 'r-a')).toMatchObject({ kind: 'retryMessage' });
    expect(g.judge('v-a', badSign)).toMatchObject({ retryAtMs: clock.nowMs() + 2 * ROBOT_FIRST_PROBE_MS });
    expect(told).toHaveLength(1);
    for (let i = 0; i < 10; i++) {
      clock.set(g.current()[0]!.retryAtMs);
      expect(g.hold('v-a', 'r-a')).toBeUndefined();
      g.judge('v-a', badSign);
    }
    expect(g.current()[0]!.retryAtMs - clock.nowMs()).toBe(ROBOT_MAX_PROBE_MS);
    expect(g.current()[0]!.sinceMs).toBe(T0);

    clock.set(g.current()[0]!.retryAtMs);
    expect(g.hold('v-a', 'r-a')).toBeUndefined();
    expect(g.judge('v-a', ok)).toEqual(ok);
    expect(g.current()).toEqual([]);
    expect(told.at(-1)).toEqual([]);
    expect(g.hold('v-a', 'r-a')).toBeUndefined();
  });

  it('with one robot for every village the same refusal is the outage of the channel, unchanged', () => {
    const { g, told } = gate(1);
    expect(g.judge('default', badSign)).toEqual(badSign);
    expect(told).toEqual([]);
  });

  it("the robot's throttle holds its group for the throttle's time, uncounted, in every configuration; a throttled group shows as such", () => {
    for (const groups of [1, 3]) {
      const { clock, g } = gate(groups);
      expect(g.judge('v-a', throttled)).toMatchObject({ kind: 'retryMessage', code: 'dingtalk.130101', retryAtMs: T0 + 10 * 60_000, uncounted: true });
      expect(g.current()).toEqual([expect.objectContaining({ target: 'v-a', kind: 'throttled' })]);
      expect(g.hold('v-a', 'r-a')).toMatchObject({ retryAtMs: T0 + 10 * 60_000, uncounted: true });
      clock.set(T0 + 10 * 60_000);
      expect(g.hold('v-a', 'r-a')).toBeUndefined();
    }
  });

  it('a post refused for its content (permanent) or by the network leaves no fault of the group', () => {
    const { g } = gate();
    const content: SmsResult = { ok: false, kind: 'permanent', code: 'dingtalk.430104', message: '含有不合适的内容' };
    expect(g.judge('v-a', content)).toEqual(content);
    const down: SmsResult = { ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR', message: 'ECONNREFUSED' };
    expect(g.judge('v-a', down)).toEqual(down);
    expect(g.current()).toEqual([]);
  });
});
