import { describe, expect, it } from 'vitest';
import { SummarizedLog } from '../src/index.js';
import { recordingLogger, waitFor } from './helpers.js';

describe('SummarizedLog', () => {
  it('logs the first refusal per source and kind at once with its details, then one count per interval: 1 000 refusals from 2 devices give 4 lines', async () => {
    const logger = recordingLogger();
    const log = new SummarizedLog(logger, { intervalMs: 100 });
    for (let i = 0; i < 500; i++) {
      log.warn('subscription refused by ACL', { deviceId: 'dev-001' }, { filter: `t/${i}` });
      log.warn('subscription refused by ACL', { deviceId: 'dev-002' }, { filter: `t/${i}` });
    }
    expect(logger.lines.map((l) => l.obj)).toEqual([
      { deviceId: 'dev-001', filter: 't/0' },
      { deviceId: 'dev-002', filter: 't/0' },
    ]);
    await waitFor(() => logger.lines.length === 4, 2_000, 'the summaries');
    expect(logger.lines.slice(2).map((l) => [l.msg, l.obj])).toEqual([
      ['subscription refused by ACL (repeated)', { deviceId: 'dev-001', repeats: 499, intervalMs: 100 }],
      ['subscription refused by ACL (repeated)', { deviceId: 'dev-002', repeats: 499, intervalMs: 100 }],
    ]);
    // A new interval starts with a full first line again.
    log.warn('subscription refused by ACL', { deviceId: 'dev-001' }, { filter: 'again' });
    expect(logger.lines[4]?.obj).toEqual({ deviceId: 'dev-001', filter: 'again' });
    log.stop();
  });

  it('counts sources beyond maxKeys together, so 10 000 addresses cannot fill the memory or the log', () => {
    const logger = recordingLogger();
    const log = new SummarizedLog(logger, { intervalMs: 60_000, maxKeys: 10 });
    for (let i = 0; i < 10_000; i++) log.info('no login within the connect timeout: connection closed', { remoteAddress: `10.0.${i >> 8}.${i & 255}` });
    log.stop();
    expect(logger.lines).toHaveLength(11);
    expect(logger.lines[10]).toMatchObject({ level: 'warn', msg: 'no login within the connect timeout: connection closed (repeated)', obj: { repeats: 9_990 } });
  });
});
