/**
 * One device of the load fleet: a real MQTT 3.1.1 connection over a plain
 * net.Socket (packets made and read by mqtt-packet), with the session of a
 * real device (docs/protocol.md §2): CONNECT with the offline will, SUBSCRIBE
 * to its commands topic and wait for the SUBACK, PUBLISH the retained
 * `online`, then the buffered events. It answers every command with an `ack`,
 * stops resending an SOS at its `received` and resends it with the contract's
 * backoff (../resend.ts) until then.
 *
 * Why not SimDevice (mqtt.js): measured with tests/src/bench/client-cost.ts
 * (2,000 connections to a bare aedes, on the shared 2-core machine under load),
 * a SimDevice costs its process 15–19 KB of heap and 0.6 ms of CPU per
 * connection, a LoadDevice 3.5–7 KB and 0.36–0.42 ms: the bench's own process
 * then holds 10,000 devices beside the SMS server and the live feed. It keeps
 * only what the contract needs, for load runs on loopback; it is not a second
 * reference device: behaviour questions are answered by SimDevice.
 *
 * Unlike SimDevice it does not pace its uplinks (docs/protocol.md §4, 50 per
 * 10 s): a load run keeps each device far below that by spreading its presses
 * over the fleet (bench:load presses round-robin; 5,000 SOS/s over 10,000
 * devices is one press per device every 2 s, with its ack).
 */
import net from 'node:net';
import * as mqttPacket from 'mqtt-packet';
import { DeviceCommand, topics } from '@kanjia/protocol';
import { refusedRetryDelayMs, type RefusedRetryPolicy } from '../reconnect.js';
import { flushDelayMs, resendDelayMs, type RandomSource, type ResendPolicy } from '../resend.js';

export interface LoadDeviceHooks {
  /** A session is up (SUBACK received, `online` sent). */
  online(device: LoadDevice, reconnect: boolean): void;
  /** The connection closed without stop() (dropped by the broker, refused, or reset). */
  offline(device: LoadDevice, wasOnline: boolean): void;
  /** The first `received` for a pending event. */
  received(device: LoadDevice, eventId: string, pressedAtMs: number, copies: number): void;
  /** A CONNACK with a return code other than 0. */
  refused(device: LoadDevice, code: number): void;
}

export interface LoadDeviceSettings {
  host: string;
  port: number;
  keepaliveSeconds: number;
  /** Wait before a reconnect after a cut or a refusal other than 3, ×0.5–1.5 jitter. */
  reconnectPeriodMs: number;
  /** Wait before a reconnect after CONNACK 3 (../reconnect.ts). */
  refusedRetry: RefusedRetryPolicy;
  reconnectFlushJitterMs: number;
  resend: ResendPolicy;
  random: RandomSource;
  /** Monotonic ms for latencies (performance.now). */
  now: () => number;
  hooks: LoadDeviceHooks;
}

interface PendingEvent {
  readonly payload: string;
  readonly pressedAtMs: number;
  copies: number;
  resends: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

type State = 'idle' | 'connecting' | 'subscribing' | 'online' | 'stopped';

const OFFLINE = JSON.stringify({ state: 'offline' });
/** Command ids kept to answer a repeat silently; small, since a load device sees few commands. */
const SEEN_COMMANDS = 32;

export class LoadDevice {
  private socket: net.Socket | undefined;
  private state: State = 'idle';
  private connectedBefore = false;
  private packetId = 0;
  private counter = 0;
  private readonly boot: string;
  private lastSentMs = 0;
  /** CONNACK 3 in a row (the server unavailable or pacing logins); 0 once a session starts. */
  private unavailable = 0;
  /** The connection now closing was refused with CONNACK 3. */
  private refusedUnavailable = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private flushTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly pending = new Map<string, PendingEvent>();
  private readonly seen: string[] = [];
  /** Copies and messages published, acks included. */
  published = 0;

  constructor(
    readonly deviceId: string,
    private readonly secret: string,
    private readonly settings: LoadDeviceSettings,
  ) {
    this.boot = Date.now().toString(36);
  }

  get online(): boolean {
    return this.state === 'online';
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  connect(): void {
    if (this.state === 'stopped' || this.socket !== undefined) return;
    this.state = 'connecting';
    const socket = net.connect({ host: this.settings.host, port: this.settings.port });
    this.socket = socket;
    socket.setNoDelay(true);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (packet: mqttPacket.Packet) => this.onPacket(packet));
    parser.on('error', () => socket.destroy());
    socket.on('connect', () =>
      this.write({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: this.deviceId,
        username: this.deviceId,
        password: Buffer.from(this.secret),
        clean: true,
        keepalive: this.settings.keepaliveSeconds,
        will: { topic: topics.status(this.deviceId), payload: OFFLINE, qos: 1, retain: true },
      }),
    );
    socket.on('data', (chunk: Buffer) => parser.parse(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => this.onClose(socket));
  }

  /** Cuts the connection without DISCONNECT (the broker publishes the will); the device reconnects. */
  drop(): void {
    this.socket?.destroy();
  }

  /** Ends for good: no DISCONNECT (a bench does not need its goodbye), every timer cleared. */
  stop(): void {
    this.state = 'stopped';
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.flushTimer);
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    this.socket?.destroy();
  }

  /** Sends a PINGREQ when nothing went out for half the keepalive; called by the fleet's sweep. */
  keepAlive(nowMs: number): void {
    if (this.state !== 'online' || nowMs - this.lastSentMs < (this.settings.keepaliveSeconds * 1000) / 2) return;
    this.write({ cmd: 'pingreq' });
  }

