/**
 * The connection compiles each SQL text once (database.ts), and the write
 * watch wraps each cached statement once (write-watch.ts): the statement a
 * store gets on its thousandth call is the one it got on its first, and a
 * failed write is still seen after any number of calls.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { STATEMENT_CACHE_MAX } from '../src/db/database.js';
import { watchWrites } from '../src/db/write-watch.js';
import { tempDatabase } from './helpers.js';

describe('the statement cache', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  const open = () => tempDatabase('CREATE TABLE t (k INTEGER PRIMARY KEY)', cleanups);

  it('hands out one compiled statement per SQL text', () => {
    const db = open();
    const a = db.prepare('SELECT COUNT(*) AS n FROM t');
    expect(db.prepare('SELECT COUNT(*) AS n FROM t')).toBe(a);
    expect(db.prepare('SELECT COUNT(*) AS m FROM t')).not.toBe(a);
  });

  it('wraps a cached statement for the write watch once, sees every failure, and passes calls on after the watch is gone', () => {
    const db = open();
    let failed = 0;
    let succeeded = 0;
    const unwatch = watchWrites(db, { failed: () => failed++, succeeded: () => succeeded++ });
    const insert = db.prepare('INSERT INTO t (k) VALUES (?)');
    const run = insert.run;
    for (let k = 1; k <= 1000; k++) db.prepare('INSERT INTO t (k) VALUES (?)').run(k);
    expect(db.prepare('INSERT INTO t (k) VALUES (?)').run).toBe(run);
    expect(succeeded).toBe(1000);
    expect(() => db.prepare('INSERT INTO t (k) VALUES (?)').run(1)).toThrow(/UNIQUE/);
    expect(failed).toBe(1);
    unwatch();
    // The cache stays in place, the watch is silent.
    expect(db.prepare('INSERT INTO t (k) VALUES (?)')).toBe(insert);
    db.prepare('INSERT INTO t (k) VALUES (?)').run(1001);
    expect(succeeded).toBe(1000);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 1001 });
  });

  it('stays bounded for texts made on the fly', () => {
    const db = open();
    const first = db.prepare('SELECT 0 AS v FROM t');
    for (let i = 1; i <= STATEMENT_CACHE_MAX; i++) db.prepare(`SELECT ${i} AS v FROM t`);
    // Past the bound the cache started again: the first text is compiled anew.
    expect(db.prepare('SELECT 0 AS v FROM t')).not.toBe(first);
  });
});
