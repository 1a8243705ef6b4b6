/**
 * Test harness: a real gateway on port 0, real mqtt.js clients over TCP, and
 * one `close()` that ends everything a test opened (call it in afterEach).
 */
import { connect as tcpConnect } from 'node:net';
import type { Socket } from 'node:net';
import { generate, parser, type Packet } from 'mqtt-packet';
import { connectAsync } from 'mqtt';
import type { IClientOptions, MqttClient } from 'mqtt';
import { FakeClock, topics } from '@kanjia/protocol';
import { Gateway, generateDeviceSecret, hashDeviceSecret, verifyDeviceSecret } from '../src/index.js';
import type { DeviceAuthenticator, GatewayOptions, Logger, PresenceChange, UplinkMessage } from '../src/index.js';

export const HASH_KEY = Buffer.alloc(32, 7);
export const SERVICE_USER = 'svc:server';
export const SERVICE_SECRET = generateDeviceSecret();

/** Registered devices and their secrets. */
export const SECRETS: Readonly<Record<string, string>> = {
  'dev-001': generateDeviceSecret(),
  'dev-002': generateDeviceSecret(),
  'dev-003': generateDeviceSecret(),
};

/** Stores only keyed hashes, as the server will. */
export class HashTableAuthenticator implements DeviceAuthenticator {
  private readonly hashes = new Map(Object.entries(SECRETS).map(([id, secret]) => [id, hashDeviceSecret(HASH_KEY, secret)]));
  verify(deviceId: string, secret: string): boolean {
    const hash = this.hashes.get(deviceId);
    return hash !== undefined && verifyDeviceSecret(HASH_KEY, secret, hash);
  }
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger that keeps every line, to assert what is (and is not) logged. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (obj: object, msg?: string) => lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export interface StartedGateway {
  gateway: Gateway;
  port: number;
  clock: FakeClock;
  logger: ReturnType<typeof recordingLogger>;
  uplinks: UplinkMessage[];
  presence: PresenceChange[];
}

/** An ordinary valid SOS event. */
export function sos(id: string, ts = Date.UTC(2026, 0, 15, 2, 0, 0)): string {
  return JSON.stringify({ id, ts, type: 'sos' });
}

export class Harness {
  private readonly gateways: Gateway[] = [];
  private readonly clients: MqttClient[] = [];
  private readonly sockets: Socket[] = [];

  /** Starts a gateway with a FakeClock, a recording logger and a service account. */
  async gateway(options: Partial<GatewayOptions> = {}): Promise<StartedGateway> {
    const clock = new FakeClock();
    const logger = recordingLogger();
    const gateway = new Gateway({
      port: 0,
      authenticator: new HashTableAuthenticator(),
      serviceAccounts: [{ username: SERVICE_USER, secretHash: hashDeviceSecret(HASH_KEY, SERVICE_SECRET) }],
      hashKey: HASH_KEY,
      clock,
      logger,
      ...options,
    });
    this.gateways.push(gateway);
    const { port } = await gateway.start();
    const uplinks: UplinkMessage[] = [];
    const presence: PresenceChange[] = [];
    gateway.onUplink((m) => {
      uplinks.push(m);
    });
    gateway.onPresence((p) => presence.push(p));
    return { gateway, port, clock, logger, uplinks, presence };
  }

  /** Connects a device with its own id as client id; rejects when the CONNACK refuses. */
  async device(port: number, deviceId: string, options: Partial<IClientOptions> & { secret?: string; withWill?: boolean } = {}): Promise<MqttClient> {
    const { secret, withWill, ...rest } = options;
    const clientOptions: IClientOptions = {
      host: '127.0.0.1',
      port,
      clientId: deviceId,
      username: deviceId,
      password: secret ?? SECRETS[deviceId] ?? 'no-secret',
      reconnectPeriod: 0,
      connectTimeout: 5_000,
      ...rest,
    };
    if (withWill === true) {
      clientOptions.will = { topic: topics.status(deviceId), payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: true };
    }
    return this.track(connectAsync(clientOptions));
  }

