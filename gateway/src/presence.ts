/**
 * Online/offline state per device, in the manner of zigbee2mqtt's availability:
 * the device's own retained `status` messages (and its last will) say what it
 * is, a closed connection means offline whatever the last message said, and any
 * other valid uplink from a live connection means it is there.
 */
import type { Clock, DeviceStatus, TimerHandle } from '@kanjia/protocol';

/** One change of a device's presence, as handed to `Gateway.onPresence` listeners. */
export interface PresenceChange {
  deviceId: string;
  online: boolean;
  /** Gateway clock time of the change, ms since the epoch (not the device's `ts`). */
  atMs: number;
  /** From the device's latest `online` status message, when it sent one. */
  firmware?: string;
  batteryPct?: number;
}

interface DeviceState {
  online: boolean;
  sinceMs: number;
  firmware?: string;
  batteryPct?: number;
}

/** Tracks presence per device and reports each flip between online and offline (and the first sighting). */
export class PresenceTracker {
  private readonly devices = new Map<string, DeviceState>();

  constructor(private readonly emit: (change: PresenceChange) => void) {}

  /** A valid `status` message (including a last will) from the device. */
  statusReceived(deviceId: string, status: DeviceStatus, atMs: number): void {
    const state = this.devices.get(deviceId);
    const firmware = status.firmware ?? state?.firmware;
    const batteryPct = status.batteryPct ?? state?.batteryPct;
    this.set(deviceId, status.state === 'online', atMs, firmware, batteryPct);
  }

  /** Any other valid uplink from the device's live connection: it is there. */
  seen(deviceId: string, atMs: number): void {
    const state = this.devices.get(deviceId);
    if (state?.online === true) return;
    this.set(deviceId, true, atMs, state?.firmware, state?.batteryPct);
  }

  /** The device's connection ended, with or without a last will. */
  connectionClosed(deviceId: string, atMs: number): void {
    const state = this.devices.get(deviceId);
    if (state === undefined || !state.online) return;
    this.set(deviceId, false, atMs, state.firmware, state.batteryPct);
  }

  /** True when the device is currently online. */
  isOnline(deviceId: string): boolean {
    return this.devices.get(deviceId)?.online === true;
  }

  /** Forgets every device (on gateway stop). */
  clear(): void {
    this.devices.clear();
  }

  private set(deviceId: string, online: boolean, atMs: number, firmware: string | undefined, batteryPct: number | undefined): void {
    const previous = this.devices.get(deviceId);
    const next: DeviceState = { online, sinceMs: previous?.online === online ? previous.sinceMs : atMs };
    if (firmware !== undefined) next.firmware = firmware;
    if (batteryPct !== undefined) next.batteryPct = batteryPct;
    this.devices.set(deviceId, next);
    if (previous?.online === online) return;
    const change: PresenceChange = { deviceId, online, atMs };
    if (firmware !== undefined) change.firmware = firmware;
    if (batteryPct !== undefined) change.batteryPct = batteryPct;
    this.emit(change);
  }
}

/**
 * How presence is calmed down for the people who watch it (PresenceDebouncer).
 * A drop and a return is 2 changes: a router restart or a short power cut
 * gives one or two of those, a 4G link at the edge of its cell or a button
 * cut for flooding gives dozens a minute.
 */
export interface PresenceDebounceSettings {
  /** A device's changes are passed on at most this often; the state at the end of the wait wins. */
  holdMs: number;
  /** More changes than this within flapWindowMs make the connection unstable. */
  flapLimit: number;
  flapWindowMs: number;
  /** An unstable connection is stable again after this long without a change. */
  stableAfterMs: number;
}

/** 5 s hold (the dashboard must not flicker; a real drop still shows within seconds); unstable at more than 6 changes within 2 min (back for the 4th time after 3 drops); stable after 5 quiet minutes. */
export const DEFAULT_PRESENCE_DEBOUNCE: Readonly<PresenceDebounceSettings> = Object.freeze({
  holdMs: 5_000,
  flapLimit: 6,
  flapWindowMs: 2 * 60_000,
  stableAfterMs: 5 * 60_000,
});

