/**
 * Test harness: a real bare aedes broker on 127.0.0.1 (port 0, or the same port
 * again after a restart) with a tiny in-process "server" that records every
 * event copy and answers `received` on the device's commands topic, as the real
 * server will. Everything here is stopped by the tests' afterEach.
 */
import net from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';
import { connect, type MqttClient } from 'mqtt';
import { DeviceEvent, parseDeviceTopic, topics, type DeviceCommand } from '@kanjia/protocol';

export interface EventCopy {
  deviceId: string;
  event: DeviceEvent;
}

/** Decides, for each copy of an event, whether the server answers it; `copyIndex` counts copies of that id from 1. */
export type AckPolicy = (copy: EventCopy, copyIndex: number) => 'ack' | 'ignore';

export class TestBroker {
  /** Every valid event copy, in arrival order, across restarts. */
  readonly copies: EventCopy[] = [];
  /** Every `ack` event the devices sent (one per copy of a command they received). */
  readonly acks: EventCopy[] = [];
  /** Every CONNECT seen by authenticate: client id, username, password. */
  readonly connects: Array<{ clientId: string; username: string | undefined; password: string | undefined }> = [];
  ackPolicy: AckPolicy = () => 'ack';
  /** Also send `taken` right after `received` (for the first answered copy of each id). */
  sendTaken = false;

  private aedes: Aedes | undefined;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  private readonly copyCount = new Map<string, number>();
  private readonly taken = new Set<string>();
  private commandSeq = 0;
  port = 0;

  /** `authenticate` may also answer a CONNACK return code to refuse with (e.g. 3, server unavailable); false is 4. */
  constructor(private readonly authenticate?: (clientId: string, username: string | undefined, password: string | undefined) => boolean | number) {}

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** Starts on `this.port` (0 = any free port the first time; the same port after stop()). */
  async start(): Promise<void> {
    const options: AedesOptions = {
      authenticate: (client, username, password, done) => {
        const pw = password?.toString('utf8');
        this.connects.push({ clientId: client.id, username, password: pw });
        const verdict = this.authenticate === undefined ? true : this.authenticate(client.id, username, pw);
        if (verdict === true) {
          done(null, true);
          return;
        }
        // 4 = bad user name or password (MQTT 3.1.1 §3.2.2.3), unless another code was asked for.
        const returnCode = typeof verdict === 'number' ? verdict : 4;
        done(Object.assign(new Error(returnCode === 4 ? 'bad user name or password' : 'refused'), { returnCode }), null);
      },
    };
    const aedes = await Aedes.createBroker(options);
    this.aedes = aedes;
    // The "server": subscribed in-process before the port opens, so no event can slip past it.
    await new Promise<void>((resolve) => aedes.subscribe(topics.allOf('events'), (packet, cb) => {
      this.onEvent(packet.topic, packet.payload);
      cb();
    }, resolve));
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      aedes.handle(socket);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    this.port = address.port;
  }

  /** Stops the broker abruptly (every connection cut); start() brings it back on the same port. */
  async stop(): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    this.server = undefined;
    this.aedes = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (aedes !== undefined) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  /** Publishes a raw payload (possibly invalid) on a device's commands topic. */
  publishRaw(deviceId: string, payload: string): Promise<void> {
    const aedes = this.aedes;
    if (aedes === undefined) throw new Error('broker is stopped');
    return new Promise<void>((resolve, reject) =>
      aedes.publish(
        { cmd: 'publish', topic: topics.commands(deviceId), payload: Buffer.from(payload), qos: 1, retain: false, dup: false },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  }

  sendCommand(deviceId: string, command: DeviceCommand): Promise<void> {
    return this.publishRaw(deviceId, JSON.stringify(command));
  }

  nextCommandId(): string {
    this.commandSeq += 1;
    return `srv-${this.commandSeq}`;
  }

  copiesOf(eventId: string): EventCopy[] {
    return this.copies.filter((copy) => copy.event.id === eventId);
  }

  private onEvent(topic: string, payload: Buffer | string): void {
    const parsedTopic = parseDeviceTopic(topic);
    const parsed = DeviceEvent.safeParse(JSON.parse(payload.toString()));
    if (parsedTopic === undefined || !parsed.success) return;
    const copy: EventCopy = { deviceId: parsedTopic.deviceId, event: parsed.data };
    // A device's `ack` of a command is no event to answer (as in the real server).
    if (copy.event.type === 'ack') {
      this.acks.push(copy);
      return;
    }
    this.copies.push(copy);
    const index = (this.copyCount.get(copy.event.id) ?? 0) + 1;
    this.copyCount.set(copy.event.id, index);
    if (this.ackPolicy(copy, index) !== 'ack') return;
    const ts = Date.now();
    // Re-acknowledge duplicates, as the real server must (DESIGN.md "Alarms you can trust" §2).
    void this.sendCommand(copy.deviceId, { id: this.nextCommandId(), ts, type: 'received', eventId: copy.event.id }).then(() => {
      if (!this.sendTaken || this.taken.has(copy.event.id)) return;
      this.taken.add(copy.event.id);
      return this.sendCommand(copy.deviceId, { id: this.nextCommandId(), ts, type: 'taken', eventId: copy.event.id });
    });
  }
}

/** A plain MQTT client that watches topics, e.g. a device's retained status. */
export class Observer {
  readonly messages: Array<{ topic: string; json: unknown; retain: boolean }> = [];
  private client: MqttClient | undefined;

  async start(url: string, topic: string): Promise<void> {
    const client = connect(url, { clientId: `observer-${Math.random().toString(36).slice(2, 8)}`, reconnectPeriod: 100 });
    this.client = client;
    client.on('error', () => undefined);
    client.on('message', (t, payload, packet) => this.messages.push({ topic: t, json: JSON.parse(payload.toString()), retain: packet.retain }));
    await new Promise<void>((resolve) => client.once('connect', () => resolve()));
    await client.subscribeAsync(topic, { qos: 1 });
  }

  async stop(): Promise<void> {
    await this.client?.endAsync(true);
    this.client = undefined;
  }
}

/** Polls `predicate` every 10 ms; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs the registered cleanups in reverse order; use in afterEach. */
export class Cleanup {
  private readonly tasks: Array<() => unknown> = [];

  add<T extends { stop(): unknown }>(thing: T): T {
    this.tasks.push(() => thing.stop());
    return thing;
  }

  defer(task: () => unknown): void {
    this.tasks.push(task);
  }

  async run(): Promise<void> {
    while (this.tasks.length > 0) await this.tasks.pop()?.();
  }
}
