import { systemClock } from '@kanjia/protocol';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../src/db/database.js';
import { GROUP_MAX, STORAGE_PROBLEM, StorageError, StorageGuard } from '../src/db/storage-guard.js';
import { SystemHealth } from '../src/system-health.js';
import { lockDatabase } from '../../tests/src/db-lock.js';
import { tempDataDir, until } from './helpers.js';

function quietLogger() {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg: msg ?? '' });
  return { lines, logger: { error: at('error'), warn: at('warn'), info: at('info') } };
}

describe('StorageGuard', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0).reverse()) c();
  });

  function setup(options: Partial<ConstructorParameters<typeof StorageGuard>[0]> = {}) {
    const tmp = tempDataDir();
    const file = join(tmp.dir, 'kanjia.sqlite');
    const db: Db = openDatabase(file, { busyTimeoutMs: 25 });
    db.exec('CREATE TABLE t (seq INTEGER NOT NULL UNIQUE, label TEXT)');
    const { lines, logger } = quietLogger();
    const health = new SystemHealth(systemClock, logger);
    const guard = new StorageGuard({ db, file, health, logger, busyRaiseAfterMs: 300, probeEveryMs: 100, ...options });
    guard.start();
    cleanups.push(() => {
      guard.stop();
      db.close();
      tmp.cleanup();
    });
    const insert = (seq: number, label = `w${seq}`) => () => db.prepare('INSERT INTO t (seq, label) VALUES (?, ?)').run(seq, label).changes;
    return { db, file, health, guard, lines, insert };
  }

  it('keeps writes that meet another process lock in order in memory, never blocks the event loop, raises SQLITE_BUSY past the retries and commits all after the lock', async () => {
    const { db, file, health, guard, insert } = setup();
    const lock = await lockDatabase(file);
    const settled: number[] = [];
    const writes = [1, 2, 3].map((seq) => guard.write(`event ${seq}`, insert(seq)).then(() => settled.push(seq)));
    // The event loop turns freely while the lock is held: a 10 ms ticker keeps ticking.
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const raised = await until('the storage problem raised', () => health.problems().find((p) => p.code === STORAGE_PROBLEM));
    expect(raised).toMatchObject({ severity: 'critical', unhealthy: true, details: { reason: 'SQLITE_BUSY', path: file } });
    expect(raised.message).toContain(file);
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(ticker);
    expect(ticks).toBeGreaterThan(20);
    expect(settled).toEqual([]);
    expect(guard.queued()).toBe(3);
    // Reads go on under another process's write lock (WAL).
    expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 0 });

    const releasedAt = await lock.release();
    await Promise.all(writes);
    expect(Date.now()).toBeGreaterThanOrEqual(releasedAt);
    expect(settled).toEqual([1, 2, 3]);
    expect(db.prepare('SELECT seq FROM t ORDER BY rowid').all()).toEqual([{ seq: 1 }, { seq: 2 }, { seq: 3 }]);
    await until('the problem cleared', () => !health.has(STORAGE_PROBLEM));
  });

  it('a full database (max_page_count) raises SQLITE_FULL with the path at the first failed write, stays raised while the probe cannot write 64 KiB, and clears once there is room', async () => {
    const { db, file, health, guard, lines } = setup();
    const pages = db.pragma('page_count', { simple: true }) as number;
    db.pragma(`max_page_count = ${pages}`);
    // Any write on the connection, not only the guarded ones, is seen.
    expect(() => db.prepare('INSERT INTO t (seq, label) VALUES (1, ?)').run('x'.repeat(20_000))).toThrow(/full/);
    const problem = health.problems().find((p) => p.code === STORAGE_PROBLEM);
    expect(problem).toMatchObject({ unhealthy: true, details: { reason: 'SQLITE_FULL', code: 'SQLITE_FULL', path: file } });
    expect(problem?.message).toContain(file);
    expect(lines.some((l) => l.level === 'error' && l.msg.includes('system problem'))).toBe(true);

    // A guarded write is kept, not lost, while the disk is full.
    let done = false;
    const kept = guard.write('an SOS', () => db.prepare('INSERT INTO t (seq, label) VALUES (2, ?)').run('y'.repeat(20_000))).then(() => (done = true));
    // A small update in place still goes through, but the probe says new data does not fit: still raised.
    db.prepare('UPDATE t SET label = label').run();
    await new Promise((r) => setTimeout(r, 400));
    expect(health.has(STORAGE_PROBLEM)).toBe(true);
    expect(done).toBe(false);

    db.pragma('max_page_count = 1073741823');
    await kept;
    expect(db.prepare('SELECT seq FROM t').all()).toEqual([{ seq: 2 }]);
    await until('the problem cleared', () => !health.has(STORAGE_PROBLEM));
  });

  it('a write that fails for its own reason (a constraint) is rejected at once and raises nothing', async () => {
    const { health, guard, insert } = setup();
    await guard.write('first', insert(1));
    await expect(guard.write('again', insert(1))).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE' });
    expect(health.problems()).toEqual([]);
  });

  it('is bounded: a second write with the same key shares the first one’s outcome; droppable writes are refused first, then every write, with STORAGE_QUEUE_FULL', async () => {
    const { db, file, guard, insert } = setup({ maxQueued: 4, maxDroppableQueued: 2 });
    const lock = await lockDatabase(file);
    const a = guard.write('event a', insert(1, 'a'), { key: 'dev:a' });
    const again = guard.write('event a resent', insert(99, 'never'), { key: 'dev:a' });
    expect(again).toBe(a);
    expect(guard.isQueued('dev:a')).toBe(true);
    const telemetry = guard.write('telemetry', insert(2, 't'), { droppable: true });
    await expect(guard.write('telemetry', insert(3, 't'), { droppable: true })).rejects.toBeInstanceOf(StorageError);
    const b = guard.write('event b', insert(4, 'b'));
    const c = guard.write('event c', insert(5, 'c'));
    await expect(guard.write('event d', insert(6, 'd'))).rejects.toMatchObject({ code: 'STORAGE_QUEUE_FULL' });
    await lock.release();
    await Promise.all([a, telemetry, b, c]);
    expect(db.prepare('SELECT seq FROM t ORDER BY rowid').all()).toEqual([{ seq: 1 }, { seq: 2 }, { seq: 4 }, { seq: 5 }]);
    expect(guard.isQueued('dev:a')).toBe(false);
  });

  it('stop() rejects with STORAGE_STOPPED what the database never took, and clears its timers', async () => {
    const { file, guard, insert } = setup();
    const lock = await lockDatabase(file);
    const w = guard.write('event', insert(1));
    guard.stop();
    guard.stop();
    await expect(w).rejects.toMatchObject({ code: 'STORAGE_STOPPED' });
    await lock.release();
  });

  describe('grouped commits', () => {
    it('commits the writes of one turn of the event loop in one transaction, and each resolves only after that commit', async () => {
      const { db, file, guard, insert } = setup({ groupCommits: true });
      // Another connection sees only what is committed: inside the group, none of it.
      const other = openDatabase(file, { busyTimeoutMs: 25 });
      cleanups.push(() => other.close());
      const seenByOther: number[] = [];
      const settled: number[] = [];
      const writes = [1, 2, 3, 4, 5].map((seq) =>
        guard
          .write(`event ${seq}`, () => {
            seenByOther.push((other.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n);
            return insert(seq)();
          })
          .then(() => settled.push(seq)),
      );
      // Nothing has run yet: the group commits after this turn.
      expect(seenByOther).toEqual([]);
      await Promise.all(writes);
      // Had each been its own transaction, the other connection would have seen 0, 1, 2, 3, 4.
      expect(seenByOther).toEqual([0, 0, 0, 0, 0]);
      expect(settled).toEqual([1, 2, 3, 4, 5]);
      expect((other.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n).toBe(5);
      expect(db.prepare('SELECT seq FROM t ORDER BY rowid').all()).toEqual([1, 2, 3, 4, 5].map((seq) => ({ seq })));
    });

    it("undoes only the write whose own code fails (a savepoint each), the others of the group commit", async () => {
      const { db, guard, insert } = setup({ groupCommits: true });
      const results = await Promise.allSettled([guard.write('a', insert(1)), guard.write('b', insert(1)), guard.write('c', insert(3))]);
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
      expect(db.prepare('SELECT seq FROM t ORDER BY rowid').all()).toEqual([{ seq: 1 }, { seq: 3 }]);
    });

    it('shares one outcome between writes with the same key in a group (a device resending what is not committed yet)', async () => {
      const { db, guard, insert } = setup({ groupCommits: true });
      const first = guard.write('sos', insert(7), { key: 'event:d1:e1' });
      expect(guard.isQueued('event:d1:e1')).toBe(true);
      const again = guard.write('sos again', insert(7), { key: 'event:d1:e1' });
      expect(await Promise.all([first, again])).toEqual([1, 1]);
      expect(guard.isQueued('event:d1:e1')).toBe(false);
      expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 1 });
    });

    it('keeps a group that meets a lock, in order behind nothing lost, and commits it when the lock goes', async () => {
      const { db, file, guard, insert } = setup({ groupCommits: true });
      const lock = await lockDatabase(file);
      const settled: number[] = [];
      const writes = [1, 2, 3].map((seq) => guard.write(`event ${seq}`, insert(seq)).then(() => settled.push(seq)));
      await until('the group queued for retry', () => guard.queued() === 3);
      // Later writes go behind the group.
      const later = guard.write('event 4', insert(4)).then(() => settled.push(4));
      await new Promise((r) => setTimeout(r, 100));
      expect(settled).toEqual([]);
      await lock.release();
      await Promise.all([...writes, later]);
      expect(settled).toEqual([1, 2, 3, 4]);
      expect(db.prepare('SELECT seq FROM t ORDER BY rowid').all()).toEqual([1, 2, 3, 4].map((seq) => ({ seq })));
    });

    it('keeps the order writes were made when an attempt between them meets a lock: the group goes first', async () => {
      const { db, file, guard, insert } = setup({ groupCommits: true });
      const lock = await lockDatabase(file);
      const order: number[] = [];
      const a = guard.write('event A', insert(1)).then(() => order.push(1));
      // An attempt (a detector's finding) in the same turn meets the lock and is kept...
      const b = guard.attempt('finding B', insert(2));
      expect('pending' in b).toBe(true);
      // ...and a later event of the same turn goes behind it.
      const c = guard.write('event C', insert(3)).then(() => order.push(3));
      await lock.release();
      await Promise.all([a, 'pending' in b ? b.pending.then(() => order.push(2)) : undefined, c]);
      expect(db.prepare('SELECT seq FROM t ORDER BY rowid').all()).toEqual([1, 2, 3].map((seq) => ({ seq })));
      expect(order).toEqual([1, 2, 3]);
    });

    it('commits a full group at once, without waiting for the turn to end', () => {
      const { db, guard, insert } = setup({ groupCommits: true });
      for (let seq = 1; seq <= GROUP_MAX; seq++) void guard.write(`w${seq}`, insert(seq));
      expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: GROUP_MAX });
    });

    it('tries a group still waiting at stop once more, and rejects it with STORAGE_STOPPED only if it cannot be written', async () => {
      const { db, guard, insert } = setup({ groupCommits: true });
      const w = guard.write('event 1', insert(1));
      guard.stop();
      await expect(w).resolves.toBe(1);
      expect(db.prepare('SELECT COUNT(*) AS n FROM t').get()).toEqual({ n: 1 });
    });
  });
});
