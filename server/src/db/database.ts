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
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
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