/** A presence change as passed on by PresenceDebouncer. */
export interface DebouncedPresence extends PresenceChange {
  /** The connection keeps dropping: online/offline say little until it has been quiet for stableAfterMs. */
  unstable: boolean;
  /** While unstable: when it will count as stable if nothing changes. */
  unstableUntilMs?: number;
  /** False when only `unstable` changed: the state is the one passed on before. */
  stateChanged: boolean;
}

interface DebounceState {
  latest: PresenceChange;
  /** What was passed on last; undefined before the first. */
  sent: { online: boolean; unstable: boolean } | undefined;
  sentAtMs: number;
  /** Times of the latest raw changes, at most flapLimit + 1 (all the flap rule needs). */
  changes: number[];
  unstableUntilMs: number | undefined;
  timer: TimerHandle | undefined;
}

/**
 * Sits between the raw presence changes (PresenceTracker) and what people see
 * and what is stored: passes each device's changes on at most once per
 * holdMs (the first at once, then the latest state at the end of the wait, so
 * the last state always arrives), and marks a device whose connection keeps
 * dropping as unstable. Pure apart from its clock; one timer per device at most.
 */
export class PresenceDebouncer {
  private readonly devices = new Map<string, DebounceState>();
  private readonly settings: PresenceDebounceSettings;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly emit: (change: DebouncedPresence) => void,
    settings: Partial<PresenceDebounceSettings> = {},
  ) {
    this.settings = { ...DEFAULT_PRESENCE_DEBOUNCE, ...settings };
  }

  /** A raw change of a device's presence (every flip, as PresenceTracker reports it). */
  change(change: PresenceChange): void {
    if (this.stopped) return;
    const now = this.clock.nowMs();
    let d = this.devices.get(change.deviceId);
    if (d === undefined) {
      d = { latest: change, sent: undefined, sentAtMs: Number.NEGATIVE_INFINITY, changes: [], unstableUntilMs: undefined, timer: undefined };
      this.devices.set(change.deviceId, d);
    }
    d.latest = change;
    d.changes.push(now);
    if (d.changes.length > this.settings.flapLimit + 1) d.changes.shift();
    const recent = d.changes.filter((t) => now - t <= this.settings.flapWindowMs).length;
    // Once unstable, every change restarts the quiet period.
    if (recent > this.settings.flapLimit || d.unstableUntilMs !== undefined) d.unstableUntilMs = now + this.settings.stableAfterMs;
    this.settle(d, now);
  }

  /** True while the device's connection counts as unstable. */
  isUnstable(deviceId: string): boolean {
    return this.devices.get(deviceId)?.unstableUntilMs !== undefined;
  }

  /** Passes on every change still held (so what is stored ends right), then clears every timer; idempotent. */
  stop(): void {
    if (this.stopped) return;
    const now = this.clock.nowMs();
    for (const d of this.devices.values()) {
      this.clock.clearTimeout(d.timer);
      d.timer = undefined;
      if (this.differs(d)) this.passOn(d, now);
    }
    this.stopped = true;
    this.devices.clear();
  }

  private differs(d: DebounceState): boolean {
    const unstable = d.unstableUntilMs !== undefined;
    return d.sent === undefined || d.sent.online !== d.latest.online || d.sent.unstable !== unstable;
  }

  private settle(d: DebounceState, now: number): void {
    this.clock.clearTimeout(d.timer);
    d.timer = undefined;
    if (d.unstableUntilMs !== undefined && now >= d.unstableUntilMs) d.unstableUntilMs = undefined;
    let wakeAt: number | undefined;
    if (this.differs(d)) {
      const due = d.sentAtMs + this.settings.holdMs;
      if (now >= due) this.passOn(d, now);
      else wakeAt = due;
    }
    if (d.unstableUntilMs !== undefined) wakeAt = Math.min(wakeAt ?? Number.POSITIVE_INFINITY, d.unstableUntilMs);
    if (wakeAt !== undefined) {
      d.timer = this.clock.setTimeout(() => {
        d.timer = undefined;
        this.settle(d, this.clock.nowMs());
      }, wakeAt - now);
    }
  }

  private passOn(d: DebounceState, now: number): void {
    const unstable = d.unstableUntilMs !== undefined;
    const stateChanged = d.sent === undefined || d.sent.online !== d.latest.online;
    d.sent = { online: d.latest.online, unstable };
    d.sentAtMs = now;
    const out: DebouncedPresence = { ...d.latest, unstable, stateChanged };
    if (d.unstableUntilMs !== undefined) out.unstableUntilMs = d.unstableUntilMs;
    this.emit(out);
  }
}

