/**
 * The socket.io feed through the real system (MQTT gateway, SQLite, REST):
 * only logged-in users connect, each hears only its villages, and logout or
 * the end of the session disconnects the socket.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import { FakeClock, SOCKET_EVENTS, type AlarmView } from '@kanjia/protocol';
import { io, type Socket } from 'socket.io-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SESSION_IDLE_MS } from '../src/auth/user-store.js';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { SESSION_SWEEP_MS } from '../src/http/live-feed.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { RecordingSender, systemClient, tempDataDir, twoVillages, until } from './helpers.js';

const silent = { info: () => undefined, warn: () => undefined };


describe('live feed: sessions and scope', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let clock: FakeClock;
  let system: KanjiaSystem;
  let running: RunningSystem;
  let devices: SimDevice[];
  const sockets: Socket[] = [];

  /** Connects a socket.io client with these headers; resolves once connected, rejects with the refusal. */
  const connect = (headers: Record<string, string>) =>
    new Promise<Socket>((resolve, reject) => {
      const socket = io(running.httpUrl, { transports: ['websocket'], reconnection: false, extraHeaders: headers });
      sockets.push(socket);
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', (err) => reject(err));
    });
  const heard = (socket: Socket) => {
    const alarms: AlarmView[] = [];
    socket.on(SOCKET_EVENTS.alarmUpdate, (a: AlarmView) => alarms.push(a));
    return alarms;
  };

  beforeEach(async () => {
    tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', publicUrl: 'https://kanjia.example.cn' } });
    const db = openDatabase(databaseFile(settings));
    const creds = new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(twoVillages()).devices;
    db.close();
    clock = new FakeClock(Date.UTC(2026, 0, 15, 2, 0, 0));
    system = new KanjiaSystem({ settings, clock, smsSender: new RecordingSender(), logger: createLogger('silent') });
    running = await system.start();
    devices = creds.map((c) => new SimDevice({ brokerUrl: running.mqttUrl, deviceId: c.deviceId, secret: c.secret, logger: silent, resendIntervalMs: 60_000 }));
    await Promise.all(devices.map((d) => d.start()));
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await Promise.all(devices.map((d) => d.stop()));
    await system.stop();
    tmp.cleanup();
  });

  it('refuses a socket without a session, and one opened from another site', async () => {
    await expect(connect({})).rejects.toThrow('UNAUTHENTICATED');
    await expect(connect({ cookie: 'kanjia_session=made-up' })).rejects.toThrow('UNAUTHENTICATED');
    const duty = systemClient(() => system.users, running.httpUrl, { name: 'shimen', role: 'duty', villages: ['石门村'] });
    await expect(connect({ cookie: await duty.cookie(), origin: 'http://evil.example' })).rejects.toThrow('CROSS_ORIGIN');
  });

  it('opens the feed by the same origin rule as REST: this server as reached, or the public address; the same host under another scheme is refused', async () => {
    const duty = systemClient(() => system.users, running.httpUrl, { name: 'shimen', role: 'duty', villages: ['石门村'] });
    const cookie = await duty.cookie();
    const own = new URL(running.httpUrl);
    await expect(connect({ cookie, origin: `https://${own.host}` })).rejects.toThrow('CROSS_ORIGIN');
    expect((await connect({ cookie, origin: `http://${own.host}` })).connected).toBe(true);
    expect((await connect({ cookie, origin: 'https://kanjia.example.cn' })).connected).toBe(true);
    // REST answers the same three origins alike.
    const take = (origin: string) => fetch(new URL('/api/auth/logout', running.httpUrl), { method: 'POST', headers: { cookie, origin, 'content-type': 'application/json' }, body: '{}' });
    expect((await take(`https://${own.host}`)).status).toBe(403);
    expect((await take('https://kanjia.example.cn')).status).toBe(200);
  });

  it('a duty officer of 石门村 never hears 李家村’s alarm on the socket and gets 404 for it; the admin hears both', async () => {
    const duty = systemClient(() => system.users, running.httpUrl, { name: 'shimen', role: 'duty', villages: ['石门村'] });
    const admin = systemClient(() => system.users, running.httpUrl);
    const dutySocket = await connect({ cookie: await duty.cookie() });
    const adminSocket = await connect({ cookie: await admin.cookie() });
    const dutyHeard = heard(dutySocket);
    const adminHeard = heard(adminSocket);
    const [shimen, lijia] = devices as [SimDevice, SimDevice];

    const b = await lijia.pressSos().received;
    await until('李家村 alarm at the admin', () => adminHeard.find((a) => a.id === b.alarmId));
    const a = await shimen.pressSos().received;
    await until('石门村 alarm at the duty officer', () => dutyHeard.find((x) => x.id === a.alarmId));
    await until('石门村 alarm at the admin', () => adminHeard.find((x) => x.id === a.alarmId));
    expect(new Set(dutyHeard.map((x) => x.village.name))).toEqual(new Set(['石门村']));
    expect(dutyHeard.some((x) => x.id === b.alarmId)).toBe(false);

    expect((await duty.request(`/api/alarms/${b.alarmId}`)).status).toBe(404);
    expect((await duty.post(`/api/alarms/${b.alarmId}/take`, {})).status).toBe(404);
    // The admin takes B: the change is pushed to the admin, still not to the duty officer.
    expect((await admin.post(`/api/alarms/${b.alarmId}/take`, {})).status).toBe(200);
    await until('李家村 taken at the admin', () => adminHeard.find((x) => x.id === b.alarmId && x.status === 'taken'));
    expect((await duty.post(`/api/alarms/${a.alarmId}/take`, {})).status).toBe(200);
    await until('石门村 taken at the duty officer', () => dutyHeard.find((x) => x.id === a.alarmId && x.status === 'taken'));
    expect(dutyHeard.some((x) => x.id === b.alarmId)).toBe(false);
  });

  it('follows the user’s scope as of now: a helper taken off the chain stops hearing the case at once; a duty officer moved to another village hears the new one after the sweep', async () => {
    const admin = systemClient(() => system.users, running.httpUrl);
    const helper = systemClient(() => system.users, running.httpUrl, { name: 'liujianjun', role: 'helper', phone: '13800000001' });
    const duty = systemClient(() => system.users, running.httpUrl, { name: 'shimen', role: 'duty', villages: ['石门村'] });
    const helperHeard = heard(await connect({ cookie: await helper.cookie() }));
    const dutyHeard = heard(await connect({ cookie: await duty.cookie() }));
    const adminHeard = heard(await connect({ cookie: await admin.cookie() }));
    const [shimen, lijia] = devices as [SimDevice, SimDevice];
    const a = await shimen.pressSos().received;
    await until('the alarm at the helper', () => helperHeard.find((x) => x.id === a.alarmId));
    const residentId = helperHeard[0]!.resident.id;
    const contact = system.registry!.contactsOf(residentId).find((c) => c.phone === '13800000001')!;
    expect((await admin.request(`/api/contacts/${contact.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await helper.request(`/api/alarms/${a.alarmId}`)).status).toBe(404);
    expect((await admin.post(`/api/alarms/${a.alarmId}/take`, {})).status).toBe(200);
    await until('taken at the admin', () => adminHeard.find((x) => x.id === a.alarmId && x.status === 'taken'));
    await until('taken at the duty officer', () => dutyHeard.find((x) => x.id === a.alarmId && x.status === 'taken'));
    await new Promise((r) => setTimeout(r, 200));
    expect(helperHeard.some((x) => x.id === a.alarmId && x.status === 'taken')).toBe(false);

    // The CLI (another process) moves the officer to 李家村: the sweep applies it.
    system.users!.setVillages('shimen', ['李家村']);
    clock.advance(SESSION_SWEEP_MS);
    const b = await lijia.pressSos().received;
    await until('李家村 at the duty officer', () => dutyHeard.find((x) => x.id === b.alarmId));
    expect((await admin.post(`/api/alarms/${a.alarmId}/resolve`, { note: '已处理' })).status).toBe(200);
    await until('resolved at the admin', () => adminHeard.find((x) => x.id === a.alarmId && x.status === 'resolved'));
    await new Promise((r) => setTimeout(r, 200));
    expect(dutyHeard.some((x) => x.id === a.alarmId && x.status === 'resolved')).toBe(false);
  });

  it('logout disconnects the sockets of that session; the end of a session disconnects them within a minute', async () => {
    const duty = systemClient(() => system.users, running.httpUrl, { name: 'shimen', role: 'duty', villages: ['石门村'] });
    const socket = await connect({ cookie: await duty.cookie() });
    const closed = new Promise<string>((resolve) => socket.once('disconnect', (reason) => resolve(reason)));
    expect((await duty.post('/api/auth/logout', {})).status).toBe(200);
    expect(await closed).toBe('io server disconnect');

    const other = systemClient(() => system.users, running.httpUrl, { name: 'wang', role: 'duty', villages: ['石门村'] });
    const idle = await connect({ cookie: await other.cookie() });
    const ended = new Promise<string>((resolve) => idle.once('disconnect', (reason) => resolve(reason)));
    clock.advance(SESSION_IDLE_MS - SESSION_SWEEP_MS);
    await new Promise((r) => setTimeout(r, 100));
    expect(idle.connected).toBe(true);
    clock.advance(2 * SESSION_SWEEP_MS);
    expect(await ended).toBe('io server disconnect');
  });
});
