/**
 * One simulated device speaking MQTT contract v1 over a real MQTT connection,
 * the way a real emergency button must (DESIGN.md "Alarms you can trust"):
 * an SOS is resent with the same id until the server's `received` for that id
 * arrives on the commands topic — a broker PUBACK proves nothing about the
 * alarm being recorded — and presses made while offline wait, in order, for
 * the next connection.
 */
import { connect, type MqttClient } from 'mqtt';
import {
  AccelWindow,
  DeviceCommand,
  DeviceEvent,
  DeviceId,
  DeviceStatus,
  Telemetry,
  formatZodError,
  systemClock,
  topics,
  type Clock,
  type Readings,
  type TimerHandle,
} from '@kanjia/protocol';
import { describeCommand, describeEvent } from './beeps.js';
import { defaultFlushJitterMs, flushDelayMs, resendDelayMs, resendPolicy, type RandomSource, type ResendPolicy } from './resend.js';
import { SimDeviceError } from './errors.js';
import { redactUrl, stderrLogger, type SimLogger } from './logger.js';
import { TypedEvents, type Listener } from './typed-events.js';

export interface SimDeviceOptions {
  /** e.g. `mqtt://127.0.0.1:1883`, or `mqtts://kanjia.example.cn:8883` over TLS. */
  brokerUrl: string;
  /** PEM of the CA that signed the broker's certificate, for mqtts:// to a server whose certificate the system does not trust (a CA of one's own). */
  ca?: string | Buffer;
  deviceId: string;
  /** The per-device secret; sent as the MQTT password, never logged. */
  secret: string;
  /** Reported in the `online` status. Default `kanjia-sim/0.1.0`. */
  firmware?: string;
  /** Reported in the `online` status, 0–100. Default 100. */
  batteryPct?: number;
  /** Timestamps and resend timers. Default: the system clock. */
  clock?: Clock;
  /**
   * Base of the resend backoff for an event still waiting for its `received`
   * (docs/protocol.md, the SOS rule): the n-th resend waits a random half to
   * all of min(cap, base × 2^n). Default 5000 ms (first resend 5–10 s after the press).
   */
  resendIntervalMs?: number;
  /** Longest wait between two copies. Default 12 × resendIntervalMs (60 s). */
  resendMaxIntervalMs?: number;
  /** On a reconnect the buffered events go after a random 0 to this many ms (then paced). Default min(1000, resendIntervalMs); 0 = at once. */
  reconnectFlushJitterMs?: number;
  /** Uniform [0, 1) numbers for the jitter. Default Math.random; `seededRandom(seed)` for a reproducible schedule. */
  random?: RandomSource;
  /** Interval between reconnection attempts. Default 1000 ms. */
  reconnectPeriodMs?: number;
  /** MQTT keepalive. Default 30 s: the broker notices a dead device (and publishes its will) within 45 s. */
  keepaliveSeconds?: number;
  /**
   * How often the device repeats its retained `online` status while connected,
   * as a heartbeat the server's device-health check counts on (a button that
   * sleeps reports every 4 h). Default 4 h; 0 = never.
   */
  heartbeatIntervalMs?: number;
  /** Default: lines on stderr. */
  logger?: SimLogger;
  /**
   * First part of every message id (`{idPrefix}-{bootTimeBase36}-{counter}`).
   * Default: the device id, cut to 40 characters so ids stay within the 64 the contract allows.
   * Give a distinct prefix per run when the clock is a FakeClock that always starts at the same time.
   */
  idPrefix?: string;
  /**
   * Uplink pacing, as docs/protocol.md asks of every device: at most `burst`
   * messages at once, then `perSecond` (resends, acks and the reconnect flush
   * included), under the gateway's default of 50 per 10 s, which cuts a device
   * off. A stuck button's presses queue and go out in order, one copy of each at
   * a time. Default 40 and 4; `perSecond: 0` = not paced (load tests that
   * measure the gateway's own limit).
   */
  uplink?: { burst: number; perSecond: number };
}

/** The buttons a person presses. */
export type ButtonName = 'sos' | 'checkIn' | 'cancel';

/** An event body as a caller writes it; the device adds `id` and `ts`. */
export type EventBody = DistributiveOmit<DeviceEvent, 'id' | 'ts'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export type ReceivedCommand = Extract<DeviceCommand, { type: 'received' }>;
export type TakenCommand = Extract<DeviceCommand, { type: 'taken' }>;

/** What the caller of pressSos() & co. can await. */
export interface AckHandle {
  readonly eventId: string;
  readonly event: DeviceEvent;
  /** Resolves with the first `received` for this event (resending stops then); rejects with STOPPED if the device stops first. */
  readonly received: Promise<ReceivedCommand>;
  /** Resolves with the first `taken` for this event; rejects with STOPPED if the device stops first. */
  readonly taken: Promise<TakenCommand>;
  /** Copies published so far (1 after the first send; 0 while the device has been offline since the press). */
  readonly copiesSent: number;
}

