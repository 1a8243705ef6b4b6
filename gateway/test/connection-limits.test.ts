/**
 * The gateway's connection limits against raw TCP sockets speaking bytes made
 * with mqtt-packet (what no well-behaved client would send) and mqtt.js:
 * keep-alive bounds, the budget before login, the connect timeout, PING and
 * refused-SUBSCRIBE floods, wrong-secret logins slowed without slowing anyone
 * else, and refusals logged once per source with a count.
 */
import { generate, type Packet } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '@kanjia/protocol';
import { LoginThrottle } from '../src/index.js';
import { HashTableAuthenticator, Harness, RawClient, SECRETS, connectPacket, settle, subscribeGranted, waitFor } from './helpers.js';

const h = new Harness();
afterEach(async () => {
  RawClient.closeAll();
  await h.close();
});

const refusalCode = (p: Promise<unknown>) => p.then(() => 'connected', (err: { code?: number }) => err.code ?? 'closed');

describe('keep-alive', () => {
  it('refuses a keep-alive of 0, 9 s and 65 535 s with CONNACK 5 and says why in the log; admits 10 s and 1 200 s', async () => {
    const { gateway, port, logger } = await h.gateway();
    for (const keepalive of [0, 9, 65_535]) expect(await refusalCode(h.device(port, 'dev-001', { keepalive }))).toBe(5);
    for (const keepalive of [10, 1200]) {
      const device = await h.device(port, 'dev-001', { keepalive });
      await device.endAsync();
    }
    expect(gateway.stats().refused.keepAlive).toBe(3);
    // Not a wrong secret: nothing is counted against the device.
    expect(gateway.stats().authFailures).toBe(0);
    const reasons = logger.lines.filter((l) => l.msg === 'connection refused').map((l) => l.obj['reason']);
    expect(reasons).toEqual(['keep-alive 0 s outside 10-1200 s', 'keep-alive 9 s outside 10-1200 s', 'keep-alive 65535 s outside 10-1200 s']);
  });
});

describe('before login', () => {
  it('closes a socket whose first packet announces 2 000 bytes (above the 1 024 allowed before login) before its body arrives', async () => {
    const { gateway, port, logger } = await h.gateway();
    const raw = await RawClient.open(port);
    raw.socket.write(Buffer.from([0x10, 0xd0, 0x0f])); // CONNECT, remaining length 2000
    await waitFor(() => raw.closed, 2_000, 'the close');
    expect(raw.packets).toEqual([]);
    expect(gateway.stats().oversized).toBe(1);
    expect(logger.lines.find((l) => l.msg === 'oversized packet: connection closed')?.obj).toMatchObject({ beforeLogin: true, maxPacketBytes: 1024 });
  });

  it('holds at most 1 024 bytes of a connection whose login is still being checked: a client piling 3 KB behind its CONNECT is cut', async () => {
    let release!: () => void;
    const checked = new Promise<boolean>((resolve) => (release = () => resolve(true)));
    const { gateway, port } = await h.gateway({ authenticator: { verify: () => checked } });
    const raw = await RawClient.open(port);
    raw.send(connectPacket('dev-001'));
    raw.send(...Array.from({ length: 3 }, (_, i) => ({ cmd: 'publish', topic: topics.telemetry('dev-001'), payload: Buffer.alloc(1000, 0x20), qos: 0, retain: false, dup: false, messageId: i }) as Packet));
    await waitFor(() => raw.closed, 2_000, 'the close');
    release();
    expect(raw.count('connack')).toBe(0);
    expect(gateway.stats().refused.preLogin).toBe(1);
  });

  it('closes a silent socket, a trickled half CONNECT and a CONNECT whose check never returns, each after the connect timeout', async () => {
    const { gateway, port } = await h.gateway({ connectTimeoutMs: 300, loginThrottle: { baseDelayMs: 50, maxDelayMs: 100 }, authenticator: { verify: () => new Promise<boolean>(() => {}) } });
    const silent = await RawClient.open(port);
    const trickle = await RawClient.open(port);
    trickle.socket.write(generate(connectPacket('dev-001')).subarray(0, 10));
    const unanswered = await RawClient.open(port);
    unanswered.send(connectPacket('dev-001'));
    await settle(100);
    expect([silent.closed, trickle.closed, unanswered.closed]).toEqual([false, false, false]);
    await waitFor(() => silent.closed && trickle.closed && unanswered.closed, 3_000, 'the three closes');
    expect(unanswered.count('connack')).toBe(0);
    expect(gateway.stats().refused.connectTimeout).toBe(3);
  });

  it('does not cut a device that logged in and then stays quiet past the connect timeout', async () => {
    const { port } = await h.gateway({ connectTimeoutMs: 200, loginThrottle: { baseDelayMs: 50, maxDelayMs: 100 } });
    const device = await h.device(port, 'dev-001');
    await settle(400);
    expect(device.connected).toBe(true);
  });
});

