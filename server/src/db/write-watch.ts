/**
 * Sees every write on a connection succeed or fail, whoever makes it (the
 * alarm store, the outbox, a login, the audit log), so a full disk or a
 * locked database is noticed on the first write that hits it, not only on
 * the paths that remembered to report. Statements that only read are left
 * alone; a failed COMMIT is a failed write too.
 */
import type Database from 'better-sqlite3';
import type { Db } from './database.js';

export interface WriteObserver {
  /** A write threw (any error; the observer sorts out which are storage faults). */
  failed(err: unknown): void;
  /** A write went through: the database takes writes (now). */
  succeeded(): void;
}

type AnyFn = (...args: unknown[]) => unknown;

/** Installs the observer on `db`; returns the function that removes it. */
export function watchWrites(db: Db, observer: WriteObserver): () => void {
  // One error travels up through the statement and each transaction around it: reported once.
  const reported = new WeakSet<object>();
  const fail = (err: unknown) => {
    if (typeof err === 'object' && err !== null) {
      if (reported.has(err)) return;
      reported.add(err);
    }
    observer.failed(err);
  };
  // Statements stay wrapped in the connection's cache after the watch is removed: they then only pass the call on.
  let active = true;
  const watched = <F extends AnyFn>(fn: F, self: unknown): F =>
    function (this: unknown, ...args: unknown[]) {
      if (!active) return fn.apply(self ?? this, args);
      let result: unknown;
      try {
        result = fn.apply(self ?? this, args);
      } catch (err) {
        fail(err);
        throw err;
      }
      observer.succeeded();
      return result;
    } as F;

  const before = Object.fromEntries((['prepare', 'exec', 'transaction'] as const).map((name) => [name, Object.getOwnPropertyDescriptor(db, name)]));
  const prepare = db.prepare;
  const exec = db.exec;
  const transaction = db.transaction;
  const patched = db as unknown as Record<string, unknown>;
  // The connection hands out the same statement for the same text (database.ts): it is wrapped once.
  const wrapped = new WeakSet<Database.Statement>();
  patched.prepare = function (source: string) {
    const stmt = prepare.call(db, source) as Database.Statement;
    if (!stmt.readonly && !wrapped.has(stmt)) {
      wrapped.add(stmt);
      const s = stmt as unknown as Record<string, unknown>;
      // RETURNING makes a write answer rows: get/all/iterate write as well.
      for (const name of ['run', 'get', 'all'] as const) s[name] = watched(s[name] as AnyFn, stmt);
    }
    return stmt;
  };
  patched.exec = watched(exec as unknown as AnyFn, db);
  patched.transaction = function (fn: AnyFn) {
    const t = transaction.call(db, fn) as unknown as Record<string, AnyFn>;
    const variants = { default: watched(t as unknown as AnyFn, undefined), deferred: watched(t.deferred as AnyFn, undefined), immediate: watched(t.immediate as AnyFn, undefined), exclusive: watched(t.exclusive as AnyFn, undefined) };
    for (const v of Object.values(variants)) Object.assign(v, variants);
    return variants.default;
  };
  // What was there before (the statement cache's prepare is an own property of the connection) comes back.
  return () => {
    active = false;
    for (const [name, descriptor] of Object.entries(before)) {
      if (descriptor) Object.defineProperty(db, name, descriptor);
      else delete patched[name];
    }
  };
}
