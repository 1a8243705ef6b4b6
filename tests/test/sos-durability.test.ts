/**
 * Acceptance 2: an SOS that the system acknowledged is never lost, and never
 * doubled, whatever crashes. Over 20 runs the server process is killed with
 * SIGKILL at a random moment while a simulated device presses SOS, then
 * restarted; every run must end with exactly one alarm for that press and its
 * SMS sent.
 */
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import type { AlarmView } from '@kanjia/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, household, importVillage, kanjiaEnv, sleep, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const RUNS = Number(process.env.KANJIA_DURABILITY_RUNS_FOR_TESTS ?? 20);
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

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
    `ends each of ${RUNS} runs with exactly one alarm and its SMS sent`,
    async () => {
      const outcomes: string[] = [];
      for (let run = 0; run < RUNS; run++) {
        // Spread the kill over the whole path: before the event arrives, between commit and
        // `received`, and between `received` and the SMS.
        const killAfterMs = Math.floor(Math.random() < 0.5 ? Math.random() * 15 : Math.random() * 150);
        const press = device.pressSos();
        let acked = false;
        void press.received.then(() => (acked = true), () => undefined);
        await sleep(killAfterMs);
        await kanjia!.kill('SIGKILL');
        const ackedBeforeKill = acked;
        kanjia = await startKanjia(env);
        await waitFor(`received for run ${run}`, () => (acked ? true : undefined), 20_000);

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
        outcomes.push(`${killAfterMs}ms:${ackedBeforeKill ? 'acked' : 'not-acked'}`);

        // Close the case so the next press opens a new one.
        for (const [step, body] of [
          ['take', {}],
          ['resolve', { note: `durability run ${run}` }],
        ] as const) {
          const res = await api.post(`/api/alarms/${alarm.id}/${step}`, body);
          expect(res.status, `${step} in run ${run}`).toBe(200);
        }
      }
      const acked = outcomes.filter((o) => o.endsWith(':acked')).length;
      process.stderr.write(`durability: ${RUNS} runs, ${acked} killed after \`received\`, ${RUNS - acked} before; kill delays ${outcomes.map((o) => o.split(':')[0]).join(' ')}\n`);
      const { alarms } = (await api.get<{ alarms: AlarmView[] }>(`/api/alarms?status=all&limit=500`));
      expect(alarms).toHaveLength(RUNS);
    },
    RUNS * 30_000,
  );
});
