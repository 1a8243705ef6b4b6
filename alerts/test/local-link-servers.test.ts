/**
 * The local Twilio and robot servers' own checks, with requests crafted by
 * hand and sent with fetch: what they refuse must be what the real services
 * refuse, or the adapter tests prove nothing.
 */
import { createHmac } from 'node:crypto';
import { FakeClock } from '@kanjia/protocol';
import { DINGTALK_THROTTLE_MS, LocalRobotServer, LocalTwilioServer, runLocalLinksCommand } from '@kanjia/alerts/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { DingTalkRobotChannel } from '../src/robots/dingtalk-robot.js';
import { TwilioSmsSender } from '../src/sms/twilio-sms-sender.js';

const SECRET = 'SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd';
const TOKEN = 'a'.repeat(64);
/** Computed with Python's hmac for this secret at 1796263200000 (see group-robots.test.ts); it holds a + and a /. */
const SIGN_AT_1796263200000 = 'FiQhplTh92Mbr1gBfjP8WeP2M2KEwpL+aveu/L0X6JU=';
const MARKDOWN = { msgtype: 'markdown', markdown: { title: '【智慧看家】跌倒 · 王秀英', text: '### 【智慧看家】跌倒 · 王秀英' } };

describe('LocalRobotServer', () => {
  let server: LocalRobotServer | undefined;

  afterEach(async () => {
    await server?.stop();
  });

  async function start(clock: FakeClock): Promise<string> {
    server = new LocalRobotServer({ dingtalk: { [TOKEN]: { secret: SECRET } }, wecom: ['k-0000-1111'], clock });
    return (await server.start()).url;
  }

  async function post(url: string, body: unknown): Promise<{ errcode: number; errmsg: string }> {
    const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return (await answer.json()) as { errcode: number; errmsg: string };
  }

  it('takes a sign that is URL-encoded, and refuses the same sign sent raw (its + read as a space), as DingTalk does', async () => {
    const url = await start(new FakeClock(1796263200000));
    const raw = `${url}/robot/send?access_token=${TOKEN}&timestamp=1796263200000&sign=${SIGN_AT_1796263200000}`;
    expect(await post(raw, MARKDOWN)).toEqual({ errcode: 310000, errmsg: 'sign not match' });
    const encoded = `${url}/robot/send?access_token=${TOKEN}&timestamp=1796263200000&sign=${encodeURIComponent(SIGN_AT_1796263200000)}`;
    expect(await post(encoded, MARKDOWN)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(server?.posts[0]).toMatchObject({ robot: 'dingtalk', signed: true, title: MARKDOWN.markdown.title });
  });

  it('refuses a signed robot\'s post without a sign, and one whose timestamp is 61 minutes old', async () => {
    const clock = new FakeClock(1796263200000);
    const url = await start(clock);
    expect(await post(`${url}/robot/send?access_token=${TOKEN}`, MARKDOWN)).toMatchObject({ errcode: 310000 });
    clock.advance(61 * 60_000);
    const late = `${url}/robot/send?access_token=${TOKEN}&timestamp=1796263200000&sign=${encodeURIComponent(SIGN_AT_1796263200000)}`;
    expect(await post(late, MARKDOWN)).toEqual({ errcode: 310000, errmsg: 'invalid timestamp' });
  });

  it('after 20 posts in a minute refuses DingTalk\'s robot for 10 minutes, then takes it again', async () => {
    const clock = new FakeClock(1796263200000);
    const url = await start(clock);
    const send = () => post(`${url}/robot/send?access_token=${TOKEN}&timestamp=${clock.nowMs()}&sign=${encodeURIComponent(signAt(clock.nowMs()))}`, MARKDOWN);
    for (let i = 0; i < 20; i++) expect((await send()).errcode).toBe(0);
    expect((await send()).errcode).toBe(130101);
    clock.advance(2 * 60_000);
    expect((await send()).errcode).toBe(130101);
    clock.advance(DINGTALK_THROTTLE_MS);
    expect((await send()).errcode).toBe(0);
  });

  it('WeCom: an unknown key is 93000, an unknown msgtype 40008, empty content 44004, a text over 2048 bytes 40058', async () => {
    const url = await start(new FakeClock());
    const wecom = (key: string) => `${url}/cgi-bin/webhook/send?key=${key}`;
    expect((await post(wecom('nope'), { msgtype: 'text', text: { content: 'x' } })).errcode).toBe(93000);
    expect((await post(wecom('k-0000-1111'), { msgtype: 'news', news: {} })).errcode).toBe(40008);
    expect((await post(wecom('k-0000-1111'), { msgtype: 'markdown', markdown: { content: '' } })).errcode).toBe(44004);
    expect((await post(wecom('k-0000-1111'), { msgtype: 'text', text: { content: '很'.repeat(700) } })).errcode).toBe(40058);
    expect((await post(wecom('k-0000-1111'), 'not json')).errcode).toBe(40058);
    expect(await post(wecom('k-0000-1111'), { msgtype: 'text', text: { content: '测试', mentioned_list: ['@all'] } })).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(server?.posts[0]).toMatchObject({ robot: 'wecom', mentionAll: true, text: '测试' });
  });
});

/** The signature of SECRET at `ms`, computed here the long way round (the vector test pins the algorithm). */
function signAt(ms: number): string {
  return createHmac('sha256', SECRET).update(`${ms}\n${SECRET}`).digest('base64');
}

describe('LocalTwilioServer', () => {
  const ACCOUNT = `AC${'0'.repeat(32)}`;
  let server: LocalTwilioServer | undefined;

  afterEach(async () => {
    await server?.stop();
  });

  async function create(form: Record<string, string>, auth = `${ACCOUNT}:token`): Promise<{ status: number; body: Record<string, unknown> }> {
    const { url } = await (server ??= new LocalTwilioServer({ accountSid: ACCOUNT, authToken: 'token' })).start();
    const answer = await fetch(`${url}/2010-04-01/Accounts/${ACCOUNT}/Messages.json`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(auth).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(form).toString(),
    });
    return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
  }

  it('answers a good message 201 with its sid and status queued', async () => {
    const { status, body } = await create({ To: '+8613812345678', From: '+15005550006', Body: '测试' });
    expect(status).toBe(201);
    expect(body).toMatchObject({ status: 'queued', to: '+8613812345678', body: '测试', error_code: null });
    expect(body.sid).toMatch(/^SM[0-9a-f]{32}$/);
  });

  it.each([
    [{ From: '+15005550006', Body: 'x' }, 21604],
    [{ To: '13812345678', From: '+15005550006', Body: 'x' }, 21211],
    [{ To: '+8613812345678', Body: 'x' }, 21603],
    [{ To: '+8613812345678', From: '+15005550006' }, 21602],
    [{ To: '+8613812345678', From: '+15005550006', Body: 'x'.repeat(1601) }, 21617],
  ] as const)('refuses %o with %i (HTTP 400), as Twilio does', async (form, code) => {
    const { status, body } = await create({ ...form });
    expect(status).toBe(400);
    expect(body).toMatchObject({ code, status: 400, more_info: `https://www.twilio.com/docs/errors/${code}` });
  });

  it('refuses wrong credentials with 20003 (HTTP 401)', async () => {
    const { status, body } = await create({ To: '+8613812345678', From: '+15005550006', Body: 'x' }, `${ACCOUNT}:wrong`);
    expect(status).toBe(401);
    expect(body.code).toBe(20003);
  });
});

