/**
 * Issue 9: a full disk and a data directory Kanjia cannot write, for real,
 * through the `kanjia` command. A full disk is a 16 MiB tmpfs filled up
 * (mounting needs root, which CI has; elsewhere those tests are skipped with
 * a loud message, and server/test/storage-faults.test.ts covers a full
 * database with SQLite's max_page_count everywhere). A directory that is not
 * writable is one owned by root and run as `nobody` (as root) or made 0500
 * (as anyone else: root would write into it anyway).
 */
import { SimDevice } from '@kanjia/firmware-sim';
import type { HealthResponse } from '@kanjia/protocol';
import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KANJIA_BIN, addUser, apiClient, cleanEnv, household, importVillage, kanjiaEnv, runKanjia, startKanjia, tempDir, waitFor, type KanjiaProcess } from '../src/harness.js';

const isRoot = process.getuid?.() === 0;
const silent = { info: () => undefined, warn: () => undefined };

/** Mounts a tmpfs of `sizeKiB` at `dir`; false (with a loud message) where that is not allowed. */
function mountTmpfs(dir: string, sizeKiB: number): boolean {
  mkdirSync(dir, { recursive: true });
  const r = isRoot ? spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir], { encoding: 'utf8' }) : undefined;
  if (r?.status === 0) return true;
  process.stderr.write(`\n  !!! cannot mount a tmpfs (${isRoot ? r?.stderr.trim() : 'not root'}): the full-disk and read-only tests through the real command are SKIPPED.\n  !!! server/test/storage-faults.test.ts covers a full database (max_page_count) everywhere.\n`);
  return false;
}

/** Fills the file system of `dir` until it has no space left. */
function fillUp(file: string): void {
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // The last partial chunk: down to the byte.
  const tail = openSync(file, 'a');
  try {
    for (;;) writeSync(tail, Buffer.alloc(512, 1));
  } catch {
    // full
  } finally {
    closeSync(tail);
  }
}

