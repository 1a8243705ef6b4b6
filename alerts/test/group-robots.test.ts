/**
 * The DingTalk and WeCom group robot channels against the local robot server
 * over real HTTP on loopback. The stand-in checks DingTalk's signature with
 * its own code; the known vector below was computed apart from both (Python's
 * hmac, as DingTalk's documentation shows it).
 */
import { FakeClock } from '@kanjia/protocol';
import { LOCAL_ROBOT_CONTROL_PATH, LocalRobotServer } from '@kanjia/alerts/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderGroupPost, type GroupPostInput } from '../src/messages/group-posts.js';
import { DingTalkRobotChannel, dingTalkSignature, type DingTalkRobotSettingsInput } from '../src/robots/dingtalk-robot.js';
import { groupPostParams, markdownToPlain } from '../src/robots/group-robots.js';
import { WeComRobotChannel, type WeComRobotSettingsInput } from '../src/robots/wecom-robot.js';
import type { SmsMessage } from '../src/sms/sms-sender.js';
import { WANG_FALL_OPENED } from './group-post-fixtures.js';

const SECRET = 'SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd';
const DEFAULT_TOKEN = 'a'.repeat(64);
const VILLAGE_TOKEN = 'b'.repeat(64);
const VILLAGE_SECRET = 'SECvillage-robot-secret-0001';
const WECOM_DEFAULT_KEY = '693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa';
const WECOM_VILLAGE_KEY = '11111111-2222-3333-4444-555555555555';
const VILLAGE = 'v-wangzhuang';

const OPENED = WANG_FALL_OPENED;

function groupMessage(post: GroupPostInput, to = VILLAGE, overrides: Partial<SmsMessage> = {}): SmsMessage {
  const rendered = renderGroupPost(post);
  return { to, template: 'alarm', kind: post.alarmKind, params: groupPostParams(rendered), text: rendered.markdown, outId: 'ntf-g-0001', ...overrides };
}

it('signs as DingTalk documents it: base64(HmacSHA256(secret, timestamp + "\\n" + secret)), a vector computed apart', () => {
  expect(dingTalkSignature(SECRET, 1796263200000)).toBe('FiQhplTh92Mbr1gBfjP8WeP2M2KEwpL+aveu/L0X6JU=');
});

