/**
 * TwilioSmsSender against the local Twilio server over real HTTP on loopback:
 * what arrives, how every failure is sorted, and the delivery receipts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_TWILIO_CONTROL_PATH, LocalTwilioServer } from '@kanjia/alerts/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { renderSms } from '../src/messages/sms-templates.js';
import type { SmsMessage } from '../src/sms/sms-sender.js';
import { classifyTwilioFailure } from '../src/sms/twilio-error-codes.js';
import { TwilioSmsSender, twilioRecipient, type TwilioSmsSettingsInput } from '../src/sms/twilio-sms-sender.js';

const ACCOUNT_SID = `AC${'0123456789abcdef'.repeat(2)}`;
const AUTH_TOKEN = 'kanjia-twilio-test-token';
const API_KEY = { sid: `SK${'fedcba9876543210'.repeat(2)}`, secret: 'kanjia-twilio-api-key-secret' };
const SERVICE_SID = `MG${'00112233445566778899aabbccddeeff'}`;
const FROM = '+15005550006';
const PHONE = '13812345678';

function alarmMessage(overrides: Partial<SmsMessage> = {}): SmsMessage {
  const { params, text } = renderSms('alarm', {
    kind: 'fall',
    residentName: '王秀英',
    address: '王庄村3组12号',
    villageName: '王庄村',
    atMs: Date.UTC(2026, 0, 15, 2, 0),
    timeZone: 'Asia/Shanghai',
    answerCode: 'k7m2p9x4q3r8',
    publicUrl: 'https://kanjia.example.cn',
  });
  return { to: PHONE, template: 'alarm', kind: 'fall', params, text, outId: 'ntf-0001', ...overrides };
}

describe('TwilioSmsSender against the local Twilio server', () => {
  let server: LocalTwilioServer;
  let baseUrl: string;
  let logs: string[];

  function sender(overrides: Partial<TwilioSmsSettingsInput> = {}): TwilioSmsSender {
    return new TwilioSmsSender({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM, baseUrl, timeoutMs: 2_000, ...overrides }, { log: (line) => logs.push(line) });
  }

  beforeEach(async () => {
    logs = [];
    server = new LocalTwilioServer({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, apiKeys: { [API_KEY.sid]: API_KEY.secret }, senders: [FROM], messagingServiceSids: [SERVICE_SID] });
    ({ url: baseUrl } = await server.start());
  });

  afterEach(async () => {
    await server.stop();
    // House rule 12: no log line carries a phone number in clear, whatever Twilio's message quoted.
    for (const line of logs) expect(line).not.toContain(PHONE);
  });

  it('sends the full text to +86… from the configured number, authenticated with the auth token; the sid is the providerRef', async () => {
    const message = alarmMessage();
    const result = await sender({ statusCallback: 'https://kanjia.example.cn/twilio/status' }).send(message);
    const [sent] = server.messages;
    expect(result).toEqual({ ok: true, providerRef: sent?.sid });
    expect(sent?.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(sent).toMatchObject({ to: `+86${PHONE}`, from: FROM, messagingServiceSid: null, body: message.text, authUser: ACCOUNT_SID, status: 'queued', statusCallback: 'https://kanjia.example.cn/twilio/status' });
    expect(sent?.body).toContain('【智慧看家】跌倒报警：王秀英（王庄村）10:00疑似摔倒');
    expect(sent?.body).toContain('https://kanjia.example.cn/a/k7m2p9x4q3r8');
    expect(server.rejected).toEqual([]);
  });

  it('sends through a Messaging Service with an API key instead of the auth token', async () => {
    const result = await sender({ authToken: undefined, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret, from: undefined, messagingServiceSid: SERVICE_SID }).send(alarmMessage());
    expect(result.ok).toBe(true);
    expect(server.messages[0]).toMatchObject({ from: null, messagingServiceSid: SERVICE_SID, authUser: API_KEY.sid, status: 'accepted' });
  });

  it('keeps an E.164 number of another country as it is, and refuses a number that is neither before sending (21211, permanent)', async () => {
    expect(twilioRecipient('+44 7700 900123')).toBe('+447700900123');
    expect(twilioRecipient('+8613812345678')).toBe('+8613812345678');
    expect(twilioRecipient('0551-1234567')).toBeNull();
    const result = await sender().send(alarmMessage({ to: '12345' }));
    expect(result).toMatchObject({ ok: false, kind: 'permanent', code: '21211' });
    expect(server.messages).toEqual([]);
    expect(server.rejected).toEqual([]);
  });

  it('a wrong auth token is 20003 (HTTP 401): the account, an outage of the channel', async () => {
    const result = await sender({ authToken: 'not-the-token' }).send(alarmMessage());
    expect(result).toMatchObject({ ok: false, kind: 'account', code: '20003' });
    expect(server.rejected[0]).toMatchObject({ code: 20003, httpStatus: 401 });
  });

  it('an API key used with another Account SID in the path is 20404 (not found): the account, a wrong setting', async () => {
    const stray = sender({ accountSid: `AC${'1'.repeat(32)}`, authToken: undefined, apiKeySid: API_KEY.sid, apiKeySecret: API_KEY.secret });
    expect(await stray.send(alarmMessage())).toMatchObject({ ok: false, kind: 'account', code: '20404' });
    expect(server.rejected[0]).toMatchObject({ code: 20404, httpStatus: 404 });
  });

  it('a From that is not the account\'s is 21606: the account', async () => {
    expect(await sender({ from: '+15005550001' }).send(alarmMessage())).toMatchObject({ ok: false, kind: 'account', code: '21606' });
  });

  it('a number the provider calls not a mobile is 21614: permanent for that message, the next goes', async () => {
    server.setState({ badNumbers: [`+86${PHONE}`] });
    const bad = await sender().send(alarmMessage());
    expect(bad).toMatchObject({ ok: false, kind: 'permanent', code: '21614' });
    expect((await sender().send(alarmMessage({ to: '13900001111', outId: 'ntf-0002' }))).ok).toBe(true);
    expect(logs.join('\n')).toContain('138****5678');
  });

  it.each([
    [21610, 400, 'permanent'], // the person answered STOP
    [21211, 400, 'permanent'],
    [20003, 401, 'account'],
    [21659, 400, 'account'],
    [63038, 429, 'account'], // the account's rolling 24-hour limit, like Aliyun's isv.DAY_LIMIT_CONTROL
    [30022, 400, 'limited'],
    [30023, 400, 'limited'],
    [20500, 500, 'transport'],
    [12345, 400, 'retryMessage'], // an unknown code about this message: retried with backoff
  ] as const)('error %i (HTTP %i) is %s', async (errorCode, errorStatus, kind) => {
    server.setMode('error', { errorCode, errorStatus });
    expect(await sender().send(alarmMessage())).toMatchObject({ ok: false, kind, code: String(errorCode) });
  });

  it('the API rate limit (HTTP 429, 20429) is the account; 503 and a reset connection are the transport', async () => {
    server.setMode('rate-limit');
    expect(await sender().send(alarmMessage())).toMatchObject({ ok: false, kind: 'account', code: '20429' });
    server.setMode('outage-503');
    expect(await sender().send(alarmMessage())).toMatchObject({ ok: false, kind: 'transport', code: '20503' });
    server.setMode('outage-reset');
    expect(await sender().send(alarmMessage())).toMatchObject({ ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR' });
    server.setMode('ok');
    expect((await sender().send(alarmMessage())).ok).toBe(true);
  });

  it('no answer within the deadline is SMS_TIMEOUT (transport)', async () => {
    server.setLatencyMs(2_000);
    expect(await sender({ timeoutMs: 200 }).send(alarmMessage())).toMatchObject({ ok: false, kind: 'transport', code: 'SMS_TIMEOUT' });
  });

  it('a closed port is SMS_NETWORK_ERROR; an HTML page (a captive portal, a proxy\'s 404) is SMS_BAD_RESPONSE; a bare 502 is HTTP_502 (all transport)', async () => {
    const proxy: Server = createServer((req, res) => {
      const status = req.url?.includes('/bad-gateway/') ? 502 : req.url?.includes('/missing/') ? 404 : 200;
      res.writeHead(status, { 'content-type': 'text/html' });
      res.end('<html><body>Welcome to the hotel network</body></html>');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    try {
      expect(await sender({ baseUrl: `http://127.0.0.1:${port}` }).send(alarmMessage())).toMatchObject({ ok: false, kind: 'transport', code: 'SMS_BAD_RESPONSE' });
      expect(await sender({ baseUrl: `http://127.0.0.1:${port}/missing` }).send(alarmMessage())).toMatchObject({ ok: false, kind: 'transport', code: 'SMS_BAD_RESPONSE' });
      expect(await sender({ baseUrl: `http://127.0.0.1:${port}/bad-gateway` }).send(alarmMessage())).toMatchObject({ ok: false, kind: 'transport', code: 'HTTP_502' });
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
    expect(await sender({ baseUrl: `http://127.0.0.1:${port}` }).send(alarmMessage())).toMatchObject({ ok: false, kind: 'transport', code: 'SMS_NETWORK_ERROR' });
  });

  describe('delivery receipts', () => {
    async function sentRef(): Promise<{ channel: TwilioSmsSender; ref: string }> {
      const channel = sender();
      const result = await channel.send(alarmMessage());
      if (!result.ok || result.providerRef === null) throw new Error('not sent');
      return { channel, ref: result.providerRef };
    }
    const query = (ref: string) => ({ providerRef: ref, to: PHONE, sentAtMs: Date.now(), outId: 'ntf-0001' });

    it('queued, sending and sent are pending', async () => {
      const { channel, ref } = await sentRef();
      expect(await channel.queryDelivery(query(ref))).toEqual({ state: 'pending' });
      for (const status of ['sending', 'sent'] as const) {
        server.setDelivery(ref, { status });
        expect(await channel.queryDelivery(query(ref))).toEqual({ state: 'pending' });
      }
    });

    it('delivered (set through the control endpoint) is delivered, with when', async () => {
      const { channel, ref } = await sentRef();
      const answer = await fetch(`${baseUrl}${LOCAL_TWILIO_CONTROL_PATH}/messages/${ref}`, { method: 'PUT', body: JSON.stringify({ status: 'delivered' }) });
      expect(answer.status).toBe(200);
      const delivery = await channel.queryDelivery(query(ref));
      expect(delivery).toMatchObject({ state: 'delivered', detail: 'delivered' });
      expect(delivery.state === 'delivered' && typeof delivery.atMs === 'number').toBe(true);
    });

    it('undelivered with the carrier\'s 30003 is failed with that code; failed without a code says its status', async () => {
      const { channel, ref } = await sentRef();
      server.setDelivery(ref, { status: 'undelivered', errorCode: 30003, errorMessage: 'Unreachable destination handset' });
      expect(await channel.queryDelivery(query(ref))).toMatchObject({ state: 'failed', code: '30003', message: 'Unreachable destination handset' });
      server.setDelivery(ref, { status: 'failed' });
      expect(await channel.queryDelivery(query(ref))).toMatchObject({ state: 'failed', code: 'TWILIO_FAILED' });
    });

    it('a query that fails (unknown SID, outage) is unknown, never a verdict', async () => {
      const { channel, ref } = await sentRef();
      expect(await channel.queryDelivery(query(`SM${'f'.repeat(32)}`))).toMatchObject({ state: 'unknown', code: '20404' });
      server.setMode('outage-503');
      expect(await channel.queryDelivery(query(ref))).toMatchObject({ state: 'unknown', code: '20503' });
      expect(await channel.queryDelivery(query('../../etc'))).toMatchObject({ state: 'unknown', code: 'TWILIO_BAD_SID' });
    });
  });

  it('the control endpoint refuses an unknown mode with the list of modes', async () => {
    const answer = await fetch(`${baseUrl}${LOCAL_TWILIO_CONTROL_PATH}`, { method: 'PUT', body: JSON.stringify({ mode: 'sleepy' }) });
    expect(answer.status).toBe(400);
    expect(((await answer.json()) as { message: string }).message).toContain('rate-limit');
  });
});

describe('TwilioSmsSender settings', () => {
  it('lists every problem at once: no credentials, no sender, a bad base URL', () => {
    expect(() => new TwilioSmsSender({ accountSid: 'AC/../x', baseUrl: 'ftp://x' })).toThrow(/accountSid[\s\S]*baseUrl[\s\S]*authToken[\s\S]*from/);
  });

  it('an API key needs both its SID and its secret', () => {
    expect(() => new TwilioSmsSender({ accountSid: ACCOUNT_SID, apiKeySid: API_KEY.sid, from: FROM })).toThrow(/apiKeySecret: an API key needs both/);
  });
});

describe('classifyTwilioFailure', () => {
  it('sorts unknown codes by HTTP status: 401/403/429 the account, 5xx the transport, other 4xx this message', () => {
    expect(classifyTwilioFailure('HTTP_401', 401)).toBe('account');
    expect(classifyTwilioFailure('HTTP_429', 429)).toBe('account');
    expect(classifyTwilioFailure('99999', 502)).toBe('transport');
    expect(classifyTwilioFailure('99999', 400)).toBe('retryMessage');
    expect(classifyTwilioFailure('21614', 400)).toBe('permanent');
  });
});
