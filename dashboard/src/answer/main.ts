/** The helper's answer page (/a/<code>, `?case=` for one case of a bundled SMS): a phone-sized page of one case. */
import '../zod-jitless';
import { createApp } from 'vue';
import { lang, LOCALES } from '../i18n';
import AnswerApp from './AnswerApp.vue';
import { caseFromSearch, codeFromPath } from './answer-api';
import './answer.css';

document.documentElement.lang = LOCALES[lang.value];
createApp(AnswerApp, { code: codeFromPath(window.location.pathname), initialCase: caseFromSearch(window.location.search) }).mount('#app');
