import { resolveFallConfig, resolveInactivityConfig, INACTIVITY_ERROR_CODES, FallConfigError, InactivityError, MonitorConfigError } from '@kanjia/detection';
import { parseEvalFallsArgs, parseEvalInactivityArgs, HomesError } from '@kanjia/eval';
import { DATASET_ERROR_CODES, DatasetError, EVENT_LOG_ERROR_CODES, EventLogError, IncidentSpecError, parseIncidentSpec, ReplayError, SIM_ERROR_CODES, SimDeviceError } from '@kanjia/firmware-sim';
import { GatewayError } from '@kanjia/gateway';
import { ERROR_CATALOG, isErrorCode, KanjiaError, type ErrorCode } from '@kanjia/protocol';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AlarmError } from '../src/alarms/alarm-store.js';
import { UserError } from '../src/auth/user-store.js';
import { SettingsError, loadSettings } from '../src/config.js';
import { StorageStartError } from '../src/db/storage-errors.js';
import { StorageError } from '../src/db/storage-guard.js';
import { ERRORS_DOC_PATH, renderErrorsDoc } from '../src/errors-doc.js';
import { ApiProblem, errorAnswer } from '../src/http/api-errors.js';
import { MapPlanError } from '../src/map/map-plans.js';
import { OutFileError } from '../src/private-files.js';
import { RegistryError } from '../src/registry/registry-store.js';
import { TlsError } from '../src/tls.js';
import { SpreadsheetError } from '../src/township/spreadsheet/spreadsheet-errors.js';

const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
};

describe('every error class of every package', () => {
  it('extends KanjiaError with its own name and a code of the catalog', () => {
    const made: [KanjiaError<string>, string][] = [
      [new GatewayError('GATEWAY_PUBLISH_FAILED', 'x'), 'GatewayError'],
      [new SimDeviceError('SIM_PUBLISH_FAILED', 'x'), 'SimDeviceError'],
      [new DatasetError('DATASET_INVALID_LINE', 'x', 3), 'DatasetError'],
      [new EventLogError('EVENT_LOG_BAD_EVENT', 'x', 3), 'EventLogError'],
      [new ReplayError('REPLAY_ABORTED', 'x'), 'ReplayError'],
      [thrown(() => parseIncidentSpec('nonsense', 0, 'Asia/Shanghai')) as KanjiaError<string>, 'IncidentSpecError'],
      [thrown(() => resolveFallConfig({ smoothingMs: -1 })) as KanjiaError<string>, 'FallConfigError'],
      [new MonitorConfigError('MONITOR_NO_DEVICES', 'x'), 'MonitorConfigError'],
      [thrown(() => resolveInactivityConfig({ gapQuantile: 2 })) as KanjiaError<string>, 'InactivityError'],
      [thrown(() => parseEvalFallsArgs(['--limit', 'x'])) as KanjiaError<string>, 'FallsUsageError'],
      [thrown(() => parseEvalInactivityArgs(['--persons', 'x'])) as KanjiaError<string>, 'InactivityUsageError'],
      [new HomesError('EVAL_LOGS_EMPTY', 'x'), 'HomesError'],
      [new AlarmError('ALARM_CLOSED', 'x'), 'AlarmError'],
      [new RegistryError('CONTACT_CHAIN_EMPTY', 'x'), 'RegistryError'],
      [new MapPlanError('PLAN_TOO_LARGE', 'x'), 'MapPlanError'],
      [new UserError('USER_EXISTS', 'x'), 'UserError'],
      [thrown(() => loadSettings({ KANJIA_HTTP_PORT: 'x' })) as KanjiaError<string>, 'SettingsError'],
      [new TlsError('TLS_KEY_MISMATCH', 'x'), 'TlsError'],
      [new OutFileError('OUT_FILE_EXISTS', 'x'), 'OutFileError'],
      [new StorageStartError('DATA_DIR_FULL', 'x', '/data'), 'StorageStartError'],
      [new StorageError('STORAGE_QUEUE_FULL', 'x'), 'StorageError'],
      [new ApiProblem('FORBIDDEN', 'x'), 'ApiProblem'],
      [new SpreadsheetError('SPREADSHEET_EMPTY', 'x'), 'SpreadsheetError'],
    ];
    for (const [err, name] of made) {
      expect(err, name).toBeInstanceOf(KanjiaError);
      expect(err.name).toBe(name);
      expect(isErrorCode(err.code), `${name} ${err.code}`).toBe(true);
    }
    expect(made.map(([e]) => e.constructor)).toEqual(
      expect.arrayContaining([FallConfigError, InactivityError, IncidentSpecError, SettingsError]),
    );
  });

  it('has every code of its exported code lists in the catalog', () => {
    const lists: readonly (readonly string[])[] = [SIM_ERROR_CODES, DATASET_ERROR_CODES, EVENT_LOG_ERROR_CODES, INACTIVITY_ERROR_CODES];
    for (const list of lists) for (const code of list) expect(isErrorCode(code), code).toBe(true);
  });

  it('uses one code for one thing: the gateway and the simulator no longer share PUBLISH_FAILED', () => {
    expect(isErrorCode('PUBLISH_FAILED')).toBe(false);
    expect(ERROR_CATALOG.GATEWAY_PUBLISH_FAILED.from).toBe('gateway');
    expect(ERROR_CATALOG.SIM_PUBLISH_FAILED.from).toBe('sim');
  });

  it('answers a KanjiaError with an API code with the catalog’s status, and nothing else', () => {
    expect(errorAnswer(new RegistryError('CONTACT_CHAIN_EMPTY', 'last one'))).toEqual({ status: 409, body: { code: 'CONTACT_CHAIN_EMPTY', message: 'last one' } });
    expect(errorAnswer(new MapPlanError('PLAN_TOO_LARGE', 'big'))?.status).toBe(413);
    expect(errorAnswer(new ApiProblem('RATE_LIMITED', 'slow down', { retryAfterSeconds: 5 }))).toEqual({ status: 429, body: { code: 'RATE_LIMITED', message: 'slow down', retryAfterSeconds: 5 } });
    expect(errorAnswer(new StorageError('STORAGE_QUEUE_FULL', 'full'))).toBeUndefined();
    expect(errorAnswer(Object.assign(new Error('x'), { code: 'ALARM_CLOSED' satisfies ErrorCode }))).toBeUndefined();
  });
});

describe('docs/errors.md', () => {
  it('is what the catalog renders (run `npm run docs:errors` after changing protocol/src/errors.ts)', () => {
    expect(readFileSync(ERRORS_DOC_PATH, 'utf8')).toBe(renderErrorsDoc());
  });

  it('lists every code of the catalog', () => {
    const doc = renderErrorsDoc();
    for (const code of Object.keys(ERROR_CATALOG)) expect(doc, code).toContain(`| \`${code}\` |`);
  });
});
