/**
 * One SMS for several alarms, answered on a phone (issue 12, the provider's
 * limits), with real processes and a phone-sized headless Chromium: `kanjia
 * start` with the Aliyun provider pointed at the local SendSms server and a
 * 10-second bundle window; four households of 石门村 whose helper is one
 * person, 刘建军 (13800000001), each with a water-leak sensor (SimDevice over
 * MQTT). The first leak is texted at once; the next three, within the window,
 * go as one SMS at its end. Its link, opened at 360×740, lists the three
 * (此短信共3起报警); the helper taps the second, takes it, and the page and the
 * API say it is taken while the other two wait; a reload keeps the case shown.
 * Screenshots go to tests/screenshots/ (and $KANJIA_SCREENSHOT_DIR).
 */
import { fillTemplate, PUBLIC_URL_PLACEHOLDER, SMS_TEMPLATES } from '@kanjia/alerts';
import { LocalAliyunSmsServer, type AcceptedSms } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import type { AlarmView } from '@kanjia/protocol';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from '../src/browser.js';
import { apiClient, freePort, haveBinary, household, importVillage, kanjiaEnv, startKanjia, tempDir, type ApiClient, type KanjiaProcess } from '../src/harness.js';
import { saveScreenshot } from '../src/screenshots.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const ACCESS_KEY_ID = 'LTAI5tKanjiaBundle';
const ACCESS_KEY_SECRET = 'bundle-secret-0123456789abcdef';
const HELPER = '13800000001';
const silent = { info: () => undefined, warn: () => undefined };

/** The SMS as the phone shows it: the registered template, your address in it, the variables filled. */
function smsText(sms: AcceptedSms, publicUrl: string): string {
  const template = SMS_TEMPLATES.alarm.content['zh-CN'].split(PUBLIC_URL_PLACEHOLDER).join(publicUrl);
  return `【${sms.signName}】${fillTemplate(template, sms.templateParam)}`;
}

