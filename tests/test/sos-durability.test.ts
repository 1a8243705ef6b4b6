/**
 * Acceptance 2: an SOS that the system acknowledged is never lost, and never
 * doubled, whatever crashes. Over 20 runs the server process is killed with
 * SIGKILL at a random moment while a simulated device presses SOS, then
 * restarted, and the device loses its connection at random moments around
 * the press (before it, while it is sent, around the kill; once or twice) and
 * comes back 100 ms later; every run must end with exactly one alarm for that
 * press, its SMS at the provider, and the button having beeped `received` and
 * its `ack` of that `received` recorded by the server (issue 9: commands
 * acknowledged by the device); then the case is taken while the button's
 * network drops once more, and the button must still beep `taken`.
 */
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import type { AlarmView } from '@kanjia/protocol';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, household, importVillage, kanjiaEnv, sleep, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const RUNS = Number(process.env.KANJIA_DURABILITY_RUNS_FOR_TESTS ?? 20);
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

/**
 * How the server's `received` commands for one device event ended, read from
 * its database (read-only, beside the running process: WAL lets a reader in).
 */
function receivedEndings(dataDir: string, deviceId: string, eventId: string): Array<string | null> {
  let db: Database.Database | undefined;
  try {
    db = new Database(join(dataDir, 'kanjia.sqlite'), { readonly: true, fileMustExist: true });
    const rows = db
      .prepare("SELECT end_reason FROM device_commands WHERE device_id = ? AND json_extract(payload_json, '$.type') = 'received' AND json_extract(payload_json, '$.eventId') = ?")
      .all(deviceId, eventId) as Array<{ end_reason: string | null }>;
    return rows.map((r) => r.end_reason);
  } catch {
    return []; // the server is starting (or was just killed): ask again
  } finally {
    db?.close();
  }
}

describe('SOS durability across SIGKILL of the server', () => {
  const tmp = tempDir();
  const sms = new LocalAliyunSmsServer({ accessKeyId: 'LTAIdurable', accessKeySecret: 'durable-secret' });
  let env: Record<string, string>;
  /** Sessions are in SQLite: the cookie outlives every SIGKILL. */
  let api: ApiClient;
  let device: SimDevice;
  let deviceId: string;
  let kanjia: KanjiaProcess | undefined;

  beforeAll(async () => {
    const aliyun = await sms.start();
    let mqttPort: number;
    ({ env, mqttPort } = await kanjiaEnv(tmp.dir, { ...aliyun, accessKeyId: 'LTAIdurable', accessKeySecret: 'durable-secret' }));
    const creds = importVillage(env, [household('石门村二组3号', '张德福', [['王志强', 'helper', '13900000001']])])[0]!;
    deviceId = creds.deviceId;
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'admin' });
    device = new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${mqttPort}`, deviceId, secret: creds.secret, resendIntervalMs: 250, reconnectPeriodMs: 100, logger: silent });
    await device.start();
  }, 60_000);

  afterAll(async () => {
    await device?.stop();
    await kanjia?.kill('SIGTERM');
    await sms.stop();
    tmp.cleanup();
  });

  it(
    `ends each of ${RUNS} runs, the device dropping its connection around the press, with exactly one alarm, its SMS sent and the button's received acknowledged`,
    async () => {
      const outcomes: string[] = [];
      for (let run = 0; run < RUNS; run++) {
        // Spread the kill over the whole path: before the event arrives, between commit and
        // `received`, and between `received` and the SMS.
        const killAfterMs = Math.floor(Math.random() < 0.5 ? Math.random() * 15 : Math.random() * 150);
        // The button's network drops from 50 ms before the press to 200 ms after
        // it (so also between the commit and `received`, and around the kill),
        // in every other run a second time later on; it reconnects after 100 ms.
        const dropsAtMs = [Math.floor(Math.random() * 250 - 50), ...(run % 2 === 1 ? [Math.floor(Math.random() * 600)] : [])];
        const dropTimers: Array<ReturnType<typeof setTimeout>> = [];
        if (dropsAtMs[0]! < 0) {
          device.dropConnection();
          await sleep(-dropsAtMs[0]!);
        }
        const press = device.pressSos();
        for (const at of dropsAtMs) if (at >= 0) dropTimers.push(setTimeout(() => device.dropConnection(), at));
        let acked = false;
        void press.received.then(() => (acked = true), () => undefined);
        await sleep(killAfterMs);
        await kanjia!.kill('SIGKILL');
        const ackedBeforeKill = acked;
        kanjia = await startKanjia(env);
        await waitFor(`received for run ${run}`, () => (acked ? true : undefined), 20_000);
        // The `received` the button beeped for is the server's, and the server heard its ack.
        await waitFor(`the ack of received in run ${run}`, () => (receivedEndings(tmp.dir, deviceId, press.eventId).includes('acked') ? true : undefined), 20_000);
        for (const t of dropTimers) clearTimeout(t);

        const alarm = await waitFor(
          `alarm of run ${run} with its SMS sent`,
          async () => {
            const { alarms } = (await api.get<{ alarms: AlarmView[] }>(`/api/alarms?status=all&limit=500`));
            const mine = alarms.filter((a) => a.eventId === press.eventId);
            if (mine.length !== 1) return mine.length > 1 ? mine[0] : undefined;
            return mine[0]!.notifications[0]?.status === 'sent' ? mine[0] : undefined;
          },
          20_000,
        );
        const { alarms } = (await api.get<{ alarms: AlarmView[] }>(`/api/alarms?status=all&limit=500`));
        expect(alarms.filter((a) => a.eventId === press.eventId), `run ${run}`).toHaveLength(1);
        const notificationId = alarm.notifications[0]!.id;
        expect(sms.accepted.some((m) => m.outId === notificationId), `run ${run}: SMS at the provider`).toBe(true);
        outcomes.push(`${killAfterMs}ms/drop${dropsAtMs.map((d) => `${d}`).join('+')}ms:${ackedBeforeKill ? 'acked' : 'not-acked'}`);

        // Somebody takes it while the button's network drops again, at once or
        // up to 30 ms later: the button still beeps `taken` (resent on reconnect).
        const dropAtTake = setTimeout(() => device.dropConnection(), Math.floor(Math.random() * 30));
        let taken = false;
        void press.taken.then(() => (taken = true), () => undefined);
        const took = await api.post(`/api/alarms/${alarm.id}/take`, {});
        expect(took.status, `take in run ${run}`).toBe(200);
        await waitFor(`taken at the button in run ${run}`, () => (taken ? true : undefined), 20_000);
        clearTimeout(dropAtTake);
        // Close the case so the next press opens a new one.
        const resolved = await api.post(`/api/alarms/${alarm.id}/resolve`, { note: `durability run ${run}` });
        expect(resolved.status, `resolve in run ${run}`).toBe(200);
      }
      const acked = outcomes.filter((o) => o.endsWith(':acked')).length;
      process.stderr.write(`durability: ${RUNS} runs, ${acked} killed after \`received\`, ${RUNS - acked} before; kill delay/device drops ${outcomes.map((o) => o.split(':')[0]).join(' ')}\n`);
      const { alarms } = (await api.get<{ alarms: AlarmView[] }>(`/api/alarms?status=all&limit=500`));
      expect(alarms).toHaveLength(RUNS);
    },
    RUNS * 30_000,
  );
});

