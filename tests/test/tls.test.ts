/**
 * TLS end to end: `kanjia start` with a certificate the test makes (a CA and
 * a server certificate for localhost, 127.0.0.1 and ::1, by the openssl
 * command). `mosquitto_pub --cafile` publishes an SOS over MQTT over TLS that
 * opens a case; a plain client on the TLS port and one trusting another CA
 * are refused while plain MQTT serves the LAN beside it; plain HTTP to the
 * HTTPS port gets nothing; the simulated button connects with `--ca` and has
 * its SOS received; the dashboard in headless Chromium over HTTPS — trusting
 * only our certificate's key (--ignore-certificate-errors-spki-list pins it;
 * a browser without the pin refuses the page) — logs in, shows the cases and
 * the button's SOS arriving live over the secure WebSocket.
 */
import { topics, type AlarmView } from '@kanjia/protocol';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium, logIn } from '../src/browser.js';
import { httpsRequest, makeTestCertificates, type TestCertificates } from '../src/certificates.js';
import { addUser, cleanEnv, freePort, haveBinary, household, importVillage, KANJIA_BIN, kanjiaEnv, startKanjia, tempDir, TEST_PASSWORD, type KanjiaProcess } from '../src/harness.js';

const hasMosquitto = haveBinary('mosquitto_pub', 'apt-get install mosquitto-clients');
const hasChromium = haveBinary(CHROMIUM, 'apt-get install chromium');
const hasOpenssl = haveBinary('openssl', 'apt-get install openssl');

