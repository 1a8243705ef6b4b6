/**
 * The local Aliyun SMS server's own checks, with requests crafted by hand and
 * sent with fetch: the signature must cover the body, the headers and the query,
 * the date must be recent and a nonce may serve once.
 */
import {
  LOCAL_SMS_CONTROL_PATH,
  LocalAliyunSmsServer,
  runLocalAliyunSmsCommand,
  signAcs3Request,
  sha256Hex,
  type SignedRequest,
} from '@kanjia/alerts/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AliyunSmsSender } from '../src/sms/aliyun-sms-sender.js';

const KEY = { accessKeyId: 'LTAI5tKanjiaTestKey', accessKeySecret: 'kanjia-test-secret-0123456789' };
const MINUTE_MS = 60_000;

const SEND_SMS = {
  PhoneNumbers: '13812345678',
  SignName: '智慧看家',
  TemplateCode: 'SMS_480010001',
  TemplateParam: JSON.stringify({ kind: '跌倒', name: '王秀英', address: '王庄村3组12号' }),
  OutId: 'ntf-hand-1',
};

interface CraftOptions {
  /** Parameters in a form body instead of the query string. */
  inBody?: boolean;
  params?: Record<string, string>;
  accessKeySecret?: string;
  accessKeyId?: string;
  dateMs?: number;
  nonce?: string;
  action?: string;
}

