import type { Finding } from '@kanjia/detection';
import { FakeClock } from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../src/db/database.js';
import { createLogger } from '../src/logger.js';
import { GraceGate } from '../src/pipeline/grace-gate.js';
import { tempDataDir } from './helpers.js';

const fall = (eventId: string): Finding => ({ kind: 'fall', deviceId: 'kj-pendant01', subjectId: 'res_1', eventId, eventTs: 0, reason: 'fall' });

describe('GraceGate', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let clock: FakeClock;
  let raised: string[];
  let gate: GraceGate;
  const make = () => new GraceGate({ db, clock, logger: createLogger('silent'), raise: (f) => void raised.push(f.eventId) });

  beforeEach(() => {
    tmp = tempDataDir();
    db = openDatabase(`${tmp.dir}/k.sqlite`);
    clock = new FakeClock(1_000_000);
    raised = [];
    gate = make();
    gate.start();
  });
  afterEach(() => {
    gate.stop();
    db.close();
    tmp.cleanup();
  });

  it('raises a held fall when its 30 s grace period runs out, once', () => {
    expect(gate.hold(fall('f1'), 30_000)).toBe(true);
    expect(gate.hold(fall('f1'), 30_000)).toBe(false);
    clock.advance(29_999);
    expect(raised).toEqual([]);
    clock.advance(1);
    expect(raised).toEqual(['f1']);
    clock.advance(60_000);
    expect(raised).toEqual(['f1']);
    expect(clock.pendingTimers()).toBe(0);
  });

  it('drops a fall the person cancels 10 s into the grace period', () => {
    gate.hold(fall('f1'), 30_000);
    clock.advance(10_000);
    expect(gate.cancel('res_1').map((f) => f.eventId)).toEqual(['f1']);
    clock.advance(60_000);
    expect(raised).toEqual([]);
    expect(gate.pending('res_1')).toEqual([]);
  });

  it('raises at once, after a restart, a fall whose grace period ran out while the server was down', () => {
    gate.hold(fall('f1'), 30_000);
    gate.stop(); // the process dies
    clock.set(clock.nowMs() + 120_000);
    gate = make();
    gate.start();
    expect(raised).toEqual(['f1']);
  });

  it('keeps the remaining grace period across a restart', () => {
    gate.hold(fall('f1'), 30_000);
    clock.advance(10_000);
    gate.stop();
    gate = make();
    gate.start();
    clock.advance(19_999);
    expect(raised).toEqual([]);
    clock.advance(1);
    expect(raised).toEqual(['f1']);
  });
});