export interface SimDeviceEvents {
  /** The session is up: online status published, commands subscribed, buffered events flushed. */
  online: { deviceId: string; reconnect: boolean };
  /** The connection was lost (`reason: 'connection lost'`) or the device was stopped (`'stopped'`). */
  offline: { deviceId: string; reason: 'connection lost' | 'stopped' };
  /** Every valid command, before the more specific events below. */
  command: DeviceCommand;
  /** A `received` arrived; `first` is false for a duplicate or an id this device is not waiting for. */
  received: { command: ReceivedCommand; event: DeviceEvent | undefined; first: boolean };
  taken: { command: TakenCommand; event: DeviceEvent | undefined };
  /** A message on the commands topic that is not JSON or not a v1 command; it was ignored. */
  invalidCommand: { reason: string };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

/** A deferred whose rejection never counts as unhandled: callers who do not await it lose nothing. */
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** An event sent with the app-level acknowledgement (SOS, check-in, cancel, …). */
interface TrackedEvent {
  readonly event: DeviceEvent;
  copiesSent: number;
  /** Resends scheduled so far: the next wait is resendDelayMs(policy, resends + 1). Starts again only with a new event (a `received` ends this one). */
  resends: number;
  /** A copy is waiting for its turn in the uplink queue (never more than one). */
  queued: boolean;
  resendTimer: TimerHandle | undefined;
  receivedDone: boolean;
  takenDone: boolean;
  readonly received: Deferred<ReceivedCommand>;
  readonly taken: Deferred<TakenCommand>;
}

/** Acknowledged events still waiting for `taken` (a check-in never gets one); the oldest beyond this are forgotten. */
const MAX_AWAITING_TAKEN = 64;

/** Command ids remembered to recognise a repeat (the server resends until acknowledged); the oldest beyond this are forgotten. */
const MAX_SEEN_COMMAND_IDS = 512;

/** Real-time guard for the goodbye on stop(): network I/O, not domain time, so not the injected clock. */
const STOP_GRACE_MS = 1000;

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3) and their MQTT 5 reason-code equivalents that mean "bad credentials". */
const AUTH_REFUSAL_CODES = new Set([4, 5, 134, 135]);

/** Ids unique per device and stable across retries: `{prefix}-{boot time base36}-{counter base36}`. */
class MessageIds {
  private bootBase36: string | undefined;
  private counter = 0;

  constructor(
    private readonly prefix: string,
    private readonly clock: Clock,
  ) {}

  next(): string {
    // Taken at the first id, not in the constructor, so a device built long before it starts still gets fresh ids.
    this.bootBase36 ??= this.clock.nowMs().toString(36);
    this.counter += 1;
    return `${this.prefix}-${this.bootBase36}-${this.counter.toString(36)}`;
  }
}

type Lifecycle = 'idle' | 'starting' | 'running' | 'stopped';

/** A simulated device: constructor assigns, start() connects, stop() ends everything it owns. */
export class SimDevice {
  readonly deviceId: string;
  private readonly brokerUrl: string;
  private readonly ca: string | Buffer | undefined;
  private readonly secret: string;
  private readonly firmware: string;
  private batteryPct: number;
  private readonly clock: Clock;
  private readonly resend: ResendPolicy;
  private readonly reconnectFlushJitterMs: number;
  private readonly random: RandomSource;
  private flushTimer: TimerHandle | undefined;
  private readonly reconnectPeriodMs: number;
  private readonly keepaliveSeconds: number;
  private readonly heartbeatIntervalMs: number;
  private heartbeatTimer: TimerHandle | undefined;
  private readonly logger: SimLogger;
  private readonly ids: MessageIds;
  private readonly bus: TypedEvents<SimDeviceEvents>;
  /** Insertion order is press order: buffered events go out in this order on reconnect. */
  private readonly tracked = new Map<string, TrackedEvent>();
  /** Rejecters of sendTelemetry()/sendEvent() promises still waiting for their PUBACK. */
  private readonly unackedPublishes = new Set<(error: Error) => void>();

  private lifecycle: Lifecycle = 'idle';
  private client: MqttClient | undefined;
  private startWaiter: Deferred<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** True between a complete session setup and the next close. */
  private sessionReady = false;
  /** Bumped on every connect and close, so a session setup that straddles a close gives up. */
  private connectionSeq = 0;
  private connectedBefore = false;
  /** Last connection problem logged, so a broker down for an hour gives one line, not 3600. */
  private lastProblem: string | undefined;
  private lastAlarmEventId: string | undefined;
  /** Ids of the commands already acted on, oldest first. */
  private readonly seenCommandIds = new Set<string>();
  private acksSent = 0;
  private readonly uplinkBurst: number;
  private readonly uplinkPerSecond: number;
  private uplinkTokens: number;
  private uplinkTokensAt = 0;
  /** Uplinks waiting for a token, in order: `run` publishes (the session is up), `drop` when the connection closed first. */
  private readonly uplinkQueue: Array<{ run: (client: MqttClient) => void; drop: () => void }> = [];
  private uplinkTimer: TimerHandle | undefined;

