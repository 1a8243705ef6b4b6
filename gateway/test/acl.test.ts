import { describe, expect, it } from 'vitest';
import { authorizePublishTopic, authorizeSubscribeFilter } from '../src/acl.js';
import type { Principal } from '../src/acl.js';

const device: Principal = { kind: 'device', deviceId: 'dev-001', primary: true };
const service: Principal = { kind: 'service', username: 'svc:server' };

describe('publish ACL', () => {
  it('lets a device publish on its own 4 uplink channels', () => {
    for (const channel of ['events', 'telemetry', 'accel', 'status'] as const) {
      expect(authorizePublishTopic(device, `kanjia/v1/devices/dev-001/${channel}`)).toEqual({ allowed: true, kind: 'uplink', deviceId: 'dev-001', channel });
    }
  });

  it("refuses a device another device's topics, its own commands topic and anything outside kanjia/v1", () => {
    for (const topic of [
      'kanjia/v1/devices/dev-002/events',
      'kanjia/v1/devices/dev-001/commands',
      'kanjia/v1/devices/dev-001/other',
      'kanjia/v1/devices/dev-001/events/extra',
      '$SYS/broker/x',
      'anything',
    ]) {
      expect(authorizePublishTopic(device, topic).allowed).toBe(false);
    }
  });

  it("lets a service account publish to any device's commands topic and nothing else", () => {
    expect(authorizePublishTopic(service, 'kanjia/v1/devices/dev-002/commands')).toEqual({ allowed: true, kind: 'command', deviceId: 'dev-002' });
    expect(authorizePublishTopic(service, 'kanjia/v1/devices/dev-002/events').allowed).toBe(false);
  });
});

describe('subscribe ACL', () => {
  it('lets a device subscribe to its own commands topic only, without wildcards', () => {
    expect(authorizeSubscribeFilter(device, 'kanjia/v1/devices/dev-001/commands')).toBe(true);
    for (const filter of ['kanjia/v1/devices/dev-002/commands', 'kanjia/v1/devices/+/commands', 'kanjia/v1/devices/dev-001/#', '#', 'kanjia/v1/devices/dev-001/events']) {
      expect(authorizeSubscribeFilter(device, filter)).toBe(false);
    }
  });

  it('lets a service account subscribe to uplinks of one or all devices, not to # or $ topics', () => {
    expect(authorizeSubscribeFilter(service, 'kanjia/v1/devices/+/events')).toBe(true);
    expect(authorizeSubscribeFilter(service, 'kanjia/v1/devices/dev-001/status')).toBe(true);
    for (const filter of ['#', 'kanjia/v1/devices/#', 'kanjia/v1/devices/+/+', 'kanjia/v1/devices/+/commands', '$kanjia/dropped', '$SYS/#']) {
      expect(authorizeSubscribeFilter(service, filter)).toBe(false);
    }
  });
});
