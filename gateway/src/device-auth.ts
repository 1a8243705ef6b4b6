/**
 * Device credentials: the authentication port the gateway calls, and the keyed
 * hash the server uses to store device secrets.
 *
 * Why HMAC-SHA256 and not bcrypt/scrypt/argon2: a device secret is 32 random
 * bytes, not a password a person chose, so there is nothing to slow down a
 * dictionary attack against — brute force over 2^256 is hopeless at any speed.
 * A slow hash would instead hurt us: after a township power cut or a gateway
 * restart, thousands of devices reconnect within seconds, and at ~50–100 ms of
 * CPU per bcrypt/scrypt verification that storm would take minutes to admit
 * everybody. The key (kept out of the database) means a stolen table of hashes
 * alone cannot even confirm a guessed secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The port through which the gateway asks whether a device's secret is right. The gateway stores no secrets. */
export interface DeviceAuthenticator {
  verify(deviceId: string, secret: string): boolean | Promise<boolean>;
}

/** Bytes of randomness in a device secret (256 bits). */
export const DEVICE_SECRET_BYTES = 32;

/** Smallest accepted HMAC key, in bytes; shorter keys are a configuration mistake. */
export const MIN_HASH_KEY_BYTES = 16;

const HASH_HEX = /^[0-9a-f]{64}$/;

/** Creates a new device secret: 32 random bytes, base64url (43 characters). */
export function generateDeviceSecret(): string {
  return randomBytes(DEVICE_SECRET_BYTES).toString('base64url');
}

/** Keyed hash of a device secret for storage: HMAC-SHA256 under `key`, lowercase hex (64 characters). */
export function hashDeviceSecret(key: Buffer, secret: string): string {
  if (key.length < MIN_HASH_KEY_BYTES) {
    throw new RangeError(`hash key is ${key.length} bytes; at least ${MIN_HASH_KEY_BYTES} are required`);
  }
  return createHmac('sha256', key).update(secret, 'utf8').digest('hex');
}

/** True when `secret` hashes to `storedHash` under `key`; compares in constant time. */
export function verifyDeviceSecret(key: Buffer, secret: string, storedHash: string): boolean {
  const expected = storedHash.toLowerCase();
  // A malformed stored hash would make timingSafeEqual throw on the length
  // mismatch; it can never match, so say no.
  if (!HASH_HEX.test(expected)) return false;
  const actual = Buffer.from(hashDeviceSecret(key, secret), 'hex');
  return timingSafeEqual(actual, Buffer.from(expected, 'hex'));
}
