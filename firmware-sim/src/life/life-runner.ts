/**
 * Plays a household's life plan over MQTT with its real device credentials:
 * each step is sent by the device it belongs to, at its moment on the injected
 * clock (the system clock for real time, a ScaledClock to live a day in
 * minutes, a FakeClock in tests). The person also answers the devices: a
 * reminder ("are you all right? press the button") gets a press when they are
 * up and about (and sometimes when woken), and the alarm beep after a fall
 * they got up from gets the cancel press.
 */
import { systemClock, type Clock, type DeviceCommand } from '@kanjia/protocol';
import { hashSeed, Prng } from '../routine/prng.js';
import { silentLogger, type SimLogger } from '../logger.js';
import { SimDevice, type AckHandle } from '../sim-device.js';
import type { SimDeviceCredentials } from '../sim-household.js';
import { SimDeviceError } from '../errors.js';
import { HEARTBEAT_INTERVAL_MS, type LifePlan, type LifeStep } from './life-plan.js';

const S = 1000;
const MIN = 60 * S;
/** Real milliseconds settled() waits at most for a press's `received`. */
const PRESS_SETTLE_MS = 2000;

export interface LifeRunnerOptions {
  brokerUrl: string;
  /** The broker's CA for mqtts:// (SimDeviceOptions.ca). */
  ca?: string | Buffer;
  devices: readonly SimDeviceCredentials[];
  plan: LifePlan;
  clock?: Clock;
  /** The devices' own lines (connections, beeps). Default: silent. */
  logger?: SimLogger;
  /** Seeds the person's reactions (how fast they answer a reminder). Default: the plan's routine seed. */
  seed?: number;
  resendIntervalMs?: number;
  reconnectPeriodMs?: number;
  /** Default: HEARTBEAT_INTERVAL_MS of each device's kind. */
  heartbeatIntervalMs?: number;
  firmware?: string;
  /** Called for every step played, and for every reaction of the person. */
  onStep?: (step: LifeStep) => void;
  /** Called for every command any device receives (also devices booted again after a power cut). */
  onCommand?: (deviceId: string, command: DeviceCommand) => void;
  /** Devices dead at the start (a flat battery or a power cut carried over from a previous plan): not connected until a powerOn step. */
  dead?: readonly string[];
}

export interface LifeRunnerStats {
  /** Steps sent by a live device. */
  played: number;
  /** Steps of a device that was dead (powered off) at the time. */
  skipped: number;
  /** Sends the broker did not acknowledge (device offline, stopped). */
  failed: number;
  /** Reminders received, and how many the person answered with a press. */
  reminders: number;
  answered: number;
  /** Falls the person cancelled when the device beeped. */
  cancelledFalls: number;
}

interface Slot {
  credentials: SimDeviceCredentials;
  device: SimDevice;
  alive: boolean;
}

export class HouseholdLifeRunner {
  private readonly clock: Clock;
  private readonly logger: SimLogger;
  private readonly slots = new Map<string, Slot>();
  private readonly rng: Prng;
  private readonly inflight = new Set<Promise<unknown>>();
  /** The person's pending reactions (answering a reminder, the cancel press), cleared by stop(). */
  private readonly reactions = new Set<ReturnType<Clock['setTimeout']>>();
  private next = 0;
  private timer: ReturnType<Clock['setTimeout']> | undefined;
  private stopped = false;
  private finishedResolve: (() => void) | undefined;
  private readonly finishedPromise = new Promise<void>((resolve) => {
    this.finishedResolve = resolve;
  });
  readonly stats: LifeRunnerStats = { played: 0, skipped: 0, failed: 0, reminders: 0, answered: 0, cancelledFalls: 0 };

  constructor(private readonly options: LifeRunnerOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? silentLogger;
    this.rng = new Prng(hashSeed(options.seed ?? options.plan.routine.seed, 0x4eac));
    const ids = new Set(options.devices.map((d) => d.deviceId));
    const missing = [...new Set(options.plan.steps.map((s) => s.deviceId))].filter((id) => !ids.has(id));
    if (missing.length > 0) throw new SimDeviceError('NO_SUCH_DEVICE', `life plan names device(s) without credentials: ${missing.join(', ')}`);
    const dead = new Set(options.dead ?? []);
    for (const credentials of options.devices) this.slots.set(credentials.deviceId, { credentials, device: this.makeDevice(credentials), alive: !dead.has(credentials.deviceId) });
  }

