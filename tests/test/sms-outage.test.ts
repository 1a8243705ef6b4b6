/**
 * The SMS provider out, through real processes: `kanjia start` with the Aliyun
 * provider pointed at the local SendSms server (which checks the signature)
 * switched to no credit; a simulated button presses SOS over MQTT; the duty
 * officer, logged in on the dashboard in headless Chromium, sees the red
 * banner and the helper's SMS waiting; the chain does not move while the
 * provider is out; then the provider is fixed: the SMS goes out, the banner
 * goes away, and the escalation resumes from then. The screenshot goes to
 * tests/screenshots/ (git-ignored).
 */
import { LOCAL_SMS_CONTROL_PATH, LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import type { AlarmView, HealthResponse } from '@kanjia/protocol';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { addUser, ALIYUN_TEST_TEMPLATES, apiClient, haveBinary, REPO_ROOT, household, importVillage, kanjiaEnv, sleep, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const silent = { info: () => undefined, warn: () => undefined };
const KEY = { accessKeyId: 'LTAI5tKanjiaOutageE2E', accessKeySecret: 'outage-e2e-secret-0123456789' };
/** The take timeout of this run: short, so that "the chain did not move" means several timeouts passed. */
const ESCALATION_SECONDS = 3;
const SCREENSHOTS = join(REPO_ROOT, 'tests', 'screenshots');

describe.skipIf(!hasChromium)('SMS provider without credit, then fixed: real processes and the dashboard in Chromium', () => {
  const tmp = tempDir();
  const sms = new LocalAliyunSmsServer({
    ...KEY,
    signNames: ['智慧看家'],
    templates: ALIYUN_TEST_TEMPLATES,
  });
  let smsUrl: string;
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let page: Page;
  let device: SimDevice;
  let api: ApiClient;

  beforeAll(async () => {
    const address = await sms.start();
    smsUrl = address.url;
    const made = await kanjiaEnv(tmp.dir, { ...address, ...KEY });
    const env = { ...made.env, KANJIA_ESCALATION_TIMEOUT_SECONDS: String(ESCALATION_SECONDS), KANJIA_SMS_OUTAGE_PROBE_MAX_SECONDS: '1' };
    const creds = importVillage(env, [
      household('石门村一组12号', '王秀英', [
        ['刘建军', 'helper', '13800000001'],
        ['赵春梅', 'doctor', '13800000002'],
      ]),
    ])[0]!;
    addUser(env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, undefined, { name: 'liming' });
    device = new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${made.mqttPort}`, deviceId: creds.deviceId, secret: creds.secret, logger: silent, resendIntervalMs: 1000 });
    await device.start();
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
    await page.goto(kanjia.httpUrl);
    await logIn(page, 'liming');
    await waitFor('the live feed connected', async () => ((await page.getByTestId('connection-state').getAttribute('data-state')) === 'connected' ? true : undefined));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await device?.stop();
    await kanjia?.kill('SIGTERM');
    await sms.stop();
    tmp.cleanup();
  });

  const health = async () => (await fetch(`${kanjia.httpUrl}/api/health`)).json() as Promise<HealthResponse>;
  /** Switches the local SendSms server over its control endpoint, as an operator of a test bench would. */
  const setMode = async (mode: string) => expect((await fetch(`${smsUrl}${LOCAL_SMS_CONTROL_PATH}`, { method: 'PUT', body: JSON.stringify({ mode }) })).status).toBe(200);

  it('no credit: the SOS opens its case, nothing is sent, the banner says the SMS provider is out and the helper’s SMS shows as waiting; the chain does not move', async () => {
    await setMode('no-credit');
    const press = device.pressSos();
    const { alarmId } = await press.received;

    const banner = page.locator('[data-testid="system-banner"][data-code="SMS_PROVIDER_OUTAGE"]');
    await expect.poll(() => banner.count(), { timeout: 15_000 }).toBe(1);
    const text = await banner.textContent();
    expect(text).toContain('短信平台');
    expect(text).toContain('isv.AMOUNT_NOT_ENOUGH');
    expect(text).toContain('请立即电话通知帮扶责任人');
    const card = page.getByTestId('alarm-card');
    await expect.poll(() => card.count(), { timeout: 10_000 }).toBe(1);
    const notice = card.getByTestId('notification');
    await expect.poll(() => notice.getAttribute('data-waiting'), { timeout: 10_000 }).toBe('provider');
    expect(await notice.textContent()).toContain('等待短信平台恢复');
    expect(await notice.textContent()).not.toContain('发送失败');
    // No countdown to the next contact: the escalation waits for this SMS.
    expect(await card.getByTestId('next-escalation').textContent()).toContain('此短信发出后');
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'sms-outage.png') });

    const h = await health();
    expect(h.status).toBe('degraded');
    expect(h.problems).toMatchObject([{ code: 'SMS_PROVIDER_OUTAGE', severity: 'critical', unhealthy: false, details: { reason: 'isv.AMOUNT_NOT_ENOUGH' } }]);

    // Three take timeouts: had the first SMS counted as failed, the doctor would have been texted long ago.
    await sleep(3 * ESCALATION_SECONDS * 1000);
    const view = await api.get<AlarmView>(`/api/alarms/${alarmId}`);
    expect(view).toMatchObject({ status: 'open', escalationLevel: 0 });
    expect(view.notifications.map((n) => [n.contactName, n.status, n.attempts, n.waitingForProvider])).toEqual([['刘建军', 'pending', 0, true]]);
    expect(sms.accepted).toEqual([]);
    // Probed one request at a time, about once a second: not a burst.
    expect(sms.rejected.length).toBeGreaterThanOrEqual(3);
    expect(sms.rejected.length).toBeLessThanOrEqual(3 * ESCALATION_SECONDS + 4);
    expect(sms.rejected.every((r) => r.code === 'isv.AMOUNT_NOT_ENOUGH')).toBe(true);
  });

  it('credit topped up: the helper’s SMS goes out (signature checked), the banner goes away, and the doctor is texted a take timeout after it', async () => {
    await setMode('ok');
    const helper = await sms.waitFor((m) => m.phoneNumbers === '13800000001', 10_000);
    expect(helper).toMatchObject({ signName: '智慧看家', templateCode: 'SMS_100001', templateParam: { name: '王秀英', kind: '紧急呼叫' } });
    await expect.poll(() => page.locator('[data-testid="system-banner"][data-code="SMS_PROVIDER_OUTAGE"]').count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => page.getByTestId('notification').first().getAttribute('data-status'), { timeout: 10_000 }).toBe('sent');
    expect((await health()).status).toBe('ok');

    const doctor = await sms.waitFor((m) => m.phoneNumbers === '13800000002', (ESCALATION_SECONDS + 5) * 1000);
    // The doctor's time counts from the helper's SMS, not from the press seconds earlier.
    expect(doctor.receivedAtMs - helper.receivedAtMs).toBeGreaterThanOrEqual(ESCALATION_SECONDS * 1000 - 200);
    expect(doctor.templateCode).toBe('SMS_100002');
    // The provider's answer is written with the next grouped commit: the row says sent a moment after the request.
    await expect
      .poll(async () => (await api.get<{ alarms: AlarmView[] }>('/api/alarms')).alarms[0]!.notifications.map((n) => [n.contactName, n.status]), { timeout: 10_000 })
      .toEqual([
        ['刘建军', 'sent'],
        ['赵春梅', 'sent'],
      ]);
  });
});
