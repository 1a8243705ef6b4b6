/**
 * AliyunSmsSender.queryDelivery (QuerySendDetails through the dysmsapi SDK)
 * against the local SMS stand-in: its receipts per number, its signature check.
 */
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DeliveryQuery } from '../src/channels/channel.js';
import { aliyunDay, parseAliyunDateTime } from '../src/sms/aliyun-api-call.js';
import { AliyunSmsSender, type AliyunSmsSettings } from '../src/sms/aliyun-sms-sender.js';

const KEY = { accessKeyId: 'LTAI5tKanjiaTestKey', accessKeySecret: 'kanjia-test-secret-0123456789' };
const PARAMS = { kind: '跌倒', name: '王秀英', village: '王庄村', time: '10:00', detail: '-', address: '王庄村3组12号', code: 'k7m2p9' };

describe('AliyunSmsSender.queryDelivery', () => {
  let server: LocalAliyunSmsServer;
  let endpoint: string;
  let nowMs: number;

  beforeEach(async () => {
    nowMs = Date.now();
    server = new LocalAliyunSmsServer({ ...KEY, clock: { nowMs: () => nowMs } });
    ({ endpoint } = await server.start());
  });

  afterEach(() => server.stop());

  function sender(change: Partial<AliyunSmsSettings> = {}): AliyunSmsSender {
    return new AliyunSmsSender({ ...KEY, signName: '智慧看家', templateCodes: { alarm: 'SMS_1', escalation: 'SMS_2', cancelled: 'SMS_3' }, endpoint, protocol: 'http', ...change }, { log: () => {} });
  }

  async function texted(to: string, outId: string): Promise<DeliveryQuery> {
    const result = await sender().send({ to, template: 'alarm', kind: 'fall', params: PARAMS, text: '', outId });
    if (!result.ok || result.providerRef === null) throw new Error('the SMS did not go out');
    return { providerRef: result.providerRef, to, sentAtMs: nowMs, outId };
  }

  it('is pending while the receipt is awaited (SendStatus 1), then delivered with the ReceiveDate', async () => {
    const query = await texted('13812345678', 'ntf-r1');
    expect(await sender().queryDelivery(query)).toEqual({ state: 'pending' });
    nowMs += 3_000;
    const answer = await sender().queryDelivery(query);
    expect(answer).toMatchObject({ state: 'delivered', detail: 'DELIVERED' });
    expect(answer.state === 'delivered' ? answer.atMs : null).toBe(Math.floor((query.sentAtMs + 2_000) / 1_000) * 1_000);
  });

  it('tells one number’s delivered SMS from another’s failed one, with the operator’s ErrCode', async () => {
    server.setState({ receipts: { '13900000002': 'failed:MK:0001', '13900000003': 'pending' }, deliveredAfterMs: 0 });
    const delivered = await texted('13812345678', 'ntf-r2');
    const failed = await texted('+8613900000002', 'ntf-r3');
    const pending = await texted('13900000003', 'ntf-r4');
    nowMs += 60_000;
    expect((await sender().queryDelivery(delivered)).state).toBe('delivered');
    expect(await sender().queryDelivery(failed)).toMatchObject({ state: 'failed', code: 'MK:0001', message: expect.stringContaining('MK:0001') });
    expect(await sender().queryDelivery(pending)).toEqual({ state: 'pending' });
  });

  it('finds the record by BizId and the day it was sent: another day or another BizId has no record (pending)', async () => {
    server.setState({ deliveredAfterMs: 0 });
    const query = await texted('13812345678', 'ntf-r5');
    expect(await sender().queryDelivery({ ...query, sentAtMs: query.sentAtMs - 86_400_000 })).toEqual({ state: 'pending' });
    expect(await sender().queryDelivery({ ...query, providerRef: '999^0' })).toEqual({ state: 'pending' });
    expect((await sender().queryDelivery(query)).state).toBe('delivered');
  });

  it('is unknown when the query fails: an outage, a bad secret refused by the signature check, a number that is none', async () => {
    const query = await texted('13812345678', 'ntf-r6');
    server.setMode('outage-503');
    expect(await sender().queryDelivery(query)).toMatchObject({ state: 'unknown', code: 'ServiceUnavailable' });
    server.setMode('ok');
    expect(await sender({ accessKeySecret: 'wrong' }).queryDelivery(query)).toMatchObject({ state: 'unknown', code: 'SignatureDoesNotMatch' });
    expect(await sender().queryDelivery({ ...query, to: 'abc' })).toMatchObject({ state: 'unknown', code: 'isv.MOBILE_NUMBER_ILLEGAL' });
  });

  it('answers a query while sends are refused for credit: only SendSms is', async () => {
    server.setState({ deliveredAfterMs: 0 });
    const query = await texted('13812345678', 'ntf-r7');
    server.setMode('no-credit');
    expect((await sender().queryDelivery(query)).state).toBe('delivered');
  });

  it('asks for the day in Beijing time and reads Aliyun’s dates as Beijing time', () => {
    expect(aliyunDay(Date.UTC(2026, 11, 2, 16, 30))).toBe('20261203');
    expect(aliyunDay(Date.UTC(2026, 11, 2, 15, 59))).toBe('20261202');
    expect(parseAliyunDateTime('2026-12-03 00:30:00')).toBe(Date.UTC(2026, 11, 2, 16, 30));
    expect(parseAliyunDateTime('')).toBeNull();
  });
});
