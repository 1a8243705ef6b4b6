/**
 * firmware-sim load mode: N devices in one process (LoadDevice each), for
 * load runs on loopback. Connects them with bounded concurrency, keeps them
 * alive with one sweep, presses SOS, sends background telemetry at a fixed
 * total rate, cuts every connection at once for a reconnect storm, and counts
 * what happened (online, disconnects, refusals, received latencies).
 */
import { REFUSED_RETRY, type RefusedRetryPolicy } from '../reconnect.js';
import { RESEND_BASE_MS, resendPolicy, seededRandom, type RandomSource } from '../resend.js';
import { LoadDevice, type LoadDeviceHooks } from './load-device.js';

export interface LoadFleetOptions {
  /** Loopback only: `127.0.0.1` or `::1`. */
  host: string;
  port: number;
  devices: ReadonlyArray<{ deviceId: string; secret: string }>;
  /** Default 60 s. */
  keepaliveSeconds?: number;
  /** Wait before a reconnect after a cut, ×0.5–1.5 jitter. Default 1000 ms. */
  reconnectPeriodMs?: number;
  /** Wait before a reconnect after CONNACK 3 (../reconnect.ts); default the contract's 1–5 s, doubling up to 60 s. */
  refusedRetry?: RefusedRetryPolicy;
  /** Connections being set up at once during start(). Default 100. */
  connectConcurrency?: number;
  /** Resend base; default the contract's 5000 ms. */
  resendIntervalMs?: number;
  /** Seed of the jitter (resend, reconnect, flush). Default 1. */
  seed?: number;
  /** Called with every first `received`: the latency from the press, in ms. */
  onReceived?: (eventId: string, latencyMs: number, copies: number, deviceIndex: number) => void;
}

export interface FleetCounters {
  online: number;
  /** Connections that closed while their session was up, not by the fleet. */
  disconnects: number;
  /** CONNACK refusals by return code. */
  refused: Record<number, number>;
  /** Copies, telemetry, acks and statuses published. */
  published: number;
  /** Presses still waiting for their `received`. */
  pending: number;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export class LoadFleet {
  readonly devices: LoadDevice[];
  private readonly index = new Map<LoadDevice, number>();
  private onlineCount = 0;
  private disconnects = 0;
  private readonly refused: Record<number, number> = {};
  private sweep: ReturnType<typeof setInterval> | undefined;
  private readonly waiters = new Set<() => void>();
  private telemetryTimer: ReturnType<typeof setInterval> | undefined;
  private telemetryNext = 0;
  private readonly random: RandomSource;
  private readonly connectConcurrency: number;

  constructor(private readonly options: LoadFleetOptions) {
    if (!LOOPBACK.has(options.host)) throw new Error(`LoadFleet: host must be a loopback address, got "${options.host}"`);
    if (options.devices.length === 0) throw new Error('LoadFleet: no devices');
    this.random = seededRandom(options.seed ?? 1);
    this.connectConcurrency = Math.max(1, options.connectConcurrency ?? 100);
    const hooks: LoadDeviceHooks = {
      online: () => {
        this.onlineCount += 1;
        this.notify();
      },
      offline: (_d, wasOnline) => {
        if (!wasOnline) return;
        this.onlineCount -= 1;
        this.disconnects += 1;
        this.notify();
      },
      received: (device, eventId, pressedAtMs, copies) => options.onReceived?.(eventId, performance.now() - pressedAtMs, copies, this.index.get(device) ?? -1),
      refused: (_d, code) => {
        this.refused[code] = (this.refused[code] ?? 0) + 1;
        this.notify();
      },
    };
    const resend = resendPolicy(options.resendIntervalMs ?? RESEND_BASE_MS);
    this.devices = options.devices.map(
      (d) =>
        new LoadDevice(d.deviceId, d.secret, {
          host: options.host,
          port: options.port,
          keepaliveSeconds: options.keepaliveSeconds ?? 60,
          reconnectPeriodMs: options.reconnectPeriodMs ?? 1000,
          refusedRetry: options.refusedRetry ?? REFUSED_RETRY,
          reconnectFlushJitterMs: Math.min(1000, resend.baseMs),
          resend,
          random: this.random,
          now: () => performance.now(),
          hooks,
        }),
    );
    this.devices.forEach((d, i) => this.index.set(d, i));
  }

  get counters(): FleetCounters {
    let published = 0;
    let pending = 0;
    for (const d of this.devices) {
      published += d.published;
      pending += d.pendingCount;
    }
    return { online: this.onlineCount, disconnects: this.disconnects, refused: { ...this.refused }, published, pending };
  }

  /** Connects every device (at most connectConcurrency setting up at once); resolves when all are online, rejects after timeoutMs. */
  async start(timeoutMs: number): Promise<void> {
    this.sweep ??= setInterval(() => {
      const now = performance.now();
      for (const d of this.devices) d.keepAlive(now);
    }, 1000);
    const deadline = performance.now() + timeoutMs;
    let next = 0;
    while (next < this.devices.length) {
      // Devices still setting up = started − online; keep that window full.
      while (next < this.devices.length && next - this.onlineCount < this.connectConcurrency) this.devices[next++]!.connect();
      if (performance.now() > deadline) throw new Error(`LoadFleet: ${this.onlineCount} of ${this.devices.length} online after ${timeoutMs} ms`);
      await this.change(deadline);
    }
    await this.untilOnline(this.devices.length, deadline);
  }

  /** Resolves when `count` devices are online at once; rejects at `deadline` (performance.now() ms). */
  async untilOnline(count: number, deadline: number): Promise<void> {
    while (this.onlineCount < count) {
      if (performance.now() > deadline) throw new Error(`LoadFleet: ${this.onlineCount} of ${count} online at the deadline`);
      await this.change(deadline);
    }
  }

  /** Cuts every connection at once (no DISCONNECT: the broker publishes the wills); every device reconnects by itself. */
  dropAll(): void {
    for (const d of this.devices) d.drop();
  }

  /** Presses SOS on device `i` (see LoadDevice.pressSos for `once`); returns the event id. */
  pressSos(i: number, options: { once?: boolean } = {}): string {
    return this.devices[i % this.devices.length]!.pressSos(options);
  }

  /** Background telemetry: `perSecond` messages a second in all, round-robin over the online devices, in 10 ms ticks. 0 stops it. */
  telemetry(perSecond: number): void {
    clearInterval(this.telemetryTimer);
    this.telemetryTimer = undefined;
    if (perSecond <= 0) return;
    const startedAt = performance.now();
    let sent = 0;
    this.telemetryTimer = setInterval(() => {
      const due = Math.floor(((performance.now() - startedAt) / 1000) * perSecond) - sent;
      for (let k = 0; k < due; k++) {
        const d = this.devices[this.telemetryNext++ % this.devices.length]!;
        d.sendTelemetry({ temperatureC: 18 + Math.round(this.random() * 40) / 10, humidityPct: 55, motion: this.random() < 0.3 });
        sent += 1;
      }
    }, 10);
  }

  /** Stops every device and timer; the fleet cannot be started again. */
  stop(): void {
    this.telemetry(0);
    clearInterval(this.sweep);
    this.sweep = undefined;
    for (const d of this.devices) d.stop();
    this.notify();
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves at the next online/offline/refusal, or after 100 ms, never later than `deadline`. */
  private change(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, Math.min(100, deadline - performance.now())));
      this.waiters.add(done);
    });
  }
}
