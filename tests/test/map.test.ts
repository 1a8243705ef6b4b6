/**
 * The village map in a real browser (Debian Chromium, 1366×768) against a
 * real `kanjia start`: pins for every household on a plain background that
 * requests nothing; an SOS published with mosquitto_pub turns its pin (and
 * the cluster holding it) to alarm without a reload; a village plan image
 * uploaded over REST becomes the background; tiles come from a local tile
 * server when configured. Screenshots go to tests/screenshots/ (git-ignored).
 */
import { topics } from '@kanjia/protocol';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { startTileServer, type TileServer } from '../src/tile-server.js';
import { addUser, apiClient, haveBinary, household, importVillage, kanjiaEnv, REPO_ROOT, startKanjia, tempDir, type ApiClient, type KanjiaProcess } from '../src/harness.js';
import { solidPng } from '../src/png.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const hasMosquitto = haveBinary('mosquitto_pub', 'apt-get install mosquitto-clients');
const SCREENSHOTS = join(REPO_ROOT, 'tests', 'screenshots');

/** Three houses of one village street, about 100 m apart. */
const HOUSES = [
  household('石门村一组1号', '王秀英', [['刘建军', 'helper', '13800000001']], { lat: 27.1120, lng: 111.0300 }),
  household('石门村一组5号', '李桂兰', [['刘建军', 'helper', '13800000001']], { lat: 27.1128, lng: 111.0312 }),
  household('石门村二组3号', '张德福', [['赵春梅', 'doctor', '13800000002']], { lat: 27.1114, lng: 111.0318 }),
];

/** Logs in as the duty officer of 石门村 (made with `kanjia user add`) and opens the map. */
async function openMap(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/#/map`);
  await logIn(page, 'liming');
  await expect.poll(() => page.getByTestId('map-pin').count(), { timeout: 15_000 }).toBe(HOUSES.length);
}