describe('LocalAliyunSmsServer', () => {
  let server: LocalAliyunSmsServer;
  let url: string;
  let endpoint: string;

  beforeEach(async () => {
    server = new LocalAliyunSmsServer({ ...KEY, signNames: ['智慧看家'], templates: { SMS_480010001: ['kind', 'name', 'address'] } });
    ({ url, endpoint } = await server.start());
  });

  afterEach(() => server.stop());

  function craft(options: CraftOptions = {}): SignedRequest {
    const params = options.params ?? SEND_SMS;
    const body = options.inBody ? new URLSearchParams(params).toString() : '';
    return signAcs3Request({
      method: 'POST',
      host: endpoint, // what fetch sends as Host
      path: '/',
      ...(options.inBody ? {} : { query: params }),
      headers: {
        'x-acs-action': options.action ?? 'SendSms',
        'x-acs-version': '2017-05-25',
        ...(options.inBody ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body,
      accessKeyId: options.accessKeyId ?? KEY.accessKeyId,
      accessKeySecret: options.accessKeySecret ?? KEY.accessKeySecret,
      ...(options.dateMs === undefined ? {} : { dateMs: options.dateMs }),
      ...(options.nonce === undefined ? {} : { nonce: options.nonce }),
    });
  }

  async function post(request: SignedRequest, tamper: { headers?: Record<string, string>; body?: string; pathWithQuery?: string } = {}) {
    const { host: _host, ...headers } = { ...request.headers, ...tamper.headers };
    const body = tamper.body ?? request.body;
    const response = await fetch(`${url}${tamper.pathWithQuery ?? request.pathWithQuery}`, {
      method: 'POST',
      headers,
      ...(body === '' ? {} : { body }),
    });
    return { status: response.status, body: (await response.json()) as { Code: string; Message: string; BizId?: string; RequestId: string } };
  }

  it('accepts a request signed by hand, with the parameters in the query string or in a form body', async () => {
    const inQuery = await post(craft());
    expect(inQuery).toMatchObject({ status: 200, body: { Code: 'OK', Message: 'OK' } });
    expect(inQuery.body.BizId).toMatch(/\^0$/);
    const inBody = await post(craft({ inBody: true, params: { ...SEND_SMS, OutId: 'ntf-hand-2' } }));
    expect(inBody).toMatchObject({ status: 200, body: { Code: 'OK' } });
    expect(server.accepted.map((s) => s.outId)).toEqual(['ntf-hand-1', 'ntf-hand-2']);
    expect(server.accepted[0]).toMatchObject({
      phoneNumbers: '13812345678',
      signName: '智慧看家',
      templateCode: 'SMS_480010001',
      templateParam: { kind: '跌倒', name: '王秀英', address: '王庄村3组12号' },
    });
  });

  it('rejects a tampered body whose x-acs-content-sha256 was left as signed', async () => {
    const request = craft({ inBody: true });
    const tampered = request.body.replace('13812345678', '13912345678');
    const { status, body } = await post(request, { body: tampered });
    expect(status).toBe(400);
    expect(body.Code).toBe('SignatureDoesNotMatch');
    expect(server.accepted).toEqual([]);
  });

  it('rejects a tampered body even when x-acs-content-sha256 was recomputed to match', async () => {
    const request = craft({ inBody: true });
    const tampered = request.body.replace('13812345678', '13912345678');
    const { status, body } = await post(request, { body: tampered, headers: { 'x-acs-content-sha256': sha256Hex(tampered) } });
    expect(status).toBe(400);
    expect(body.Code).toBe('SignatureDoesNotMatch');
    expect(body.Message).toContain('server string to sign is:ACS3-HMAC-SHA256\n');
  });

  it('rejects a tampered query string', async () => {
    const request = craft();
    const { body } = await post(request, { pathWithQuery: request.pathWithQuery.replace('13812345678', '13912345678') });
    expect(body.Code).toBe('SignatureDoesNotMatch');
  });

  it('rejects a tampered signed header (x-acs-date moved by one second)', async () => {
    const request = craft();
    const date = new Date(Date.parse(request.headers['x-acs-date'] ?? '') + 1_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const { status, body } = await post(request, { headers: { 'x-acs-date': date } });
    expect(status).toBe(400);
    expect(body.Code).toBe('SignatureDoesNotMatch');
  });

  it('rejects an x-acs-* header added after signing', async () => {
    const { body } = await post(craft(), { headers: { 'x-acs-security-token': 'smuggled' } });
    expect(body.Code).toBe('SignatureDoesNotMatch');
    expect(body.Message).toContain('x-acs-security-token');
  });

  it('rejects a signature made with another secret, and an unknown access key id', async () => {
    expect((await post(craft({ accessKeySecret: 'guess' }))).body.Code).toBe('SignatureDoesNotMatch');
    const unknown = await post(craft({ accessKeyId: 'LTAI5tNobody' }));
    expect(unknown).toMatchObject({ status: 404, body: { Code: 'InvalidAccessKeyId.NotFound' } });
  });

  it('rejects a request without Authorization', async () => {
    const request = craft();
    const { authorization: _dropped, ...headers } = request.headers;
    const { status, body } = await post({ ...request, headers });
    expect(status).toBe(400);
    expect(body.Code).toBe('IncompleteSignature');
  });

  it('rejects a correctly signed request whose x-acs-date is 16 minutes old, and accepts one 14 minutes old', async () => {
    const old = await post(craft({ dateMs: Date.now() - 16 * MINUTE_MS }));
    expect(old).toMatchObject({ status: 400, body: { Code: 'InvalidTimeStamp.Expired' } });
    const recent = await post(craft({ dateMs: Date.now() - 14 * MINUTE_MS }));
    expect(recent.body.Code).toBe('OK');
  });

  it('judges x-acs-date against the injected clock', async () => {
    const clockMs = Date.UTC(2026, 0, 15, 2, 0, 0);
    const pinned = new LocalAliyunSmsServer({ ...KEY, clock: { nowMs: () => clockMs } });
    const address = await pinned.start();
    try {
      const request = signAcs3Request({
        method: 'POST',
        host: address.endpoint,
        query: SEND_SMS,
        headers: { 'x-acs-action': 'SendSms', 'x-acs-version': '2017-05-25' },
        ...KEY,
        dateMs: clockMs - 5 * MINUTE_MS,
      });
      const { host: _host, ...headers } = request.headers;
      const response = await fetch(`${address.url}${request.pathWithQuery}`, { method: 'POST', headers });
      expect(((await response.json()) as { Code: string }).Code).toBe('OK');
      expect(pinned.accepted[0]?.receivedAtMs).toBe(clockMs);
    } finally {
      await pinned.stop();
    }
  });

  it('rejects a replayed nonce: the same signed request twice', async () => {
    const request = craft({ nonce: 'nonce-used-once' });
    expect((await post(request)).body.Code).toBe('OK');
    const replay = await post(request);
    expect(replay).toMatchObject({ status: 400, body: { Code: 'SignatureNonceUsed' } });
    expect(server.accepted).toHaveLength(1);
  });

  it('answers another action with InvalidAction.NotFound', async () => {
    expect(await post(craft({ action: 'SendBatchSms' }))).toMatchObject({ status: 404, body: { Code: 'InvalidAction.NotFound' } });
  });

  it.each([
    ['a missing PhoneNumbers', { PhoneNumbers: '' }, 'isv.MOBILE_NUMBER_ILLEGAL'],
    ['a landline number', { PhoneNumbers: '01012345678' }, 'isv.MOBILE_NUMBER_ILLEGAL'],
    ['an unregistered SignName', { SignName: '别的签名' }, 'isv.SMS_SIGNATURE_ILLEGAL'],
    ['a missing SignName', { SignName: '' }, 'isv.SMS_SIGNATURE_ILLEGAL'],
    ['an unknown TemplateCode', { TemplateCode: 'SMS_999' }, 'isv.SMS_TEMPLATE_ILLEGAL'],
    ['TemplateParam that is not JSON', { TemplateParam: '{name:王秀英}' }, 'isv.INVALID_JSON_PARAM'],
    ['a missing TemplateParam', { TemplateParam: '' }, 'isv.TEMPLATE_MISSING_PARAMETERS'],
    ['a missing template variable', { TemplateParam: JSON.stringify({ kind: '跌倒', name: '王秀英' }) }, 'isv.TEMPLATE_MISSING_PARAMETERS'],
    ['a variable of 36 characters', { TemplateParam: JSON.stringify({ kind: '跌倒', name: '王'.repeat(36), address: 'x' }) }, 'isv.PARAM_LENGTH_LIMIT'],
  ])('answers %s with HTTP 200 and %s, as Aliyun does', async (_label, change, code) => {
    const { status, body } = await post(craft({ params: { ...SEND_SMS, ...change } }));
    expect(status).toBe(200);
    expect(body.Code).toBe(code);
    expect(server.rejected.at(-1)).toMatchObject({ code, httpStatus: 200, injected: false });
    expect(server.accepted).toEqual([]);
  });

  it.each([
    ['an https link', 'https://kanjia.example.cn/a/k7m2p9x4q3r8'],
    ['an http link with a port', 'http://127.0.0.1:8080/a/k7m2p9x4q3r8'],
    ['a www. address without scheme', 'www.kanjia.cn/a/x'],
    ['a bare host name', 'kanjia.example.com/a/k7m2'],
  ])('refuses %s as a variable value with isv.PARAM_NOT_SUPPORT_URL, as Aliyun does', async (_label, link) => {
    const { status, body } = await post(craft({ params: { ...SEND_SMS, TemplateParam: JSON.stringify({ kind: '跌倒', name: '王秀英', address: link }) } }));
    expect(status).toBe(200);
    expect(body).toMatchObject({ Code: 'isv.PARAM_NOT_SUPPORT_URL', Message: '不支持url为变量: address' });
    expect(body.RequestId).toMatch(/^[0-9A-F-]{36}$/);
    expect(server.accepted).toEqual([]);
  });

  it('accepts an answer code, an address with a house number and a time: none of them is a link', async () => {
    const { body } = await post(craft({ params: { ...SEND_SMS, TemplateParam: JSON.stringify({ kind: '10:00', name: 'k7m2p9x4q3r8', address: '石门村一组12号 No.3' }) } }));
    expect(body.Code).toBe('OK');
  });

  it('fails exactly the next N requests when told to', async () => {
    server.failNext(2, { code: 'isv.BUSINESS_LIMIT_CONTROL' });
    const codes = [];
    for (let i = 0; i < 3; i++) codes.push((await post(craft())).body.Code);
    expect(codes).toEqual(['isv.BUSINESS_LIMIT_CONTROL', 'isv.BUSINESS_LIMIT_CONTROL', 'OK']);
    expect(server.rejected.map((r) => r.injected)).toEqual([true, true]);
  });

  it('waitFor resolves with an SMS that arrives later and rejects after its timeout', async () => {
    const waiting = server.waitFor((sms) => sms.outId === 'ntf-later', 2_000);
    await post(craft({ params: { ...SEND_SMS, OutId: 'ntf-later' } }));
    expect((await waiting).outId).toBe('ntf-later');
    await expect(server.waitFor((sms) => sms.outId === 'never', 50)).rejects.toThrow(/no matching SMS within 50 ms/);
  });

  describe('modes, switched at run time', () => {
    it.each([
      ['signature-error', 400, 'SignatureDoesNotMatch'],
      ['key-disabled', 400, 'InvalidAccessKeyId.Inactive'],
      ['no-credit', 200, 'isv.AMOUNT_NOT_ENOUGH'],
      ['out-of-service', 200, 'isv.OUT_OF_SERVICE'],
      ['flow-control', 200, 'isv.BUSINESS_LIMIT_CONTROL'],
      ['outage-503', 503, 'ServiceUnavailable'],
    ] as const)('in mode %s answers HTTP %i %s to a correctly signed SendSms, and OK again once back to ok', async (mode, status, code) => {
      server.setMode(mode);
      const refused = await post(craft());
      expect(refused).toMatchObject({ status, body: { Code: code } });
      expect(server.rejected).toMatchObject([{ code, httpStatus: status, injected: true }]);
      server.setMode('ok');
      expect((await post(craft())).body.Code).toBe('OK');
      expect(server.accepted).toHaveLength(1);
    });

    it('in mode outage-reset closes the connection without an answer', async () => {
      server.setMode('outage-reset');
      await expect(post(craft())).rejects.toThrow(/fetch failed/);
      expect(server.rejected).toMatchObject([{ code: 'ECONNRESET', httpStatus: 0, injected: true }]);
      expect(server.accepted).toEqual([]);
    });

    it('still checks the signature first in the account modes: a wrong secret is SignatureDoesNotMatch, not no credit', async () => {
      server.setMode('no-credit');
      expect((await post(craft({ accessKeySecret: 'wrong' }))).body.Code).toBe('SignatureDoesNotMatch');
    });

    it('answers a bad number isv.MOBILE_NUMBER_ILLEGAL and a limited one isv.BUSINESS_LIMIT_CONTROL, the others OK', async () => {
      server.setState({ badNumbers: ['+8613800000001'], limitedNumbers: ['13800000002'] });
      const to = (n: string) => post(craft({ params: { ...SEND_SMS, PhoneNumbers: n } }));
      expect((await to('13800000001')).body.Code).toBe('isv.MOBILE_NUMBER_ILLEGAL');
      expect((await to('8613800000002')).body.Code).toBe('isv.BUSINESS_LIMIT_CONTROL');
      expect((await to('13800000003')).body.Code).toBe('OK');
      expect(server.state()).toEqual({ mode: 'ok', badNumbers: ['13800000001'], limitedNumbers: ['13800000002'], accepted: 1, rejected: 2, receipts: {}, deliveredAfterMs: 2_000 });
      server.reset();
      expect((await to('13800000001')).body.Code).toBe('OK');
    });

    it('is switched over HTTP: GET and PUT /_control, a bad body refused with BAD_CONTROL and nothing changed', async () => {
      const put = (body: string) => fetch(`${url}${LOCAL_SMS_CONTROL_PATH}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body });
      const changed = await put(JSON.stringify({ mode: 'no-credit', badNumbers: ['13800000009'] }));
      expect(changed.status).toBe(200);
      expect(await changed.json()).toEqual({ mode: 'no-credit', badNumbers: ['13800000009'], limitedNumbers: [], accepted: 0, rejected: 0, receipts: {}, deliveredAfterMs: 2_000 });
      expect((await post(craft())).body.Code).toBe('isv.AMOUNT_NOT_ENOUGH');
      for (const bad of ['{"mode":"broken"}', '{"mode":"ok","extra":1}', 'not json', '{"badNumbers":["abc"]}']) {
        const res = await put(bad);
        expect(res.status, bad).toBe(400);
        expect(((await res.json()) as { code: string }).code).toBe('BAD_CONTROL');
      }
      expect(await (await fetch(`${url}${LOCAL_SMS_CONTROL_PATH}`)).json()).toMatchObject({ mode: 'no-credit', rejected: 1 });
      await put('{"mode":"ok"}');
      expect((await post(craft())).body.Code).toBe('OK');
    });
  });

  it('stop() is idempotent and fails a pending waitFor', async () => {
    const waiting = server.waitFor(() => true, 5_000);
    await server.stop();
    await server.stop();
    await expect(waiting).rejects.toThrow(/stopped/);
  });
});

describe('local Aliyun SMS command', () => {
  it('prints a listening line, then one JSON line per accepted SMS', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const { server, address } = await runLocalAliyunSmsCommand(
      ['--port', '0', '--access-key-id', KEY.accessKeyId, '--access-key-secret', KEY.accessKeySecret, '--template', 'SMS_1=kind,name,village,time,address'],
      { stdout: (l) => out.push(l), stderr: (l) => err.push(l), env: {} },
    );
    try {
      expect(JSON.parse(out[0] ?? '')).toEqual({ type: 'listening', port: address.port, url: `http://127.0.0.1:${address.port}`, endpoint: address.endpoint });
      const sender = new AliyunSmsSender(
        { ...KEY, signName: '智慧看家', templateCodes: { alarm: 'SMS_1', escalation: 'SMS_2', cancelled: 'SMS_3' }, endpoint: address.endpoint, protocol: 'http' },
        { log: (l) => err.push(l) },
      );
      const params = { kind: '烟雾', name: '王秀英', village: '王庄村', time: '10:00', address: '王庄村3组12号' };
      expect((await sender.send({ to: '13812345678', template: 'alarm', kind: 'smoke', params, text: '', outId: 'ntf-cli' })).ok).toBe(true);
      expect((await sender.send({ to: '13812345678', template: 'escalation', kind: 'smoke', params, text: '', outId: 'ntf-cli-2' })).ok).toBe(false);
      expect(out).toHaveLength(2);
      expect(JSON.parse(out[1] ?? '')).toMatchObject({ type: 'sms', phoneNumbers: '13812345678', templateCode: 'SMS_1', outId: 'ntf-cli', templateParam: params });
      expect(err.join('\n')).toContain('isv.SMS_TEMPLATE_ILLEGAL');
      expect(err.join('\n')).not.toContain('13812345678');
    } finally {
      await server.stop();
    }
  });

  it('starts in the mode of --mode with the numbers of --bad-number, and refuses an unknown mode', async () => {
    const out: string[] = [];
    const { server, address } = await runLocalAliyunSmsCommand(
      ['--port', '0', '--access-key-id', KEY.accessKeyId, '--access-key-secret', KEY.accessKeySecret, '--mode', 'outage-503', '--bad-number', '13800000001'],
      { stdout: (l) => out.push(l), stderr: () => {}, env: {} },
    );
    try {
      expect(server.state()).toMatchObject({ mode: 'outage-503', badNumbers: ['13800000001'] });
      const sender = new AliyunSmsSender({ ...KEY, signName: '智慧看家', templateCodes: { alarm: 'SMS_1', escalation: 'SMS_2', cancelled: 'SMS_3' }, endpoint: address.endpoint, protocol: 'http' }, { log: () => {} });
      const message = { to: '13812345678', template: 'alarm' as const, kind: 'sos' as const, params: { kind: '紧急呼叫' }, text: '', outId: 'ntf-mode' };
      expect(await sender.send(message)).toMatchObject({ ok: false, kind: 'transport', code: 'ServiceUnavailable' });
      await fetch(`${address.url}${LOCAL_SMS_CONTROL_PATH}`, { method: 'PUT', body: '{"mode":"ok"}' });
      expect((await sender.send(message)).ok).toBe(true);
      expect(await sender.send({ ...message, to: '13800000001' })).toMatchObject({ ok: false, kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL' });
    } finally {
      await server.stop();
    }
    await expect(runLocalAliyunSmsCommand(['--access-key-id', 'a', '--access-key-secret', 'b', '--mode', 'broken'], { stdout: () => {}, stderr: () => {}, env: {} })).rejects.toThrow(
      /--mode: one of ok, signature-error/,
    );
  });

  it('refuses to start without an access key, with the usage', async () => {
    await expect(runLocalAliyunSmsCommand(['--port', '0'], { stdout: () => {}, stderr: () => {}, env: {} })).rejects.toThrow(/--access-key-id is required[\s\S]*usage/);
  });
});