describe('PING', () => {
  it('answers 20 PINGREQs in a minute and cuts the connection at the 21st', async () => {
    const { gateway, port, logger } = await h.gateway();
    const raw = await RawClient.open(port);
    raw.send(connectPacket('dev-001'));
    await waitFor(() => raw.count('connack') === 1, 2_000, 'the CONNACK');
    raw.send(...Array.from({ length: 20 }, () => ({ cmd: 'pingreq' }) as Packet));
    await waitFor(() => raw.count('pingresp') === 20, 2_000, '20 PINGRESPs');
    expect(raw.closed).toBe(false);
    raw.send(...Array.from({ length: 100 }, () => ({ cmd: 'pingreq' }) as Packet));
    await waitFor(() => raw.closed, 2_000, 'the close');
    expect(raw.count('pingresp')).toBe(20);
    expect(gateway.stats().refused.pingFlood).toBe(1);
    expect(logger.lines.filter((l) => l.msg === 'PING flood: connection closed').map((l) => l.obj)).toEqual([
      { deviceId: 'dev-001', remoteAddress: '127.0.0.1', limit: 20, windowMs: 60_000 },
    ]);
  });
});

describe('refused subscriptions', () => {
  it('answers 5 refused filters with 0x80, closes the connection at the 6th, keeps counting across a reconnect, and logs 1 line per kind and a count', async () => {
    const { gateway, port, logger } = await h.gateway({ logSummaryIntervalMs: 300 });
    const device = await h.device(port, 'dev-001');
    for (let i = 0; i < 5; i++) expect(await subscribeGranted(device, [topics.commands('dev-002')])).toEqual([128]);
    expect(device.connected).toBe(true);
    const closedNow = new Promise<void>((resolve) => device.once('close', () => resolve()));
    void device.subscribeAsync(topics.commands('dev-002'), { qos: 1 }).catch(() => undefined);
    await closedNow;
    // A new connection does not start afresh: the next refusal closes it too.
    const again = await h.device(port, 'dev-001');
    const closedAgain = new Promise<void>((resolve) => again.once('close', () => resolve()));
    void again.subscribeAsync('#', { qos: 1 }).catch(() => undefined);
    await closedAgain;
    expect(gateway.stats().refused.subscribeFlood).toBe(2);
    expect(logger.lines.filter((l) => l.msg === 'subscription refused by ACL')).toHaveLength(1);
    expect(logger.lines.filter((l) => l.msg === 'refused subscriptions flooding: connection closed')).toHaveLength(1);
    await waitFor(() => logger.lines.some((l) => l.msg === 'subscription refused by ACL (repeated)'), 3_000, 'the summary');
    expect(logger.lines.find((l) => l.msg === 'subscription refused by ACL (repeated)')?.obj).toMatchObject({ deviceId: 'dev-001', repeats: 4, intervalMs: 300 });
    expect(logger.lines.find((l) => l.msg === 'refused subscriptions flooding: connection closed (repeated)')?.obj).toMatchObject({ deviceId: 'dev-001', repeats: 1 });
  });
});

