/**
 * Issue 12, acceptance 1: a receipt "delivered" and a receipt "failed" show
 * on the dashboard. Real processes: `kanjia start` with a Twilio-compatible
 * SMS provider pointed at its local stand-in (Basic auth checked), which
 * answers each message's status as the test sets it; two buttons press SOS;
 * the duty officer, logged in on the dashboard in headless Chromium, sees
 * one helper's SMS delivered and the other's not delivered, in red, with the
 * next contact told at once. The screenshot goes to tests/screenshots/.
 */
import { LocalTwilioServer } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import type { AlarmView } from '@kanjia/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { addUser, apiClient, haveBinary, household, importVillage, kanjiaEnv, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';
import { saveScreenshot } from '../src/screenshots.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const silent = { info: () => undefined, warn: () => undefined };
const TWILIO = { accountSid: `AC${'fedcba9876543210'.repeat(2)}`, authToken: 'receipts-e2e-token-0123456789' };

describe.skipIf(!hasChromium)('delivery receipts on the dashboard: real processes, a Twilio-compatible provider at its stand-in, Chromium', () => {
  const tmp = tempDir();
  const twilio = new LocalTwilioServer({ ...TWILIO, senders: ['+8610690001'] });
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let page: Page;
  let api: ApiClient;
  const devices: SimDevice[] = [];

  beforeAll(async () => {
    const at = await twilio.start();
    const made = await kanjiaEnv(tmp.dir);
    const env = {
      ...made.env,
      KANJIA_SMS_PROVIDER: 'twilio',
      KANJIA_TWILIO_ACCOUNT_SID: TWILIO.accountSid,
      KANJIA_TWILIO_AUTH_TOKEN: TWILIO.authToken,
      KANJIA_TWILIO_FROM: '+8610690001',
      KANJIA_TWILIO_BASE_URL: at.url,
      KANJIA_PUBLIC_URL: 'https://kanjia.example.cn',
    };
    const creds = importVillage(env, [
      household('石门村一组1号', '王秀英', [
        ['刘建军', 'helper', '13800000001'],
        ['赵春梅', 'doctor', '13800000011'],
      ]),
      household('石门村一组2号', '张德福', [
        ['王志强', 'helper', '13800000002'],
        ['孙丽', 'doctor', '13800000012'],
      ]),
    ]);
    addUser(env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, undefined, { name: 'liming' });
    for (const c of creds) {
      const d = new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${made.mqttPort}`, deviceId: c.deviceId, secret: c.secret, logger: silent, resendIntervalMs: 1000 });
      await d.start();
      devices.push(d);
    }
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 900 }, locale: 'zh-CN' });
    await page.goto(kanjia.httpUrl);
    await logIn(page, 'liming');
    await waitFor('the live feed connected', async () => ((await page.getByTestId('connection-state').getAttribute('data-state')) === 'connected' ? true : undefined));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const d of devices) await d.stop();
    await kanjia?.kill('SIGTERM');
    await twilio.stop();
    tmp.cleanup();
  });

  it('one SMS delivered, one not delivered: both show on the case cards, the undelivered one in red with the next contact told', async () => {
    const first = (await devices[0]!.pressSos().received).alarmId as string;
    const second = (await devices[1]!.pressSos().received).alarmId as string;
    const toLiu = await twilio.waitFor((m) => m.to === '+8613800000001', 10_000);
    const toWang = await twilio.waitFor((m) => m.to === '+8613800000002', 10_000);
    expect(toLiu.authUser).toBe(TWILIO.accountSid);
    // Before the provider says anything, the receipt is awaited.
    await expect
      .poll(async () => (await api.get<AlarmView>(`/api/alarms/${first}`)).notifications.find((n) => n.purpose === 'chain')?.delivery?.state, { timeout: 10_000 })
      .toBe('waiting');
    expect(twilio.setDelivery(toLiu.sid, { status: 'delivered' })).toBe(true);
    expect(twilio.setDelivery(toWang.sid, { status: 'undelivered', errorCode: 30003, errorMessage: 'Unreachable destination handset' })).toBe(true);

    // The first question comes 15 s after the send.
    const cardOf = (resident: string) => page.getByTestId('alarm-card').filter({ hasText: resident });
    const liuNotice = cardOf('王秀英').getByTestId('notification').filter({ hasText: '刘建军' });
    const wangNotice = cardOf('张德福').getByTestId('notification').filter({ hasText: '王志强' });
    await expect.poll(() => liuNotice.getAttribute('data-delivery'), { timeout: 40_000 }).toBe('delivered');
    await expect.poll(() => wangNotice.getAttribute('data-delivery'), { timeout: 40_000 }).toBe('failed');
    expect(await liuNotice.getByTestId('notification-delivery').textContent()).toContain('已送达');
    expect(await liuNotice.getAttribute('data-unreached')).toBeNull();
    expect(await wangNotice.getByTestId('notification-delivery').textContent()).toContain('未送达');
    expect(await wangNotice.getAttribute('data-unreached')).toBe('true');
    expect(await wangNotice.getByTestId('notification-unreached').textContent()).toContain('30003');
    // Red: the row's background is the card's red.
    // The page's own getComputedStyle (this file is typed without the DOM).
    const background = await wangNotice.evaluate((el) => (globalThis as unknown as { getComputedStyle(e: unknown): { backgroundColor: string } }).getComputedStyle(el).backgroundColor);
    expect(background).not.toBe('rgba(0, 0, 0, 0)');

    // Not reached counts as not reached: the next contact of that case is texted at once, the other case waits.
    const toSun = await twilio.waitFor((m) => m.to === '+8613800000012', 10_000);
    expect(toSun.body).toContain('张德福');
    expect(twilio.messages.some((m) => m.to === '+8613800000011')).toBe(false);
    const view = await api.get<AlarmView>(`/api/alarms/${second}`);
    expect(view.history.map((e) => e.note)).toContainEqual(expect.stringMatching(/^发给王志强的短信未送达（30003.*），视为未联系上，立即通知下一位联系人$/));
    await saveScreenshot(page, 'receipts-dashboard.png');
  }, 90_000);
});
