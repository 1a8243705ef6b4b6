/**
 * Allowed hosts: the names and addresses this server answers to, checked on
 * every HTTP request and on the live feed's handshake. A page of another site
 * whose name an attacker re-points at this server's address (DNS rebinding)
 * arrives with that other name in its Host header, and is refused: it cannot
 * read the dashboard or the API from inside the duty room's LAN.
 *
 * Always allowed: localhost, 127.0.0.1, ::1, the host of KANJIA_PUBLIC_URL and
 * the address the HTTP listener is bound to; bound to a wildcard (0.0.0.0, ::)
 * also every address of this machine's network interfaces and its host name,
 * so a browser on the village LAN gets in by the server's address as it is,
 * with nothing to set. None of these names can be an attacker's: they are
 * this machine's own. KANJIA_ALLOWED_HOSTS adds names (a DNS name of the
 * LAN, the address a port is forwarded from, the host's address when Kanjia
 * runs in a container); `*` turns the check off.
 */
import { hostname as osHostname, networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../logger.js';
import { apiErrorStatus, type CatalogCodes } from '@kanjia/protocol';
import { sendApiError } from './api-errors.js';

/** Re-read the machine's interfaces at most this often, on a miss (an address from DHCP may change). */
const INTERFACES_REFRESH_MS = 30_000;
/** Distinct refused hosts logged one by one; then a summary at most every REFUSED_SUMMARY_MS. */
const REFUSED_HOSTS_LOGGED = 50;
const REFUSED_SUMMARY_MS = 600_000;
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);
const LOOPBACK = ['localhost', '127.0.0.1', '::1'];

/** The host name of a Host header, lower case, without port, brackets or a final dot; undefined when there is none. */
export function hostnameOf(hostHeader: string | undefined): string | undefined {
  if (hostHeader === undefined) return undefined;
  let h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end > 0 ? h.slice(1, end) : h;
  } else if (h.split(':').length === 2) {
    h = h.slice(0, h.indexOf(':'));
  }
  h = h.replace(/\.$/, '');
  return h === '' ? undefined : h;
}

/** One entry of KANJIA_ALLOWED_HOSTS: `*`, a DNS name or an IP address (IPv6 with or without brackets), nothing else. */
export function isAllowedHostEntry(entry: string): boolean {
  if (entry === '*') return true;
  const bare = entry.replace(/^\[(.*)\]$/, '$1');
  if (isIP(bare) !== 0) return true;
  return /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i.test(entry);
}

export interface AllowedHostsOptions {
  /** KANJIA_ALLOWED_HOSTS: names added to the defaults; `*` allows any. */
  extra: readonly string[];
  /** The address the HTTP listener is bound to (KANJIA_HTTP_HOST). */
  httpHost: string;
  /** KANJIA_PUBLIC_URL, whose host is allowed. */
  publicUrl: string | undefined;
  nowMs: () => number;
  /** The machine's addresses and name (injected by tests). */
  interfaces?: () => ReturnType<typeof networkInterfaces>;
  hostname?: () => string;
}

export class AllowedHosts {
  private readonly fixed = new Set<string>();
  private machine = new Set<string>();
  private readonly anyHost: boolean;
  private readonly wildcard: boolean;
  private refreshedAtMs = -Infinity;

  constructor(private readonly options: AllowedHostsOptions) {
    this.anyHost = options.extra.includes('*');
    for (const h of LOOPBACK) this.fixed.add(h);
    const bound = hostnameOf(options.httpHost.includes(':') && !options.httpHost.startsWith('[') ? `[${options.httpHost}]` : options.httpHost);
    this.wildcard = WILDCARDS.has(options.httpHost.trim());
    if (!this.wildcard && bound) this.fixed.add(bound);
    if (options.publicUrl) {
      const h = hostnameOf(new URL(options.publicUrl).host);
      if (h) this.fixed.add(h);
    }
    for (const e of options.extra) {
      const h = e === '*' ? undefined : hostnameOf(e.includes(':') && !e.startsWith('[') ? `[${e}]` : e);
      if (h) this.fixed.add(h);
    }
    if (this.wildcard) this.refresh();
  }

