/**
 * The Kanjia MQTT gateway: an aedes broker with per-device authentication,
 * topic ACLs, payload validation, size and rate limits, and presence; it hands
 * every valid uplink to the application in the same process.
 */
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { Aedes } from 'aedes';
import { BufferList, BufferListStream } from 'bl';
import { generate as generatePacket } from 'mqtt-packet';
import type { AedesPublishPacket, AuthenticateError, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes';
import {
  DeviceCommand,
  DeviceId,
  MAX_PAYLOAD_BYTES,
  formatZodError,
  systemClock,
  topics,
} from '@kanjia/protocol';
import { KanjiaError, type CatalogCodes, type Clock, type PayloadError, type UplinkChannel, type UplinkPayload } from '@kanjia/protocol';
import { authorizePublishTopic, authorizeSubscribeFilter } from './acl.js';
import type { Principal } from './acl.js';
import { MIN_HASH_KEY_BYTES, verifyDeviceSecret } from './device-auth.js';
import type { DeviceAuthenticator } from './device-auth.js';
import { deadLetter } from './dead-letter.js';
import { guardConnection } from './frame-limit.js';
import type { ConnectionGuardOptions, FrameViolation, GuardedConnection } from './frame-limit.js';
import { ListenerSet } from './listeners.js';
import { SummarizedLog } from './log-summary.js';
import { silentLogger } from './logger.js';
import type { Logger } from './logger.js';
import { DEFAULT_LOGIN_THROTTLE, LoginThrottle } from './login-throttle.js';
import type { LoginKey, LoginThrottleOptions, LoginTicket } from './login-throttle.js';
import { SlidingWindowCounter } from './rate-limit.js';
import { ConnectLine, type ConnectLineCounts, type LineTicket } from './connect-line.js';
import { PresenceTracker } from './presence.js';
import { SocketListeners, type TlsCertificate } from './socket-listeners.js';
import type { PresenceChange } from './presence.js';
import { UplinkGuard } from './uplink-guard.js';
import { IntakeWindow } from './intake.js';
import { TopicEmitter } from './topic-emitter.js';
import type { IntakeCounts, IntakeSlot } from './intake.js';

/** Suffix of a maintenance connection's client id after the device id: `:` and 1–23 safe characters. */
const MAINTENANCE_CLIENT_ID = /^:[A-Za-z0-9_.-]{1,23}$/;

/** A valid uplink message, after ACL and validation. */
export interface UplinkMessage {
  deviceId: string;
  channel: UplinkChannel;
  payload: UplinkPayload['payload'];
  value: UplinkPayload;
  /** Gateway clock time at which the message arrived and was validated, ms since the epoch (before any wait for room: intake.ts). */
  receivedAtMs: number;
}

/** A trusted process (the server run separately) that reads uplinks and sends commands. */
export interface ServiceAccount {
  /** MQTT username and client id. Must not be a valid device id, so it can never collide with a device. */
  username: string;
  /** `hashDeviceSecret(hashKey, secret)` of the account's secret. */
  secretHash: string;
}

export interface GatewayOptions {
  /** TCP port; 0 picks a free one (see `Gateway.port` after start). */
  port: number;
  /** Interface to listen on; default 127.0.0.1 (say 0.0.0.0 to accept devices from the network). */
  host?: string;
  /** MQTT over TLS on this port with this certificate, beside the plain port (socket-listeners.ts). */
  tls?: TlsCertificate & { port: number };
  /** false: no plain MQTT listener, devices connect over TLS only (needs `tls`). Default true. */
  plain?: boolean;
  authenticator: DeviceAuthenticator;
  serviceAccounts?: ReadonlyArray<ServiceAccount>;
  /** HMAC key the service accounts' hashes were made with; required with serviceAccounts. */
  hashKey?: Buffer;
  clock?: Clock;
  logger?: Logger;
  /** Largest MQTT remaining length accepted, in bytes; default MAX_PAYLOAD_BYTES + 1024 (topic, header room). */
  maxPacketBytes?: number;
  /** More invalid messages than this from one device within 60 s disconnects it; default 20. 0 = the first one. */
  invalidPerMinuteLimit?: number;
  /** Per-device limit on all uplinks: a burst of `messages`, refilled over `perMs`; default 50 per 10 000 ms. */
  uplinkRateLimit?: { messages: number; perMs: number };
  /** Keep-alive a CONNECT may ask for, seconds; outside (0 included) it is refused with CONNACK 5. Default 10–1200. */
  keepAliveSeconds?: { min: number; max: number };
  /** Bytes a connection may send before its CONNECT is accepted (also its largest packet until then); default 1024. */
  preLoginMaxBytes?: number;
  /** A connection not logged in this long after the TCP connect is closed, ms (real time); default 10 000. */
  connectTimeoutMs?: number;
  /** PINGREQs allowed per connection within `windowMs` (real time); one more closes it. Default 20 per 60 000 ms. */
  pingLimit?: { count: number; windowMs: number };
  /** Refused subscriptions allowed per device within `windowMs` (real time); one more closes the connection. Default 5 per 60 000 ms. */
  refusedSubscribeLimit?: { count: number; windowMs: number };
  /** How wrong-secret logins are slowed (login-throttle.ts); default DEFAULT_LOGIN_THROTTLE. */
  loginThrottle?: Partial<LoginThrottleOptions>;
  /** Repeated refusals are logged once per device/address and kind per this interval, with a count, ms; default 60 000. */
  logSummaryIntervalMs?: number;
  /**
   * Uplinks handed to onUplink whose handlers have not settled yet, in all and
   * per connection (intake.ts). Over either, the next PUBLISH waits: its PUBACK
   * is delayed and its connection is read no further. Default 1 000 and 16.
   */
  inFlightUplinks?: { total: number; perConnection: number };
  /**
   * Device logins accepted for checking: a burst of `connects`, refilled over
   * `perMs` (real time). One more waits for its turn (connectWaitMs); beyond,
   * it is refused with CONNACK 3 (server unavailable) before its secret is
   * checked, and retries later. Service accounts are never paced. Default
   * 1 000 per 1 000 ms.
   */
  connectRateLimit?: { connects: number; perMs: number };
  /**
   * A login over connectRateLimit waits, unanswered, for its turn in a
   * first-come line if that comes within this many ms (connect-line.ts); else
   * CONNACK 3 at once. 0: always refused at once. Below connectTimeoutMs;
   * default 5 000 (at most half the connect timeout).
   */
  connectWaitMs?: number;
}

/** Connections refused or cut by the connection limits, by limit. */
export type RefusalCounts = {
  /** CONNECT with a keep-alive outside the allowed range (CONNACK 5). */
  keepAlive: number;
  /** More bytes than preLoginMaxBytes before the CONNECT was accepted. */
  preLogin: number;
  /** No login within connectTimeoutMs. */
  connectTimeout: number;
  /** Too many PINGREQs. */
  pingFlood: number;
  /** Too many refused subscriptions. */
  subscribeFlood: number;
  /** Wrong-secret refusals held back before the CONNACK. */
  loginDelayed: number;
  /** CONNECTs closed unchecked: their address had as many refusals held as allowed. */
  loginUnchecked: number;
  /** CONNECTs refused with CONNACK 3 by the connect-rate limit (a reconnect storm paced). */
  connectRate: number;
};

/** Counters since start. */
export interface GatewayStats {
  /** Authenticated connections accepted. */
  connections: number;
  /** Authenticated connections open now. */
  connected: number;
  authFailures: number;
  /** Refused publishes and subscriptions. */
  aclDenied: number;
  /** Dropped messages (device uplinks and service-account commands) by reason. */
  invalidPayloads: Record<PayloadError['code'], number>;
  /** Connections killed for announcing a packet above maxPacketBytes. */
  oversized: number;
  /** Connections killed for a remaining length longer than 4 bytes (MQTT 3.1.1 §2.2.3). */
  malformedFrames: number;
  /** Devices disconnected for exceeding the uplink rate or the invalid-message limit. */
  floodDisconnects: number;
  /** Valid uplinks admitted and handed to onUplink. */
  messagesIn: number;
  /** Commands accepted by the broker (publishCommand and service accounts). */
  commandsOut: number;
  /** onUplink / onPresence handlers that threw or rejected. */
  handlerErrors: number;
  /** Connections refused or cut by the connection limits. */
  refused: RefusalCounts;
  /** Logins over the connect rate that waited for their turn (connectWaitMs): now and since start. */
  connectLine: ConnectLineCounts;
  /** The bounded intake of uplinks (inFlightUplinks): now and since start. */
  backpressure: IntakeCounts & {
    /** PINGREQs answered by the gateway's transport guard (always, once logged in: also while a connection is held back). */
    pingsAnswered: number;
  };
}

export type GatewayErrorCode = CatalogCodes<'GATEWAY_CONFIG' | 'GATEWAY_NOT_RUNNING' | 'GATEWAY_ALREADY_STARTED' | 'INVALID_DEVICE_ID' | 'INVALID_COMMAND' | 'GATEWAY_PUBLISH_FAILED'>;

/** An error with a stable code. */
export class GatewayError extends KanjiaError<GatewayErrorCode> {
  override readonly name = 'GatewayError';
}

const DEFAULT_HOST = '127.0.0.1';
const DEFAULT_INVALID_PER_MINUTE = 20;
// An accel window every 10 s, telemetry every few seconds and an SOS with its
// retries stay far below this; a replay of events buffered while offline must
// be paced at 5/s or less.
const DEFAULT_UPLINK_RATE = { messages: 50, perMs: 10_000 } as const;
// Smallest sane maxPacketBytes: a CONNECT with a last will and credentials.
const MIN_PACKET_BYTES = 512;
// Keep-alive bounds, seconds. The floor: a device pinging more often than every
// 10 s wastes its battery and our sockets; 0 would turn dead-connection
// detection off, so a dead device would stay "online" for ever. The ceiling:
// aedes drops a silent connection after 1.5 × keep-alive, so 20 min means a
// dead device is noticed (and its will published) within 30 min; 65 535 s
// would be 27 h.
const DEFAULT_KEEPALIVE_SECONDS = { min: 10, max: 1200 } as const;
// A CONNECT with a will and credentials is a few hundred bytes (64-character
// ids, a 43-character secret, the status topic and an offline payload).
const DEFAULT_PRE_LOGIN_MAX_BYTES = 1024;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
// A client pings at most once per keep-alive when idle (10 s at the floor: 6 a
// minute); some ping at half of it. 20 a minute leaves room, a flood is cut.
const DEFAULT_PING_LIMIT = { count: 20, windowMs: 60_000 } as const;
// A device subscribes to exactly one filter; a refusal is a firmware bug or probing.
const DEFAULT_REFUSED_SUBSCRIBE_LIMIT = { count: 5, windowMs: 60_000 } as const;
// Devices and service accounts whose refused subscriptions are counted at once; the oldest are forgotten.
const MAX_SUBSCRIBE_COUNTERS = 10_000;
const LOG_TOPIC_CHARS = 128;
// In flight at once: an SOS is in the application from its arrival until its
// case is committed and `received` published (a few ms; longer when commits
// are grouped or the disk is slow). 1 000 is several seconds of the 2 000 SOS/s
// target's work, far more than grouped commits need, and bounds the memory of
// what waits; 16 per connection is more than a device has in flight (it waits
// for `received`) and keeps one replaying device from taking the window.
const DEFAULT_IN_FLIGHT_UPLINKS = { total: 1_000, perConnection: 16 } as const;
// After a power cut 10 000 devices must be back within 20 s (issue 10): 1 000
// a second, the first 1 000 at once. Measured (a real `kanjia start`, 10 000 load
// devices cut at once, 2 cores shared with the devices' process): a login costs
// the whole process ~1 ms of CPU (the secret's check, the session, the presence
// write, the live feed), so 1 000/s is most of the event loop for ~10 s. All
// back in 10.4 s, SOS pressed meanwhile on devices already back answered in
// p50 4 ms, p99 54–158 ms, none lost. 1 500/s was slower (17.9 s: the loop
// saturated, every login waited for the others); 500/s made the 20 s a floor.
const DEFAULT_CONNECT_RATE = { connects: 1_000, perMs: 1_000 } as const;
// A login over the rate waits this long at most for its turn (connect-line.ts),
// and never more than half the connect timeout, so a device served at the end of its wait still has
// time to finish its session start; devices wait 10 s or more for a CONNACK
// (mqtt.js 30 s; docs/protocol.md asks for at least 10 s).
const DEFAULT_CONNECT_WAIT_MS = 5_000;

interface AdmittedUplink {
  client: Client;
  message: UplinkMessage;
  /** Its place in the intake window; none for a last will (its connection is closing: it never waits). */
  slot: IntakeSlot | undefined;
}

interface Running {
  broker: Aedes;
  listeners: SocketListeners;
  sockets: Set<Socket>;
  port: number;
  tlsPort: number | undefined;
}

interface Settings {
  maxPacketBytes: number;
  invalidPerMinuteLimit: number;
  uplinkRate: { messages: number; perMs: number };
  keepAlive: { min: number; max: number };
  preLoginMaxBytes: number;
  connectTimeoutMs: number;
  pingLimit: { count: number; windowMs: number };
  refusedSubscribeLimit: { count: number; windowMs: number };
  loginThrottle: LoginThrottleOptions;
  logSummaryIntervalMs: number;
  inFlightUplinks: { total: number; perConnection: number };
  connectRate: { connects: number; perMs: number; maxWaitMs: number };
}

/** What the gateway knows of one TCP connection before and after aedes takes it. */
interface ConnectionInfo {
  remoteAddress: string | undefined;
  guard: GuardedConnection;
  /** Until login; dropped then (an idle connection keeps no timer of ours). */
  deadline?: ReturnType<typeof setTimeout>;
  /** The keep-alive its CONNECT asked for, seconds. */
  keepalive?: number;
  /** Its place in the login throttle while its CONNECT is checked (or its refusal held). */
  ticket?: LoginTicket;
  /** Over the connect-rate limit: answered CONNACK 3 unchecked. */
  paced?: boolean;
  /** Its place in the connect line while it waits for its turn. */
  lineTicket?: LineTicket;
}

/** The MQTT gateway; constructor assigns, start() listens, stop() closes everything it opened. */
export class Gateway {
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly uplinkListeners: ListenerSet<UplinkMessage>;
  private readonly presenceListeners: ListenerSet<PresenceChange>;
  private readonly presence: PresenceTracker;
  private readonly counters: GatewayStats = {
    connections: 0,
    connected: 0,
    authFailures: 0,
    aclDenied: 0,
    invalidPayloads: { PAYLOAD_TOO_LARGE: 0, PAYLOAD_NOT_JSON: 0, PAYLOAD_INVALID: 0 },
    oversized: 0,
    malformedFrames: 0,
    floodDisconnects: 0,
    messagesIn: 0,
    commandsOut: 0,
    handlerErrors: 0,
    refused: { keepAlive: 0, preLogin: 0, connectTimeout: 0, pingFlood: 0, subscribeFlood: 0, loginDelayed: 0, loginUnchecked: 0, connectRate: 0 },
    connectLine: { waiting: 0, waited: 0 },
    backpressure: { inFlight: 0, waiting: 0, delayed: 0, pingsAnswered: 0 },
  };
  /** The sockets accepted and not closed yet (the same set as `running.sockets`, there from before `running`). */
  private startingSockets: Set<Socket> | undefined;
  /** The guard's options and hooks, shared by every connection. */
  private guardOptions: ConnectionGuardOptions | undefined;
  /** Uplinks in the application, bounded (made at start from the settings). */
  private intake: IntakeWindow<Client> | undefined;
  /** The connect-rate limit and its waiting line (real time), made at start. */
  private connectLine: ConnectLine | undefined;
  /** Who each connection authenticated as. */
  private readonly principals = new WeakMap<Client, Principal>();
  /** Packets admitted by authorizePublish, picked up again in the broker's `publish` event. */
  private readonly admitted = new WeakMap<object, AdmittedUplink>();
  /** The device's current connection; a takeover [MQTT-3.1.4-2] replaces it. */
  private readonly liveClients = new Map<string, Client>();
  /** Last retained status state each device left in the broker. */
  private readonly retainedState = new Map<string, 'online' | 'offline'>();
  /** Connections whose last will publishes a retained `offline`. */
  private readonly willsOffline = new WeakSet<Client>();
  private serviceAccounts = new Map<string, string>();
  private guard: UplinkGuard | undefined;
  private settings: Settings | undefined;
  private throttle: LoginThrottle | undefined;
  /** Refusal log lines, one per source and kind per interval (log-summary.ts). */
  private refusals: SummarizedLog;
  /** Each guarded stream handed to aedes (client.conn) and what is known of its connection. */
  private readonly connections = new WeakMap<object, ConnectionInfo>();
  /** Refused subscriptions per device or service account. */
  private readonly subscribeRefusals = new Map<string, SlidingWindowCounter>();
  /** Refusals held back by the login throttle, cancelled on stop. */
  private readonly heldRefusals = new Set<LoginTicket>();
  private running: Running | undefined;
  private started = false;
  private starting: Promise<unknown> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: GatewayOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    const countHandlerError = (): void => {
      this.counters.handlerErrors += 1;
    };
    this.uplinkListeners = new ListenerSet('uplink', this.logger, countHandlerError);
    this.presenceListeners = new ListenerSet('presence', this.logger, countHandlerError);
    this.presence = new PresenceTracker((change) => void this.presenceListeners.emit(change, { deviceId: change.deviceId }));
    this.refusals = new SummarizedLog(this.logger);
  }

  /** The bound TCP port of plain MQTT once started (options.port before; 0 without a plain listener). */
  get port(): number {
    return this.running?.port ?? this.options.port;
  }

  /** The bound port of MQTT over TLS once started; undefined without TLS. */
  get tlsPort(): number | undefined {
    return this.running?.tlsPort ?? this.options.tls?.port;
  }

  /** Serves a renewed certificate to new TLS connections. */
  setTlsCertificate(certificate: TlsCertificate): void {
    this.running?.listeners.setCertificate(certificate);
  }

  /** Starts the broker and listens; rejects with GATEWAY_CONFIG listing every bad option. */
  start(): Promise<{ port: number; tlsPort?: number }> {
    if (this.started || this.stopping !== undefined) {
      return Promise.reject(new GatewayError('GATEWAY_ALREADY_STARTED', 'a gateway starts once; create a new one'));
    }
    this.started = true;
    const starting = this.open();
    this.starting = starting;
    return starting;
  }

  private async open(): Promise<{ port: number; tlsPort?: number }> {
    const settings = this.checkOptions();
    this.settings = settings;
    this.throttle = new LoginThrottle(settings.loginThrottle);
    this.refusals = new SummarizedLog(this.logger, { intervalMs: settings.logSummaryIntervalMs });
    this.serviceAccounts = new Map((this.options.serviceAccounts ?? []).map((a) => [a.username, a.secretHash.toLowerCase()]));
    this.intake = new IntakeWindow<Client>(settings.inFlightUplinks);
    this.connectLine = new ConnectLine(settings.connectRate);
    this.guard = new UplinkGuard({
      invalidPerMinuteLimit: settings.invalidPerMinuteLimit,
      uplinkBurstMessages: settings.uplinkRate.messages,
      uplinkBurstRefillMs: settings.uplinkRate.perMs,
    });

    const broker = await Aedes.createBroker({
      // Our own deadline (accept()) also covers a CONNECT that arrives but is never accepted.
      connectTimeout: settings.connectTimeoutMs + 1_000,
      // Our message emitter, without a cap on the deliveries run at once
      // (topic-emitter.ts). aedes' own (mqemitter) has a default of 100 and
      // queues the rest, and when one delivery ends it runs the queue on the same
      // stack; a message nobody subscribes to (every device uplink: the
      // application takes them in-process) ends synchronously, through our
      // handlers and back into the parser (nextBatch), and a queue of a few
      // thousand overflowed the stack at 500 SOS/s (issue 10; test:
      // overload.test.ts). What is in flight is bounded by our own backpressure
      // (uplinks, intake.ts) and by the server (commands), not by that queue,
      // which had no bound itself.
      mq: new TopicEmitter(),
      // With our mq, aedes uses this only for each socket's listener limit: 0 = none.
      concurrency: 0,
      preConnect: (client, packet, done) => this.preConnect(client, packet, done),
      authenticate: (client, username, password, done) => this.authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.authorizePublish(client, packet, done),
      authorizeSubscribe: (client, sub, done) => this.authorizeSubscribe(client, sub, done),
    });
    leanPersistenceStreams(broker);
    warmPacketWriter();
    broker.on('client', (client) => this.clientRegistered(client));
    broker.on('clientDisconnect', (client) => this.clientDisconnected(client));
    broker.on('publish', (packet, client) => this.published(packet, client));
    broker.on('clientError', (client, err) => this.logger.debug({ ...this.who(client), err: err.message }, 'client error'));
    broker.on('connectionError', (_client, err) => this.logger.debug({ err: err.message }, 'connection error before CONNECT'));
    // aedes emits 'error' for persistence failures; unhandled, it would crash the process.
    (broker as NodeJS.EventEmitter).on('error', (err: Error) => this.logger.error({ err: err.message }, 'broker error'));

    const sockets = new Set<Socket>();
    this.startingSockets = sockets;
    // Plain and TLS connections alike go through accept(): the same limits apply to both.
    const listeners = new SocketListeners(
      { host: this.options.host ?? DEFAULT_HOST, plainPort: this.options.plain === false ? undefined : this.options.port, tls: this.options.tls },
      (socket) => this.accept(broker, sockets, socket, settings),
      this.logger,
    );
    let bound: { plainPort?: number; tlsPort?: number };
    try {
      bound = await listeners.start();
    } catch (err) {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      throw err;
    }
    const port = bound.plainPort ?? 0;
    this.running = { broker, listeners, sockets, port, tlsPort: bound.tlsPort };
    this.logger.info({ port: bound.plainPort ?? null, tlsPort: bound.tlsPort ?? null, host: this.options.host ?? DEFAULT_HOST, maxPacketBytes: settings.maxPacketBytes }, 'gateway listening');
    return { port, ...(bound.tlsPort !== undefined ? { tlsPort: bound.tlsPort } : {}) };
  }

  /**
   * Closes every connection, the listener and the broker. Idempotent. Devices
   * are not reported offline: the gateway went away, not they.
   */
  stop(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  /** Adds a handler for every valid uplink; a throwing or rejecting handler is logged and counted. */
  onUplink(handler: (msg: UplinkMessage) => void | Promise<void>): void {
    this.uplinkListeners.add(handler);
  }

  /** Adds a handler for every change of a device's presence. */
  onPresence(handler: (p: PresenceChange) => void): void {
    this.presenceListeners.add(handler);
  }

  /** Validates `command` and publishes it to the device's commands topic with QoS 1; resolves once the broker has accepted it. */
  async publishCommand(deviceId: string, command: DeviceCommand): Promise<void> {
    const running = this.running;
    if (running === undefined || this.stopping !== undefined) {
      throw new GatewayError('GATEWAY_NOT_RUNNING', 'publishCommand needs a started gateway');
    }
    if (!DeviceId.safeParse(deviceId).success) throw new GatewayError('INVALID_DEVICE_ID', 'not a valid device id');
    const parsed = DeviceCommand.safeParse(command);
    if (!parsed.success) throw new GatewayError('INVALID_COMMAND', formatZodError(parsed.error));
    const payload = Buffer.from(JSON.stringify(parsed.data), 'utf8');
    const packet: PublishPacket = { cmd: 'publish', topic: topics.commands(deviceId), payload, qos: 1, retain: false, dup: false };
    await new Promise<void>((resolve, reject) => {
      running.broker.publish(packet, (err) => {
        if (err) reject(new GatewayError('GATEWAY_PUBLISH_FAILED', `broker refused the command: ${err.message}`));
        else resolve();
      });
    });
    this.counters.commandsOut += 1;
    this.logger.debug({ deviceId, type: parsed.data.type, bytes: payload.length }, 'command published');
  }

  /** True when the device is online (see README: status messages, uplinks and disconnects). */
  isOnline(deviceId: string): boolean {
    return this.presence.isOnline(deviceId);
  }

  /** A copy of the counters. */
  stats(): GatewayStats {
    return {
      ...this.counters,
      invalidPayloads: { ...this.counters.invalidPayloads },
      refused: { ...this.counters.refused },
      connectLine: this.connectLine?.counts() ?? { ...this.counters.connectLine },
      backpressure: { ...this.counters.backpressure, ...this.intake?.counts() },
    };
  }

  // ---- lifecycle -----------------------------------------------------------

  private checkOptions(): Settings {
    const o = this.options;
    const problems: string[] = [];
    const maxPacketBytes = o.maxPacketBytes ?? MAX_PAYLOAD_BYTES + 1024;
    const invalidPerMinuteLimit = o.invalidPerMinuteLimit ?? DEFAULT_INVALID_PER_MINUTE;
    const uplinkRate = o.uplinkRateLimit ?? DEFAULT_UPLINK_RATE;
    const keepAlive = o.keepAliveSeconds ?? DEFAULT_KEEPALIVE_SECONDS;
    const preLoginMaxBytes = o.preLoginMaxBytes ?? DEFAULT_PRE_LOGIN_MAX_BYTES;
    const connectTimeoutMs = o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const pingLimit = o.pingLimit ?? DEFAULT_PING_LIMIT;
    const refusedSubscribeLimit = o.refusedSubscribeLimit ?? DEFAULT_REFUSED_SUBSCRIBE_LIMIT;
    const loginThrottle = { ...DEFAULT_LOGIN_THROTTLE, ...o.loginThrottle };
    const logSummaryIntervalMs = o.logSummaryIntervalMs ?? 60_000;
    const inFlightUplinks = o.inFlightUplinks ?? DEFAULT_IN_FLIGHT_UPLINKS;
    // Unset, the wait is at most half the connect timeout (a short timeout in a test or a small installation shortens it).
    const connectRate = { ...(o.connectRateLimit ?? DEFAULT_CONNECT_RATE), maxWaitMs: o.connectWaitMs ?? Math.min(DEFAULT_CONNECT_WAIT_MS, Math.floor(connectTimeoutMs / 2)) };
    // MQTT 3.1.1 §3.1.2.10: the keep-alive is a 16-bit number of seconds.
    if (!(Number.isInteger(keepAlive.min) && Number.isInteger(keepAlive.max) && keepAlive.min >= 1 && keepAlive.min <= keepAlive.max && keepAlive.max <= 65_535)) {
      problems.push(`keepAliveSeconds: ${keepAlive.min}–${keepAlive.max} must be whole seconds with 1 <= min <= max <= 65535`);
    }
    if (!Number.isInteger(preLoginMaxBytes) || preLoginMaxBytes < MIN_PACKET_BYTES) problems.push(`preLoginMaxBytes: ${preLoginMaxBytes} must be an integer >= ${MIN_PACKET_BYTES} (a CONNECT with a will and credentials)`);
    if (!(connectTimeoutMs > 0)) problems.push(`connectTimeoutMs: ${connectTimeoutMs} must be > 0`);
    for (const [name, limit] of [['pingLimit', pingLimit], ['refusedSubscribeLimit', refusedSubscribeLimit]] as const) {
      if (!(Number.isInteger(limit.count) && limit.count >= 0 && limit.windowMs > 0)) problems.push(`${name}: ${limit.count} per ${limit.windowMs} ms must be an integer >= 0 per a window > 0`);
    }
    if (!(loginThrottle.maxDelayMs < connectTimeoutMs)) problems.push(`loginThrottle.maxDelayMs: ${loginThrottle.maxDelayMs} must be below connectTimeoutMs (${connectTimeoutMs}), or the refusal never arrives`);
    if (!(logSummaryIntervalMs > 0)) problems.push(`logSummaryIntervalMs: ${logSummaryIntervalMs} must be > 0`);
    if (!(Number.isInteger(inFlightUplinks.total) && Number.isInteger(inFlightUplinks.perConnection) && inFlightUplinks.perConnection >= 1 && inFlightUplinks.perConnection <= inFlightUplinks.total)) {
      problems.push(`inFlightUplinks: ${inFlightUplinks.perConnection} per connection, ${inFlightUplinks.total} in all must be integers with 1 <= perConnection <= total`);
    }
    if (!(Number.isInteger(connectRate.connects) && connectRate.connects >= 1 && connectRate.perMs > 0)) {
      problems.push(`connectRateLimit: ${connectRate.connects} per ${connectRate.perMs} ms must be an integer >= 1 per a time > 0`);
    }
    if (!(connectRate.maxWaitMs >= 0 && connectRate.maxWaitMs < connectTimeoutMs)) {
      problems.push(`connectWaitMs: ${connectRate.maxWaitMs} must be >= 0 and below connectTimeoutMs (${connectTimeoutMs}), or a waiting login is cut before its turn`);
    }
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65_535) problems.push(`port: ${o.port} is not a TCP port (0 picks a free one)`);
    if (o.tls && (!Number.isInteger(o.tls.port) || o.tls.port < 0 || o.tls.port > 65_535)) problems.push(`tls.port: ${o.tls.port} is not a TCP port (0 picks a free one)`);
    if (o.plain === false && !o.tls) problems.push('plain: false leaves no listener: give tls too');
    if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < MIN_PACKET_BYTES || maxPacketBytes > 268_435_455) {
      problems.push(`maxPacketBytes: ${maxPacketBytes} must be an integer from ${MIN_PACKET_BYTES} to 268435455 (MQTT 3.1.1 §2.2.3)`);
    }
    if (!Number.isInteger(invalidPerMinuteLimit) || invalidPerMinuteLimit < 0) problems.push(`invalidPerMinuteLimit: ${invalidPerMinuteLimit} must be an integer >= 0`);
    if (!Number.isInteger(uplinkRate.messages) || uplinkRate.messages < 1) problems.push(`uplinkRateLimit.messages: ${uplinkRate.messages} must be an integer >= 1`);
    if (!(uplinkRate.perMs > 0)) problems.push(`uplinkRateLimit.perMs: ${uplinkRate.perMs} must be > 0`);
    const accounts = o.serviceAccounts ?? [];
    if (accounts.length > 0 && (o.hashKey === undefined || o.hashKey.length < MIN_HASH_KEY_BYTES)) {
      problems.push(`hashKey: service accounts need a key of at least ${MIN_HASH_KEY_BYTES} bytes`);
    }
    const seen = new Set<string>();
    accounts.forEach((account, i) => {
      if (account.username.length === 0) problems.push(`serviceAccounts[${i}].username: empty`);
      if (DeviceId.safeParse(account.username).success) {
        problems.push(`serviceAccounts[${i}].username: "${account.username}" could be a device id; use a character devices cannot have, e.g. "svc:${account.username}"`);
      }
      if (seen.has(account.username)) problems.push(`serviceAccounts[${i}].username: "${account.username}" appears twice`);
      seen.add(account.username);
      if (!/^[0-9a-fA-F]{64}$/.test(account.secretHash)) problems.push(`serviceAccounts[${i}].secretHash: not a hex HMAC-SHA256`);
    });
    try {
      new LoginThrottle(loginThrottle);
    } catch (err) {
      problems.push(`loginThrottle: ${(err as Error).message}`);
    }
    if (problems.length > 0) {
      throw new GatewayError('GATEWAY_CONFIG', `invalid gateway options:\n- ${problems.join('\n- ')}`);
    }
    return { maxPacketBytes, invalidPerMinuteLimit, uplinkRate, keepAlive, preLoginMaxBytes, connectTimeoutMs, pingLimit, refusedSubscribeLimit, loginThrottle, logSummaryIntervalMs, inFlightUplinks, connectRate };
  }

  private accept(broker: Aedes, sockets: Set<Socket>, socket: Socket, settings: Settings): void {
    if (this.stopping !== undefined) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('error', ignoreSocketError); // reported through aedes' clientError; keep Node from throwing
    // mqtt-packet writes a packet in pieces under cork(); a QoS 1 round trip must
    // not wait for Nagle's algorithm and the peer's delayed ACK (~40 ms).
    socket.setNoDelay(true);
    const remoteAddress = socket.remoteAddress;
    const guard = guardConnection(socket, this.connectionHooks(settings), this.onFrameViolation);
    // Real time: a socket that has not logged in by then is closed, whatever
    // the simulated clock says. aedes' own timer stops at the CONNECT's arrival;
    // this one also ends a CONNECT whose check never comes back.
    const deadline = setTimeout(this.onLoginDeadline, settings.connectTimeoutMs, socket);
    deadline.unref();
    const info: ConnectionInfo = { remoteAddress, guard, deadline };
    socket.once('close', this.onSocketClosed);
    this.connections.set(socket, info);
    leanParserBuffer(broker.handle(socket));
  }

  /** The guard's limits and hooks, one object for every connection (nothing per connection is made from it). */
  private connectionHooks(settings: Settings): ConnectionGuardOptions {
    this.guardOptions ??= {
      maxPacketBytes: settings.maxPacketBytes,
      preLoginMaxBytes: settings.preLoginMaxBytes,
      pingLimit: settings.pingLimit,
      // After the CONNACK (never a PINGRESP before it), and only while we can
      // keep aedes' keep-alive timer going ourselves.
      answerPings: (socket) => {
        const client = clientOf(socket);
        return client !== undefined && (client as unknown as { connackSent?: boolean }).connackSent === true && !client.closed && keepAliveTimer(client) !== undefined;
      },
      onPingsAnswered: (_socket, count) => {
        this.counters.backpressure.pingsAnswered += count;
      },
      // [MQTT-3.1.2-24] counts packets received, not packets processed: one
      // held back unread (intake.ts) is still the device's sign of life.
      onActivity: (socket) => {
        const client = clientOf(socket);
        if (client !== undefined) keepAliveTimer(client)?.refresh();
      },
    };
    return this.guardOptions;
  }

  private readonly onFrameViolation = (violation: FrameViolation, socket: Socket): void => {
    this.frameViolation(socket, this.connections.get(socket)?.remoteAddress, violation);
  };

  private readonly onLoginDeadline = (socket: Socket): void => {
    const info = this.connections.get(socket);
    if (info === undefined || info.guard.admitted || socket.destroyed) return;
    this.counters.refused.connectTimeout += 1;
    this.refusals.info('no login within the connect timeout: connection closed', { remoteAddress: info.remoteAddress }, { connectTimeoutMs: (this.settings as Settings).connectTimeoutMs });
    socket.destroy();
  };

  /** A socket's 'close' (this = the socket): one function for every connection. */
  private readonly onSocketClosed = ((gateway: Gateway) =>
    function socketClosed(this: Socket): void {
      gateway.startingSockets?.delete(this);
      const info = gateway.connections.get(this);
      if (info !== undefined) {
        clearTimeout(info.deadline);
        info.ticket?.closed();
        info.lineTicket?.cancel();
      }
      const client = clientOf(this);
      if (client !== undefined) gateway.intake?.drop(client);
    })(this);

  private frameViolation(conn: object, remoteAddress: string | undefined, violation: FrameViolation): void {
    const client = (conn as { client?: Client }).client;
    const who = { ...(client === undefined ? {} : this.who(client)), remoteAddress };
    switch (violation.reason) {
      case 'oversized':
        this.counters.oversized += 1;
        this.refusals.warn('oversized packet: connection closed', who, { remainingLengthAtLeast: violation.remainingLengthAtLeast, maxPacketBytes: violation.maxPacketBytes, beforeLogin: violation.beforeLogin });
        return;
      case 'malformed':
        this.counters.malformedFrames += 1;
        this.refusals.warn('malformed packet header: connection closed', who, { reason: violation.message });
        return;
      case 'preLogin':
        this.counters.refused.preLogin += 1;
        this.refusals.warn('too many bytes before login: connection closed', who, { bytes: violation.bytes, preLoginMaxBytes: violation.preLoginMaxBytes });
        return;
      case 'pingFlood':
        this.counters.refused.pingFlood += 1;
        this.refusals.warn('PING flood: connection closed', who, { limit: violation.limit, windowMs: violation.windowMs });
        return;
    }
  }

  private async close(): Promise<void> {
    // A stop() during start() waits for the start to finish, then undoes it.
    await this.starting?.catch(() => {});
    const running = this.running;
    if (running === undefined) return;
    const { broker, listeners, sockets } = running;
    const serverClosed = listeners.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    // Connections that never finished CONNECT are not aedes clients yet.
    for (const socket of sockets) socket.destroy();
    listeners.cutHandshakes();
    await serverClosed;
    this.running = undefined;
    this.uplinkListeners.clear();
    this.presenceListeners.clear();
    this.presence.clear();
    this.guard?.clear();
    this.intake?.clear();
    this.connectLine?.stop();
    for (const ticket of this.heldRefusals) ticket.cancel();
    this.heldRefusals.clear();
    this.throttle?.clear();
    this.subscribeRefusals.clear();
    this.refusals.stop();
    this.liveClients.clear();
    this.retainedState.clear();
    this.logger.info({ stats: this.stats() }, 'gateway stopped');
  }

  // ---- aedes hooks ---------------------------------------------------------

  /** Before the CONNECT is looked at: notes its keep-alive; closes it unchecked when its address has used its held refusals. */
  private preConnect(client: Client, packet: ConnectPacket, done: (error: Error | null, success: boolean) => void): void {
    const info = this.connections.get(client.conn);
    if (info !== undefined) info.keepalive = packet.keepalive;
    // Paced before anything costly (the secret's check, the session): the server's own accounts never wait.
    const service = packet.username !== undefined && this.serviceAccounts.has(packet.username);
    if (!service && info !== undefined) {
      const verdict = (this.connectLine as ConnectLine).admit(() => {
        info.lineTicket = undefined;
        // Its socket closed meanwhile (the ticket was cancelled then): nothing to answer.
        if (!client.conn.destroyed) this.beginLogin(packet, info, done);
      });
      if (verdict === 'refused') {
        info.paced = true;
        return done(null, true);
      }
      if (verdict !== 'now') {
        info.lineTicket = verdict;
        return;
      }
    }
    this.beginLogin(packet, info, done);
  }

  /** Its turn has come: the login throttle decides whether its secret is checked at all. */
  private beginLogin(packet: ConnectPacket, info: ConnectionInfo | undefined, done: (error: Error | null, success: boolean) => void): void {
    const key = this.loginKey(packet.username, info);
    const ticket = (this.throttle as LoginThrottle).begin(key);
    if (ticket !== undefined) {
      if (info !== undefined) info.ticket = ticket;
      return done(null, true);
    }
    this.counters.refused.loginUnchecked += 1;
    this.refusals.warn('too many wrong logins pending from this address: connection closed unchecked', { remoteAddress: key.address });
    // An error closes the connection without a CONNACK: nothing is checked, nothing answered.
    done(new Error('login throttled'), false);
  }

  private authenticate(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    done: (error: AuthenticateError | null, success: boolean | null) => void,
  ): void {
    const info = this.connections.get(client.conn);
    if (info?.paced === true) {
      this.counters.refused.connectRate += 1;
      const limit = (this.settings as Settings).connectRate;
      // One line per interval for the whole storm (with a count), not one per address.
      this.refusals.info('connect rate exceeded: refused with CONNACK 3, the devices retry', {}, { connects: limit.connects, perMs: limit.perMs, remoteAddress: info.remoteAddress });
      // 3 = server unavailable (MQTT 3.1.1 §3.2.2.3): the device's credentials may be fine, it must retry later.
      return done(Object.assign(new Error('connect rate exceeded'), { returnCode: 3 }) as AuthenticateError, null);
    }
    const key = this.loginKey(username, info);
    this.checkCredentials(client, username, password, info).then(
      (refusal) => {
        const ticket = info?.ticket;
        if (refusal === undefined) {
          ticket?.succeeded();
          info?.guard.admit();
          if (info !== undefined) {
            // Nothing left to do for either: an idle connection keeps neither.
            clearTimeout(info.deadline);
            info.deadline = undefined;
            info.ticket = undefined;
          }
          forgetConnectPacket(client);
          return done(null, true);
        }
        if (refusal.kind === 'credentials') this.counters.authFailures += 1;
        if (refusal.kind === 'keepAlive') this.counters.refused.keepAlive += 1;
        const answer = (): void => done(Object.assign(new Error(refusal.reason), { returnCode: refusal.returnCode }) as AuthenticateError, null);
        // Only a wrong secret is slowed; a correct one never waits (login-throttle.ts).
        let delayMs = 0;
        if (refusal.kind !== 'credentials' || ticket === undefined) {
          ticket?.refused();
        } else {
          this.heldRefusals.add(ticket);
          delayMs = ticket.failed(() => {
            this.heldRefusals.delete(ticket);
            answer();
          });
          if (delayMs > 0) this.counters.refused.loginDelayed += 1;
        }
        this.refusals.warn(
          'connection refused',
          { ...describeUsername(username, this.serviceAccounts), remoteAddress: key.address },
          { reason: refusal.reason, returnCode: refusal.returnCode, ...(delayMs > 0 ? { delayMs } : {}) },
          refusal.reason,
        );
        if (refusal.kind !== 'credentials' || ticket === undefined) answer();
      },
      (err: unknown) => {
        // checkCredentials catches the authenticator's errors; this is a bug.
        info?.ticket?.refused();
        this.logger.error({ err: String(err) }, 'authentication crashed');
        done(Object.assign(new Error('server unavailable'), { returnCode: 3 }) as AuthenticateError, null);
      },
    );
  }

  /** Whose failures a login counts against: the device id or service account it claims, and its address. */
  private loginKey(username: string | undefined, info: ConnectionInfo | undefined): LoginKey {
    const claimed = username !== undefined && (this.serviceAccounts.has(username) || DeviceId.safeParse(username).success) ? username : undefined;
    return { deviceId: claimed, address: info?.remoteAddress };
  }

  /** undefined = admitted; otherwise the CONNACK return code (MQTT 3.1.1 §3.2.2.3), why, and which kind of refusal. */
  private async checkCredentials(
    client: Client,
    username: string | undefined,
    password: Buffer | undefined,
    info: ConnectionInfo | undefined,
  ): Promise<{ returnCode: 2 | 3 | 4 | 5; reason: string; kind: 'credentials' | 'keepAlive' | 'clientId' | 'unavailable' } | undefined> {
    // MQTT 3.1.1 has no return code for a bad keep-alive; 5 (not authorized) says
    // "these settings may not connect", and the device must not retry unchanged.
    const keepAlive = (this.settings as Settings).keepAlive;
    const keepalive = info?.keepalive;
    if (keepalive === undefined || keepalive < keepAlive.min || keepalive > keepAlive.max) {
      return { returnCode: 5, reason: `keep-alive ${keepalive ?? '?'} s outside ${keepAlive.min}-${keepAlive.max} s`, kind: 'keepAlive' };
    }
    // Both are optional in MQTT 3.1.1 (§3.1.2.8, §3.1.2.9); we require both.
    if (username === undefined || password === undefined) return { returnCode: 4, reason: 'missing username or password', kind: 'credentials' };
    const secret = password.toString('utf8');
    const serviceHash = this.serviceAccounts.get(username);
    if (serviceHash !== undefined) {
      if (!verifyDeviceSecret(this.options.hashKey as Buffer, secret, serviceHash)) return { returnCode: 4, reason: 'wrong service account secret', kind: 'credentials' };
      if (client.id !== username) return { returnCode: 2, reason: 'client id must equal the service account username', kind: 'clientId' };
      this.principals.set(client, { kind: 'service', username });
      return undefined;
    }
    if (!DeviceId.safeParse(username).success) return { returnCode: 4, reason: 'username is not a device id', kind: 'credentials' };
    let ok: boolean;
    try {
      ok = await this.options.authenticator.verify(username, secret);
    } catch (err) {
      this.logger.error({ deviceId: username, err: err instanceof Error ? err.message : String(err) }, 'device authenticator failed');
      // 3 = server unavailable: the device should retry, its credentials may be fine.
      return { returnCode: 3, reason: 'authenticator failed', kind: 'unavailable' };
    }
    if (!ok) return { returnCode: 4, reason: 'unknown device or wrong secret', kind: 'credentials' };
    // One session per device: a reconnect takes over its own stale session
    // [MQTT-3.1.4-2], and no device can kick another off by borrowing its client
    // id. An installer's tool may connect beside the device as `{deviceId}:{suffix}`.
    const primary = client.id === username;
    if (!primary && !(client.id.startsWith(username) && MAINTENANCE_CLIENT_ID.test(client.id.slice(username.length)))) {
      return { returnCode: 2, reason: 'client id must be the device id, or {deviceId}:{suffix} for a maintenance connection', kind: 'clientId' };
    }
    this.principals.set(client, { kind: 'device', deviceId: username, primary });
    return undefined;
  }

  private authorizePublish(client: Client | null, packet: PublishPacket, done: (error?: Error | null) => void): void {
    if (client === null) {
      // Only a last will restored from shared persistence after another broker
      // died has no client; this gateway uses in-memory persistence.
      return done(new Error('publish without a client'));
    }
    const principal = this.principals.get(client);
    if (principal === undefined) return done(new Error('not authenticated'));
    const decision = authorizePublishTopic(principal, packet.topic);
    if (!decision.allowed) {
      this.counters.aclDenied += 1;
      this.refusals.warn('publish refused by ACL: connection closed', this.who(client), { topic: packet.topic.slice(0, LOG_TOPIC_CHARS) });
      // An error closes the connection (aedes, [MQTT-3.3.5-2]): right for an ACL violation.
      return done(new Error('publish not authorized'));
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload, 'utf8') : packet.payload;

    if (decision.kind === 'command') {
      const result = parseCommand(payload);
      if (!result.ok) {
        this.counters.invalidPayloads[result.error.code] += 1;
        this.refusals.warn('invalid command dropped', { ...this.who(client), deviceId: decision.deviceId }, { code: result.error.code, bytes: payload.length }, result.error.code);
        deadLetter(packet);
        return done(null);
      }
      packet.retain = false; // commands are never retained
      this.counters.commandsOut += 1;
      return done(null);
    }

    const { deviceId, channel } = decision;
    // aedes authorizes the last will from client.close(), after `closed` is set.
    const isWill = client.closed;
    // broker.close() closes every client, which would publish every will: a
    // gateway shutting down is not its devices going offline.
    if (isWill && this.stopping !== undefined) return done(new Error('gateway stopping'));
    const guard = this.guard as UplinkGuard;
    const nowMs = this.clock.nowMs();
    const verdict = isWill ? guard.validateOnly(channel, payload) : guard.check(deviceId, channel, payload, nowMs);
    switch (verdict.action) {
      case 'disconnect':
        this.counters.floodDisconnects += 1;
        if (verdict.reason === 'invalidFlood') this.counters.invalidPayloads[verdict.error.code] += 1;
        this.refusals.warn('device flooding: disconnected', { deviceId }, { channel, reason: verdict.reason, bytes: payload.length }, verdict.reason);
        return done(new Error(`flood: ${verdict.reason}`));
      case 'drop': {
        this.counters.invalidPayloads[verdict.error.code] += 1;
        this.refusals.warn('invalid uplink dropped', { deviceId }, { channel, code: verdict.error.code, bytes: payload.length, ...describeDrop(verdict.error), will: isWill }, `${channel}:${verdict.error.code}`);
        // An error here would close the connection; a dead-letter topic that
        // nobody may subscribe to drops the message and keeps the device.
        if (isWill) return done(new Error('invalid last will'));
        deadLetter(packet);
        return done(null);
      }
      case 'accept': {
        const value = verdict.value;
        // Only presence is retained in contract v1; a retained event would be
        // replayed to every new subscriber as if it had just happened. And only
        // a service account may subscribe to a status topic: without one, a
        // retained status is never read, and storing it (a packet per device,
        // matched against every SUBSCRIBE) is memory and CPU for nothing.
        if (channel !== 'status' || this.serviceAccounts.size === 0) packet.retain = false;
        else if (packet.retain && value.channel === 'status') {
          this.retainedState.set(deviceId, value.payload.state);
          if (isWill && value.payload.state === 'offline') this.willsOffline.add(client);
        }
        const message: UplinkMessage = { deviceId, channel, payload: value.payload, value, receivedAtMs: nowMs };
        // A QoS 2 uplink takes no slot: aedes answers a resent QoS 2 PUBLISH (its id already stored) with a PUBREC
        // and no `publish` event, so a slot taken for it would never be given back and, 16 of them later, the
        // connection would stall for good (its PINGs still answered). The contract's uplinks are QoS 1 (docs/protocol.md).
        if (isWill || packet.qos === 2) {
          this.admitted.set(packet, { client, message, slot: undefined });
          return done(null);
        }
        // Waits for room in the intake window: until then no PUBACK, and aedes
        // reads nothing more from this connection (intake.ts).
        return (this.intake as IntakeWindow<Client>).acquire(client, (slot) => {
          this.admitted.set(packet, { client, message, slot });
          done(null);
        });
      }
    }
  }

  private authorizeSubscribe(client: Client, sub: Subscription, done: (error: Error | null, subscription?: Subscription | null) => void): void {
    const principal = this.principals.get(client);
    if (principal !== undefined && authorizeSubscribeFilter(principal, sub.topic)) return done(null, sub);
    this.counters.aclDenied += 1;
    const who = { ...this.who(client), remoteAddress: this.connections.get(client.conn)?.remoteAddress };
    if (!this.refusedSubscribeAllowed(who.deviceId ?? who.username ?? `@${who.remoteAddress ?? '?'}`)) {
      this.counters.refused.subscribeFlood += 1;
      const limit = (this.settings as Settings).refusedSubscribeLimit;
      this.refusals.warn('refused subscriptions flooding: connection closed', who, { limit: limit.count, windowMs: limit.windowMs });
      // An error closes the connection (aedes' subscribe handler).
      return done(new Error('refused subscriptions flooding'));
    }
    this.refusals.warn('subscription refused by ACL', who, { filter: sub.topic.slice(0, LOG_TOPIC_CHARS) });
    // null (not an error) makes aedes answer return code 0x80 = failure in the
    // SUBACK (MQTT 3.1.1 §3.9.3) and keep the connection; an error would close it.
    done(null, null);
  }

  /** Counts one refused subscription of `key` (real time, kept across reconnects); false once over the limit. */
  private refusedSubscribeAllowed(key: string): boolean {
    const limit = (this.settings as Settings).refusedSubscribeLimit;
    let counter = this.subscribeRefusals.get(key);
    if (counter === undefined) {
      counter = new SlidingWindowCounter(limit.count, limit.windowMs);
      this.subscribeRefusals.set(key, counter);
      for (const oldest of this.subscribeRefusals.keys()) {
        if (this.subscribeRefusals.size <= MAX_SUBSCRIBE_COUNTERS) break;
        this.subscribeRefusals.delete(oldest);
      }
    }
    return counter.hit(performance.now());
  }

  // ---- broker events -------------------------------------------------------

  private clientRegistered(client: Client): void {
    this.counters.connections += 1;
    this.counters.connected += 1;
    const principal = this.principals.get(client);
    if (principal?.kind === 'device' && principal.primary) this.liveClients.set(principal.deviceId, client);
    this.logger.debug(this.who(client), 'client connected');
  }

  private clientDisconnected(client: Client): void {
    this.counters.connected -= 1;
    this.logger.debug(this.who(client), 'client disconnected');
    const principal = this.principals.get(client);
    if (principal?.kind !== 'device' || this.liveClients.get(principal.deviceId) !== client) return;
    const { deviceId } = principal;
    this.liveClients.delete(deviceId);
    if (this.stopping !== undefined) return;
    const nowMs = this.clock.nowMs();
    this.presence.connectionClosed(deviceId, nowMs);
    // A clean DISCONNECT discards the will [MQTT-3.1.2-10], and some devices set
    // none: correct the retained `online` so subscribers do not see a ghost.
    if (this.retainedState.get(deviceId) === 'online' && !this.willsOffline.has(client)) this.publishOfflineFor(deviceId, nowMs);
  }

  private publishOfflineFor(deviceId: string, nowMs: number): void {
    const broker = this.running?.broker;
    if (broker === undefined) return;
    this.retainedState.set(deviceId, 'offline');
    const payload = Buffer.from(JSON.stringify({ state: 'offline', ts: nowMs }), 'utf8');
    broker.publish({ cmd: 'publish', topic: topics.status(deviceId), payload, qos: 1, retain: true, dup: false }, (err) => {
      if (err) this.logger.error({ deviceId, err: err.message }, 'could not publish retained offline');
    });
  }

  /** Runs once per publish that the broker accepted; only admitted device uplinks go on to onUplink. */
  private published(packet: AedesPublishPacket, client: Client | null): void {
    // client === null: the broker's own publishes ($SYS heartbeats, commands, corrected status).
    if (client === null) return;
    const admitted = this.admitted.get(packet);
    if (admitted === undefined) return;
    this.admitted.delete(packet);
    const { message, slot } = admitted;
    if (admitted.client !== client) {
      if (slot !== undefined) this.intake?.release(slot);
      return;
    }
    this.counters.messagesIn += 1;
    // A message from a connection the device has since replaced (e.g. the old
    // connection's will after a takeover) must not overrule the live one.
    const live = this.liveClients.get(message.deviceId);
    const principal = this.principals.get(client);
    const primary = principal?.kind === 'device' && principal.primary;
    if (live === client || (live === undefined && primary)) {
      // An `online` handed on after its connection closed (a button that says
      // online and drops at once) is stale: only a will speaks for a closed connection.
      if (message.value.channel === 'status') {
        if (message.value.payload.state === 'offline' || !client.closed) this.presence.statusReceived(message.deviceId, message.value.payload, message.receivedAtMs);
      } else if (!client.closed) this.presence.seen(message.deviceId, message.receivedAtMs);
    }
    if (slot !== undefined) slot.handedOn = true;
    const settled = this.uplinkListeners.emit(message, { deviceId: message.deviceId, channel: message.channel });
    if (slot === undefined) return;
    // The slot is free once every handler is done with the message (for an SOS: committed, `received` published).
    const intake = this.intake as IntakeWindow<Client>;
    if (settled === undefined) intake.release(slot);
    else void settled.then(() => intake.release(slot));
  }

  private who(client: Client): { deviceId?: string; username?: string } {
    const principal = this.principals.get(client);
    if (principal === undefined) return {};
    return principal.kind === 'device' ? { deviceId: principal.deviceId } : { username: principal.username };
  }
}

