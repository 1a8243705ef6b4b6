/**
 * The SMS provider fails: through the real system (MQTT gateway, SQLite, the
 * outbox, REST) and the real AliyunSmsSender against the local SendSms server
 * over HTTP, which checks every signature; a fake clock drives the outbox's
 * probes and the escalation.
 *
 * An outage (a signature error, no credit, the provider out of reach) is not a
 * verdict on any message: nothing is sent, nothing is failed, the escalation
 * does not run down the chain, the system problem SMS_PROVIDER_OUTAGE is
 * raised; when the provider answers again every open case's notices go out
 * and the escalation counts from then. A bad number fails that one message
 * and the chain moves on at once.
 */
import { SMS_TEMPLATES } from '@kanjia/alerts';
import { LocalAliyunSmsServer, type LocalSmsMode } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import { FakeClock, type AlarmView, type HealthResponse } from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { systemClient, tempDataDir, twoVillages, until } from './helpers.js';

const MINUTE = 60_000;
const KEY = { accessKeyId: 'LTAI5tKanjiaOutage', accessKeySecret: 'outage-secret-0123456789abcdef' };
const TEMPLATES = { alarm: 'SMS_100001', escalation: 'SMS_100002', cancelled: 'SMS_100003' };
const WANG_HELPER = '13800000001';
const WANG_DOCTOR = '13800000002';
const ZHANG_HELPER = '13900000009';
const silent = { info: () => undefined, warn: () => undefined };

