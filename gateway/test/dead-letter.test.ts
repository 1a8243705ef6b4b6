/**
 * What the installed aedes really does with a dead-lettered publish — the
 * gateway relies on it, so pin it against a plain broker with a `#` subscriber
 * (which the gateway's ACL would never even allow).
 */
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { Aedes } from 'aedes';
import { connectAsync } from 'mqtt';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { DEAD_LETTER_TOPIC, deadLetter } from '../src/dead-letter.js';
import { collect, settle } from './helpers.js';

let broker: Aedes | undefined;
let server: Server | undefined;
const clients: MqttClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)));
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()));
  broker = undefined;
  server = undefined;
});

async function plainBroker(): Promise<{ port: number; published: string[] }> {
  const published: string[] = [];
  broker = await Aedes.createBroker({
    authorizePublish: (_client, packet, done) => {
      if (packet.topic === 'drop/me') deadLetter(packet);
      done(null);
    },
  });
  broker.on('publish', (packet, client) => {
    if (client !== null) published.push(packet.topic);
  });
  const b = broker;
  server = createServer((socket) => b.handle(socket));
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, published };
}

async function client(port: number, clientId: string): Promise<MqttClient> {
  const c = await connectAsync({ host: '127.0.0.1', port, clientId, reconnectPeriod: 0 });
  clients.push(c);
  return c;
}

describe('dead-letter drop in aedes 1.x', () => {
  it('acknowledges a dead-lettered QoS 1 publish, delivers it to no # subscriber, retains nothing, keeps the publisher', async () => {
    const { port, published } = await plainBroker();
    const watcher = await client(port, 'watcher');
    const seen = collect(watcher);
    await watcher.subscribeAsync('#', { qos: 1 });
    const publisher = await client(port, 'publisher');

    await publisher.publishAsync('drop/me', 'invalid', { qos: 1, retain: true }); // resolves on PUBACK
    await publisher.publishAsync('keep/me', 'valid', { qos: 1 });
    await settle();
    expect(seen.map((m) => m.topic)).toEqual(['keep/me']);
    expect(publisher.connected).toBe(true);
    // The broker's publish event still fires, under the dead-letter topic: the gateway must ignore it.
    expect(published).toEqual([DEAD_LETTER_TOPIC, 'keep/me']);

    const late = await client(port, 'late');
    const lateSeen = collect(late);
    await late.subscribeAsync(['#', 'drop/me'], { qos: 1 });
    await settle();
    expect(lateSeen).toEqual([]);
  });
});
