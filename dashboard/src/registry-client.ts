/**
 * The registry side of the REST API for the resident card, the residents list,
 * device health and the audit log, through the desk's API client: every answer
 * checked against protocol's schemas, every failure an ApiRequestError with the
 * server's stable code, and a 401 brings the login back as everywhere else.
 */
import { AuditPage, AwayResponse, DeviceHealthList, DeviceHistory, ResidentCard, ResidentSummary, type AwayBody, type DeviceProblem } from '@kanjia/protocol';
import { inject, type InjectionKey } from 'vue';
import type { Api, Schema } from './api';

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

const q = (params: Record<string, string | undefined>): string => {
  const entries = Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '');
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries).toString()}`;
};

/** The registry routes through the desk's API client (its timeouts, its 401 → login). */
export function createRegistryClient(api: Pick<Api, 'request'>) {
  const call = api.request;
  return {
    residents: (villageId?: string) => call(ResidentList, `/api/residents${q({ villageId })}`),
    card: (id: string) => call(ResidentCard, `/api/residents/${encodeURIComponent(id)}/card`),
    setAway: (id: string, body: AwayBody) => call(AwayResponse, `/api/residents/${encodeURIComponent(id)}/away`, body),
    devices: (villageId?: string, problem?: DeviceProblem | 'any') => call(DeviceHealthList, `/api/devices${q({ villageId, problem })}`),
    deviceHistory: (id: string) => call(DeviceHistory, `/api/devices/${encodeURIComponent(id)}/history?days=7`),
    /** The audit log, newest first (admins only); `before` pages back. */
    audit: (before?: number) => call(AuditPage, `/api/audit${q({ before: before === undefined ? undefined : String(before), limit: '100' })}`),
  };
}

export type RegistryClient = ReturnType<typeof createRegistryClient>;

/** How the views reach the registry client that App provides. */
export const REGISTRY_CLIENT: InjectionKey<RegistryClient> = Symbol('registry client');

/** The registry client provided by App (in a view's setup). */
export function useRegistryClient(): RegistryClient {
  const client = inject(REGISTRY_CLIENT);
  if (!client) throw new Error('no registry client provided: the views must be inside App');
  return client;
}
