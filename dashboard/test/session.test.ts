import { describe, expect, it, vi } from 'vitest';
import type { MeResponse } from '@kanjia/protocol';
import { ApiRequestError, createApi, type Api } from '../src/api';
import type { Desk } from '../src/desk';
import { createSession } from '../src/session';
import type { AlarmSound } from '../src/sound';

const me: MeResponse = { user: { id: 'usr_1', name: 'shimen', displayName: '值班员 石门', role: 'duty', township: null, villageIds: ['vil_1'], phone: null, createdAt: 1 }, idleExpiresAt: 2, expiresAt: 3 };

function fakeDesk() {
  return { start: vi.fn(), stop: vi.fn() } as unknown as Desk & { start: ReturnType<typeof vi.fn>; stop: ReturnType<typeof vi.fn> };
}

function harness(api: Partial<Api>) {
  const desks: Array<ReturnType<typeof fakeDesk>> = [];
  const lostHooks: Array<() => void> = [];
  const session = createSession({
    api: api as Api,
    sound: { unlock: vi.fn() } as unknown as AlarmSound,
    makeDesk: (onUnauthenticated) => {
      lostHooks.push(onUnauthenticated);
      const d = fakeDesk();
      desks.push(d);
      return d;
    },
  });
  return { session, desks, lostHooks };
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
