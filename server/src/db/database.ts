/**
 * The embedded SQLite database (WAL) under the data directory. All relational
 * access goes through the stores in this package, so PostgreSQL can replace
 * SQLite for a large deployment without touching the domain (DESIGN.md "Storage").
 */
import Database from 'better-sqlite3';
import { closeSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { makePrivateDir, PRIVATE_FILE_MODE } from '../private-files.js';
import { MIGRATIONS } from './schema.js';

export type Db = Database.Database;

/**
 * How long the server's connection waits for another process's write lock
 * before a write fails with SQLITE_BUSY. better-sqlite3 is synchronous: the
 * wait blocks the event loop (MQTT, HTTP, every timer), so it is kept to tens
 * of milliseconds and the writes that matter are retried asynchronously
 * (storage-guard.ts) instead.
 */
export const SERVER_BUSY_TIMEOUT_MS = 25;
/** A command (import, user add) blocks nothing else: it may wait for the server's short transactions. */
export const COMMAND_BUSY_TIMEOUT_MS = 5000;

export interface OpenOptions {
  /** Wait for another process's lock at most this long (default COMMAND_BUSY_TIMEOUT_MS). */
  busyTimeoutMs?: number;
}

/** Opens (creating if needed) the database file and brings its schema up to date. */
export function openDatabase(file: string, options: OpenOptions = {}): Db {
  if (file !== ':memory:') {
    makePrivateDir(dirname(file));
    // Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the database file's mode.
    closeSync(openSync(file, 'a', PRIVATE_FILE_MODE));
  }
  const db = new Database(file, { timeout: options.busyTimeoutMs ?? COMMAND_BUSY_TIMEOUT_MS });
  try {
    // WAL: readers (dashboard, CLI) never block the writer. synchronous=FULL: a
    // transaction is on disk when COMMIT returns, so "recorded durably before
    // `received` is sent" holds through a power cut, not only a process crash.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
    cacheStatements(db);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}

/** `run(fn)`: fn in a transaction (a savepoint when nested); `run.immediate(fn)`: beginning with BEGIN IMMEDIATE when outermost. */
export type TransactionRunner = (<T>(fn: () => T) => T) & { immediate: <T>(fn: () => T) => T };

const runners = new WeakMap<Db, { source: Db['transaction']; run: TransactionRunner }>();

/**
 * The connection's one transaction function, for every store: better-sqlite3
 * builds a new function, with four variants, on each `transaction()` call (and
 * the write watch and the commit timer wrap each), while the alarm path makes
 * several transactions per event. Made again when the connection's
 * `transaction` is replaced (the write watch installed or removed), so the
 * runner always goes through what is installed now.
 */
export function transactionRunner(db: Db): TransactionRunner {
  const source = db.transaction;
  let cached = runners.get(db);
  if (cached?.source !== source) {
    cached = { source, run: db.transaction((fn: () => unknown) => fn()) as unknown as TransactionRunner };
    runners.set(db, cached);
  }
  return cached.run;
}

/**
 * Runs `fn`, which commits a transaction of its own, with synchronous=NORMAL:
 * its COMMIT goes into the WAL without an fsync of its own (0.3 ms of wall
 * time each on this project's test machine, hundreds a second under load).
 * The next commit at FULL fsyncs the WAL, and with it every frame written
 * before, so nothing is reordered: a power cut can lose only the relaxed
 * commits since the last full one, never a later full commit. Only for
 * writes whose loss the system redoes by itself: the outbox's claim (a notice
 * left `sending` by a crash is queued again anyway: requeueInterruptedNotifications)
 * and the devices' acknowledgements of commands (a command not marked is sent
 * again, and the device recognises its id). Inside an open transaction `fn`
 * only runs: the outer commit decides.
 */
export function withRelaxedCommit<T>(db: Db, fn: () => T): T {
  if (db.inTransaction) return fn();
  db.prepare('PRAGMA synchronous = NORMAL').run();
  try {
    return fn();
  } finally {
    // openDatabase's level: every other commit is on disk when it returns.
    db.prepare('PRAGMA synchronous = FULL').run();
  }
}

/** At most this many SQL texts keep their compiled statement; past it the cache starts again (the stores' texts are a few hundred). */
export const STATEMENT_CACHE_MAX = 2_000;

/**
 * Each SQL text is compiled once for the life of the connection: better-sqlite3
 * compiles on every `prepare`, and the stores call it with the same texts on
 * every event (the profile of issue 10 put `prepare` at 10 % of the server's
 * busy time). A statement is stateless between calls here: nobody calls
 * `.pluck()`, `.raw()`, `.expand()` or `.iterate()` on one (a statement from the
 * cache must not be put in such a mode), and SQLite recompiles a statement by
 * itself when a migration changes the schema.
 */
function cacheStatements(db: Db): void {
  const prepare = db.prepare;
  const cache = new Map<string, Database.Statement>();
  (db as unknown as { prepare: (source: string) => Database.Statement }).prepare = function cachedPrepare(source: string): Database.Statement {
    let statement = cache.get(source);
    if (statement === undefined) {
      if (cache.size >= STATEMENT_CACHE_MAX) cache.clear();
      statement = prepare.call(db, source) as Database.Statement;
      cache.set(source, statement);
    }
    return statement;
  };
}

function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < MIGRATIONS.length; version++) {
    const sql = MIGRATIONS[version];
    if (sql === undefined) break;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}
