/**
 * The registry side of the REST API for the resident card, the residents list
 * and device health: every answer checked against protocol's schemas, every
 * failure an ApiRequestError with the server's stable code.
 */
import { ApiError, AuditPage, AwayResponse, DeviceHealthList, DeviceHistory, ResidentCard, ResidentSummary, type AwayBody, type DeviceProblem } from '@kanjia/protocol';
import { ApiRequestError, REQUEST_TIMEOUT_MS } from './api';

interface Schema<T> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

const ResidentList: Schema<{ residents: ResidentSummary[] }> = {
  safeParse(data) {
    const list = typeof data === 'object' && data !== null ? (data as { residents?: unknown }).residents : undefined;
    if (!Array.isArray(list)) return { success: false, error: { issues: [{ path: ['residents'], message: 'expected an array' }] } };
    const residents: ResidentSummary[] = [];
    for (const item of list) {
      const parsed = ResidentSummary.safeParse(item);
      if (!parsed.success) return { success: false, error: { issues: parsed.error.issues } };
      residents.push(parsed.data);
    }
    return { success: true, data: { residents } };
  },
};

async function call<T>(schema: Schema<T>, path: string, body?: unknown): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetch(path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      cache: 'no-store',
    });
  } catch (err) {
    if (controller.signal.aborted) throw new ApiRequestError('TIMEOUT', `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`, 0);
    throw new ApiRequestError('NETWORK', err instanceof Error ? err.message : String(err), 0);
  } finally {
    clearTimeout(timer);
  }
  const json: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const e = ApiError.safeParse(json);
    throw e.success ? new ApiRequestError(e.data.code, e.data.message, res.status) : new ApiRequestError(`HTTP_${res.status}`, `${res.status} ${res.statusText}`.trim(), res.status);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const detail = parsed.error.issues.slice(0, 3).map((i) => `${i.path.map(String).join('.')}: ${i.message}`).join('; ');
    throw new ApiRequestError('BAD_RESPONSE', `${path}: ${detail}`, res.status);
  }
  return parsed.data;
}

const q = (params: Record<string, string | undefined>): string => {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '');
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries).toString()}`;
};

export const registryClient = {
  residents: (villageId?: string) => call(ResidentList, `/api/residents${q({ villageId })}`),
  card: (id: string) => call(ResidentCard, `/api/residents/${encodeURIComponent(id)}/card`),
  setAway: (id: string, body: AwayBody) => call(AwayResponse, `/api/residents/${encodeURIComponent(id)}/away`, body),
  devices: (villageId?: string, problem?: DeviceProblem | 'any') => call(DeviceHealthList, `/api/devices${q({ villageId, problem })}`),
  deviceHistory: (id: string) => call(DeviceHistory, `/api/devices/${encodeURIComponent(id)}/history?days=7`),
  /** The audit log, newest first (admins only); `before` pages back. */
  audit: (before?: number) => call(AuditPage, `/api/audit${q({ before: before === undefined ? undefined : String(before), limit: '100' })}`),
};
