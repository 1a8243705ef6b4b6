/**
 * Transport-level limits on the raw byte stream of a connection, applied
 * before anything reaches aedes:
 *
 * - Packet size. aedes' parser (mqtt-packet) buffers a whole packet whatever
 *   its announced length, so a client could make the broker hold up to 256 MiB
 *   per connection. A scanner reads only the MQTT fixed headers as bytes
 *   arrive and kills the connection as soon as a packet announces a remaining
 *   length above the limit — before its body is buffered or handed to aedes.
 * - Before login, a much smaller budget: a connection whose CONNECT has not
 *   been accepted yet may send at most `preLoginMaxBytes` in all (a CONNECT
 *   with a will and credentials is a few hundred bytes), so a crowd of
 *   unauthenticated sockets holds kilobytes, not megabytes.
 * - PINGREQ rate: a client that pings more often than its keep-alive needs is
 *   cut, since every PING is answered.
 * - Keep-alive while the broker is behind: once logged in, a PINGREQ is
 *   answered here, at once, and taken out of the stream, and every packet seen
 *   counts as the client's sign of life. When the gateway holds a connection's
 *   PUBLISHes back (intake.ts), aedes reads nothing more from it for a while;
 *   the device must not be cut (by its own keep-alive or aedes') for our slowness.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { SlidingWindowCounter } from './rate-limit.js';

/** What the scanner found wrong with the byte stream. */
export type FrameViolation =
  /** `remainingLengthAtLeast`: the length decoded so far, which is already over the limit. */
  | { reason: 'oversized'; remainingLengthAtLeast: number; maxPacketBytes: number; beforeLogin: boolean }
  | { reason: 'malformed'; message: string }
  /** More bytes than allowed before the CONNECT was accepted. */
  | { reason: 'preLogin'; bytes: number; preLoginMaxBytes: number }
  /** More PINGREQ packets than allowed in the window. */
  | { reason: 'pingFlood'; limit: number; windowMs: number };

/** MQTT 3.1.1 §2.2.1 control packet types the guard looks at. */
const PINGREQ = 12;
/** A PINGREQ is exactly these two bytes (§3.12); a PINGRESP these (§3.13). */
const PINGREQ_BYTE = 0xc0;
const PINGRESP = Buffer.from([0xd0, 0x00]);

const enum State {
  FixedHeaderByte,
  RemainingLength,
  Body,
}

/**
 * Incremental scanner over the MQTT fixed header (MQTT 3.1.1 §2.2): one byte of packet
 * type and flags, then the remaining length as 1–4 bytes of 7 bits each with a
 * continuation bit (§2.2.3), then that many bytes of body. Keeps state
 * across chunks, so headers split anywhere and many packets per chunk are fine.
 */
export class FrameSizeScanner {
  private state = State.FixedHeaderByte;
  private remaining = 0;
  private multiplier = 1;
  private lengthBytes = 0;
  private violation: FrameViolation | undefined;
  /** True while the connection has not logged in (only reported in the violation). */
  beforeLogin = false;

  /**
   * @param maxPacketBytes  largest remaining length (variable header + payload) accepted, in bytes; may be changed between chunks (at login)
   * @param onPacketType  called with each packet's type (the high 4 bits of its first byte, §2.2.1) and that byte's index in the chunk; a violation it returns ends the scan
   */
  constructor(
    public maxPacketBytes: number,
    private readonly onPacketType?: (type: number, index: number) => FrameViolation | undefined,
  ) {
    if (!Number.isInteger(maxPacketBytes) || maxPacketBytes < 2) {
      throw new RangeError(`maxPacketBytes must be an integer >= 2, got ${maxPacketBytes}`);
    }
  }

  /** Scans the next chunk of the stream; returns the first violation, and keeps returning it. */
  push(chunk: Uint8Array): FrameViolation | undefined {
    if (this.violation !== undefined) return this.violation;
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case State.FixedHeaderByte: {
          const violation = this.onPacketType?.((chunk[i] as number) >> 4, i);
          if (violation !== undefined) return (this.violation = violation);
          i += 1;
          this.state = State.RemainingLength;
          this.remaining = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          break;
        }
        case State.RemainingLength: {
          const byte = chunk[i] as number;
          i += 1;
          this.lengthBytes += 1;
          this.remaining += (byte & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          // The length only grows with each byte, so refuse as soon as it is too big.
          if (this.remaining > this.maxPacketBytes) {
            return (this.violation = { reason: 'oversized', remainingLengthAtLeast: this.remaining, maxPacketBytes: this.maxPacketBytes, beforeLogin: this.beforeLogin });
          }
          if ((byte & 0x80) !== 0) {
            // §2.2.3: at most four bytes encode the remaining length.
            if (this.lengthBytes === 4) {
              return (this.violation = { reason: 'malformed', message: 'remaining length longer than 4 bytes' });
            }
          } else {
            this.state = this.remaining === 0 ? State.FixedHeaderByte : State.Body;
          }
          break;
        }
        case State.Body: {
          const take = Math.min(this.remaining, chunk.length - i);
          i += take;
          this.remaining -= take;
          if (this.remaining === 0) this.state = State.FixedHeaderByte;
          break;
        }
      }
    }
    return undefined;
  }
}

