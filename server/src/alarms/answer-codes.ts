/**
 * Answer codes: the random part of the link in an alarm SMS. The server keeps
 * only a SHA-256 hash of each (as for a password reset token: a copy of the
 * database does not open anybody's case); the code itself lives only in the
 * outbox row until the SMS has gone out, then it is blanked there too.
 */
import { ANSWER_CODE_ALPHABET, ANSWER_CODE_LENGTH } from '@kanjia/protocol';
import { createHash } from 'node:crypto';
import { takeRandom } from '../ids.js';

/** A link works for 24 hours at most (and never after its case closes): long enough for a night, short enough for a lost phone. */
export const ANSWER_CODE_TTL_MS = 24 * 3600_000;

/** A new answer code from the system's CSPRNG: 12 characters of 32 = 60 bits. */
export function newAnswerCode(): string {
  // 256 is a multiple of 32, so `b % 32` is uniform.
  const bytes = takeRandom(ANSWER_CODE_LENGTH);
  let code = '';
  for (let i = 0; i < bytes.length; i++) code += ANSWER_CODE_ALPHABET[bytes[i]! % 32];
  return code;
}

/** The stored form of a code: SHA-256, hex. Codes carry 60 random bits, so no salt or slow hash is needed. */
export function hashAnswerCode(code: string): string {
  return createHash('sha256').update(code, 'utf8').digest('hex');
}
