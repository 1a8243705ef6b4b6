/**
 * The login state of the page: checks the session on load, logs in and out,
 * and builds (and stops) the duty desk for the logged-in user. Any 401 from
 * the API or the live feed ends the desk and shows the login again.
 */
import type { UserView } from '@kanjia/protocol';
import { ref, shallowRef, type Ref, type ShallowRef } from 'vue';
import { ApiRequestError, type Api } from './api';
import type { Desk } from './desk';
import type { AlarmSound } from './sound';

export type SessionState = 'checking' | 'loggedOut' | 'loggedIn';

export interface Session {
  state: Ref<SessionState>;
  user: Ref<UserView | null>;
  /** True when the login shows because a session ended (not on a first visit). */
  ended: Ref<boolean>;
  desk: ShallowRef<Desk | null>;
  sound: AlarmSound;
  /** Checks for a session (page load); resolves when known. */
  start(): Promise<void>;
  login(name: string, password: string): Promise<void>;
  logout(): Promise<void>;
  /** The session has ended (a 401 anywhere). */
  lost(): void;
}

export function createSession(deps: { api: Api; sound: AlarmSound; makeDesk: (onUnauthenticated: () => void) => Desk }): Session {
  const state = ref<SessionState>('checking');
  const user = ref<UserView | null>(null);
  const ended = ref(false);
  const desk = shallowRef<Desk | null>(null);

  function enter(u: UserView): void {
    user.value = u;
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
    ended.value = wasEnded;
    state.value = 'loggedOut';
  }

  function lost(): void {
    if (state.value === 'loggedIn') leave(true);
  }

  return {
    state,
    user,
    ended,
    desk,
    sound: deps.sound,
    async start() {
      try {
        enter((await deps.api.me()).user);
      } catch (err) {
        // Not logged in (401) or the server is unreachable: the login form says the rest when used.
        if (!(err instanceof ApiRequestError)) console.error('[kanjia] session check failed', err);
        leave(false);
      }
    },
    async login(name, password) {
      const me = await deps.api.login({ name, password });
      deps.sound.unlock();
      enter(me.user);
    },
    async logout() {
      try {
        await deps.api.logout();
      } finally {
        leave(false);
      }
    },
    lost,
  };
}
