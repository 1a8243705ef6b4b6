/**
 * The session start's streams made cheap (gateway.ts leanPersistenceStreams):
 * the same packets for a persistent session, nothing from an earlier session
 * for a clean one [MQTT-3.1.2-6].
 */
import { Aedes } from 'aedes';
import { connect, type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { topics, type DeviceCommand } from '@kanjia/protocol';
import { leanPersistenceStreams } from '../src/gateway.js';
import { Harness, SECRETS, settle } from './helpers.js';

const h = new Harness();
afterEach(() => h.close());

const TS = Date.UTC(2026, 0, 15, 2, 0, 0);
const command = (id: string): DeviceCommand => ({ id, ts: TS, type: 'beep', pattern: 'short' });

function collect(client: MqttClient): string[] {
  const got: string[] = [];
  client.on('message', (_topic, payload) => got.push(JSON.parse(payload.toString()).id as string));
  return got;
}

const opened: MqttClient[] = [];
afterEach(async () => {
  for (const c of opened.splice(0)) await c.endAsync(true);
});

/** A device connection whose messages are collected from the first packet on (a queued command comes right after the CONNACK). */
function deviceCollecting(port: number, deviceId: string, clean: boolean): { client: MqttClient; got: string[] } {
  const client = connect({ host: '127.0.0.1', port, clientId: deviceId, username: deviceId, password: SECRETS[deviceId], clean, reconnectPeriod: 0, connectTimeout: 5_000 });
  opened.push(client);
  return { client, got: collect(client) };
}

async function waitFor(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await settle(10);
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('session start streams', () => {
  it('aedes keeps its persistence where the gateway looks (else its streams stay as they were)', async () => {
    const broker = await Aedes.createBroker();
    try {
      expect(leanPersistenceStreams(broker)).toBe(true);
    } finally {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
    }
  });

  it('delivers the 2 commands queued for an offline persistent session (clean: false) in order when it comes back', async () => {
    const { gateway, port } = await h.gateway();
    const first = await h.device(port, 'dev-001', { clean: false });
    await first.subscribeAsync(topics.commands('dev-001'), { qos: 1 });
    await first.endAsync();
    await waitFor(() => gateway.stats().connected === 0, 'the disconnect');
    await gateway.publishCommand('dev-001', command('c-1'));
    await gateway.publishCommand('dev-001', command('c-2'));
    const { got } = deviceCollecting(port, 'dev-001', false);
    await waitFor(() => got.length === 2, 'the queued commands');
    expect(got).toEqual(['c-1', 'c-2']);
  });

  it('gives a clean session none of what was queued for an earlier persistent session of its client id [MQTT-3.1.2-6], and delivers its own commands', async () => {
    const { gateway, port } = await h.gateway();
    const first = await h.device(port, 'dev-002', { clean: false });
    await first.subscribeAsync(topics.commands('dev-002'), { qos: 1 });
    await first.endAsync();
    await waitFor(() => gateway.stats().connected === 0, 'the disconnect');
    await gateway.publishCommand('dev-002', command('old-1'));
    const { client: clean, got } = deviceCollecting(port, 'dev-002', true);
    await waitFor(() => gateway.stats().connected === 1, 'the clean session');
    await clean.subscribeAsync(topics.commands('dev-002'), { qos: 1 });
    await gateway.publishCommand('dev-002', command('new-1'));
    await waitFor(() => got.length >= 1, 'its own command');
    await settle(100);
    expect(got).toEqual(['new-1']);
  });
});
