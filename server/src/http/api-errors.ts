/**
 * The one place that turns an error into an HTTP answer: the status of every
 * code comes from the protocol's error catalog (ERROR_CATALOG), so an answer
 * and docs/errors.md cannot disagree, and every body is built by apiError(),
 * whose code is typed by the catalog (a typo fails the type check).
 */
import { apiErrorStatus, isApiErrorCode, KanjiaError, type ApiErrorCode } from '@kanjia/protocol';

/** Extra fields some answers carry (retryAfterSeconds, reason). */
export type ApiErrorExtra = Readonly<Record<string, string | number>>;

/** The body of an error answer: a catalog code and a sentence for people, with any extra fields. */
export function apiError<C extends ApiErrorCode, X extends ApiErrorExtra = Record<never, never>>(code: C, message: string, extra?: X): { code: C; message: string } & X {
  return { ...(extra as X), code, message };
}

/**
 * An answer a route or hook gives by throwing: the app's error handler sends
 * it with the catalog's status for its code (and the extra fields).
 */
export class ApiProblem extends KanjiaError<ApiErrorCode> {
  override readonly name = 'ApiProblem';
  constructor(
    code: ApiErrorCode,
    message: string,
    readonly extra?: ApiErrorExtra,
  ) {
    super(code, message);
  }
}

/** Replies `code` with its catalog status; returns the reply (return it from a handler or hook). */
export function sendApiError<R extends { code(statusCode: number): { send(payload: never): unknown } }>(reply: R, code: ApiErrorCode, message: string, extra?: ApiErrorExtra): R {
  (reply.code(apiErrorStatus(code)).send as (payload: unknown) => unknown)(apiError(code, message, extra));
  return reply;
}

/** The answer to a KanjiaError whose code the API answers (ApiProblem, AlarmError, RegistryError, …); undefined for any other error. */
export function errorAnswer(err: unknown): { status: number; body: { code: ApiErrorCode; message: string } & ApiErrorExtra } | undefined {
  if (!(err instanceof KanjiaError) || !isApiErrorCode(err.code)) return undefined;
  const extra = err instanceof ApiProblem ? err.extra : undefined;
  return { status: apiErrorStatus(err.code), body: apiError(err.code, err.message, extra) };
}
