import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { AlarmView } from '@kanjia/protocol';
import { ApiRequestError, type Api, type AlarmList } from '../src/api';
import { createDesk, type Desk } from '../src/desk';
import type { LiveHandlers } from '../src/live';
import type { AlarmSound } from '../src/sound';
import { alarm, T0 } from './fixtures';

interface Harness {
  desk: Desk;
  api: { [K in keyof Api]: ReturnType<typeof vi.fn> };
  play: ReturnType<typeof vi.fn>;
  live: () => LiveHandlers;
}

function harness(active: AlarmView[] = []): Harness {
  let handlers: LiveHandlers | undefined;
  const api = {
    listAlarms: vi.fn(async (): Promise<AlarmList> => ({ alarms: active, invalid: 0 })),
    getAlarm: vi.fn(),
    take: vi.fn(),
    onTheWay: vi.fn(),
    onSite: vi.fn(),
    resolve: vi.fn(),
    cancel: vi.fn(),
    health: vi.fn(),
    mapHouseholds: vi.fn(),
    mapConfig: vi.fn(),
    me: vi.fn(),
    login: vi.fn(),
    logout: vi.fn(),
    request: vi.fn(),
  };
  const play = vi.fn();
  const desk = createDesk({
    api: api as unknown as Api,
    sound: { play } as unknown as AlarmSound,
    connect: (h) => {
      handlers = h;
      return { stop: () => undefined };
    },
  });
  return {
    desk,
    api,
    play,
    live: () => {
      if (!handlers) throw new Error('not started');
      return handlers;
    },
  };
}

let h: Harness | undefined;
beforeEach(() => {
  vi.useFakeTimers({ now: T0 });
});
afterEach(() => {
  h?.desk.stop();
  h = undefined;
  vi.useRealTimers();
});