describe.skipIf(!hasChromium || !hasMosquitto)('the village map in Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await launchChromium();
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  describe('offline (no tiles): plain background, live SOS, then a village plan', () => {
    const tmp = tempDir();
    let kanjia: KanjiaProcess;
    let page: Page;
    let mqttPort: number;
    let creds: Array<{ deviceId: string; secret: string; householdId: string }>;
    let admin: ApiClient;
    const requests: string[] = [];

    beforeAll(async () => {
      const e = await kanjiaEnv(tmp.dir);
      mqttPort = e.mqttPort;
      creds = importVillage(e.env, HOUSES);
      addUser(e.env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
      kanjia = await startKanjia(e.env);
      admin = await apiClient(kanjia.httpUrl, e.env, { name: 'admin', role: 'admin' });
      page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
      page.on('request', (r) => requests.push(r.url()));
    }, 60_000);
    afterAll(async () => {
      await page?.close();
      await kanjia?.kill('SIGTERM');
      tmp.cleanup();
    });

    it('shows every household as a pin with a legend and a list, and requests nothing but the server itself', async () => {
      await openMap(page, kanjia.httpUrl);
      expect(await page.getByTestId('village-map').getAttribute('class')).toContain('map--plain');
      expect(await page.getByTestId('map-list-row').count()).toBe(3);
      expect(await page.getByTestId('map-legend').textContent()).toMatch(/报警.*待确认.*设备异常.*外出.*学习中.*平安/);
      // No device has spoken yet: none of them is "fine".
      expect(await page.getByTestId('legend-count-device').textContent()).toBe('3');
      const foreign = requests.filter((u) => !u.startsWith(kanjia.httpUrl) && !u.startsWith('data:'));
      expect(foreign).toEqual([]);
    });

    it('turns the pin of an SOS pressed with mosquitto_pub to alarm without a reload, pulsing, first in the list', async () => {
      const device = creds[1]!;
      const event = { id: 'map-sos-1', ts: Date.now(), type: 'sos' };
      const pub = spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-i', device.deviceId, '-u', device.deviceId, '-P', device.secret, '-t', topics.events(device.deviceId), '-q', '1', '-m', JSON.stringify(event)], { encoding: 'utf8', timeout: 15_000 });
      expect(pub.status).toBe(0);
      const pin = page.locator(`[data-testid="map-pin"][data-household="${device.householdId}"]`);
      await expect.poll(() => pin.getAttribute('data-state'), { timeout: 5_000 }).toBe('alarm');
      // The page's own getComputedStyle (this file is typed without the DOM).
      const style = (el: unknown) => (globalThis as unknown as { getComputedStyle(e: unknown): { animationName: string } }).getComputedStyle(el).animationName;
      expect(await pin.evaluate(style)).toBe('pin-pulse');
      const first = page.getByTestId('map-list-row').first();
      await expect.poll(() => first.getAttribute('data-state'), { timeout: 5_000 }).toBe('alarm');
      expect(await first.textContent()).toContain('李桂兰');
      expect(await page.getByTestId('view-tab-alarms').textContent()).toContain('1');
      await page.screenshot({ path: join(SCREENSHOTS, 'map-offline.png') });
    });

    it('colours a zoomed-out cluster holding the alarm as alarm, with its count', async () => {
      for (let i = 0; i < 6 && (await page.getByTestId('map-cluster').count()) === 0; i++) {
        await page.locator('.leaflet-control-zoom-out').click();
        await page.waitForTimeout(400);
      }
      const cluster = page.getByTestId('map-cluster').first();
      await expect.poll(() => cluster.getAttribute('data-alarms'), { timeout: 5_000 }).toBe('1');
      expect(await cluster.getAttribute('class')).toContain('cluster--alarm');
      await page.screenshot({ path: join(SCREENSHOTS, 'map-cluster.png') });
    });

    it('centres a household from the list, opens its resident from the pin, and switches to English without reload', async () => {
      await page.getByTestId('map-list-row').first().click({ timeout: 5_000 });
      const pin = page.locator(`[data-testid="map-pin"][data-household="${creds[1]!.householdId}"]`);
      await expect.poll(() => pin.count(), { timeout: 5_000 }).toBe(1);
      // The map zooms in out of the cluster and pans: let it come to rest, as an officer's eye would.
      await page.waitForTimeout(1_000);
      await pin.click({ timeout: 5_000 });
      const { households } = (await admin.get('/api/map/households')) as { households: Array<{ id: string; residents: Array<{ id: string }> }> };
      const residentId = households.find((h) => h.id === creds[1]!.householdId)?.residents[0]?.id;
      await expect.poll(() => new URL(page.url()).hash).toBe(`#/residents/${residentId}`);
      await page.goBack();
      await expect.poll(() => page.getByTestId('map-legend').count()).toBe(1);
      await page.getByTestId('lang-switch').click();
      await expect.poll(() => page.getByTestId('map-legend').textContent()).toMatch(/Alarm.*Awaiting answer.*Device problem.*Away.*Learning.*Fine/);
      await page.getByTestId('lang-switch').click();
    });

    it('puts an uploaded village plan under the pins (png placed by two corners)', async () => {
      const plan = solidPng(400, 300, [222, 235, 210], true);
      const villageId = ((await admin.get('/api/map/config')) as { villages: Array<{ id: string }> }).villages[0]!.id;
      const res = await admin.request(`/api/map/plans/${villageId}?south=27.1105&west=111.0290&north=27.1135&east=111.0330`, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: plan });
      expect(res.status).toBe(200);
      await page.reload();
      await expect.poll(() => page.getByTestId('map-pin').count(), { timeout: 15_000 }).toBe(3);
      const img = page.locator('img.map-plan');
      await expect.poll(() => img.evaluate((el) => (el as unknown as { naturalWidth: number }).naturalWidth), { timeout: 10_000 }).toBe(400);
      expect(await page.getByTestId('village-map').getAttribute('class')).not.toContain('map--plain');
      await page.screenshot({ path: join(SCREENSHOTS, 'map-plan.png') });
    });
  });

  describe('online: tiles from a local tile server', () => {
    const tmp = tempDir();
    let kanjia: KanjiaProcess;
    let tiles: TileServer | undefined;
    let tileRequests: string[] = [];

    beforeAll(async () => {
      tiles = await startTileServer();
      tileRequests = tiles.requests;
      const e = await kanjiaEnv(tmp.dir);
      importVillage(e.env, HOUSES);
      addUser(e.env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
      kanjia = await startKanjia({ ...e.env, KANJIA_MAP_TILES: tiles.template });
    }, 60_000);
    afterAll(async () => {
      const t0 = Date.now();
      await kanjia?.kill('SIGTERM');
      const killedMs = Date.now() - t0;
      await tiles?.close();
      // This hook once ran past 30 s in CI (not reproduced alone): say which step was slow if it happens again.
      if (Date.now() - t0 > 5_000) process.stderr.write(`[map.test] slow teardown: kanjia stopped in ${killedMs} ms, the tile server closed ${Date.now() - t0 - killedMs} ms later\n`);
      tmp.cleanup();
    }, 60_000);

    it('draws the pins over the configured tiles, which the page fetched', async () => {
      const page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
      try {
        await openMap(page, kanjia.httpUrl);
        await expect.poll(() => page.locator('img.leaflet-tile-loaded').count(), { timeout: 10_000 }).toBeGreaterThan(3);
        expect(tileRequests.length).toBeGreaterThan(3);
        expect(tileRequests.every((u) => /^\/tiles\/1[5-9]\/\d+\/\d+\.png$/.test(u))).toBe(true);
        await page.screenshot({ path: join(SCREENSHOTS, 'map-online.png') });
      } finally {
        await page.close();
      }
    });
  });
});