  constructor(options: SimDeviceOptions) {
    const problems: string[] = [];
    const id = DeviceId.safeParse(options.deviceId);
    if (!id.success) problems.push(`deviceId "${options.deviceId}": ${formatZodError(id.error)}`);
    if (options.secret.length === 0) problems.push('secret: must not be empty');
    if (!/^(mqtt|mqtts|tcp|tls|ws|wss):\/\/[^/]/.test(options.brokerUrl)) {
      problems.push(`brokerUrl "${redactUrl(options.brokerUrl)}": expected mqtt://host:port (or mqtts://, ws://, wss://)`);
    }
    const idPrefix = options.idPrefix ?? options.deviceId.slice(0, 40);
    if (!/^[A-Za-z0-9._:-]{1,40}$/.test(idPrefix)) problems.push(`idPrefix "${idPrefix}": 1–40 characters of A–Z, a–z, 0–9, . _ : -`);
    for (const [name, value] of [
      ['resendIntervalMs', options.resendIntervalMs],
      ['resendMaxIntervalMs', options.resendMaxIntervalMs],
      ['reconnectPeriodMs', options.reconnectPeriodMs],
      ['keepaliveSeconds', options.keepaliveSeconds],
    ] as const) {
      if (value !== undefined && !(Number.isFinite(value) && value > 0)) problems.push(`${name}: must be a positive number, got ${value}`);
    }
    if (options.uplink !== undefined && !(options.uplink.burst >= 1 && options.uplink.perSecond >= 0 && Number.isFinite(options.uplink.burst + options.uplink.perSecond))) {
      problems.push(`uplink: burst ≥ 1 and perSecond ≥ 0, got ${JSON.stringify(options.uplink)}`);
    }
    if (options.reconnectFlushJitterMs !== undefined && !(Number.isFinite(options.reconnectFlushJitterMs) && options.reconnectFlushJitterMs >= 0)) {
      problems.push(`reconnectFlushJitterMs: must be a number ≥ 0, got ${options.reconnectFlushJitterMs}`);
    }
    if (options.resendMaxIntervalMs !== undefined && options.resendMaxIntervalMs < (options.resendIntervalMs ?? 5000)) {
      problems.push(`resendMaxIntervalMs: must be at least resendIntervalMs (${options.resendIntervalMs ?? 5000}), got ${options.resendMaxIntervalMs}`);
    }
    if (options.batteryPct !== undefined && !(options.batteryPct >= 0 && options.batteryPct <= 100)) {
      problems.push(`batteryPct: must be 0–100, got ${options.batteryPct}`);
    }
    if (problems.length > 0) throw new SimDeviceError('INVALID_OPTIONS', `SimDevice options: ${problems.join('; ')}`);

    this.deviceId = options.deviceId;
    this.brokerUrl = options.brokerUrl;
    this.ca = options.ca;
    this.secret = options.secret;
    this.firmware = options.firmware ?? 'kanjia-sim/0.1.0';
    this.batteryPct = options.batteryPct ?? 100;
    this.clock = options.clock ?? systemClock;
    this.resend = resendPolicy(options.resendIntervalMs ?? 5000, options.resendMaxIntervalMs);
    this.reconnectFlushJitterMs = options.reconnectFlushJitterMs ?? defaultFlushJitterMs(this.resend.baseMs);
    this.random = options.random ?? Math.random;
    this.reconnectPeriodMs = options.reconnectPeriodMs ?? 1000;
    this.keepaliveSeconds = options.keepaliveSeconds ?? 30;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 4 * 3600_000;
    this.uplinkBurst = options.uplink?.burst ?? 40;
    this.uplinkPerSecond = options.uplink?.perSecond ?? 4;
    this.uplinkTokens = this.uplinkBurst;
    this.logger = options.logger ?? stderrLogger;
    this.ids = new MessageIds(idPrefix, this.clock);
    this.bus = new TypedEvents<SimDeviceEvents>((event, error) =>
      this.logger.warn(`${this.tag} a listener of "${String(event)}" threw: ${errorMessage(error)}`),
    );
  }

  /** True while a session is up (status published, commands subscribed). */
  get online(): boolean {
    return this.sessionReady;
  }

  /** `ack` events published so far (one per copy of a command received). */
  get commandAcksSent(): number {
    return this.acksSent;
  }

  /** Ids of events still waiting for their `received`, in press order. */
  get pendingEventIds(): string[] {
    return [...this.tracked.values()].filter((t) => !t.receivedDone).map((t) => t.event.id);
  }

  /** Subscribes to a device event; returns the function that unsubscribes. */
  on<K extends keyof SimDeviceEvents>(event: K, listener: Listener<SimDeviceEvents[K]>): () => void {
    return this.bus.on(event, listener);
  }

