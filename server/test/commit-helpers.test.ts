/**
 * The connection's shared transaction function (database.ts transactionRunner),
 * the relaxed commit of the outbox's claims and the devices' acknowledgements
 * (withRelaxedCommit), and the pooled random ids (ids.ts). A power cut cannot
 * be staged here: what is tested is that a relaxed commit commits, that every
 * other commit is back at synchronous=FULL, and that nothing changes inside an
 * outer transaction.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { transactionRunner, withRelaxedCommit } from '../src/db/database.js';
import { watchWrites } from '../src/db/write-watch.js';
import { newId, takeRandom } from '../src/ids.js';
import { newAnswerCode } from '../src/alarms/answer-codes.js';
import { tempDatabase } from './helpers.js';

const FULL = 2;
const NORMAL = 1;

describe('commit helpers', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  const open = () => tempDatabase('CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)', cleanups);
  const synchronous = (db: ReturnType<typeof open>) => db.pragma('synchronous', { simple: true });

  it('a relaxed commit commits, and the connection is back at FULL after it, also when it throws', () => {
    const db = open();
    expect(synchronous(db)).toBe(FULL);
    let inside: unknown;
    withRelaxedCommit(db, () =>
      transactionRunner(db).immediate(() => {
        inside = synchronous(db);
        db.prepare('INSERT INTO t (k, v) VALUES (1, ?)').run('claimed');
      }),
    );
    // Set before BEGIN: SQLite refuses to change it inside a transaction.
    expect(inside).toBe(NORMAL);
    expect(synchronous(db)).toBe(FULL);
    expect(db.prepare('SELECT v FROM t WHERE k = 1').get()).toEqual({ v: 'claimed' });

    expect(() =>
      withRelaxedCommit(db, () =>
        transactionRunner(db)(() => {
          db.prepare('INSERT INTO t (k, v) VALUES (2, ?)').run('undone');
          throw new Error('boom');
        }),
      ),
    ).toThrow('boom');
    expect(synchronous(db)).toBe(FULL);
    expect(db.prepare('SELECT COUNT(*) AS n FROM t WHERE k = 2').get()).toEqual({ n: 0 });
  });

  it('inside an open transaction a relaxed commit only runs: the outer commit decides', () => {
    const db = open();
    transactionRunner(db).immediate(() => {
      const value = withRelaxedCommit(db, () => {
        db.prepare('INSERT INTO t (k, v) VALUES (3, ?)').run('nested');
        return synchronous(db);
      });
      expect(value).toBe(FULL);
    });
    expect(db.prepare('SELECT v FROM t WHERE k = 3').get()).toEqual({ v: 'nested' });
  });

  it('hands out one transaction function per connection, made again when the write watch is installed or removed', () => {
    const db = open();
    const first = transactionRunner(db);
    expect(transactionRunner(db)).toBe(first);
    let failures = 0;
    const unwatch = watchWrites(db, { failed: () => failures++, succeeded: () => undefined });
    const watched = transactionRunner(db);
    expect(watched).not.toBe(first);
    // The watched runner sees a failed commit: a write that breaks a constraint inside it.
    expect(() => watched(() => db.prepare('INSERT INTO t (k, v) VALUES (1, ?), (1, ?)').run('a', 'b'))).toThrow(/UNIQUE/);
    expect(failures).toBeGreaterThan(0);
    unwatch();
    expect(transactionRunner(db)).not.toBe(watched);
  });

  it('nests as savepoints: an inner failure undoes only the inner writes', () => {
    const db = open();
    const run = transactionRunner(db);
    run.immediate(() => {
      db.prepare('INSERT INTO t (k, v) VALUES (10, ?)').run('outer');
      expect(() =>
        run(() => {
          db.prepare('INSERT INTO t (k, v) VALUES (11, ?)').run('inner');
          throw new Error('inner fails');
        }),
      ).toThrow('inner fails');
    });
    expect(db.prepare('SELECT k FROM t WHERE k >= 10 ORDER BY k').all()).toEqual([{ k: 10 }]);
  });
});

describe('pooled random ids', () => {
  it('are unique, well formed, and each byte of the pool is used once', () => {
    const ids = new Set<string>();
    // Past several refills of the 4 KiB pool, with lengths that do not divide it.
    for (let i = 0; i < 5000; i++) ids.add(newId('alm'));
    expect(ids.size).toBe(5000);
    for (const id of ids) expect(id).toMatch(/^alm_[0-9abcdefghjkmnpqrstvwxyz]{12}$/);
    const a = takeRandom(7);
    const b = takeRandom(7);
    expect(a.equals(b)).toBe(false);
    const codes = new Set(Array.from({ length: 2000 }, () => newAnswerCode()));
    expect(codes.size).toBe(2000);
  });

  it('spread over the whole alphabet (no byte of the pool is stuck)', () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 4000; i++) for (const ch of newId('x').slice(2)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(32);
    // 48,000 characters over 32: about 1,500 each; a stuck or reused pool would be far off.
    for (const n of counts.values()) expect(n).toBeGreaterThan(1200);
  });
});
