/**
 * The village map on the server: one state per household by precedence, the
 * REST list and config, `household:state` pushed on every change (devices
 * connecting, an SOS, away mode, an unanswered reminder and its answer), and
 * the plan image upload with its checks.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import { FakeClock, HouseholdStateEvent, MapConfigResponse, MapHouseholdsResponse, type MapHousehold, type RegistryFile } from '@kanjia/protocol';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { householdState } from '../src/map/household-state.js';
import { mapTiles } from '../src/map/map-tiles.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { RecordingSender, systemClient, tempDataDir } from './helpers.js';

const MINUTE = 60_000;
const silent = { info: () => undefined, warn: () => undefined };
/** A real 1×1 PNG. */
const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

describe('householdState: one state by precedence', () => {
  const fine = { away: false, watch: { reminder: null, learning: false } };
  it('puts an active case first, then a reminder, a device problem, away, learning, fine', () => {
    expect(householdState({ activeAlarmKinds: ['sos'], residents: [{ away: true, watch: { reminder: 'inactivity', learning: true } }], deviceProblems: ['offline'] })).toEqual({ state: 'alarm', detail: null });
    expect(householdState({ activeAlarmKinds: [], residents: [{ away: false, watch: { reminder: 'checkIn', learning: true } }], deviceProblems: ['offline'] })).toEqual({ state: 'reminder', detail: 'checkIn' });
    expect(householdState({ activeAlarmKinds: [], residents: [{ away: true, watch: { reminder: null, learning: true } }], deviceProblems: [null, 'lowBattery'] })).toEqual({ state: 'device', detail: 'lowBattery' });
    expect(householdState({ activeAlarmKinds: [], residents: [{ away: true, watch: { reminder: null, learning: true } }], deviceProblems: [null] })).toEqual({ state: 'away', detail: null });
    expect(householdState({ activeAlarmKinds: [], residents: [{ away: false, watch: { reminder: null, learning: true } }], deviceProblems: [null] })).toEqual({ state: 'learning', detail: null });
    expect(householdState({ activeAlarmKinds: [], residents: [fine], deviceProblems: [null] })).toEqual({ state: 'fine', detail: null });
  });
  it('shows a device-health case as a device problem, not an alarm; no device at all is one too', () => {
    expect(householdState({ activeAlarmKinds: ['deviceOffline'], residents: [fine], deviceProblems: [null] })).toEqual({ state: 'device', detail: 'offline' });
    expect(householdState({ activeAlarmKinds: [], residents: [fine], deviceProblems: [] })).toEqual({ state: 'device', detail: 'noDevice' });
    expect(householdState({ activeAlarmKinds: [], residents: [fine], deviceProblems: ['lowBattery', 'neverSeen', 'offline'] }).detail).toBe('offline');
  });
  it('is away only when every resident is away', () => {
    expect(householdState({ activeAlarmKinds: [], residents: [{ ...fine, away: true }, fine], deviceProblems: [null] }).state).toBe('fine');
    expect(householdState({ activeAlarmKinds: [], residents: [{ ...fine, away: true }, { ...fine, away: true }], deviceProblems: [null] }).state).toBe('away');
  });
});

describe('mapTiles: the configured background', () => {
  it('requests nothing by default, 天地图 vector and labels with the key, or the template with its datum', () => {
    expect(mapTiles({ mapTiles: 'none', mapTileCrs: 'wgs84' })).toEqual({ kind: 'none' });
    const tdt = mapTiles({ mapTiles: 'tianditu', mapTiandituKey: 'abcdef0123456789', mapTileCrs: 'wgs84' });
    expect(tdt.kind === 'tiles' && tdt.layers.map((l) => l.url)).toEqual([expect.stringContaining('/vec_w/wmts?'), expect.stringContaining('/cva_w/wmts?')]);
    expect(tdt.kind === 'tiles' && tdt.layers[0]?.url).toContain('tk=abcdef0123456789');
    expect(mapTiles({ mapTiles: 'http://127.0.0.1:9/{z}/{x}/{y}.png', mapTileCrs: 'gcj02' })).toMatchObject({ kind: 'tiles', crs: 'gcj02', layers: [{ url: 'http://127.0.0.1:9/{z}/{x}/{y}.png', subdomains: [] }] });
  });
  it('refuses a template without {z}/{x}/{y} and 天地图 without its key, saying which variable', () => {
    expect(() => loadSettings({ KANJIA_MAP_TILES: 'http://tiles.example/tile.png' })).toThrow(/KANJIA_MAP_TILES: .*\{z\}, \{x\} and \{y\}/);
    expect(() => loadSettings({ KANJIA_MAP_TILES: 'tianditu' })).toThrow(/KANJIA_TIANDITU_KEY/);
    expect(() => loadSettings({ KANJIA_MAP_TILE_CRS: 'bd09' })).toThrow(/KANJIA_MAP_TILE_CRS/);
  });
});

