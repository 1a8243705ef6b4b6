/**
 * Issue 12: one village's duty-group robot refusing its posts does not hold
 * up another village's (alerts/src/robots/robot-gate.ts). The real system
 * (MQTT gateway, SQLite, outbox) with the real DingTalk channel posting over
 * HTTP to the local robot server, which checks each robot's 加签 signature,
 * on a fake clock shared by both. 石门村's robot is set up with a secret
 * DingTalk does not know; 李家村's is right.
 */
import { DingTalkRobotChannel } from '@kanjia/alerts';
import { LocalRobotServer, type LocalDingTalkRobot } from '@kanjia/alerts/testing';
import { SimDevice } from '@kanjia/firmware-sim';
import { FakeClock, type AlarmView } from '@kanjia/protocol';
import { afterEach, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem } from '../src/system.js';
import { oneHousehold, ScriptedChannel, systemClient, tempDataDir, until } from './helpers.js';

const DAY = Date.UTC(2026, 0, 15, 2, 0, 0);
const silent = { info: () => undefined, warn: () => undefined };
const TOKEN_SHIMEN = 's'.repeat(64);
const TOKEN_LIJIA = 'l'.repeat(64);
const SECRET_SHIMEN_SET = 'SECshimen-as-configured-0001';
const SECRET_LIJIA = 'SEClijia-robot-secret-0002';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it("one village's robot refusing its posts: that group's posts wait and the banner names the village; the other village's go; once fixed, the waiting post goes and the problem clears", async () => {
  const tmp = tempDataDir();
  const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
  const db = openDatabase(databaseFile(settings));
  const registry = new SqliteRegistryStore(db, loadDeviceKey(settings));
  const shimen = oneHousehold();
  const lijia = oneHousehold();
  const village = lijia.villages[0]!;
  Object.assign(village, { name: '李家村' });
  Object.assign(village.households[0]!, { address: '李家村三组5号' });
  Object.assign(village.households[0]!.residents[0]!, { name: '李桂兰', idNumber: '430524194002021240' });
  const creds = [...registry.importRegistry(shimen).devices, ...registry.importRegistry(lijia).devices];
  const ids = Object.fromEntries(registry.villages().map((v) => [v.name, v.id]));
  db.close();

  const clock = new FakeClock(DAY);
  // The platform's side: 石门村's robot has another secret than ours (re-created, and nobody updated the settings).
  const robots: Record<string, LocalDingTalkRobot> = { [TOKEN_SHIMEN]: { secret: 'SECshimen-the-platform-has-0009' }, [TOKEN_LIJIA]: { secret: SECRET_LIJIA } };
  const server = new LocalRobotServer({ dingtalk: robots, clock });
  const { url } = await server.start();
  const group = new DingTalkRobotChannel(
    { groups: { [ids['石门村']!]: { webhook: TOKEN_SHIMEN, secret: SECRET_SHIMEN_SET }, [ids['李家村']!]: { webhook: TOKEN_LIJIA, secret: SECRET_LIJIA } }, baseUrl: url },
    { clock, log: () => undefined },
  );
  const sms = new ScriptedChannel('primary', 'sms');
  const system = new KanjiaSystem({ settings, clock, smsSender: sms, channels: { group }, logger: createLogger('silent') });
  const running = await system.start();
  const devices = creds.map((c) => new SimDevice({ brokerUrl: running.mqttUrl, deviceId: c.deviceId, secret: c.secret, logger: silent, resendIntervalMs: 600_000 }));
  await Promise.all(devices.map((d) => d.start()));
  cleanups.push(async () => {
    await Promise.all(devices.map((d) => d.stop()));
    await system.stop();
    await server.stop();
    tmp.cleanup();
  });
  const api = systemClient(() => system.users, running.httpUrl);
  const health = system.systemHealth!;
  const groupPostOf = async (alarmId: string) => (await api.get<AlarmView>(`/api/alarms/${alarmId}`)).notifications.find((n) => n.purpose === 'group');

  const inShimen = (await devices[0]!.pressSos().received).alarmId as string;
  await until("石门村's post refused", () => server.rejected.length === 1);
  expect(server.rejected[0]).toMatchObject({ errcode: 310000, errmsg: 'sign not match' });
  const problem = await until('the fault on the banner', () => health.problems().find((p) => p.code === 'GROUP_ROBOT_FAULT'));
  expect(problem).toMatchObject({ severity: 'warning', unhealthy: false, details: { groups: '石门村', reason: 'dingtalk.310000', kind: 'setup', count: 1 } });
  // Not an outage of the whole channel.
  expect(health.has('GROUP_ROBOT_OUTAGE')).toBe(false);
  expect(await groupPostOf(inShimen)).toMatchObject({ status: 'pending', channel: 'dingtalk' });

  // 李家村's alarm is posted at once, 石门村's robot notwithstanding.
  const inLijia = (await devices[1]!.pressSos().received).alarmId as string;
  const posted = await server.waitFor((p) => p.token === TOKEN_LIJIA);
  expect(posted.text).toContain('李桂兰');
  await until("李家村's post sent", async () => (await groupPostOf(inLijia))?.status === 'sent');
  // 石门村's robot was not asked again meanwhile: its posts wait for the probe 30 s after the refusal.
  expect(server.rejected).toHaveLength(1);

  // Somebody puts the right secret in the robot; the next probe goes through.
  robots[TOKEN_SHIMEN] = { secret: SECRET_SHIMEN_SET };
  clock.advance(30_000);
  const late = await server.waitFor((p) => p.token === TOKEN_SHIMEN);
  expect(late.text).toContain('王秀英');
  await until('the fault cleared', () => !health.has('GROUP_ROBOT_FAULT'));
  await until("石门村's post sent", async () => (await groupPostOf(inShimen))?.status === 'sent');
});
