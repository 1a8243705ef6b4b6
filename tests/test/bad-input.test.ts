/**
 * Acceptance 4 against the real process, with Debian's mosquitto clients as
 * a client nobody here wrote: wrong secrets, another device's topic,
 * malformed JSON, unknown event types and oversized payloads are refused or
 * dropped and counted; nothing crashes, and the next valid SOS still opens an
 * alarm. Invalid REST bodies get a 400 with a clear message.
 */
import { topics, type AlarmView, type SystemStats } from '@kanjia/protocol';
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

  const pub = (who: { deviceId: string; secret: string }, topic: string, message: string | { file: string }, clientSuffix = 'pub') => {
    const args = ['-h', '127.0.0.1', '-p', String(mqttPort), '-i', `${who.deviceId}:${clientSuffix}`, '-u', who.deviceId, '-P', who.secret, '-t', topic, '-q', '1'];
    const r = spawnSync('mosquitto_pub', typeof message === 'string' ? [...args, '-m', message] : [...args, '-f', message.file], { encoding: 'utf8', timeout: 15_000 });
    return { status: r.status, stderr: r.stderr };
  };
  const stats = async () => (await api.get<SystemStats>(`/api/stats`));

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

  it('answers invalid REST bodies with 400 and a message that says what is wrong', async () => {
    // `by` is no longer a field: the actor is the session's user.
    const res = await api.post('/api/alarms/whatever/resolve', { by: '李值班' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 'BAD_REQUEST', message: expect.stringMatching(/note/) });
  });
});
