import { describe, expect, it } from 'vitest';
import { applyRepeats, buildQueue, highestSeverity, mergeSnapshot, newlyOpened, upsert, villagesOf, withoutClosed, type AlarmMap } from '../src/queue';
import { alarm, MIN, T0 } from './fixtures';

const mapOf = (...alarms: ReturnType<typeof alarm>[]): AlarmMap => new Map(alarms.map((a) => [a.id, a]));
const ids = (list: { id: string }[]): string[] => list.map((a) => a.id);

describe('buildQueue', () => {
  it('puts open cases first: critical before urgent before maintenance, oldest first within each', () => {
    const q = buildQueue(
      mapOf(
        alarm({ id: 'maint-old', severity: 'maintenance', openedAt: T0 - 60 * MIN }),
        alarm({ id: 'urgent-new', severity: 'urgent', openedAt: T0 - 1 * MIN }),
        alarm({ id: 'crit-new', severity: 'critical', openedAt: T0 - 2 * MIN }),
        alarm({ id: 'crit-old', severity: 'critical', openedAt: T0 - 10 * MIN }),
        alarm({ id: 'urgent-old', severity: 'urgent', openedAt: T0 - 30 * MIN }),
      ),
    );
    expect(ids(q.open)).toEqual(['crit-old', 'crit-new', 'urgent-old', 'urgent-new', 'maint-old']);
    expect(q.inProgress).toEqual([]);
  });

  it('lists taken, on-the-way and on-site cases after every open one, even an open maintenance case', () => {
    const q = buildQueue(
      mapOf(
        alarm({ id: 'taken-crit', status: 'taken', openedAt: T0 - 50 * MIN }),
        alarm({ id: 'open-maint', severity: 'maintenance', openedAt: T0 }),
        alarm({ id: 'onsite-urgent', status: 'onSite', severity: 'urgent', openedAt: T0 - 90 * MIN }),
        alarm({ id: 'way-crit', status: 'onTheWay', openedAt: T0 - 5 * MIN }),
      ),
    );
    expect(ids(q.open)).toEqual(['open-maint']);
    expect(ids(q.inProgress)).toEqual(['taken-crit', 'way-crit', 'onsite-urgent']);
  });

  it('keeps closed cases apart, most recently closed first', () => {
    const q = buildQueue(
      mapOf(
        alarm({ id: 'r1', status: 'resolved', resolvedAt: T0 + 5 * MIN, updatedAt: T0 + 5 * MIN }),
        alarm({ id: 'c1', status: 'cancelled', resolvedAt: null, updatedAt: T0 + 9 * MIN }),
        alarm({ id: 'open', status: 'open' }),
      ),
    );
    expect(ids(q.closed)).toEqual(['c1', 'r1']);
    expect(ids(q.open)).toEqual(['open']);
  });
});

describe('upsert', () => {
  it('inserts a new case and replaces an older copy', () => {
    const a = alarm({ id: 'a', updatedAt: T0 });
    const m1 = upsert(new Map(), a);
    expect(m1.get('a')).toBe(a);
    const taken = alarm({ id: 'a', status: 'taken', updatedAt: T0 + 1000 });
    expect(upsert(m1, taken).get('a')?.status).toBe('taken');
  });

  it('ignores a copy older than the one it holds (a late socket event after the action answer)', () => {
    const taken = alarm({ id: 'a', status: 'taken', updatedAt: T0 + 1000 });
    const m = mapOf(taken);
    const stale = alarm({ id: 'a', status: 'open', updatedAt: T0 });
    expect(upsert(m, stale)).toBe(m);
  });
});

