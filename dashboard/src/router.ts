/**
 * The desk's views by URL hash (#/alarms, #/map, #/residents/<id>, #/devices, #/audit),
 * so a view can be bookmarked and the back button works; no router library for
 * four views.
 */
import type { UserRole } from '@kanjia/protocol';
import { ref } from 'vue';

export const VIEWS = ['alarms', 'map', 'residents', 'registry', 'devices', 'reports', 'audit'] as const;
export type ViewName = (typeof VIEWS)[number];

/** The views a role has (the server refuses the audit log to the others anyway). */
export function viewsFor(role: UserRole | null): readonly ViewName[] {
  // A helper has no report (the server refuses it: a report covers every person of a village).
  return role === 'admin' ? VIEWS : VIEWS.filter((v) => v !== 'audit' && !(v === 'reports' && role === 'helper'));
}

export interface Route {
  view: ViewName;
  /** What follows the view, e.g. the resident id of #/residents/<id>; '' when none. */
  param: string;
}

/** Reads a hash such as `#/residents/res_1`; anything unknown is the alarm queue. */
export function parseRoute(hash: string): Route {
  const [view = '', ...rest] = hash.replace(/^#\/?/, '').split('/');
  const known = (VIEWS as readonly string[]).includes(view) ? (view as ViewName) : 'alarms';
  return { view: known, param: known === view ? decodeURIComponent(rest.join('/')) : '' };
}

/** The hash of a view (and its parameter). */
export function routeHash(view: ViewName, param = ''): string {
  return param ? `#/${view}/${encodeURIComponent(param)}` : `#/${view}`;
}

/** The current route; follows the hash. */
export const route = ref<Route>(parseRoute(globalThis.location?.hash ?? ''));
globalThis.addEventListener?.('hashchange', () => {
  route.value = parseRoute(globalThis.location.hash);
});

/** Goes to a view (a history entry, so the back button returns). */
export function navigate(view: ViewName, param = ''): void {
  globalThis.location.hash = routeHash(view, param);
}
