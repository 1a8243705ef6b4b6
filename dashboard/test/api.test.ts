import { describe, expect, it, vi } from 'vitest';
import { ApiRequestError, createApi } from '../src/api';
import { alarm } from './fixtures';

type FetchArgs = { url: string; init: RequestInit | undefined };

function fakeFetch(status: number, body: unknown, calls: FetchArgs[] = [], headers: Record<string, string> = {}): typeof fetch {
  return async (input, init) => {
    calls.push({ url: String(input), init });
    return new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json', ...headers },
    });
  };
}

describe('api', () => {
  it('lists alarms, validating each case and counting the malformed ones', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    const calls: FetchArgs[] = [];
    const api = createApi({ fetch: fakeFetch(200, { alarms: [alarm({ id: 'a' }), { id: 'broken' }] }, calls) });
    const list = await api.listAlarms('active');
    expect(list.alarms.map((a) => a.id)).toEqual(['a']);
    expect(list.invalid).toBe(1);
    expect(calls[0]?.url).toBe('/api/alarms?status=active');
    expect(logged).toHaveBeenCalledOnce();
    logged.mockRestore();
  });

  it('posts the take body and returns the updated case', async () => {
    const calls: FetchArgs[] = [];
    const api = createApi({ fetch: fakeFetch(200, alarm({ id: 'a 1', status: 'taken', takenBy: '张三' }), calls) });
    const updated = await api.take('a 1', { note: '马上去' });
    expect(updated.status).toBe('taken');
    expect(calls[0]?.url).toBe('/api/alarms/a%201/take');
    expect(calls[0]?.init?.method).toBe('POST');
    // No actor in the body: the server takes it from the session.
    expect(JSON.parse(String(calls[0]?.init?.body))).toEqual({ note: '马上去' });
  });

  it('turns an ApiError body into a thrown error with its code and message', async () => {
    const api = createApi({ fetch: fakeFetch(409, { code: 'ALARM_ALREADY_TAKEN', message: 'taken by 李四' }) });
    const err = await api.take('a', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiRequestError);
    expect(err).toMatchObject({ code: 'ALARM_ALREADY_TAKEN', message: 'taken by 李四', status: 409 });
  });

  it('keeps a code this build does not know (a newer server) with its message, for the generic sentence', async () => {
    const api = createApi({ fetch: fakeFetch(409, { code: 'SOMETHING_NEW', message: 'from a newer server' }) });
    await expect(api.getAlarm('a')).rejects.toMatchObject({ code: 'SOMETHING_NEW', message: 'from a newer server', status: 409 });
  });

  it('reports a non-ApiError failure by its HTTP status', async () => {
    const api = createApi({ fetch: fakeFetch(502, 'bad gateway') });
    await expect(api.getAlarm('a')).rejects.toMatchObject({ code: 'HTTP_502', status: 502 });
  });

  it('rejects a malformed answer instead of showing it', async () => {
    const api = createApi({ fetch: fakeFetch(200, { id: 'a' }) });
    await expect(api.getAlarm('a')).rejects.toMatchObject({ code: 'BAD_RESPONSE' });
  });

  it('refuses to send a resolve without a note', async () => {
    const calls: FetchArgs[] = [];
    const api = createApi({ fetch: fakeFetch(200, alarm({ id: 'a' }), calls) });
    await expect(api.resolve('a', { note: '  ' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(calls).toHaveLength(0);
  });

  it('reports a network failure and a timeout', async () => {
    const down = createApi({ fetch: () => Promise.reject(new TypeError('Failed to fetch')) });
    await expect(down.listAlarms('active')).rejects.toMatchObject({ code: 'NETWORK', status: 0 });
    const hang: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted'))));
    const slow = createApi({ fetch: hang, timeoutMs: 20 });
    await expect(slow.listAlarms('active')).rejects.toMatchObject({ code: 'TIMEOUT' });
  });

  it('reports the server clock offset from the Date header', async () => {
    const offsets: number[] = [];
    const serverNow = Date.now() + 3 * 365 * 24 * 3600 * 1000;
    const api = createApi({
      fetch: fakeFetch(200, { alarms: [] }, [], { date: new Date(serverNow).toUTCString() }),
      onServerOffset: (o) => offsets.push(o),
    });
    await api.listAlarms('closed');
    expect(Math.abs((offsets[0] ?? 0) - 3 * 365 * 24 * 3600 * 1000)).toBeLessThan(2000);
  });
});
