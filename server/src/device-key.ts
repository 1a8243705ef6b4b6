import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Settings } from './config.js';
import { makePrivateDir, PRIVATE_FILE_MODE } from './private-files.js';

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
  makePrivateDir(settings.dataDir);
  const key = randomBytes(32);
  writeFileSync(file, `${key.toString('hex')}\n`, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
  return key;
}

export function databaseFile(settings: Pick<Settings, 'dataDir'>): string {
  return join(settings.dataDir, 'kanjia.sqlite');
}

/**
 * One running Kanjia per data directory: a second one would send the first
 * one's interrupted SMS again. The lock is `kanjia.pid`; a lock left by a
 * process that died (SIGKILL, power cut) is taken over.
 */
export function lockDataDir(dataDir: string): () => void {
  makePrivateDir(dataDir);
  const file = resolve(dataDir, 'kanjia.pid');
  if (lockedHere.has(file)) throw new Error(`another Kanjia (process ${process.pid}) is running on the data directory ${dataDir}; stop it first, or use another KANJIA_DATA_DIR`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: PRIVATE_FILE_MODE });
      lockedHere.add(file);
      return () => {
        lockedHere.delete(file);
        rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new Error(`another Kanjia (process ${pid}) is running on the data directory ${dataDir}; stop it first, or use another KANJIA_DATA_DIR`);
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new Error(`could not lock the data directory ${dataDir}`);
}

/** Data directories locked by systems of this process (tests run several). */
const lockedHere = new Set<string>();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