describe('SMS provider outages, through the real system and the local SendSms server', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let sms: LocalAliyunSmsServer;
  let settings: Settings;
  let system: KanjiaSystem;
  let running: RunningSystem;
  let api: ReturnType<typeof systemClient>;
  let creds: Array<{ deviceId: string; secret: string }>;
  const devices: SimDevice[] = [];

  beforeEach(async () => {
    tmp = tempDataDir();
    sms = new LocalAliyunSmsServer({
      ...KEY,
      signNames: ['智慧看家'],
      templates: { [TEMPLATES.alarm]: SMS_TEMPLATES.alarm.variables, [TEMPLATES.escalation]: SMS_TEMPLATES.escalation.variables, [TEMPLATES.cancelled]: SMS_TEMPLATES.cancelled.variables },
    });
    const { endpoint } = await sms.start();
    settings = loadSettings(
      {},
      {
        overrides: {
          dataDir: tmp.dir,
          httpPort: 0,
          mqttPort: 0,
          mqttHost: '127.0.0.1',
          escalationTimeoutSeconds: 300,
          logLevel: 'silent',
          smsProvider: 'aliyun',
          aliyun: { ...KEY, signName: '智慧看家', templateAlarm: TEMPLATES.alarm, templateEscalation: TEMPLATES.escalation, templateCancelled: TEMPLATES.cancelled, endpoint, protocol: 'http', timeoutMs: 2_000 },
        },
      },
    );
    const db = openDatabase(databaseFile(settings));
    creds = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(twoVillages()).devices;
    db.close();
    clock = new FakeClock(Date.UTC(2026, 0, 15, 2, 0, 0));
    await startSystem();
  });

  afterEach(async () => {
    for (const d of devices.splice(0)) await d.stop();
    await system.stop();
    await sms.stop();
    tmp.cleanup();
  });

  async function startSystem(): Promise<void> {
    system = new KanjiaSystem({ settings, clock, logger: createLogger('silent') });
    running = await system.start();
    api = systemClient(() => system.users, running.httpUrl);
  }

  async function device(index: number): Promise<SimDevice> {
    const c = creds[index]!;
    const d = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: c.deviceId, secret: c.secret, logger: silent, resendIntervalMs: 60_000 });
    await d.start();
    devices.push(d);
    return d;
  }

  /** Lets everything the fake clock made due run: the outbox's sends (real HTTP) and what they cause. */
  async function settle(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setImmediate(r));
      await system.outboxWorker!.idle();
    }
  }

  /** Moves the fake clock by `ms` in steps of `stepMs`, settling after each. */
  async function advance(ms: number, stepMs = 5_000): Promise<void> {
    for (let done = 0; done < ms; done += stepMs) {
      clock.advance(Math.min(stepMs, ms - done));
      await settle();
    }
  }

  const health = async () => (await fetch(new URL('/api/health', running.httpUrl))).json() as Promise<HealthResponse>;
  const alarm = (id: string) => api.get<AlarmView>(`/api/alarms/${id}`);
  const toNumber = (n: string) => sms.accepted.filter((m) => m.phoneNumbers === n);

  describe.each([
    ['signature-error', 'SignatureDoesNotMatch', 'account'],
    ['no-credit', 'isv.AMOUNT_NOT_ENOUGH', 'account'],
    ['outage-reset', 'SMS_NETWORK_ERROR', 'transport'],
    ['outage-503', 'ServiceUnavailable', 'transport'],
  ] as const)('provider in mode %s (%s)', (mode: LocalSmsMode, code, kind) => {
    it('an SOS opens its case and nothing is sent or failed; SMS_PROVIDER_OUTAGE is raised; 30 minutes later the chain has not moved; back to ok: the SMS goes out, the problem clears and the escalation counts from then', async () => {
      sms.setMode(mode);
      const button = await device(0);
      const received = await button.pressSos().received;
      const alarmId = received.alarmId!;

      const problem = await until('SMS_PROVIDER_OUTAGE in /api/health', async () => (await health()).problems.find((p) => p.code === 'SMS_PROVIDER_OUTAGE'));
      expect(problem).toMatchObject({ severity: 'critical', unhealthy: false, details: { reason: code, kind } });
      expect((await health()).status).toBe('degraded');
      const waiting = await alarm(alarmId);
      expect(waiting.status).toBe('open');
      expect(waiting.notifications).toMatchObject([{ contactName: '刘建军', status: 'pending', attempts: 0, waitingForProvider: true, lastError: expect.stringContaining(code) }]);

      // Half an hour of outage: six times the take timeout, and still only the first contact's notice, waiting.
      await advance(30 * MINUTE);
      const after = await alarm(alarmId);
      expect(after).toMatchObject({ status: 'open', escalationLevel: 0, nextEscalationAt: null });
      expect(after.notifications.map((n) => [n.contactName, n.status, n.attempts, n.waitingForProvider])).toEqual([['刘建军', 'pending', 0, true]]);
      expect(after.history.map((h) => h.action)).toEqual(['opened']);
      expect(sms.accepted).toEqual([]);
      // Probed slowly, one request at a time: 5 s, 10 s, 20 s … at most 2 minutes apart.
      const probes = sms.rejected.length;
      expect(probes).toBeGreaterThanOrEqual(10);
      expect(probes).toBeLessThanOrEqual(25);
      expect(new Set(sms.rejected.map((r) => r.code))).toEqual(new Set([mode === 'outage-reset' ? 'ECONNRESET' : code]));

      sms.setMode('ok');
      await advance(2 * MINUTE);
      const [first] = toNumber(WANG_HELPER);
      expect(first).toMatchObject({ signName: '智慧看家', templateCode: TEMPLATES.alarm, templateParam: { name: '王秀英', kind: '紧急呼叫' } });
      expect((await health()).problems).toEqual([]);
      const sent = await alarm(alarmId);
      expect(sent.notifications).toMatchObject([{ status: 'sent', waitingForProvider: false, lastError: null }]);
      const sentAt = sent.notifications[0]!.sentAt!;
      // The doctor is due 5 minutes after the helper's SMS went out, not 5 minutes after the press.
      expect(sent.nextEscalationAt).toBe(sentAt + 5 * MINUTE);
      clock.advance(sentAt + 5 * MINUTE - 1_000 - clock.nowMs());
      await settle();
      expect(toNumber(WANG_DOCTOR)).toEqual([]);
      await advance(1_000, 1_000);
      expect(toNumber(WANG_DOCTOR)).toHaveLength(1);
      expect(toNumber(WANG_DOCTOR)[0]!.templateCode).toBe(TEMPLATES.escalation);
      expect(sms.accepted).toHaveLength(2);
    });
  });

  it('a bad number fails that one SMS and the next contact is texted at once', async () => {
    sms.setState({ badNumbers: [WANG_HELPER] });
    const button = await device(0);
    const alarmId = (await button.pressSos().received).alarmId!;
    await until('the helper’s SMS refused', () => sms.rejected[0]);
    await settle();
    // A second of the fake clock, not the 5 minutes of the take timeout.
    await advance(1_000, 1_000);
    await until('the doctor texted', () => toNumber(WANG_DOCTOR)[0]);
    const view = await alarm(alarmId);
    expect(view.notifications.map((n) => [n.contactName, n.status, n.escalationLevel])).toEqual([
      ['刘建军', 'failed', 0],
      ['赵春梅', 'sent', 1],
    ]);
    expect(view.notifications[0]!.lastError).toContain('isv.MOBILE_NUMBER_ILLEGAL');
    expect(view.history.map((h) => h.note).join('\n')).toContain('发给刘建军的短信发送失败');
    expect((await health()).problems).toEqual([]);
  });

  it('after the outage sends every notice of the cases still open, the most severe first, and not those of a case closed meanwhile (skipped, with the reason)', async () => {
    sms.setMode('no-credit');
    // An older urgent case (inactivity) of 王秀英, then 张大爷's SOS, then 王秀英's SOS, closed before the provider is back.
    const store = system.alarmStore!;
    const inactivity = store.raiseFinding({ kind: 'inactivity', deviceId: creds[0]!.deviceId, eventId: 'quiet-1', eventTs: clock.nowMs(), reason: 'silent 5 h' }, clock.nowMs()).alarmId;
    system.outboxWorker!.kick();
    await settle();
    await advance(MINUTE);
    const zhang = (await (await device(1)).pressSos().received).alarmId!;
    const wang = (await (await device(0)).pressSos().received).alarmId!;
    await settle();
    expect((await alarm(zhang)).notifications).toMatchObject([{ status: 'pending', waitingForProvider: true }]);
    const resolved = await api.post(`/api/alarms/${wang}/resolve`, { note: '邻居已上门，老人平安' });
    expect(resolved.status).toBe(200);
    await advance(10 * MINUTE);
    expect(sms.accepted).toEqual([]);

    sms.setMode('ok');
    await advance(2 * MINUTE);
    // The probe that finds the provider back is the most severe waiting notice: the SOS, though the inactivity case is older.
    expect(sms.accepted.map((m) => m.phoneNumbers)).toEqual([ZHANG_HELPER, WANG_HELPER]);
    expect(sms.accepted[1]!.templateParam.kind).toBe('长时间无活动');
    expect((await alarm(inactivity)).notifications.map((n) => n.status)).toEqual(['sent']);
    const closed = await alarm(wang);
    expect(closed.notifications.map((n) => n.status)).toEqual(['skipped']);
    expect(closed.notifications[0]!.lastError).toContain('CASE_CLOSED');
    expect(closed.history.map((h) => h.note)).toContain('发给刘建军的短信未发出：警报已处理完毕');
  });

  it('after a restart during the outage learns it again from one send, keeps the notices waiting, and delivers them once the provider is back', async () => {
    sms.setMode('outage-503');
    const alarmId = (await (await device(0)).pressSos().received).alarmId!;
    await until('the outage', () => system.systemHealth!.has('SMS_PROVIDER_OUTAGE'));
    for (const d of devices.splice(0)) await d.stop();
    await system.stop();
    const before = sms.rejected.length;

    clock.advance(20 * MINUTE);
    await startSystem();
    await settle();
    // One request, not one per waiting notice: the outage is known again.
    expect(sms.rejected.length).toBe(before + 1);
    expect(system.systemHealth!.problems().map((p) => p.code)).toEqual(['SMS_PROVIDER_OUTAGE']);
    await advance(10 * MINUTE);
    expect((await alarm(alarmId))).toMatchObject({ escalationLevel: 0, notifications: [{ status: 'pending', waitingForProvider: true, attempts: 0 }] });

    sms.setMode('ok');
    await advance(2 * MINUTE);
    expect(toNumber(WANG_HELPER)).toHaveLength(1);
    expect(toNumber(WANG_DOCTOR)).toEqual([]);
    expect(system.systemHealth!.problems()).toEqual([]);
  });
});