/**
 * The same guarantee for a burst: presses from many devices in the same moment
 * are committed together (grouped commits: one transaction for the events of
 * a turn of the event loop), and a SIGKILL in the middle of the burst must
 * still leave exactly one case per press, each device having heard its
 * `received`, each SMS sent.
 */
describe('a burst of SOS across SIGKILL of the server (grouped commits)', () => {
  const DEVICES = 40;
  const BURST_RUNS = Number(process.env.KANJIA_DURABILITY_BURST_RUNS_FOR_TESTS ?? 4);
  const tmp = tempDir();
  const sms = new LocalAliyunSmsServer({ accessKeyId: 'LTAIburst', accessKeySecret: 'burst-secret' });
  let env: Record<string, string>;
  let api: ApiClient;
  let devices: SimDevice[] = [];
  let kanjia: KanjiaProcess | undefined;

  beforeAll(async () => {
    const aliyun = await sms.start();
    let mqttPort: number;
    ({ env, mqttPort } = await kanjiaEnv(tmp.dir, { ...aliyun, accessKeyId: 'LTAIburst', accessKeySecret: 'burst-secret' }));
    const creds = importVillage(
      env,
      Array.from({ length: DEVICES }, (_, i) => household(`石门村三组${i + 1}号`, `老人${i + 1}`, [['帮扶人', 'helper', `1390000${String(i).padStart(4, '0')}`]])),
    );
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'admin' });
    devices = creds.map((c) => new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${mqttPort}`, deviceId: c.deviceId, secret: c.secret, resendIntervalMs: 250, reconnectPeriodMs: 100, logger: silent }));
    await Promise.all(devices.map((d) => d.start()));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.stop()));
    await kanjia?.kill('SIGTERM');
    await sms.stop();
    tmp.cleanup();
  });

  it(
    `ends each of ${BURST_RUNS} bursts of ${DEVICES} presses, the server killed in the middle, with one case per press, every received heard and every SMS sent`,
    async () => {
      for (let run = 0; run < BURST_RUNS; run++) {
        // The presses spread over 100 ms, the kill somewhere inside them: some groups committed, one perhaps
        // being written, the rest not yet arrived.
        let heard = 0;
        const pressing = devices.map(async (d) => {
          await sleep(Math.floor(Math.random() * 100));
          const p = d.pressSos();
          void p.received.then(() => heard++, () => undefined);
          return p;
        });
        await sleep(20 + Math.floor(Math.random() * 60));
        await kanjia!.kill('SIGKILL');
        const presses = await Promise.all(pressing);
        const heardBeforeKill = heard;
        kanjia = await startKanjia(env);
        await waitFor(`every received of burst ${run}`, () => (heard === DEVICES ? true : undefined), 30_000);
        const eventIds = new Set(presses.map((p) => p.eventId));
        const cases = await waitFor(
          `every case of burst ${run} with its SMS sent`,
          async () => {
            const { alarms } = await api.get<{ alarms: AlarmView[] }>('/api/alarms?status=all&limit=500');
            const mine = alarms.filter((a) => eventIds.has(a.eventId));
            return mine.length >= DEVICES && mine.every((a) => a.notifications[0]?.status === 'sent') ? mine : undefined;
          },
          30_000,
        );
        expect(cases, `burst ${run}: one case per press`).toHaveLength(DEVICES);
        expect(new Set(cases.map((a) => a.eventId)).size).toBe(DEVICES);
        for (const a of cases) expect(sms.accepted.some((m) => m.outId === a.notifications[0]!.id), `burst ${run}: the SMS of ${a.eventId}`).toBe(true);
        process.stderr.write(`durability burst ${run}: ${heardBeforeKill} of ${DEVICES} received before the kill\n`);
        for (const a of cases) expect((await api.post(`/api/alarms/${a.id}/resolve`, { note: `burst ${run}` })).status).toBe(200);
      }
    },
    BURST_RUNS * 60_000,
  );
});
