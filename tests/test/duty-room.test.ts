/**
 * The duty room's whole day in one browser (Debian Chromium, 1366×768) against
 * a real `kanjia start`: a duty officer logs in; an SOS published with Debian's
 * mosquitto_pub (a client nobody here wrote) appears on the village map and in
 * the queue without a reload; the officer takes it (the button, listening with
 * mosquitto_sub, hears `taken`), is on the way, on site, and resolves it with a
 * note; the case history says who did what. A duty officer of another village
 * sees none of it. Screenshots of the queue with the alarm go to
 * tests/screenshots/ (git-ignored).
 */
import { topics, type AlarmView } from '@kanjia/protocol';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { apiClient, haveBinary, household, importVillage, kanjiaEnv, REPO_ROOT, startKanjia, tempDir, TEST_PASSWORD, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const hasMosquitto = haveBinary('mosquitto_pub', 'apt-get install mosquitto-clients');
const SCREENSHOTS = join(REPO_ROOT, 'tests', 'screenshots');

describe.skipIf(!hasChromium || !hasMosquitto)('the duty room: map, queue and the whole case in Chromium', () => {
  const tmp = tempDir();
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let page: Page;
  let officer: ApiClient;
  let other: ApiClient;
  let mqttPort: number;
  let button: { deviceId: string; secret: string; householdId: string };
  let listener: ChildProcess | undefined;
  let heard = '';

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const made = await kanjiaEnv(tmp.dir);
    mqttPort = made.mqttPort;
    button = importVillage(made.env, [
      household('石门村一组12号', '王秀英', [['刘建军', 'helper', '13800000001']], { keyHolderNote: '钥匙在隔壁王大姐家', lat: 27.112, lng: 111.03 }),
      household('石门村一组15号', '李桂兰', [['刘建军', 'helper', '13800000001']], { lat: 27.1125, lng: 111.031 }),
    ])[0]!;
    // A second village with its own duty officer, who must see nothing of 石门村.
    importVillage(made.env, [household('青山村三组4号', '张德福', [['赵春梅', 'doctor', '13800000002']], { lat: 27.2, lng: 111.1 })], '青山村');
    kanjia = await startKanjia(made.env);
    officer = await apiClient(kanjia.httpUrl, made.env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    other = await apiClient(kanjia.httpUrl, made.env, { name: 'zhao', role: 'duty', villages: ['青山村'], displayName: '值班员 赵' });
    await apiClient(kanjia.httpUrl, made.env, { name: 'admin', role: 'admin', displayName: '管理员' });
    // The button's own ear: mosquitto_sub with the device's maintenance client id (docs/protocol.md).
    listener = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-i', `${button.deviceId}:listener`, '-u', button.deviceId, '-P', button.secret, '-t', topics.commands(button.deviceId), '-q', '1']);
    listener.stdout?.on('data', (d: Buffer) => (heard += d.toString()));
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  }, 60_000);

  afterAll(async () => {
    listener?.kill();
    await browser?.close();
    await kanjia?.kill('SIGTERM');
    tmp.cleanup();
  });

  const commandsHeard = () =>
    heard
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { type: string }).type);

  it('logs in and shows the village map with every household, nothing alarming', async () => {
    await page.goto(`${kanjia.httpUrl}/#/map`);
    await page.getByTestId('login-name').fill('liming');
    await page.getByTestId('login-password').fill(TEST_PASSWORD);
    await page.getByTestId('login-password').press('Enter');
    await expect.poll(() => page.getByTestId('map-pin').count(), { timeout: 15_000 }).toBe(2);
    expect(await page.locator('[data-testid="map-pin"][data-state="alarm"]').count()).toBe(0);
  });

  it('an SOS from mosquitto_pub turns its pin to alarm and reaches the queue, without a reload', async () => {
    const event = { id: 'sos-duty-room-1', ts: Date.now(), type: 'sos' };
    const pub = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-i', button.deviceId, '-u', button.deviceId, '-P', button.secret, '-t', topics.events(button.deviceId), '-q', '1', '-m', JSON.stringify(event)], { encoding: 'utf8', timeout: 15_000 });
    expect(pub.status, pub.stderr).toBe(0);
    const pin = page.locator(`[data-testid="map-pin"][data-household="${button.householdId}"]`);
    await expect.poll(() => pin.getAttribute('data-state'), { timeout: 5_000 }).toBe('alarm');
    await expect.poll(() => page.getByTestId('view-tab-alarms').textContent(), { timeout: 5_000 }).toContain('1');
    await page.screenshot({ path: join(SCREENSHOTS, 'duty-room-map-alarm.png') });
    await waitFor('the button to hear received', () => commandsHeard().includes('received'), 10_000);

    await page.getByTestId('view-tab-alarms').click();
    const card = page.getByTestId('alarm-card');
    await expect.poll(() => card.count(), { timeout: 5_000 }).toBe(1);
    expect(await card.getAttribute('data-status')).toBe('open');
    expect(await card.getByTestId('resident-name').textContent()).toContain('王秀英');
    expect(await card.getByTestId('key-note').textContent()).toContain('王大姐');
    await page.screenshot({ path: join(SCREENSHOTS, 'duty-room-queue-alarm.png') });
  });

  it('take → on the way → on site → resolve with a note; the button hears taken; the history says who', async () => {
    const card = page.getByTestId('alarm-card');
    await card.getByTestId('take-button').click();
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 10_000 }).toBe('taken');
    await waitFor('the button to hear taken', () => commandsHeard().includes('taken'), 10_000);
    expect(await card.getByTestId('taken-by').textContent()).toContain('值班员 李明');
    await card.getByTestId('on-the-way-button').click();
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 10_000 }).toBe('onTheWay');
    await card.getByTestId('on-site-button').click();
    await expect.poll(() => card.getAttribute('data-status'), { timeout: 10_000 }).toBe('onSite');
    await page.screenshot({ path: join(SCREENSHOTS, 'duty-room-queue-on-site.png') });
    await card.getByTestId('resolve-button').click();
    await page.getByTestId('resolve-note').fill('老人在院子里滑倒，已扶起，无外伤');
    await page.getByTestId('outcome-real').click();
    await page.screenshot({ path: join(SCREENSHOTS, 'duty-room-resolve-dialog.png') });
    await page.getByTestId('confirm-button').click();
    await expect.poll(() => page.getByTestId('empty-state').count(), { timeout: 10_000 }).toBe(1);

    const { alarms } = await officer.get<{ alarms: AlarmView[] }>('/api/alarms?status=closed');
    expect(alarms).toHaveLength(1);
    expect(alarms[0]!.history.map((h) => [h.action, h.by])).toEqual([
      ['opened', null],
      ['taken', '值班员 李明'],
      ['onTheWay', '值班员 李明'],
      ['onSite', '值班员 李明'],
      ['resolved', '值班员 李明'],
    ]);
    // The map is calm again.
    await page.getByTestId('view-tab-map').click();
    await expect.poll(() => page.locator('[data-testid="map-pin"][data-state="alarm"]').count(), { timeout: 5_000 }).toBe(0);
  });

  it('the duty officer of 青山村 sees nothing of 石门村: not the case, not its households', async () => {
    const closed = await other.get<{ alarms: AlarmView[] }>('/api/alarms?status=all');
    expect(closed.alarms).toEqual([]);
    const { alarms } = await officer.get<{ alarms: AlarmView[] }>('/api/alarms?status=closed');
    expect((await other.request(`/api/alarms/${alarms[0]!.id}`)).status).toBe(404);
    expect((await other.post(`/api/alarms/${alarms[0]!.id}/take`, {})).status).toBe(404);
    const map = await other.get<{ households: Array<{ address: string }> }>('/api/map/households');
    expect(map.households.map((h) => h.address)).toEqual(['青山村三组4号']);
  });

  it('the admin reads in the audit log who did what to the case; the duty officer has no such page', async () => {
    expect(await page.getByTestId('view-tab-audit').count()).toBe(0);
    const admin = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
    await admin.goto(`${kanjia.httpUrl}/#/audit`);
    await logIn(admin, 'admin');
    const rows = admin.getByTestId('audit-row');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBeGreaterThan(4);
    const actions = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-action')));
    // Newest first: the officer's four steps, after their login.
    expect(actions.filter((a) => a?.startsWith('alarm.'))).toEqual(['alarm.resolve', 'alarm.onSite', 'alarm.onTheWay', 'alarm.take']);
    expect(await admin.getByTestId('audit-table').textContent()).toContain('值班员 李明');
    expect(await admin.getByTestId('audit-table').textContent()).toContain('老人在院子里滑倒');
    await admin.screenshot({ path: join(SCREENSHOTS, 'audit-log.png') });
    await admin.close();
  });
});
