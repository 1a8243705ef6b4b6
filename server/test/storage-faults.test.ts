/**
 * Storage faults through the real system (MQTT gateway, SQLite on disk,
 * outbox, HTTP): a database that cannot write (full, read-only, locked by
 * another process) makes /api/health unhealthy with the reason, keeps the
 * SOS until it can be recorded, and says at start what is wrong and where.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import type { HealthResponse, SystemProblem } from '@kanjia/protocol';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { lockDatabase } from '../../tests/src/db-lock.js';
import { oneHousehold, RecordingSender, tempDataDir, TEST_PASSWORD, until } from './helpers.js';

const silent = { info: () => undefined, warn: () => undefined };

describe('storage faults through the real system', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function settingsFor(dir: string): Settings {
    return loadSettings({}, { overrides: { dataDir: dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
  }

  async function startWithHousehold(): Promise<{ system: KanjiaSystem; running: RunningSystem; sender: RecordingSender; device: SimDevice; logs: () => string; settings: Settings }> {
    const tmp = tempDataDir();
    cleanups.push(() => tmp.cleanup());
    const settings = settingsFor(tmp.dir);
    const db = openDatabase(databaseFile(settings));
    const creds = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(oneHousehold()).devices[0]!;
    db.close();
    const sender = new RecordingSender();
    let out = '';
    const system = new KanjiaSystem({ settings, smsSender: sender, logger: createLogger('info', new Writable({ write: (c: Buffer, _e, done) => ((out += c.toString()), done()) })) });
    const running = await system.start();
    cleanups.push(() => system.stop());
    const device = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: creds.deviceId, secret: creds.secret, logger: silent, resendIntervalMs: 60_000 });
    await device.start();
    cleanups.push(() => device.stop());
    return { system, running, sender, device, logs: () => out, settings };
  }

  async function health(running: RunningSystem): Promise<{ status: number; body: HealthResponse }> {
    const res = await fetch(new URL('/api/health', running.httpUrl));
    return { status: res.status, body: (await res.json()) as HealthResponse };
  }

  const storageProblem = (body: HealthResponse): SystemProblem | undefined => body.problems.find((p) => p.code === 'STORAGE_WRITE_FAILED');

  it('a full database (max_page_count): /api/health answers 503 unhealthy with SQLITE_FULL and the path from the first failed write, until there is room again', async () => {
    const { system, running, logs, settings } = await startWithHousehold();
    expect((await health(running)).body.status).toBe('ok');
    const db = system.database!;
    db.pragma(`max_page_count = ${db.pragma('page_count', { simple: true }) as number}`);
    // Fill what is left, as a growing log or telemetry would; the write that no longer fits fails.
    db.exec('CREATE TABLE filler (b BLOB)');
    expect(() => {
      for (;;) db.prepare('INSERT INTO filler VALUES (?)').run(Buffer.alloc(16_384));
    }).toThrow(/full/);

    const full = await health(running);
    expect(full.status).toBe(503);
    expect(full.body.status).toBe('unhealthy');
    const problem = storageProblem(full.body);
    expect(problem).toMatchObject({ severity: 'critical', unhealthy: true, details: { reason: 'SQLITE_FULL', path: databaseFile(settings) } });
    expect(problem?.message).toContain('kanjia.sqlite');
    expect(logs()).toMatch(/system problem: cannot write to the database .*kanjia\.sqlite: the disk is full/);

    // The probe finds no room either: still unhealthy a while later.
    await new Promise((r) => setTimeout(r, 300));
    expect((await health(running)).status).toBe(503);

    db.exec('DROP TABLE filler');
    db.pragma('max_page_count = 1073741823');
    await until('health ok again', async () => (await health(running)).body.status === 'ok', 15_000);
  });

  it('a database that refuses every write (read-only): the SOS is not acknowledged while it cannot be recorded, waits in memory, and is `received` with one case and its SMS once writes work again', async () => {
    const { system, running, sender, device } = await startWithHousehold();
    await system.users!.create({ name: 'liming', role: 'duty', villages: ['石门村'], password: TEST_PASSWORD });
    const db = system.database!;
    db.pragma('query_only = 1');
    const press = device.pressSos();
    let receivedAt = 0;
    press.received.then(() => (receivedAt = Date.now())).catch(() => undefined);
    const unhealthy = await until('health unhealthy', async () => {
      const h = await health(running);
      return h.status === 503 ? h : undefined;
    });
    expect(storageProblem(unhealthy.body)?.details).toMatchObject({ reason: 'SQLITE_READONLY' });
    expect(storageProblem(unhealthy.body)?.message).toContain('device events wait in memory');
    await new Promise((r) => setTimeout(r, 500));
    expect(receivedAt).toBe(0);
    expect(system.storage?.queued()).toBe(1);
    expect(sender.sent).toEqual([]);
    // A request that must write answers 503 with a stable code (nothing changed), not 500.
    const login = await fetch(new URL('/api/auth/login', running.httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'liming', password: TEST_PASSWORD }) });
    expect(login.status).toBe(503);
    expect(await login.json()).toMatchObject({ code: 'STORAGE_WRITE_FAILED' });

    const writableAt = Date.now();
    db.pragma('query_only = 0');
    const received = await press.received;
    expect(receivedAt).toBeGreaterThanOrEqual(writableAt);
    expect(received.alarmId).toMatch(/^alm/);
    expect(system.alarmStore?.countAlarmsForEvent(device.deviceId, received.eventId)).toBe(1);
    await until('the SMS', () => sender.sent.length === 1);
    expect(sender.sent[0]).toMatchObject({ to: '13800000001', template: 'alarm' });
    await until('health ok again', async () => (await health(running)).body.status === 'ok', 15_000);
  });

  it('a database locked by another process at start: waits, then stops with DATABASE_LOCKED naming the file and what to do; starts once the lock is gone', async () => {
    const tmp = tempDataDir();
    cleanups.push(() => tmp.cleanup());
    const settings = settingsFor(tmp.dir);
    openDatabase(databaseFile(settings)).close();
    const lock = await lockDatabase(databaseFile(settings));
    let released = false;
    cleanups.push(async () => {
      if (!released) await lock.release();
    });
    const system = new KanjiaSystem({ settings, smsSender: new RecordingSender(), logger: createLogger('silent'), storageLockWaitMs: 400 });
    const failure = await system.start().then(
      () => undefined,
      (err: unknown) => err as Error & { code?: string },
    );
    expect(failure?.code).toBe('DATABASE_LOCKED');
    expect(failure?.message).toContain(databaseFile(settings));
    expect(failure?.message).toMatch(/locked by another process .*fuser/);
    await lock.release();
    released = true;
    // The failed start let go of the data directory's own lock too.
    const again = new KanjiaSystem({ settings, smsSender: new RecordingSender(), logger: createLogger('silent') });
    await again.start();
    await again.stop();
  });

  it('a data directory that is a file: DATA_DIR_NOT_A_DIRECTORY naming it', async () => {
    const tmp = tempDataDir();
    cleanups.push(() => tmp.cleanup());
    mkdirSync(join(tmp.dir, 'parent'));
    const file = join(tmp.dir, 'parent', 'data');
    writeFileSync(file, 'not a directory');
    const system = new KanjiaSystem({ settings: settingsFor(file), smsSender: new RecordingSender(), logger: createLogger('silent') });
    await expect(system.start()).rejects.toMatchObject({ code: 'DATA_DIR_NOT_A_DIRECTORY', message: expect.stringContaining(file) });
  });
});
