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
import type { Duplex } from 'node:stream';
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

  /** Each packet's type and the index of its first byte in the chunk; a violation returned ends the scan. By default: onPacketType. */
  protected packetType(type: number, index: number): FrameViolation | undefined {
    return this.onPacketType?.(type, index);
  }

  /** Scans the next chunk of the stream; returns the first violation, and keeps returning it. */
  push(chunk: Uint8Array): FrameViolation | undefined {
    if (this.violation !== undefined) return this.violation;
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case State.FixedHeaderByte: {
          const violation = this.packetType((chunk[i] as number) >> 4, i);
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

/**
 * The limits and hooks of guarded connections. One object may serve every
 * connection (the hooks are told which socket): nothing per connection is
 * made from it, which matters at 10 000 idle devices (issue 10).
 */
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
  answerPings?: (socket: Socket) => boolean;
  /** That many PINGREQs of the chunk were answered here. */
  onPingsAnswered?: (socket: Socket, count: number) => void;
  /** After login, a chunk began at least one packet: the client is alive (keep-alive, MQTT 3.1.1 §3.1.2.10). */
  onActivity?: (socket: Socket) => void;
}

/** The guarded stream to hand to `broker.handle()` (the socket itself), and the switch to the logged-in limits. */
export interface GuardedConnection {
  readonly stream: Duplex;
  /** True once admit() was called. */
  readonly admitted: boolean;
  /** The CONNECT was accepted: the full packet size applies from now on. */
  admit(): void;
}

const GUARD = Symbol('kanjia.connectionGuard');
type GuardedSocket = Socket & { [GUARD]: SocketGuard };

/** One socket's guard: the scanner, the login budget and the PING handling; methods, not closures, to stay small. */
class SocketGuard extends FrameSizeScanner implements GuardedConnection {
  admitted = false;
  private preLoginBytes = 0;
  private violated = false;
  /** Made at the first PINGREQ: most connections ping rarely, none before login. */
  private pings: SlidingWindowCounter | undefined;
  // Per chunk, while scanning it: the chunk, whether its PINGs are answered here, where they are.
  private scanning: Buffer | undefined;
  private answering = false;
  private pingsAt: number[] | undefined;
  private sawPacket = false;

  constructor(
    readonly stream: Socket,
    private readonly options: ConnectionGuardOptions,
    private readonly onViolation: (violation: FrameViolation, socket: Socket) => void,
    /** The socket's own push(), which the guard stands in front of. */
    readonly socketPush: Socket['push'],
  ) {
    super(Math.min(options.preLoginMaxBytes, options.maxPacketBytes));
    this.beforeLogin = true;
  }

  admit(): void {
    this.admitted = true;
    this.beforeLogin = false;
    this.maxPacketBytes = this.options.maxPacketBytes;
  }

  protected override packetType(type: number, index: number): FrameViolation | undefined {
    this.sawPacket = true;
    if (type !== PINGREQ) return undefined;
    // Real time: a PING flood is about the socket, not the simulated clock.
    const limit = this.options.pingLimit;
    if (limit !== undefined && !(this.pings ??= new SlidingWindowCounter(limit.count, limit.windowMs)).hit(performance.now())) {
      return { reason: 'pingFlood', limit: limit.count, windowMs: limit.windowMs };
    }
    // Only a whole, well-formed PINGREQ inside this chunk; anything else goes to aedes as it is.
    const chunk = this.scanning;
    if (this.answering && chunk !== undefined && chunk[index] === PINGREQ_BYTE && chunk[index + 1] === 0) (this.pingsAt ??= []).push(index);
    return undefined;
  }

  /** A chunk the socket read: scanned, then into the socket's buffer (or not, on a violation). */
  take(chunk: Buffer): boolean {
    if (this.violated) return false;
    const socket = this.stream;
    if (!this.admitted) {
      this.preLoginBytes += chunk.length;
      if (this.preLoginBytes > this.options.preLoginMaxBytes) return this.fail({ reason: 'preLogin', bytes: this.preLoginBytes, preLoginMaxBytes: this.options.preLoginMaxBytes });
    }
    this.scanning = chunk;
    this.answering = this.admitted && this.options.answerPings?.(socket) === true;
    this.pingsAt = undefined;
    this.sawPacket = false;
    const violation = super.push(chunk);
    this.scanning = undefined;
    if (violation !== undefined) return this.fail(violation);
    if (this.admitted && this.sawPacket) this.options.onActivity?.(socket);
    const answered = this.pingsAt as number[] | undefined;
    if (answered === undefined) return this.socketPush.call(socket, chunk);
    socket.write(answered.length === 1 ? PINGRESP : Buffer.concat(answered.map(() => PINGRESP)));
    this.options.onPingsAnswered?.(socket, answered.length);
    const forward = withoutPings(chunk, answered);
    // Nothing left to buffer: not a reason to stop reading.
    return forward.length === 0 ? true : this.socketPush.call(socket, forward);
  }

  private fail(violation: FrameViolation): boolean {
    this.violated = true;
    this.stream.destroy();
    this.onViolation(violation, this.stream);
    return false;
  }
}

/** Takes the place of a guarded socket's push(): the same function for every socket. */
function guardedPush(this: GuardedSocket, chunk: unknown, encoding?: BufferEncoding): boolean {
  const guard = this[GUARD];
  if (chunk === null || !Buffer.isBuffer(chunk)) return guard.socketPush.call(this, chunk, encoding);
  return guard.take(chunk);
}

/**
 * Guards a TCP (or TLS) socket in place: every chunk the socket reads is
 * scanned before it enters the socket's readable buffer, and passed on
 * unchanged (but the PINGREQs it answers itself, see answerPings); on a
 * violation it destroys the socket without passing on the offending chunk and
 * calls `onViolation` once. The stream to hand to aedes is the socket itself.
 *
 * It hooks the socket's own `push()` (which Node's stream base calls with each
 * chunk read, and whose `false` stops reading: TCP backpressure as before)
 * rather than wrapping the socket in a second Duplex: a wrapper with its own
 * two buffers, states and callbacks cost about 1.5 KB per idle connection
 * (issue 10, connection-memory.ts), and writes now go to the socket directly,
 * a corked packet in one writev.
 */
export function guardConnection(socket: Socket, options: ConnectionGuardOptions, onViolation: (v: FrameViolation, socket: Socket) => void): GuardedConnection {
  const guard = new SocketGuard(socket, options, onViolation, socket.push);
  (socket as GuardedSocket)[GUARD] = guard;
  socket.push = guardedPush;
  return guard;
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
