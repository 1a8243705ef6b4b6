/**
 * The app of the township tests: the real stores on SQLite in a temp dir, the
 * real detection pipeline on a fake clock and the real auth plugin, one
 * logged-in user per role (as registry-routes.test.ts does).
 */
import { defaultPolicies } from '@kanjia/alerts';
import { DEFAULT_VISIT_FREQUENCY, FakeClock, type RegistryFileInput } from '@kanjia/protocol';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { AlarmService } from '../src/alarms/alarm-service.js';
import { SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { SqliteAuditLog } from '../src/auth/audit-log.js';
import { SqliteUserStore } from '../src/auth/user-store.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { buildApp } from '../src/http/app.js';
import { createLogger } from '../src/logger.js';
import { SqliteActivityLog } from '../src/pipeline/activity-log.js';
import { DetectionPipeline } from '../src/pipeline/detection-pipeline.js';
import { SqliteTelemetryStore } from '../src/pipeline/telemetry-store.js';
import { SqliteDeviceHistory } from '../src/registry/device-history.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { SqliteTownshipStore } from '../src/township/township-store.js';
import type { VisitFrequencies } from '../src/township/visit-schedule.js';
import { loginAs, tempDataDir } from './helpers.js';

/** Valid ID numbers (GB 11643 check digits computed): 王秀英, F, born 1941-01-01; 李桂兰, F, 1939-05-20; 张德福, M, 1938-12-31. */
export const ID_WANG = '430524194101011240';
export const ID_LI = '430524193905200026';
export const ID_ZHANG = '430524193812310031';

/** 2026-12-02 10:00 in Asia/Shanghai (a Wednesday). */
export const NOW = Date.UTC(2026, 11, 2, 2, 0, 0);
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

/** 石门村 (石门镇): 王秀英 (helper 刘建军 13800000001) and 张德福 (helper 刘建军 too, and 陈明 13800000005); 青山村 (no township): 李桂兰 (helper 张伟 13900000001). */
export function township(): RegistryFileInput {
  return {
    villages: [
      {
        name: '石门村',
        township: '石门镇',
        timezone: 'Asia/Shanghai',
        lat: 27.11,
        lng: 111.03,
        households: [
          {
            address: '石门村一组12号',
            lat: 27.112,
            lng: 111.031,
            residents: [
              {
                name: '王秀英',
                sex: 'F',
                idNumber: ID_WANG,
                phone: '13712345678',
                category: 'dispersedSupport',
                careLevel: 'especiallyDifficult',
                livingSituation: 'alone',
                guardianName: '王小军',
                guardianWorkplace: '广东省东莞市 电子厂',
                guardianPhone: '13912340000',
                joinedOn: '2026-11-01',
                contacts: [
                  { name: '刘建军', role: 'helper', phone: '13800000001', post: '村支书' },
                  { name: '赵春梅', role: 'doctor', phone: '13800000002', post: '村医' },
                ],
              },
            ],
            devices: [{ kind: 'sosButton' }, { kind: 'motionSensor' }],
          },
          {
            address: '石门村二组3号',
            lat: 27.113,
            lng: 111.032,
            residents: [
              {
                name: '张德福',
                sex: 'M',
                idNumber: ID_ZHANG,
                category: '独居',
                joinedOn: '2026-11-01',
                contacts: [
                  { name: '刘建军', role: 'helper', phone: '13800000001', post: '村支书' },
                  { name: '陈明', role: 'helper', phone: '13800000005', post: '网格员' },
                ],
              },
            ],
            devices: [{ kind: 'sosButton' }],
          },
        ],
      },
      {
        name: '青山村',
        timezone: 'Asia/Shanghai',
        lat: 27.2,
        lng: 111.1,
        households: [
          {
            address: '青山村三组4号',
            lat: 27.201,
            lng: 111.101,
            residents: [{ name: '李桂兰', sex: 'F', idNumber: ID_LI, category: '低保', joinedOn: '2026-11-20', contacts: [{ name: '张伟', role: 'helper', phone: '13900000001' }] }],
            devices: [{ kind: 'sosButton' }],
          },
        ],
      },
    ],
  };
}

export type Role = 'admin' | 'township' | 'duty' | 'dutyB' | 'helper' | 'helperChen';

export interface TownshipApp {
  app: FastifyInstance;
  db: Db;
  clock: FakeClock;
  registry: SqliteRegistryStore;
  township: SqliteTownshipStore;
  alarms: AlarmService;
  alarmStore: SqliteAlarmStore;
  pipeline: DetectionPipeline;
  audit: SqliteAuditLog;
  /** Device ids the detectors were told to re-read. */
  changed: string[];
  ids: { shimen: string; qingshan: string; wang: string; zhang: string; li: string; wangHousehold: string; wangSos: string; wangMotion: string; liuForWang: string; chenForZhang: string };
  as: (role: Role, method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE', url: string, payload?: unknown) => Promise<LightMyRequestResponse>;
  close: () => Promise<void>;
}

/** Builds the app over a fresh database holding township() at NOW (or `startMs`). */
export async function townshipApp(options: { frequencies?: VisitFrequencies; startMs?: number } = {}): Promise<TownshipApp> {
  const tmp = tempDataDir();
  const db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
  const clock = new FakeClock(options.startMs ?? NOW);
  const registry = new SqliteRegistryStore(db, Buffer.alloc(32, 1), () => clock.nowMs());
  const alarmStore = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(), locale: 'zh-CN', channel: 'test', publicUrl: 'http://127.0.0.1:8080' });
  const imported = registry.importRegistry(township());
  const townshipStore = new SqliteTownshipStore(db, registry, () => clock.nowMs(), options.frequencies ?? DEFAULT_VISIT_FREQUENCY);
  const villages = registry.allVillages();
  const shimen = villages.find((v) => v.name === '石门村')!.id;
  const qingshan = villages.find((v) => v.name === '青山村')!.id;
  const byName = (name: string) => registry.residents({}).find((r) => r.name === name)!;
  const wang = byName('王秀英');
  const zhang = byName('张德福');
  const ids = {
    shimen,
    qingshan,
    wang: wang.id,
    zhang: zhang.id,
    li: byName('李桂兰').id,
    wangHousehold: wang.householdId,
    wangSos: imported.devices[0]!.deviceId,
    wangMotion: imported.devices[1]!.deviceId,
    liuForWang: registry.contactsOf(wang.id).find((c) => c.name === '刘建军')!.id,
    chenForZhang: registry.contactsOf(zhang.id).find((c) => c.name === '陈明')!.id,
  };

  const logger = createLogger('silent');
  const users = new SqliteUserStore(db, () => clock.nowMs());
  const audit = new SqliteAuditLog(db, () => clock.nowMs());
  const commands = { publishCommand: async () => undefined, isOnline: () => false };
  const activity = new SqliteActivityLog(db, clock);
  const deviceHistory = new SqliteDeviceHistory(db);
  const pipeline = new DetectionPipeline({ db, registry, store: alarmStore, telemetry: new SqliteTelemetryStore(db), commands, clock, logger, fallGraceMs: 30_000, onAlarmsChanged: () => undefined, activity, deviceHistory });
  const alarms = new AlarmService({
    store: alarmStore,
    registry,
    clock,
    logger,
    commands,
    outbox: { kick: () => undefined },
    escalation: { reschedule: () => undefined },
    feed: { alarmChanged: () => undefined, alarmRepeated: () => undefined, devicePresence: () => undefined },
    onResolved: (alarm) => {
      if (alarm.resolvedAt !== null) townshipStore.openFollowUp(alarm.id, alarm.resident.id, alarm.resolvedAt);
    },
  });
  alarms.observeEvents(pipeline);
  pipeline.start();
  const changed: string[] = [];
  const registryChanged = (deviceIds: readonly string[]) => {
    changed.push(...deviceIds);
    pipeline.registryChanged(deviceIds);
  };
  const app = await buildApp({
    alarms,
    store: alarmStore,
    logger,
    version: 'test',
    health: () => ({ ready: true }),
    villages: () => registry.villages(),
    setAway: (id, away) => registry.setAway(id, away, clock.nowMs()),
    stats: () => {
      throw new Error('not used here');
    },
    auth: { users, audit, nowMs: () => clock.nowMs() },
    residentVillage: (id) => registry.residentContext(id)?.villageId,
    registry: { registry, audit, alarms: alarmStore, activity, deviceHistory, nowMs: () => clock.nowMs(), routineOf: (id, tz) => pipeline.routineOf(id, tz), registryChanged, township: townshipStore },
    township: { registry, township: townshipStore, audit, nowMs: () => clock.nowMs(), registryChanged },
    reports: { db, registry, frequencies: townshipStore.frequencies, nowMs: () => clock.nowMs(), timezone: 'Asia/Shanghai', audit },
  });
  const login = (name: string, user: Parameters<typeof loginAs>[2]) => loginAs(app, users, { ...user, name });
  const cookies: Record<Role, string> = {
    admin: await login('admin', { name: 'admin', role: 'admin', displayName: '管理员' }),
    township: await login('zhen', { name: 'zhen', role: 'township', township: '石门镇', displayName: '镇民政办 王' }),
    duty: await login('li', { name: 'li', role: 'duty', villages: [shimen], displayName: '值班员 李明' }),
    dutyB: await login('zhao', { name: 'zhao', role: 'duty', villages: [qingshan], displayName: '值班员 赵' }),
    helper: await login('liu', { name: 'liu', role: 'helper', phone: '13800000001', displayName: '刘建军' }),
    helperChen: await login('chen', { name: 'chen', role: 'helper', phone: '13800000005', displayName: '陈明' }),
  };
  const as: TownshipApp['as'] = (role, method, url, payload) =>
    app.inject({ method, url, headers: { cookie: cookies[role] }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return {
    app,
    db,
    clock,
    registry,
    township: townshipStore,
    alarms,
    alarmStore,
    pipeline,
    audit,
    changed,
    ids,
    as,
    close: async () => {
      pipeline.stop();
      await app.close();
      db.close();
      tmp.cleanup();
    },
  };
}

/** An in-person visit body with everything fine. */
export function visitBody(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    mode: 'inPerson',
    health: 'good',
    mood: 'good',
    hygiene: 'fair',
    safety: { stove: { status: 'ok' }, wiring: { status: 'problem', note: '厨房插座松动' }, heating: { status: 'ok' } },
    needs: '冬季棉被',
    measures: '送米一袋',
    followUp: '下周请电工来看插座',
    ...extra,
  };
}
