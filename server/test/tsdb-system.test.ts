/**
 * Kanjia with KANJIA_INFLUX_* pointed at a real victoria-metrics: readings a
 * device publishes over MQTT reach it tagged with the registry's ids (and
 * SQLite keeps its own batched copy), the resident card's chart keeps its
 * shape from either store, and what Kanjia could not send before it stopped
 * is sent by the next start.
 */
import { SimDevice } from '@kanjia/firmware-sim';
import type { ResidentCard } from '@kanjia/protocol';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings, type Settings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { KanjiaSystem, type RunningSystem } from '../src/system.js';
import { oneHousehold, systemClient, tempDataDir, until } from './helpers.js';
import { freePort, haveVictoriaMetrics, VictoriaMetrics } from './victoria-metrics.js';

const available = haveVictoriaMetrics();
const silent = { info: () => undefined, warn: () => undefined };

const METRICS_TOKEN = 'tsdb-metrics-token-0123456789abcdef';

describe.skipIf(!available)('kanjia with a time-series database (victoria-metrics)', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let vm: VictoriaMetrics;
  let settings: Settings;
  let creds: Record<string, { deviceId: string; secret: string }>;
  let systems: KanjiaSystem[];
  let devices: SimDevice[];

  beforeEach(async () => {
    tmp = tempDataDir();
    vm = new VictoriaMetrics(await freePort(), join(tmp.dir, 'vm'));
    await vm.start();
    settings = loadSettings(
      { KANJIA_INFLUX_URL: vm.url, KANJIA_INFLUX_ORG: 'county', KANJIA_INFLUX_BUCKET: 'kanjia', KANJIA_INFLUX_QUERY: 'prometheus' },
      { overrides: { dataDir: join(tmp.dir, 'data'), httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent', metricsToken: METRICS_TOKEN } },
    );
    const db = openDatabase(databaseFile(settings));
    const imported = new SqliteRegistryStore(db, loadDeviceKey(settings), () => Date.now()).importRegistry(oneHousehold([{ kind: 'coSensor' }, { kind: 'motionSensor' }])).devices;
    db.close();
    creds = Object.fromEntries(imported.map((d) => [d.kind, { deviceId: d.deviceId, secret: d.secret }]));
    systems = [];
    devices = [];
  });

  afterEach(async () => {
    for (const d of devices) await d.stop();
    for (const s of systems) await s.stop();
    await vm.stop();
    tmp.cleanup();
  });

  async function boot(): Promise<{ system: KanjiaSystem; running: RunningSystem }> {
    const system = new KanjiaSystem({ settings, logger: createLogger('silent') });
    systems.push(system);
    return { system, running: await system.start() };
  }

  async function device(kind: string, running: RunningSystem): Promise<SimDevice> {
    const c = creds[kind] as { deviceId: string; secret: string };
    const d = new SimDevice({ brokerUrl: running.mqttUrl, deviceId: c.deviceId, secret: c.secret, logger: silent });
    await d.start();
    devices.push(d);
    return d;
  }

  it('sends every reading to victoria-metrics with the ids of household and village, keeps them in SQLite too, and the card chart has its 7 days from it', async () => {
    const { system, running } = await boot();
    const co = await device('coSensor', running);
    for (const ppm of [4, 5, 6]) await co.sendTelemetry({ coPpm: ppm, temperatureC: 15 });
    const series = await until('the CO readings in victoria-metrics', async () => {
      const s = await vm.export('kanjia_telemetry_co_ppm');
      return s[0]?.values.length === 3 ? s : undefined;
    }, 15_000);
    const placed = system.registry?.device(creds.coSensor?.deviceId ?? '');
    expect(series[0]?.metric).toEqual({ __name__: 'kanjia_telemetry_co_ppm', device: creds.coSensor?.deviceId, kind: 'coSensor', household: placed?.householdId, village: placed?.villageId });
    expect(series[0]?.values).toEqual([4, 5, 6]);
    // /metrics says what the writer did: the three lines sent, nothing dropped, the database up.
    const scrape = async () => {
      const res = await fetch(new URL('/metrics', running.httpUrl), { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
      return res.text();
    };
    const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
    const text = await until('the writer figures on /metrics', async () => {
      const t = await scrape();
      return metric(t, 'kanjia_tsdb_sent_lines_total') >= 3 ? t : undefined;
    }, 10_000);
    expect(metric(text, 'kanjia_tsdb_dropped_lines_total')).toBe(0);
    expect(metric(text, 'kanjia_tsdb_up')).toBe(1);
    // No names or phone numbers in any tag.
    expect(JSON.stringify(series)).not.toMatch(/王秀英|石门村|138000/);
    const db = openDatabase(databaseFile(settings));
    try {
      await until('the batch in SQLite', () => (db.prepare('SELECT COUNT(*) AS n FROM telemetry').get() as { n: number }).n === 3, 10_000);
    } finally {
      db.close();
    }

    const motion = await device('motionSensor', running);
    await motion.sendTelemetry({ motion: true });
    const api = systemClient(() => system.users, running.httpUrl);
    const residentId = placed?.residentId ?? system.registry?.residents({}).at(0)?.id;
    const card = await until('the sign of life on the card', async () => {
      const c = await api.get<ResidentCard>(`api/residents/${residentId}/card`);
      return c.activity.days[6]?.slots.some((n) => n > 0) ? c : undefined;
    }, 10_000);
    expect(card.activity.days).toHaveLength(7);
    // The database away: the card answers the same from SQLite.
    await vm.stop();
    const again = await api.get<ResidentCard>(`api/residents/${residentId}/card`);
    expect(again.activity.days).toEqual(card.activity.days);
  });

  it('sends at the next start what it could not send before it stopped (the server was away)', async () => {
    await vm.stop();
    const first = await boot();
    const co = await device('coSensor', first.running);
    for (const ppm of [7, 8]) await co.sendTelemetry({ coPpm: ppm });
    await co.stop();
    devices = [];
    await first.system.stop();
    systems = [];
    await vm.start();
    await boot();
    const series = await until('the buffered readings in victoria-metrics', async () => {
      const s = await vm.export('kanjia_telemetry_co_ppm');
      return s[0]?.values.length === 2 ? s : undefined;
    }, 15_000);
    expect(series[0]?.values).toEqual([7, 8]);
  });

  it('gives a newly configured database the signs of life SQLite already holds, once, so the card chart does not start empty', async () => {
    const db = openDatabase(databaseFile(settings));
    const residentId = (db.prepare('SELECT id FROM residents').get() as { id: string }).id;
    const day = 24 * 3600_000;
    const slot = Math.floor((Date.now() - 3 * day) / 1800_000) * 1800_000;
    const insert = db.prepare('INSERT INTO activity_slots (resident_id, slot_start, signs, first_at) VALUES (?, ?, ?, ?)');
    insert.run(residentId, slot, 4, slot + 60_000);
    insert.run(residentId, slot + 1800_000, 2, slot + 1800_000 + 5_000);
    db.close();
    const first = await boot();
    const series = await until('the held signs of life in victoria-metrics', async () => {
      const s = await vm.export(`kanjia_activity_signs{resident="${residentId}"}`);
      return s[0]?.values.length === 2 ? s : undefined;
    }, 15_000);
    expect(series[0]?.values).toEqual([4, 2]);
    expect(series[0]?.timestamps).toEqual([slot + 60_000, slot + 1800_000 + 5_000]);
    await first.system.stop();
    systems = [];
    // The next start with the same database does not send them again.
    const second = await boot();
    await second.system.stop();
    systems = [];
    expect(await vm.sampleCount(`kanjia_activity_signs{resident="${residentId}"}`)).toBe(2);
    // Nor queue them for later: the buffer it left is empty.
    expect(readdirSync(join(settings.dataDir, 'tsdb-buffer')).filter((f) => f.endsWith('.lp'))).toEqual([]);
  });
});
