import { describe, expect, it } from 'vitest';
import { generateDeviceSecret, hashDeviceSecret, verifyDeviceSecret } from '../src/device-auth.js';

const KEY = Buffer.alloc(32, 1);

describe('device secrets', () => {
  it('generates 32 random bytes as 43 base64url characters, different each time', () => {
    const a = generateDeviceSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(a, 'base64url')).toHaveLength(32);
    expect(generateDeviceSecret()).not.toBe(a);
  });

  it('hashes with HMAC-SHA256 to 64 hex characters that depend on the key', () => {
    const hash = hashDeviceSecret(KEY, 'secret');
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(hashDeviceSecret(Buffer.alloc(32, 2), 'secret')).not.toBe(hash);
  });

  it('verifies the right secret and refuses a wrong one, a wrong key and a malformed hash', () => {
    const secret = generateDeviceSecret();
    const hash = hashDeviceSecret(KEY, secret);
    expect(verifyDeviceSecret(KEY, secret, hash)).toBe(true);
    expect(verifyDeviceSecret(KEY, secret, hash.toUpperCase())).toBe(true);
    expect(verifyDeviceSecret(KEY, `${secret}x`, hash)).toBe(false);
    expect(verifyDeviceSecret(Buffer.alloc(32, 2), secret, hash)).toBe(false);
    expect(verifyDeviceSecret(KEY, secret, hash.slice(0, 10))).toBe(false);
  });

  it('verifies 10 000 secrets in well under a second (a reconnect storm must not queue)', () => {
    const hash = hashDeviceSecret(KEY, 'x');
    const started = performance.now();
    for (let i = 0; i < 10_000; i++) verifyDeviceSecret(KEY, 'x', hash);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('refuses a key shorter than 16 bytes', () => {
    expect(() => hashDeviceSecret(Buffer.alloc(8), 'x')).toThrow(RangeError);
  });
});