/**
 * mqtt-packet's parser keeps the bytes of a packet not yet whole in a `bl`
 * BufferListStream: a full Duplex (two stream states, listeners), about 0.5 KB
 * per idle connection, of which the parser uses only the list. A plain
 * BufferList has every method it calls (append, consume, length, readUInt8/16/32,
 * slice, toString). Not public API: when a future aedes or mqtt-packet has no
 * empty `_list` there, nothing is changed. After a parse error the parser makes
 * a new stream again, and the connection is closed anyway.
 */
function leanParserBuffer(client: Client): void {
  const parser = (client as unknown as { _parser?: { _list?: unknown } })._parser;
  const list = parser?._list;
  if (parser !== undefined && list instanceof BufferListStream && list.length === 0) parser._list = new BufferList();
}

/**
 * After login, let the CONNECT packet go: mqtt-packet's parser keeps it whole
 * as its `settings` (it reads only `protocolVersion` and `bridgeMode` from it
 * later), and its password and will payload are slices of the socket chunk it
 * came in, which they keep alive. The will payload is copied out; the parser
 * keeps what it reads. Not public API: without them where expected, nothing
 * is changed.
 */
function forgetConnectPacket(client: Client): void {
  const parser = (client as unknown as { _parser?: { settings?: { cmd?: string; protocolVersion?: number; bridgeMode?: boolean } } })._parser;
  const settings = parser?.settings;
  if (parser !== undefined && settings?.cmd === 'connect') {
    parser.settings = { protocolVersion: settings.protocolVersion, ...(settings.bridgeMode === true ? { bridgeMode: true } : {}) };
  }
  const will = (client as unknown as { _will?: { payload?: unknown } | null })._will;
  if (will !== null && will !== undefined && Buffer.isBuffer(will.payload)) will.payload = Buffer.from(will.payload);
}

