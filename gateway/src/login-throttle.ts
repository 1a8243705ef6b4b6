/**
 * Slows wrong-secret logins, per device id and per address, without ever
 * slowing a correct one.
 *
 * The secret is checked first: a correct login is admitted at once, whoever and
 * wherever it comes from (a village's devices share one NAT address with
 * whatever else is on that network). A wrong one is answered (CONNACK 4) only
 * after a delay that grows with the recent failures of its device id and of
 * its address: none for the first few (a mistyped secret, a device retrying
 * once a second), then doubling to a bound below the connect timeout. Once an
 * address has used its free failures, at most `maxHeldPerAddress` of its
 * logins are checked or held at once: a held refusal keeps its place until its
 * time even if the client hangs up, so that address gets at most that many
 * answers per delay, and a CONNECT beyond them is closed without being checked
 * or answered. A device that has logged in from an address before is not
 * counted against that cap, and an address without wrong logins has none (a
 * storm of correct reconnects is never held back). Every table is bounded;
 * failures are forgotten after a quiet period.
 *
 * Why not more: a device secret is 256 random bits (device-auth.ts), so
 * guessing is hopeless at any speed; this keeps a flood of wrong logins from
 * costing CPU, log lines and sockets, and turns a misconfigured device's
 * storm of retries into one attempt every few seconds.
 *
 * Times are real milliseconds (performance.now() by default): these are
 * network deadlines, not the simulated time of the injected Clock.
 */

export interface LoginThrottleOptions {
  /** Failures of one key (device id or address) answered without delay. */
  freeFailures: number;
  /** Delay of the first held refusal, ms; it doubles with each further failure. */
  baseDelayMs: number;
  /** The longest delay, ms; must leave the refusal inside the connect timeout. */
  maxDelayMs: number;
  /** A key's failures are forgotten after this long without a new one, ms. */
  forgetAfterMs: number;
  /** Logins of one address checked or held at once; a CONNECT beyond them is closed unchecked and unanswered. */
  maxHeldPerAddress: number;
  /** Logins checked or held at once in all; beyond, CONNECTs are closed unchecked. */
  maxHeldTotal: number;
  /** Entries kept per table (device ids, addresses, known device+address pairs); the oldest go first. */
  maxEntries: number;
}

export const DEFAULT_LOGIN_THROTTLE: Readonly<LoginThrottleOptions> = {
  freeFailures: 5,
  baseDelayMs: 250,
  maxDelayMs: 5_000,
  forgetAfterMs: 15 * 60_000,
  maxHeldPerAddress: 16,
  maxHeldTotal: 1_000,
  maxEntries: 10_000,
};

interface FailureEntry {
  failures: number;
  lastFailureMs: number;
}

/** An insertion-ordered map that forgets its oldest entries beyond `max`. */
class BoundedMap<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}

  get(key: string): V | undefined {
    return this.map.get(key);
  }

  /** Sets (and refreshes the age of) `key`. */
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.max) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  get size(): number {
    return this.map.size;
  }

  clear(): void {
    this.map.clear();
  }
}

/** Who tried to log in: the username if it is a device id or service account, and the peer address. */
export interface LoginKey {
  deviceId?: string | undefined;
  address?: string | undefined;
}

/** The place of one CONNECT in the throttle, from its arrival to its answer; exactly one of the four ends it. */
export interface LoginTicket {
  /** Admitted: remembered as a device known at this address. */
  succeeded(): void;
  /** Refused for another reason than its secret (keep-alive, client id, the registry down): not counted. */
  refused(): void;
  /** A wrong secret: counted; `answer` is called after the delay (at once within the free failures). Returns the delay, ms. */
  failed(answer: () => void): number;
  /** The connection closed: ends the place unless a refusal is being held (that keeps it until its time). */
  closed(): void;
  /** The gateway stops: the held answer is dropped. */
  cancel(): void;
}

/** Decides whether a CONNECT is checked at all and how long a refusal is held. */
export class LoginThrottle {
  private readonly devices: BoundedMap<FailureEntry>;
  private readonly addresses: BoundedMap<FailureEntry>;
  /** `deviceId@address` pairs that logged in successfully: exempt from the address's cap. */
  private readonly known: BoundedMap<true>;
  private readonly heldByAddress = new Map<string, number>();
  private heldTotal = 0;

  constructor(
    readonly options: LoginThrottleOptions = DEFAULT_LOGIN_THROTTLE,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    const o = options;
    if (!(o.freeFailures >= 0 && o.baseDelayMs >= 0 && o.maxDelayMs >= o.baseDelayMs && o.forgetAfterMs > 0 && o.maxHeldPerAddress >= 1 && o.maxHeldTotal >= 1 && o.maxEntries >= 1)) {
      throw new RangeError(`login throttle options out of range: ${JSON.stringify(o)}`);
    }
    this.devices = new BoundedMap(o.maxEntries);
    this.addresses = new BoundedMap(o.maxEntries);
    this.known = new BoundedMap(o.maxEntries * 5);
  }

