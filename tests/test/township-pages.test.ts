/**
 * The registry (台账), the person record and the phone-sized visit page in a real
 * browser (Debian Chromium) against a real `kanjia start`: a duty officer sees only
 * their village on the registry page; a visit recorded on the phone page at
 * 360×740 is stored, and the overdue list drops the person after it.
 * Screenshots go to tests/screenshots/ (git-ignored) for a human look.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { REPO_ROOT, apiClient, haveBinary, importVillage, kanjiaEnv, startKanjia, tempDir, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const SHOTS = join(REPO_ROOT, 'tests', 'screenshots');

describe.skipIf(!hasChromium)('registry and visit pages in Chromium', () => {
  const tmp = tempDir();
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let page: Page;
  let api: ApiClient;
  let residentId = '';

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const { env } = await kanjiaEnv(tmp.dir);
    const person = (name: string, idNumber: string, helper: string, phone: string) => ({
      name,
      sex: 'F' as const,
      idNumber,
      category: 'leftBehindOrAlone' as const,
      joinedOn: '2026-01-05',
      contacts: [{ name: helper, role: 'helper' as const, phone, post: '村妇女主任' }],
    });
    importVillage(env, [
      { address: '石门村一组12号', lat: 27.112, lng: 111.031, residents: [person('王秀英', '430524194101011240', '刘建军', '13800000001')], devices: [{ kind: 'sosButton' }] },
    ]);
    importVillage(env, [{ address: '桃源村三组4号', lat: 27.2, lng: 111.1, residents: [person('陈桂兰', '430524194505051249', '周红', '13800000009')], devices: [{ kind: 'sosButton' }] }], '桃源村');
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    const list = await api.get<{ people: Array<{ id: string; name: string }> }>('/api/registry/people');
    residentId = list.people.find((p) => p.name === '王秀英')!.id;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await kanjia?.kill('SIGTERM');
    tmp.cleanup();
  });

  it('shows a duty officer only their village, with the helper and the overdue visit in red', async () => {
    await page.goto(`${kanjia.httpUrl}/#/registry`);
    await logIn(page, 'liming');
    const rows = page.getByTestId('registry-row');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
    const text = (await rows.textContent()) ?? '';
    expect(text).toContain('王秀英');
    expect(text).toContain('刘建军（村妇女主任）');
    expect(text).not.toContain('陈桂兰');
    expect(await rows.getByTestId('registry-next-visit').textContent()).toMatch(/已逾期 \d+ 天/);
    expect(await page.getByTestId('overdue-panel').textContent()).toContain('王秀英');
    expect(await page.getByTestId('overdue-panel').textContent()).not.toContain('桃源村');
    await page.screenshot({ path: join(SHOTS, 'registry.png') });
  });

  it('records a visit on the phone page at 360×740; it is stored and the overdue list drops her', async () => {
    const phone = await browser.newPage({ viewport: { width: 360, height: 740 }, locale: 'zh-CN' });
    await phone.goto(`${kanjia.httpUrl}/`);
    await logIn(phone, 'liming');
    await phone.getByTestId('view-tab-registry').waitFor({ timeout: 10_000 });
    await phone.goto(`${kanjia.httpUrl}/visit.html#/${encodeURIComponent(residentId)}`);
    await expect.poll(() => phone.getByTestId('visit-page').textContent(), { timeout: 10_000 }).toContain('王秀英');
    // The form's time shows now on the village's clock (Asia/Shanghai, UTC+8), not the browser's (UTC here).
    const shown = await phone.getByTestId('visit-at').inputValue();
    expect(Math.abs(Date.parse(`${shown}:00+08:00`) - Date.now())).toBeLessThan(3 * 60_000);
    await phone.getByTestId('visit-mode-inPerson').check();
    await phone.getByTestId('visit-health-fair').check();
    await phone.getByTestId('visit-stove-problem').check();
    await phone.getByTestId('visit-stove-note').fill('灶台边堆了柴火');
    await phone.getByTestId('visit-needs').fill('冬天的棉被');
    await phone.screenshot({ path: join(SHOTS, 'visit-phone.png'), fullPage: true });
    // Nothing wider than the phone: no sideways scrolling.
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await phone.getByTestId('visit-save').click();
    await expect.poll(() => phone.getByTestId('visit-saved').count(), { timeout: 10_000 }).toBe(1);

    const stored = await api.get<{ visits: Array<{ at: number; mode: string; health: string; needs: string | null; safety: { stove: { status: string; note?: string } } | null }> }>(`/api/residents/${residentId}/visits`);
    expect(stored.visits).toHaveLength(1);
    expect(stored.visits[0]).toMatchObject({ mode: 'inPerson', health: 'fair', needs: '冬天的棉被', safety: { stove: { status: 'problem', note: '灶台边堆了柴火' } } });
    expect(Math.abs(stored.visits[0]!.at - Date.now())).toBeLessThan(3 * 60_000);
    await phone.close();

    // The registry page, opened again, no longer counts her overdue.
    await page.goto(`${kanjia.httpUrl}/#/alarms`);
    await page.goto(`${kanjia.httpUrl}/#/registry`);
    await expect.poll(async () => (await page.getByTestId('registry-next-visit').textContent()) ?? '', { timeout: 10_000 }).not.toMatch(/逾期/);
    expect(await page.getByTestId('overdue-panel').textContent()).toContain('没有逾期的探访');
  });
});