describe('storage faults through the real command', () => {
  const tmp = tempDir();
  const mounts: string[] = [];
  afterAll(() => {
    for (const m of mounts.reverse()) spawnSync('umount', ['-l', m]);
    tmp.cleanup();
  });
  const mounted = (dir: string, sizeKiB: number) => {
    const ok = mountTmpfs(dir, sizeKiB);
    if (ok) mounts.push(dir);
    return ok;
  };
  const tmpfsWorks = isRoot && mounted(join(tmp.dir, 'probe-mount'), 64);

  it.skipIf(!tmpfsWorks)('a disk that fills up while Kanjia runs: /api/health turns 503 unhealthy with SQLITE_FULL and the path, the SOS waits unacknowledged, and is received with one case once space is freed', async () => {
    const dataDir = join(tmp.dir, 'full-at-runtime');
    expect(mounted(dataDir, 16 * 1024)).toBe(true);
    const { env, mqttPort } = await kanjiaEnv(dataDir);
    const creds = importVillage(env, [household('石门村一组12号', '王秀英', [['刘建军', 'helper', '13800000001']])])[0]!;
    addUser(env, { name: 'liming', role: 'duty', villages: ['石门村'] });
    let kanjia: KanjiaProcess | undefined;
    let device: SimDevice | undefined;
    try {
      kanjia = await startKanjia(env);
      device = new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${mqttPort}`, deviceId: creds.deviceId, secret: creds.secret, logger: silent, resendIntervalMs: 3_000 });
      await device.start();
      const filler = join(dataDir, 'filler');
      fillUp(filler);

      const press = device.pressSos();
      let receivedAt = 0;
      press.received.then(() => (receivedAt = Date.now())).catch(() => undefined);
      const k = kanjia;
      const unhealthy = await waitFor('health unhealthy', async () => {
        const res = await fetch(`${k.httpUrl}/api/health`);
        return res.status === 503 ? ((await res.json()) as HealthResponse) : undefined;
      }, 20_000);
      const problem = unhealthy.problems.find((p) => p.code === 'STORAGE_WRITE_FAILED');
      expect(unhealthy.status).toBe('unhealthy');
      expect(problem?.details?.reason).toBe('SQLITE_FULL');
      expect(problem?.message).toContain(join(dataDir, 'kanjia.sqlite'));
      expect(problem?.message).toContain('the disk is full');
      expect(receivedAt).toBe(0);

      const freedAt = Date.now();
      rmSync(filler);
      const received = await press.received;
      expect(receivedAt).toBeGreaterThanOrEqual(freedAt);
      expect(received.alarmId).toMatch(/^alm/);
      await waitFor('health ok again', async () => ((await fetch(`${k.httpUrl}/api/health`)).status === 200 ? true : undefined), 20_000);
      const api = await apiClient(k.httpUrl, undefined, { name: 'liming' });
      const { alarms } = await api.get<{ alarms: Array<{ id: string; eventId: string }> }>('/api/alarms?status=all');
      expect(alarms).toEqual([expect.objectContaining({ id: received.alarmId, eventId: received.eventId })]);
      expect(kanjia.output()).toMatch(/system problem: cannot write to the database .*kanjia\.sqlite: the disk is full/);
    } finally {
      await device?.stop();
      await kanjia?.kill();
    }
  }, 90_000);

  it.skipIf(!tmpfsWorks)('a full disk at start: DATA_DIR_FULL naming the data directory and what to do', async () => {
    const dataDir = join(tmp.dir, 'full-at-start');
    expect(mounted(dataDir, 2 * 1024)).toBe(true);
    const { env } = await kanjiaEnv(dataDir);
    importVillage(env, [household('石门村一组12号', '王秀英', [['刘建军', 'helper', '13800000001']])]);
    fillUp(join(dataDir, 'filler'));
    const r = runKanjia(['start'], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('DATA_DIR_FULL');
    expect(r.stderr).toContain(`the disk holding the data directory ${dataDir} is full`);
    expect(r.stderr).toContain(`df -h ${dataDir}`);
  });

  it.skipIf(!tmpfsWorks)('a read-only data directory at start, with a database in it or still empty: DATA_DIR_READ_ONLY naming it and what to do', async () => {
    const dataDir = join(tmp.dir, 'read-only');
    expect(mounted(dataDir, 4 * 1024)).toBe(true);
    const { env } = await kanjiaEnv(dataDir);
    importVillage(env, [household('石门村一组12号', '王秀英', [['刘建军', 'helper', '13800000001']])]);
    expect(spawnSync('mount', ['-o', 'remount,ro', dataDir]).status).toBe(0);
    const r = runKanjia(['start'], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('DATA_DIR_READ_ONLY');
    expect(r.stderr).toContain(`the data directory ${dataDir} is on a read-only file system`);
    expect(r.stderr).toContain('KANJIA_DATA_DIR');
    // A registry command says the same.
    const listed = runKanjia(['user', 'list'], env);
    expect(listed.status).toBe(1);
    expect(listed.stderr).toContain('DATA_DIR_READ_ONLY');

    const empty = join(dataDir, 'never-created');
    const fresh = runKanjia(['start'], { ...env, KANJIA_DATA_DIR: empty });
    expect(fresh.status).toBe(1);
    expect(fresh.stderr).toContain('DATA_DIR_READ_ONLY');
    expect(fresh.stderr).toContain(empty);
  });

  it('a data directory the user Kanjia runs as cannot write: DATA_DIR_NOT_WRITABLE naming it, the user and what to do', async () => {
    const dataDir = join(tmp.dir, 'not-writable');
    const { env } = await kanjiaEnv(dataDir);
    importVillage(env, [household('石门村一组12号', '王秀英', [['刘建军', 'helper', '13800000001']])]);
    let r: { status: number | null; stderr: string };
    if (isRoot) {
      // root writes anywhere: run as nobody, in a directory that stays root's. The repo must be readable by nobody.
      chmodSync(tmp.dir, 0o755);
      chmodSync(dataDir, 0o755);
      r = spawnSync(process.execPath, [KANJIA_BIN, 'start'], { env: { ...cleanEnv(), ...env }, encoding: 'utf8', uid: 65534, gid: 65534, timeout: 30_000 });
    } else {
      chmodSync(dataDir, 0o500);
      r = runKanjia(['start'], env);
      chmodSync(dataDir, 0o700);
    }
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toContain('DATA_DIR_NOT_WRITABLE');
    expect(r.stderr).toContain(`the data directory ${dataDir} cannot be written by the user Kanjia runs as`);
    expect(r.stderr).toMatch(/chown -R \S+ .*chmod 700/);
  });
});
