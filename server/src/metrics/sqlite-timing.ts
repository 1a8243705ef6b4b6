/**
 * Times every outermost write transaction of a connection: the "SQLite commit
 * time" of /metrics. better-sqlite3 runs BEGIN, the function and COMMIT inside
 * its transaction wrapper (its COMMIT statement is not reachable from
 * JavaScript), so what is timed is the whole transaction, BEGIN to COMMIT
 * returned; with synchronous=FULL its fsync is most of it. Nested calls are
 * savepoints inside a timed transaction and are not observed again.
 *
 * Install it before anything makes its transaction functions (the storage
 * guard makes its runner at start): a function made earlier is not timed.
 */
import { performance } from 'node:perf_hooks';
import type { Db } from '../db/database.js';

type AnyFn = (...args: unknown[]) => unknown;
const VARIANTS = ['deferred', 'immediate', 'exclusive'] as const;

/** Calls `observe(seconds)` after each outermost transaction of `db` (committed or rolled back); returns the function that removes it. */
export function timeTransactions(db: Db, observe: (seconds: number) => void): () => void {
  const patched = db as unknown as Record<string, unknown>;
  // The method in place now: the prototype's, or another wrapper's (write-watch.ts) when that came first.
  const transaction = db.transaction;
  const timed = (fn: AnyFn): AnyFn =>
    function (this: unknown, ...args: unknown[]) {
      if (db.inTransaction) return fn.apply(this, args);
      const started = performance.now();
      try {
        return fn.apply(this, args);
      } finally {
        observe((performance.now() - started) / 1000);
      }
    };
  const own = Object.prototype.hasOwnProperty.call(db, 'transaction');
  patched.transaction = function (body: AnyFn) {
    const t = transaction.call(db, body as never) as unknown as AnyFn & Record<(typeof VARIANTS)[number], AnyFn>;
    const wrapped = timed(t) as AnyFn & Record<string, AnyFn>;
    const variants: Record<string, AnyFn> = { default: wrapped };
    for (const name of VARIANTS) variants[name] = timed(t[name]);
    // As better-sqlite3 does: each variant carries the others (fn.immediate.deferred…).
    for (const v of Object.values(variants)) Object.assign(v, { deferred: variants.deferred, immediate: variants.immediate, exclusive: variants.exclusive, default: wrapped });
    return wrapped;
  };
  return () => {
    if (own) patched.transaction = transaction;
    else delete patched.transaction;
  };
}
