/**
 * The visit reminder panel (探访提醒短信) of the registry page in a real browser
 * (Debian Chromium) against a real `kanjia start` sending through Aliyun's
 * local SendSms stand-in, which refuses one helper's number
 * (isv.MOBILE_NUMBER_ILLEGAL) and takes the other's: the panel counts one sent
 * and one failed, and lists the failed helper in red with their number, their
 * person and "号码无效", so the office can phone them. The reminder hour is the
 * current hour of Beijing time, so the system reminds at its start (the
 * window is three hours from the hour), like the demo's tip in docs/township.md.
 *
 * The screenshot goes to tests/screenshots/ (git-ignored) and $KANJIA_SCREENSHOT_DIR.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SMS_NOTICE_TEMPLATES } from '@kanjia/alerts';
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import type { VisitRemindersAnswer } from '@kanjia/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { ALIYUN_TEST_TEMPLATES, apiClient, haveBinary, kanjiaEnv, runKanjia, sleep, startKanjia, tempDir, type ApiClient, type KanjiaProcess } from '../src/harness.js';
import { saveScreenshot } from '../src/screenshots.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const ACCESS_KEY_ID = 'LTAIreminderpanel';
const ACCESS_KEY_SECRET = 'reminder-panel-secret-0123';
const LIU = '13800000001';
const ZHOU = '13800000009';
const DAY_MS = 24 * 3_600_000;
/** The hour and the date of `ms` on Beijing's clock. */
const beijing = (ms: number) => ({
  hour: Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', hourCycle: 'h23' }).format(ms)),
  date: new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(ms),
});

describe.skipIf(!hasChromium)('the visit reminder panel in Chromium', () => {
  const tmp = tempDir();
  const sms = new LocalAliyunSmsServer({
    accessKeyId: ACCESS_KEY_ID,
    accessKeySecret: ACCESS_KEY_SECRET,
    signNames: ['智慧看家'],
    templates: { ...ALIYUN_TEST_TEMPLATES, SMS_100004: SMS_NOTICE_TEMPLATES.visitReminder.variables },
  });
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let page: Page;
  let township: ApiClient;
  let hour: number;

  beforeAll(async () => {
    // The test reads "tomorrow" and the hour on Beijing's clock, as the server does: not across its midnight.
    const toMidnight = DAY_MS - ((Date.now() + 8 * 3_600_000) % DAY_MS);
    if (toMidnight < 3 * 60_000) await sleep(toMidnight + 5_000);
    hour = beijing(Date.now()).hour;
    const aliyun = await sms.start();
    sms.setState({ badNumbers: [LIU] });
    const { env } = await kanjiaEnv(tmp.dir, { ...aliyun, accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET });
    env.KANJIA_ALIYUN_TEMPLATE_VISIT_REMINDER = 'SMS_100004';
    env.KANJIA_VISIT_REMINDER_HOUR = String(hour);
    // Especially difficult care is visited weekly: joined 6 days ago (Beijing calendar), never visited, due tomorrow.
    const joinedOn = beijing(Date.now() - 6 * DAY_MS).date;
    const person = (name: string, helper: string, phone: string) => ({ name, sex: 'F' as const, careLevel: 'especiallyDifficult' as const, joinedOn, contacts: [{ name: helper, role: 'helper' as const, phone }] });
    const file = join(tmp.dir, 'registry.json');
    writeFileSync(
      file,
      JSON.stringify({
        villages: [
          {
            name: '石门村',
            township: '石门镇',
            timezone: 'Asia/Shanghai',
            lat: 27.11,
            lng: 111.03,
            households: [
              { address: '石门村一组12号', lat: 27.112, lng: 111.031, residents: [person('王秀英', '刘建军', LIU)], devices: [] },
              { address: '石门村三组4号', lat: 27.113, lng: 111.032, residents: [person('陈桂兰', '周红', ZHOU)], devices: [] },
            ],
          },
        ],
      }),
    );
    const imported = runKanjia(['import', file], env);
    if (imported.status !== 0) throw new Error(`import failed: ${imported.stderr}`);
    kanjia = await startKanjia(env);
    township = await apiClient(kanjia.httpUrl, env, { name: 'zhen', role: 'township', township: '石门镇', displayName: '镇民政办 王' });
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 800 }, locale: 'zh-CN' });
  }, 4 * 60_000);

  afterAll(async () => {
    await browser?.close();
    await kanjia?.kill('SIGTERM');
    await sms.stop();
    tmp.cleanup();
  });

  it("shows tonight's reminders: one sent, one failed in red with the helper, the number, her person and 号码无效", async () => {
    // The system decides and sends at its start: the stand-in took 周红's and refused 刘建军's.
    await expect.poll(async () => (await township.get<VisitRemindersAnswer>('/api/visits/reminders')).counts, { timeout: 15_000 }).toEqual({ pending: 0, sent: 1, failed: 1, expired: 0 });
    expect(sms.accepted.map((s) => [s.phoneNumbers, s.templateCode])).toEqual([[ZHOU, 'SMS_100004']]);

    await page.goto(`${kanjia.httpUrl}/#/registry`);
    await logIn(page, 'zhen');
    const panel = page.getByTestId('reminders-panel');
    await expect.poll(() => panel.getByTestId('reminders-summary').textContent(), { timeout: 10_000 }).toContain('已发送 1 · 失败 1 · 待发送 0');
    expect(await panel.getByTestId('reminders-summary').textContent()).toContain(`${hour >= 17 ? '今晚' : '今天'}${String(hour).padStart(2, '0')}:00发送`);
    const failed = panel.getByTestId('reminder-failed');
    expect(await failed.count()).toBe(1);
    const text = (await failed.textContent()) ?? '';
    expect(text).toContain('刘建军');
    expect(text).toContain(LIU); // a township officer sees numbers, to phone the helper
    expect(text).toContain('王秀英');
    expect(await failed.getByTestId('reminder-reason').textContent()).toBe('号码无效');
    expect(text).not.toContain('周红');
    // Red: the dashboard's --red (#b3001b).
    // The page's own getComputedStyle (this file is typed without the DOM).
    expect(await failed.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(el).color)).toBe('rgb(179, 0, 27)');
    await panel.scrollIntoViewIfNeeded();
    await saveScreenshot(page, 'visit-reminders-panel.png');
  });
});

