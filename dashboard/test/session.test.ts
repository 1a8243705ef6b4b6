import { describe, expect, it, vi } from 'vitest';
import type { MeResponse } from '@kanjia/protocol';
import { ApiRequestError, createApi, type Api } from '../src/api';
import type { Desk } from '../src/desk';
import { createSession, EXPIRY_WARNING_MS, expiryWarningDue, LOGGED_OUT_ALARM_EVERY_MS, LOGOUT_ATTEMPTS } from '../src/session';
import type { AlarmSound } from '../src/sound';

const me: MeResponse = { user: { id: 'usr_1', name: 'shimen', displayName: '值班员 石门', role: 'duty', township: null, villageIds: ['vil_1'], phone: null, createdAt: 1 }, idleExpiresAt: 2, expiresAt: 3 };

function fakeDesk() {
  return { start: vi.fn(), stop: vi.fn() } as unknown as Desk & { start: ReturnType<typeof vi.fn>; stop: ReturnType<typeof vi.fn> };
}

function harness(api: Partial<Api>) {
  const desks: Array<ReturnType<typeof fakeDesk>> = [];
  const lostHooks: Array<() => void> = [];
  const sound = { unlock: vi.fn(), play: vi.fn() };
  const intervals = new Map<number, () => void>();
  let nextHandle = 1;
  const timers = {
    setInterval: (fn: () => void) => {
      intervals.set(nextHandle, fn);
      return nextHandle++;
    },
    clearInterval: (h: unknown) => void intervals.delete(h as number),
  };
  /** One interval period passes. */
  const tick = () => [...intervals.values()].forEach((fn) => fn());
  const session = createSession({
    api: api as Api,
    sound: sound as unknown as AlarmSound,
    timers,
    makeDesk: (onUnauthenticated) => {
      lostHooks.push(onUnauthenticated);
      const d = fakeDesk();
      desks.push(d);
      return d;
    },
  });
  return { session, desks, lostHooks, sound, tick, intervals };
}

