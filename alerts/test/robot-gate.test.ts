/**
 * RobotGate's rules on a fake clock: the pacing of each robot, one probe at a
 * time for a group whose robot refuses, the faults reported as they change,
 * the outage when every group refuses, and the time after which a group's
 * posts fail instead of waiting. Against the real robots' stand-in:
 * group-robots.test.ts and server/test/group-robot-faults.test.ts.
 */
import { FakeClock } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import type { ChannelFault } from '../src/channels/channel.js';
import { ROBOT_FIRST_PROBE_MS, ROBOT_GIVE_UP_MS, ROBOT_MAX_PROBE_MS, ROBOT_PACED_CODE, RobotGate } from '../src/robots/robot-gate.js';
import type { SmsResult } from '../src/sms/sms-sender.js';

const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);
const ok: SmsResult = { ok: true, providerRef: null };
const badSign: SmsResult = { ok: false, kind: 'account', code: 'dingtalk.310000', message: 'sign not match (HTTP 200)' };
const throttled: SmsResult = { ok: false, kind: 'limited', code: 'dingtalk.130101', message: 'send too fast (HTTP 200)' };

function gate(groups = 2, perMinute = 20) {
  const clock = new FakeClock(T0);
  const told: ChannelFault[][] = [];
  const g = new RobotGate({ clock, groups, perMinute, throttleMs: (code) => (code === 'dingtalk.130101' ? 10 * 60_000 : 60_000) });
  g.watch((faults) => told.push([...faults]));
  let calls = 0;
  /** One post whose robot answers `answer`; counts the posts that reached the robot. */
  const post = (group: string, answer: SmsResult, robot = `r-${group}`) =>
    g.run(group, robot, async () => {
      calls++;
      return answer;
    });
  return { clock, g, told, post, calls: () => calls };
}

