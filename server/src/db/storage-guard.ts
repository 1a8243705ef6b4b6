/**
 * Keeps the server answering when the database cannot write, and says so.
 *
 * - Writes that must not be lost (a device event above all: the SOS) go
 *   through `write()`: done at once when the database takes them, otherwise
 *   kept in order in a bounded queue in memory and retried on timers, with
 *   backoff, until they commit; whoever waits for one (the `received` to the
 *   device) hears only after the commit. Never a wait that blocks the event
 *   loop: the connection's busy timeout is tens of milliseconds, and none at
 *   all while another process is known to hold the lock.
 * - Every write on the connection is watched (write-watch.ts): a full disk,
 *   an I/O error or a read-only file raises STORAGE_WRITE_FAILED at once; a
 *   lock that lasts past the retries (busyRaiseAfterMs) raises it too. While
 *   raised, a probe write (64 KiB in, out again, in one transaction) runs
 *   every probeEveryMs, and the problem is cleared when it commits.
 *
 * The device's own resend is the safety net for what is queued here when the
 * process dies: nothing queued was acknowledged.
 */
import { KanjiaError, type CatalogCodes } from '@kanjia/protocol';
import type { Logger } from '../logger.js';
import type { SystemHealth } from '../system-health.js';
import { SERVER_BUSY_TIMEOUT_MS, transactionRunner, type Db } from './database.js';
import { describeReason, storageFault, type StorageFault } from './storage-errors.js';
import { watchWrites } from './write-watch.js';

/** The system problem raised on SystemHealth (protocol SYSTEM_PROBLEM_CODES). */
export const STORAGE_PROBLEM = 'STORAGE_WRITE_FAILED';

/** Timers in real time: the lock is held, and the disk filled, in the world's time, not the simulated one. */
export interface GuardTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  nowMs(): number;
}

const realTimers: GuardTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  nowMs: () => Date.now(),
};

export interface StorageGuardOptions {
  db: Db;
  /** The database file, named in every message. */
  file: string;
  health: Pick<SystemHealth, 'raise' | 'clear' | 'has'>;
  logger: Pick<Logger, 'error' | 'warn' | 'info'>;
  timers?: GuardTimers;
  /** The connection's busy timeout while no lock is known (default SERVER_BUSY_TIMEOUT_MS). */
  busyTimeoutMs?: number;
  /** A lock still held this long after a write first met it raises the problem (default 3 s: a backup's short lock is not an alarm). */
  busyRaiseAfterMs?: number;
  /** How often the probe write runs while the problem is raised (default 5 s). */
  probeEveryMs?: number;
  /** Writes kept at most (default 10,000); beyond, write() rejects with STORAGE_QUEUE_FULL. */
  maxQueued?: number;
  /** Droppable writes (telemetry, history) are refused once this many wait (default 1,000), keeping room for events. */
  maxDroppableQueued?: number;
  /**
   * Grouped commits: write() does not commit at once but with every other
   * write() of the same turn of the event loop, in one transaction (each in a
   * savepoint of its own), at most GROUP_MAX at a time: one fsync for a burst
   * instead of one per event. Whoever waits for a write still hears only after
   * its commit. attempt() is not grouped. Default false (the server sets it).
   */
  groupCommits?: boolean;
}

export interface WriteOptions {
  /** Writes with the same key while one is queued share its outcome (a device resending the event it is waiting for). */
  key?: string;
  /** May be given up when many writes wait (telemetry rows, history lines): nothing of the alarm path. */
  droppable?: boolean;
}

/** A write committed now (`value`) or kept until the database takes it (`pending`). */
export type Attempt<T> = { value: T } | { pending: Promise<T> };

/** What the alarm path needs of the guard; `immediateWrites` when there is none (a store used alone in a test). */
export interface DurableWrites {
  write<T>(label: string, fn: () => T, options?: WriteOptions): Promise<T>;
  attempt<T>(label: string, fn: () => T, options?: WriteOptions): Attempt<T>;
  isQueued(key: string): boolean;
}

/** Runs every write at once, as a plain call (no queue, no retry). */
export const immediateWrites: DurableWrites = {
  write: <T>(_label: string, fn: () => T) => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(err);
    }
  },
  attempt: <T>(_label: string, fn: () => T) => ({ value: fn() }),
  isQueued: () => false,
};

