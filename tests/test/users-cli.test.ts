/**
 * `kanjia user add|list|reset-password` and the first start without users,
 * through the real command and a real `kanjia start` process.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { household, importVillage, kanjiaEnv, login, runKanjia, startKanjia, tempDir, waitFor } from '../src/harness.js';

describe('kanjia user …', () => {
  const tmp = tempDir('kanjia-users-');
  afterAll(() => tmp.cleanup());

  it('says how to make the first admin when started with no users, keeps running, and the admin made so can log in', async () => {
    const { env } = await kanjiaEnv(tmp.dir);
    importVillage(env, [household('石门村一组12号', '王秀英', [['刘建军', 'helper', '13800000001']])]);
    const kanjia = await startKanjia({ ...env, KANJIA_LOG_LEVEL: 'info' });
    try {
      await waitFor('the first-admin hint', () => (kanjia.output().includes('No users yet') ? true : undefined));
      expect(kanjia.output()).toContain('npx kanjia user add --name admin --role admin');
      // The same hint in the log (JSON lines), for an operator who reads only the log; the log is written on its
      // own stream, so it may come a little after the banner.
      await waitFor('the first-admin hint in the log', () => (kanjia.output().includes('"msg":"no users yet') ? true : undefined));
      expect(kanjia.output()).toMatch(/"msg":"no users yet: nobody can log in to the dashboard\. Make the first admin with: npx kanjia user add --name admin --role admin"/);

      const added = runKanjia(['user', 'add', '--name', 'admin', '--role', 'admin'], env);
      expect(added.status, added.stderr).toBe(0);
      expect(added.stderr).toContain('shown once only');
      const made = JSON.parse(added.stdout) as { name: string; role: string; password: string };
      expect(made).toMatchObject({ name: 'admin', role: 'admin', displayName: '管理员 admin' });
      expect(made.password).toMatch(/^[A-Za-z2-9]{16}$/);
      // Without a restart: the running server reads the new user from SQLite.
      expect(await login(kanjia.httpUrl, 'admin', made.password)).toMatch(/^kanjia_session=/);
      expect(kanjia.output()).not.toContain(made.password);
    } finally {
      await kanjia.kill();
    }
    const db = readFileSync(join(tmp.dir, 'kanjia.sqlite')).toString('latin1');
    expect(db).toContain('scrypt$32768$8$3$');
  });

  it('adds users of every role, lists them without hashes and with masked phones, and lists every problem of a bad one', () => {
    const env = { KANJIA_DATA_DIR: tmp.dir };
    const ok = (args: string[]) => {
      const r = runKanjia(['user', 'add', ...args], env);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    expect(ok(['--name', 'liming', '--role', 'duty', '--village', '石门村', '--display-name', '值班员 李明', '--password', 'long-enough-1'])).toMatchObject({ role: 'duty', displayName: '值班员 李明', villageIds: [expect.stringMatching(/^vil_/)] });
    ok(['--name', 'minzheng', '--role', 'township', '--township', '石门镇', '--password', 'long-enough-2']);
    expect(ok(['--name', 'liujianjun', '--role', 'helper', '--phone', '+86 138-0000-0001', '--password', 'long-enough-3'])).toMatchObject({ phone: '138****0001' });

    const list = runKanjia(['user', 'list'], env);
    expect(list.status).toBe(0);
    const { users } = JSON.parse(list.stdout) as { users: Array<Record<string, unknown>> };
    expect(users.map((u) => u.name)).toEqual(['admin', 'liming', 'liujianjun', 'minzheng']);
    expect(list.stdout).not.toMatch(/scrypt|password|13800000001/);
    expect(users.find((u) => u.name === 'liujianjun')).toMatchObject({ role: 'helper', phone: '138****0001' });

    const bad = runKanjia(['user', 'add', '--name', 'x y', '--role', 'duty', '--password', 'short'], env);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/name: letters, digits/);
    expect(bad.stderr).toMatch(/password: at least 8 characters/);
    const noVillage = runKanjia(['user', 'add', '--name', 'wang', '--role', 'duty', '--password', 'long-enough-4'], env);
    expect(noVillage.stderr).toContain('a duty officer needs at least one --village');
    const unknownVillage = runKanjia(['user', 'add', '--name', 'wang', '--role', 'duty', '--village', '没有村', '--password', 'long-enough-4'], env);
    expect(unknownVillage.stderr).toContain('VILLAGE_NOT_FOUND');
    expect(runKanjia(['user', 'add', '--name', 'LiMing', '--role', 'admin', '--password', 'long-enough-5'], env).stderr).toContain('USER_EXISTS');
  }, 60_000); // nine CLI processes one after the other: slow on a loaded machine

  it('reset-password sets a new password (generated when not given) and ends the user’s sessions', async () => {
    const { env } = await kanjiaEnv(tmp.dir);
    const kanjia = await startKanjia(env);
    try {
      const cookie = await login(kanjia.httpUrl, 'liming', 'long-enough-1');
      expect((await fetch(`${kanjia.httpUrl}/api/auth/me`, { headers: { cookie } })).status).toBe(200);
      const reset = runKanjia(['user', 'reset-password', '--name', 'liming'], env);
      expect(reset.status, reset.stderr).toBe(0);
      expect(reset.stderr).toContain('every session of liming has ended');
      const { password } = JSON.parse(reset.stdout) as { password: string };
      expect((await fetch(`${kanjia.httpUrl}/api/auth/me`, { headers: { cookie } })).status).toBe(401);
      await expect(login(kanjia.httpUrl, 'liming', 'long-enough-1')).rejects.toThrow(/401/);
      expect(await login(kanjia.httpUrl, 'liming', password)).toMatch(/^kanjia_session=/);
      expect(runKanjia(['user', 'reset-password', '--name', 'nobody', '--password', 'long-enough-9'], env).stderr).toContain('USER_NOT_FOUND');
    } finally {
      await kanjia.kill();
    }
  });

  it('takes a password on standard input, disables and enables a user (ending their sessions), and changes a duty officer’s villages', async () => {
    const { env } = await kanjiaEnv(tmp.dir);
    const lijia = runKanjia(['village', 'add', '--name', '李家村', '--lat', '27.2', '--lng', '111.1'], env);
    expect(lijia.status, lijia.stderr).toBe(0);
    const added = runKanjia(['user', 'add', '--name', 'zhou', '--role', 'duty', '--village', '石门村', '--password-stdin'], env, 'from-stdin-pw-1\n');
    expect(added.status, added.stderr).toBe(0);
    expect(added.stdout).not.toContain('from-stdin-pw-1');
    expect(runKanjia(['user', 'add', '--name', 'x1', '--role', 'admin', '--password-stdin', '--password', 'long-enough-7'], env).stderr).toContain('not both');
    const kanjia = await startKanjia(env);
    try {
      const cookie = await login(kanjia.httpUrl, 'zhou', 'from-stdin-pw-1');
      const villages = async () => ((await (await fetch(`${kanjia.httpUrl}/api/villages`, { headers: { cookie } })).json()) as { villages: Array<{ name: string }> }).villages.map((v) => v.name);
      expect(await villages()).toEqual(['石门村']);
      const moved = runKanjia(['user', 'set-villages', '--name', 'zhou', '--village', '李家村'], env);
      expect(moved.status, moved.stderr).toBe(0);
      // The same session, the new scope.
      expect(await villages()).toEqual(['李家村']);
      expect(runKanjia(['user', 'set-villages', '--name', 'liujianjun', '--village', '李家村'], env).stderr).toContain('INVALID_USER');
      expect(runKanjia(['user', 'set-villages', '--name', 'zhou', '--village', '没有村'], env).stderr).toContain('VILLAGE_NOT_FOUND');

      const disabled = runKanjia(['user', 'disable', '--name', 'ZHOU'], env);
      expect(disabled.status, disabled.stderr).toBe(0);
      expect(disabled.stderr).toContain('every session of zhou has ended');
      expect((await fetch(`${kanjia.httpUrl}/api/auth/me`, { headers: { cookie } })).status).toBe(401);
      await expect(login(kanjia.httpUrl, 'zhou', 'from-stdin-pw-1')).rejects.toThrow(/401/);
      const list = JSON.parse(runKanjia(['user', 'list'], env).stdout) as { users: Array<{ name: string; disabled: boolean }> };
      expect(list.users.find((u) => u.name === 'zhou')?.disabled).toBe(true);
      expect(list.users.find((u) => u.name === 'liming')?.disabled).toBe(false);
      // A new password for a disabled user does not enable them; enable does, with the password they have.
      expect(runKanjia(['user', 'reset-password', '--name', 'zhou', '--password-stdin'], env, 'from-stdin-pw-2\n').status).toBe(0);
      await expect(login(kanjia.httpUrl, 'zhou', 'from-stdin-pw-2')).rejects.toThrow(/401/);
      expect(runKanjia(['user', 'enable', '--name', 'zhou'], env).status).toBe(0);
      expect(await login(kanjia.httpUrl, 'zhou', 'from-stdin-pw-2')).toMatch(/^kanjia_session=/);
      expect(runKanjia(['user', 'disable', '--name', 'nobody'], env).stderr).toContain('USER_NOT_FOUND');
    } finally {
      await kanjia.kill();
    }
  }, 120_000);
});
