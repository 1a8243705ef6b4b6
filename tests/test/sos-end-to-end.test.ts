/**
 * Acceptance 1 of the walking skeleton, with real processes: `kanjia start`
 * with the Aliyun provider pointed at a local server that implements SendSms
 * and verifies the ACS3-HMAC-SHA256 signature; a device created through the
 * command line; Debian's mosquitto_pub presses SOS; the alarm appears in the
 * REST API and on a socket.io client, and the first contact's SMS arrives
 * correctly signed, naming the resident, the address and the alarm kind.
 */
import { SMS_TEMPLATES } from '@kanjia/alerts';
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { SOCKET_EVENTS, topics, type AlarmView } from '@kanjia/protocol';
import { spawn } from 'node:child_process';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addHouseholdWithCli, apiClient, haveBinary, kanjiaEnv, startKanjia, tempDir, waitFor, type ApiClient, type KanjiaProcess } from '../src/harness.js';

const hasMosquitto = haveBinary('mosquitto_pub', 'apt-get install mosquitto-clients');
const ACCESS_KEY_ID = 'LTAI5tKanjiaE2E';
const ACCESS_KEY_SECRET = 'e2e-secret-0123456789abcdef';

describe.skipIf(!hasMosquitto)('one SOS press, end to end, through real processes', () => {
  const tmp = tempDir();
  const sms = new LocalAliyunSmsServer({
    accessKeyId: ACCESS_KEY_ID,
    accessKeySecret: ACCESS_KEY_SECRET,
    signNames: ['智慧看家'],
    // The generic templates as docs/sms-templates.md tells the operator to register them.
    templates: { SMS_100001: SMS_TEMPLATES.alarm.variables, SMS_100002: SMS_TEMPLATES.escalation.variables },
  });
  let kanjia: KanjiaProcess;
  let socket: Socket;
  let api: ApiClient;
  let env: Record<string, string>;
  let mqttPort: number;
  let device: { deviceId: string; secret: string };
  const seen: AlarmView[] = [];

  beforeAll(async () => {
    const aliyun = await sms.start();
    ({ env, mqttPort } = await kanjiaEnv(tmp.dir, { ...aliyun, accessKeyId: ACCESS_KEY_ID, accessKeySecret: ACCESS_KEY_SECRET }));
    device = addHouseholdWithCli(env);

    kanjia = await startKanjia(env);
    api = await apiClient(kanjia.httpUrl, env, { name: 'shimen', role: 'duty', villages: ['石门村'] });
    socket = io(kanjia.httpUrl, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie: api.cookie } });
    socket.on(SOCKET_EVENTS.alarmUpdate, (a: AlarmView) => seen.push(a));
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
  }, 60_000);

  afterAll(async () => {
    socket?.close();
    await kanjia?.kill('SIGTERM');
    await sms.stop();
    tmp.cleanup();
  });

  it('the CLI printed the device id and its secret once, and the server keeps only a hash', () => {
    expect(device.deviceId).toMatch(/^kj-[0-9a-z]{10}$/);
    expect(device.secret.length).toBeGreaterThanOrEqual(40);
  });

  it('mosquitto_pub presses SOS: the device hears `received`, the alarm is in the REST API and on socket.io, and the first contact gets a signed SMS', async () => {
    const commandsTopic = topics.commands(device.deviceId);
    // A second client of the same device listens for the acknowledgement, as the button would.
    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-u', device.deviceId, '-P', device.secret, '-i', `${device.deviceId}:listener`, '-t', commandsTopic, '-q', '1', '-C', '1', '-W', '20']);
    let received = '';
    sub.stdout.on('data', (d: Buffer) => (received += d.toString()));
    const subDone = new Promise<number>((resolve) => sub.once('exit', (code) => resolve(code ?? -1)));
    await new Promise((r) => setTimeout(r, 500)); // let the subscription settle

    const event = { id: 'sos-e2e-1', ts: Date.now(), type: 'sos' };
    const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-i', `${device.deviceId}:pub`, '-u', device.deviceId, '-P', device.secret, '-t', topics.events(device.deviceId), '-q', '1', '-m', JSON.stringify(event)]);
    const pubCode = await new Promise<number>((resolve) => pub.once('exit', (code) => resolve(code ?? -1)));
    expect(pubCode).toBe(0);

    expect(await subDone).toBe(0);
    expect(JSON.parse(received)).toMatchObject({ type: 'received', eventId: 'sos-e2e-1' });

    const { alarms } = await api.get<{ alarms: AlarmView[] }>('/api/alarms');
    expect(alarms).toHaveLength(1);
    expect(alarms[0]).toMatchObject({ kind: 'sos', status: 'open', deviceId: device.deviceId, eventId: 'sos-e2e-1', resident: { name: '王秀英' }, household: { address: '石门村一组12号' } });

    const live = await waitFor('the alarm on socket.io', () => seen.find((a) => a.eventId === 'sos-e2e-1'));
    expect(live.id).toBe(alarms[0]!.id);

    const text = await sms.waitFor((m) => m.phoneNumbers === '13800000001', 15_000);
    expect(text.signName).toBe('智慧看家');
    expect(text.templateCode).toBe('SMS_100001');
    expect(text.templateParam).toEqual({ kind: '紧急呼叫', name: '王秀英', village: '石门村', time: expect.stringMatching(/^\d{2}:\d{2}$/), address: '石门村一组12号', detail: '老人按了紧急按钮', code: expect.stringMatching(/^[0-9a-z]{12}$/) });
    expect(sms.rejected).toEqual([]);
    // Only the first contact is texted at once; the doctor waits for the escalation.
    expect(sms.accepted.filter((m) => m.phoneNumbers === '13800000002')).toEqual([]);

    const after = await waitFor('the notification marked sent', async () => {
      const a = (await api.get<AlarmView>(`/api/alarms/${live.id}`));
      return a.notifications[0]?.status === 'sent' ? a : undefined;
    });
    expect(after.notifications[0]).toMatchObject({ contactName: '刘建军', phoneMasked: '138****0001', status: 'sent' });
  });

  it('the same SOS published again is acknowledged again without a second alarm', async () => {
    const event = { id: 'sos-e2e-1', ts: Date.now(), type: 'sos' };
    const pub = spawn('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(mqttPort), '-i', `${device.deviceId}:pub`, '-u', device.deviceId, '-P', device.secret, '-t', topics.events(device.deviceId), '-q', '1', '-m', JSON.stringify(event)]);
    expect(await new Promise<number>((resolve) => pub.once('exit', (code) => resolve(code ?? -1)))).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    const { alarms } = (await api.get<{ alarms: AlarmView[] }>(`/api/alarms?status=all`));
    expect(alarms).toHaveLength(1);
    expect(sms.accepted.filter((m) => m.phoneNumbers === '13800000001')).toHaveLength(1);
  });
});
