/** The phone-sized visit page (/visit.html#/<residentId>): a helper records a visit, logged in through the desk's session. */
import '../zod-jitless';
import { createApp } from 'vue';
import { createApi } from '../api';
import { lang, LOCALES } from '../i18n';
import { createTownshipClient } from '../township-api';
import VisitApp from './VisitApp.vue';
import '../styles.css';
import './visit.css';

const residentId = decodeURIComponent(window.location.hash.replace(/^#\/?/, ''));
document.documentElement.lang = LOCALES[lang.value];
createApp(VisitApp, { client: createTownshipClient(createApi()), residentId }).mount('#app');
