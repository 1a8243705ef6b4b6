import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case: no i, l, o, u to misread

/**
 * Random bytes drawn from the CSPRNG a pool at a time: an id is made for every
 * event, case, notice and command, and one small randomBytes call each was a
 * system call per id. Each byte of the pool is used once, and never leaves
 * the process except as the id or code it became.
 */
const POOL_SIZE = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;

export function takeRandom(length: number): Buffer {
  if (poolAt + length > pool.length) {
    pool = randomBytes(Math.max(POOL_SIZE, length));
    poolAt = 0;
  }
  const bytes = pool.subarray(poolAt, poolAt + length);
  poolAt += length;
  return bytes;
}

/** Random id with a readable prefix, e.g. `alm_3k9x2a7fq1mz`. 12 base32 chars = 60 bits. */
export function newId(prefix: string, length = 12): string {
  const bytes = takeRandom(length);
  let out = prefix + '_';
  for (let i = 0; i < bytes.length; i++) out += ALPHABET[bytes[i]! % 32];
  return out;
}

/** Device ids go into MQTT topics and onto stickers: `kj-` + 10 base32 chars. */
export function newDeviceId(): string {
  return newId('kj', 10).replace('_', '-');
}
