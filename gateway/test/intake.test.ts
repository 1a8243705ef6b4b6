import { describe, expect, it } from 'vitest';
import { IntakeWindow } from '../src/intake.js';
import type { IntakeSlot } from '../src/intake.js';

/** Asks `count` slots for `key`, recording the order in which they are granted. */
function ask(w: IntakeWindow<string>, key: string, count: number, granted: Array<{ key: string; n: number; slot: IntakeSlot }>): void {
  for (let n = 0; n < count; n++) w.acquire(key, (slot) => granted.push({ key, n, slot }));
}

describe('IntakeWindow', () => {
  it('grants 2 per connection and 3 in all at once; the rest wait and are counted as delayed', () => {
    const w = new IntakeWindow<string>({ total: 3, perConnection: 2 });
    const granted: Array<{ key: string; n: number; slot: IntakeSlot }> = [];
    ask(w, 'a', 4, granted);
    ask(w, 'b', 4, granted);
    expect(granted.map((g) => `${g.key}${g.n}`)).toEqual(['a0', 'a1', 'b0']);
    expect(w.counts()).toEqual({ inFlight: 3, waiting: 5, delayed: 5 });
  });

  it('keeps each connection in order and lets connections take turns for freed room', () => {
    const w = new IntakeWindow<string>({ total: 2, perConnection: 2 });
    const granted: Array<{ key: string; n: number; slot: IntakeSlot }> = [];
    ask(w, 'a', 5, granted);
    ask(w, 'b', 2, granted);
    // a0, a1 at once; then, as each slot is freed, b (first in turn: it had room, a had none) and a alternate.
    for (let i = 0; i < 5; i++) w.release((granted[i] as { slot: IntakeSlot }).slot);
    expect(granted.map((g) => `${g.key}${g.n}`)).toEqual(['a0', 'a1', 'b0', 'a2', 'b1', 'a3', 'a4']);
    expect(w.counts().waiting).toBe(0);
  });

  it('gives back once however often released, and frees the slots of a dropped connection that were not handed on', () => {
    const w = new IntakeWindow<string>({ total: 2, perConnection: 2 });
    const granted: Array<{ key: string; n: number; slot: IntakeSlot }> = [];
    ask(w, 'a', 3, granted);
    ask(w, 'b', 1, granted);
    const [a0, a1] = granted as unknown as [{ slot: IntakeSlot }, { slot: IntakeSlot }];
    a0.slot.handedOn = true;
    w.drop('a');
    // a1 (not handed on) is back, a2 forgotten, b0 granted in its room.
    expect(granted.map((g) => `${g.key}${g.n}`)).toEqual(['a0', 'a1', 'b0']);
    expect(a1.slot.released).toBe(true);
    expect(w.counts()).toEqual({ inFlight: 2, waiting: 0, delayed: 2 });
    w.release(a0.slot);
    w.release(a0.slot);
    expect(w.counts().inFlight).toBe(1);
  });

  it('refuses bounds that cannot work', () => {
    expect(() => new IntakeWindow({ total: 4, perConnection: 5 })).toThrow(RangeError);
    expect(() => new IntakeWindow({ total: 4, perConnection: 0 })).toThrow(RangeError);
  });
});