describe.skipIf(!hasChromium)('the link of a bundled SMS on a phone', () => {
  const tmp = tempDir();
  const sms = new LocalAliyunSmsServer({
    accessKeyId: ACCESS_KEY_ID,
    accessKeySecret: ACCESS_KEY_SECRET,
    signNames: ['智慧看家'],
    templates: { SMS_100001: SMS_TEMPLATES.alarm.variables, SMS_100002: SMS_TEMPLATES.escalation.variables, SMS_100003: SMS_TEMPLATES.cancelled.variables },
  });
  const sensors: SimDevice[] = [];
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let phone: Page;
  let api: ApiClient;
  let publicUrl: string;

  beforeAll(async () => {
    const aliyun = await sms.start();
    const made = await kanjiaEnv(tmp.dir, { ...aliyun, accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET });
    const env = made.env;
    env.KANJIA_HTTP_PORT = String(await freePort());
    publicUrl = `http://127.0.0.1:${env.KANJIA_HTTP_PORT}`;
    env.KANJIA_PUBLIC_URL = publicUrl;
    env.KANJIA_SMS_BUNDLE_WINDOW_SECONDS = '10';
    const leakSensor = { devices: [{ kind: 'waterLeakSensor' as const }] };
    const creds = importVillage(env, [
      household('石门村一组1号', '王秀英', [['刘建军', 'helper', HELPER]], leakSensor),
      household('石门村二组3号', '张德福', [['刘建军', 'helper', HELPER]], leakSensor),
      household('石门村二组5号', '李桂兰', [['刘建军', 'helper', HELPER]], leakSensor),
      household('石门村三组7号', '赵大爷', [['刘建军', 'helper', HELPER]], leakSensor),
    ]);
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    for (const c of creds) {
      const d = new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${made.mqttPort}`, deviceId: c.deviceId, secret: c.secret, logger: silent, resendIntervalMs: 1000 });
      await d.start();
      sensors.push(d);
    }
    browser = await launchChromium();
    phone = await browser.newPage({ viewport: { width: 360, height: 740 }, locale: 'zh-CN', isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  }, 60_000);

  afterAll(async () => {
    for (const d of sensors) await d.stop();
    await browser?.close();
    await kanjia?.kill('SIGTERM');
    await sms.stop();
    tmp.cleanup();
  });

  /** A water leak: two wet readings confirm it (the environment monitor's rule). */
  const leak = async (sensor: number) => {
    await sensors[sensor]!.sendTelemetry({ waterLeak: true });
    await sensors[sensor]!.sendTelemetry({ waterLeak: true });
  };
  const active = () => api.get<{ alarms: AlarmView[] }>('/api/alarms');

  it('lists the three cases of the SMS, opens the second, takes it; the page and the API say so, the others wait', async () => {
    await leak(0);
    const first = await sms.waitFor((m) => m.phoneNumbers === HELPER, 15_000);
    expect(first.templateParam.name).toBe('王秀英');
    // Within the window of that SMS: the next three wait for its end and go as one.
    for (const s of [1, 2, 3]) await leak(s);
    await expect.poll(async () => (await active()).alarms.length, { timeout: 10_000 }).toBe(4);
    const bundle = await sms.waitFor((m) => m.phoneNumbers === HELPER && m.templateParam.name !== '王秀英', 30_000);
    expect(bundle.templateParam).toMatchObject({ kind: '漏水等3起', name: '张德福、李桂兰、赵大爷', detail: '共3起报警未处理，请逐一确认，链接中可查看全部' });
    expect(sms.accepted.filter((m) => m.phoneNumbers === HELPER)).toHaveLength(2);
    const text = smsText(bundle, publicUrl);
    const link = /点此接警：(http:\/\/\S+\/a\/[0-9a-z]{12})$/.exec(text)?.[1];
    expect(link, text).toBeDefined();

    const byName = new Map((await active()).alarms.map((a) => [a.resident.name, a.id]));
    await phone.goto(link!);
    await expect.poll(() => phone.getByTestId('answer-case').count(), { timeout: 10_000 }).toBe(3);
    expect(await phone.getByTestId('answer-bundle').locator('h2').textContent()).toBe('此短信共3起报警');
    const rows = phone.getByTestId('answer-case');
    expect(await rows.allTextContents()).toEqual([expect.stringContaining('张德福（石门村）'), expect.stringContaining('李桂兰（石门村）'), expect.stringContaining('赵大爷（石门村）')]);
    for (const row of await rows.all()) expect(await row.textContent()).toMatch(/漏水.*\d{2}:\d{2} · 待接警/);
    // The carrier's case is the one shown, and marked.
    expect(await rows.nth(0).getAttribute('aria-current')).toBe('true');
    expect(await phone.getByTestId('answer-resident').textContent()).toContain('张德福');
    // Thumb-sized rows, nothing wider than the screen.
    for (const row of await rows.all()) expect((await row.boundingBox())!.height).toBeGreaterThanOrEqual(56);
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await saveScreenshot(phone, 'answer-bundle-open.png', { fullPage: true });

    // The second: shown, in the URL, marked; then taken.
    await rows.nth(1).click();
    await expect.poll(() => phone.getByTestId('answer-resident').textContent(), { timeout: 10_000 }).toContain('李桂兰');
    expect(new URL(phone.url()).searchParams.get('case')).toBe(byName.get('李桂兰'));
    expect(await rows.nth(1).getAttribute('aria-current')).toBe('true');
    expect(await phone.getByTestId('answer-address').textContent()).toContain('石门村二组5号');
    await phone.getByTestId('answer-take').click();
    await expect.poll(() => phone.getByTestId('answer-status').getAttribute('data-status'), { timeout: 10_000 }).toBe('taken');
    expect(await phone.getByTestId('answer-taken-by').textContent()).toContain('帮扶责任人 刘建军');
    expect(await rows.nth(1).getAttribute('data-status')).toBe('taken');
    // The helper can go on: the next case still waiting is offered.
    expect(await phone.getByTestId('answer-next').textContent()).toContain('此短信还有2起报警未处理完');
    expect(await phone.getByTestId('answer-next-case').textContent()).toContain('张德福');
    await saveScreenshot(phone, 'answer-bundle-taken.png', { fullPage: true });

    const after = new Map((await active()).alarms.map((a) => [a.resident.name, a]));
    expect(after.get('李桂兰')).toMatchObject({ status: 'taken', takenBy: '帮扶责任人 刘建军' });
    expect(after.get('李桂兰')!.history.at(-1)).toMatchObject({ action: 'taken', by: '帮扶责任人 刘建军' });
    for (const name of ['张德福', '赵大爷', '王秀英']) expect(after.get(name)).toMatchObject({ status: 'open', takenBy: null });

    // A reload keeps the case; English names the list too.
    await phone.reload();
    await expect.poll(() => phone.getByTestId('answer-resident').textContent(), { timeout: 10_000 }).toContain('李桂兰');
    await phone.getByTestId('answer-lang').click();
    await expect.poll(() => phone.getByTestId('answer-bundle').locator('h2').textContent()).toBe('This SMS names 3 alarms');
    expect(await rows.nth(1).textContent()).toMatch(/Water leak.*李桂兰 \(石门村\).*Taken/);
    await saveScreenshot(phone, 'answer-bundle-en.png', { fullPage: true });
    await phone.getByTestId('answer-lang').click();

    // The first from the list, resolved: the page then offers the one nobody has taken yet.
    await rows.nth(0).click();
    await expect.poll(() => phone.getByTestId('answer-resident').textContent(), { timeout: 10_000 }).toContain('张德福');
    expect(new URL(phone.url()).searchParams.get('case')).toBe(byName.get('张德福'));
    await phone.getByTestId('answer-resolve').click();
    await phone.getByTestId('answer-note').fill('水管接头松了，已拧紧');
    await phone.getByTestId('answer-outcome-real').click();
    await phone.getByTestId('answer-resolve-confirm').click();
    await expect.poll(() => phone.getByTestId('answer-status').getAttribute('data-status'), { timeout: 10_000 }).toBe('resolved');
    expect(await rows.nth(0).getAttribute('data-status')).toBe('resolved');
    expect(await phone.getByTestId('answer-next').textContent()).toContain('此短信还有2起报警未处理完');
    expect(await phone.getByTestId('answer-next-case').textContent()).toContain('赵大爷');
    await saveScreenshot(phone, 'answer-bundle-resolved.png', { fullPage: true });
    await phone.getByTestId('answer-next-case').click();
    await expect.poll(() => phone.getByTestId('answer-resident').textContent(), { timeout: 10_000 }).toContain('赵大爷');
    expect(await phone.getByTestId('answer-take').isVisible()).toBe(true);
    expect((await active()).alarms.find((a) => a.id === byName.get('张德福'))).toBeUndefined();
    expect(kanjia.output()).not.toContain(bundle.templateParam.code);
  }, 120_000);
});
