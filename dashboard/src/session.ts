/**
 * The login state of the page: checks the session on load, logs in and out,
 * and builds (and stops) the duty desk for the logged-in user. Any 401 from
 * the API or the live feed ends the desk and shows the login again.
 *
 * A duty desk that is logged out cannot ring for the next SOS, so that must
 * never happen unnoticed: the end of the session (7 days after the login, at
 * the latest) is announced from an hour before, a desk logged out while it
 * was showing the queue sounds the critical alarm now and every minute until
 * someone logs in again, and a logout that did not reach the server says so
 * and stays logged in (a shared PC must not keep a valid cookie behind a
 * login screen).
 */
import type { MeResponse, UserView } from '@kanjia/protocol';
import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import { ApiRequestError, type Api } from './api';
import type { Desk } from './desk';
import type { AlarmSound } from './sound';

export type SessionState = 'checking' | 'loggedOut' | 'loggedIn';

/** The end of the session is announced this long before it (the absolute limit: 7 days after the login). */
export const EXPIRY_WARNING_MS = 3600_000;
/** A desk logged out by the server sounds the critical alarm again this often until someone logs in. */
export const LOGGED_OUT_ALARM_EVERY_MS = 60_000;
/** Attempts at a logout before saying it failed. */
export const LOGOUT_ATTEMPTS = 3;

/** True from EXPIRY_WARNING_MS before the session's absolute end (and after it, until the 401 comes). */
export function expiryWarningDue(expiresAt: number | null, nowMs: number): boolean {
  return expiresAt !== null && nowMs >= expiresAt - EXPIRY_WARNING_MS;
}

/** setInterval/clearInterval, injectable for tests. */
export interface IntervalTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface Session {
  state: Ref<SessionState>;
  user: Ref<UserView | null>;
  /** True when the login shows because a session ended (not on a first visit). */
  ended: Ref<boolean>;
  desk: ShallowRef<Desk | null>;
  /** When the session ends whatever happens (ms since epoch); null when logged out. */
  expiresAt: Ref<number | null>;
  /** Why the last logout failed (the session is still open); null otherwise. */
  logoutError: Ref<string | null>;
  sound: AlarmSound;
  /** Checks for a session (page load); resolves when known. */
  start(): Promise<void>;
  login(name: string, password: string): Promise<void>;
  /** Logs out (retrying); on failure stays logged in with logoutError set. Resolves true when logged out. */
  logout(): Promise<boolean>;
  /** The session has ended (a 401 anywhere). */
  lost(): void;
}

export function createSession(deps: { api: Api; sound: AlarmSound; makeDesk: (onUnauthenticated: () => void) => Desk; timers?: IntervalTimers }): Session {
  const state = ref<SessionState>('checking');
  const user = ref<UserView | null>(null);
  const ended = ref(false);
  const desk = shallowRef<Desk | null>(null);
  const expiresAt = ref<number | null>(null);
  const logoutError = ref<string | null>(null);
  const timers: IntervalTimers = deps.timers ?? { setInterval: (fn, ms) => globalThis.setInterval(fn, ms), clearInterval: (h) => globalThis.clearInterval(h as ReturnType<typeof setInterval>) };
  let loggedOutAlarm: unknown;

  function stopLoggedOutAlarm(): void {
    if (loggedOutAlarm !== undefined) timers.clearInterval(loggedOutAlarm);
    loggedOutAlarm = undefined;
  }

  function enter(me: MeResponse): void {
    stopLoggedOutAlarm();
    const u = me.user;
    user.value = u;
    expiresAt.value = me.expiresAt;
    logoutError.value = null;
    ended.value = false;
    state.value = 'loggedIn';
    desk.value?.stop();
    const d = deps.makeDesk(lost);
    desk.value = d;
    d.start();
  }

  function leave(wasEnded: boolean): void {
    desk.value?.stop();
    desk.value = null;
    user.value = null;
    expiresAt.value = null;
    ended.value = wasEnded;
    state.value = 'loggedOut';
  }

  function lost(): void {
    if (state.value !== 'loggedIn') return;
    leave(true);
    // The room must hear that the desk no longer rings: now, and every minute until someone logs in.
    deps.sound.play('critical');
    stopLoggedOutAlarm();
    loggedOutAlarm = timers.setInterval(() => deps.sound.play('critical'), LOGGED_OUT_ALARM_EVERY_MS);
  }

  return {
    state,
    user,
    ended,
    desk,
    expiresAt,
    logoutError,
    sound: deps.sound,
    async start() {
      try {
        enter(await deps.api.me());
      } catch (err) {
        // Not logged in (401) or the server is unreachable: the login form says the rest when used.
        if (!(err instanceof ApiRequestError)) console.error('[kanjia] session check failed', err);
        leave(false);
      }
    },
    async login(name, password) {
      const me = await deps.api.login({ name, password });
      deps.sound.unlock();
      enter(me);
    },
    async logout() {
      let last: unknown;
      for (let attempt = 1; attempt <= LOGOUT_ATTEMPTS; attempt++) {
        try {
          await deps.api.logout();
          leave(false);
          return true;
        } catch (err) {
          // 401: the session had ended already; logged out either way.
          if (err instanceof ApiRequestError && err.status === 401) {
            leave(false);
            return true;
          }
          last = err;
        }
      }
      logoutError.value = last instanceof ApiRequestError ? `${last.code}: ${last.message}` : String(last);
      return false;
    },
    lost,
  };
}
