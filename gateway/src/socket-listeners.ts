/**
 * The sockets devices connect to: plain MQTT (TCP, 1883) for the village LAN
 * and MQTT over TLS (8883) for devices on 4G reaching a server on the
 * internet. Both hand every connection to the same function, so a device over
 * TLS meets exactly the limits of one on the plain port (frame size,
 * authentication, rate limits: gateway.ts accept()). TLS is Node's own
 * tls.Server with the operator's certificate; a client that does not finish
 * its handshake within the deadline is cut, as one that never sends CONNECT is.
 */
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import type { Logger } from './logger.js';

/** A PEM certificate (with its chain) and its private key. */
export interface TlsCertificate {
  cert: string | Buffer;
  key: string | Buffer;
}

export interface SocketListenersOptions {
  host: string;
  /** Plain MQTT on this TCP port (0: a free one); undefined: no plain listener. */
  plainPort: number | undefined;
  /** MQTT over TLS; undefined: none. */
  tls: (TlsCertificate & { port: number }) | undefined;
  /** A TLS handshake must be done within this, ms. */
  tlsHandshakeTimeoutMs?: number;
  /** Connections the kernel queues for accept() on each listener (capped by net.core.somaxconn); default DEFAULT_LISTEN_BACKLOG. */
  listenBacklog?: number;
}

/** Node's default TLS handshake deadline is 120 s: far too long for a connection that holds a descriptor and says nothing. */
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The accept queue of each listener. Node's default is 511: after a power cut
 * the devices of a township reconnect within a second or two, and while the
 * event loop is busy (a commit, a group of logins) the kernel queues at most
 * that many; beyond, it drops the SYN and the device's TCP retries it only
 * after 1, 3, 7, 15, 31 s… (measured: 10,000 devices after a cut, the last
 * 1,100 came back 30–60 s late, one SYN retry after another). 4096 is Linux's
 * default net.core.somaxconn, which caps it anyway; a queued connection costs
 * the kernel a few hundred bytes and nothing of ours until it is accepted.
 */
export const DEFAULT_LISTEN_BACKLOG = 4096;

function listen(server: Server, port: number, host: string, backlog: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host, backlog }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function close(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => (server?.listening ? server.close(() => resolve()) : resolve()));
}

/** The plain and TLS listeners; constructor assigns, start() listens, close() stops listening (connections are the gateway's). */
export class SocketListeners {
  private plain: Server | undefined;
  private secure: TlsServer | undefined;
  private ports: { plainPort?: number; tlsPort?: number } = {};
  private readonly rawTls = new Set<Socket>();
  /** Failed TLS handshakes since start (a plain client on the TLS port, a device that does not trust the certificate). */
  tlsHandshakeFailures = 0;

  constructor(
    private readonly options: SocketListenersOptions,
    private readonly accept: (socket: Socket) => void,
    private readonly logger: Logger,
  ) {}

  /** Listens on every configured port; if one cannot, closes the others and rejects (err.port says which). */
  async start(): Promise<{ plainPort?: number; tlsPort?: number }> {
    const { host, plainPort, tls } = this.options;
    try {
      if (plainPort !== undefined) {
        this.plain = createTcpServer((socket) => this.accept(socket));
        this.ports.plainPort = await listen(this.plain, plainPort, host, this.options.listenBacklog ?? DEFAULT_LISTEN_BACKLOG).catch((err: NodeJS.ErrnoException) => Promise.reject(Object.assign(err, { port: plainPort })));
        this.plain.on('error', (err) => this.logger.error({ err: err.message }, 'MQTT listener error'));
      }
      if (tls !== undefined) {
        this.secure = createTlsServer({ cert: tls.cert, key: tls.key, handshakeTimeout: this.options.tlsHandshakeTimeoutMs ?? DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS }, (socket) => this.accept(socket));
        // Connections still in their handshake are no device's yet: cutHandshakes() ends them at stop.
        this.secure.on('connection', (raw: Socket) => {
          this.rawTls.add(raw);
          raw.once('close', () => this.rawTls.delete(raw));
        });
        this.secure.on('tlsClientError', (err, socket) => {
          this.tlsHandshakeFailures += 1;
          this.logger.debug({ err: err.message, remoteAddress: socket.remoteAddress }, 'MQTT TLS handshake failed');
        });
        this.ports.tlsPort = await listen(this.secure, tls.port, host, this.options.listenBacklog ?? DEFAULT_LISTEN_BACKLOG).catch((err: NodeJS.ErrnoException) => Promise.reject(Object.assign(err, { port: tls.port })));
        this.secure.on('error', (err) => this.logger.error({ err: err.message }, 'MQTT TLS listener error'));
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    return { ...this.ports };
  }

  /** The bound ports (after start). */
  get bound(): { plainPort?: number; tlsPort?: number } {
    return { ...this.ports };
  }

  /** Serves a renewed certificate to new TLS connections (open ones keep theirs). */
  setCertificate(certificate: TlsCertificate): void {
    this.secure?.setSecureContext({ cert: certificate.cert, key: certificate.key });
  }

  /** Stops listening; resolves once every connection has closed (the gateway ends its clients', then cutHandshakes()). Idempotent. */
  async close(): Promise<void> {
    await Promise.all([close(this.plain), close(this.secure)]);
  }

  /** Cuts the TLS connections still in their handshake (no device's yet: the gateway does not know them). */
  cutHandshakes(): void {
    for (const raw of this.rawTls) raw.destroy();
  }
}
