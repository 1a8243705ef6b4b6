/**
 * The duty room's first page in a real browser (Debian Chromium): an SOS
 * pressed by a simulated button appears live, one click takes it (the button
 * hears `taken`), and resolving with a note closes it.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { addUser, apiClient, haveBinary, household, importVillage, kanjiaEnv, runKanjia, startKanjia, tempDir, TEST_PASSWORD, type KanjiaProcess } from '../src/harness.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const silent = { info: () => undefined, warn: () => undefined };

describe.skipIf(!hasChromium)('dashboard: the live alarm queue in Chromium', () => {
  const tmp = tempDir();
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let page: Page;
  let device: SimDevice;
  let env: Record<string, string>;

  beforeAll(async () => {
    const made = await kanjiaEnv(tmp.dir);
    env = made.env;
    const mqttPort = made.mqttPort;
    const creds = importVillage(env, [
      household('石门村一组12号', '王秀英', [['刘建军', 'helper', '13800000001']], {
        keyHolderNote: '钥匙在隔壁王大姐家',
        residents: [{ name: '王秀英', sex: 'F', birthYear: 1941, contacts: [{ name: '刘建军', role: 'helper', phone: '13800000001' }] }],
      }),
    ])[0]!;
    addUser(env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    kanjia = await startKanjia(env);
    device = new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${mqttPort}`, deviceId: creds.deviceId, secret: creds.secret, logger: silent, resendIntervalMs: 1000 });
    await device.start();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await device?.stop();
    await kanjia?.kill('SIGTERM');
    tmp.cleanup();
  });

  it('asks for a login in Chinese, refuses a wrong password, then shows the officer’s name and a reassuring empty queue', async () => {
    await page.goto(kanjia.httpUrl);
    await page.getByTestId('login-name').fill('liming');
    await page.getByTestId('login-password').fill('wrong-password');
    // The keyboard is enough: Enter submits.
    await page.getByTestId('login-password').press('Enter');
    await expect.poll(() => page.getByTestId('login-error').textContent(), { timeout: 10_000 }).toContain('用户名或密码不正确');
    await page.getByTestId('login-password').fill(TEST_PASSWORD);
    await page.getByTestId('login-submit').click();
    await expect.poll(() => page.getByTestId('officer-name').textContent(), { timeout: 10_000 }).toBe('值班员 李明');
    await expect.poll(() => page.getByTestId('connection-state').getAttribute('data-state'), { timeout: 10_000 }).toBe('connected');
    await expect.poll(() => page.getByTestId('empty-state').textContent(), { timeout: 10_000 }).toContain('当前没有待处理的警报');
  });

  it('shows a pressed SOS live, takes it with one click (the button hears `taken`), and resolves it with a note', async () => {
    const press = device.pressSos();
    await press.received;
    const card = page.getByTestId('alarm-card');
    await expect.poll(() => card.count(), { timeout: 10_000 }).toBe(1);
    expect(await card.getAttribute('data-status')).toBe('open');
    expect(await card.getByTestId('resident-name').textContent()).toContain('王秀英');
    expect(await card.getByTestId('alarm-kind').textContent()).toContain('紧急呼叫');
    expect(await page.title()).toMatch(/\(1\)/);
    await page.screenshot({ path: join(tmp.dir, 'open-alarm.png') });

    await card.getByTestId('take-button').click();
    const taken = await press.taken;
    expect(taken.eventId).toBe(press.eventId);
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 10_000 }).toBe('taken');

    await card.getByTestId('resolve-button').click();
    await page.getByTestId('resolve-note').fill('老人按错了按钮，已电话确认平安');
    // How it ended must be chosen: without it nothing is sent and the dialog says so.
    await page.getByTestId('confirm-button').click();
    expect(await page.getByTestId('resolve-outcome').getByRole('alert').textContent()).toContain('请选择：确有情况，还是误报');
    expect(await card.getAttribute('data-status')).toBe('taken');
    await page.getByTestId('outcome-falseAlarm').click();
    expect(await page.getByTestId('outcome-falseAlarm').getAttribute('aria-checked')).toBe('true');
    await page.getByTestId('confirm-button').click();
    await expect.poll(() => page.getByTestId('empty-state').count(), { timeout: 10_000 }).toBe(1);
    const api = await apiClient(kanjia.httpUrl, undefined, { name: 'liming' });
    const { alarms } = await api.get<{ alarms: Array<{ status: string; takenBy: string; resolutionNote: string; outcome: string | null }> }>('/api/alarms?status=closed');
    // The actor is the logged-in user, not a typed name.
    expect(alarms[0]).toMatchObject({ status: 'resolved', takenBy: '值班员 李明', resolutionNote: '老人按错了按钮，已电话确认平安', outcome: 'falseAlarm' });
  });

  it('logging out goes back to the login screen, and the API refuses the old session', async () => {
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'kanjia_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    await page.getByTestId('logout').click();
    await expect.poll(() => page.getByTestId('login-form').count(), { timeout: 10_000 }).toBe(1);
    const res = await fetch(`${kanjia.httpUrl}/api/alarms`, { headers: { cookie: `kanjia_session=${session!.value}` } });
    expect(res.status).toBe(401);
  });

  it('a session ended elsewhere (password reset) brings the login back at the next request, saying why', async () => {
    await logIn(page, 'liming');
    await expect.poll(() => page.getByTestId('connection-state').getAttribute('data-state'), { timeout: 10_000 }).toBe('connected');
    expect(await page.getByTestId('login-ended').count()).toBe(0);
    const reset = runKanjia(['user', 'reset-password', '--name', 'liming', '--password', 'another-long-password'], env);
    expect(reset.status, reset.stderr).toBe(0);
    // The next request (showing the closed cases) meets a 401.
    await page.getByTestId('show-closed-toggle').click();
    await expect.poll(() => page.getByTestId('login-ended').count(), { timeout: 10_000 }).toBe(1);
    expect(await page.getByTestId('login-ended').textContent()).toContain('请重新登录');
  });
});
