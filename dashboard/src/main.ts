/** Composition root of the duty desk: API client, sound, desk state, Vue app. */
import { createApp, ref } from 'vue';
import App from './App.vue';
import { createApi } from './api';
import { createDesk } from './desk';
import { lang, LOCALES } from './i18n';
import { AlarmSound } from './sound';
import './styles.css';

const serverOffsetMs = ref(0);
const api = createApi({
  onServerOffset: (offsetMs) => {
    serverOffsetMs.value = offsetMs;
  },
});
const sound = new AlarmSound();
const desk = createDesk({ api, sound, serverOffsetMs });

document.documentElement.lang = LOCALES[lang.value];
createApp(App, { desk, sound, api }).mount('#app');
desk.start();
window.addEventListener('pagehide', () => desk.stop());
// Coming back from the back/forward cache: start again (and refetch).
window.addEventListener('pageshow', (event) => {
  if (event.persisted) desk.start();
});
