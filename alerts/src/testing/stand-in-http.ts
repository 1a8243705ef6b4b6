/**
 * What the local stand-ins of the Twilio and robot APIs share: reading a
 * bounded body, answering JSON, and waiters for "the next accepted item
 * that matches", failed when the stand-in stops.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The body of `req`, at most `maxBytes`; rejects beyond. */
export async function readRequestBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new Error(`body larger than ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Answers `body` as JSON with `status`, unless the connection is gone. */
export function writeJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(payload) });
  res.end(payload);
}

interface Waiter<T> {
  predicate: (item: T) => boolean;
  resolve: (item: T) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Pending `waitFor` calls of a stand-in over the items it accepted. */
export class AcceptedWaiters<T> {
  private readonly waiters = new Set<Waiter<T>>();

  constructor(private readonly what: string) {}

  /** The first item of `accepted` (or to come, see notify) that matches; rejects after `timeoutMs` with `describe()` in the message. */
  waitFor(accepted: readonly T[], predicate: (item: T) => boolean, timeoutMs: number, describe: () => string): Promise<T> {
    const found = accepted.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter<T> = {
        predicate,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(new Error(`no matching ${this.what} within ${timeoutMs} ms (${describe()})`));
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Resolves every waiter that `item` matches. */
  notify(item: T): void {
    for (const waiter of this.waiters) {
      if (!waiter.predicate(item)) continue;
      clearTimeout(waiter.timer);
      this.waiters.delete(waiter);
      waiter.resolve(item);
    }
  }

  /** Fails every waiter: the stand-in stopped. */
  rejectAll(reason: string): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(new Error(reason));
    }
    this.waiters.clear();
  }
}

/** A stand-in's HTTP listener on loopback: start() listens (port 0: a free one), stop() closes every connection. */
export class LoopbackListener {
  private server: Server | undefined;
  private address: { port: number; url: string } | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** Listens with `handle`; a handler that throws answers `failed(err)` as JSON with HTTP 500. Resolves with where. */
  async start(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>, failed: (err: unknown) => unknown): Promise<{ port: number; url: string }> {
    if (this.address) return this.address;
    const server = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => writeJson(res, 500, failed(err)));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    this.address = { port, url: `http://${this.host}:${port}` };
    return this.address;
  }

  /** Closes the port and every connection. Idempotent. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.address = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