/**
 * The two streams aedes asks its persistence for at every session start, made
 * cheap: the outgoing queue (emptyQueue, after the CONNACK) and the retained
 * messages (after the SUBACK). aedes-persistence's default (CallBackPersistence)
 * wraps each stream of its in-memory store in a second `Readable.from()`, read
 * through an async iterator; aedes pipes the outgoing one through a Transform
 * in a `pipeline()`. For a device both are empty, and measured with a sampling
 * heap profiler over 10,000 logins (a real `kanjia start`), that machinery was
 * ~11 KB a login that lived long enough to be promoted to the old space: the
 * burst left it there as garbage, and the heap (the process's RSS) grew by it
 * (issue 10: <= 12 KB of RSS per idle connection). Promoted bytes a login,
 * live ones included: 25.8 KB before, 14.3 KB after.
 *
 * - A clean session's outgoing queue is an ended stream. Its own queue is
 *   empty at CONNECT (its subscriptions are not persisted, so nothing is
 *   queued for it), and a clean session discards whatever an earlier
 *   persistent session of its client id left [MQTT-3.1.2-6] (aedes delivers
 *   none of it either: session-streams.test.ts).
 * - Every other stream is the store's own, without the wrapper: the same
 *   packets in the same order.
 *
 * Not public API: without `asyncPersistence` and its two methods where
 * expected, nothing is changed (overload.test.ts "aedes keeps what the
 * gateway relies on where it looks" says so).
 */
