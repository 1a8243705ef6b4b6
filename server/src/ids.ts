import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case: no i, l, o, u to misread

/** Random id with a readable prefix, e.g. `alm_3k9x2a7fq1mz`. 12 base32 chars = 60 bits. */
export function newId(prefix: string, length = 12): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % 32];
  return `${prefix}_${out}`;
}

/** Device ids go into MQTT topics and onto stickers: `kj-` + 10 base32 chars. */
export function newDeviceId(): string {
  return newId('kj', 10).replace('_', '-');
}
