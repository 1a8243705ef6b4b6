/**
 * Log lines for refusals, summarised: the first refusal of a kind from one
 * device or address in an interval is logged at once, with its details; the
 * repeats are only counted, and one line per kind and device/address at the
 * end of the interval says how many there were. A flood of refused packets
 * thus writes two lines a minute, not one per packet, and the first line still
 * says what was wrong.
 *
 * The interval runs on real time (setTimeout, unref'd): it is about the size
 * of the log, not the simulated time of the injected Clock.
 */
import type { Logger } from './logger.js';

export interface SummarizedLogOptions {
  /** Length of an interval, ms; default 60 000. */
  intervalMs?: number;
  /** Distinct (kind, who) pairs counted per interval; beyond, repeats are counted together. Default 1000. */
  maxKeys?: number;
}

interface Tally {
  level: 'warn' | 'info';
  msg: string;
  who: Record<string, unknown>;
  repeats: number;
}

/** Logs refusals once per (message, device/address) per interval, then their count. */
export class SummarizedLog {
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private tallies = new Map<string, Tally>();
  /** Repeats beyond maxKeys, by message. */
  private overflow = new Map<string, number>();
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

  constructor(
    private readonly logger: Logger,
    options: SummarizedLogOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.maxKeys = options.maxKeys ?? 1_000;
  }

  /**
   * A refusal: `who` identifies the source (deviceId, username, remoteAddress)
   * and is the key together with `msg` and `kind`; `details` go only into the
   * first line of the interval.
   */
  warn(msg: string, who: Record<string, unknown>, details: Record<string, unknown> = {}, kind = ''): void {
    this.note('warn', msg, who, details, kind);
  }

  /** Like warn(), at info level (expected refusals, e.g. a device with a typo). */
  info(msg: string, who: Record<string, unknown>, details: Record<string, unknown> = {}, kind = ''): void {
    this.note('info', msg, who, details, kind);
  }

  /** Writes the pending counts now and stops the interval. Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flush();
  }

  private note(level: 'warn' | 'info', msg: string, who: Record<string, unknown>, details: Record<string, unknown>, kind: string): void {
    const key = `${msg}\u0000${kind}\u0000${JSON.stringify(who)}`;
    const tally = this.tallies.get(key);
    if (tally !== undefined) {
      tally.repeats += 1;
      return;
    }
    if (this.tallies.size >= this.maxKeys) {
      this.overflow.set(msg, (this.overflow.get(msg) ?? 0) + 1);
      this.arm();
      return;
    }
    this.tallies.set(key, { level, msg, who, repeats: 0 });
    this.logger[level]({ ...who, ...details }, msg);
    this.arm();
  }

  private arm(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.intervalMs);
    this.timer.unref();
  }

  private flush(): void {
    const tallies = this.tallies;
    const overflow = this.overflow;
    this.tallies = new Map();
    this.overflow = new Map();
    for (const t of tallies.values()) {
      if (t.repeats > 0) this.logger[t.level]({ ...t.who, repeats: t.repeats, intervalMs: this.intervalMs }, `${t.msg} (repeated)`);
    }
    for (const [msg, repeats] of overflow) {
      this.logger.warn({ repeats, intervalMs: this.intervalMs, sources: 'more than maxKeys devices or addresses' }, `${msg} (repeated)`);
    }
    // The sources still refusing in the new interval start again with a full first line.
    if (tallies.size > 0 && !this.stopped) this.arm();
  }
}
