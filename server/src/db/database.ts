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