export function leanPersistenceStreams(broker: Aedes): boolean {
  const persistence = (broker as unknown as { persistence?: Record<string, unknown> }).persistence;
  const inner = persistence?.asyncPersistence as Record<string, unknown> | undefined;
  if (persistence === undefined || inner === undefined) return false;
  const outgoingStream = inner.outgoingStream;
  const createRetainedStreamCombi = inner.createRetainedStreamCombi;
  if (typeof outgoingStream !== 'function' || typeof createRetainedStreamCombi !== 'function') return false;
  if (typeof persistence.outgoingStream !== 'function' || typeof persistence.createRetainedStreamCombi !== 'function') return false;
  persistence.outgoingStream = (client: Client) => (client.clean ? endedStream() : (outgoingStream.call(inner, client) as Readable));
  persistence.createRetainedStreamCombi = (patterns: string[]) => createRetainedStreamCombi.call(inner, patterns) as Readable;
  return true;
}

/**
 * mqtt-packet keeps one 2-byte buffer for each of the 65,536 packet ids, made
 * by the first packet it writes (`cacheNumbers`): ~6.5 MB once per process,
 * whatever the number of devices. Made at start, it is not a cost of the
 * first device's login (nor counted as 0.65 KB of each of 10,000 connections
 * by a figure taken around their connects).
 */