  /**
   * A CONNECT arrives: undefined when it is to be closed unchecked (its address
   * already has `maxHeldPerAddress` logins being checked or refused, and it is
   * no device known there); otherwise the ticket that ends its place.
   */
  begin(key: LoginKey): LoginTicket | undefined {
    // Only an address with wrong logins beyond the free ones is capped: a storm
    // of correct reconnects (a township's devices after a power cut, behind one
    // NAT address) is never held back.
    const capped = key.address !== undefined && !this.isKnown(key) && this.penalised(key.address);
    if (capped && this.heldTotal >= this.options.maxHeldTotal) return undefined;
    if (capped && (this.heldByAddress.get(key.address as string) ?? 0) >= this.options.maxHeldPerAddress) return undefined;
    let reserved: string | undefined;
    let held = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const reserve = (): void => {
      if (reserved !== undefined || key.address === undefined) return;
      reserved = key.address;
      this.heldTotal += 1;
      this.heldByAddress.set(reserved, (this.heldByAddress.get(reserved) ?? 0) + 1);
    };
    const release = (): void => {
      clearTimeout(timer);
      timer = undefined;
      held = false;
      if (reserved === undefined) return;
      const address = reserved;
      reserved = undefined;
      this.heldTotal -= 1;
      const n = (this.heldByAddress.get(address) ?? 1) - 1;
      if (n <= 0) this.heldByAddress.delete(address);
      else this.heldByAddress.set(address, n);
    };
    if (capped) reserve();
    return {
      succeeded: () => {
        if (key.deviceId !== undefined && key.address !== undefined) this.known.set(pairKey(key.deviceId, key.address), true);
        release();
      },
      refused: release,
      failed: (answer) => {
        const delayMs = this.countFailure(key);
        if (delayMs <= 0) {
          release();
          answer();
          return 0;
        }
        // The place is taken for the whole delay, even if the client hangs up meanwhile.
        reserve();
        held = true;
        timer = setTimeout(() => {
          release();
          answer();
        }, delayMs);
        timer.unref();
        return delayMs;
      },
      closed: () => {
        if (!held) release();
      },
      cancel: release,
    };
  }

  /** True when `address` has had more wrong logins than the free ones, recently. */
  private penalised(address: string): boolean {
    const entry = this.addresses.get(address);
    return entry !== undefined && entry.failures >= this.options.freeFailures && this.nowMs() - entry.lastFailureMs <= this.options.forgetAfterMs;
  }

  /** Logins being checked or held right now (in all). */
  get held(): number {
    return this.heldTotal;
  }

  /** Entries in the tables, for tests of the bound. */
  sizes(): { devices: number; addresses: number; known: number; heldAddresses: number } {
    return { devices: this.devices.size, addresses: this.addresses.size, known: this.known.size, heldAddresses: this.heldByAddress.size };
  }

  /** The delay after `failures` recent failures: 0 for the free ones, then base × 2^n, at most maxDelayMs. */
  delayFor(failures: number): number {
    const over = failures - this.options.freeFailures;
    if (over <= 0) return 0;
    return Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** Math.min(over - 1, 30));
  }

  /** Forgets everything (gateway stop). */
  clear(): void {
    this.devices.clear();
    this.addresses.clear();
    this.known.clear();
    this.heldByAddress.clear();
    this.heldTotal = 0;
  }

  private isKnown(key: LoginKey): boolean {
    return key.deviceId !== undefined && key.address !== undefined && this.known.get(pairKey(key.deviceId, key.address)) === true;
  }

  /** Counts a wrong secret against the device id and the address; returns how long to hold its refusal, ms. */
  private countFailure(key: LoginKey): number {
    const now = this.nowMs();
    const counts: number[] = [];
    if (key.deviceId !== undefined) counts.push(this.count(this.devices, key.deviceId, now));
    if (key.address !== undefined) counts.push(this.count(this.addresses, key.address, now));
    return this.delayFor(Math.max(0, ...counts));
  }

  private count(table: BoundedMap<FailureEntry>, key: string, now: number): number {
    const entry = table.get(key);
    const failures = entry === undefined || now - entry.lastFailureMs > this.options.forgetAfterMs ? 1 : entry.failures + 1;
    table.set(key, { failures, lastFailureMs: now });
    return failures;
  }
}

function pairKey(deviceId: string, address: string): string {
  return `${deviceId}@${address}`;
}