  /**
   * Presses SOS: sent now if online (else on the next session), resent with backoff until `received`. Returns the event id.
   * `once`: one copy now, not tracked, nothing resent — for a broker with no Kanjia behind it (no `received` will ever come); offline, nothing is sent.
   */
  pressSos(options: { once?: boolean } = {}): string {
    const id = this.nextId();
    const payload = JSON.stringify({ id, ts: Date.now(), type: 'sos' });
    if (options.once === true) {
      if (this.state === 'online') this.publish(topics.events(this.deviceId), payload);
      return id;
    }
    const event: PendingEvent = { payload, pressedAtMs: this.settings.now(), copies: 0, resends: 0, timer: undefined };
    this.pending.set(id, event);
    this.transmit(id, event);
    return id;
  }

  /** One telemetry message, QoS 1, no app-level acknowledgement; false when offline (not sent). */
  sendTelemetry(readings: Record<string, number | boolean>): boolean {
    if (this.state !== 'online') return false;
    this.publish(topics.telemetry(this.deviceId), JSON.stringify({ id: this.nextId(), ts: Date.now(), readings }));
    return true;
  }

  private nextId(): string {
    this.counter += 1;
    return `${this.deviceId.slice(0, 40)}-${this.boot}-${this.counter.toString(36)}`;
  }

  private write(packet: mqttPacket.Packet): void {
    const socket = this.socket;
    if (socket === undefined || socket.destroyed) return;
    this.lastSentMs = this.settings.now();
    socket.write(mqttPacket.generate(packet));
  }

  private publish(topic: string, payload: string, retain = false): void {
    this.packetId = (this.packetId % 65535) + 1;
    this.published += 1;
    this.write({ cmd: 'publish', topic, payload, qos: 1, retain, dup: false, messageId: this.packetId });
  }

  private transmit(id: string, event: PendingEvent): void {
    clearTimeout(event.timer);
    event.timer = undefined;
    if (this.state !== 'online' || !this.pending.has(id)) return;
    event.copies += 1;
    this.publish(topics.events(this.deviceId), event.payload);
    event.resends += 1;
    event.timer = setTimeout(() => this.transmit(id, event), resendDelayMs(this.settings.resend, event.resends, this.settings.random));
  }

  private onPacket(packet: mqttPacket.Packet): void {
    switch (packet.cmd) {
      case 'connack': {
        const code = packet.returnCode ?? 0;
        if (code !== 0) {
          if (code === 3) {
            this.unavailable += 1;
            this.refusedUnavailable = true;
          }
          this.settings.hooks.refused(this, code);
          this.socket?.destroy();
          return;
        }
        this.state = 'subscribing';
        this.unavailable = 0;
        this.packetId = (this.packetId % 65535) + 1;
        this.write({ cmd: 'subscribe', messageId: this.packetId, subscriptions: [{ topic: topics.commands(this.deviceId), qos: 1 }] });
        return;
      }
      case 'suback': {
        if (this.state !== 'subscribing') return;
        if ((packet.granted as number[]).some((g) => g === 0x80)) {
          this.socket?.destroy();
          return;
        }
        this.publish(topics.status(this.deviceId), JSON.stringify({ id: this.nextId(), ts: Date.now(), state: 'online', firmware: 'kanjia-load/0.1.0', batteryPct: 100 }), true);
        this.state = 'online';
        const reconnect = this.connectedBefore;
        this.connectedBefore = true;
        this.settings.hooks.online(this, reconnect);
        const flush = (): void => {
          for (const [id, event] of this.pending) this.transmit(id, event);
        };
        if (!reconnect || this.pending.size === 0) flush();
        else this.flushTimer = setTimeout(flush, flushDelayMs(this.settings.reconnectFlushJitterMs, this.settings.random));
        return;
      }
      case 'publish':
        if (packet.qos > 0 && packet.messageId !== undefined) this.write({ cmd: 'puback', messageId: packet.messageId });
        this.onCommand(packet.payload);
        return;
      default:
        return; // puback, pingresp: nothing to do
    }
  }

  private onCommand(payload: string | Buffer): void {
    let json: unknown;
    try {
      json = JSON.parse(payload.toString());
    } catch {
      return; // not JSON: a real device ignores it too
    }
    const parsed = DeviceCommand.safeParse(json);
    if (!parsed.success) return;
    const command = parsed.data;
    // Every copy is acknowledged (docs/protocol.md, the command rule).
    this.publish(topics.events(this.deviceId), JSON.stringify({ id: this.nextId(), ts: Date.now(), type: 'ack', commandId: command.id }));
    if (this.seen.includes(command.id)) return;
    this.seen.push(command.id);
    if (this.seen.length > SEEN_COMMANDS) this.seen.shift();
    if (command.type !== 'received') return;
    const event = this.pending.get(command.eventId);
    if (event === undefined) return;
    clearTimeout(event.timer);
    this.pending.delete(command.eventId);
    this.settings.hooks.received(this, command.eventId, event.pressedAtMs, event.copies);
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = undefined;
    clearTimeout(this.flushTimer);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.timer = undefined;
    }
    const wasOnline = this.state === 'online';
    if (this.state === 'stopped') return;
    this.state = 'idle';
    this.settings.hooks.offline(this, wasOnline);
    // After CONNACK 3 the contract's growing random wait (docs/protocol.md); after a cut, about reconnectPeriodMs.
    const delay = this.refusedUnavailable
      ? refusedRetryDelayMs(this.settings.refusedRetry, this.unavailable, this.settings.random)
      : this.settings.reconnectPeriodMs * (0.5 + this.settings.random());
    this.refusedUnavailable = false;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }
}