describe('DingTalkRobotChannel against the local robot server', () => {
  let server: LocalRobotServer;
  let baseUrl: string;
  let logs: string[];

  function channel(overrides: Partial<DingTalkRobotSettingsInput> = {}, clock?: FakeClock): DingTalkRobotChannel {
    return new DingTalkRobotChannel(
      {
        groups: {
          default: { webhook: `https://oapi.dingtalk.com/robot/send?access_token=${DEFAULT_TOKEN}`, secret: SECRET },
          [VILLAGE]: { webhook: VILLAGE_TOKEN, secret: VILLAGE_SECRET },
        },
        baseUrl,
        timeoutMs: 2_000,
        ...overrides,
      },
      { log: (line) => logs.push(line), clock },
    );
  }

  beforeEach(async () => {
    logs = [];
    server = new LocalRobotServer({ dingtalk: { [DEFAULT_TOKEN]: { secret: SECRET, keywords: ['智慧看家'] }, [VILLAGE_TOKEN]: { secret: VILLAGE_SECRET } } });
    ({ url: baseUrl } = await server.start());
  });

  afterEach(async () => {
    await server.stop();
    // The webhook's token and the secret are credentials: never in a log line.
    for (const line of logs) {
      expect(line).not.toContain(DEFAULT_TOKEN);
      expect(line).not.toContain(SECRET);
    }
  });

  it('posts a signed markdown message to the village\'s robot, title and text as rendered, @all for a critical case', async () => {
    const message = groupMessage(OPENED);
    const result = await channel().send(message);
    expect(result).toEqual({ ok: true, providerRef: null });
    expect(server.rejected).toEqual([]);
    const [post] = server.posts;
    expect(post).toMatchObject({ robot: 'dingtalk', token: VILLAGE_TOKEN, msgtype: 'markdown', signed: true, mentionAll: true, mentionedMobiles: [] });
    expect(post?.title).toBe('【智慧看家】跌倒 · 王秀英');
    expect(post?.text).toBe(message.text);
  });

  it('a village without a robot of its own posts to default (whose keyword 智慧看家 every post carries)', async () => {
    expect((await channel().send(groupMessage(OPENED, 'v-lizhuang'))).ok).toBe(true);
    expect(server.posts[0]).toMatchObject({ token: DEFAULT_TOKEN, signed: true });
  });

  it('with no robot for the group and none for default, the notice fails permanently: GROUP_NOT_CONFIGURED', async () => {
    const only = channel({ groups: { [VILLAGE]: { webhook: VILLAGE_TOKEN, secret: VILLAGE_SECRET } } });
    expect(await only.send(groupMessage(OPENED, 'v-lizhuang'))).toMatchObject({ ok: false, kind: 'permanent', code: 'GROUP_NOT_CONFIGURED' });
    expect(server.posts).toEqual([]);
  });

  it('a phone number given as the group key by mistake is masked in the failure and the log', async () => {
    const only = channel({ groups: { [VILLAGE]: { webhook: VILLAGE_TOKEN, secret: VILLAGE_SECRET } } });
    const result = await only.send(groupMessage(OPENED, '13812345678'));
    expect(result).toMatchObject({ ok: false, code: 'GROUP_NOT_CONFIGURED' });
    expect(JSON.stringify(result)).not.toContain('13812345678');
    expect(logs.join('\n')).toContain('138****5678');
    expect(logs.join('\n')).not.toContain('13812345678');
  });

  it('without the post params, the first line is the title and an alarm wakes the group, a cancellation not', async () => {
    const rendered = renderGroupPost(OPENED);
    expect((await channel().send({ ...groupMessage(OPENED), params: {} })).ok).toBe(true);
    expect(server.posts[0]).toMatchObject({ title: rendered.title, mentionAll: true });
    expect((await channel().send({ ...groupMessage(OPENED), params: {}, template: 'cancelled' })).ok).toBe(true);
    expect(server.posts[1]?.mentionAll).toBe(false);
  });

  it('a robot without a secret (secured by its keyword) posts unsigned', async () => {
    const unsignedToken = 'd'.repeat(64);
    const keywordOnly = new LocalRobotServer({ dingtalk: { [unsignedToken]: { keywords: ['智慧看家'] } } });
    const { url } = await keywordOnly.start();
    try {
      const robot = new DingTalkRobotChannel({ groups: { default: { webhook: unsignedToken } }, baseUrl: url }, { log: (line) => logs.push(line) });
      expect((await robot.send(groupMessage(OPENED))).ok).toBe(true);
      expect(keywordOnly.posts[0]).toMatchObject({ signed: false, token: unsignedToken });
    } finally {
      await keywordOnly.stop();
    }
  });

  it('a taken post does not wake the group', async () => {
    expect((await channel().send(groupMessage({ ...OPENED, event: 'taken', by: '帮扶责任人 张三', atMs: OPENED.alarmAtMs + 7 * 60_000 })))).toMatchObject({ ok: true });
    expect(server.posts[0]?.mentionAll).toBe(false);
  });

  it('a wrong secret is refused by the stand-in with 310000 (sign not match): the account, an outage of the channel', async () => {
    const wrong = channel({ groups: { default: { webhook: DEFAULT_TOKEN, secret: 'SECnot-the-secret' } } });
    expect(await wrong.send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'account', code: 'dingtalk.310000' });
    expect(server.rejected[0]).toMatchObject({ errcode: 310000, errmsg: 'sign not match' });
    expect(await wrong.send(groupMessage(OPENED, VILLAGE))).toMatchObject({ message: 'sign not match (HTTP 200); robot of group default' });
  });

  it('a timestamp more than an hour from DingTalk\'s clock is refused (310000 invalid timestamp): with a robot per village, that group waits', async () => {
    const late = new FakeClock(Date.now() - 61 * 60_000);
    expect(await channel({}, late).send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'retryMessage', code: 'dingtalk.310000', retryAtMs: late.nowMs() + 30_000 });
    expect(server.rejected[0]?.errmsg).toBe('invalid timestamp');
    const recent = new FakeClock(Date.now() - 59 * 60_000);
    expect((await channel({}, recent).send(groupMessage(OPENED))).ok).toBe(true);
  });

  it('an unknown token is 300001: the account', async () => {
    const stray = channel({ groups: { default: { webhook: 'c'.repeat(64), secret: SECRET } } });
    expect(await stray.send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'account', code: 'dingtalk.300001' });
  });

  it('the 21st post in a minute is held back by the channel, not sent: DingTalk would refuse it with 130101 and throttle the robot for 10 minutes', async () => {
    const clock = new FakeClock(Date.now());
    const robot = channel({}, clock);
    for (let i = 0; i < 20; i++) expect((await robot.send(groupMessage(OPENED, VILLAGE, { outId: `ntf-${i}` }))).ok).toBe(true);
    expect(await robot.send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'retryMessage', code: 'GROUP_ROBOT_PACED', retryAtMs: clock.nowMs() + 60_000, uncounted: true });
    expect(server.posts).toHaveLength(20);
    expect(server.rejected).toHaveLength(0);
    // Another group's robot has its own 20.
    expect((await robot.send(groupMessage(OPENED, 'default'))).ok).toBe(true);
  });

  it('the robot\'s own throttle (130101, another program posting to it too) holds that group for DingTalk\'s 10 minutes; never failed for it', async () => {
    const limited = new LocalRobotServer({ dingtalk: { [VILLAGE_TOKEN]: { secret: VILLAGE_SECRET } }, postsPerMinute: 0 });
    const at = await limited.start();
    try {
      const clock = new FakeClock(Date.now());
      const robot = channel({ baseUrl: at.url }, clock);
      expect(await robot.send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'retryMessage', code: 'dingtalk.130101', retryAtMs: clock.nowMs() + 10 * 60_000, uncounted: true });
    } finally {
      await limited.stop();
    }
  });

  it('content the platform refuses is permanent; system busy (-1), 503 and a reset are the transport', async () => {
    server.setMode('error', 430104);
    expect(await channel().send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'permanent', code: 'dingtalk.430104' });
    server.setMode('error', -1);
    expect(await channel().send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'transport', code: 'dingtalk.-1' });
    server.setMode('outage-503');
    expect(await channel().send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'transport', code: 'dingtalk.-1' });
    server.setMode('outage-reset');
    expect(await channel().send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR' });
    server.setMode('error', 777777);
    expect(await channel().send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'retryMessage', code: 'dingtalk.777777' });
  });

  it('a post without the robot\'s keyword is refused (310000 keywords not in content)', async () => {
    const message = groupMessage(OPENED, 'default', { text: '### 跌倒 · 王秀英', params: { title: '跌倒 · 王秀英', mentionAll: 'true' } });
    expect(await channel().send(message)).toMatchObject({ ok: false, kind: 'retryMessage', code: 'dingtalk.310000' });
    expect(server.rejected[0]?.errmsg).toBe('keywords not in content');
  });

  it('the control endpoint switches the mode: rate-limited answers 130101', async () => {
    const answer = await fetch(`${baseUrl}${LOCAL_ROBOT_CONTROL_PATH}`, { method: 'PUT', body: JSON.stringify({ mode: 'rate-limited' }) });
    expect(answer.status).toBe(200);
    expect(await channel().send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'retryMessage', code: 'dingtalk.130101', uncounted: true });
  });

  it('refuses settings without a token or with a malformed group map, every problem listed', () => {
    expect(() => new DingTalkRobotChannel({ groups: '{"default":{"webhook":"https://oapi.dingtalk.com/robot/send"}}' })).toThrow(/groups.default.webhook/);
    expect(() => new DingTalkRobotChannel({ groups: 'not json' })).toThrow(/not valid JSON/);
    expect(() => new DingTalkRobotChannel({ groups: {} })).toThrow(/at least one group/);
    // The JSON map of an environment variable.
    expect(() => new DingTalkRobotChannel({ groups: JSON.stringify({ default: { webhook: DEFAULT_TOKEN, secret: SECRET } }) })).not.toThrow();
  });
});