function registry(): RegistryFile {
  const contacts = [{ name: '刘建军', role: 'helper' as const, phone: '13800000001' }];
  return {
    villages: [
      {
        name: '石门村',
        timezone: 'Asia/Shanghai',
        lat: 27.11,
        lng: 111.03,
        households: [
          { address: '石门村一组1号', lat: 27.111, lng: 111.031, residents: [{ name: '王秀英', contacts }], devices: [{ kind: 'sosButton' }] },
          { address: '石门村一组2号', lat: 27.112, lng: 111.032, residents: [{ name: '李桂兰', contacts }], devices: [{ kind: 'sosButton' }, { kind: 'motionSensor' }] },
          { address: '石门村一组3号', lat: 27.113, lng: 111.033, residents: [{ name: '张德福', contacts }], devices: [] },
        ],
      },
    ],
  };
}

describe('the household map through the real system (fake clock)', () => {
  const tmp = tempDataDir();
  // 10:00 in Shanghai: daytime, so four hours of silence is a reminder.
  const startMs = Date.UTC(2026, 2, 2, 2, 0);
  const clock = new FakeClock(startMs);
  let system: KanjiaSystem;
  let running: RunningSystem;
  let socket: Socket;
  const events: MapHousehold[] = [];
  const devices: SimDevice[] = [];
  let creds: Array<{ deviceId: string; secret: string; kind: string; householdId: string }>;
  let villageId: string;
  let api: ReturnType<typeof systemClient>;

  const get = <T>(path: string): Promise<T> => api.get<T>(path);
  const households = async () => MapHouseholdsResponse.parse(await get('api/map/households')).households;
  const byAddress = async (address: string) => (await households()).find((h) => h.address === address)!;
  const lastEvent = (address: string) => events.filter((e) => e.address === address).at(-1);
  async function waitForEvent(address: string, state: MapHousehold['state']): Promise<MapHousehold> {
    for (let i = 0; i < 400; i++) {
      const e = lastEvent(address);
      if (e?.state === state) return e;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no household:state ${state} for ${address}; last: ${JSON.stringify(lastEvent(address))}`);
  }

  beforeAll(async () => {
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
    const db = openDatabase(databaseFile(settings));
    const store = new SqliteRegistryStore(db, loadDeviceKey(settings), () => startMs);
    creds = store.importRegistry(registry()).devices;
    villageId = store.villages()[0]!.id;
    db.close();
    system = new KanjiaSystem({ settings, clock, smsSender: new RecordingSender(), logger: createLogger('silent') });
    running = await system.start();
    api = systemClient(() => system.users, running.httpUrl);
    socket = io(running.httpUrl, { transports: ['websocket'], extraHeaders: { cookie: await api.cookie() } });
    socket.on('household:state', (payload: unknown) => events.push(HouseholdStateEvent.parse(payload)));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  });

  afterAll(async () => {
    socket?.disconnect();
    await Promise.all(devices.map((d) => d.stop()));
    await system?.stop();
    tmp.cleanup();
  });

  it('lists every household with its WGS-84 position, residents and state; none is fine before its devices are heard', async () => {
    const list = await households();
    expect(list.map((h) => [h.address, h.state, h.detail])).toEqual([
      ['石门村一组1号', 'device', 'neverSeen'],
      ['石门村一组2号', 'device', 'neverSeen'],
      ['石门村一组3号', 'device', 'noDevice'],
    ]);
    expect(list[0]).toMatchObject({ lat: 27.111, lng: 111.031, villageId, residents: [{ name: '王秀英' }], activeAlarms: 0 });
    const config = MapConfigResponse.parse(await get('api/map/config'));
    expect(config).toEqual({ tiles: { kind: 'none' }, plans: [], villages: [{ id: villageId, name: '石门村', lat: 27.11, lng: 111.03 }] });
  });

  it('pushes household:state as devices connect (learning: the first week), on an SOS (alarm) and on away mode', async () => {
    for (const c of creds) {
      const d = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: c.deviceId, secret: c.secret, logger: silent, resendIntervalMs: 60 * MINUTE, clock });
      await d.start();
      devices.push(d);
    }
    expect((await waitForEvent('石门村一组1号', 'learning')).residents).toEqual([expect.objectContaining({ name: '王秀英' })]);
    await waitForEvent('石门村一组2号', 'learning');

    const press = devices[0]!.pressSos();
    await press.received;
    const alarm = await waitForEvent('石门村一组1号', 'alarm');
    expect(alarm.activeAlarms).toBe(1);
    expect((await households())[0]).toMatchObject({ address: '石门村一组1号', state: 'alarm', activeAlarms: 1 });

    const residentId = (await byAddress('石门村一组2号')).residents[0]!.id;
    const res = await api.post(`api/residents/${residentId}/away`, { away: true });
    expect(res.status).toBe(200);
    await waitForEvent('石门村一组2号', 'away');
    await api.post(`api/residents/${residentId}/away`, { away: false });
    await waitForEvent('石门村一组2号', 'learning');
  });

  it('shows an unanswered inactivity reminder after four silent daytime hours, and back to learning once the person moves', async () => {
    const sensorDevice = devices[2]!; // household 2's motion sensor
    // Keep the devices heard (heartbeats) while the resident is silent.
    for (let t = 0; t < 4 * 60 + 5; t += 10) {
      clock.advance(10 * MINUTE);
      // A battery report is a sign of the device, not of the person.
      if (t % 60 === 0) await sensorDevice.sendTelemetry({ batteryPct: 90 });
      await new Promise((r) => setTimeout(r, 5));
    }
    const reminder = await waitForEvent('石门村一组2号', 'reminder');
    expect(reminder.detail).toBe('inactivity');
    await sensorDevice.sendTelemetry({ motion: true });
    await waitForEvent('石门村一组2号', 'learning');
  });

  it('takes a village plan (png, corners), serves it, and refuses what is not one with a stable code', async () => {
    const url = (q: string) => `api/map/plans/${villageId}?${q}`;
    const corners = 'south=27.10&west=111.02&north=27.12&east=111.04';
    const ok = await api.request(url(corners), { method: 'PUT', headers: { 'content-type': 'image/png' }, body: PNG_1X1 });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ villageId, contentType: 'image/png', width: 1, height: 1, bounds: { south: 27.1, west: 111.02, north: 27.12, east: 111.04 } });
    const config = MapConfigResponse.parse(await get('api/map/config'));
    expect(config.plans).toHaveLength(1);
    const image = await api.request(config.plans[0]!.url);
    expect(image.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await image.arrayBuffer()).equals(PNG_1X1)).toBe(true);

    const refused = async (init: RequestInit, q = corners) => {
      const r = await api.request(url(q), { method: 'PUT', ...init });
      return [r.status, ((await r.json()) as { code: string }).code];
    };
    expect(await refused({ headers: { 'content-type': 'image/png' }, body: Buffer.from('not an image at all') })).toEqual([400, 'PLAN_NOT_AN_IMAGE']);
    expect(await refused({ headers: { 'content-type': 'image/jpeg' }, body: PNG_1X1 })).toEqual([400, 'PLAN_TYPE_MISMATCH']);
    expect(await refused({ headers: { 'content-type': 'image/png' }, body: Buffer.alloc(10 * 1024 * 1024 + 1) })).toEqual([413, 'PLAN_TOO_LARGE']);
    expect(await refused({ headers: { 'content-type': 'image/gif' }, body: PNG_1X1 })).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(await refused({ headers: { 'content-type': 'image/png' }, body: PNG_1X1 }, 'south=27.13&west=111.02&north=27.12&east=111.04')).toEqual([400, 'BAD_REQUEST']);
    const other = await api.request(`api/map/plans/vil_nope?${corners}`, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: PNG_1X1 });
    expect(other.status).toBe(404);
    // Without a session: 401, as every route.
    expect((await fetch(`${running.httpUrl}api/map/households`)).status).toBe(401);
    // The good plan is still there.
    expect(MapConfigResponse.parse(await get('api/map/config')).plans[0]?.width).toBe(1);
  });
});