  /** Does this server answer to the host of this Host header? */
  allows(hostHeader: string | undefined): boolean {
    if (this.anyHost) return true;
    const h = hostnameOf(hostHeader);
    if (h === undefined) return false;
    if (this.fixed.has(h) || this.machine.has(h)) return true;
    if (this.wildcard && this.options.nowMs() - this.refreshedAtMs >= INTERFACES_REFRESH_MS) {
      this.refresh();
      return this.machine.has(h);
    }
    return false;
  }

  /** Every name allowed now, for the start log; ['*'] when any is. */
  list(): string[] {
    return this.anyHost ? ['*'] : [...this.fixed, ...this.machine];
  }

  private refresh(): void {
    this.refreshedAtMs = this.options.nowMs();
    const machine = new Set<string>();
    for (const list of Object.values((this.options.interfaces ?? networkInterfaces)())) {
      // A link-local IPv6 address needs its zone (%eth0) to be used: no browser sends one in Host.
      for (const info of list ?? []) if (!info.address.includes('%')) machine.add(info.address.toLowerCase());
    }
    const name = (this.options.hostname ?? osHostname)().toLowerCase();
    if (name) {
      machine.add(name);
      if (!name.includes('.')) machine.add(`${name}.local`);
    }
    this.machine = machine;
  }
}

/** The answer to a request for a host this server does not answer to (also the live feed's refusal). */
export function hostRefusal(host: string | undefined): { code: CatalogCodes<'HOST_NOT_ALLOWED'>; message: string } {
  const shown = host === undefined ? '(none)' : JSON.stringify(host.slice(0, 100));
  return {
    code: 'HOST_NOT_ALLOWED',
    message: `此服务器不接受以 ${shown} 为地址的访问；如果这是大家访问它的地址，请把它加入 KANJIA_ALLOWED_HOSTS。This server does not answer to the host ${shown}: if that is how people reach it, add it to KANJIA_ALLOWED_HOSTS.`,
  };
}

/** Logs each refused host once (up to REFUSED_HOSTS_LOGGED of them), then a summary every REFUSED_SUMMARY_MS: a flood must not flood the log. */
export function refusedHostLog(logger: Logger, nowMs: () => number): (host: string | undefined, where: 'http' | 'live feed', address: string | undefined) => void {
  const logged = new Set<string>();
  let unlogged = 0;
  let summaryAtMs = -Infinity;
  return (host, where, address) => {
    const key = String(host).slice(0, 100);
    if (logged.has(key)) return;
    if (logged.size < REFUSED_HOSTS_LOGGED) {
      logged.add(key);
      logger.warn({ host: key, where, address }, `refused a request for the host ${JSON.stringify(key)}: if that is how people reach this server, add it to KANJIA_ALLOWED_HOSTS (a page of another site pointed at this address — DNS rebinding — is refused the same way)`);
      return;
    }
    unlogged += 1;
    if (nowMs() - summaryAtMs < REFUSED_SUMMARY_MS) return;
    summaryAtMs = nowMs();
    logger.warn({ refused: unlogged }, `refused ${unlogged} more requests for hosts this server does not answer to (not logged one by one); see KANJIA_ALLOWED_HOSTS`);
    unlogged = 0;
  };
}

/** An onRequest hook refusing (421 HOST_NOT_ALLOWED) a request whose host (as fastify reads it: a trusted proxy's X-Forwarded-Host) is not allowed. */
export function hostCheckHook(hosts: AllowedHosts, onRefused: (host: string | undefined, address: string | undefined) => void): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (request, reply) => {
    const host = request.headers.host === undefined ? undefined : request.host;
    if (hosts.allows(host)) return;
    onRefused(host, request.ip);
    const refusal = hostRefusal(host);
    // 421 Misdirected Request (RFC 9110 §15.5.20): this server is not the one for that name.
    if (request.url.startsWith('/api/')) return sendApiError(reply, refusal.code, refusal.message);
    return reply.code(apiErrorStatus(refusal.code)).type('text/plain; charset=utf-8').send(`${refusal.code}: ${refusal.message}`);
  };
}
