/**
 * The helper answers from the SMS, with real processes and a phone-sized
 * headless Chromium: `kanjia start` with the Aliyun provider pointed at the
 * local SendSms server, an SOS published with mosquitto_pub, the link read
 * from the SMS the SendSms server received (the registered template's fixed
 * text with its variables), opened on a 360×640 page. 我去处理 takes the case:
 * the button hears `taken` (mosquitto_sub), the case is taken by that helper,
 * on the live dashboard too, and nobody else is texted after the escalation
 * timeout; then 已到现场 and 已处理 with a note; then the link has expired.
 * Screenshots go to tests/screenshots/ (git-ignored).
 */
import { fillTemplate, PUBLIC_URL_PLACEHOLDER, SMS_TEMPLATES } from '@kanjia/alerts';
import { LocalAliyunSmsServer, type AcceptedSms } from '@kanjia/alerts/testing';
import { topics, type AlarmView } from '@kanjia/protocol';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { addHouseholdWithCli, apiClient, freePort, haveBinary, kanjiaEnv, REPO_ROOT, sleep, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const hasMosquitto = haveBinary('mosquitto_pub', 'apt-get install mosquitto-clients');
const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const ACCESS_KEY_ID = 'LTAI5tKanjiaAnswer';
const ACCESS_KEY_SECRET = 'answer-secret-0123456789abcdef';
const SCREENSHOTS = join(REPO_ROOT, 'tests', 'screenshots');
const ESCALATION_SECONDS = 3;

/** The SMS as the phone shows it: the registered template, your address in it, the variables filled. */
function smsText(sms: AcceptedSms, publicUrl: string): string {
  const template = SMS_TEMPLATES.alarm.content['zh-CN'].split(PUBLIC_URL_PLACEHOLDER).join(publicUrl);
  return `【${sms.signName}】${fillTemplate(template, sms.templateParam)}`;
}

describe.skipIf(!hasMosquitto || !hasChromium)('the helper answers from the SMS link on a phone', () => {
  const tmp = tempDir();
  const sms = new LocalAliyunSmsServer({
    accessKeyId: ACCESS_KEY_ID,
    accessKeySecret: ACCESS_KEY_SECRET,
    signNames: ['智慧看家'],
    templates: { SMS_100001: SMS_TEMPLATES.alarm.variables, SMS_100002: SMS_TEMPLATES.escalation.variables, SMS_100003: SMS_TEMPLATES.cancelled.variables },
  });
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let phone: Page;
  let env: Record<string, string>;
  let api: ApiClient;
  let mqttPort: number;
  let publicUrl: string;
  let device: { deviceId: string; secret: string };
  let buttonConnection: ReturnType<typeof spawn> | undefined;

  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    const aliyun = await sms.start();
    ({ env, mqttPort } = await kanjiaEnv(tmp.dir, { ...aliyun, accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET }));
    env.KANJIA_HTTP_PORT = String(await freePort());
    publicUrl = `http://127.0.0.1:${env.KANJIA_HTTP_PORT}`;
    env.KANJIA_PUBLIC_URL = publicUrl;
    env.KANJIA_ESCALATION_TIMEOUT_SECONDS = String(ESCALATION_SECONDS);
    device = addHouseholdWithCli(env);
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    browser = await launchChromium();
    phone = await browser.newPage({ viewport: { width: 360, height: 640 }, locale: 'zh-CN', isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  }, 60_000);

  afterAll(async () => {
    buttonConnection?.stdin?.end();
    await browser?.close();
    await kanjia?.kill('SIGTERM');
    await sms.stop();
    tmp.cleanup();
  });

  it('我去处理 on the phone takes the SOS: the button hears `taken`, the case is the helper’s, nobody else is texted; then on site and resolved with a note', async () => {
    // The button's second client listens for `received` and then `taken`.
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-u', device.deviceId, '-P', device.secret, '-i', `${device.deviceId}:listener`, '-t', topics.commands(device.deviceId), '-q', '1', '-W', '60']);
    let heard = '';
    sub.stdout.on('data', (d: Buffer) => (heard += d.toString()));
    const subDone = new Promise<number>((resolve) => sub.once('exit', (code) => resolve(code ?? -1)));
    // The button's own connection (client id = device id) says it is online and stays, so `taken` can reach it.
    const own = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-i', device.deviceId, '-u', device.deviceId, '-P', device.secret, '-t', topics.status(device.deviceId), '-q', '1', '-r', '-l']);
    buttonConnection = own;
    own.stdin.write(`${JSON.stringify({ id: 'st-1', ts: Date.now(), state: 'online', firmware: 'e2e', batteryPct: 90 })}\n`);
    await sleep(500);
    const event = { id: 'sos-answer-1', ts: Date.now(), type: 'sos' };
    const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-i', `${device.deviceId}:pub`, '-u', device.deviceId, '-P', device.secret, '-t', topics.events(device.deviceId), '-q', '1', '-m', JSON.stringify(event)]);
    expect(await new Promise<number>((resolve) => pub.once('exit', (code) => resolve(code ?? -1)))).toBe(0);

    const first = await sms.waitFor((m) => m.phoneNumbers === '13800000001', 15_000);
    expect(first.templateCode).toBe('SMS_100001');
    const text = smsText(first, publicUrl);
    const link = /点此接警：(http:\/\/\S+\/a\/[0-9a-z]{12})$/.exec(text)?.[1];
    expect(link, text).toBeDefined();
    expect(sms.rejected).toEqual([]);

    await phone.goto(link!);
    await expect.poll(() => phone.getByTestId('answer-kind').textContent(), { timeout: 10_000 }).toBe('紧急呼叫');
    expect(await phone.getByTestId('answer-resident').textContent()).toContain('王秀英');
    expect(await phone.getByTestId('answer-address').textContent()).toContain('石门村一组12号');
    expect(await phone.locator('main').textContent()).toContain('钥匙在隔壁王大姐家');
    expect(await phone.getByTestId('answer-since').textContent()).toMatch(/\d+月\d+日 \d{2}:\d{2}:\d{2}/);
    expect(await phone.getByTestId('answer-you').textContent()).toContain('帮扶责任人 刘建军');
    // Fits the phone: nothing wider than the screen.
    expect(await phone.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(360);
    await phone.screenshot({ path: join(SCREENSHOTS, 'answer-open.png'), fullPage: true });

    // English without a reload, then back.
    await phone.evaluate('window.marker = 42');
    await phone.getByTestId('answer-lang').click();
    await expect.poll(() => phone.getByTestId('answer-kind').textContent()).toBe('SOS call');
    expect(await phone.getByTestId('answer-take').textContent()).toBe('I am taking it');
    expect(await phone.evaluate('window.marker')).toBe(42); // no reload
    await phone.screenshot({ path: join(SCREENSHOTS, 'answer-open-en.png'), fullPage: true });
    await phone.getByTestId('answer-lang').click();
    await expect.poll(() => phone.getByTestId('answer-take').textContent()).toBe('我去处理');

    // Keyboard: the take button is reachable and pressed with Enter.
    await phone.getByTestId('answer-take').focus();
    await phone.keyboard.press('Enter');
    await expect.poll(() => phone.getByTestId('answer-status').getAttribute('data-status'), { timeout: 10_000 }).toBe('taken');
    expect(await phone.getByTestId('answer-taken-by').textContent()).toContain('帮扶责任人 刘建军');
    await phone.screenshot({ path: join(SCREENSHOTS, 'answer-taken.png'), fullPage: true });

    await waitFor('taken at the listener', () => (heard.includes('"type":"taken"') ? true : undefined), 10_000);
    sub.kill();
    await subDone;
    // Nobody here acks, so `received` may have come again, with the same id: the same command (a button beeps once per id).
    const commands = heard.trim().split('\n').map((l) => JSON.parse(l) as { id: string; type: string; eventId: string });
    const distinct = [...new Map(commands.map((c) => [c.id, c])).values()];
    expect(distinct.map((c) => [c.type, c.eventId])).toEqual([
      ['received', 'sos-answer-1'],
      ['taken', 'sos-answer-1'],
    ]);
    const { alarms } = await api.get<{ alarms: AlarmView[] }>('/api/alarms');
    expect(alarms[0]).toMatchObject({ status: 'taken', takenBy: '帮扶责任人 刘建军', nextEscalationAt: null });

    // The duty room sees who took it, live.
    const desk = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
    await desk.goto(kanjia.httpUrl);
    await logIn(desk, 'liming');
    await expect.poll(() => desk.getByTestId('taken-by').first().textContent(), { timeout: 10_000 }).toContain('帮扶责任人 刘建军');
    await desk.screenshot({ path: join(SCREENSHOTS, 'answer-desk-taken.png') });
    await desk.close();

    // Past the escalation timeout nobody else is texted.
    await sleep((ESCALATION_SECONDS + 2) * 1000);
    expect(sms.accepted.filter((m) => m.phoneNumbers === '13800000002')).toEqual([]);

    await phone.getByTestId('answer-on-site').click();
    await expect.poll(() => phone.getByTestId('answer-status').getAttribute('data-status'), { timeout: 10_000 }).toBe('onSite');
    await phone.getByTestId('answer-resolve').click();
    await phone.getByTestId('answer-note').fill('老人按错了按钮，已到家中确认平安');
    // How it ended must be chosen first: the button waits for it and the page says so.
    expect(await phone.getByTestId('answer-resolve-confirm').isDisabled()).toBe(true);
    expect(await phone.getByTestId('answer-outcome-needed').textContent()).toContain('请先选择');
    await phone.getByTestId('answer-outcome-falseAlarm').click();
    expect(await phone.getByTestId('answer-outcome-falseAlarm').getAttribute('aria-checked')).toBe('true');
    await phone.screenshot({ path: join(SCREENSHOTS, 'answer-resolve-note.png'), fullPage: true });
    await phone.getByTestId('answer-resolve-confirm').click();
    await expect.poll(() => phone.getByTestId('answer-status').getAttribute('data-status'), { timeout: 10_000 }).toBe('resolved');
    expect(await phone.getByTestId('answer-done').textContent()).toContain('已处理完毕');
    await phone.screenshot({ path: join(SCREENSHOTS, 'answer-resolved.png'), fullPage: true });

    const closed = await api.get<{ alarms: AlarmView[] }>('/api/alarms?status=closed');
    expect(closed.alarms[0]).toMatchObject({ status: 'resolved', takenBy: '帮扶责任人 刘建军', resolutionNote: '老人按错了按钮，已到家中确认平安', outcome: 'falseAlarm' });
    expect(closed.alarms[0]!.history.map((h) => [h.action, h.by])).toEqual([
      ['opened', null],
      ['taken', '帮扶责任人 刘建军'],
      ['onSite', '帮扶责任人 刘建军'],
      ['resolved', '帮扶责任人 刘建军'],
    ]);

    // Opened again, the link has expired and shows nothing of the case.
    await phone.reload();
    await expect.poll(() => phone.getByTestId('answer-expired').getAttribute('data-code'), { timeout: 10_000 }).toBe('ANSWER_CODE_EXPIRED');
    const page = (await phone.locator('main').textContent()) ?? '';
    expect(page).toContain('链接已失效');
    expect(page).not.toMatch(/王秀英|石门村|钥匙在/);
    await phone.screenshot({ path: join(SCREENSHOTS, 'answer-expired.png'), fullPage: true });
    // No answer code in what the server printed.
    expect(kanjia.output()).not.toContain(first.templateParam.code);
  }, 90_000);
});
