/**
 * Transport-level packet size limit. aedes' parser (mqtt-packet) buffers a
 * whole packet whatever its announced length, so a client could make the
 * broker hold up to 256 MiB per connection. This scanner reads only the MQTT
 * fixed headers as bytes arrive and kills the connection as soon as a packet
 * announces a remaining length above the limit — before its body is buffered
 * or handed to aedes.
 */
import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

/** What the scanner found wrong with the byte stream. */
export type FrameViolation =
  /** `remainingLengthAtLeast`: the length decoded so far, which is already over the limit. */
  | { reason: 'oversized'; remainingLengthAtLeast: number; maxPacketBytes: number }
  | { reason: 'malformed'; message: string };

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

  /** @param maxPacketBytes  largest remaining length (variable header + payload) accepted, in bytes */
  constructor(readonly maxPacketBytes: number) {
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
        case State.FixedHeaderByte:
          i += 1;
          this.state = State.RemainingLength;
          this.remaining = 0;
          this.multiplier = 1;
          this.lengthBytes = 0;
          break;
        case State.RemainingLength: {
          const byte = chunk[i] as number;
          i += 1;
          this.lengthBytes += 1;
          this.remaining += (byte & 0x7f) * this.multiplier;
          this.multiplier *= 128;
          // The length only grows with each byte, so refuse as soon as it is too big.
          if (this.remaining > this.maxPacketBytes) {
            return (this.violation = { reason: 'oversized', remainingLengthAtLeast: this.remaining, maxPacketBytes: this.maxPacketBytes });
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
 * Wraps a TCP socket in a Duplex that passes every byte through unchanged but
 * scans it first; on a violation it destroys the socket without passing on the
 * offending chunk and calls `onViolation` once. Hand the returned stream to
 * `broker.handle()` instead of the socket.
 */
export function limitFrameSize(socket: Socket, maxPacketBytes: number, onViolation: (v: FrameViolation) => void): Duplex {
  const scanner = new FrameSizeScanner(maxPacketBytes);
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

  socket.on('data', (chunk: Buffer) => {
    if (violated) return;
    const violation = scanner.push(chunk);
    if (violation !== undefined) {
      violated = true;
      socket.pause();
      socket.destroy();
      onViolation(violation);
      return;
    }
    if (!guarded.push(chunk)) socket.pause();
  });
  socket.on('end', () => guarded.push(null));
  socket.on('error', (err) => guarded.destroy(err));
  socket.on('close', () => guarded.destroy());
  // Backpressure on writes needs no wiring: each write's callback waits for the
  // socket's, so the wrapper's own buffer fills and drains with the socket's.
  return guarded;
}