describe('the local-links command', () => {
  it('robots: prints the listening line and each accepted post; a wrong secret goes to stderr', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const { server, address } = await runLocalLinksCommand(['robots', '--dingtalk', `${TOKEN}=${SECRET}`, '--keyword', '智慧看家'], { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env: {} });
    try {
      expect(JSON.parse(out[0] ?? '')).toEqual({ type: 'listening', port: address.port, url: address.url });
      const robot = (secret: string) => new DingTalkRobotChannel({ groups: { default: { webhook: TOKEN, secret } }, baseUrl: address.url }, { log: (l) => err.push(l) });
      const message = { to: 'default', template: 'alarm' as const, kind: 'sos' as const, params: { title: '【智慧看家】紧急呼叫 · 王秀英', mentionAll: 'true' }, text: '### 【智慧看家】紧急呼叫 · 王秀英', outId: 'ntf-cli' };
      expect((await robot(SECRET).send(message)).ok).toBe(true);
      expect((await robot('SECwrong').send(message)).ok).toBe(false);
      expect(out).toHaveLength(2);
      expect(JSON.parse(out[1] ?? '')).toMatchObject({ type: 'post', robot: 'dingtalk', signed: true, mentionAll: true, title: '【智慧看家】紧急呼叫 · 王秀英' });
      expect(err.join('\n')).toContain('310000');
    } finally {
      await server.stop();
    }
  });

  it('twilio: prints each accepted message, numbers masked with --mask-phones; refuses a call without the stand-in\'s name', async () => {
    const out: string[] = [];
    const account = `AC${'0'.repeat(32)}`;
    const { server, address } = await runLocalLinksCommand(['twilio', '--account-sid', account, '--auth-token', 'token', '--mask-phones'], { stdout: (l) => out.push(l), stderr: () => undefined, env: {} });
    try {
      const sender = new TwilioSmsSender({ accountSid: account, authToken: 'token', from: '+15005550006', baseUrl: address.url }, { log: () => undefined });
      expect((await sender.send({ to: '13812345678', template: 'alarm', kind: 'sos', params: {}, text: '测试', outId: 'ntf-cli' })).ok).toBe(true);
      expect(JSON.parse(out[1] ?? '')).toMatchObject({ type: 'sms', to: '138****5678', body: '测试' });
    } finally {
      await server.stop();
    }
    await expect(runLocalLinksCommand(['--port', '0'], { stdout: () => undefined, stderr: () => undefined, env: {} })).rejects.toThrow(/twilio or robots/);
    await expect(runLocalLinksCommand(['robots'], { stdout: () => undefined, stderr: () => undefined, env: {} })).rejects.toThrow(/at least one --dingtalk or --wecom/);
  });
});
