import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from './config.js';

/**
 * The key of the keyed hash under which device secrets are stored: from
 * KANJIA_DEVICE_KEY, else `device-key` in the data directory, created on first
 * use (readable by the owner only). Losing it means re-issuing every device
 * secret, so back it up with the database.
 */
export function loadDeviceKey(settings: Pick<Settings, 'deviceKey' | 'dataDir'>): Buffer {
  if (settings.deviceKey) return Buffer.from(settings.deviceKey, 'hex');
  const file = join(settings.dataDir, 'device-key');
  if (existsSync(file)) {
    const hex = readFileSync(file, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/i.test(hex)) throw new Error(`${file}: expected 64 hex characters; restore it from a backup or remove it and re-issue all device secrets`);
    return Buffer.from(hex, 'hex');
  }
  mkdirSync(settings.dataDir, { recursive: true });
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  return key;
}

export function databaseFile(settings: Pick<Settings, 'dataDir'>): string {
  return join(settings.dataDir, 'kanjia.sqlite');
}
