/**
 * The login throttle and the password-check queue.
 *
 * Each password check is a 32 MiB scrypt of ~0.2 s in Node's small libuv
 * threadpool, so the throttle must decide before hashing, not after:
 *
 * - An attempt is reserved (counted as a failure in advance) before its check
 *   starts and released when its result is written, so N parallel guesses
 *   cannot all pass a check that reads the failures before any is recorded.
 * - Lockout is per (name, address): someone elsewhere cannot lock the duty
 *   officer out of their own desk. Per address across all names, and per
 *   name across all addresses as a looser cap that spares the addresses this
 *   user has logged in from before (a password spray from many addresses is
 *   still bounded; the officer's desk PC is not locked).
 * - At most CHECKS_AT_ONCE checks run at a time and QUEUE_MAX wait; more get
 *   503 LOGIN_BUSY at once: a flood of logins cannot starve the rest of the
 *   server (the SOS path) of CPU and threadpool, nor make a real login wait
 *   for minutes.
 *
 * Failures themselves are persisted in the audit log (they survive a
 * restart); only the in-flight reservations and the throttled-notice
 * bookkeeping are in memory.
 */
import type { SqliteAuditLog } from './audit-log.js';

export const LOGIN_THROTTLE = {
  windowMs: 15 * 60_000,
  /** Failures of one name from one address. */
  perNameAndAddress: 5,
  /** Failures from one address, whatever names. */
  perAddress: 20,
  /** Failures of one name from all addresses, except those where the user logged in before. */
  perName: 50,
  /** A successful login from an address within this long makes it a known address of the user. */
  knownAddressMs: 90 * 24 * 3600_000,
} as const;

/** Password checks that run at the same time: leaves the threadpool's other threads to the rest of the server. */
export const CHECKS_AT_ONCE = 2;
/** Logins waiting for a check beyond those running; one more answers 503 LOGIN_BUSY (at ~0.2 s per check, 8 wait < 1 s). */
export const QUEUE_MAX = 8;

export type Admission =
  | { ok: true; attempt: LoginAttempt }
  | { ok: false; reason: 'throttled'; retryAfterMs: number; /** First refusal of this name and address in this window: worth one audit row. */ firstInWindow: boolean }
  | { ok: false; reason: 'busy' };

/** A reserved attempt: run its check with check(), then report the result once. */
export interface LoginAttempt {
  /** Runs the password check when a slot is free. */
  check<T>(run: () => Promise<T>): Promise<T>;
  /** The attempt is over; its failure (if any) is in the audit log now. Idempotent. */
  release(): void;
}

export class LoginGuard {
  private readonly inFlight = new Map<string, number>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** When a throttled row was last written per name+address: one per window, not one per request. */
  private readonly throttledNoted = new Map<string, number>();

  constructor(
    private readonly audit: SqliteAuditLog,
    private readonly nowMs: () => number,
  ) {}

  /** Decides whether this login may have its password checked; reserves the attempt when it may. */
  admit(name: string, address: string): Admission {
    if (this.running + this.waiting.length >= CHECKS_AT_ONCE + QUEUE_MAX) return { ok: false, reason: 'busy' };
    const now = this.nowMs();
    const since = now - LOGIN_THROTTLE.windowMs;
    const keys = { pair: `p\u0000${name}\u0000${address}`, address: `a\u0000${address}`, name: `n\u0000${name}` };
    const limits: Array<{ failures: number[]; inFlight: number; limit: number }> = [
      { failures: this.audit.failuresForNameFrom(name, address, since), inFlight: this.count(keys.pair), limit: LOGIN_THROTTLE.perNameAndAddress },
      { failures: this.audit.failuresFromAddress(address, since), inFlight: this.count(keys.address), limit: LOGIN_THROTTLE.perAddress },
    ];
    if (!this.audit.hasLoggedInFrom(name, address, now - LOGIN_THROTTLE.knownAddressMs)) {
      limits.push({ failures: this.audit.failuresForName(name, since), inFlight: this.count(keys.name), limit: LOGIN_THROTTLE.perName });
    }
    let blockedUntil = 0;
    for (const { failures, inFlight, limit } of limits) {
      if (failures.length + inFlight < limit) continue;
      // Checks still running count as failures until they end; until then, retry after a moment.
      const oldestCounted = failures[limit - 1 - inFlight];
      blockedUntil = Math.max(blockedUntil, oldestCounted === undefined ? now + 1000 : oldestCounted + LOGIN_THROTTLE.windowMs);
    }
    if (blockedUntil > now) {
      const noted = this.throttledNoted.get(keys.pair);
      const firstInWindow = noted === undefined || now - noted >= LOGIN_THROTTLE.windowMs;
      if (firstInWindow) {
        if (this.throttledNoted.size >= 10_000) this.forgetOldNotes(now);
        this.throttledNoted.set(keys.pair, now);
      }
      return { ok: false, reason: 'throttled', retryAfterMs: blockedUntil - now, firstInWindow };
    }
    const held = [keys.pair, keys.address, keys.name];
    for (const k of held) this.inFlight.set(k, this.count(k) + 1);
    let released = false;
    return {
      ok: true,
      attempt: {
        check: async <T>(run: () => Promise<T>): Promise<T> => {
          await this.slot();
          try {
            return await run();
          } finally {
            const next = this.waiting.shift();
            // The finishing check hands its slot to the next in line: running stays the same.
            if (next) next();
            else this.running -= 1;
          }
        },
        release: () => {
          if (released) return;
          released = true;
          for (const k of held) {
            const n = this.count(k) - 1;
            if (n > 0) this.inFlight.set(k, n);
            else this.inFlight.delete(k);
          }
        },
      },
    };
  }

  /** Checks running and waiting now (for tests and stats). */
  load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  private slot(): Promise<void> {
    if (this.running < CHECKS_AT_ONCE) {
      this.running += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private count(key: string): number {
    return this.inFlight.get(key) ?? 0;
  }

  private forgetOldNotes(now: number): void {
    for (const [k, at] of this.throttledNoted) if (now - at >= LOGIN_THROTTLE.windowMs) this.throttledNoted.delete(k);
  }
}
