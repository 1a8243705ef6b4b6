/**
 * Private files, through the real `kanjia` command: the data directory and
 * everything in it readable by Kanjia's own user only after a real start
 * (wider modes left by an older version are narrowed with one warning each),
 * and the commands that print secrets write them 0600 with --out.
 */
import type { RegistryFile } from '@kanjia/protocol';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KANJIA_BIN, cleanEnv, kanjiaEnv, runKanjia, startKanjia, tempDir } from '../src/harness.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;

const registry = (address: string): RegistryFile => ({
  villages: [
    {
      name: '石门村',
      timezone: 'Asia/Shanghai',
      lat: 27.11,
      lng: 111.03,
      households: [{ address, lat: 27.112, lng: 111.031, residents: [{ name: '王秀英', idNumber: '430524194101011240', contacts: [{ name: '刘建军', role: 'helper', phone: '13800000001' }] }], devices: [{ kind: 'sosButton' }] }],
    },
  ],
});

describe('private files', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('kanjia import --out writes the device secrets 0600, refuses to overwrite without --force, and --force replaces the file still 0600', async () => {
    const dataDir = join(tmp.dir, 'import-data');
    const { env } = await kanjiaEnv(dataDir);
    const file = join(tmp.dir, 'villages.json');
    writeFileSync(file, JSON.stringify(registry('石门村一组12号')));
    const out = join(tmp.dir, 'device-secrets.json');

    const first = runKanjia(['import', file, '--out', out], env);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toBe('');
    expect(first.stderr).toContain(out);
    expect(modeOf(out)).toBe(0o600);
    const secrets = JSON.parse(readFileSync(out, 'utf8')) as { devices: Array<{ deviceId: string; secret: string }> };
    expect(secrets.devices).toHaveLength(1);
    expect(secrets.devices[0]?.secret.length).toBeGreaterThanOrEqual(40);

    // Refused before anything is imported: no secret is made that could not be kept.
    writeFileSync(file, JSON.stringify(registry('石门村一组13号')));
    const again = runKanjia(['import', file, '--out', out], env);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('OUT_FILE_EXISTS');
    expect(again.stderr).toContain('--force');
    expect(JSON.parse(readFileSync(out, 'utf8'))).toEqual(secrets);

    chmodSync(out, 0o644);
    const forced = runKanjia(['import', file, '--out', out, '--force'], env);
    expect(forced.status, forced.stderr).toBe(0);
    expect(modeOf(out)).toBe(0o600);
    const replaced = JSON.parse(readFileSync(out, 'utf8')) as typeof secrets;
    expect(replaced.devices).toHaveLength(1);
    expect(replaced.devices[0]?.deviceId).not.toBe(secrets.devices[0]?.deviceId);

    // The data directory a command creates is private too.
    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(join(dataDir, 'kanjia.sqlite'))).toBe(0o600);
    expect(modeOf(join(dataDir, 'device-key'))).toBe(0o600);
  });

  it('`kanjia import … > FILE` (the shell makes FILE 0644) leaves it 0600 and says so; user add and reset-password --out write the generated password 0600', async () => {
    const dataDir = join(tmp.dir, 'redirect-data');
    const { env } = await kanjiaEnv(dataDir);
    const file = join(tmp.dir, 'villages-2.json');
    writeFileSync(file, JSON.stringify(registry('石门村二组1号')));
    const out = join(tmp.dir, 'redirected-secrets.json');
    const shell = spawnSync('sh', ['-c', `umask 022; "${process.execPath}" "${KANJIA_BIN}" import "${file}" > "${out}"`], { env: { ...cleanEnv(), ...env }, encoding: 'utf8' });
    expect(shell.status, shell.stderr).toBe(0);
    expect(shell.stderr).toMatch(/Standard output is a file readable by other users \(mode 0644\): it is now readable by you only/);
    expect(modeOf(out)).toBe(0o600);
    expect((JSON.parse(readFileSync(out, 'utf8')) as { devices: unknown[] }).devices).toHaveLength(1);

    // To a terminal or a pipe: advice on standard error, the secret on standard output.
    const piped = runKanjia(['user', 'add', '--name', 'liming', '--role', 'admin'], env);
    expect(piped.status, piped.stderr).toBe(0);
    expect(piped.stderr).toContain('--out FILE writes them readable by you only');
    expect((JSON.parse(piped.stdout) as { password: string }).password.length).toBeGreaterThanOrEqual(16);

    const pw = join(tmp.dir, 'admin-password.json');
    const added = runKanjia(['user', 'add', '--name', 'admin', '--role', 'admin', '--out', pw], env);
    expect(added.status, added.stderr).toBe(0);
    expect(added.stdout).toBe('');
    expect(modeOf(pw)).toBe(0o600);
    expect((JSON.parse(readFileSync(pw, 'utf8')) as { name: string; password: string }).name).toBe('admin');

    const reset = runKanjia(['user', 'reset-password', '--name', 'admin', '--out', pw], env);
    expect(reset.status).toBe(1);
    expect(reset.stderr).toContain('OUT_FILE_EXISTS');
    const resetForced = runKanjia(['user', 'reset-password', '--name', 'admin', '--out', pw, '--force'], env);
    expect(resetForced.status, resetForced.stderr).toBe(0);
    expect(modeOf(pw)).toBe(0o600);
    expect(JSON.parse(readFileSync(pw, 'utf8'))).toMatchObject({ name: 'admin', sessionsEnded: true, password: expect.any(String) });
  });

  it('a real start makes the data directory 0700 and every file in it 0600 (database, -wal, -shm, device key, lock), fixing wider modes with one warning each naming the path and its old mode', async () => {
    const dataDir = join(tmp.dir, 'start-data');
    const { env } = await kanjiaEnv(dataDir);
    const file = join(tmp.dir, 'villages-3.json');
    writeFileSync(file, JSON.stringify(registry('石门村三组7号')));
    expect(runKanjia(['import', file, '--out', join(tmp.dir, 'start-secrets.json')], env).status).toBe(0);
    // As an older version, a copy or a restore would have left them.
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, 'kanjia.sqlite'), 0o644);
    chmodSync(join(dataDir, 'device-key'), 0o644);
    mkdirSync(join(dataDir, 'map-plans'), { mode: 0o755 });
    chmodSync(join(dataDir, 'map-plans'), 0o755);
    writeFileSync(join(dataDir, 'map-plans', 'v1.png'), 'png', { mode: 0o644 });
    chmodSync(join(dataDir, 'map-plans', 'v1.png'), 0o644);

    const kanjia = await startKanjia(env);
    try {
      for (const path of [dataDir, join(dataDir, 'map-plans')]) expect(modeOf(path), path).toBe(0o700);
      for (const name of ['kanjia.sqlite', 'kanjia.sqlite-wal', 'kanjia.sqlite-shm', 'device-key', 'kanjia.pid', join('map-plans', 'v1.png')]) {
        const path = join(dataDir, name);
        expect(existsSync(path), path).toBe(true);
        expect(modeOf(path), path).toBe(0o600);
      }
      const out = kanjia.output();
      for (const [path, mode] of [
        [dataDir, '0755'],
        [join(dataDir, 'kanjia.sqlite'), '0644'],
        [join(dataDir, 'device-key'), '0644'],
        [join(dataDir, 'map-plans'), '0755'],
        [join(dataDir, 'map-plans', 'v1.png'), '0644'],
      ] as const) {
        const lines = out.split('\n').filter((l) => l.includes(`"path":"${path}"`));
        expect(lines, path).toHaveLength(1);
        expect(lines[0]).toContain(`was readable by other users (mode ${mode}): made private`);
      }
    } finally {
      await kanjia.kill();
    }
    // Nothing left to fix: the next start says nothing about modes.
    const second = await startKanjia(env);
    await second.kill();
    expect(second.output()).not.toContain('readable by other users');
  });
});
