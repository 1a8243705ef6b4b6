/**
 * The second of the two commands: `kanjia demo` (what `npm run demo` runs)
 * starts the whole system with a simulated village, prints the dashboard URL,
 * presses one SOS, and its residents live their days on their devices. Run
 * sped up (--speed) so hours of village life pass during the test, with a
 * scripted CO drill in one home.
 */
import { spawn } from 'node:child_process';
import type { AlarmView } from '@kanjia/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { apiClient, cleanEnv, freePort, KANJIA_BIN, runKanjia, sleep, tempDir, waitFor } from '../src/harness.js';

describe('kanjia demo', () => {
  const cleanups: Array<() => void | Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  it('refuses a bad --speed and a drill for somebody who does not live in the village, saying why, before starting anything', async () => {
    const tmp = tempDir('kanjia-demo-bad-');
    cleanups.push(tmp.cleanup);
    const env = { KANJIA_HTTP_PORT: String(await freePort()), KANJIA_MQTT_PORT: String(await freePort()), KANJIA_MQTT_HOST: '127.0.0.1' };
    const speed = runKanjia(['demo', '--data-dir', tmp.dir, '--speed', '0'], env);
    expect(speed.status).not.toBe(0);
    expect(speed.stderr).toContain('--speed must be a number from 1 (real time) to 3600');
    const nobody = runKanjia(['demo', '--data-dir', tmp.dir, '--incident', '张三:co@+1h', '--incident', '刘玉珍:co@yesterday'], env);
    expect(nobody.status).not.toBe(0);
    expect(nobody.stderr).toMatch(/--incident "张三:co@\+1h": start with a resident of the demo village.*residents: 王秀英/);
    expect(nobody.stderr).toMatch(/"yesterday" is not a time/);
    expect(nobody.stdout).not.toContain('Dashboard');
  });

  it('prints the dashboard URL, presses an SOS, and the village lives: a CO drill raises its alarm', async () => {
    const tmp = tempDir('kanjia-demo-');
    cleanups.push(tmp.cleanup);
    const httpPort = await freePort();
    const mqttPort = await freePort();
    const child = spawn(
      process.execPath,
      [KANJIA_BIN, 'demo', '--data-dir', tmp.dir, '--speed', '600', '--sos-after-seconds', '2', '--incident', '刘玉珍:co@+30m,peak=500,ramp=20'],
      { env: { ...cleanEnv(), KANJIA_HTTP_PORT: String(httpPort), KANJIA_MQTT_PORT: String(mqttPort), KANJIA_MQTT_HOST: '127.0.0.1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    });

    const url = await waitFor('the dashboard URL', () => /Dashboard:\s+(http:\/\/\S+)/.exec(out)?.[1], 30_000);
    // The banner ends with how to stop; the output may arrive in pieces.
    await waitFor('the end of the banner', () => (out.includes('Ctrl+C') ? true : undefined), 10_000);
    expect(url).toBe(`http://127.0.0.1:${httpPort}/`);
    expect(out).toMatch(/模拟 \d+ 台设备已上线 \(20 户\)/);
    expect(out).toContain('演练 drill: 刘玉珍');
    expect((await fetch(`${url}`)).status).toBe(200);
    // The banner gives the duty officer's login; the API answers nobody without it.
    const [, name, password] = /登录 Login:\s+(\S+) \/ (\S+)/.exec(out) ?? [];
    expect(name).toBe('shimen');
    expect((await fetch(`${url}api/alarms`)).status).toBe(401);
    const api = await apiClient(url, undefined, { name: name!, password: password! });
    expect((await api.get<{ user: { role: string; displayName: string } }>('/api/auth/me')).user).toMatchObject({ role: 'duty' });

    // The SOS press of the demo, acknowledged by the button.
    await waitFor('the SOS acknowledgement', () => (out.includes('求助已收到') ? true : undefined), 20_000);
    const alarms = async () => (await api.get<{ alarms: AlarmView[] }>('/api/alarms?status=all')).alarms;
    expect((await alarms()).some((a) => a.kind === 'sos' && a.resident.name === '王秀英')).toBe(true);

    // 30 simulated minutes later (3 s at 600×) the CO in 刘玉珍's home climbs; the alarm follows within the EN 50291 times.
    const co = await waitFor('the CO drill alarm', async () => (await alarms()).find((a) => a.kind === 'co'), 30_000);
    expect(co.resident.name).toBe('刘玉珍');
    expect(co.severity).toBe('critical');
    expect(out).toMatch(/SMS to 199\*\*\*\*\d{4}.*\n【智慧看家】.*刘玉珍/);

    // Every simulated device is online (the figures are for admin and township: a duty officer is refused).
    expect((await api.request('/api/stats')).status).toBe(403);
    const admin = runKanjia(['user', 'add', '--data-dir', tmp.dir, '--name', 'admin', '--role', 'admin', '--password', 'demo-admin-pass'], {});
    expect(admin.status, admin.stderr).toBe(0);
    const stats = await (await apiClient(url, undefined, { name: 'admin', password: 'demo-admin-pass' })).get<{ devices: { registered: number; online: number } }>('/api/stats');
    expect(stats.devices.online).toBe(stats.devices.registered);

    child.kill('SIGINT');
    expect(await exited).toBe(0);
    await sleep(10);
  }, 90_000);

  it('--login NAME:PASSWORD chooses the duty officer the banner prints', async () => {
    const tmp = tempDir('kanjia-demo-login-');
    cleanups.push(tmp.cleanup);
    const httpPort = await freePort();
    const child = spawn(process.execPath, [KANJIA_BIN, 'demo', '--data-dir', tmp.dir, '--sos-after-seconds', '0', '--login', 'wangli:村委值班2026'], {
      env: { ...cleanEnv(), KANJIA_HTTP_PORT: String(httpPort), KANJIA_MQTT_PORT: String(await freePort()), KANJIA_MQTT_HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    });
    await waitFor('the end of the banner', () => (out.includes('Ctrl+C') ? true : undefined), 30_000);
    expect(out).toContain('登录 Login:        wangli / 村委值班2026');
    const api = await apiClient(`http://127.0.0.1:${httpPort}/`, undefined, { name: 'wangli', password: '村委值班2026' });
    expect((await api.get<{ user: { name: string } }>('/api/auth/me')).user.name).toBe('wangli');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  }, 60_000);
});