  off<K extends keyof SimDeviceEvents>(event: K, listener: Listener<SimDeviceEvents[K]>): void {
    this.bus.off(event, listener);
  }

  /**
   * Connects and resolves once the first session is up. Keeps trying while the
   * broker is unreachable (a device waits for its network); rejects with
   * AUTH_REFUSED / CONNECT_REFUSED when the broker refuses the connection, and
   * with STOPPED when stop() is called first. A refused device is stopped.
   */
  start(): Promise<void> {
    if (this.lifecycle === 'stopped') return Promise.reject(new SimDeviceError('STOPPED', `${this.tag} was stopped; create a new SimDevice`));
    if (this.lifecycle !== 'idle') return Promise.reject(new SimDeviceError('ALREADY_STARTED', `${this.tag} start() was already called`));
    this.lifecycle = 'starting';
    const waiter = deferred<void>();
    this.startWaiter = waiter;

    const offline: DeviceStatus = { state: 'offline' };
    let client: MqttClient;
    try {
      client = this.connectClient(offline);
    } catch (error) {
      this.lifecycle = 'stopped';
      this.startWaiter = undefined;
      return Promise.reject(new SimDeviceError('INVALID_OPTIONS', `${this.tag} cannot connect to "${redactUrl(this.brokerUrl)}": ${errorMessage(error)}`, { cause: error }));
    }
    this.client = client;
    client.on('connect', () => {
      this.onConnect(client).catch((error: unknown) => this.logger.warn(`${this.tag} session setup failed: ${errorMessage(error)}`));
    });
    client.on('close', () => this.onClose());
    client.on('error', (error) => this.onClientError(error));
    client.on('message', (topic, payload) => this.onMessage(topic, payload));
    return waiter.promise;
  }

  private connectClient(offline: DeviceStatus): MqttClient {
    return connect(this.brokerUrl, {
      protocolVersion: 4,
      clientId: this.deviceId,
      username: this.deviceId,
      password: this.secret,
      // Clean session: nothing is kept on the broker while we are away, which is
      // why acknowledgement relies on resending, not on a persistent session.
      clean: true,
      keepalive: this.keepaliveSeconds,
      reconnectPeriod: this.reconnectPeriodMs,
      connectTimeout: 10_000,
      // We subscribe ourselves on every connect and wait for the SUBACK before
      // flushing events, so a `received` cannot race the subscription.
      resubscribe: false,
      // Once running, keep trying after a refusal (the server may be restarting with
      // its registry not yet loaded); start() turns the first refusal into an error.
      reconnectOnConnackError: true,
      will: { topic: topics.status(this.deviceId), payload: JSON.stringify(offline), qos: 1, retain: true },
      ...(this.ca !== undefined ? { ca: this.ca } : {}),
    });
  }

  /** Idempotent: publishes a retained `offline`, disconnects, clears every timer, rejects pending handles with STOPPED. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown(false);
    return this.stopping;
  }

  /**
   * The device dies (power cut, flat battery): the connection is cut without
   * DISCONNECT or goodbye, so the broker publishes the last will, and the device
   * does not come back. Power returning is a new boot: a new SimDevice.
   */
  powerOff(): Promise<void> {
    this.stopping ??= this.shutdown(true);
    return this.stopping;
  }

  /** The battery level reported in every later `online` status (heartbeat), 0–100. */
  setBattery(pct: number): void {
    if (!(pct >= 0 && pct <= 100)) throw new SimDeviceError('INVALID_OPTIONS', `${this.tag} batteryPct: must be 0–100, got ${pct}`);
    this.batteryPct = pct;
  }

  /** The battery level the device reports. */
  get battery(): number {
    return this.batteryPct;
  }

  /**
   * Cuts the network connection abruptly, as a lost signal would: no DISCONNECT,
   * so the broker publishes the last will; the device reconnects after reconnectPeriodMs.
   */
  dropConnection(): void {
    this.client?.stream.destroy();
  }

  /** Presses one of the device's buttons by name (see pressSos, pressCheckIn, pressCancel). */
  press(button: ButtonName): AckHandle {
    switch (button) {
      case 'sos':
        return this.pressSos();
      case 'checkIn':
        return this.pressCheckIn();
      case 'cancel':
        return this.pressCancel();
    }
  }

  /** The SOS button (一键呼叫): sent with QoS 1 and resent, same id, until `received`. */
  pressSos(): AckHandle {
    return this.sendAcked({ type: 'sos' });
  }

  /** The daily "I'm fine" press (平安打卡), acknowledged like an SOS. */
  pressCheckIn(): AckHandle {
    return this.sendAcked({ type: 'checkIn' });
  }

  /** Cancel press; `refId` defaults to this device's latest SOS or fall event, if any. */
  pressCancel(refId: string | undefined = this.lastAlarmEventId): AckHandle {
    return this.sendAcked(refId === undefined ? { type: 'cancel' } : { type: 'cancel', refId });
  }

