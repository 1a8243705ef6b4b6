/**
 * The registry (台账), the person record and the phone-sized visit page in a real
 * browser (Debian Chromium) against a real `kanjia start`:
 *
 * - a duty officer sees only their village on the registry page; a visit recorded
 *   on the phone page at 360×740 is stored, and the overdue list drops the person;
 * - a township officer's export link downloads the XLSX in the policy's layout with
 *   the village's people (read back with ExcelJS);
 * - the import preview lists every bad row with its reason, imports nothing until
 *   confirmed (checked through the API), and confirming imports the good rows;
 * - the person record's edit form saves the policy's fields and the helpers' posts,
 *   shows a refusal next to its field in Chinese, and the change is in the history
 *   at once; a duty officer cannot touch the ID number or the chain;
 * - the visit page of a village in another time zone (Asia/Urumqi, UTC+6) shows its
 *   times, the form's clock and the date the next visit is due in that zone.
 *
 * Screenshots go to tests/screenshots/ (git-ignored) and $KANJIA_SCREENSHOT_DIR
 * (tests/src/screenshots.ts) for a human look.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { idNumberCheckDigit } from '@kanjia/protocol';
import ExcelJS from 'exceljs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { apiClient, haveBinary, kanjiaEnv, runKanjia, startKanjia, tempDir, type ApiClient, type KanjiaProcess } from '../src/harness.js';
import { saveScreenshot } from '../src/screenshots.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const POLICY_HEADER = ['序号', '姓名', '性别', '身份证号码', '人员类别', '帮扶责任人（职务）', '帮扶措施', '联系电话', '备注'];
const HOUR = 3_600_000;
const validId = (first17: string) => `${first17}${idNumberCheckDigit(first17)}`;
/** A female's ID number with a wrong last character. */
const wrongCheckDigit = (first17: string) => `${first17}${idNumberCheckDigit(first17) === '0' ? '1' : '0'}`;
const ID_WANG = '430524194101011240';
const ID_GULI = validId('65010219440303002');

interface Person {
  id: string;
  name: string;
  villageName: string;
}

