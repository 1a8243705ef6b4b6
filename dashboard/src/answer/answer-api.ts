/**
 * The answer page's calls: same-origin fetches of /api/answer/<code>, every
 * answer checked with the protocol's zod schemas (a broken answer is an
 * error, never half a page).
 */
import { AnswerErrorAnswer, AnswerView, type AlarmOutcome, type AnswerStep } from '@kanjia/protocol';

export type AnswerResult =
  | { ok: true; view: AnswerView }
  | { ok: false; status: number; code: string; message: string; reason?: 'closed' | 'timeout'; retryAfterSeconds?: number };

/** The code of this page's URL: the last segment of /a/<code>. */
export function codeFromPath(pathname: string): string {
  const segments = pathname.split('/').filter((s) => s !== '');
  return decodeURIComponent(segments[segments.length - 1] ?? '');
}

async function call(url: string, init?: RequestInit): Promise<AnswerResult> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    return { ok: false, status: 0, code: 'NETWORK', message: '' };
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (res.ok) {
    const view = AnswerView.safeParse(body);
    return view.success ? { ok: true, view: view.data } : { ok: false, status: res.status, code: 'BAD_RESPONSE', message: view.error.message };
  }
  // Any code: a newer server's code still shows (as the generic sentence), not as a broken answer.
  const error = AnswerErrorAnswer.safeParse(body);
  if (!error.success) return { ok: false, status: res.status, code: `HTTP_${res.status}`, message: res.statusText };
  const { code, message, reason, retryAfterSeconds } = error.data;
  return { ok: false, status: res.status, code, message, ...(reason ? { reason } : {}), ...(retryAfterSeconds ? { retryAfterSeconds } : {}) };
}

/** The case `?case=` of this page's URL names, when there is one (a bundled SMS's link opens several). */
export function caseFromSearch(search: string): string | undefined {
  const value = new URLSearchParams(search).get('case');
  return value === null || value === '' ? undefined : value;
}

/** The case this code opens: `caseId` of a bundled SMS, else the first still open. */
export function fetchAnswer(code: string, caseId?: string): Promise<AnswerResult> {
  const query = caseId === undefined ? '' : `?case=${encodeURIComponent(caseId)}`;
  return call(`/api/answer/${encodeURIComponent(code)}${query}`);
}

/** One step on the case shown (its id is sent, so a step never lands on another case). */
export function postStep(code: string, step: AnswerStep, alarmId: string, note?: string, outcome?: AlarmOutcome): Promise<AnswerResult> {
  return call(`/api/answer/${encodeURIComponent(code)}/${step}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ alarmId, ...(note === undefined ? {} : { note }), ...(outcome === undefined ? {} : { outcome }) }),
  });
}