  /** Connects the service account. */
  async service(port: number): Promise<MqttClient> {
    return this.track(
      connectAsync({ host: '127.0.0.1', port, clientId: SERVICE_USER, username: SERVICE_USER, password: SERVICE_SECRET, reconnectPeriod: 0, connectTimeout: 5_000 }),
    );
  }

  /** A raw TCP connection, for bytes no MQTT client would send. */
  async socket(port: number): Promise<Socket> {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    this.sockets.push(socket);
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return socket;
  }

  /** Ends every client, socket and gateway this harness opened. */
  async close(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.endAsync(true).catch(() => {})));
    for (const s of this.sockets.splice(0)) s.destroy();
    await Promise.all(this.gateways.splice(0).map((g) => g.stop()));
  }

  private async track(pending: Promise<MqttClient>): Promise<MqttClient> {
    const client = await pending;
    this.clients.push(client);
    // Tests provoke disconnects; an unhandled 'error' would fail the run.
    client.on('error', () => {});
    return client;
  }
}

/** Polls `predicate` every 5 ms until it is true; fails after `timeoutMs` of real time. */
export async function waitFor(predicate: () => boolean, timeoutMs = 3_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Resolves when the client's connection has closed. */
export function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve) => {
    if (!client.connected) return resolve();
    client.once('close', () => resolve());
  });
}

/** Collects the messages a client receives, by topic. */
export function collect(client: MqttClient): Array<{ topic: string; payload: string; retain: boolean }> {
  const got: Array<{ topic: string; payload: string; retain: boolean }> = [];
  client.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString('utf8'), retain: packet.retain }));
  return got;
}

/** Lets in-flight socket traffic settle (real time; for asserting that something did NOT happen). */
export function settle(ms = 150): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Subscribes and returns the granted QoS per filter; mqtt.js rejects a SUBACK with 128, so read it from the error. */
export async function subscribeGranted(client: MqttClient, filters: string[]): Promise<number[]> {
  try {
    return (await client.subscribeAsync(filters, { qos: 1 })).map((g) => g.qos);
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted;
    if (granted === undefined) throw err;
    return granted;
  }
}

/** An MQTT client at the byte level: sends what it is told, records every packet it gets and when the socket closed. */
export class RawClient {
  private static readonly open_ = new Set<RawClient>();
  readonly packets: Packet[] = [];
  closed = false;
  private readonly parser = parser({ protocolVersion: 4 });

  /** @param autoAck  answer every QoS 1 PUBLISH the gateway sends with a PUBACK, as a device does */
  constructor(
    readonly socket: Socket,
    autoAck = false,
  ) {
    this.parser.on('packet', (p: Packet) => {
      this.packets.push(p);
      if (autoAck && p.cmd === 'publish' && p.qos === 1) this.send({ cmd: 'puback', messageId: p.messageId as number });
    });
    socket.on('data', (chunk: Buffer) => this.parser.parse(chunk));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static async open(port: number, options: { autoAck?: boolean } = {}): Promise<RawClient> {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const raw = new RawClient(socket, options.autoAck);
    RawClient.open_.add(raw);
    return raw;
  }

  /** Destroys every socket opened with open() (call it in afterEach). */
  static closeAll(): void {
    for (const raw of RawClient.open_) raw.socket.destroy();
    RawClient.open_.clear();
  }

  /** Writes the packets in one socket write. */
  send(...packets: Packet[]): void {
    this.socket.write(Buffer.concat(packets.map((p) => generate(p))));
  }

  count(cmd: Packet['cmd']): number {
    return this.packets.filter((p) => p.cmd === cmd).length;
  }
}

/** A CONNECT of a registered device (its own secret unless `password`), keep-alive 30 s. */
export function connectPacket(deviceId: string, options: { keepalive?: number; password?: string } = {}): Packet {
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: deviceId,
    keepalive: options.keepalive ?? 30,
    username: deviceId,
    password: Buffer.from(options.password ?? SECRETS[deviceId] ?? 'x'),
  };
}