describe('RobotGate', () => {
  it('lets a robot post its 20 a minute and holds the next until the oldest is a minute old, uncounted; two groups on one robot share its 20', async () => {
    const { clock, post, calls } = gate(2, 3);
    for (let i = 0; i < 3; i++) {
      expect(await post(i === 2 ? 'v-b' : 'v-a', ok, 'robot-1')).toEqual(ok);
      clock.advance(1_000);
    }
    expect(await post('v-b', ok, 'robot-1')).toMatchObject({ ok: false, kind: 'retryMessage', code: ROBOT_PACED_CODE, retryAtMs: T0 + 60_000, uncounted: true });
    expect(calls()).toBe(3);
    // Another robot has its own minute.
    expect(await post('v-c', ok, 'robot-2')).toEqual(ok);
    clock.set(T0 + 60_000);
    expect(await post('v-b', ok, 'robot-1')).toEqual(ok);
  });

  it('a group whose robot refuses its setup waits for probes (30 s, doubling to 5 min), one post at a time, uncounted; the fault is told once and cleared by a post that goes', async () => {
    const { clock, g, told, post, calls } = gate();
    expect(await post('v-a', badSign)).toMatchObject({ kind: 'retryMessage', code: 'dingtalk.310000', retryAtMs: T0 + ROBOT_FIRST_PROBE_MS, uncounted: true });
    expect(told).toEqual([[expect.objectContaining({ target: 'v-a', kind: 'setup', code: 'dingtalk.310000', sinceMs: T0, retryAtMs: T0 + ROBOT_FIRST_PROBE_MS })]]);
    // Held without asking the robot; the other group goes.
    expect(await post('v-a', ok)).toMatchObject({ kind: 'retryMessage', code: 'dingtalk.310000', retryAtMs: T0 + ROBOT_FIRST_PROBE_MS, uncounted: true });
    expect(await post('v-b', ok)).toEqual(ok);
    expect(calls()).toBe(2);

    clock.set(T0 + ROBOT_FIRST_PROBE_MS);
    // One probe goes; while it is out, the others wait for its answer.
    let answer!: (r: SmsResult) => void;
    const probe = g.run('v-a', 'r-v-a', () => new Promise<SmsResult>((resolve) => (answer = resolve)));
    expect(await post('v-a', ok)).toMatchObject({ kind: 'retryMessage', retryAtMs: clock.nowMs() + 5_000, uncounted: true });
    answer(badSign);
    expect(await probe).toMatchObject({ retryAtMs: clock.nowMs() + 2 * ROBOT_FIRST_PROBE_MS });
    expect(told).toHaveLength(1);
    for (let i = 0; i < 10; i++) {
      clock.set(g.current()[0]!.retryAtMs);
      await post('v-a', badSign);
    }
    expect(g.current()[0]!.retryAtMs - clock.nowMs()).toBe(ROBOT_MAX_PROBE_MS);
    expect(g.current()[0]!.sinceMs).toBe(T0);

    clock.set(g.current()[0]!.retryAtMs);
    expect(await post('v-a', ok)).toEqual(ok);
    expect(g.current()).toEqual([]);
    expect(told.at(-1)).toEqual([]);
  });

  it('refusals of posts already on their way when the fault began do not move the next probe on', async () => {
    const { g } = gate();
    const answers: Array<(r: SmsResult) => void> = [];
    const inFlight = Array.from({ length: 5 }, () => g.run('v-a', 'r-a', () => new Promise<SmsResult>((resolve) => answers.push(resolve))));
    for (const a of answers) a(badSign);
    await Promise.all(inFlight);
    expect(g.current()[0]!.retryAtMs).toBe(T0 + ROBOT_FIRST_PROBE_MS);
  });

  it('a probe whose post throws ends the probe: the next post after the probe time probes again, the group is not stuck', async () => {
    const { clock, g, post, calls } = gate();
    await post('v-a', badSign);
    clock.set(T0 + ROBOT_FIRST_PROBE_MS);
    expect(await g.run('v-a', 'r-v-a', async () => Promise.reject(new Error('signing failed')))).toMatchObject({ ok: false, kind: 'retryMessage', code: 'SENDER_THREW' });
    expect(await post('v-a', ok)).toEqual(ok);
    expect(calls()).toBe(2);
    expect(g.current()).toEqual([]);
  });

  it('with one robot for every village the refusal is the outage of the channel; when every group refuses, too', async () => {
    const single = gate(1);
    expect(await single.post('default', badSign)).toEqual(badSign);
    expect(single.told).toEqual([]);
    const two = gate(2);
    expect(await two.post('v-a', badSign)).toMatchObject({ kind: 'retryMessage' });
    expect(await two.post('v-b', badSign)).toEqual(badSign);
    expect(two.g.current().map((f) => f.target)).toEqual(['v-a', 'v-b']);
  });

  it("the robot's throttle holds its group for the throttle's time, uncounted, in every configuration; a throttled group shows as such", async () => {
    for (const groups of [1, 3]) {
      const { clock, g, post } = gate(groups);
      expect(await post('v-a', throttled)).toMatchObject({ kind: 'retryMessage', code: 'dingtalk.130101', retryAtMs: T0 + 10 * 60_000, uncounted: true });
      expect(g.current()).toEqual([expect.objectContaining({ target: 'v-a', kind: 'throttled' })]);
      expect(await post('v-a', ok)).toMatchObject({ retryAtMs: T0 + 10 * 60_000, uncounted: true });
      clock.set(T0 + 10 * 60_000);
      expect(await post('v-a', ok)).toEqual(ok);
    }
  });

  it('after 45 minutes of a fault the group\'s posts fail instead of waiting, while a probe still goes every 5 minutes and a fixed robot is seen', async () => {
    const { clock, g, post } = gate();
    await post('v-a', badSign);
    for (;;) {
      const next = g.current()[0]!.retryAtMs;
      if (next - T0 >= ROBOT_GIVE_UP_MS) break;
      clock.set(next);
      expect(await post('v-a', badSign)).toMatchObject({ kind: 'retryMessage' });
    }
    clock.set(T0 + ROBOT_GIVE_UP_MS);
    // Between probes: failed at once (red on the dashboard), not held without end.
    expect(await post('v-a', ok)).toMatchObject({ ok: false, kind: 'permanent', code: 'dingtalk.310000' });
    clock.set(g.current()[0]!.retryAtMs);
    expect(await post('v-a', ok)).toEqual(ok);
    expect(g.current()).toEqual([]);
  });

  it('a post refused for its content (permanent) or by the network leaves no fault of the group', async () => {
    const { g, post } = gate();
    const content: SmsResult = { ok: false, kind: 'permanent', code: 'dingtalk.430104', message: '含有不合适的内容' };
    expect(await post('v-a', content)).toEqual(content);
    const down: SmsResult = { ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR', message: 'ECONNREFUSED' };
    expect(await post('v-a', down)).toEqual(down);
    expect(g.current()).toEqual([]);
  });
});