  /** The plan being played. */
  get plan(): LifePlan {
    return this.options.plan;
  }

  /** Every device as it is now (a device that was powered off and on again is a new SimDevice). */
  device(deviceId: string): SimDevice | undefined {
    return this.slots.get(deviceId)?.device;
  }

  /** Connects every device, then plays the plan; steps already due (planning and connecting take a moment) go at once. */
  async start(): Promise<void> {
    const results = await Promise.allSettled([...this.slots.values()].filter((slot) => slot.alive).map((slot) => slot.device.start()));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failures.length > 0) {
      await this.stop();
      const first = failures[0];
      throw new SimDeviceError(first instanceof SimDeviceError ? first.code : 'CONNECT_REFUSED', `household life: ${failures.length} device(s) could not start: ${failures.map(String).join('; ')}`, { cause: first });
    }
    this.arm();
  }

  /** Waits until everything sent so far has been acknowledged by the broker (or has failed). */
  async settled(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** True once every step has been played. */
  get finished(): boolean {
    return this.next >= this.plan.steps.length;
  }

  /** Resolves once every step has been played and acknowledged (never, if stopped first). */
  async whenFinished(): Promise<void> {
    await this.finishedPromise;
    await this.settled();
  }

  /** Stops playing, drops the person's pending reactions and disconnects every device that is still alive. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const t of this.reactions) this.clock.clearTimeout(t);
    this.reactions.clear();
    await Promise.allSettled([...this.slots.values()].map((slot) => slot.device.stop()));
  }

  /** Devices that are dead now (powered off and not back), for the next plan to carry over. */
  deadDevices(): string[] {
    return [...this.slots.values()].filter((slot) => !slot.alive).map((slot) => slot.credentials.deviceId);
  }

  /** The battery level each device reports now, for the next plan to go on from. */
  batteries(): Record<string, number> {
    return Object.fromEntries([...this.slots.values()].map((slot) => [slot.credentials.deviceId, slot.device.battery]));
  }

  private makeDevice(credentials: SimDeviceCredentials): SimDevice {
    const o = this.options;
    const device = new SimDevice({
      brokerUrl: o.brokerUrl,
      ...(o.ca !== undefined ? { ca: o.ca } : {}),
      deviceId: credentials.deviceId,
      secret: credentials.secret,
      clock: this.clock,
      logger: this.logger,
      ...(o.resendIntervalMs !== undefined ? { resendIntervalMs: o.resendIntervalMs } : {}),
      ...(o.reconnectPeriodMs !== undefined ? { reconnectPeriodMs: o.reconnectPeriodMs } : {}),
      heartbeatIntervalMs: o.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS[credentials.kind],
      ...(o.firmware !== undefined ? { firmware: o.firmware } : {}),
    });
    device.on('command', (command) => {
      this.options.onCommand?.(credentials.deviceId, command);
      this.onCommand(credentials.deviceId, command);
    });
    return device;
  }

  private arm(): void {
    if (this.stopped) return;
    const step = this.plan.steps[this.next];
    if (step === undefined) {
      this.finishedResolve?.();
      return;
    }
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      const now = this.clock.nowMs();
      for (let s = this.plan.steps[this.next]; s !== undefined && s.atMs <= now && !this.stopped; s = this.plan.steps[this.next]) {
        this.next += 1;
        this.play(s);
      }
      this.arm();
    }, step.atMs - this.clock.nowMs());
  }

  private play(step: LifeStep): void {
    const slot = this.slots.get(step.deviceId);
    if (slot === undefined) return;
    const a = step.action;
    if (a.type === 'powerOn') {
      if (slot.alive) return;
      slot.device = this.makeDevice(slot.credentials);
      slot.alive = true;
      this.track(slot.device.start());
      this.report(step);
      return;
    }
    if (!slot.alive) {
      this.stats.skipped += 1;
      return;
    }
    const d = slot.device;
    this.report(step);
    try {
      switch (a.type) {
        case 'telemetry':
          this.track(d.sendTelemetry(a.readings));
          break;
        case 'door':
          this.track(d.sendEvent({ type: 'door', open: a.open }));
          break;
        case 'press':
          this.settle(d.press(a.button));
          break;
        case 'fall':
          this.settle(d.sendAcked({ type: 'fall', confidence: a.confidence }));
          break;
        case 'accel':
          this.track(d.sendAccel({ ...a.window }));
          break;
        case 'battery':
          d.setBattery(a.pct);
          this.track(d.sendTelemetry({ batteryPct: a.pct }));
          break;
        case 'powerOff':
          slot.alive = false;
          this.track(d.powerOff());
          break;
      }
    } catch (error) {
      this.stats.failed += 1;
      this.logger.warn(`[${step.deviceId}] ${step.why}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /**
   * A press is resent until `received`. settled() waits for that `received`, but
   * at most PRESS_SETTLE_MS of real time (a server that never answers must not
   * hang it); the promises must never go unhandled.
   */
  private settle(handle: AckHandle): void {
    this.stats.played += 1;
    handle.taken.catch(() => undefined);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cap = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, PRESS_SETTLE_MS);
    });
    const p = Promise.race([handle.received.then(() => undefined, () => undefined), cap]).finally(() => clearTimeout(timer));
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private track(promise: Promise<unknown>): void {
    this.stats.played += 1;
    const p = promise.then(
      () => undefined,
      (error: unknown) => {
        this.stats.failed += 1;
        this.logger.debug?.(`life: ${error instanceof Error ? error.message : String(error)}`);
      },
    );
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private report(step: LifeStep): void {
    this.options.onStep?.(step);
  }

  /** The person hears the device. */
  private onCommand(deviceId: string, command: DeviceCommand): void {
    if (this.stopped) return;
    const now = this.clock.nowMs();
    const can = this.plan.capability(now);
    if (command.type === 'remind') {
      this.stats.reminders += 1;
      // Up and about: answers within minutes. Asleep: woken half the time. Out or unconscious: nobody presses.
      const answers = can === 'awake' || (can === 'asleep' && this.rng.chance(0.5));
      if (!answers) return;
      const delay = (can === 'awake' ? this.rng.uniform(1, 5) : this.rng.uniform(2, 8)) * MIN;
      this.later(delay, () => {
        if (this.plan.capability(this.clock.nowMs()) === 'incapacitated') return;
        const button = this.checkInButton();
        const target = button ?? this.slots.get(deviceId);
        if (target === undefined || !target.alive) return;
        this.stats.answered += 1;
        const step: LifeStep = { atMs: this.clock.nowMs(), deviceId: target.credentials.deviceId, action: { type: 'press', button: button ? 'checkIn' : 'cancel' }, why: `answers the ${command.reason} reminder` };
        this.report(step);
        this.settle(target.device.press(button ? 'checkIn' : 'cancel'));
      });
      return;
    }
    if (command.type === 'beep' && command.pattern === 'alarm') {
      // The alarm beep after a fall: someone who got up presses cancel.
      const fell = this.plan.recoveredFallsAtMs.some((t) => now >= t && now - t <= 3 * MIN);
      if (!fell || can === 'incapacitated') return;
      this.later(this.rng.uniform(5, 12) * S, () => {
        const slot = this.slots.get(deviceId);
        if (slot === undefined || !slot.alive) return;
        this.stats.cancelledFalls += 1;
        this.report({ atMs: this.clock.nowMs(), deviceId, action: { type: 'press', button: 'cancel' }, why: 'got up after the fall: presses cancel' });
        this.settle(slot.device.press('cancel'));
      });
    }
  }

  private checkInButton(): Slot | undefined {
    for (const slot of this.slots.values()) if (slot.credentials.kind === 'checkInButton' && slot.alive) return slot;
    return undefined;
  }

  private later(ms: number, fn: () => void): void {
    const timer = this.clock.setTimeout(() => {
      this.reactions.delete(timer);
      if (this.stopped) return;
      try {
        fn();
      } catch (error) {
        this.stats.failed += 1;
        this.logger.warn(`life: ${error instanceof Error ? error.message : String(error)}`);
      }
    }, Math.round(ms));
    this.reactions.add(timer);
  }
}