function warmPacketWriter(): void {
  generatePacket({ cmd: 'puback', messageId: 1 });
}

/** A stream of packets that ends at its first read. */
function endedStream(): Readable {
  return new Readable({
    objectMode: true,
    read() {
      this.push(null);
    },
  });
}

/** One listener for every socket's 'error' (aedes reports them as clientError). */
function ignoreSocketError(): void {}

/** The aedes Client on a socket: aedes hangs it on the stream it handles (conn.client). */
function clientOf(socket: Socket): Client | undefined {
  return (socket as { client?: Client }).client;
}

/**
 * aedes' keep-alive timer of a client ([MQTT-3.1.2-24]: 1.5 × keep-alive
 * without a packet closes it), which it refreshes per packet it handles. Not
 * public API: when a future aedes names it otherwise, this is undefined, and
 * the guard leaves PINGs to aedes again (the test "aedes keeps its keep-alive
 * timer where the gateway looks for it" says so).
 */
export function keepAliveTimer(client: Client): { refresh(): unknown } | undefined {
  const timer = (client as unknown as { _keepaliveTimer?: { refresh?: unknown } | null })._keepaliveTimer;
  return timer !== null && timer !== undefined && typeof timer.refresh === 'function' ? (timer as { refresh(): unknown }) : undefined;
}