export interface ConnectionGuardOptions {
  /** Largest remaining length once logged in, bytes. */
  maxPacketBytes: number;
  /** Bytes a connection may send in all before its CONNECT is accepted; also its largest packet until then. */
  preLoginMaxBytes: number;
  /** PINGREQ packets allowed within `windowMs` (real time); one more cuts the connection. None: no limit. */
  pingLimit?: { count: number; windowMs: number };
  /**
   * Asked once per chunk after login: true = answer its PINGREQs here and take
   * them out of the stream (false or none: they go on to aedes, which answers).
   */
  answerPings?: () => boolean;
  /** That many PINGREQs of the chunk were answered here. */
  onPingsAnswered?: (count: number) => void;
  /** After login, a chunk began at least one packet: the client is alive (keep-alive, MQTT 3.1.1 §3.1.2.10). */
  onActivity?: () => void;
}

/** The guarded stream to hand to `broker.handle()`, and the switch to the logged-in limits. */
export interface GuardedConnection {
  readonly stream: Duplex;
  /** True once admit() was called. */
  readonly admitted: boolean;
  /** The CONNECT was accepted: the full packet size applies from now on. */
  admit(): void;
}

/**
 * Wraps a TCP socket in a Duplex that passes every byte through unchanged
 * (but the PINGREQs it answers itself, see answerPings) and scans it first; on
 * a violation it destroys the socket without passing on the offending chunk and
 * calls `onViolation` once.
 */
export function guardConnection(socket: Socket, options: ConnectionGuardOptions, onViolation: (v: FrameViolation) => void): GuardedConnection {
  // Real time: a PING flood is about the socket, not the simulated clock.
  const pingLimit = options.pingLimit;
  const pings = pingLimit === undefined ? undefined : new SlidingWindowCounter(pingLimit.count, pingLimit.windowMs);
  // Per chunk, while scanning it: the chunk, whether its PINGs are answered here, where they are.
  let scanning: Buffer | undefined;
  let answering = false;
  let pingsAt: number[] | undefined;
  let sawPacket = false;
  const scanner = new FrameSizeScanner(Math.min(options.preLoginMaxBytes, options.maxPacketBytes), (type, index) => {
    sawPacket = true;
    if (type !== PINGREQ) return undefined;
    if (pings !== undefined && pingLimit !== undefined && !pings.hit(performance.now())) return { reason: 'pingFlood', limit: pingLimit.count, windowMs: pingLimit.windowMs };
    // Only a whole, well-formed PINGREQ inside this chunk; anything else goes to aedes as it is.
    if (answering && scanning !== undefined && scanning[index] === PINGREQ_BYTE && scanning[index + 1] === 0) (pingsAt ??= []).push(index);
    return undefined;
  });
  scanner.beforeLogin = true;
  let admitted = false;
  let preLoginBytes = 0;
  let violated = false;

  const guarded = new Duplex({
    allowHalfOpen: false,
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    // mqtt-packet corks the stream and writes a packet in pieces; hand them to
    // the socket as one write, or Nagle's algorithm holds back the last piece
    // until the peer's delayed ACK (~40 ms per QoS 1 round trip).
    writev(chunks, callback) {
      socket.write(chunks.length === 1 ? (chunks[0]?.chunk as Buffer) : Buffer.concat(chunks.map((c) => c.chunk as Buffer)), callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });

  const fail = (violation: FrameViolation): void => {
    violated = true;
    socket.pause();
    socket.destroy();
    onViolation(violation);
  };

  socket.on('data', (chunk: Buffer) => {
    if (violated) return;
    if (!admitted) {
      preLoginBytes += chunk.length;
      if (preLoginBytes > options.preLoginMaxBytes) return fail({ reason: 'preLogin', bytes: preLoginBytes, preLoginMaxBytes: options.preLoginMaxBytes });
    }
    scanning = chunk;
    answering = admitted && options.answerPings?.() === true;
    pingsAt = undefined;
    sawPacket = false;
    const violation = scanner.push(chunk);
    scanning = undefined;
    if (violation !== undefined) return fail(violation);
    if (admitted && sawPacket) options.onActivity?.();
    let forward = chunk;
    // (Filled by the scanner's callback: TypeScript cannot see that.)
    const answered = pingsAt as number[] | undefined;
    if (answered !== undefined) {
      socket.write(answered.length === 1 ? PINGRESP : Buffer.concat(answered.map(() => PINGRESP)));
      forward = withoutPings(chunk, answered);
      options.onPingsAnswered?.(answered.length);
    }
    if (forward.length > 0 && !guarded.push(forward)) socket.pause();
  });
  socket.on('end', () => guarded.push(null));
  socket.on('error', (err) => guarded.destroy(err));
  socket.on('close', () => guarded.destroy());
  // Backpressure on writes needs no wiring: each write's callback waits for the
  // socket's, so the wrapper's own buffer fills and drains with the socket's.
  return {
    stream: guarded,
    get admitted() {
      return admitted;
    },
    admit() {
      admitted = true;
      scanner.beforeLogin = false;
      scanner.maxPacketBytes = options.maxPacketBytes;
    },
  };
}

/** The chunk without the two-byte PINGREQs that start at `offsets` (ascending). */
function withoutPings(chunk: Buffer, offsets: number[]): Buffer {
  if (offsets.length * 2 === chunk.length) return chunk.subarray(0, 0);
  const parts: Buffer[] = [];
  let from = 0;
  for (const at of offsets) {
    if (at > from) parts.push(chunk.subarray(from, at));
    from = at + 2;
  }
  if (from < chunk.length) parts.push(chunk.subarray(from));
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

/**
 * The packet-size limit alone (no login budget, no PING limit): wraps a socket
 * as guardConnection() does, already admitted.
 */
export function limitFrameSize(socket: Socket, maxPacketBytes: number, onViolation: (v: FrameViolation) => void): Duplex {
  const guard = guardConnection(socket, { maxPacketBytes, preLoginMaxBytes: Number.MAX_SAFE_INTEGER }, onViolation);
  guard.admit();
  return guard.stream;
}
