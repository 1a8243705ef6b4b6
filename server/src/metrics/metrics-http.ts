/**
 * Where Prometheus scrapes: `GET /metrics` on the main HTTP server with the
 * bearer token KANJIA_METRICS_TOKEN, and/or on a listener of its own at
 * KANJIA_METRICS_ADDRESS (default off), which asks for the same token when it
 * is set. The figures hold no names, phones or ids, but they do tell how many
 * SOS cases are open and whether the SMS provider is down: not for anyone on
 * the LAN (config.ts refuses a non-loopback metrics address without a token).
 *
 * Prometheus sends the token with `authorization: { credentials_file: … }`
 * (scheme Bearer). A scrape without it, or with a wrong one, gets 401 with
 * `WWW-Authenticate: Bearer` and a body that says what to send.
 */
import type { FastifyInstance } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SettingsError } from '../config.js';
import { apiError } from '../http/api-errors.js';
import type { KanjiaMetrics } from './metrics.js';

export const METRICS_PATH = '/metrics';

/** Whether an Authorization header carries `token` as a bearer token (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  if (!match?.[1]) return false;
  // Hashes of equal length, so the comparison takes the same time whatever was sent.
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(match[1]), digest(token));
}

/** The 401 for a scrape: what was wrong and what to send instead; undefined when the scrape may go on. */
export function refusal(header: string | undefined, token: string | undefined, where: 'http' | 'listener'): string | undefined {
  if (token === undefined) {
    // Only the main server asks for a token that is not set: the separate listener is open (on loopback) without one.
    return where === 'http'
      ? 'metrics are off on this port: set KANJIA_METRICS_TOKEN and scrape with Authorization: Bearer <token>, or set KANJIA_METRICS_ADDRESS for a listener of their own'
      : undefined;
  }
  if (header === undefined || header === '') return 'metrics need the bearer token: send Authorization: Bearer <KANJIA_METRICS_TOKEN> (Prometheus: authorization.credentials_file)';
  if (!bearerMatches(header, token)) return 'wrong metrics token: send Authorization: Bearer <KANJIA_METRICS_TOKEN>';
  return undefined;
}

export interface MetricsRouteOptions {
  metrics: KanjiaMetrics;
  /** KANJIA_METRICS_TOKEN; without one the route answers 401 to everyone. */
  token: string | undefined;
}

/**
 * GET /metrics on the main server. Its access is 'public' for the session
 * check (Prometheus has no session cookie): the bearer token is checked here
 * instead, and the route walk test sees the 401 without one.
 */
export async function metricsRoutes(app: FastifyInstance, options: MetricsRouteOptions): Promise<void> {
  app.get(METRICS_PATH, { config: { access: 'public' } }, async (request, reply) => {
    const refused = refusal(request.headers.authorization, options.token, 'http');
    if (refused !== undefined) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="kanjia-metrics"').send(apiError('UNAUTHENTICATED', refused));
    }
    const body = await options.metrics.render();
    return reply.header('cache-control', 'no-store').type(options.metrics.contentType).send(body);
  });
}

export interface MetricsListenerOptions {
  metrics: KanjiaMetrics;
  host: string;
  /** 0: any free port (tests). */
  port: number;
  /** When set, scrapes must carry it as a bearer token here too. */
  token: string | undefined;
  logger: { warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
}

/** Open connections at most on the metrics listener: a Prometheus or two, and someone with curl. */
const MAX_CONNECTIONS = 16;

/** A small HTTP listener that serves only GET /metrics (KANJIA_METRICS_ADDRESS). */
export class MetricsListener {
  private server: Server | undefined;

  constructor(private readonly options: MetricsListenerOptions) {}

  /** Listens; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.server) return (this.server.address() as AddressInfo).port;
    const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000, keepAliveTimeout: 5_000 }, (req, res) => {
      this.answer(req, res).catch((err: unknown) => {
        this.options.logger.error({ err }, 'metrics: a scrape failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('metrics could not be collected; the details are in the server log\n');
      });
    });
    server.maxConnections = MAX_CONNECTIONS;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  }

  /** Closes the listener and its connections; idempotent. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`only ${METRICS_PATH} is served here\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('GET only\n');
      return;
    }
    const refused = refusal(req.headers.authorization, this.options.token, 'listener');
    if (refused !== undefined) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="kanjia-metrics"', 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(apiError('UNAUTHENTICATED', refused)));
      return;
    }
    const body = await this.options.metrics.render();
    res.writeHead(200, { 'content-type': this.options.metrics.contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : body);
  }
}

/**
 * Starts the listener of KANJIA_METRICS_ADDRESS (`opened` gets it first, so a
 * stop closes it whatever happens next); resolves with its URL. A port in use
 * is a setting to fix, said as one.
 */
export async function openMetricsListener(options: {
  metrics: KanjiaMetrics;
  address: { host: string; port: number };
  token: string | undefined;
  logger: MetricsListenerOptions['logger'];
  opened: (listener: MetricsListener) => void;
}): Promise<string> {
  const { host, port } = options.address;
  const listener = new MetricsListener({ metrics: options.metrics, host, port, token: options.token, logger: options.logger });
  options.opened(listener);
  const bound = await listener.start().catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EADDRINUSE') throw new SettingsError([`KANJIA_METRICS_ADDRESS: ${host}:${port} is already in use; choose another port`]);
    throw err;
  });
  return `http://${host.includes(':') ? `[${host}]` : host}:${bound}${METRICS_PATH}`;
}
