/** Batcher (presence.ts): the first item of a quiet moment at once, those that follow within 100 ms together, in order (the server batches device statuses with it). */
import { FakeClock } from '@kanjia/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import { Batcher } from '../src/index.js';

let clock: FakeClock;
beforeEach(() => {
  clock = new FakeClock(Date.UTC(2026, 0, 15, 2, 0, 0));
});

describe('Batcher', () => {
  it('hands the first item on at once, the 3 that follow within 100 ms together at its end, and one after a quiet 100 ms at once again', () => {
    const batches: string[][] = [];
    const batcher = new Batcher<string>(clock, (items) => batches.push(items), 100);
    batcher.add('a');
    expect(batches).toEqual([['a']]);
    clock.advance(40);
    batcher.add('b');
    batcher.add('c');
    clock.advance(50);
    batcher.add('d');
    clock.advance(9);
    expect(batches).toEqual([['a']]);
    clock.advance(1);
    expect(batches).toEqual([['a'], ['b', 'c', 'd']]);
    // A new interval runs after that hand-over: a change within it waits too.
    batcher.add('e');
    clock.advance(100);
    expect(batches).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
    clock.advance(100); // quiet
    batcher.add('f');
    expect(batches).toEqual([['a'], ['b', 'c', 'd'], ['e'], ['f']]);
    batcher.stop();
  });

  it('hands what it holds on at stop() and later items at once, with no timer left', () => {
    const batches: string[][] = [];
    const batcher = new Batcher<string>(clock, (items) => batches.push(items), 100);
    batcher.add('a');
    batcher.add('b');
    batcher.stop();
    expect(batches).toEqual([['a'], ['b']]);
    batcher.add('c');
    expect(batches).toEqual([['a'], ['b'], ['c']]);
    batcher.stop();
    expect(clock.pendingTimers()).toBe(0);
  });

  it('with 0 ms hands each item on at once; refuses a negative interval', () => {
    const batches: string[][] = [];
    const batcher = new Batcher<string>(clock, (items) => batches.push(items), 0);
    batcher.add('a');
    batcher.add('b');
    expect(batches).toEqual([['a'], ['b']]);
    expect(clock.pendingTimers()).toBe(0);
    expect(() => new Batcher<string>(clock, () => {}, -1)).toThrow(RangeError);
  });
});

describe('Batcher on a clock that stands still', () => {
  it('hands the items held on after 100 ms of real time when the injected clock does not move', async () => {
    const batches: string[][] = [];
    const batcher = new Batcher<string>(clock, (items) => batches.push(items), 100);
    batcher.add('a');
    batcher.add('b');
    expect(batches).toEqual([['a']]);
    const started = Date.now();
    while (batches.length < 2 && Date.now() - started < 2_000) await new Promise((r) => setTimeout(r, 10));
    expect(batches).toEqual([['a'], ['b']]);
    batcher.stop();
    expect(clock.pendingTimers()).toBe(0);
  });
});

describe('Batcher with maxPerTurn', () => {
  it('hands a batch of 5 on 2 a turn of the event loop, in order; stop() hands the rest at once', async () => {
    const batches: string[][] = [];
    const batcher = new Batcher<string>(clock, (items) => batches.push(items), 100, 2);
    batcher.add('a');
    for (const x of ['b', 'c', 'd', 'e', 'f']) batcher.add(x);
    clock.advance(100);
    expect(batches).toEqual([['a'], ['b', 'c']]);
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
    batcher.add('g');
    batcher.stop();
    expect(batches).toEqual([['a'], ['b', 'c'], ['d', 'e'], ['f', 'g']]);
    await new Promise((r) => setImmediate(r));
    expect(batches).toHaveLength(4);
    expect(() => new Batcher<string>(clock, () => {}, 100, 0)).toThrow(RangeError);
  });

  it('stop() hands on what is still waiting for its turn even when nothing new is queued', () => {
    const batches: string[][] = [];
    const batcher = new Batcher<string>(clock, (items) => batches.push(items), 100, 1);
    for (const x of ['a', 'b', 'c', 'd']) batcher.add(x);
    clock.advance(100);
    expect(batches).toEqual([['a'], ['b']]);
    batcher.stop();
    expect(batches).toEqual([['a'], ['b'], ['c', 'd']]);
  });
});