/** Who a refused CONNECT claimed to be, for the log: only a well-formed device id or a known service account. */
function describeUsername(username: string | undefined, serviceAccounts: ReadonlyMap<string, string>): { deviceId?: string; username?: string } {
  if (username === undefined) return {};
  if (serviceAccounts.has(username)) return { username };
  return DeviceId.safeParse(username).success ? { deviceId: username } : {};
}

/** What of a validation error may be logged: zod paths and expectations, never the payload (JSON.parse messages quote it). */
function describeDrop(error: PayloadError): { reason?: string } {
  return error.code === 'PAYLOAD_INVALID' ? { reason: error.message.slice(0, 300) } : {};
}

/** Parses a command published by a service account, with the same codes as parseUplink. */
function parseCommand(payload: Buffer): { ok: true } | { ok: false; error: PayloadError } {
  if (payload.length > MAX_PAYLOAD_BYTES) return { ok: false, error: { code: 'PAYLOAD_TOO_LARGE', message: `payload is ${payload.length} bytes` } };
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, error: { code: 'PAYLOAD_NOT_JSON', message: 'payload is not JSON' } };
  }
  const result = DeviceCommand.safeParse(json);
  return result.success ? { ok: true } : { ok: false, error: { code: 'PAYLOAD_INVALID', message: formatZodError(result.error) } };
}
