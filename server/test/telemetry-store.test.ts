/**
 * The SQLite telemetry store writes readings in batches (issue 10): many to
 * a transaction, on a timer, at a batch size and at stop; the replay at
 * start sees what is not written yet; while the database cannot take them
 * the oldest are given up, counted and reported once.
 */
import { FakeClock } from '@kanjia/protocol';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../src/db/database.js';
import { StorageError, type DurableWrites } from '../src/db/storage-guard.js';
import { SqliteTelemetryStore } from '../src/pipeline/telemetry-store.js';
import { tempDataDir } from './helpers.js';

describe('batched SQLite telemetry', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let clock: FakeClock;
  const rows = () => (db.prepare('SELECT COUNT(*) AS n FROM telemetry').get() as { n: number }).n;

  beforeEach(() => {
    tmp = tempDataDir();
    db = openDatabase(join(tmp.dir, 'kanjia.sqlite'));
    clock = new FakeClock(Date.UTC(2026, 11, 2, 10, 0, 0));
  });

  afterEach(() => {
    db.close();
    tmp.cleanup();
  });

  it('writes 300 readings in one transaction after 1 s, none before, the replay seeing them meanwhile', async () => {
    let transactions = 0;
    const writes: DurableWrites = {
      write: async (_l, fn) => fn(),
      attempt: (_l, fn) => {
        transactions++;
        return { value: fn() };
      },
      isQueued: () => false,
    };
    const store = new SqliteTelemetryStore(db, { clock, writes });
    store.start();
    for (let i = 0; i < 300; i++) store.append('kj-co1', clock.nowMs() + i, clock.nowMs() + i, { coPpm: i });
    expect(rows()).toBe(0);
    expect(store.recent('kj-co1', 0)).toHaveLength(300);
    clock.advance(1000);
    expect(rows()).toBe(300);
    expect(transactions).toBe(1);
    expect(store.recent('kj-co1', 0).map((r) => r.readings.coPpm)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    store.stop();
  });

  it('writes a full batch of 500 at once, without waiting for the timer, after the caller\'s own work', async () => {
    const store = new SqliteTelemetryStore(db, { clock, batchRows: 500 });
    store.start();
    for (let i = 0; i < 500; i++) store.append('kj-co1', clock.nowMs(), clock.nowMs(), { coPpm: 1 });
    expect(rows()).toBe(0);
    await Promise.resolve();
    expect(rows()).toBe(500);
    store.stop();
  });

  it('writes what is gathered at stop, and a store that is not started writes each reading at once', () => {
    const store = new SqliteTelemetryStore(db, { clock });
    store.start();
    store.append('kj-co1', clock.nowMs(), clock.nowMs(), { coPpm: 3 });
    store.stop();
    expect(rows()).toBe(1);
    store.append('kj-co1', clock.nowMs(), clock.nowMs(), { coPpm: 4 });
    expect(rows()).toBe(2);
  });

  it('keeps at most 1,000 readings while the database cannot take them: the oldest go, counted, reported once, and the next batch that lands ends the outage', () => {
    let refusing = true;
    const writes: DurableWrites = {
      write: async (_l, fn) => fn(),
      attempt: (label, fn) => {
        if (refusing) throw new StorageError('STORAGE_QUEUE_FULL', `${label} not kept`);
        return { value: fn() };
      },
      isQueued: () => false,
    };
    const reports: number[] = [];
    const store = new SqliteTelemetryStore(db, { clock, writes, maxPendingRows: 1000, batchRows: 5000, onDropped: (n) => reports.push(n) });
    store.start();
    for (let i = 0; i < 1500; i++) store.append('kj-co1', clock.nowMs() + i, 0, { coPpm: i });
    expect(store.pendingRows()).toBe(1000);
    expect(store.droppedRows()).toBe(500);
    expect(store.recent('kj-co1', 0)[0]?.readings.coPpm).toBe(500);
    clock.advance(1000); // this batch is refused too: 1,000 more given up
    expect(store.droppedRows()).toBe(1500);
    expect(reports).toEqual([1]);
    refusing = false;
    store.append('kj-co1', clock.nowMs(), 0, { coPpm: 1 });
    clock.advance(1000);
    expect(rows()).toBe(1);
    refusing = true;
    store.append('kj-co1', clock.nowMs(), 0, { coPpm: 2 });
    clock.advance(1000);
    // A new outage is reported again.
    expect(reports).toEqual([1, 1]);
    store.stop();
  });
});