describe('desk', () => {
  it('hands every live household:state to the map view’s listeners until they unsubscribe', async () => {
    h = harness();
    h.desk.start();
    const seen: string[] = [];
    const off = h.desk.onHousehold((event) => seen.push(`${event.id}:${event.state}`));
    const household = { id: 'hh_1', villageId: 'v', address: '一组1号', lat: 27.1, lng: 111, residents: [], state: 'alarm' as const, detail: null, activeAlarms: 1, changedAt: T0 };
    h.live().onHousehold?.(household, 1);
    off();
    h.live().onHousehold?.({ ...household, state: 'fine', activeAlarms: 0 }, 2);
    expect(seen).toEqual(['hh_1:alarm']);
  });

  it('loads the active list and rings once for the open cases it finds', async () => {
    h = harness([alarm({ id: 'a', severity: 'urgent' }), alarm({ id: 'b', status: 'taken' })]);
    h.desk.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.desk.loaded.value).toBe(true);
    expect(h.desk.openCount.value).toBe(1);
    expect(h.play).toHaveBeenCalledTimes(1);
    expect(h.play).toHaveBeenCalledWith('urgent');
  });

  it('rings for a new open case from the feed, not for a change to a known one', async () => {
    h = harness([alarm({ id: 'a', status: 'taken' })]);
    h.desk.start();
    await vi.advanceTimersByTimeAsync(0);
    h.live().onAlarm(alarm({ id: 'new', severity: 'critical' }));
    expect(h.play).toHaveBeenLastCalledWith('critical');
    const rings = h.play.mock.calls.length;
    h.live().onAlarm(alarm({ id: 'a', status: 'onSite', updatedAt: T0 + 1000 }));
    expect(h.play.mock.calls.length).toBe(rings);
    expect(h.desk.queue.value.inProgress[0]?.status).toBe('onSite');
  });

  it('applies a live repeat count to the open case without ringing again, and keeps a newer whole case over a late count', async () => {
    h = harness([alarm({ id: 'a' })]);
    h.desk.start();
    await vi.advanceTimersByTimeAsync(0);
    const rings = h.play.mock.calls.length;
    h.live().onRepeats?.({ id: 'a', repeats: { count: 40, firstAt: T0, lastAt: T0 + 2000 }, updatedAt: T0 + 2000 });
    expect(h.desk.queue.value.open[0]?.repeats?.count).toBe(40);
    expect(h.play.mock.calls.length).toBe(rings);
    h.live().onAlarm(alarm({ id: 'a', status: 'taken', updatedAt: T0 + 3000, repeats: { count: 41, firstAt: T0, lastAt: T0 + 2500 } }));
    h.live().onRepeats?.({ id: 'a', repeats: { count: 40, firstAt: T0, lastAt: T0 + 2000 }, updatedAt: T0 + 2000 });
    expect(h.desk.queue.value.inProgress[0]).toMatchObject({ status: 'taken', repeats: { count: 41 } });
  });

  it('marks a device unstable from its presence events, and clears it when the server says stable again', () => {
    h = harness();
    h.desk.start();
    h.live().onPresence({ deviceId: 'dev-1', online: false, at: T0, unstable: true });
    expect(h.desk.unstableDevices.value.has('dev-1')).toBe(true);
    expect(h.desk.presence.value.get('dev-1')).toBe(false);
    h.live().onPresence({ deviceId: 'dev-1', online: false, at: T0 });
    expect(h.desk.unstableDevices.value.has('dev-1')).toBe(false);
  });

  it('rings again every 30 s while a critical case stays open, and stops once it is taken', async () => {
    h = harness([alarm({ id: 'a' })]);
    h.desk.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.play).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.play).toHaveBeenCalledTimes(2);
    h.live().onAlarm(alarm({ id: 'a', status: 'taken', updatedAt: T0 + 31_000 }));
    await vi.advanceTimersByTimeAsync(60_000);
    expect(h.play).toHaveBeenCalledTimes(2);
  });

  it('rings a new case but not again every 30 s when the repeat is switched off, and again once it is on', async () => {
    h = harness([alarm({ id: 'a' })]);
    h.desk.setRepeatSound(false);
    h.desk.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.play).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(90_000);
    expect(h.play).toHaveBeenCalledTimes(1);
    h.desk.setRepeatSound(true);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.play).toHaveBeenCalledTimes(2);
  });

  it('refetches on reconnect and drops a case that was closed meanwhile', async () => {
    h = harness([alarm({ id: 'a' }), alarm({ id: 'b' })]);
    h.desk.start();
    await vi.advanceTimersByTimeAsync(0);
    h.live().onState('disconnected');
    expect(h.desk.connection.value).toBe('disconnected');
    h.api.listAlarms.mockResolvedValue({ alarms: [alarm({ id: 'b' })], invalid: 0 });
    h.live().onState('connected');
    h.live().onConnect();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.desk.queue.value.open.map((x) => x.id)).toEqual(['b']);
  });

  it('take: marks the request as running, then shows the answer', async () => {
    h = harness([alarm({ id: 'a' })]);
    h.desk.start();
    await vi.advanceTimersByTimeAsync(0);
    let answer: (a: AlarmView) => void = () => undefined;
    h.api.take.mockReturnValue(new Promise<AlarmView>((resolve) => (answer = resolve)));
    const done = h.desk.act('a', 'take');
    expect(h.desk.pending.value['a']).toBe('take');
    expect(await h.desk.act('a', 'take')).toBe(false); // a second click does nothing
    answer(alarm({ id: 'a', status: 'taken', takenBy: '张三', updatedAt: T0 + 1000 }));
    expect(await done).toBe(true);
    expect(h.desk.pending.value['a']).toBeUndefined();
    expect(h.desk.queue.value.inProgress[0]?.takenBy).toBe('张三');
    expect(h.api.take).toHaveBeenCalledWith('a', {});
  });

  it('shows a 409 and reloads the case that somebody else took', async () => {
    h = harness([alarm({ id: 'a' })]);
    h.desk.start();
    await vi.advanceTimersByTimeAsync(0);
    h.api.take.mockRejectedValue(new ApiRequestError('ALARM_ALREADY_TAKEN', 'taken by 李四', 409));
    h.api.getAlarm.mockResolvedValue(alarm({ id: 'a', status: 'taken', takenBy: '李四', updatedAt: T0 + 1000 }));
    expect(await h.desk.act('a', 'take')).toBe(false);
    expect(h.desk.errors.value['a']).toMatchObject({ action: 'take', code: 'ALARM_ALREADY_TAKEN', message: 'taken by 李四' });
    await vi.advanceTimersByTimeAsync(0);
    expect(h.desk.queue.value.inProgress[0]?.takenBy).toBe('李四');
  });

  it('keeps retrying every 5 s while the list cannot be loaded', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    h = harness();
    h.api.listAlarms.mockRejectedValue(new ApiRequestError('NETWORK', 'Failed to fetch', 0));
    h.desk.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.desk.loadError.value).toMatchObject({ code: 'NETWORK' });
    expect(h.desk.loaded.value).toBe(false);
    h.api.listAlarms.mockResolvedValue({ alarms: [], invalid: 0 });
    await vi.advanceTimersByTimeAsync(5_000);
    expect(h.desk.loadError.value).toBeNull();
    expect(h.desk.loaded.value).toBe(true);
    logged.mockRestore();
  });
});
