import { describe, expect, it } from 'vitest';
import { FrameSizeScanner } from '../src/frame-limit.js';

/** Encodes a remaining length the MQTT way (MQTT 3.1.1 §2.2.3). */
function encodeLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

/** A whole packet: header byte, remaining length, `bodyBytes` of body. */
function packet(bodyBytes: number, type = 0x30): Buffer {
  return Buffer.concat([Buffer.from([type, ...encodeLength(bodyBytes)]), Buffer.alloc(bodyBytes, 0x61)]);
}

/** Feeds `data` to a fresh scanner in pieces of `size` bytes; returns the first violation. */
function scanInPieces(max: number, data: Buffer, size: number) {
  const scanner = new FrameSizeScanner(max);
  for (let i = 0; i < data.length; i += size) {
    const v = scanner.push(data.subarray(i, i + size));
    if (v !== undefined) return { violation: v, atByte: i };
  }
  return { violation: undefined, atByte: -1 };
}

describe('FrameSizeScanner', () => {
  it('accepts 100 packets of 0 to 1 000 bytes in one chunk under a 1 024-byte limit', () => {
    const data = Buffer.concat(Array.from({ length: 100 }, (_, i) => packet(i * 10)));
    expect(new FrameSizeScanner(1024).push(data)).toBeUndefined();
  });

  it('accepts the same stream fed 1, 2, 3 and 7 bytes at a time (headers split across chunks)', () => {
    const data = Buffer.concat([packet(0, 0xc0), packet(127), packet(128), packet(16_383), packet(16_384), packet(1000)]);
    for (const size of [1, 2, 3, 7]) expect(scanInPieces(20_000, data, size).violation).toBeUndefined();
  });

  it('refuses a 200 KiB packet under a 129 KiB limit as soon as its 3 length bytes arrive, byte by byte', () => {
    const header = Buffer.from([0x30, ...encodeLength(200 * 1024)]);
    const data = Buffer.concat([packet(10), header, Buffer.alloc(1000)]);
    const { violation, atByte } = scanInPieces(129 * 1024, data, 1);
    expect(violation).toEqual({ reason: 'oversized', remainingLengthAtLeast: 200 * 1024, maxPacketBytes: 129 * 1024, beforeLogin: false });
    // 12 bytes of the first packet, 1 header byte, 3 length bytes: the last length byte is byte 15.
    expect(atByte).toBe(12 + 1 + 2);
  });

  it('refuses a 4 MiB length after 2 of its 4 length bytes, before the rest arrives', () => {
    // 0xff 0xff 0xff 0x01 = 4 194 303; after two bytes the value is already 16 383 > 1 024.
    const scanner = new FrameSizeScanner(1024);
    expect(scanner.push(Buffer.from([0x30, 0xff]))).toBeUndefined();
    expect(scanner.push(Buffer.from([0xff]))).toMatchObject({ reason: 'oversized', remainingLengthAtLeast: 16_383 });
  });

  it('refuses a packet just 1 byte over the limit and accepts one exactly at it', () => {
    expect(new FrameSizeScanner(1000).push(packet(1000))).toBeUndefined();
    expect(new FrameSizeScanner(1000).push(packet(1001))).toMatchObject({ reason: 'oversized', remainingLengthAtLeast: 1001 });
  });

  it('refuses a remaining length with a 5th continuation byte as malformed', () => {
    const scanner = new FrameSizeScanner(268_435_455);
    expect(scanner.push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80]))).toMatchObject({ reason: 'malformed' });
  });

  it('keeps reporting the violation for every later chunk', () => {
    const scanner = new FrameSizeScanner(100);
    const first = scanner.push(packet(500));
    expect(first).toBeDefined();
    expect(scanner.push(packet(1))).toBe(first);
  });

  it('refuses a limit below 2 bytes', () => {
    expect(() => new FrameSizeScanner(1)).toThrow(RangeError);
  });
});
