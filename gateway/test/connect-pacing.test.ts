/**
 * A reconnect storm paced by the gateway: a token bucket on logins, the ones
 * over it refused with CONNACK 3 (server unavailable) before their secret is
 * checked, so the first devices back are served at once and the rest retry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DeviceAuthenticator } from '../src/index.js';
import { Harness, settle } from './helpers.js';

const h = new Harness();
afterEach(() => h.close());

const FLEET_SECRET = 'one-secret-for-the-whole-test-fleet-0123456789';
const deviceId = (i: number) => `dev-${String(i).padStart(3, '0')}`;
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

  it('serves the first 2 of 8 devices at once and every refused one on a later retry (2 per 400 ms)', async () => {
    const fleet: DeviceAuthenticator = { verify: (_id, secret) => secret === FLEET_SECRET };
    const { gateway, port } = await h.gateway({ authenticator: fleet, connectRateLimit: { connects: 2, perMs: 400 } });
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

  it('refuses a connect-rate limit that cannot work, naming the option', async () => {
    const fleet: DeviceAuthenticator = { verify: () => false };
    await expect(h.gateway({ authenticator: fleet, connectRateLimit: { connects: 0, perMs: 1_000 } })).rejects.toThrow(/connectRateLimit: 0 per 1000 ms/);
    await expect(h.gateway({ authenticator: fleet, inFlightUplinks: { total: 4, perConnection: 8 } })).rejects.toThrow(/inFlightUplinks: 8 per connection, 4 in all/);
  });
});
