/**
 * The resident card and device health in a real browser (Debian Chromium,
 * 1366×768) against a real `kanjia start` with simulated devices over MQTT:
 * the card shows who she is, how to get in, whom to call (tel: links), her
 * devices and today's signs of life; away mode switches; English switches
 * without a reload; device health lists what is wrong and a device's history.
 * Screenshots go to tests/screenshots/ (git-ignored) for a human look.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { REPO_ROOT, apiClient, haveBinary, importVillage, kanjiaEnv, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const silent = { info: () => undefined, warn: () => undefined };
const SHOTS = join(REPO_ROOT, 'tests', 'screenshots');

describe.skipIf(!hasChromium)('resident card and device health in Chromium', () => {
  const tmp = tempDir();
  let kanjia: KanjiaProcess;
  let browser: Browser;
  let page: Page;
  const devices: SimDevice[] = [];
  let residentId = '';
  let motionId = '';
  let api: ApiClient;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    const { env, mqttPort } = await kanjiaEnv(tmp.dir);
    const creds = importVillage(env, [
      {
        address: '石门村一组12号',
        lat: 27.112,
        lng: 111.031,
        keyHolderNote: '钥匙在隔壁王大姐家（东边第二家）',
        residents: [
          {
            name: '王秀英',
            sex: 'F',
            birthYear: 1941,
            idNumber: '430524194101011240',
            category: 'leftBehindOrAlone',
            conditions: ['高血压', '糖尿病'],
            medicationNotes: '硝苯地平 早晚各一片；二甲双胍 饭后',
            contacts: [
              { name: '刘建军', role: 'helper', phone: '13800000001', post: '村妇女主任' },
              { name: '赵春梅', role: 'doctor', phone: '13800000002' },
              { name: '王小红', role: 'family', phone: '13800000003', post: '女儿，在广州打工' },
            ],
          },
        ],
        devices: [{ kind: 'sosButton' }, { kind: 'motionSensor', label: '堂屋' }, { kind: 'doorSensor', label: '大门', exit: true }],
      },
    ]);
    const [sos, motion] = creds;
    motionId = motion!.deviceId;
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'liming', role: 'duty', villages: ['石门村'], displayName: '值班员 李明' });
    const list = await api.get<{ residents: Array<{ id: string }> }>('/api/residents');
    residentId = list.residents[0]!.id;
    const url = `mqtt://127.0.0.1:${mqttPort}`;
    const button = new SimDevice({ brokerUrl: url, deviceId: sos!.deviceId, secret: sos!.secret, logger: silent, batteryPct: 15 });
    const pir = new SimDevice({ brokerUrl: url, deviceId: motion!.deviceId, secret: motion!.secret, logger: silent, batteryPct: 90 });
    devices.push(button, pir);
    await button.start();
    await pir.start();
    // Three signs of life now, each a report and its clear.
    for (let i = 0; i < 3; i++) {
      await pir.sendTelemetry({ motion: true });
      await pir.sendTelemetry({ motion: false });
    }
    // The PIR goes away (its battery pulled): offline by the broker's last will.
    await pir.powerOff();
    // A drop this soon after connecting is passed on at the end of the 5 s presence hold (PresenceDebouncer).
    await waitFor('the PIR offline in the registry', async () => {
      const { devices: list } = await api.get<{ devices: Array<{ id: string; online: boolean }> }>('/api/devices');
      return list.find((d) => d.id === motionId)?.online === false ? true : undefined;
    }, 15_000);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    for (const d of devices) await d.stop().catch(() => undefined);
    await kanjia?.kill('SIGTERM');
    tmp.cleanup();
  });

  it('lists the residents and opens the card: who, how to get in, whom to call, devices, today', async () => {
    await page.goto(`${kanjia.httpUrl}/#/residents`);
    await logIn(page, 'liming');
    const row = page.getByTestId('resident-row');
    await expect.poll(() => row.count(), { timeout: 10_000 }).toBe(1);
    expect(await row.textContent()).toContain('王秀英');
    await row.click();

    const card = page.getByTestId('resident-card');
    await expect.poll(() => card.getByTestId('card-name').textContent(), { timeout: 10_000 }).toBe('王秀英');
    expect(page.url()).toContain(`#/residents/${residentId}`);
    expect(await card.textContent()).toContain('85岁');
    expect(await card.getByTestId('card-key-note').textContent()).toContain('王大姐');
    expect(await card.getByTestId('card-conditions').textContent()).toMatch(/高血压.*糖尿病/);
    expect(await card.getByTestId('card-medication').textContent()).toContain('硝苯地平');
    // The numbers to call are links; the duty officer calls them but does not see the ID number in clear.
    const calls = card.getByTestId('contact-call');
    expect(await calls.count()).toBe(3);
    expect(await calls.nth(0).getAttribute('href')).toBe('tel:13800000001');
    expect(await card.getByTestId('card-id-number').textContent()).toBe('430524********1240');

    await expect.poll(async () => card.getByTestId('card-devices').locator('[data-problems="lowBattery"]').count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(async () => (await card.getByTestId('card-devices').textContent()) ?? '', { timeout: 10_000 }).toMatch(/人体感应器 · 堂屋\s*离线/);
    expect(await card.getByTestId('card-devices').textContent()).toContain('安装后从未上线');
    expect(await card.getByTestId('card-today').textContent()).toMatch(/今天首次活动：\d\d:\d\d|今天到现在/);
    // The chart is drawn (ECharts renders on a canvas).
    expect(await card.getByTestId('activity-chart').locator('canvas').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'resident-card.png') });

    const fromApi = await api.get<{ activity: { days: Array<{ slots: number[] }> } }>(`/api/residents/${residentId}/card`);
    expect(fromApi.activity.days.at(-1)!.slots.reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('switches away mode from the card, and English without a reload', async () => {
    const card = page.getByTestId('resident-card');
    await card.getByTestId('away-toggle').click();
    await expect.poll(() => card.getByTestId('away-state').getAttribute('data-away'), { timeout: 10_000 }).toBe('true');
    expect(await card.getByTestId('away-state').textContent()).toContain('外出中');
    await page.getByTestId('lang-switch').click();
    await expect.poll(() => card.getByTestId('away-state').textContent()).toContain('Away since');
    expect(await card.textContent()).toContain('Contacts (in the order they are texted)');
    await page.screenshot({ path: join(SHOTS, 'resident-card-en.png') });
    await card.getByTestId('away-toggle').click();
    await expect.poll(() => card.getByTestId('away-state').getAttribute('data-away'), { timeout: 10_000 }).toBe('false');
    await page.getByTestId('lang-switch').click();
  });

  it('device health: what is wrong, worst first, and a device’s history', async () => {
    await page.getByTestId('view-tab-devices').click();
    const rows = page.getByTestId('device-row');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(3);
    const problems = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-problems')));
    expect(problems).toEqual(['offline', 'neverSeen', 'lowBattery']);
    await page.getByTestId(`device-row`).first().click();
    const history = page.getByTestId('device-history');
    await expect.poll(() => history.getByTestId('device-history-list').textContent(), { timeout: 10_000 }).toMatch(/离线[\s\S]*电量 90%[\s\S]*上线/);
    expect(await history.getByTestId('device-history-chart').locator('canvas').count()).toBeGreaterThan(0);
    expect(await page.getByTestId('device-row').first().getAttribute('data-device-id')).toBe(motionId);
    await page.screenshot({ path: join(SHOTS, 'device-health.png') });

    await page.getByTestId('device-filter-all').click();
    await expect.poll(() => page.getByTestId('device-filter-all').getAttribute('aria-pressed')).toBe('true');
    await waitFor('the full list', async () => ((await rows.count()) === 3 ? true : undefined));
  });

  it('the queue opens the card of the person an alarm is about', async () => {
    await page.getByTestId('view-tab-alarms').click();
    const press = devices[0]!.pressSos();
    await press.received;
    // Beside the device-health cases (the PIR offline, the button's battery): the SOS.
    const alarm = page.getByTestId('alarm-card').filter({ hasText: '紧急呼叫' });
    await expect.poll(() => alarm.count(), { timeout: 10_000 }).toBe(1);
    expect(await page.getByTestId('repeat-sound-toggle').isChecked()).toBe(true);
    await page.screenshot({ path: join(SHOTS, 'queue.png') });
    await alarm.getByTestId('open-resident').click();
    const open = page.getByTestId('card-open-alarms');
    await expect.poll(() => open.textContent(), { timeout: 10_000 }).toContain('紧急呼叫');
  });
});
