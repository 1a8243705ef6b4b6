/**
 * The built dashboard and the answer page under the server's
 * Content-Security-Policy in headless Chromium, against a real `kanjia start`
 * with map tiles from a local tile server: every view (the alarm queue with
 * an SOS, the map over its tiles, a resident card and a device's history with
 * their ECharts charts, the audit log) and the answer page work, and the
 * browser reports no violation of the policy. A script injected into the
 * page is refused and reported, so the watch does see violations.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { startTileServer, type TileServer } from '../src/tile-server.js';
import { addUser, haveBinary, household, importVillage, kanjiaEnv, startKanjia, tempDir, type KanjiaProcess } from '../src/harness.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

/** What the page's securitypolicyviolation events and console said, collected from before the first script runs. */
async function watchPolicy(page: Page): Promise<() => Promise<string[]>> {
  const consoleLines: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) consoleLines.push(m.text());
  });
  await page.addInitScript(() => {
    const w = globalThis as unknown as { __csp: string[]; document: { addEventListener(t: string, f: (e: { violatedDirective: string; blockedURI: string }) => void): void } };
    w.__csp = [];
    w.document.addEventListener('securitypolicyviolation', (e) => w.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return async () => [...(await page.evaluate(() => (globalThis as unknown as { __csp: string[] }).__csp)), ...consoleLines];
}

describe.skipIf(!hasChromium)('the dashboard under its Content-Security-Policy in Chromium', () => {
  const tmp = tempDir();
  let browser: Browser;
  let kanjia: KanjiaProcess;
  let tiles: TileServer | undefined;
  let device: SimDevice;
  let tileRequests: string[] = [];

  beforeAll(async () => {
    tiles = await startTileServer();
    tileRequests = tiles.requests;
    const e = await kanjiaEnv(tmp.dir);
    const [button] = importVillage(e.env, [household('石门村一组12号', '王秀英', [['刘建军', 'helper', '13800000001']], { devices: [{ kind: 'sosButton' }, { kind: 'motionSensor', label: '堂屋' }] })]);
    addUser(e.env, { name: 'admin', role: 'admin' });
    kanjia = await startKanjia({ ...e.env, KANJIA_MAP_TILES: tiles.template });
    device = new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${e.mqttPort}`, deviceId: button!.deviceId, secret: button!.secret, logger: silent });
    await device.start();
    await device.pressSos().received;
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await device?.stop();
    await kanjia?.kill('SIGTERM');
    await tiles?.close();
    tmp.cleanup();
  });

  it('runs every view of the desk with no violation: the queue, the map over its tiles, a resident card, a device history, the audit log', async () => {
    const page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
    try {
      const violations = await watchPolicy(page);
      const first = await page.goto(`${kanjia.httpUrl}/#/alarms`);
      expect(first?.headers()['content-security-policy']).toContain("script-src 'self'");
      await logIn(page, 'admin');
      await expect.poll(() => page.getByTestId('alarm-card').count(), { timeout: 15_000 }).toBe(1);

      await page.getByTestId('view-tab-map').click();
      await expect.poll(() => page.getByTestId('map-pin').count(), { timeout: 10_000 }).toBe(1);
      await expect.poll(() => page.locator('img.leaflet-tile-loaded').count(), { timeout: 10_000 }).toBeGreaterThan(3);
      expect(tileRequests.length).toBeGreaterThan(3);

      await page.getByTestId('view-tab-residents').click();
      await page.getByTestId('resident-row').first().click();
      await expect.poll(() => page.getByTestId('activity-chart').locator('canvas').count(), { timeout: 10_000 }).toBeGreaterThan(0);

      await page.getByTestId('view-tab-devices').click();
      await page.getByTestId('device-row').first().click();
      await expect.poll(() => page.getByTestId('device-history-chart').locator('canvas').count(), { timeout: 10_000 }).toBeGreaterThan(0);

      await page.getByTestId('view-tab-audit').click();
      await expect.poll(() => page.getByTestId('audit-row').count(), { timeout: 10_000 }).toBeGreaterThan(0);
      expect(await violations()).toEqual([]);

      // The watch works: an injected inline script does not run and is reported.
      const ran = await page.evaluate(() => {
        const g = globalThis as unknown as { document: { createElement(t: string): { textContent: string }; body: { appendChild(n: unknown): void } }; __inlineRan?: boolean };
        const script = g.document.createElement('script');
        script.textContent = 'globalThis.__inlineRan = true';
        g.document.body.appendChild(script);
        return g.__inlineRan === true;
      });
      expect(ran).toBe(false);
      await expect.poll(async () => (await violations()).some((v) => v.startsWith('script-src'))).toBe(true);
    } finally {
      await page.close();
    }
  }, 90_000);

  it('runs the answer page with no violation', async () => {
    const page = await browser.newPage({ viewport: { width: 360, height: 640 }, locale: 'zh-CN', isMobile: true });
    try {
      const violations = await watchPolicy(page);
      const res = await page.goto(`${kanjia.httpUrl}/a/zzzz2345abcd`);
      expect(res?.headers()['referrer-policy']).toBe('no-referrer');
      await expect.poll(() => page.getByTestId('answer-expired').count(), { timeout: 10_000 }).toBe(1);
      expect(await violations()).toEqual([]);
    } finally {
      await page.close();
    }
  }, 60_000);
});
