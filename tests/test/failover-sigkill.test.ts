/**
 * Issue 12, acceptance 1: nothing is lost across a SIGKILL in the middle of a
 * failover. Real processes: `kanjia start` with Aliyun SMS at its stand-in
 * and Twilio as the fallback SMS provider at its own, a failover time of
 * 10 s. In each run a button presses SOS (acknowledged: `received`), the
 * first provider cannot send the helper's SMS, and the server is killed with
 * SIGKILL somewhere around the move to the second provider, then started
 * again. The runs cycle through:
 * - a permanent refusal (the number refused): the notice moves at once; the
 *   first provider answers after 150 ms and the second after 150 ms too, and
 *   the kill comes 0–400 ms after the `received`: before the refusal, between
 *   it and the second send, during that send, or after it;
 * - the provider's flow control for that number: the same;
 * - the provider out (503) past the failover time: the kill comes 9–11 s
 *   after the press, around the move, and in every other such run the second
 *   provider answers slowly (0.8 s) so the kill can land during its send.
 * Every run must end with exactly one case for the press, its helper's SMS
 * at the second provider at least once (a kill during that send may repeat
 * it: at least once, never never; the repeats are counted and printed), the
 * notice `sent` by twilio with its move on record and in the case history.
 */
import { SMS_TEMPLATES } from '@kanjia/alerts';
import { LocalAliyunSmsServer, LocalTwilioServer } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import type { AlarmView } from '@kanjia/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, household, importVillage, kanjiaEnv, sleep, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const RUNS = Number(process.env.KANJIA_FAILOVER_DURABILITY_RUNS_FOR_TESTS ?? 6);
const MODES = ['permanent', 'limited', 'outage'] as const;
const FAILOVER_SECONDS = 10;
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };
const ALIYUN = { accessKeyId: 'LTAIfailoverKill', accessKeySecret: 'failover-kill-secret-0123456789' };
const TWILIO = { accountSid: `AC${'5a'.repeat(16)}`, authToken: 'failover-kill-token-0123456789' };

const phoneOf = (run: number) => `1390000${String(run).padStart(4, '0')}`;

