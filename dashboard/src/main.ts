/** Composition root of the duty desk: API client, sound, login gate, desk state, Vue app. */
import './zod-jitless';
import { createApp, ref } from 'vue';
import { createApi } from './api';
import SessionGate from './components/SessionGate.vue';
import { createDesk } from './desk';
import { lang, LOCALES } from './i18n';
import { createSession, type Session } from './session';
import { AlarmSound } from './sound';
import './styles.css';
import './views/views.css';

const serverOffsetMs = ref(0);
let session: Session | undefined;
const api = createApi({
  onServerOffset: (offsetMs) => {
    serverOffsetMs.value = offsetMs;
  },
  onUnauthenticated: () => session?.lost(),
});
const sound = new AlarmSound();
session = createSession({ api, sound, makeDesk: (onUnauthenticated) => createDesk({ api, sound, serverOffsetMs, onUnauthenticated }) });

document.documentElement.lang = LOCALES[lang.value];
createApp(SessionGate, { session, api }).mount('#app');
void session.start();
window.addEventListener('pagehide', () => session?.desk.value?.stop());
// Coming back from the back/forward cache: start again (and refetch).
window.addEventListener('pageshow', (event) => {
  if (event.persisted) session?.desk.value?.start();
});