/** Thrown by write() when the write cannot be kept: the caller logs; the device resends. */
export class StorageError extends KanjiaError<CatalogCodes<'STORAGE_QUEUE_FULL' | 'STORAGE_STOPPED'>> {
  override readonly name = 'StorageError';
}

interface Job {
  label: string;
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  key: string | undefined;
  droppable: boolean;
  queuedAt: number;
}

/** Queued writes committed in one transaction (each in its own savepoint): one fsync for a backlog. */
const BATCH = 200;
/** Grouped writes committed in one transaction at most (a larger group commits at once, the rest in the next). */
export const GROUP_MAX = 200;
const PROBE_BYTES = 64 * 1024;

export class StorageGuard implements DurableWrites {
  private readonly timers: GuardTimers;
  private readonly queue: Job[] = [];
  /** Grouped writes of this turn of the event loop, not yet tried (groupCommits). */
  private readonly group: Job[] = [];
  private groupScheduled = false;
  private readonly byKey = new Map<string, Promise<unknown>>();
  private running = false;
  private unwatch: (() => void) | undefined;
  private retryTimer: unknown;
  private probeTimer: unknown;
  private busyTimer: unknown;
  private attempts = 0;
  /** When writes first met another process's lock, this episode; undefined when the last write went through. */
  private busySince: number | undefined;
  private lastFault: (StorageFault & { message: string }) | undefined;
  private probing = false;
  private probeDueAt = 0;
  private lastProbeAt = 0;
  private pumping = false;
  private droppedSince = 0;
  private refusedSince = 0;
  /** Writes failed on a storage fault since the start. */
  failedWrites = 0;

  constructor(private readonly options: StorageGuardOptions) {
    this.timers = options.timers ?? realTimers;
  }

