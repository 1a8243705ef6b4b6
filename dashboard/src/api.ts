/**
 * The REST API of the server (same origin), with every answer checked against the
 * protocol's zod schemas and every failure turned into an `ApiRequestError`
 * carrying the server's stable code and its sentence, for the officer to read.
 */
import {
  AlarmStepBody,
  AlarmView,
  ApiErrorAnswer,
  CancelAlarmBody,
  HealthResponse,
  KanjiaError,
  MapConfigResponse,
  MapHouseholdsResponse,
  LoginBody,
  LoginThrottledError,
  MeResponse,
  ResolveAlarmBody,
  TakeAlarmBody,
} from '@kanjia/protocol';
import { estimateServerOffsetMs } from './time';
import type { ListScope } from './queue';

/** An old village line can stall; a button must not spin forever. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** A request that did not produce the expected answer. Its code is a string, not a catalog code: a newer server may answer one this build does not know. */
export class ApiRequestError extends KanjiaError<string> {
  override readonly name = 'ApiRequestError';
  constructor(
    /**
     * The server's ApiError code (an ApiErrorCode, or one a newer server added: read with
     * isApiErrorCode), or a DashboardErrorCode (NETWORK / TIMEOUT / BAD_RESPONSE) or HTTP_<status> from here.
     */
    code: string,
    message: string,
    /** HTTP status, 0 when there was no answer. */
    readonly status: number,
    /** For LOGIN_THROTTLED: seconds until a login may be tried again. */
    readonly retryAfterSeconds?: number,
  ) {
    super(code, message);
  }
}

export interface AlarmList {
  alarms: AlarmView[];
  /** Entries that failed validation: shown as a count, never silently dropped. */
  invalid: number;
}

/** The verbs other than GET and POST a route may take. */
export type WriteMethod = 'PATCH' | 'PUT' | 'DELETE';

export type AlarmStep = 'take' | 'on-the-way' | 'on-site' | 'resolve' | 'cancel';

export interface ApiOptions {
  fetch?: typeof fetch;
  /** Called with the server-minus-browser clock offset after each answer. */
  onServerOffset?: (offsetMs: number) => void;
  /** Any answer 401 (the session ended): the page goes back to the login. Not for the login itself. */
  onUnauthenticated?: () => void;
  timeoutMs?: number;
}

/**
 * What this file needs of a zod schema. Typed structurally so the dashboard
 * reaches zod only through @kanjia/protocol's schemas.
 */
export interface Schema<T> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: readonly Issue[] } };
}
interface Issue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

