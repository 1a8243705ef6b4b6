/**
 * The one same-origin rule of REST (auth-plugin.ts) and the live feed
 * (live-feed.ts): a browser's Origin must be this server's own origin as the
 * request arrived (scheme and host, from a trusted proxy's X-Forwarded-Proto/
 * -Host exactly as fastify reads them), or the origin of KANJIA_PUBLIC_URL (a
 * TLS proxy that does not forward the scheme: the request looks like http, the
 * browser is at https).
 */
import type { IncomingMessage } from 'node:http';
import { BlockList, isIP } from 'node:net';

/** proxy-addr's named ranges, which fastify's trustProxy list accepts too. */
const NAMED_RANGES: Record<string, Array<[string, number, 'ipv4' | 'ipv6']>> = {
  loopback: [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']],
  linklocal: [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']],
  uniquelocal: [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['fc00::', 7, 'ipv6']],
};

/** Is the peer one of the trusted proxies (the trustProxy list given to fastify)? */
export function proxyTrust(trusted: false | readonly string[] | undefined): (peer: string | undefined) => boolean {
  if (!trusted || trusted.length === 0) return () => false;
  const list = new BlockList();
  for (const entry of trusted) {
    const named = NAMED_RANGES[entry];
    if (named) {
      for (const [net, bits, family] of named) list.addSubnet(net, bits, family);
      continue;
    }
    const [address = '', bits] = entry.split('/');
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, family);
    else list.addSubnet(address, Number(bits), family);
  }
  return (peer) => {
    if (!peer) return false;
    // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(peer);
    const address = mapped?.[1] ?? peer;
    const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    return list.check(address, family);
  };
}

/** The last entry of a comma-separated forwarded header (what the nearest proxy wrote). */
function lastEntry(value: string | string[] | undefined): string | undefined {
  const text = Array.isArray(value) ? value[value.length - 1] : value;
  if (!text) return undefined;
  const parts = text.split(',');
  return parts[parts.length - 1]?.trim() || undefined;
}

/** This server's origin as a raw request arrived, by fastify's rules (socket.io handshakes, which fastify does not see). */
export function rawRequestOrigin(request: IncomingMessage, trustsPeer: (peer: string | undefined) => boolean): string {
  const trusted = trustsPeer(request.socket.remoteAddress);
  const proto = (trusted ? lastEntry(request.headers['x-forwarded-proto']) : undefined) ?? ((request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http');
  const host = (trusted ? lastEntry(request.headers['x-forwarded-host']) : undefined) ?? request.headers.host ?? '';
  return `${proto}://${host}`.toLowerCase();
}

/** The Host of a raw request as fastify reads it: a trusted proxy's X-Forwarded-Host, else Host (socket.io handshakes). */
export function rawRequestHost(request: IncomingMessage, trustsPeer: (peer: string | undefined) => boolean): string | undefined {
  return (trustsPeer(request.socket.remoteAddress) ? lastEntry(request.headers['x-forwarded-host']) : undefined) ?? request.headers.host;
}

/** The origin of a public address (https://kanjia.example.cn/x → https://kanjia.example.cn); undefined when there is none. */
export function originOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).origin.toLowerCase();
  } catch {
    return undefined;
  }
}

/** May a browser page at `claimed` act on (or open the feed of) this server, reached as `own`? */
export function originAllowed(claimed: string, own: string, publicOrigin: string | undefined): boolean {
  const c = claimed.toLowerCase();
  return c === own.toLowerCase() || (publicOrigin !== undefined && c === publicOrigin);
}
