/**
 * Which view the desk shows, kept in the URL's hash (#/residents/res_…) so a
 * card can be bookmarked, reloaded and reached with the browser's back button.
 */
import { ref } from 'vue';

export type Route = { name: 'queue' } | { name: 'residents' } | { name: 'resident'; id: string } | { name: 'devices' };

/** The route a hash names; anything else is the queue. */
export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'residents' && parts[1]) return { name: 'resident', id: parts[1] };
  if (parts[0] === 'residents') return { name: 'residents' };
  if (parts[0] === 'devices') return { name: 'devices' };
  return { name: 'queue' };
}

export function routeHash(route: Route): string {
  switch (route.name) {
    case 'queue':
      return '#/';
    case 'residents':
      return '#/residents';
    case 'resident':
      return `#/residents/${encodeURIComponent(route.id)}`;
    case 'devices':
      return '#/devices';
  }
}

export const route = ref<Route>(parseRoute(globalThis.location?.hash ?? ''));
globalThis.addEventListener?.('hashchange', () => {
  route.value = parseRoute(globalThis.location.hash);
});

export function navigate(next: Route): void {
  const hash = routeHash(next);
  if (globalThis.location.hash !== hash) globalThis.location.hash = hash;
  route.value = next;
}