describe.skipIf(!hasMosquitto || !hasChromium || !hasOpenssl)('HTTPS and MQTT over TLS with the operator’s certificate', () => {
  const tmp = tempDir();
  let certs: TestCertificates;
  let stranger: TestCertificates;
  let env: Record<string, string>;
  let kanjia: KanjiaProcess;
  let mqttPort: number;
  let mqttsPort: number;
  let devices: Array<{ deviceId: string; secret: string }>;
  let cookie: string;

  const api = async <T>(path: string): Promise<T> => {
    const res = await httpsRequest(`${kanjia.httpUrl}${path}`, { ca: certs.ca, headers: { cookie } });
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.body}`);
    return JSON.parse(res.body) as T;
  };
  const openAlarms = async () => (await api<{ alarms: AlarmView[] }>('/api/alarms')).alarms;
  const publishSos = (device: { deviceId: string; secret: string }, port: number, id: string, tls: string[]) =>
    spawnSync('mosquitto_pub', [...tls, '-h', 'localhost', '-p', String(port), '-i', device.deviceId, '-u', device.deviceId, '-P', device.secret, '-t', topics.events(device.deviceId), '-q', '1', '-m', JSON.stringify({ id, ts: Date.now(), type: 'sos' })], { encoding: 'utf8', timeout: 15_000 });

  beforeAll(async () => {
    certs = makeTestCertificates(tmp.dir);
    stranger = makeTestCertificates(tmp.dir, { prefix: 'stranger-' });
    chmodSync(certs.keyFile, 0o600);
    ({ env, mqttPort } = await kanjiaEnv(tmp.dir));
    mqttsPort = await freePort();
    Object.assign(env, { KANJIA_TLS_CERT: certs.certFile, KANJIA_TLS_KEY: certs.keyFile, KANJIA_MQTTS_PORT: String(mqttsPort) });
    devices = importVillage(env, [
      household('石门村一组12号', '王秀英', [['刘建军', 'helper', '13800000001']]),
      household('石门村二组3号', '张德福', [['王志强', 'helper', '13900000001']]),
      household('石门村二组4号', '李桂兰', [['王志强', 'helper', '13900000001']]),
    ]);
    addUser(env, { name: 'admin' });
    kanjia = await startKanjia(env, { tls: { ca: certs.ca } });
    const login = await httpsRequest(`${kanjia.httpUrl}/api/auth/login`, { ca: certs.ca, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'admin', password: TEST_PASSWORD }) });
    expect(login.status).toBe(200);
    const setCookie = String(login.headers['set-cookie']);
    // Served over HTTPS itself: the session cookie is Secure.
    expect(setCookie).toMatch(/; Secure/);
    cookie = setCookie.split(';')[0]!;
  }, 60_000);

  afterAll(async () => {
    await kanjia?.kill('SIGTERM');
    tmp.cleanup();
  });

  it('opens a case from an SOS published with mosquitto_pub --cafile over MQTT over TLS', async () => {
    const pub = publishSos(devices[0]!, mqttsPort, 'tls-sos-1', ['--cafile', certs.caFile]);
    expect(pub.status, pub.stderr).toBe(0);
    await expect.poll(async () => (await openAlarms()).map((a) => a.eventId), { timeout: 10_000 }).toEqual(['tls-sos-1']);
  });

  it('refuses a plain client on the TLS port and one that trusts another CA; plain MQTT serves the LAN beside it', async () => {
    expect(publishSos(devices[1]!, mqttsPort, 'plain-on-tls', []).status).not.toBe(0);
    expect(publishSos(devices[1]!, mqttsPort, 'stranger-ca', ['--cafile', stranger.caFile]).status).not.toBe(0);
    const lan = publishSos(devices[1]!, mqttPort, 'lan-sos-1', []);
    expect(lan.status, lan.stderr).toBe(0);
    await expect.poll(async () => (await openAlarms()).map((a) => a.eventId).sort(), { timeout: 10_000 }).toEqual(['lan-sos-1', 'tls-sos-1']);
  });

  it('gives plain HTTP on the HTTPS port nothing', async () => {
    await expect(fetch(`http://127.0.0.1:${env.KANJIA_HTTP_PORT}/api/health`)).rejects.toThrow();
  });

  it('shows the dashboard over HTTPS in Chromium pinned to our certificate: login, the cases, and a button’s SOS over TLS arriving live', async () => {
    const unpinned = await launchChromium();
    try {
      const page = await unpinned.newPage();
      await expect(page.goto(`${kanjia.httpUrl}/`)).rejects.toThrow(/ERR_CERT/);
    } finally {
      await unpinned.close();
    }

    const browser: Browser = await launchChromium([`--ignore-certificate-errors-spki-list=${certs.spkiSha256}`]);
    try {
      const page = await browser.newPage({ viewport: { width: 1366, height: 768 }, locale: 'zh-CN' });
      const first = await page.goto(`${kanjia.httpUrl}/#/alarms`);
      expect(first?.headers()['strict-transport-security']).toBeUndefined(); // localhost: no HSTS
      expect(first?.headers()['content-security-policy']).toContain(`wss://localhost:${env.KANJIA_HTTP_PORT}`);
      await logIn(page, 'admin');
      await expect.poll(() => page.getByTestId('alarm-card').count(), { timeout: 15_000 }).toBe(2);
      // The live feed connects after the login (a moment under load): the banner goes once it has.
      await expect.poll(() => page.getByTestId('connection-banner').count(), { timeout: 15_000 }).toBe(0);

      // The simulated button, over TLS with the CA: its SOS is received, and the desk shows it without a reload.
      const button = devices[2]!;
      // --secret=…: a secret may begin with a dash, which the option parser would take for an option.
      const sim = spawn(process.execPath, [KANJIA_BIN, 'sim', 'device', '--url', `mqtts://localhost:${mqttsPort}`, '--ca', certs.caFile, '--id', button.deviceId, `--secret=${button.secret}`, '--press', 'sos', '--timeout-ms', '20000'], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let simOut = '';
      sim.stdout.on('data', (d: Buffer) => (simOut += d.toString()));
      sim.stderr.on('data', (d: Buffer) => (simOut += d.toString()));
      const code = await new Promise<number | null>((resolve) => sim.once('exit', resolve));
      expect(code, simOut).toBe(0);
      expect(simOut).toContain('"type":"received"');
      await expect.poll(() => page.getByTestId('alarm-card').count(), { timeout: 10_000 }).toBe(3);
      expect(await page.getByTestId('alarm-card').allTextContents()).toEqual(expect.arrayContaining([expect.stringContaining('李桂兰')]));
    } finally {
      await browser.close();
    }
  }, 90_000);
});