describe('wrong secrets', () => {
  const throttle = { freeFailures: 3, baseDelayMs: 200, maxDelayMs: 800 };

  /** Time from the CONNECT to the refusal of one login, ms. */
  async function timedRefusal(port: number, deviceId: string, secret: string): Promise<{ code: unknown; ms: number }> {
    const t0 = performance.now();
    const code = await refusalCode(h.device(port, deviceId, { secret, connectTimeout: 5_000 }));
    return { code, ms: performance.now() - t0 };
  }

  it('answers the 3 first wrong secrets of a device at once and holds the next refusals 200, 400, 800, 800 ms (bounded)', async () => {
    const { gateway, port, logger } = await h.gateway({ loginThrottle: throttle });
    const results: Array<{ code: unknown; ms: number }> = [];
    for (let i = 0; i < 7; i++) results.push(await timedRefusal(port, 'dev-001', `wrong-${i}`));
    expect(results.map((r) => r.code)).toEqual([4, 4, 4, 4, 4, 4, 4]);
    const held = results.slice(3).map((r) => r.ms);
    [200, 400, 800, 800].forEach((least, i) => expect(held[i]).toBeGreaterThanOrEqual(least - 5));
    for (const ms of held) expect(ms).toBeLessThan(3_000);
    expect(gateway.stats()).toMatchObject({ authFailures: 7, refused: { loginDelayed: 4 } });
    // One line at once, the rest counted.
    expect(logger.lines.filter((l) => l.msg === 'connection refused')).toHaveLength(1);
  });

  it('counts per address too: wrong secrets for 7 unknown device ids from one address are slowed after the 3 free ones', async () => {
    const { port } = await h.gateway({ loginThrottle: throttle });
    const results: Array<{ code: unknown; ms: number }> = [];
    for (let i = 0; i < 7; i++) results.push(await timedRefusal(port, `dev-1${i}0`, 'wrong'));
    [200, 400, 800, 800].forEach((least, i) => expect(results[3 + i]!.ms).toBeGreaterThanOrEqual(least - 5));
  });

  it('never slows a correct login: another device, and even the attacked one, get in while refusals are held', async () => {
    const { port } = await h.gateway({ loginThrottle: { freeFailures: 0, baseDelayMs: 2_000, maxDelayMs: 2_000 } });
    let refusedYet = false;
    const attack = refusalCode(h.device(port, 'dev-001', { secret: 'wrong' })).then((code) => ((refusedYet = true), code));
    await settle(50);
    const other = await h.device(port, 'dev-002');
    const victim = await h.device(port, 'dev-001');
    expect([other.connected, victim.connected, refusedYet]).toEqual([true, true, false]);
    expect(await attack).toBe(4);
  });

  it('holds at most 4 logins of one address at a time: 40 parallel wrong secrets get 4 refusals, the rest are closed unanswered; a device that logged in there before still gets in', async () => {
    const { gateway, port } = await h.gateway({ loginThrottle: { freeFailures: 0, baseDelayMs: 1_000, maxDelayMs: 1_000, maxHeldPerAddress: 4 } });
    const known = await h.device(port, 'dev-002');
    await known.endAsync();
    const attempts = await Promise.all(Array.from({ length: 40 }, () => RawClient.open(port)));
    attempts.forEach((raw, i) => raw.send(connectPacket('dev-001', { password: `wrong-${i}` })));
    await settle(100);
    const back = await h.device(port, 'dev-002');
    expect(back.connected).toBe(true);
    await waitFor(() => attempts.every((raw) => raw.closed), 5_000, 'every attempt closed');
    const codes = attempts.map((raw) => (raw.packets.find((p) => p.cmd === 'connack') as { returnCode?: number } | undefined)?.returnCode ?? 'no answer');
    expect(codes.filter((c) => c === 4)).toHaveLength(4);
    expect(codes.filter((c) => c === 'no answer')).toHaveLength(36);
    expect(gateway.stats().refused.loginUnchecked).toBe(36);
    // Checked were only the 4: nothing learned from the others.
    expect(gateway.stats().authFailures).toBe(4);
  });

  it('admits a storm of 60 correct logins at once from one address (devices behind one NAT after a power cut)', async () => {
    const { gateway, port } = await h.gateway({ loginThrottle: { freeFailures: 0, baseDelayMs: 1_000, maxDelayMs: 1_000, maxHeldPerAddress: 4 } });
    const storm = await Promise.all(Array.from({ length: 60 }, () => RawClient.open(port)));
    storm.forEach((raw, i) => raw.send({ ...connectPacket('dev-001'), clientId: `dev-001:m${i}` } as Packet));
    await waitFor(() => storm.every((raw) => raw.count('connack') === 1), 5_000, '60 CONNACKs');
    expect(storm.map((raw) => (raw.packets[0] as { returnCode?: number }).returnCode)).toEqual(Array(60).fill(0));
    expect(gateway.stats().refused.loginUnchecked).toBe(0);
  });

  it('keeps its tables bounded: 20 000 wrong logins from 20 000 addresses for 20 000 device ids leave at most 100 entries each', async () => {
    const t = new LoginThrottle({ freeFailures: 1, baseDelayMs: 0, maxDelayMs: 0, forgetAfterMs: 60_000, maxHeldPerAddress: 4, maxHeldTotal: 10, maxEntries: 100 });
    for (let i = 0; i < 20_000; i++) t.begin({ deviceId: `kj-${i}`, address: `10.0.${i >> 8}.${i & 255}` })?.failed(() => {});
    const sizes = t.sizes();
    expect(sizes.devices).toBeLessThanOrEqual(100);
    expect(sizes.addresses).toBeLessThanOrEqual(100);
    expect(sizes.heldAddresses).toBe(0);
    expect(t.held).toBe(0);
  });

  it('refuses throttle settings whose longest hold does not fit in the connect timeout', async () => {
    const { Gateway } = await import('../src/index.js');
    const gateway = new Gateway({ port: 0, authenticator: new HashTableAuthenticator(), connectTimeoutMs: 3_000, loginThrottle: { maxDelayMs: 5_000 } });
    await expect(gateway.start()).rejects.toMatchObject({ code: 'GATEWAY_CONFIG', message: expect.stringContaining('loginThrottle.maxDelayMs') });
  });
});