  /** Sends any event with the app-level acknowledgement: resent with backoff (resendIntervalMs doubling, with jitter) until `received`. */
  sendAcked(body: EventBody): AckHandle {
    this.assertUsable();
    const event = this.makeEvent(body);
    const tracked: TrackedEvent = {
      event,
      copiesSent: 0,
      resends: 0,
      queued: false,
      resendTimer: undefined,
      receivedDone: false,
      takenDone: false,
      received: deferred<ReceivedCommand>(),
      taken: deferred<TakenCommand>(),
    };
    this.tracked.set(event.id, tracked);
    if (event.type === 'sos' || event.type === 'fall') this.lastAlarmEventId = event.id;
    this.logger.info(`${this.tag} ${describeEvent(event.type, event.id)}${this.sessionReady ? '' : ' — offline, queued'}`);
    this.transmit(tracked);
    return {
      eventId: event.id,
      event,
      received: tracked.received.promise,
      taken: tracked.taken.promise,
      get copiesSent() {
        return tracked.copiesSent;
      },
    };
  }

  /** Sends an event with QoS 1 and no app-level acknowledgement; resolves on PUBACK (after reconnect if offline). */
  async sendEvent(body: EventBody): Promise<DeviceEvent> {
    this.assertUsable();
    const event = this.makeEvent(body);
    this.logger.info(`${this.tag} ${describeEvent(event.type, event.id)}`);
    await this.publishQos1(topics.events(this.deviceId), event);
    return event;
  }

  /** Sends sensor readings with QoS 1; resolves on PUBACK (after reconnect if offline). */
  async sendTelemetry(readings: Readings): Promise<Telemetry> {
    this.assertUsable();
    const parsed = Telemetry.safeParse({ id: this.ids.next(), ts: this.clock.nowMs(), readings });
    if (!parsed.success) throw new SimDeviceError('INVALID_PAYLOAD', `${this.tag} telemetry: ${formatZodError(parsed.error)}`);
    await this.publishQos1(topics.telemetry(this.deviceId), parsed.data);
    return parsed.data;
  }

  /** Sends one accelerometer window (a wearable's raw data) with QoS 1; resolves on PUBACK. */
  async sendAccel(window: AccelWindow): Promise<AccelWindow> {
    this.assertUsable();
    const parsed = AccelWindow.safeParse(window);
    if (!parsed.success) throw new SimDeviceError('INVALID_PAYLOAD', `${this.tag} accel window: ${formatZodError(parsed.error)}`);
    await this.publishQos1(topics.accel(this.deviceId), parsed.data);
    return parsed.data;
  }

  private get tag(): string {
    return `[${this.deviceId}]`;
  }

  private assertUsable(): void {
    if (this.lifecycle === 'idle') throw new SimDeviceError('NOT_STARTED', `${this.tag} call start() first`);
    if (this.lifecycle === 'stopped') throw new SimDeviceError('STOPPED', `${this.tag} was stopped`);
  }

  private makeEvent(body: EventBody): DeviceEvent {
    const parsed = DeviceEvent.safeParse({ id: this.ids.next(), ts: this.clock.nowMs(), ...body });
    if (!parsed.success) throw new SimDeviceError('INVALID_PAYLOAD', `${this.tag} event: ${formatZodError(parsed.error)}`);
    return parsed.data;
  }

  /** Publishes one copy now if the session is up and schedules the next; offline, the connect handler will call it again. */
  private transmit(tracked: TrackedEvent): void {
    this.clock.clearTimeout(tracked.resendTimer);
    tracked.resendTimer = undefined;
    if (!this.sessionReady || this.client === undefined || tracked.receivedDone || tracked.queued) return;
    tracked.queued = true;
    this.uplink(
      (client) => {
        tracked.queued = false;
        if (tracked.receivedDone) return;
        tracked.copiesSent += 1;
        if (tracked.copiesSent > 1) {
          this.logger.debug?.(`${this.tag} resend ${tracked.event.type} ${tracked.event.id} (copy ${tracked.copiesSent}, no "received" yet)`);
        }
        // The PUBACK is not what we wait for; a failed copy is simply followed by the next one.
        client.publish(topics.events(this.deviceId), JSON.stringify(tracked.event), { qos: 1 }, () => undefined);
        tracked.resends += 1;
        tracked.resendTimer = this.clock.setTimeout(() => this.transmit(tracked), resendDelayMs(this.resend, tracked.resends, this.random));
      },
      () => {
        // The connection closed first: the next connect transmits every pending event again.
        tracked.queued = false;
      },
    );
  }

  /** Runs `run` now if a token is left and nothing waits, else in turn; `drop` if the connection closes first. */
  private uplink(run: (client: MqttClient) => void, drop: () => void): void {
    if (this.uplinkQueue.length === 0 && this.takeUplinkToken() && this.client !== undefined) {
      run(this.client);
      return;
    }
    this.uplinkQueue.push({ run, drop });
    this.scheduleUplinkDrain();
  }

