/**
 * The Node server under fastify: plain HTTP or HTTPS with the operator's
 * certificate, with deadlines for every stage of a request and a cap on open
 * connections. Slow clients (200 connections trickling their headers) must be
 * cut off, and must not take every file descriptor of the process: devices
 * connecting to MQTT need some too (issue 9).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Logger } from '../logger.js';

/** Deadlines and the connection cap of the HTTP listener. */
export interface HttpLimits {
  /** The whole request head (request line and headers) must arrive within this, ms: a client trickling headers is answered 408 and cut. */
  headersTimeoutMs: number;
  /** The whole request, body included, ms. */
  requestTimeoutMs: number;
  /** A kept-alive connection with no next request is closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** A connection that sends and receives nothing for this long is closed, ms. */
  idleTimeoutMs: number;
  /** How often Node checks the head and request deadlines, ms. */
  checkIntervalMs: number;
  /** A TLS handshake must be done within this, ms (HTTPS only). */
  tlsHandshakeTimeoutMs: number;
  /** Open connections at most; a connection beyond it is closed at once. */
  maxConnections: number;
}

export const HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  // A request head is under 2 KB: even over a poor 2G link it takes well under a second.
  headersTimeoutMs: 10_000,
  // A 10 MB village plan (MAX_PLAN_BYTES) fits at ~700 kbit/s, a poor uplink; JSON bodies are 64 KB at most.
  requestTimeoutMs: 120_000,
  // The dashboard refreshes every minute and the live feed is one long-lived WebSocket: an idle
  // kept-alive connection would only hold a file descriptor.
  // Shorter than headersTimeoutMs: a client reuses a kept-alive socket until a second before this
  // (undici reads the Keep-Alive hint), and a request sent then must not meet the head deadline of
  // a server whose event loop is late (seen as "other side closed" at a login under load).
  keepAliveTimeoutMs: 5_000,
  // socket.io pings every 25 s, so a live feed is never this silent; a stalled download is.
  idleTimeoutMs: 60_000,
  // Node's default (30 s) would let a slow head live up to 40 s instead of 10.
  checkIntervalMs: 1_000,
  // Node's default is 120 s: a connection that never says hello would hold its descriptor that long.
  tlsHandshakeTimeoutMs: 10_000,
  // A township's duty rooms are tens of browsers of a few connections each, and helpers' phones
  // open the answer page for a minute; far more than that is a flood, not the duty room.
  maxConnections: 512,
});

/** A PEM certificate (with its chain) and private key: the server speaks HTTPS. */
export interface TlsCredentials {
  cert: string | Buffer;
  key: string | Buffer;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** Dropped connections are logged at most this often (a flood must not flood the log). */
const DROP_LOG_EVERY_MS = 60_000;

/**
 * The server fastify runs on (its serverFactory): every deadline set, the
 * connection cap applied, HTTPS when `tls` is given. Typed as an http.Server
 * because fastify's instance is; an https.Server has the same interface.
 */
export function createKanjiaServer(handler: Handler, options: { limits: HttpLimits; tls?: TlsCredentials | undefined; logger: Logger; nowMs: () => number }): HttpServer {
  const { limits, tls, logger } = options;
  const deadlines = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: limits.checkIntervalMs,
  };
  const server = tls
    ? (createHttpsServer({ ...deadlines, cert: tls.cert, key: tls.key, handshakeTimeout: limits.tlsHandshakeTimeoutMs }, handler) as unknown as HttpServer)
    : createHttpServer(deadlines, handler);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.setTimeout(limits.idleTimeoutMs);
  server.maxConnections = limits.maxConnections;
  let dropped = 0;
  let lastLogAt = -Infinity;
  server.on('drop', (data?: { remoteAddress?: string }) => {
    dropped += 1;
    const now = options.nowMs();
    if (now - lastLogAt < DROP_LOG_EVERY_MS) return;
    lastLogAt = now;
    logger.warn(
      { maxConnections: limits.maxConnections, refused: dropped, lastFrom: data?.remoteAddress },
      `the HTTP connection cap (${limits.maxConnections}) is reached: new connections are refused until slow or idle ones are cut (at most ${limits.headersTimeoutMs / 1000} s); raise KANJIA_HTTP_MAX_CONNECTIONS if this many browsers really use this server`,
    );
    dropped = 0;
  });
  if (tls) {
    // A client that does not speak TLS (http:// to the https port) or rejects the certificate: not worth a warning each.
    server.on('tlsClientError', (err: Error) => logger.debug({ err: err.message }, 'TLS handshake failed'));
  }
  return server;
}
