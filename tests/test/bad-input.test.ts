/**
 * Acceptance 4 against the real process, with Debian's mosquitto clients as
 * a client nobody here wrote: wrong secrets, another device's topic,
 * malformed JSON, unknown event types and oversized payloads are refused or
 * dropped and counted; nothing crashes, and the next valid SOS still opens an
 * alarm. Invalid REST bodies get a 400 with a clear message. Issue 9: a
 * keep-alive out of range is refused, an `ack` only ends its own device's
 * command, and a run of wrong secrets is answered later and later while the
 * right one still gets in at once.
 */
import { topics, type AlarmView, type SystemStats } from '@kanjia/protocol';
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiClient, haveBinary, household, importVillage, kanjiaEnv, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const hasMosquitto = haveBinary('mosquitto_pub', 'apt-get install mosquitto-clients');

describe.skipIf(!hasMosquitto)('bad input reaches a clear refusal and loses nothing', () => {
  const tmp = tempDir();
  let kanjia: KanjiaProcess;
  let api: ApiClient;
  let mqttPort: number;
  let a: { deviceId: string; secret: string };
  let b: { deviceId: string; secret: string };

  const pub = (who: { deviceId: string; secret: string }, topic: string, message: string | { file: string }, clientSuffix = 'pub', extra: string[] = []) => {
    const args = ['-h', '127.0.0.1', '-p', String(mqttPort), '-i', `${who.deviceId}:${clientSuffix}`, '-u', who.deviceId, '-P', who.secret, '-t', topic, '-q', '1', ...extra];
    const r = spawnSync('mosquitto_pub', typeof message === 'string' ? [...args, '-m', message] : [...args, '-f', message.file], { encoding: 'utf8', timeout: 15_000 });
    return { status: r.status, stderr: r.stderr };
  };
  const stats = async () => (await api.get<SystemStats>(`/api/stats`));
  /** The server's `received` commands of one device event (read-only look at its database). */
  const receivedOf = (deviceId: string, eventId: string) => {
    const db = new Database(join(tmp.dir, 'kanjia.sqlite'), { readonly: true, fileMustExist: true });
    try {
      return db
        .prepare("SELECT id, end_reason AS endReason FROM device_commands WHERE device_id = ? AND json_extract(payload_json, '$.type') = 'received' AND json_extract(payload_json, '$.eventId') = ?")
        .all(deviceId, eventId) as Array<{ id: string; endReason: string | null }>;
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    let env: Record<string, string>;
    ({ env, mqttPort } = await kanjiaEnv(tmp.dir));
    const devices = importVillage(env, [household('一组1号', '王秀英', [['刘建军', 'helper', '13800000001']]), household('一组2号', '李桂兰', [['刘建军', 'helper', '13800000001']])]);
    a = devices[0]!;
    b = devices[1]!;
    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'admin' });
  }, 60_000);

  afterAll(async () => {
    await kanjia?.kill('SIGTERM');
    tmp.cleanup();
  });

  it('refuses a wrong secret and an unknown device, and counts them', async () => {
    const before = (await stats()).gateway.authFailures;
    const wrong = pub({ deviceId: a.deviceId, secret: 'not-the-secret' }, topics.events(a.deviceId), '{"id":"x","ts":1,"type":"sos"}');
    expect(wrong.status).not.toBe(0);
    expect(wrong.stderr).toMatch(/not authori[sz]ed|bad user name or password|refused/i);
    const unknown = pub({ deviceId: 'kj-0000000000', secret: a.secret }, topics.events('kj-0000000000'), '{"id":"x","ts":1,"type":"sos"}');
    expect(unknown.status).not.toBe(0);
    expect((await stats()).gateway.authFailures).toBe(before + 2);
  });

  it("refuses a publish to another device's topic: no alarm for the other resident", async () => {
    const before = (await stats()).gateway.aclDenied;
    pub(a, topics.events(b.deviceId), JSON.stringify({ id: 'spoof-1', ts: Date.now(), type: 'sos' }));
    await waitFor('the ACL refusal counted', async () => ((await stats()).gateway.aclDenied === before + 1 ? true : undefined));
    const { alarms } = (await api.get<{ alarms: AlarmView[] }>(`/api/alarms?status=all`));
    expect(alarms.filter((x) => x.deviceId === b.deviceId)).toEqual([]);
  });

  it('drops malformed JSON, unknown event types, invalid fields and oversized payloads, counts each, and keeps serving', async () => {
    expect(pub(a, topics.events(a.deviceId), '{"id":"e1","ts":1,"type":').status).toBe(0);
    expect(pub(a, topics.events(a.deviceId), JSON.stringify({ id: 'e2', ts: Date.now(), type: 'teleport' })).status).toBe(0);
    expect(pub(a, topics.telemetry(a.deviceId), JSON.stringify({ id: 't1', ts: Date.now(), readings: { coPpm: -5 } })).status).toBe(0);
    const big = join(tmp.dir, 'big.json');
    writeFileSync(big, JSON.stringify({ id: 'big', ts: Date.now(), type: 'sos', pad: 'x'.repeat(300 * 1024) }));
    pub(a, topics.events(a.deviceId), { file: big }); // the broker closes this connection
    const s = await waitFor('the rejections counted', async () => {
      const st = await stats();
      return st.gateway.oversized >= 1 && (st.gateway.invalidPayloads.PAYLOAD_NOT_JSON ?? 0) >= 1 ? st : undefined;
    });
    expect(s.gateway.invalidPayloads.PAYLOAD_INVALID).toBeGreaterThanOrEqual(2);

    // Still alive, and nothing of the junk became an alarm; a real SOS goes through.
    expect(pub(a, topics.events(a.deviceId), JSON.stringify({ id: 'real-1', ts: Date.now(), type: 'sos' })).status).toBe(0);
    const alarm = await waitFor('the real SOS', async () => {
      const { alarms } = (await api.get<{ alarms: AlarmView[] }>(`/api/alarms?status=all`));
      return alarms.find((x) => x.eventId === 'real-1');
    });
    expect(alarm.resident.name).toBe('王秀英');
    const { alarms } = (await api.get<{ alarms: AlarmView[] }>(`/api/alarms?status=all`));
    expect(alarms.map((x) => x.eventId)).toEqual(['real-1']);
  });

  it('refuses a keep-alive above 20 minutes (mosquitto_pub -k 1201) with "not authorised" and counts it', async () => {
    const before = (await stats()).gateway.refused?.['keepAlive'] ?? 0;
    const r = pub(a, topics.events(a.deviceId), JSON.stringify({ id: 'ka-1', ts: Date.now(), type: 'sos' }), 'pub', ['-k', '1201']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/not authori[sz]ed/i);
    expect((await stats()).gateway.refused?.['keepAlive']).toBe(before + 1);
    const { alarms } = (await api.get<{ alarms: AlarmView[] }>(`/api/alarms?status=all`));
    expect(alarms.filter((x) => x.eventId === 'ka-1')).toEqual([]);
  });

  it("ends a device's command only with that device's own ack: another device's ack of it, and an ack without a command id, change nothing", async () => {
    expect(pub(b, topics.events(b.deviceId), JSON.stringify({ id: 'b-sos-1', ts: Date.now(), type: 'sos' })).status).toBe(0);
    const [received] = await waitFor('the received of b-sos-1', () => receivedOf(b.deviceId, 'b-sos-1')[0] ? receivedOf(b.deviceId, 'b-sos-1') : undefined);
    expect(received!.endReason).toBeNull();
    const invalidBefore = (await stats()).gateway.invalidPayloads.PAYLOAD_INVALID ?? 0;
    // a's ack of b's command (on a's own topic: the ACL allows nothing else) and a malformed ack.
    expect(pub(a, topics.events(a.deviceId), JSON.stringify({ id: 'a-ack-1', ts: Date.now(), type: 'ack', commandId: received!.id })).status).toBe(0);
    expect(pub(b, topics.events(b.deviceId), JSON.stringify({ id: 'b-ack-0', ts: Date.now(), type: 'ack' })).status).toBe(0);
    await waitFor('the malformed ack dropped', async () => (((await stats()).gateway.invalidPayloads.PAYLOAD_INVALID ?? 0) === invalidBefore + 1 ? true : undefined));
    expect(receivedOf(b.deviceId, 'b-sos-1')[0]!.endReason).toBeNull();
    // b's own ack ends it; an ack is never answered with `received`.
    expect(pub(b, topics.events(b.deviceId), JSON.stringify({ id: 'b-ack-1', ts: Date.now(), type: 'ack', commandId: received!.id })).status).toBe(0);
    await waitFor('b acked', () => (receivedOf(b.deviceId, 'b-sos-1')[0]!.endReason === 'acked' ? true : undefined));
    expect(receivedOf(b.deviceId, 'b-ack-1')).toEqual([]);
    expect(receivedOf(a.deviceId, 'a-ack-1')).toEqual([]);
  });

  it('answers invalid REST bodies with 400 and a message that says what is wrong', async () => {
    // `by` is no longer a field: the actor is the session's user.
    const res = await api.post('/api/alarms/whatever/resolve', { by: '李值班' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 'BAD_REQUEST', message: expect.stringMatching(/note/) });
  });

  // Last: it leaves this address with wrong logins on record.
  it('answers a run of wrong secrets later and later (after the 5 free ones of the device or its address: 250 ms, doubling), logs them once, and still lets the right secret in at once', async () => {
    const took: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t0 = performance.now();
      const r = pub({ deviceId: b.deviceId, secret: `guess-${i}` }, topics.events(b.deviceId), '{"id":"x","ts":1,"type":"sos"}');
      took.push(performance.now() - t0);
      expect(r.stderr).toMatch(/bad user name or password/i);
    }
    // The 6th and 7th of this device at least (earlier tests' refusals from this address count too).
    const held = took.filter((ms) => ms >= 245);
    expect(held.length).toBeGreaterThanOrEqual(2);
    expect(held.at(-1)).toBeGreaterThanOrEqual(held[0]! * 1.5);
    for (const ms of took) expect(ms).toBeLessThan(6_000);
    expect((await stats()).gateway.refused?.['loginDelayed']).toBe(held.length);
    const t0 = performance.now();
    expect(pub(a, topics.events(a.deviceId), JSON.stringify({ id: 'after-guesses', ts: Date.now(), type: 'checkIn' })).status).toBe(0);
    expect(performance.now() - t0).toBeLessThan(held.at(-1)!);
    const lines = kanjia.output().split('\n').filter((l) => l.includes('connection refused') && l.includes(b.deviceId));
    expect(lines).toHaveLength(1);
  });
});