  private takeUplinkToken(): boolean {
    if (this.uplinkPerSecond <= 0) return true;
    const now = this.clock.nowMs();
    this.uplinkTokens = Math.min(this.uplinkBurst, this.uplinkTokens + ((now - this.uplinkTokensAt) / 1000) * this.uplinkPerSecond);
    this.uplinkTokensAt = now;
    if (this.uplinkTokens < 1) return false;
    this.uplinkTokens -= 1;
    return true;
  }

  private scheduleUplinkDrain(): void {
    if (this.uplinkTimer !== undefined || this.uplinkQueue.length === 0) return;
    const waitMs = this.uplinkPerSecond <= 0 ? 0 : Math.max(1, Math.ceil(((1 - this.uplinkTokens) / this.uplinkPerSecond) * 1000));
    this.uplinkTimer = this.clock.setTimeout(() => {
      this.uplinkTimer = undefined;
      while (this.uplinkQueue.length > 0 && this.sessionReady && this.client !== undefined && this.takeUplinkToken()) this.uplinkQueue.shift()?.run(this.client);
      this.scheduleUplinkDrain();
    }, waitMs);
  }

  /** The connection closed: what waits for the uplink is dropped (events go again on the next connect, a lost ack only brings its command again). */
  private dropUplinkQueue(): void {
    this.clock.clearTimeout(this.uplinkTimer);
    this.uplinkTimer = undefined;
    for (const item of this.uplinkQueue.splice(0)) item.drop();
  }

  private publishQos1(topic: string, payload: unknown): Promise<void> {
    const client = this.client;
    if (client === undefined) return Promise.reject(new SimDeviceError('STOPPED', `${this.tag} was stopped`));
    return new Promise<void>((resolve, reject) => {
      const fail = (error: Error): void => {
        this.unackedPublishes.delete(fail);
        reject(error);
      };
      this.unackedPublishes.add(fail);
      const send = (c: MqttClient): void => {
        c.publish(topic, JSON.stringify(payload), { qos: 1 }, (error) => {
          if (!this.unackedPublishes.delete(fail)) return; // already rejected by stop()
          if (error) reject(new SimDeviceError('SIM_PUBLISH_FAILED', `${this.tag} publish on ${topic} failed: ${error.message}`, { cause: error }));
          else resolve();
        });
      };
      // Offline, mqtt.js keeps the message for the next connection, as before: only a connected device is paced.
      if (!this.sessionReady) send(client);
      else this.uplink(send, () => send(client));
    });
  }

  private publishOnline(client: MqttClient): void {
    const online: DeviceStatus = {
      id: this.ids.next(),
      ts: this.clock.nowMs(),
      state: 'online',
      firmware: this.firmware,
      batteryPct: this.batteryPct,
    };
    // It counts at the gateway like any uplink: it spends a token (it is never held back: it opens the session).
    this.takeUplinkToken();
    client.publish(topics.status(this.deviceId), JSON.stringify(online), { qos: 1, retain: true }, () => undefined);
  }

  /** Repeats `online` every heartbeatIntervalMs for as long as this connection lasts. */
  private scheduleHeartbeat(client: MqttClient, seq: number): void {
    this.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    if (this.heartbeatIntervalMs <= 0) return;
    this.heartbeatTimer = this.clock.setTimeout(() => {
      this.heartbeatTimer = undefined;
      if (seq !== this.connectionSeq || !client.connected || this.lifecycle === 'stopped') return;
      this.publishOnline(client);
      this.scheduleHeartbeat(client, seq);
    }, this.heartbeatIntervalMs);
  }

  private async onConnect(client: MqttClient): Promise<void> {
    const seq = ++this.connectionSeq;
    this.lastProblem = undefined;
    // Subscribe before saying `online`: the server sends the commands waiting for
    // this device the moment it sees it online, and a command published before
    // the subscription exists reaches nobody (docs/protocol.md, session start).
    const grants = await client.subscribeAsync(topics.commands(this.deviceId), { qos: 1 });
    if (grants.some((grant) => grant.qos > 2)) {
      const error = new SimDeviceError(
        'SUBSCRIBE_REFUSED',
        `${this.tag} the broker refused the subscription to ${topics.commands(this.deviceId)}: no acknowledgement could ever arrive`,
      );
      if (!this.failStart(error)) this.logger.warn(error.message);
      return;
    }
    if (seq !== this.connectionSeq || !client.connected || this.lifecycle === 'stopped') return;
    this.publishOnline(client);
    this.scheduleHeartbeat(client, seq);

    this.sessionReady = true;
    const reconnect = this.connectedBefore;
    this.connectedBefore = true;
    this.lifecycle = 'running';
    const pending = this.pendingEventIds.length;
    this.logger.info(
      `${this.tag} ${reconnect ? '重新连上' : '已连接'} (online ${redactUrl(this.brokerUrl)}${pending > 0 ? `, sending ${pending} queued event(s)` : ''})`,
    );
    this.startWaiter?.resolve();
    this.startWaiter = undefined;
    this.bus.emit('online', { deviceId: this.deviceId, reconnect });
    if (!reconnect || this.reconnectFlushJitterMs <= 0) {
      this.flushPending();
      return;
    }
    // Back from a power cut with thousands of others: not all in the same millisecond (docs/protocol.md, the SOS rule 4).
    this.flushTimer = this.clock.setTimeout(() => {
      this.flushTimer = undefined;
      if (seq === this.connectionSeq && this.sessionReady) this.flushPending();
    }, flushDelayMs(this.reconnectFlushJitterMs, this.random));
  }