function describeIssues(issues: readonly Issue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

const AlarmListEnvelope: Schema<{ alarms: unknown[] }> = {
  safeParse(data) {
    const alarms = typeof data === 'object' && data !== null ? (data as { alarms?: unknown }).alarms : undefined;
    return Array.isArray(alarms)
      ? { success: true, data: { alarms } }
      : { success: false, error: { issues: [{ path: ['alarms'], message: 'expected an array' }] } };
  },
};

export interface Api {
  listAlarms(scope: ListScope): Promise<AlarmList>;
  getAlarm(id: string): Promise<AlarmView>;
  take(id: string, body: TakeAlarmBody): Promise<AlarmView>;
  onTheWay(id: string, body: AlarmStepBody): Promise<AlarmView>;
  onSite(id: string, body: AlarmStepBody): Promise<AlarmView>;
  resolve(id: string, body: ResolveAlarmBody): Promise<AlarmView>;
  cancel(id: string, body: CancelAlarmBody): Promise<AlarmView>;
  health(): Promise<HealthResponse>;
  mapHouseholds(): Promise<MapHouseholdsResponse>;
  mapConfig(): Promise<MapConfigResponse>;
  /** Who is logged in; rejects with status 401 when nobody is. */
  me(): Promise<MeResponse>;
  login(body: LoginBody): Promise<MeResponse>;
  logout(): Promise<void>;
  /** Any other JSON route: GET, or POST with `body` (or `method`: PATCH, PUT, DELETE); the answer checked against `schema`. */
  request<T>(schema: Schema<T>, path: string, body?: unknown, method?: WriteMethod): Promise<T>;
}

const LogoutAnswer: Schema<{ message: string }> = {
  safeParse(data) {
    const message = typeof data === 'object' && data !== null ? (data as { message?: unknown }).message : undefined;
    return typeof message === 'string' ? { success: true, data: { message } } : { success: false, error: { issues: [{ path: ['message'], message: 'expected a string' }] } };
  },
};

/** The API client; `options.fetch` lets tests answer without a server. */
export function createApi(options: ApiOptions = {}): Api {
  const doFetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;

  async function request<T>(schema: Schema<T>, path: string, body?: unknown, quiet401 = false, method?: WriteMethod): Promise<T> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    const sentAt = Date.now();
    let res: Response;
    try {
      res = await doFetch(path, {
        method: method ?? (body === undefined ? 'GET' : 'POST'),
        headers: body === undefined ? { accept: 'application/json' } : { accept: 'application/json', 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: controller.signal,
        cache: 'no-store',
      });
    } catch (err) {
      if (controller.signal.aborted) throw new ApiRequestError('TIMEOUT', `no answer within ${timeoutMs / 1000} s`, 0);
      throw new ApiRequestError('NETWORK', err instanceof Error ? err.message : String(err), 0);
    } finally {
      clearTimeout(timer);
    }
    options.onServerOffset?.(estimateServerOffsetMs(res.headers.get('date'), sentAt, Date.now()));

    let json: unknown;
    try {
      json = await res.json();
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      if (res.status === 401 && !quiet401) options.onUnauthenticated?.();
      const throttled = LoginThrottledError.safeParse(json);
      if (throttled.success) throw new ApiRequestError(throttled.data.code, throttled.data.message, res.status, throttled.data.retryAfterSeconds);
      const apiError = ApiErrorAnswer.safeParse(json);
      if (apiError.success) throw new ApiRequestError(apiError.data.code, apiError.data.message, res.status);
      throw new ApiRequestError(`HTTP_${res.status}`, `${res.status} ${res.statusText}`.trim(), res.status);
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new ApiRequestError('BAD_RESPONSE', `${path}: ${describeIssues(parsed.error.issues)}`, res.status);
    }
    return parsed.data;
  }

  function step<B>(bodySchema: Schema<B>, step: AlarmStep) {
    return (id: string, body: B): Promise<AlarmView> => {
      // Checked here too, so a bad body never leaves the page (and says why in the officer's terms upstream).
      const checked = bodySchema.safeParse(body);
      if (!checked.success) return Promise.reject(new ApiRequestError('BAD_REQUEST', describeIssues(checked.error.issues), 0));
      return request(AlarmView, `/api/alarms/${encodeURIComponent(id)}/${step}`, checked.data);
    };
  }

  return {
    async listAlarms(scope) {
      const envelope = await request(AlarmListEnvelope, `/api/alarms?status=${scope}`);
      const alarms: AlarmView[] = [];
      let invalid = 0;
      // One malformed case must not hide all the others.
      for (const item of envelope.alarms) {
        const parsed = AlarmView.safeParse(item);
        if (parsed.success) alarms.push(parsed.data);
        else {
          invalid += 1;
          console.error('[kanjia] alarm failed validation', describeIssues(parsed.error.issues));
        }
      }
      return { alarms, invalid };
    },
    getAlarm: (id) => request(AlarmView, `/api/alarms/${encodeURIComponent(id)}`),
    take: step(TakeAlarmBody, 'take'),
    onTheWay: step(AlarmStepBody, 'on-the-way'),
    onSite: step(AlarmStepBody, 'on-site'),
    resolve: step(ResolveAlarmBody, 'resolve'),
    cancel: step(CancelAlarmBody, 'cancel'),
    health: () => request(HealthResponse, '/api/health'),
    mapHouseholds: () => request(MapHouseholdsResponse, '/api/map/households'),
    mapConfig: () => request(MapConfigResponse, '/api/map/config'),
    me: () => request(MeResponse, '/api/auth/me', undefined, true),
    login: (body) => {
      const checked = LoginBody.safeParse(body);
      if (!checked.success) return Promise.reject(new ApiRequestError('BAD_REQUEST', describeIssues(checked.error.issues), 0));
      return request(MeResponse, '/api/auth/login', checked.data, true);
    },
    logout: async () => {
      await request(LogoutAnswer, '/api/auth/logout', {}, true);
    },
    request: (schema, path, body, method) => request(schema, path, body, false, method),
  };
}