describe('mergeSnapshot', () => {
  it('drops active cases the active snapshot no longer has (closed while disconnected)', () => {
    const m = mapOf(alarm({ id: 'gone' }), alarm({ id: 'stays' }), alarm({ id: 'closed', status: 'resolved' }));
    const next = mergeSnapshot(m, [alarm({ id: 'stays' }), alarm({ id: 'new', openedAt: T0 + MIN })], 'active');
    expect([...next.keys()].sort()).toEqual(['closed', 'new', 'stays']);
  });

  it('keeps a case that arrived on the live feed while the list request was out', () => {
    const m = mapOf(alarm({ id: 'fresh' }));
    const next = mergeSnapshot(m, [], 'active', new Set(['fresh']));
    expect(next.has('fresh')).toBe(true);
  });

  it('does not let the snapshot overwrite a newer copy', () => {
    const m = mapOf(alarm({ id: 'a', status: 'taken', updatedAt: T0 + 5000 }));
    const next = mergeSnapshot(m, [alarm({ id: 'a', status: 'open', updatedAt: T0 })], 'active');
    expect(next.get('a')?.status).toBe('taken');
  });

  it('a closed snapshot replaces closed cases only', () => {
    const m = mapOf(alarm({ id: 'open' }), alarm({ id: 'old-closed', status: 'cancelled' }));
    const next = mergeSnapshot(m, [alarm({ id: 'r', status: 'resolved' })], 'closed');
    expect([...next.keys()].sort()).toEqual(['open', 'r']);
  });
});

describe('newlyOpened', () => {
  it('reports open cases that were unknown or not open before, highest severity first', () => {
    const before = mapOf(alarm({ id: 'known' }), alarm({ id: 'was-taken', status: 'taken' }));
    const after = mapOf(
      alarm({ id: 'known' }),
      alarm({ id: 'was-taken', status: 'open', severity: 'urgent' }),
      alarm({ id: 'new-maint', severity: 'maintenance' }),
      alarm({ id: 'new-taken', status: 'taken' }),
    );
    expect(ids(newlyOpened(before, after))).toEqual(['was-taken', 'new-maint']);
    expect(highestSeverity(newlyOpened(before, after))).toBe('urgent');
    expect(highestSeverity([])).toBeNull();
  });
});

describe('helpers', () => {
  it('withoutClosed keeps only active cases', () => {
    const m = mapOf(alarm({ id: 'a' }), alarm({ id: 'b', status: 'resolved' }), alarm({ id: 'c', status: 'onSite' }));
    expect([...withoutClosed(m).keys()]).toEqual(['a', 'c']);
  });

  it('villagesOf lists each village once', () => {
    const v2 = { id: 'v2', name: '河口村', timezone: 'Asia/Shanghai' };
    expect(villagesOf([alarm({ id: 'a' }), alarm({ id: 'b', village: v2 }), alarm({ id: 'c' })]).map((v) => v.name)).toEqual([
      '石桥村',
      '河口村',
    ]);
  });
});

describe('applyRepeats', () => {
  const repeats = (count: number, lastAt: number) => ({ count, firstAt: T0, lastAt });

  it('sets the count and updatedAt of the case it holds, and nothing else', () => {
    const map = new Map([['a', alarm({ id: 'a', status: 'open', escalationLevel: 1 })]]);
    const next = applyRepeats(map, { id: 'a', repeats: repeats(200, T0 + 10_000), updatedAt: T0 + 10_000 });
    expect(next.get('a')).toEqual({ ...map.get('a'), repeats: repeats(200, T0 + 10_000), updatedAt: T0 + 10_000 });
    expect(map.get('a')!.repeats).toBeUndefined();
  });

  it('ignores a count older than the copy it holds (the take answer came first) and a case it does not hold', () => {
    const taken = alarm({ id: 'a', status: 'taken', updatedAt: T0 + 5000, repeats: repeats(40, T0 + 4000) });
    const map = new Map([['a', taken]]);
    expect(applyRepeats(map, { id: 'a', repeats: repeats(30, T0 + 3000), updatedAt: T0 + 3000 })).toBe(map);
    expect(applyRepeats(map, { id: 'b', repeats: repeats(3, T0), updatedAt: T0 + 9000 })).toBe(map);
  });
});