describe.skipIf(!hasChromium)('registry and visit pages in Chromium', () => {
  const tmp = tempDir();
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let page: Page;
  let api: ApiClient;
  let township: ApiClient;
  let officer: BrowserContext;
  let desk: Page;
  let residentId = '';
  let guliId = '';

  beforeAll(async () => {
    const { env } = await kanjiaEnv(tmp.dir);
    const person = (name: string, idNumber: string, helper: string, phone: string) => ({
      name,
      sex: 'F' as const,
      idNumber,
      category: 'leftBehindOrAlone' as const,
      joinedOn: '2026-01-05',
      contacts: [{ name: helper, role: 'helper' as const, phone, post: '村妇女主任' }],
    });
    const village = (name: string, timezone: string, lat: number, lng: number, address: string, resident: ReturnType<typeof person>) => ({
      name,
      township: '石门镇',
      timezone,
      lat,
      lng,
      households: [{ address, lat: lat + 0.002, lng: lng + 0.001, residents: [resident], devices: [{ kind: 'sosButton' }] }],
    });
    const file = join(tmp.dir, 'registry.json');
    writeFileSync(
      file,
      JSON.stringify({
        villages: [
          village('石门村', 'Asia/Shanghai', 27.11, 111.03, '石门村一组12号', person('王秀英', ID_WANG, '刘建军', '13800000001')),
          village('桃源村', 'Asia/Shanghai', 27.2, 111.1, '桃源村三组4号', person('陈桂兰', '430524194505051249', '周红', '13800000009')),
          // A village two hours behind Beijing time on the wall clock.
          village('天山村', 'Asia/Urumqi', 43.8, 87.6, '天山村二组7号', person('古丽', ID_GULI, '阿依古丽', '13800000021')),
        ],
      }),
    );
    const imported = runKanjia(['import', file], env);
    if (imported.status !== 0) throw new Error(`import failed: ${imported.stderr}`);
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    township = await apiClient(kanjia.httpUrl, env, { name: 'zhen', role: 'township', township: '石门镇', displayName: '镇民政办 王' });
    const list = await township.get<{ people: Person[] }>('/api/registry/people');
    residentId = list.people.find((p) => p.name === '王秀英')!.id;
    guliId = list.people.find((p) => p.name === '古丽')!.id;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
    officer = await browser.newContext({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN', acceptDownloads: true });
    desk = await officer.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await kanjia?.kill('SIGTERM');
    tmp.cleanup();
  });

  const namesIn = async (client: ApiClient, query = '') => (await client.get<{ people: Person[] }>(`/api/registry/people?status=all&pageSize=200${query}`)).people.map((p) => p.name).sort();

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
    // This system has no KANJIA_VISIT_REMINDER_HOUR: the reminder panel says it is off and what turns it on.
    expect(await page.getByTestId('reminders-off').textContent()).toContain('探访提醒短信未开启。设置 KANJIA_VISIT_REMINDER_HOUR');
    await saveScreenshot(page, 'registry-duty.png');
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
    await saveScreenshot(phone, 'visit-phone-360x740.png');
    await saveScreenshot(phone, 'visit-phone-360x740-full.png', { fullPage: true });
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

  it("downloads the export of a township officer's village: the policy's header, the village's people, ID numbers in full", async () => {
    await desk.goto(`${kanjia.httpUrl}/#/registry`);
    await logIn(desk, 'zhen');
    const rows = desk.getByTestId('registry-row');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
    await saveScreenshot(desk, 'registry-township.png');
    await desk.getByTestId('registry-village').selectOption({ label: '石门村' });
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
    const [download] = await Promise.all([desk.waitForEvent('download', { timeout: 10_000 }), desk.getByTestId('registry-export').click()]);
    expect(download.suggestedFilename()).toMatch(/^石门镇石门村台账-\d{4}-\d{2}-\d{2}\.xlsx$/);
    const saved = join(tmp.dir, download.suggestedFilename());
    await download.saveAs(saved);

    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(saved);
    expect(workbook.worksheets).toHaveLength(1);
    const sheet = workbook.worksheets[0]!;
    const cells = (row: number) => (sheet.getRow(row).values as unknown[]).slice(1).map((v) => (v === null || v === undefined ? '' : String(v)));
    const headerRow = [1, 2, 3, 4, 5].find((n) => cells(n)[0] === '序号')!;
    expect(cells(headerRow)).toEqual(POLICY_HEADER);
    const people: string[][] = [];
    for (let n = headerRow + 1; n <= sheet.rowCount; n++) if (cells(n)[1]) people.push(cells(n));
    expect(people.map((p) => p[1])).toEqual(['王秀英']);
    const [wang] = people;
    expect(wang!.slice(0, 6)).toEqual(['1', '王秀英', '女', ID_WANG, '留守老人 / 独居老人（需帮扶）', expect.stringContaining('刘建军（村妇女主任）')]);
    // The village's people, as the API has them.
    const shimen = (await township.get<{ people: Array<Person & { villageId: string }> }>('/api/registry/people')).people.find((p) => p.name === '王秀英')!.villageId;
    expect(await namesIn(township, `&villageId=${encodeURIComponent(shimen)}`)).toEqual(['王秀英']);
  });

  it('previews an import with every bad row and its reason, imports nothing before confirm, then only the good rows', async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet('名单');
    sheet.addRow([...POLICY_HEADER, '所属村']);
    sheet.addRow([1, '张桂花', '女', validId('43052419410305002'), '独居老人', '刘建军（村支书）13800000001', '每周上门', null, null, '石门村']); // row 2: good
    sheet.addRow([2, '周小梅', '女', wrongCheckDigit('43052419400101002'), '低保对象', '刘建军（村支书）13800000001', null, null, null, '石门村']); // row 3: check digit
    sheet.addRow([3, '钱奶奶', '女', null, '其他', '孙七（组长）', null, null, null, '石门村']); // row 4: no helper's phone
    sheet.addRow([4, '李德明', '男', null, '低保', '周红（组长）13800000009', null, null, null, '桃源村']); // row 5: good
    sheet.addRow([5, '赵大娘', '女', null, '其他', '刘建军（村支书）13800000001', null, null, null, '没有这个村']); // row 6: unknown village
    const file = join(tmp.dir, '石门镇台账.xlsx');
    writeFileSync(file, Buffer.from(await workbook.xlsx.writeBuffer()));
    const before = await namesIn(township);

    await desk.goto(`${kanjia.httpUrl}/#/alarms`);
    await desk.goto(`${kanjia.httpUrl}/#/registry`);
    await desk.getByTestId('registry-import-file').setInputFiles(file);
    const preview = desk.getByTestId('import-preview');
    await preview.waitFor({ timeout: 10_000 });
    expect(await preview.textContent()).toContain('新增 2 人');
    const problems = desk.getByTestId('import-problems').locator('tbody tr');
    const lines = await problems.allTextContents();
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/· 3.*身份证号码.*校验/);
    expect(lines[1]).toMatch(/· 4.*帮扶责任人（职务）.*手机号码/);
    expect(lines[2]).toMatch(/· 6.*没有“没有这个村”这个村/);
    await saveScreenshot(desk, 'registry-import-preview.png');
    // Nothing is written by the preview.
    expect(await namesIn(township)).toEqual(before);

    await desk.getByTestId('import-confirm').click();
    await expect.poll(async () => (await desk.getByTestId('import-done').count()) > 0, { timeout: 10_000 }).toBe(true);
    expect(await desk.getByTestId('import-done').textContent()).toContain('新增 2 人');
    expect(await namesIn(township)).toEqual([...before, '张桂花', '李德明'].sort());
    for (const name of ['周小梅', '钱奶奶', '赵大娘']) expect(await namesIn(township)).not.toContain(name);
  });

  it('edits the record: a bad value is refused next to its field in Chinese, the saved change is in the history at once', async () => {
    // Tall enough for the whole record: the screenshots show it without the sticky header cutting through (a full-page shot scrolls under it).
    await desk.setViewportSize({ width: 1366, height: 1900 });
    await desk.goto(`${kanjia.httpUrl}/#/registry/${encodeURIComponent(residentId)}`);
    await desk.getByTestId('person-edit').click();
    const form = desk.getByTestId('person-edit-form');
    await form.waitFor({ timeout: 10_000 });
    // The township office may change the ID number: the field is open and holds it in full.
    expect(await desk.getByTestId('edit-idNumber').isEnabled()).toBe(true);
    expect(await desk.getByTestId('edit-idNumber').inputValue()).toBe(ID_WANG);

    await desk.getByTestId('edit-phone').fill('12345');
    await desk.getByTestId('edit-idNumber').fill('430524194101011241');
    await desk.getByTestId('edit-careLevel').selectOption('especiallyDifficult');
    await desk.getByTestId('edit-save').click();
    await expect.poll(() => desk.getByTestId('edit-error-phone').count(), { timeout: 10_000 }).toBe(1);
    expect(await desk.getByTestId('edit-error-phone').textContent()).toContain('请填写11位手机号码');
    expect(await desk.getByTestId('edit-error-idNumber').textContent()).toBe('身份证号码最后一位（校验码）应为 0，不是 1：请检查是否输错。');
    await saveScreenshot(desk, 'person-edit-refused.png');
    // Refused: nothing changed.
    const unchanged = await township.get<{ phone: string | null; careLevel: string; idNumber: string }>(`/api/registry/people/${residentId}`);
    expect(unchanged).toMatchObject({ phone: null, careLevel: 'ordinary', idNumber: ID_WANG });

    await desk.getByTestId('edit-phone').fill('13712345678');
    await desk.getByTestId('edit-idNumber').fill(ID_WANG);
    await desk.getByTestId('edit-measures').fill('每周上门两次，冬季送煤');
    await desk.getByTestId('edit-guardianWorkplace').fill('广东省东莞市 电子厂');
    await desk.getByTestId('edit-livingSituation').selectOption('alone');
    await desk.getByTestId('edit-helper-post-0').fill('村支书');
    await desk.getByTestId('edit-helper-add').click();
    await desk.getByTestId('edit-helper-name-1').fill('陈明');
    await desk.getByTestId('edit-helper-phone-1').fill('13800000005');
    await desk.getByTestId('edit-helper-post-1').fill('网格员');
    // A corrected value no longer has its refusal beside it.
    expect(await desk.getByTestId('edit-error-phone').count()).toBe(0);
    expect(await desk.getByTestId('edit-error-idNumber').count()).toBe(0);
    await saveScreenshot(desk, 'person-edit-form.png');
    await desk.getByTestId('edit-save').click();
    await desk.getByTestId('person-saved').waitFor({ timeout: 10_000 });
    expect(await desk.getByTestId('person-edit-form').count()).toBe(0);

    // On the page at once: the record and its history.
    const history = desk.getByTestId('person-history');
    await expect.poll(async () => (await history.textContent()) ?? '', { timeout: 10_000 }).toContain('帮扶等级：一般 → 特别困难');
    const text = (await history.textContent()) ?? '';
    expect(text).toContain('电话：— → 13712345678');
    expect(text).toContain('帮扶措施：— → 每周上门两次，冬季送煤');
    expect(text).toContain('居住情况：— → 独居');
    expect(text).toContain('联系人 1：刘建军（帮扶责任人，村妇女主任）13800000001 → 刘建军（帮扶责任人，村支书）13800000001');
    expect(text).toContain('联系人 2：— → 陈明（帮扶责任人，网格员）13800000005');
    expect(text).toContain('镇民政办 王');
    const fields = (await desk.locator('.person__dl').textContent()) ?? '';
    expect(fields).toContain('特别困难');
    expect(fields).toContain('刘建军（村支书）');
    expect(fields).toContain('陈明（网格员）');
    await saveScreenshot(desk, 'person-saved.png');
    await desk.setViewportSize({ width: 1366, height: 900 });

    // And through the API.
    const record = await township.get<{ phone: string; careLevel: string; measures: string; livingSituation: string; guardian: { workplace: string }; helpers: Array<{ name: string; post: string | null }> }>(`/api/registry/people/${residentId}`);
    expect(record).toMatchObject({ phone: '13712345678', careLevel: 'especiallyDifficult', measures: '每周上门两次，冬季送煤', livingSituation: 'alone', guardian: { workplace: '广东省东莞市 电子厂' } });
    expect(record.helpers.map((h) => [h.name, h.post])).toEqual([['刘建军', '村支书'], ['陈明', '网格员']]);
    const entries = (await township.get<{ entries: Array<{ by: string; action: string; changes: Array<{ field: string; old: string | null; new: string | null }> }> }>(`/api/residents/${residentId}/history`)).entries;
    expect(entries.find((e) => e.action === 'updated')).toMatchObject({ by: '镇民政办 王', changes: expect.arrayContaining([{ field: 'careLevel', old: 'ordinary', new: 'especiallyDifficult' }]) });
  });

  it("gives a duty officer the form without the ID number or the chain (the API's rule)", async () => {
    await page.goto(`${kanjia.httpUrl}/#/registry/${encodeURIComponent(residentId)}`);
    await page.getByTestId('person-edit').click();
    await page.getByTestId('person-edit-form').waitFor({ timeout: 10_000 });
    expect(await page.getByTestId('edit-idNumber').isDisabled()).toBe(true);
    expect(await page.getByTestId('edit-idNumber').inputValue()).toMatch(/^430524\*+1240$/);
    expect(await page.getByTestId('edit-idNumber-locked').textContent()).toContain('只有镇民政办和管理员可以修改身份证号');
    expect(await page.getByTestId('edit-helper-name-0').isDisabled()).toBe(true);
    expect(await page.getByTestId('edit-helper-add').count()).toBe(0);
    // What the role may change, it saves.
    await page.getByTestId('edit-notes').fill('女儿每月回来一次');
    await page.getByTestId('edit-save').click();
    await page.getByTestId('person-saved').waitFor({ timeout: 10_000 });
    await expect.poll(async () => (await page.getByTestId('person-history').textContent()) ?? '', { timeout: 10_000 }).toContain('备注：— → 女儿每月回来一次');
    expect((await township.get<{ notes: string; idNumber: string }>(`/api/registry/people/${residentId}`))).toMatchObject({ notes: '女儿每月回来一次', idNumber: ID_WANG });
  });

  it("shows the visit page of a village in Asia/Urumqi in that village's time: the visits, the form's clock and the date due", async () => {
    // 17:30 UTC yesterday: 23:30 yesterday in Urumqi (UTC+6), but 01:30 today in Beijing.
    const now = new Date();
    const at = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - 6.5 * HOUR;
    const res = await township.post(`/api/residents/${guliId}/visits`, { at, mode: 'phone', health: 'good', mood: 'good' });
    expect(res.status).toBe(201);
    const urumqiDate = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Urumqi', year: 'numeric', month: '2-digit', day: '2-digit' }).format(at);
    // Ordinary care: twice a month, every 15 days from the visit's local date.
    const due = new Date(Date.parse(`${urumqiDate}T00:00:00Z`) + 15 * 24 * HOUR).toISOString().slice(0, 10);
    const record = await township.get<{ timezone: string; nextVisit: { date: string; reason: string } }>(`/api/registry/people/${guliId}`);
    expect(record.timezone).toBe('Asia/Urumqi');
    expect(record.nextVisit).toMatchObject({ date: due, reason: 'regular' });

    const phone = await officer.newPage();
    await phone.setViewportSize({ width: 360, height: 740 });
    await phone.goto(`${kanjia.httpUrl}/visit.html#/${encodeURIComponent(guliId)}`);
    await expect.poll(() => phone.getByTestId('visit-page').textContent(), { timeout: 10_000 }).toContain('古丽');
    const header = (await phone.locator('.visit-page__who').textContent()) ?? '';
    expect(header).toContain(`${due} 前`);
    const [, month, day] = urumqiDate.split('-').map(Number);
    expect(await phone.getByTestId('visit-item').first().textContent()).toContain(`${month}月${day}日 23:30:00`);
    const shown = await phone.getByTestId('visit-at').inputValue();
    expect(Math.abs(Date.parse(`${shown}:00+06:00`) - Date.now())).toBeLessThan(3 * 60_000);
    await saveScreenshot(phone, 'visit-phone-urumqi-360x740.png');
    await phone.close();
  });
});