describe('WeComRobotChannel against the local robot server', () => {
  let server: LocalRobotServer;
  let baseUrl: string;

  function channel(overrides: Partial<WeComRobotSettingsInput> = {}): WeComRobotChannel {
    return new WeComRobotChannel(
      {
        groups: {
          default: { webhook: `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${WECOM_DEFAULT_KEY}` },
          [VILLAGE]: { webhook: WECOM_VILLAGE_KEY },
        },
        baseUrl,
        timeoutMs: 2_000,
        ...overrides,
      },
      { log: () => undefined },
    );
  }

  beforeEach(async () => {
    server = new LocalRobotServer({ wecom: [WECOM_DEFAULT_KEY, WECOM_VILLAGE_KEY] });
    ({ url: baseUrl } = await server.start());
  });

  afterEach(async () => {
    await server.stop();
  });

  it('posts markdown to the village\'s robot when the post need not wake anyone', async () => {
    const message = groupMessage({ ...OPENED, dialect: 'wecom', event: 'closed', outcome: 'resolved', by: '帮扶责任人 张三', reason: '老人摔倒无大碍', atMs: OPENED.alarmAtMs + 40 * 60_000 });
    expect(await channel().send(message)).toEqual({ ok: true, providerRef: null });
    expect(server.posts[0]).toMatchObject({ robot: 'wecom', token: WECOM_VILLAGE_KEY, msgtype: 'markdown', text: message.text, mentionAll: false });
  });

  it('a post that must wake the group goes as text with @all, its markdown removed, and no mobile number mentioned', async () => {
    const message = groupMessage({ ...OPENED, dialect: 'wecom', event: 'fellOver', contact: '帮扶责任人 张三' });
    expect((await channel().send(message)).ok).toBe(true);
    const [post] = server.posts;
    expect(post).toMatchObject({ msgtype: 'text', mentionAll: true, mentionedMobiles: [] });
    expect(post?.text).toBe(markdownToPlain(message.text));
    expect(post?.text).toContain('请值班人员立即电话联系');
    expect(post?.text).not.toMatch(/\*\*|<font|###/);
  });

  it('with mentionAll off for a group, even a waking post goes as markdown', async () => {
    const quiet = channel({ groups: { default: { webhook: WECOM_DEFAULT_KEY, mentionAll: false } } });
    expect((await quiet.send(groupMessage(OPENED))).ok).toBe(true);
    expect(server.posts[0]).toMatchObject({ token: WECOM_DEFAULT_KEY, msgtype: 'markdown' });
  });

  it('falls back to default; with neither, GROUP_NOT_CONFIGURED', async () => {
    expect((await channel().send(groupMessage(OPENED, 'v-lizhuang'))).ok).toBe(true);
    expect(server.posts[0]?.token).toBe(WECOM_DEFAULT_KEY);
    const only = channel({ groups: { [VILLAGE]: { webhook: WECOM_VILLAGE_KEY } } });
    expect(await only.send(groupMessage(OPENED, 'v-lizhuang'))).toMatchObject({ ok: false, kind: 'permanent', code: 'GROUP_NOT_CONFIGURED' });
  });

  it('a wrong key is 93000: the account', async () => {
    const stray = channel({ groups: { default: { webhook: '99999999-0000-0000-0000-000000000000' } } });
    expect(await stray.send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'account', code: 'wecom.93000' });
  });

  it('the 21st post in a minute is held back by the channel (WeCom would refuse it with 45009)', async () => {
    const robot = channel();
    for (let i = 0; i < 20; i++) expect((await robot.send(groupMessage(OPENED, VILLAGE, { outId: `ntf-${i}` }))).ok).toBe(true);
    expect(await robot.send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'retryMessage', code: 'GROUP_ROBOT_PACED', uncounted: true });
    expect(server.posts).toHaveLength(20);
  });

  it('a bad parameter (40058) is permanent; 503 is the transport', async () => {
    server.setMode('error', 40058);
    expect(await channel().send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'permanent', code: 'wecom.40058' });
    server.setMode('outage-503');
    expect(await channel().send(groupMessage(OPENED))).toMatchObject({ ok: false, kind: 'transport' });
  });

  it('cuts content past WeCom\'s 4096 bytes of markdown instead of being refused', async () => {
    const long = groupMessage(OPENED, VILLAGE, { text: `### 【智慧看家】跌倒 · 王秀英\n${'很长的说明'.repeat(400)}`, params: { title: 't', mentionAll: 'false' } });
    expect((await channel().send(long)).ok).toBe(true);
    expect(Buffer.byteLength(server.posts[0]?.text ?? '', 'utf8')).toBeLessThanOrEqual(4096);
  });
});
