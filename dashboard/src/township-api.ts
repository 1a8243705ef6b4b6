/**
 * The township routes (issue 11: the registry 台账, person records, their history,
 * leaving, visits and the overdue list) through the desk's API client: every
 * answer checked against protocol's schemas, failures as ApiRequestError.
 */
import {
  ContactView,
  SpreadsheetImportAnswer,
  OverdueVisits,
  PersonRecord,
  RegistryPage,
  ResidentView,
  VisitList,
  VisitView,
  HistoryEntry,
  VisitRemindersAnswer,
  type CreateContactBody,
  type CreateVisitBody,
  type SpreadsheetImportBody,
  type LeaveBody,
  type RestoreBody,
  type UpdateContactBody,
  type UpdateResidentBody,
} from '@kanjia/protocol';
import { z } from 'zod';
import { inject, type InjectionKey } from 'vue';
import type { Api } from './api';

const History = z.object({ entries: z.array(HistoryEntry) });
const Chain = z.object({ contacts: z.array(ContactView) });

/** The registry list's filters, as the server's query string takes them. */
export interface RegistryFilter {
  q?: string;
  villageId?: string;
  category?: string;
  careLevel?: string;
  status?: 'active' | 'left' | 'all';
  overdue?: boolean;
  page?: number;
  pageSize?: number;
}

function query(params: Record<string, string | number | boolean | undefined>): string {
  const entries = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => [k, String(v)] as [string, string]);
  return entries.length === 0 ? '' : `?${new URLSearchParams(entries).toString()}`;
}

const person = (id: string): string => `/api/residents/${encodeURIComponent(id)}`;

export function createTownshipClient(api: Pick<Api, 'request'>) {
  const call = api.request;
  return {
    people: (f: RegistryFilter) => call(RegistryPage, `/api/registry/people${query({ ...f })}`),
    record: (id: string) => call(PersonRecord, `/api/registry/people/${encodeURIComponent(id)}`),
    history: (id: string) => call(History, `${person(id)}/history`),
    /** The record's own fields (PATCH: only the ones given; null clears one). */
    updateRecord: (id: string, body: UpdateResidentBody) => call(ResidentView, person(id), body, 'PATCH'),
    /** The chain (admin, township): a helper's name, phone or post (职务); a new helper at the end; one taken off. */
    updateContact: (contactId: string, body: UpdateContactBody) => call(Chain, `/api/contacts/${encodeURIComponent(contactId)}`, body, 'PATCH'),
    addContact: (id: string, body: CreateContactBody) => call(Chain, `${person(id)}/contacts`, body),
    removeContact: (contactId: string) => call(Chain, `/api/contacts/${encodeURIComponent(contactId)}`, undefined, 'DELETE'),
    leave: (id: string, body: LeaveBody) => call(PersonRecord, `${person(id)}/leave`, body),
    restore: (id: string, body: RestoreBody) => call(PersonRecord, `${person(id)}/restore`, body),
    visits: (id: string) => call(VisitList, `${person(id)}/visits`),
    recordVisit: (id: string, body: CreateVisitBody) => call(VisitView, `${person(id)}/visits`, body),
    /** Without confirmDigest: the preview (nothing written); with the preview's digest: the import. */
    importSheet: (body: SpreadsheetImportBody) => call(SpreadsheetImportAnswer, '/api/registry/import', body),
    overdue: (villageId?: string) => call(OverdueVisits, `/api/visits/overdue${query({ villageId })}`),
    /** The evening SMS reminders of a due date (default: tomorrow), failed ones first. */
    reminders: (date?: string) => call(VisitRemindersAnswer, `/api/visits/reminders${query({ date })}`),
  };
}

/** Where the registry's XLSX downloads from (a plain link: the session cookie goes with it). */
export const exportUrl = (villageId?: string): string => `/api/registry/export.xlsx${query({ villageId })}`;

export type TownshipClient = ReturnType<typeof createTownshipClient>;

export const TOWNSHIP_CLIENT: InjectionKey<TownshipClient> = Symbol('township client');

/** The township client provided by App (in a view's setup). */
export function useTownshipClient(): TownshipClient {
  const client = inject(TOWNSHIP_CLIENT);
  if (!client) throw new Error('no township client provided: the views must be inside App');
  return client;
}