  /** Watches the connection's writes and sets its short busy timeout. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.setBusyTimeout(this.normalBusyTimeout());
    this.unwatch = watchWrites(this.options.db, { failed: (err) => this.failed(err), succeeded: () => this.succeeded() });
  }

  /**
   * Stops the timers; what is still queued is tried once more, and what
   * cannot be written is rejected with STORAGE_STOPPED (nothing of it was
   * acknowledged: devices resend). Idempotent.
   */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    for (const t of [this.retryTimer, this.probeTimer, this.busyTimer]) if (t !== undefined) this.timers.clearTimeout(t);
    this.retryTimer = this.probeTimer = this.busyTimer = undefined;
    // This turn's group goes behind anything queued, and is tried with it.
    this.queue.push(...this.group.splice(0));
    if (this.queue.length > 0) this.commitBatch(this.queue.length);
    if (this.queue.length > 0) {
      this.options.logger.error({ waiting: this.queue.length, file: this.options.file }, 'stopping with writes the database never took; devices resend what was not acknowledged');
      for (const job of this.queue.splice(0)) job.reject(new StorageError('STORAGE_STOPPED', `${job.label}: not written before the server stopped`));
    }
    this.unwatch?.();
    this.unwatch = undefined;
  }

  /** Writes waiting for the database. */
  queued(): number {
    return this.queue.length;
  }

  /** Whether a write with this key is waiting. */
  isQueued(key: string): boolean {
    return this.byKey.has(key);
  }

  /**
   * Runs `fn` in an immediate transaction now, or, when the database cannot
   * take it (locked, full), keeps it in order and retries until it commits.
   * Resolves with fn's result after the commit; rejects at once when fn
   * throws anything that is not a storage fault, or when it cannot be kept.
   */
  write<T>(label: string, fn: () => T, options: WriteOptions = {}): Promise<T> {
    if (this.options.groupCommits === true && this.running && this.queue.length === 0) return this.grouped(label, fn, options);
    try {
      const attempt = this.attempt(label, fn, options);
      return 'pending' in attempt ? attempt.pending : Promise.resolve(attempt.value);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * As write(), for callers that go on synchronously when the write commits
   * at once (the common case: no change of timing from a plain transaction):
   * `{ value }` when committed now, `{ pending }` when kept for later. Throws
   * what fn throws when that is not a storage fault.
   */
  attempt<T>(label: string, fn: () => T, options: WriteOptions = {}): Attempt<T> {
    const { key, droppable = false } = options;
    if (key !== undefined) {
      const waiting = this.byKey.get(key);
      if (waiting) return { pending: waiting as Promise<T> };
    }
    if (this.queue.length === 0 || !this.running) {
      try {
        return { value: this.inImmediateTransaction(fn) };
      } catch (err) {
        if (!this.running || storageFault(err) === undefined) throw err;
      }
    }
    if (this.queue.length >= (droppable ? this.maxDroppable() : this.maxQueued())) {
      if (droppable) this.droppedSince++;
      else this.refusedSince++;
      if ((droppable ? this.droppedSince : this.refusedSince) === 1) {
        this.options.logger.error(
          { waiting: this.queue.length, label, file: this.options.file },
          droppable ? 'too many writes waiting for the database: dropping telemetry and history lines until it writes again' : 'too many writes waiting for the database: refusing new ones (devices resend)',
        );
      }
      return { pending: Promise.reject(new StorageError('STORAGE_QUEUE_FULL', `${this.queue.length} writes are waiting for the database ${this.options.file}; ${label} not kept`)) };
    }
    // This turn's group was asked for before this write: it goes first, so writes commit in the order they were made.
    if (this.group.length > 0) this.queue.push(...this.group.splice(0));
    const pending = this.enlist(this.queue, label, fn, key, droppable);
    if (this.queue.length === 1) {
      this.options.logger.warn({ label, reason: this.lastFault?.reason, file: this.options.file }, 'the database cannot take writes now: keeping them in order and retrying');
      // The duty room is told that events now wait in memory.
      if (this.options.health.has(STORAGE_PROBLEM)) this.raise();
      this.scheduleRetry();
    }
    return { pending };
  }

  /** Adds a job to `list` (the retry queue or this turn's group); a keyed one shares its outcome until settled. */
  private enlist<T>(list: Job[], label: string, fn: () => T, key: string | undefined, droppable: boolean): Promise<T> {
    const pending = new Promise<T>((resolve, reject) => {
      list.push({ label, run: fn, resolve: resolve as (v: unknown) => void, reject, key, droppable, queuedAt: this.timers.nowMs() });
    });
    if (key !== undefined) {
      this.byKey.set(key, pending);
      const forget = () => this.byKey.delete(key);
      pending.then(forget, forget);
    }
    return pending;
  }

  /** write() with groupCommits: joins this turn's group, which commits at setImmediate (or at once when full). */
  private grouped<T>(label: string, fn: () => T, options: WriteOptions): Promise<T> {
    const { key, droppable = false } = options;
    if (key !== undefined) {
      const waiting = this.byKey.get(key);
      if (waiting) return waiting as Promise<T>;
    }
    const pending = this.enlist(this.group, label, fn, key, droppable);
    // Full: committed now, unless a write made inside a transaction filled it (then its commit would only release a
    // savepoint, and the promises would resolve before the real COMMIT): it waits for setImmediate like any group.
    if (this.group.length >= GROUP_MAX && !this.options.db.inTransaction) this.commitGroup();
    else if (!this.groupScheduled) {
      this.groupScheduled = true;
      setImmediate(() => {
        this.groupScheduled = false;
        this.commitGroup();
      });
    }
    return pending;
  }

  /**
   * Commits this turn's group in one transaction. When the database does not
   * take it (locked, full) the whole group joins the retry queue, in order;
   * behind writes already queued, so order holds.
   */
  private commitGroup(): void {
    if (this.group.length === 0) return;
    const jobs = this.group.splice(0);
    if (this.running && this.queue.length === 0 && this.commitJobs(jobs)) return;
    if (!this.running) {
      for (const job of jobs) job.reject(new StorageError('STORAGE_STOPPED', `${job.label}: not written before the server stopped`));
      return;
    }
    const wasEmpty = this.queue.length === 0;
    this.queue.push(...jobs);
    if (wasEmpty) {
      this.options.logger.warn({ label: jobs[0]?.label, writes: jobs.length, reason: this.lastFault?.reason, file: this.options.file }, 'the database cannot take writes now: keeping them in order and retrying');
      if (this.options.health.has(STORAGE_PROBLEM)) this.raise();
      this.scheduleRetry();
    }
  }

  /** `fn` inside BEGIN IMMEDIATE: a lock is met at BEGIN, before fn has done anything. */
  private inImmediateTransaction<T>(fn: () => T): T {
    return transactionRunner(this.options.db).immediate(fn);
  }

  private maxQueued(): number {
    return this.options.maxQueued ?? 10_000;
  }

  private maxDroppable(): number {
    return Math.min(this.options.maxDroppableQueued ?? 1_000, this.maxQueued());
  }

  private normalBusyTimeout(): number {
    return this.options.busyTimeoutMs ?? SERVER_BUSY_TIMEOUT_MS;
  }

  private setBusyTimeout(ms: number): void {
    this.options.db.pragma(`busy_timeout = ${ms}`);
  }

  private scheduleRetry(): void {
    if (!this.running || this.retryTimer !== undefined || this.queue.length === 0) return;
    // A lock goes away by itself: try again soon. A full disk needs someone: no need to hurry.
    const transient = this.lastFault?.transient !== false;
    const delay = Math.min((transient ? 25 : 250) * 2 ** Math.min(this.attempts, 10), transient ? 500 : 5_000);
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, delay);
  }

  /** Commits what is queued, a batch at a time, yielding between batches. */
  private pump(): void {
    if (!this.running || this.pumping) return;
    this.pumping = true;
    try {
      const committed = this.commitBatch(BATCH);
      if (!committed) {
        this.attempts++;
        this.scheduleRetry();
        return;
      }
      this.attempts = 0;
      if (this.queue.length > 0) {
        // The next batch after the event loop has had its turn (MQTT pings, HTTP).
        this.retryTimer = this.timers.setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, 0);
        return;
      }
      this.reportDrained();
      if (this.options.health.has(STORAGE_PROBLEM)) this.probe();
    } finally {
      this.pumping = false;
    }
  }

  /** Tries the first `n` queued writes in one transaction; false (all kept) when the database did not take it. */
  private commitBatch(n: number): boolean {
    const batch = this.queue.slice(0, n);
    if (!this.commitJobs(batch)) return false;
    this.queue.splice(0, batch.length);
    return true;
  }

  /**
   * Runs `batch` in one immediate transaction, each job in a savepoint, and
   * settles each job's promise after the commit; false (nothing settled) when
   * the database did not take the transaction.
   */
  private commitJobs(batch: readonly Job[]): boolean {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; err: unknown }> = [];
    const { db } = this.options;
    // The connection's one transaction function (a new one per job was a cost of its own at a thousand writes a
    // second); called inside the transaction it opens a savepoint.
    const runner = transactionRunner(db);
    try {
      runner.immediate(() => {
        outcomes.length = 0;
        for (const job of batch) {
          try {
            // A savepoint each: one write's own error (a bug, a constraint) does not undo the others.
            outcomes.push({ ok: true, value: runner(job.run) });
          } catch (err) {
            if (storageFault(err) !== undefined) throw err;
            outcomes.push({ ok: false, err });
          }
        }
      });
    } catch (err) {
      if (storageFault(err) === undefined) this.options.logger.error({ err, file: this.options.file }, 'committing a batch of writes failed unexpectedly; trying again');
      return false;
    }
    batch.forEach((job, i) => {
      const outcome = outcomes[i];
      if (outcome?.ok) job.resolve(outcome.value);
      else job.reject(outcome?.err ?? new Error(`${job.label}: no outcome`));
    });
    return true;
  }

  private reportDrained(): void {
    if (this.droppedSince > 0 || this.refusedSince > 0) {
      this.options.logger.warn({ dropped: this.droppedSince, refused: this.refusedSince }, 'the database writes again; writes dropped or refused meanwhile are counted here');
    } else {
      this.options.logger.info({ file: this.options.file }, 'the database writes again: every queued write is committed');
    }
    this.droppedSince = 0;
    this.refusedSince = 0;
    if (this.options.health.has(STORAGE_PROBLEM)) this.raise();
  }

  /** From the write watch: a write threw. */
  private failed(err: unknown): void {
    const fault = storageFault(err);
    if (fault === undefined) return;
    this.failedWrites++;
    this.lastFault = { ...fault, message: err instanceof Error ? err.message : String(err) };
    if (fault.transient) {
      if (this.busySince === undefined) {
        this.busySince = this.timers.nowMs();
        // Known to be locked: the next writes fail at once instead of each blocking the event loop in turn.
        this.setBusyTimeout(0);
        if (this.running) {
          this.busyTimer = this.timers.setTimeout(() => {
            this.busyTimer = undefined;
            if (this.busySince !== undefined) this.raise();
          }, this.options.busyRaiseAfterMs ?? 3_000);
        }
      }
      return;
    }
    this.raise();
  }

  /** From the write watch: a write went through. */
  private succeeded(): void {
    if (this.busySince !== undefined) {
      this.busySince = undefined;
      if (this.busyTimer !== undefined) this.timers.clearTimeout(this.busyTimer);
      this.busyTimer = undefined;
      this.setBusyTimeout(this.normalBusyTimeout());
    }
    // A write went through while the problem is raised: the probe says, soon, whether new data fits again
    // (at most once a second: on a full disk, updates in place go on succeeding).
    if (this.running && !this.probing && this.options.health.has(STORAGE_PROBLEM)) this.scheduleProbe(Math.max(0, this.lastProbeAt + 1_000 - this.timers.nowMs()));
  }

  private raise(): void {
    const fault = this.lastFault;
    if (!fault) return;
    // A stable sentence (no running counts): every change of it goes to every dashboard.
    this.options.health.raise({
      code: STORAGE_PROBLEM,
      severity: 'critical',
      unhealthy: true,
      message: `cannot write to the database ${this.options.file}: ${describeReason(fault.reason)} (${fault.code})${this.queue.length > 0 ? '; device events wait in memory and are recorded when it writes again' : ''}`.slice(0, 500),
      details: { reason: fault.reason, code: fault.code, path: this.options.file },
    });
    this.scheduleProbe(this.options.probeEveryMs ?? 5_000);
  }

  /** Arms the probe `delayMs` from now, unless it is already due sooner. */
  private scheduleProbe(delayMs: number): void {
    if (!this.running) return;
    const dueAt = this.timers.nowMs() + delayMs;
    if (this.probeTimer !== undefined) {
      if (this.probeDueAt <= dueAt) return;
      this.timers.clearTimeout(this.probeTimer);
    }
    this.probeDueAt = dueAt;
    this.probeTimer = this.timers.setTimeout(() => {
      this.probeTimer = undefined;
      this.probe();
    }, delayMs);
  }

  /** Runs the probe write; clears the problem when it commits and nothing waits. */
  private probe(): void {
    if (!this.running || this.probing) return;
    this.probing = true;
    this.lastProbeAt = this.timers.nowMs();
    let ok = false;
    try {
      probeWrite(this.options.db);
      ok = true;
    } catch (err) {
      // The watch has seen it; a new reason (a lock now, where the disk was full) replaces the old one.
      if (storageFault(err) !== undefined && this.options.health.has(STORAGE_PROBLEM)) this.raise();
    } finally {
      this.probing = false;
    }
    if (ok && this.queue.length > 0) {
      // The database takes writes again: the queue first, and the problem is cleared when it is empty.
      if (this.retryTimer !== undefined) this.timers.clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.attempts = 0;
      this.pump();
      return;
    }
    if (ok) {
      this.options.health.clear(STORAGE_PROBLEM);
      return;
    }
    this.scheduleProbe(this.options.probeEveryMs ?? 5_000);
  }
}

/**
 * Writes 64 KiB and takes it out again in one immediate transaction; throws
 * what SQLite throws. Commits only when the database can take new data: a
 * full disk still lets an UPDATE in place through.
 */
export function probeWrite(db: Db): void {
  db.transaction(() => {
    db.prepare('INSERT INTO storage_probe (filler) VALUES (?)').run(Buffer.alloc(PROBE_BYTES));
    db.prepare('DELETE FROM storage_probe').run();
  }).immediate();
}
