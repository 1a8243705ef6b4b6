import { describe, expect, it } from 'vitest';
import {
  API_ERROR_CODES,
  ANSWER_ERROR_CODES,
  ApiError,
  ApiErrorAnswer,
  apiErrorStatus,
  ERROR_CATALOG,
  ERROR_CODES,
  ERROR_SOURCES,
  isApiErrorCode,
  KanjiaError,
  SYSTEM_PROBLEM_CODES,
} from '../src/index.js';

describe('the error catalog', () => {
  it('names each code once, in upper snake case, none differing only in case, each documented with a meaning and what to do', () => {
    expect(ERROR_CODES.length).toBeGreaterThan(100);
    expect(new Set(ERROR_CODES.map((c) => c.toLowerCase())).size).toBe(ERROR_CODES.length);
    for (const code of ERROR_CODES) {
      const entry = ERROR_CATALOG[code];
      expect(code).toMatch(/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/);
      expect(Object.keys(ERROR_SOURCES)).toContain(entry.from);
      expect(entry.meaning.length, code).toBeGreaterThan(10);
      expect(entry.action.length, code).toBeGreaterThan(3);
      if ('status' in entry) expect(entry.status, code).toBeGreaterThanOrEqual(400);
    }
  });

  it('has an HTTP status for exactly the API codes, and the system problems and answer-page codes among its codes', () => {
    expect(API_ERROR_CODES).toContain('ALARM_ALREADY_TAKEN');
    expect(apiErrorStatus('ALARM_ALREADY_TAKEN')).toBe(409);
    expect(apiErrorStatus('HOST_NOT_ALLOWED')).toBe(421);
    expect(isApiErrorCode('GATEWAY_PUBLISH_FAILED')).toBe(false);
    expect(isApiErrorCode('SOMETHING_NEW')).toBe(false);
    for (const code of API_ERROR_CODES) expect(isApiErrorCode(code)).toBe(true);
    for (const code of SYSTEM_PROBLEM_CODES) expect(ERROR_CATALOG[code], code).toMatchObject({ systemProblem: true });
    expect(ERROR_CODES.filter((c) => 'systemProblem' in ERROR_CATALOG[c]).sort()).toEqual([...SYSTEM_PROBLEM_CODES].sort());
    for (const code of ANSWER_ERROR_CODES) expect(isApiErrorCode(code), code).toBe(true);
  });

  it('the server’s ApiError takes only catalog codes; a client’s ApiErrorAnswer keeps a newer server’s code', () => {
    expect(ApiError.safeParse({ code: 'ALARM_CLOSED', message: 'closed' }).success).toBe(true);
    expect(ApiError.safeParse({ code: 'SOMETHING_NEW', message: 'x' }).success).toBe(false);
    expect(ApiErrorAnswer.parse({ code: 'SOMETHING_NEW', message: 'x' })).toEqual({ code: 'SOMETHING_NEW', message: 'x' });
  });
});

describe('KanjiaError', () => {
  class OneError extends KanjiaError<'STORAGE_STOPPED'> {
    override readonly name = 'OneError';
  }
  class OtherError extends KanjiaError<'STOPPED'> {
    override readonly name = 'OtherError';
  }

  it('carries its code, message, details, cause and its subclass’s name', () => {
    const cause = new Error('disk');
    const err = new OneError('STORAGE_STOPPED', 'stopping', { details: { label: 'sos' }, cause });
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(KanjiaError);
    expect(err).toBeInstanceOf(OneError);
    expect(err).not.toBeInstanceOf(OtherError);
    expect(err).toMatchObject({ name: 'OneError', code: 'STORAGE_STOPPED', message: 'stopping', details: { label: 'sos' }, cause });
    expect(String(err)).toBe('OneError: stopping');
    expect(new OtherError('STOPPED', 'x').cause).toBeUndefined();
  });

  it('is recognised by its brand when another copy of the module made it, and plain errors are not', () => {
    const foreign = Object.assign(new Error('from another copy'), { code: 'STOPPED', [Symbol.for('kanjia.error')]: true });
    expect(foreign).toBeInstanceOf(KanjiaError);
    expect(foreign).not.toBeInstanceOf(OneError);
    expect(new Error('plain')).not.toBeInstanceOf(KanjiaError);
    expect(Object.assign(new Error('coded'), { code: 'STOPPED' })).not.toBeInstanceOf(KanjiaError);
  });
});