  /** Transmits every pending event, in press order (Map iteration follows insertion), through the paced uplink. */
  private flushPending(): void {
    for (const tracked of this.tracked.values()) this.transmit(tracked);
  }

  private onClose(): void {
    this.connectionSeq += 1;
    this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.dropUplinkQueue();
    // No resends while offline: the next connect flushes every pending event, in order (the backoff goes on from where it was).
    for (const tracked of this.tracked.values()) {
      this.clock.clearTimeout(tracked.resendTimer);
      tracked.resendTimer = undefined;
    }
    this.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    if (!this.sessionReady) return;
    this.sessionReady = false;
    if (this.lifecycle === 'stopped') return;
    this.logger.warn(`${this.tag} 连接断开 (offline: connection lost; retrying every ${this.reconnectPeriodMs} ms)`);
    this.bus.emit('offline', { deviceId: this.deviceId, reason: 'connection lost' });
  }

  private onClientError(error: Error & { code?: unknown }): void {
    if (this.lifecycle === 'stopped') return;
    if (typeof error.code === 'number') {
      // A CONNACK refusal (mqtt.js ErrorWithReasonCode).
      const auth = AUTH_REFUSAL_CODES.has(error.code);
      const refusal = new SimDeviceError(
        auth ? 'AUTH_REFUSED' : 'CONNECT_REFUSED',
        auth
          ? `broker ${redactUrl(this.brokerUrl)} refused the credentials of device ${this.deviceId} (${error.message}); check the device id and secret`
          : `broker ${redactUrl(this.brokerUrl)} refused device ${this.deviceId} (${error.message})`,
        { cause: error },
      );
      if (this.failStart(refusal)) return;
      this.logProblem(`${refusal.message}; retrying every ${this.reconnectPeriodMs} ms`);
      return;
    }
    this.logProblem(`connection problem: ${error.message}; retrying every ${this.reconnectPeriodMs} ms`);
  }

  /** During start(): rejects it and stops the device. Returns false when start() has already completed. */
  private failStart(error: SimDeviceError): boolean {
    const waiter = this.startWaiter;
    if (waiter === undefined) return false;
    this.startWaiter = undefined;
    // Not logged here: the caller of start() gets the error and decides what to say.
    waiter.reject(error);
    this.stop().catch((stopError: unknown) => this.logger.warn(`${this.tag} stop after refusal failed: ${errorMessage(stopError)}`));
    return true;
  }

  private logProblem(problem: string): void {
    if (problem === this.lastProblem) return;
    this.lastProblem = problem;
    this.logger.warn(`${this.tag} ${problem}`);
  }

  private onMessage(topic: string, payload: Buffer): void {
    if (topic !== topics.commands(this.deviceId)) return;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch (error) {
      this.ignoreCommand(`not JSON (${errorMessage(error)})`);
      return;
    }
    const parsed = DeviceCommand.safeParse(json);
    if (!parsed.success) {
      this.ignoreCommand(`not a v1 command (${formatZodError(parsed.error)})`);
      return;
    }
    this.onCommand(parsed.data);
  }

  private ignoreCommand(reason: string): void {
    this.logger.warn(`${this.tag} ignored a message on its commands topic: ${reason}`);
    this.bus.emit('invalidCommand', { reason });
  }

