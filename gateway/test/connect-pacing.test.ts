/**
 * A reconnect storm paced by the gateway: a token bucket on logins, the ones
 * over it refused with CONNACK 3 (server unavailable) before their secret is
 * checked, so the first devices back are served at once and the rest retry;
 * those whose turn comes within the line's wait are not refused but wait.
 */
import { generate } from 'mqtt-packet';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceAuthenticator } from '../src/index.js';
import { Harness, settle } from './helpers.js';

const h = new Harness();
afterEach(() => h.close());

const FLEET_SECRET = 'one-secret-for-the-whole-test-fleet-0123456789';
const deviceId = (i: number) => `dev-${String(i).padStart(3, '0')}`;
async function waitUntil(check: () => boolean, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
/** A CONNECT of a device of the fleet, as bytes. */
const connectPacket = (id: string): Buffer =>
  generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: id, keepalive: 30, username: id, password: Buffer.from(FLEET_SECRET) });
const codeOf = (p: Promise<unknown>) => p.then(() => 'connected' as const, (err: { code?: number }) => err.code ?? 'closed');

describe('connect-rate limit', () => {
  it('admits a burst of 3 logins, refuses the 4th with CONNACK 3 without checking its secret, never paces the service account, and counts and logs the refusal', async () => {
    let checked = 0;
    const fleet: DeviceAuthenticator = { verify: (_id, secret) => (checked++, secret === FLEET_SECRET) };
    const { gateway, port, logger } = await h.gateway({ authenticator: fleet, connectRateLimit: { connects: 3, perMs: 600_000 } });
    for (let i = 0; i < 3; i++) expect(await codeOf(h.device(port, deviceId(i), { secret: FLEET_SECRET }))).toBe('connected');
    expect(await codeOf(h.device(port, deviceId(3), { secret: FLEET_SECRET }))).toBe(3);
    expect(checked).toBe(3);
    expect(await codeOf(h.service(port))).toBe('connected');
    const stats = gateway.stats();
    expect(stats.refused.connectRate).toBe(1);
    expect(stats.authFailures).toBe(0);
    expect(stats.connected).toBe(4);
    expect(logger.lines.some((l) => l.msg?.startsWith('connect rate exceeded'))).toBe(true);
  });

  it('without a waiting line, serves the first 2 of 8 devices at once and every refused one on a later retry (2 per 400 ms)', async () => {
    const fleet: DeviceAuthenticator = { verify: (_id, secret) => secret === FLEET_SECRET };
    const { gateway, port } = await h.gateway({ authenticator: fleet, connectRateLimit: { connects: 2, perMs: 400 }, connectWaitMs: 0 });
    const first = await Promise.all(Array.from({ length: 8 }, (_, i) => codeOf(h.device(port, deviceId(i), { secret: FLEET_SECRET }))));
    expect(first.filter((c) => c === 'connected')).toHaveLength(2);
    expect(first.filter((c) => c === 3)).toHaveLength(6);
    // What docs/protocol.md asks of a refused device: wait, then try again (here every 100 ms, at most 100 times).
    const waiting = first.flatMap((c, i) => (c === 3 ? [i] : []));
    for (let round = 0; round < 100 && waiting.length > 0; round++) {
      await settle(100);
      const i = waiting[0] as number;
      if ((await codeOf(h.device(port, deviceId(i), { secret: FLEET_SECRET }))) === 'connected') waiting.shift();
    }
    expect(waiting).toEqual([]);
    expect(gateway.stats().connected).toBe(8);
    expect(gateway.stats().refused.connectRate).toBeGreaterThanOrEqual(6);
  });

  it('lets the logins over the rate wait for their turn within 3.75 s (2 per 1 500 ms: 2 at once, 5 wait, the 8th is refused with CONNACK 3)', async () => {
    let checked = 0;
    const fleet: DeviceAuthenticator = { verify: (_id, secret) => (checked++, secret === FLEET_SECRET) };
    const { gateway, port } = await h.gateway({ authenticator: fleet, connectRateLimit: { connects: 2, perMs: 1_500 }, connectWaitMs: 3_750 });
    const codes: Array<Promise<string | number>> = [];
    for (let i = 0; i < 8; i++) {
      codes.push(codeOf(h.device(port, deviceId(i), { secret: FLEET_SECRET })));
      // One after the other (each answered or in the line before the next), so that the 8th comes when the line is full.
      await waitUntil(() => gateway.stats().connected + gateway.stats().connectLine.waiting === Math.min(i + 1, 7));
    }
    const outcome = await Promise.all(codes);
    expect(outcome.filter((c) => c === 'connected')).toHaveLength(7);
    expect(outcome[7]).toBe(3);
    // The refused one was not checked; the 5 that waited were, on their turn.
    expect(checked).toBe(7);
    const stats = gateway.stats();
    expect(stats.connectLine).toEqual({ waiting: 0, waited: 5 });
    expect(stats.refused.connectRate).toBe(1);
    expect(stats.connected).toBe(7);
  });

  it('gives the place of a device that hangs up while it waits to the next in line', async () => {
    const fleet: DeviceAuthenticator = { verify: (_id, secret) => secret === FLEET_SECRET };
    const { gateway, port } = await h.gateway({ authenticator: fleet, connectRateLimit: { connects: 1, perMs: 2_000 }, connectWaitMs: 4_000 });
    expect(await codeOf(h.device(port, deviceId(0), { secret: FLEET_SECRET }))).toBe('connected');
    // The line holds 2 (1 per 2 000 ms within 4 s): device 1 waits, then hangs up before its turn.
    const quitter = await h.socket(port);
    quitter.write(connectPacket(deviceId(1)));
    await waitUntil(() => gateway.stats().connectLine.waiting === 1);
    quitter.destroy();
    await waitUntil(() => gateway.stats().connectLine.waiting === 0);
    const waiting = [codeOf(h.device(port, deviceId(2), { secret: FLEET_SECRET })), codeOf(h.device(port, deviceId(3), { secret: FLEET_SECRET }))];
    await waitUntil(() => gateway.stats().connectLine.waiting === 2);
    // The line is full again (2 places, neither taken by the one who left): the next is refused.
    expect(await codeOf(h.device(port, deviceId(4), { secret: FLEET_SECRET }))).toBe(3);
    expect(await Promise.all(waiting)).toEqual(['connected', 'connected']);
    expect(gateway.stats().connectLine).toEqual({ waiting: 0, waited: 2 });
  });

  it('refuses a connect-rate limit that cannot work, naming the option', async () => {
    const fleet: DeviceAuthenticator = { verify: () => false };
    await expect(h.gateway({ authenticator: fleet, connectRateLimit: { connects: 0, perMs: 1_000 } })).rejects.toThrow(/connectRateLimit: 0 per 1000 ms/);
    await expect(h.gateway({ authenticator: fleet, connectTimeoutMs: 2_000, connectWaitMs: 2_000 })).rejects.toThrow(/connectWaitMs: 2000 must be >= 0 and below connectTimeoutMs \(2000\)/);
    await expect(h.gateway({ authenticator: fleet, inFlightUplinks: { total: 4, perConnection: 8 } })).rejects.toThrow(/inFlightUplinks: 8 per connection, 4 in all/);
  });
});