describe('failover across SIGKILL of the server', () => {
  const tmp = tempDir();
  const aliyun = new LocalAliyunSmsServer({
    ...ALIYUN,
    signNames: ['智慧看家'],
    templates: { SMS_100001: SMS_TEMPLATES.alarm.variables, SMS_100002: SMS_TEMPLATES.escalation.variables, SMS_100003: SMS_TEMPLATES.cancelled.variables },
  });
  const twilio = new LocalTwilioServer({ ...TWILIO, senders: ['+8610690002'] });
  let env: Record<string, string>;
  let api: ApiClient;
  let devices: SimDevice[] = [];
  let kanjia: KanjiaProcess | undefined;

  beforeAll(async () => {
    const aliyunAt = await aliyun.start();
    const twilioAt = await twilio.start();
    let mqttPort: number;
    ({ env, mqttPort } = await kanjiaEnv(tmp.dir, { ...aliyunAt, ...ALIYUN }));
    Object.assign(env, {
      KANJIA_SMS_FALLBACK: 'twilio',
      KANJIA_TWILIO_ACCOUNT_SID: TWILIO.accountSid,
      KANJIA_TWILIO_AUTH_TOKEN: TWILIO.authToken,
      KANJIA_TWILIO_FROM: '+8610690002',
      KANJIA_TWILIO_BASE_URL: twilioAt.url,
      KANJIA_FAILOVER_CRITICAL_SECONDS: String(FAILOVER_SECONDS),
      KANJIA_SMS_OUTAGE_PROBE_MAX_SECONDS: '1',
      KANJIA_SMS_BUNDLE_WINDOW_SECONDS: '0',
      // Long enough that no escalation texts the next contact during a run.
      KANJIA_ESCALATION_TIMEOUT_SECONDS: '600',
    });
    const creds = importVillage(
      env,
      Array.from({ length: RUNS }, (_, run) => household(`石门村四组${run + 1}号`, `老人${run + 1}`, [['帮扶人', 'helper', phoneOf(run)]])),
    );
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'admin' });
    devices = creds.map((c) => new SimDevice({ brokerUrl: `mqtt://127.0.0.1:${mqttPort}`, deviceId: c.deviceId, secret: c.secret, resendIntervalMs: 250, reconnectPeriodMs: 100, logger: silent }));
    await Promise.all(devices.map((d) => d.start()));
  }, 60_000);

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.stop()));
    await kanjia?.kill('SIGTERM');
    await aliyun.stop();
    await twilio.stop();
    tmp.cleanup();
  });

  it(
    `ends each of ${RUNS} runs, killed around the move to the second provider, with one case and its SMS sent by the second provider`,
    async () => {
      const outcomes: string[] = [];
      let repeats = 0;
      for (let run = 0; run < RUNS; run++) {
        const mode = MODES[run % MODES.length]!;
        const phone = phoneOf(run);
        aliyun.setState(mode === 'outage' ? { mode: 'outage-503', badNumbers: [], limitedNumbers: [] } : { mode: 'ok', badNumbers: mode === 'permanent' ? [phone] : [], limitedNumbers: mode === 'limited' ? [phone] : [] });
        const slowTwilio = mode === 'outage' && Math.floor(run / MODES.length) % 2 === 1;
        aliyun.setLatencyMs(mode === 'outage' ? 0 : 150);
        twilio.setLatencyMs(slowTwilio ? 800 : mode === 'outage' ? 0 : 150);

        const pressedAt = Date.now();
        const press = devices[run]!.pressSos();
        const { alarmId } = await press.received;
        const killAt = mode === 'outage' ? 9_000 + Math.floor(Math.random() * 2_000) : Date.now() - pressedAt + Math.floor(Math.random() * 400);
        await sleep(Math.max(0, pressedAt + killAt - Date.now()));
        await kanjia!.kill('SIGKILL');
        const atTwilioBeforeKill = twilio.messages.filter((m) => m.to === `+86${phone}`).length;
        kanjia = await startKanjia(env);

        const alarm = await waitFor(
          `run ${run} (${mode}): the notice sent by twilio`,
          async () => {
            const view = await api.get<AlarmView>(`/api/alarms/${alarmId as string}`);
            const n = view.notifications.find((x) => x.purpose === 'chain');
            return n?.status === 'sent' && n.channel === 'twilio' ? view : undefined;
          },
          (FAILOVER_SECONDS + 25) * 1000,
        );
        const { alarms } = await api.get<{ alarms: AlarmView[] }>('/api/alarms?status=all&limit=500');
        expect(alarms.filter((a) => a.eventId === press.eventId), `run ${run}: one case`).toHaveLength(1);
        const n = alarm.notifications.find((x) => x.purpose === 'chain')!;
        expect(n.failovers.map((f) => [f.from, f.to]), `run ${run}: the move on record`).toEqual([['aliyun', 'twilio']]);
        expect(n.failovers[0]!.reason).toMatch(mode === 'outage' ? /^FAILOVER_TIMEOUT/ : mode === 'limited' ? /^isv\.BUSINESS_LIMIT_CONTROL/ : /^isv\.MOBILE_NUMBER_ILLEGAL/);
        expect(alarm.history.map((e) => e.note), `run ${run}: the history says so`).toContainEqual(expect.stringMatching(/^发给帮扶人的通知无法通过短信（aliyun）送达.*已改用短信（twilio）$/));
        const atTwilio = twilio.messages.filter((m) => m.to === `+86${phone}`);
        expect(atTwilio.length, `run ${run}: at the second provider`).toBeGreaterThanOrEqual(1);
        expect(atTwilio.every((m) => m.body.includes(`老人${run + 1}`))).toBe(true);
        // Never sent by the first provider: it refused it, or was out.
        expect(aliyun.accepted.some((m) => m.phoneNumbers === phone), `run ${run}: not by aliyun`).toBe(false);
        repeats += atTwilio.length - 1;
        outcomes.push(`${mode}@${killAt}ms${slowTwilio ? '(slow twilio)' : ''}:${atTwilioBeforeKill > 0 ? 'at twilio before the kill' : 'at twilio after the restart'}${atTwilio.length > 1 ? `, ${atTwilio.length} at twilio` : ''}`);

        aliyun.setState({ mode: 'ok', badNumbers: [], limitedNumbers: [] });
        aliyun.setLatencyMs(0);
        twilio.setLatencyMs(0);
        expect((await api.post(`/api/alarms/${alarm.id}/resolve`, { note: `failover run ${run}` })).status).toBe(200);
      }
      process.stderr.write(`failover durability: ${RUNS} runs, 0 lost, ${repeats} repeated SMS; ${outcomes.join('; ')}\n`);
    },
    RUNS * 45_000,
  );
});