describe('session', () => {
  it('shows the login when there is no session, and starts the desk after a login', async () => {
    const login = vi.fn(async () => me);
    const { session, desks } = harness({ me: () => Promise.reject(new ApiRequestError('UNAUTHENTICATED', 'log in first', 401)), login });
    await session.start();
    expect(session.state.value).toBe('loggedOut');
    expect(session.ended.value).toBe(false);
    expect(desks).toHaveLength(0);
    await session.login('shimen', 'pw');
    expect(login).toHaveBeenCalledWith({ name: 'shimen', password: 'pw' });
    expect(session.state.value).toBe('loggedIn');
    expect(session.user.value?.displayName).toBe('值班员 石门');
    expect(desks[0]?.start).toHaveBeenCalledOnce();
  });

  it('goes back to the login, saying the session ended, when the live feed or the API answers 401', async () => {
    const { session, desks, lostHooks } = harness({ me: async () => me as never });
    await session.start();
    expect(session.state.value).toBe('loggedIn');
    lostHooks[0]?.();
    expect(session.state.value).toBe('loggedOut');
    expect(session.ended.value).toBe(true);
    expect(desks[0]?.stop).toHaveBeenCalled();
    expect(session.desk.value).toBeNull();
  });

  it('logout stops the desk and shows the login without the "ended" note', async () => {
    const logout = vi.fn(async () => undefined);
    const { session, desks } = harness({ me: async () => me as never, logout });
    await session.start();
    await session.logout();
    expect(logout).toHaveBeenCalledOnce();
    expect(desks[0]?.stop).toHaveBeenCalled();
    expect(session.state.value).toBe('loggedOut');
    expect(session.ended.value).toBe(false);
  });

  it(`announces the end of the session from ${EXPIRY_WARNING_MS / 60_000} minutes before it`, async () => {
    const expiresAt = Date.UTC(2026, 0, 22, 2, 0, 0);
    const { session } = harness({ me: async () => ({ ...me, expiresAt }) as never });
    await session.start();
    expect(session.expiresAt.value).toBe(expiresAt);
    expect(expiryWarningDue(session.expiresAt.value, expiresAt - EXPIRY_WARNING_MS - 1)).toBe(false);
    expect(expiryWarningDue(session.expiresAt.value, expiresAt - EXPIRY_WARNING_MS)).toBe(true);
    expect(expiryWarningDue(session.expiresAt.value, expiresAt + 1)).toBe(true);
    expect(expiryWarningDue(null, expiresAt)).toBe(false);
  });

  it(`a desk logged out by the server sounds the critical alarm at once and every ${LOGGED_OUT_ALARM_EVERY_MS / 1000} s until someone logs in`, async () => {
    const { session, lostHooks, sound, tick, intervals } = harness({ me: async () => me as never, login: async () => me });
    await session.start();
    lostHooks[0]?.();
    expect(sound.play).toHaveBeenCalledWith('critical');
    tick();
    tick();
    expect(sound.play).toHaveBeenCalledTimes(3);
    await session.login('shimen', 'pw');
    expect(intervals.size).toBe(0);
    tick();
    expect(sound.play).toHaveBeenCalledTimes(3);
  });

  it('a deliberate logout does not sound the alarm', async () => {
    const { session, sound } = harness({ me: async () => me as never, logout: async () => undefined });
    await session.start();
    expect(await session.logout()).toBe(true);
    expect(sound.play).not.toHaveBeenCalled();
  });

  it(`a logout that does not reach the server is tried ${LOGOUT_ATTEMPTS} times, then says so and stays logged in`, async () => {
    const logout = vi.fn(() => Promise.reject(new ApiRequestError('NETWORK', 'Failed to fetch', 0)));
    const { session, desks } = harness({ me: async () => me as never, logout });
    await session.start();
    expect(await session.logout()).toBe(false);
    expect(logout).toHaveBeenCalledTimes(LOGOUT_ATTEMPTS);
    expect(session.state.value).toBe('loggedIn');
    expect(session.logoutError.value).toBe('NETWORK: Failed to fetch');
    expect(desks[0]?.stop).not.toHaveBeenCalled();
    // Once through (after a failure), or the session had ended anyway (401): logged out.
    logout.mockReset();
    logout.mockRejectedValueOnce(new ApiRequestError('NETWORK', 'x', 0)).mockResolvedValueOnce(undefined as never);
    expect(await session.logout()).toBe(true);
    expect(session.state.value).toBe('loggedOut');
    const again = harness({ me: async () => me as never, logout: () => Promise.reject(new ApiRequestError('UNAUTHENTICATED', '', 401)) });
    await again.session.start();
    expect(await again.session.logout()).toBe(true);
    expect(again.session.state.value).toBe('loggedOut');
  });

  it('a login refused keeps the login screen, with the code and the retry time of a throttled login', async () => {
    const { session } = harness({
      me: () => Promise.reject(new ApiRequestError('UNAUTHENTICATED', '', 401)),
      login: () => Promise.reject(new ApiRequestError('LOGIN_THROTTLED', '…', 429, 540)),
    });
    await session.start();
    await expect(session.login('shimen', 'x')).rejects.toMatchObject({ code: 'LOGIN_THROTTLED', retryAfterSeconds: 540 });
    expect(session.state.value).toBe('loggedOut');
  });
});

describe('api and 401', () => {
  const answer = (status: number, body: unknown) => async () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it('calls onUnauthenticated on a 401 from any route but the login and the session check', async () => {
    const onUnauthenticated = vi.fn();
    const api = createApi({ fetch: answer(401, { code: 'UNAUTHENTICATED', message: 'log in first' }), onUnauthenticated });
    await expect(api.listAlarms('active')).rejects.toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
    expect(onUnauthenticated).toHaveBeenCalledOnce();
    await expect(api.me()).rejects.toMatchObject({ status: 401 });
    await expect(api.login({ name: 'a', password: 'b' })).rejects.toMatchObject({ status: 401 });
    expect(onUnauthenticated).toHaveBeenCalledOnce();
  });

  it('reads retryAfterSeconds of a throttled login', async () => {
    const api = createApi({ fetch: answer(429, { code: 'LOGIN_THROTTLED', message: '登录失败次数过多', retryAfterSeconds: 300 }) });
    await expect(api.login({ name: 'a', password: 'b' })).rejects.toMatchObject({ code: 'LOGIN_THROTTLED', retryAfterSeconds: 300 });
  });
});