/**
 * Hands items on at most once per `intervalMs`: the first of a quiet moment
 * at once, those that follow within the interval together at its end, in
 * order. After a reconnect storm every device sends its `online` status (with
 * its battery level, written to the device's history): handled one by one,
 * each arrived in its own turn of the event loop, and the grouped writes made
 * one commit (one fsync) for each of those turns; in batches they share one
 * commit per interval (server system.ts). The interval ends after `intervalMs` of
 * the injected clock or of real time, whichever comes first: a simulated day
 * driven from timer to timer sees its changes 100 ms of its own time late
 * (not the seconds it moves on during 100 real ms), and a clock that stands
 * still (a test's) does not hold them back.
 */
export class Batcher<T> {
  private items: T[] = [];
  /** The interval running since the last hand-over, on the clock and in real time; undefined: quiet. */
  private timer: TimerHandle | undefined;
  private realTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  /** Items handed over but not handled yet: at most `maxPerTurn` a turn of the event loop. */
  private handing: T[] = [];
  private turn: ReturnType<typeof setImmediate> | undefined;

  /**
   * `maxPerTurn`: a batch is handled this many at a time, one turn of the event
   * loop each, so a storm's batch of hundreds does not hold up an SOS arriving
   * meanwhile. Default unbounded.
   */
  constructor(
    private readonly clock: Clock,
    private readonly handle: (items: T[]) => void,
    private readonly intervalMs: number,
    private readonly maxPerTurn = Number.POSITIVE_INFINITY,
  ) {
    if (!(intervalMs >= 0)) throw new RangeError(`intervalMs: ${intervalMs} must be >= 0`);
    if (!(maxPerTurn >= 1)) throw new RangeError(`maxPerTurn: ${maxPerTurn} must be >= 1`);
  }

  /** Hands `item` on at once when quiet (or stopped), else with the others at the end of the interval. */
  add(item: T): void {
    this.items.push(item);
    if (this.timer === undefined || this.stopped) this.handOver();
  }

  /** Hands on everything queued now, and clears the timers; later items go at once. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.endInterval();
    clearImmediate(this.turn);
    this.turn = undefined;
    for (const item of this.items.splice(0)) this.handing.push(item);
    this.handSome();
  }

  private handOver(): void {
    if (this.items.length === 0) return;
    const items = this.items;
    this.items = [];
    if (!this.stopped && this.intervalMs > 0) {
      const end = (): void => {
        this.endInterval();
        this.handOver();
      };
      this.timer = this.clock.setTimeout(end, this.intervalMs);
      this.realTimer = setTimeout(end, this.intervalMs);
    }
    for (const item of items) this.handing.push(item);
    // Behind what is still being handed over (its next turn is scheduled).
    if (this.turn === undefined) this.handSome();
  }

  private endInterval(): void {
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    clearTimeout(this.realTimer);
    this.realTimer = undefined;
  }

  private handSome(): void {
    this.turn = undefined;
    const count = this.stopped ? this.handing.length : Math.min(this.handing.length, this.maxPerTurn);
    if (count === 0) return;
    const items = this.handing.splice(0, count);
    if (this.handing.length > 0) this.turn = setImmediate(() => this.handSome());
    this.handle(items);
  }
}
