/**
 * The report page in a real browser (Debian Chromium) against a real
 * `kanjia start`: a township officer opens 工作报告, the figures load, the
 * print preview (print media) shows the township's name and the period and
 * every section, with no tabs or buttons; the page prints to A4 with a page
 * per section. Screenshots and the PDF go to tests/screenshots/ (git-ignored)
 * and to $KANJIA_SCREENSHOT_DIR when set, for a human look (the paths are logged).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { apiClient, haveBinary, kanjiaEnv, runKanjia, startKanjia, tempDir, type KanjiaProcess } from '../src/harness.js';
import { saveBytes, saveScreenshot } from '../src/screenshots.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const SECTIONS = ['people', 'alarms', 'visits', 'devices'] as const;

describe.skipIf(!hasChromium)('the report page in Chromium', () => {
  const tmp = tempDir();
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    const { env } = await kanjiaEnv(tmp.dir);
    const helper = (phone: string) => [{ name: '刘建军', role: 'helper', phone, post: '村支书' }];
    const file = join(tmp.dir, 'registry.json');
    writeFileSync(
      file,
      JSON.stringify({
        villages: [
          {
            name: '石门村',
            township: '桃洪镇',
            timezone: 'Asia/Shanghai',
            lat: 27.11,
            lng: 111.03,
            households: [
              { address: '石门村一组12号', lat: 27.112, lng: 111.031, residents: [{ name: '王秀英', sex: 'F', category: 'dispersedSupport', careLevel: 'especiallyDifficult', joinedOn: '2026-10-01', contacts: helper('13800000001') }], devices: [{ kind: 'sosButton' }] },
              { address: '石门村二组3号', lat: 27.113, lng: 111.032, residents: [{ name: '张德福', sex: 'M', category: '低保', joinedOn: '2026-10-01', contacts: helper('13800000001') }], devices: [{ kind: 'sosButton' }, { kind: 'motionSensor' }] },
            ],
          },
        ],
      }),
    );
    const imported = runKanjia(['import', file], env);
    if (imported.status !== 0) throw new Error(`import failed: ${imported.stderr}`);
    kanjia = await startKanjia(env);
    const api = await apiClient(kanjia.httpUrl, env, { name: 'zhen', role: 'township', township: '桃洪镇', displayName: '镇民政办 王' });
    const list = await api.get<{ people: Array<{ id: string }> }>('/api/registry/people');
    for (const p of list.people) {
      const res = await api.post(`/api/residents/${p.id}/visits`, { mode: 'phone', health: 'good', mood: 'fair' });
      if (res.status !== 201) throw new Error(`visit: ${res.status} ${await res.text()}`);
    }
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await kanjia?.kill('SIGTERM');
    tmp.cleanup();
  });

  it('shows the figures with charts for the period picked', async () => {
    await page.goto(`${kanjia.httpUrl}/#/reports/2026-Q4`);
    await logIn(page, 'zhen');
    await page.getByTestId('report-sheet').waitFor({ timeout: 15_000 });
    const header = await page.getByTestId('report-header').textContent();
    expect(header).toContain('桃洪镇');
    expect(header).toContain('2026年第四季度');
    expect(header).toContain('2026-10-01 至 2026-12-31');
    for (const s of SECTIONS) expect(await page.getByTestId(`report-section-${s}`).isVisible()).toBe(true);
    expect(await page.getByTestId('report-chart').count()).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId('report-section-people').textContent()).toContain('分散供养特困人员');
    await saveScreenshot(page, 'report-screen.png', { fullPage: true });
    // The picker moves to a month (the hash follows, so it can be bookmarked).
    await page.getByTestId('report-kind').selectOption('month');
    await expect.poll(() => page.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash), { timeout: 5000 }).toBe('#/reports/2026-10');
    await expect.poll(async () => page.getByTestId('report-header').textContent(), { timeout: 5000 }).toContain('2026年10月');
    await page.getByTestId('report-n').selectOption('12');
    await expect.poll(async () => page.getByTestId('report-header').textContent(), { timeout: 5000 }).toContain('2026年12月');
  });

  it('prints to A4: the header and every section, no tabs or buttons, a page per section', async () => {
    await page.goto(`${kanjia.httpUrl}/#/reports/2026-Q4`);
    await page.getByTestId('report-sheet').waitFor({ timeout: 15_000 });
    await page.emulateMedia({ media: 'print' });
    // A4 at 96 dpi is 794 × 1123 px; less the 14 mm margins (@page), the content is 182 mm = 688 px wide: the page lays out at that width when printed.
    await page.setViewportSize({ width: 688, height: 1123 });
    expect(await page.getByTestId('report-header').isVisible()).toBe(true);
    for (const s of SECTIONS) expect(await page.getByTestId(`report-section-${s}`).isVisible()).toBe(true);
    expect(await page.getByTestId('report-controls').isVisible()).toBe(false);
    expect(await page.getByTestId('view-tab-reports').isVisible()).toBe(false);
    expect(await page.getByTestId('report-print').isVisible()).toBe(false);
    const font = await page.getByTestId('report-page').evaluate((el) => (globalThis as unknown as { getComputedStyle: (e: unknown) => { fontFamily: string } }).getComputedStyle(el).fontFamily);
    expect(font).toContain('WenQuanYi Micro Hei');
    // Nothing runs past the paper's right edge: no column or figure box is cut off.
    expect(await page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(688);
    // The A4 print preview, whole, then its first page as a sheet of paper shows it.
    await saveScreenshot(page, 'report-print-a4.png', { fullPage: true });
    await saveScreenshot(page, 'report-print-a4-page1.png');
    const pdf = await page.pdf({ format: 'A4', printBackground: true, preferCSSPageSize: true });
    saveBytes('report-print.pdf', pdf);
    const pages = pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g)?.length ?? 0;
    // One section a page, at least.
    expect(pages).toBeGreaterThanOrEqual(4);
    await page.emulateMedia({ media: 'screen' });
  });
});