  private onCommand(command: DeviceCommand): void {
    // Every copy is acknowledged (the server resends until it hears this), but a
    // command id already seen is the same command again: no second beep.
    this.sendCommandAck(command.id);
    if (this.seenCommandIds.has(command.id)) {
      this.logger.debug?.(`${this.tag} no beep: command ${command.id} (${command.type}) again`);
      return;
    }
    this.seenCommandIds.add(command.id);
    for (const old of this.seenCommandIds) {
      if (this.seenCommandIds.size <= MAX_SEEN_COMMAND_IDS) break;
      this.seenCommandIds.delete(old);
    }
    const tracked = 'eventId' in command ? this.tracked.get(command.eventId) : undefined;
    const duplicate =
      (command.type === 'received' && tracked?.receivedDone !== false) || (command.type === 'taken' && tracked?.takenDone !== false);
    if (duplicate && 'eventId' in command) {
      // A real button beeps once per alarm; a repeated acknowledgement (the answer to a late copy) is silent.
      this.logger.debug?.(`${this.tag} no beep: ${command.type} for ${command.eventId} again, or for an event this device does not track`);
    } else {
      this.logger.info(`${this.tag} ${describeCommand(command, tracked?.event.type)}`);
    }
    this.bus.emit('command', command);
    if (command.type === 'received') {
      const first = tracked !== undefined && !tracked.receivedDone;
      if (tracked !== undefined && first) {
        tracked.receivedDone = true;
        this.clock.clearTimeout(tracked.resendTimer);
        tracked.resendTimer = undefined;
        tracked.received.resolve(command);
        this.forgetIfDone(tracked);
      }
      this.bus.emit('received', { command, event: tracked?.event, first });
    } else if (command.type === 'taken') {
      if (tracked !== undefined && !tracked.takenDone) {
        tracked.takenDone = true;
        tracked.taken.resolve(command);
        this.forgetIfDone(tracked);
      }
      this.bus.emit('taken', { command, event: tracked?.event });
    }
  }

  /** Publishes the `ack` of a command on the events topic, QoS 1, once; a lost ack only means the command comes again. */
  private sendCommandAck(commandId: string): void {
    const client = this.client;
    if (client === undefined || this.lifecycle === 'stopped') return;
    const ack: DeviceEvent = { id: this.ids.next(), ts: this.clock.nowMs(), type: 'ack', commandId };
    this.acksSent += 1;
    this.uplink(
      (c) => c.publish(topics.events(this.deviceId), JSON.stringify(ack), { qos: 1 }, () => undefined),
      () => undefined,
    );
  }

  private forgetIfDone(tracked: TrackedEvent): void {
    if (tracked.receivedDone && tracked.takenDone) {
      this.tracked.delete(tracked.event.id);
      return;
    }
    const awaitingTaken = [...this.tracked.values()].filter((t) => t.receivedDone && !t.takenDone);
    for (const old of awaitingTaken.slice(0, Math.max(0, awaitingTaken.length - MAX_AWAITING_TAKEN))) {
      this.tracked.delete(old.event.id);
      old.taken.reject(new SimDeviceError('NO_LONGER_TRACKED', `${this.tag} stopped waiting for "taken" of ${old.event.id}`));
    }
  }

  private async shutdown(abrupt: boolean): Promise<void> {
    const wasOnline = this.sessionReady;
    this.clock.clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.clock.clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.dropUplinkQueue();
    this.lifecycle = 'stopped';
    this.sessionReady = false;
    this.connectionSeq += 1;
    const stopped = new SimDeviceError('STOPPED', `${this.tag} was stopped`);
    this.startWaiter?.reject(stopped);
    this.startWaiter = undefined;
    for (const tracked of this.tracked.values()) {
      this.clock.clearTimeout(tracked.resendTimer);
      tracked.resendTimer = undefined;
      if (!tracked.receivedDone) tracked.received.reject(stopped);
      if (!tracked.takenDone) tracked.taken.reject(stopped);
    }
    this.tracked.clear();
    for (const fail of [...this.unackedPublishes]) fail(stopped);

    const client = this.client;
    this.client = undefined;
    if (client !== undefined && abrupt) {
      client.removeAllListeners();
      client.on('error', () => undefined);
      // No DISCONNECT: the broker sees the connection die and publishes the will.
      client.stream.destroy();
      await withGrace(client.endAsync(true));
    } else if (client !== undefined) {
      if (wasOnline && client.connected) {
        // A clean DISCONNECT makes the broker discard the will [MQTT-3.1.2-10],
        // so say "offline" ourselves or the retained status would stay "online".
        const offline: DeviceStatus = { id: this.ids.next(), ts: this.clock.nowMs(), state: 'offline' };
        await withGrace(client.publishAsync(topics.status(this.deviceId), JSON.stringify(offline), { qos: 1, retain: true }));
      }
      // Graceful only when nothing is in flight: mqtt.js would otherwise wait for PUBACKs that may never come.
      const graceful = client.connected && Object.keys(client.outgoing).length === 0;
      await withGrace(client.endAsync(!graceful));
      client.removeAllListeners();
      // mqtt.js needs an 'error' listener until its stream is really gone.
      client.on('error', () => undefined);
    }
    if (wasOnline) {
      this.logger.info(abrupt ? `${this.tag} 断电 (offline: power lost)` : `${this.tag} 已关机 (offline: stopped)`);
      this.bus.emit('offline', { deviceId: this.deviceId, reason: 'stopped' });
    }
    this.bus.clear();
  }
}

/** Waits for `promise` at most STOP_GRACE_MS; never rejects. */
async function withGrace(promise: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, STOP_GRACE_MS);
  });
  try {
    await Promise.race([promise.then(() => undefined, () => undefined), grace]);
  } finally {
    clearTimeout(timer);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
