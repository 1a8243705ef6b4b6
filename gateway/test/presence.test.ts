import { describe, expect, it } from 'vitest';
import { PresenceTracker } from '../src/presence.js';
import type { PresenceChange } from '../src/presence.js';

function tracker() {
  const changes: PresenceChange[] = [];
  return { presence: new PresenceTracker((c) => changes.push(c)), changes };
}

describe('PresenceTracker', () => {
  it('reports online with firmware and battery from a status message, once', () => {
    const { presence, changes } = tracker();
    presence.statusReceived('dev-001', { state: 'online', firmware: '1.2.0', batteryPct: 87 }, 1_000);
    presence.statusReceived('dev-001', { state: 'online', batteryPct: 86 }, 2_000);
    expect(changes).toEqual([{ deviceId: 'dev-001', online: true, atMs: 1_000, firmware: '1.2.0', batteryPct: 87 }]);
    expect(presence.isOnline('dev-001')).toBe(true);
  });

  it('reports offline when the connection closes, and not again when the will says offline 5 ms later', () => {
    const { presence, changes } = tracker();
    presence.statusReceived('dev-001', { state: 'online', firmware: '1.2.0' }, 1_000);
    presence.connectionClosed('dev-001', 5_000);
    presence.statusReceived('dev-001', { state: 'offline' }, 5_005);
    expect(changes.map((c) => [c.online, c.atMs])).toEqual([
      [true, 1_000],
      [false, 5_000],
    ]);
    expect(changes[1]).toMatchObject({ firmware: '1.2.0' });
    expect(presence.isOnline('dev-001')).toBe(false);
  });

  it('marks a device online when it sends telemetry without ever sending a status', () => {
    const { presence, changes } = tracker();
    presence.seen('dev-002', 3_000);
    presence.seen('dev-002', 4_000);
    expect(changes).toEqual([{ deviceId: 'dev-002', online: true, atMs: 3_000 }]);
  });

  it('ignores the close of a connection of a device never seen', () => {
    const { presence, changes } = tracker();
    presence.connectionClosed('dev-003', 1);
    expect(changes).toEqual([]);
  });
});
