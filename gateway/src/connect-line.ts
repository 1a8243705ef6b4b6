/**
 * The connect-rate limit with a waiting line (issue 10: a reconnect storm of
 * 10,000 devices back within 20 s).
 *
 * Logins are paced by a token bucket (`connects` at once, refilled at
 * `connects` per `perMs`). A CONNECT over the rate is not refused at once: it
 * waits, unanswered, for its turn in a first-come line as long as its turn
 * comes within `maxWaitMs`; only when the line is that long already is it
 * refused (CONNACK 3, the device retries). Why: refused at once, the devices
 * after a power cut come back in waves (each refusal a TCP connection, a
 * CONNECT, a CONNACK for nothing: ~31,000 of them for 10,000 devices at
 * 500/s, measured), the bucket sits idle between waves, and the last devices
 * wait for their retry timers. Waiting, a device costs nothing but its socket
 * (which it would hold anyway a moment later) and is served the moment a
 * login is free, in the order it came.
 *
 * Times are real milliseconds (performance.now() by default), as for every
 * network deadline of the gateway. One timer at most, for the head of the line.
 */

export interface ConnectLineOptions {
  /** Logins at once, and refilled per `perMs`. */
  connects: number;
  perMs: number;
  /** A CONNECT over the rate waits for its turn at most this long, ms; 0 = refused at once. */
  maxWaitMs: number;
}

/** One CONNECT waiting for its turn. */
export interface LineTicket {
  /** The connection closed while it waited: its place goes to the next. */
  cancel(): void;
}

interface Waiting {
  turn: () => void;
  cancelled: boolean;
}

/** Counts since start, and now. */
export interface ConnectLineCounts {
  /** CONNECTs waiting for their turn now. */
  waiting: number;
  /** CONNECTs that waited and were served. */
  waited: number;
}

/** Decides, per CONNECT, whether it goes now, waits for its turn, or is refused. */
export class ConnectLine {
  private tokens: number;
  private lastMs: number;
  private readonly line: Waiting[] = [];
  /** Index of the head of `line` (entries before it are done). */
  private head = 0;
  /** Entries of the line not cancelled. */
  private live = 0;
  private waited = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  /** Places in the line: as many as are served within maxWaitMs. */
  readonly capacity: number;

  constructor(
    private readonly options: ConnectLineOptions,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    const o = options;
    if (!(Number.isInteger(o.connects) && o.connects >= 1 && o.perMs > 0 && o.maxWaitMs >= 0)) {
      throw new RangeError(`connect line needs connects >= 1 (an integer), perMs > 0 and maxWaitMs >= 0, got ${JSON.stringify(o)}`);
    }
    this.tokens = o.connects;
    this.lastMs = nowMs();
    this.capacity = Math.floor((o.maxWaitMs * o.connects) / o.perMs);
  }

  /**
   * A CONNECT arrives: 'now' (a login taken), a ticket (`turn` is called when
   * its login is free, within maxWaitMs), or 'refused' (the line is full).
   */
  admit(turn: () => void): 'now' | 'refused' | LineTicket {
    if (this.stopped) return 'refused';
    this.refill();
    if (this.live === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return 'now';
    }
    if (this.live >= this.capacity) return 'refused';
    const entry: Waiting = { turn, cancelled: false };
    this.line.push(entry);
    this.live += 1;
    this.schedule();
    return {
      cancel: () => {
        if (entry.cancelled) return;
        entry.cancelled = true;
        this.live -= 1;
      },
    };
  }

  counts(): ConnectLineCounts {
    return { waiting: this.live, waited: this.waited };
  }

  /** Drops the line (gateway stop): nobody waiting is called. Idempotent. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (let i = this.head; i < this.line.length; i++) (this.line[i] as Waiting).cancelled = true;
    this.line.length = 0;
    this.head = 0;
    this.live = 0;
  }

  private refill(): void {
    const now = this.nowMs();
    // A clock that steps backwards must not mint or destroy logins.
    const elapsedMs = Math.max(0, now - this.lastMs);
    this.lastMs = Math.max(this.lastMs, now);
    this.tokens = Math.min(this.options.connects, this.tokens + (elapsedMs * this.options.connects) / this.options.perMs);
  }

  /** Serves the head of the line while logins are free; then waits for the next one. */
  private drain(): void {
    this.timer = undefined;
    if (this.stopped) return;
    this.refill();
    while (this.head < this.line.length) {
      const entry = this.line[this.head] as Waiting;
      if (entry.cancelled) {
        this.head += 1;
        continue;
      }
      if (this.tokens < 1) break;
      this.tokens -= 1;
      this.head += 1;
      this.live -= 1;
      this.waited += 1;
      entry.turn();
    }
    // Compact now and then, not on every turn.
    if (this.head >= this.line.length) {
      this.line.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.line.length) {
      this.line.splice(0, this.head);
      this.head = 0;
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.live === 0 || this.stopped) return;
    const msPerLogin = this.options.perMs / this.options.connects;
    // At least 5 ms between turns (the logins of 5 ms go together), at most until the next login is free.
    const delayMs = Math.max(5, Math.ceil((1 - this.tokens) * msPerLogin));
    this.timer = setTimeout(() => this.drain(), delayMs);
  }
}
