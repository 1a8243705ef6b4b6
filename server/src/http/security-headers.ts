/**
 * Security headers on every answer: the dashboard, the helper's answer page
 * (/a/<code>) and the API. Hand-set rather than @fastify/helmet: the policy
 * depends on the map tiles the settings name and on the host a request came
 * to, and these few headers are all we need.
 *
 * - Content-Security-Policy: scripts only from this server, never inline (the
 *   Vite build has none); styles from this server (Vue, Leaflet and ECharts set
 *   style through the CSSOM, which CSP does not govern); images from this
 *   server, data: (Leaflet's CSS icons) and exactly the origins of the map
 *   tiles; fetches and the live feed's WebSocket to this server only; no
 *   plugins, no <base>, forms post here only, and no site may frame a page.
 * - X-Frame-Options DENY for browsers that predate frame-ancestors.
 * - Referrer-Policy no-referrer: the answer page's URL is its access code; it
 *   must never reach a tile server or any other site in a Referer.
 * - nosniff, Cross-Origin-Opener-Policy and -Resource-Policy same-origin.
 * - Strict-Transport-Security over HTTPS to a host name (browsers ignore it
 *   for IP addresses; not for localhost, where it would follow a developer to
 *   every plain-http port of their machine).
 */
import type { MapTiles } from '@kanjia/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** A Host header fit to be written into the policy: a name or address and a port, nothing else. */
const PLAIN_HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/i;

/** The origins the map's tiles come from: one per subdomain of each layer ({s} filled in), none for `none`. */
export function tileOrigins(tiles: MapTiles): string[] {
  if (tiles.kind !== 'tiles') return [];
  const origins = new Set<string>();
  for (const layer of tiles.layers) {
    const subdomains = layer.url.includes('{s}') && layer.subdomains.length > 0 ? layer.subdomains : [''];
    for (const sub of subdomains) {
      const url = layer.url.split('{s}').join(sub);
      try {
        origins.add(new URL(url).origin);
      } catch {
        // The settings check the template (config.ts MapTilesSetting); a bad one simply gets no tiles.
      }
    }
  }
  return [...origins];
}

/** The Content-Security-Policy of a request to `host` (the Host header, already checked by hosts.ts). */
export function contentSecurityPolicy(host: string | undefined, tiles: readonly string[]): string {
  // 'self' covers ws(s) to the same host in CSP 3, but not in the older Safari and 360 browsers: name them.
  const sockets = host && PLAIN_HOST.test(host) ? ` ws://${host} wss://${host}` : '';
  return [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    `img-src 'self' data:${tiles.map((o) => ` ${o}`).join('')}`,
    "font-src 'self' data:",
    `connect-src 'self'${sockets}`,
    "media-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "frame-src 'none'",
    "worker-src 'self'",
    "manifest-src 'self'",
  ].join('; ');
}

/** HSTS for six months, only where a browser keeps it for this server alone. */
const HSTS = 'max-age=15552000';
function wantsHsts(hostname: string): boolean {
  const h = hostname.toLowerCase();
  return !(h === 'localhost' || h.endsWith('.localhost') || h.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(h));
}

/** The headers every answer carries, except the policy (which depends on the Host). */
export const STATIC_SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=(), payment=(), usb=()',
});

/** An onRequest hook that sets every security header on the reply (errors and 404s included). */
export function securityHeadersHook(tiles: MapTiles): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const origins = tileOrigins(tiles);
  return async (request, reply) => {
    reply.headers(STATIC_SECURITY_HEADERS);
    reply.header('content-security-policy', contentSecurityPolicy(request.host, origins));
    if (request.protocol === 'https' && wantsHsts(request.hostname)) reply.header('strict-transport-security', HSTS);
  };
}
