/**
 * The auth tables do not grow without end on a server that runs for months:
 * ended sessions and old failed/refused login rows are pruned at start and
 * every hour after, through the real system (HTTP logins, SQLite on disk).
 */
import { FakeClock } from '@kanjia/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { openDatabase } from '../src/db/database.js';
import { databaseFile } from '../src/device-key.js';
import { createLogger } from '../src/logger.js';
import { AUTH_PRUNE_EVERY_MS, KanjiaSystem, LOGIN_NOISE_KEPT_MS } from '../src/system.js';
import { RecordingSender, systemClient, tempDataDir, TEST_PASSWORD } from './helpers.js';

describe('auth maintenance', () => {
  const tmp = tempDataDir();
  const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
  let system: KanjiaSystem | undefined;
  afterEach(async () => {
    await system?.stop();
    tmp.cleanup();
  });
  const start = async (clock: FakeClock) => {
    system = new KanjiaSystem({ settings, clock, smsSender: new RecordingSender(), logger: createLogger('silent') });
    return system.start();
  };
  const rows = (sql: string) => {
    const db = openDatabase(databaseFile(settings));
    try {
      return (db.prepare(sql).get() as { n: number }).n;
    } finally {
      db.close();
    }
  };
  const failLogin = (httpUrl: string) =>
    fetch(new URL('/api/auth/login', httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'shimen', password: 'not-it-at-all' }) });

  it('drops failed and refused login rows older than 90 days at start, and ended sessions every hour while running', async () => {
    const t0 = Date.UTC(2026, 0, 15, 2, 0, 0);
    let running = await start(new FakeClock(t0));
    for (let i = 0; i < 7; i++) await failLogin(running.httpUrl);
    await system!.stop();
    // Five failures and one row for the two refused after them.
    expect(rows("SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('loginFailed', 'loginThrottled')")).toBe(6);

    const clock = new FakeClock(t0 + LOGIN_NOISE_KEPT_MS + 1);
    running = await start(clock);
    expect(rows("SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('loginFailed', 'loginThrottled')")).toBe(0);
    await failLogin(running.httpUrl);
    // A login and a logout: the session has ended, and is kept a day for an investigation.
    const admin = systemClient(() => system!.users, running.httpUrl, { name: 'admin', password: TEST_PASSWORD });
    expect((await admin.post('/api/auth/logout', {})).status).toBe(200);
    expect(rows('SELECT COUNT(*) AS n FROM sessions')).toBe(1);
    for (let h = 0; h < 25; h++) clock.advance(AUTH_PRUNE_EVERY_MS);
    expect(rows('SELECT COUNT(*) AS n FROM sessions')).toBe(0);
    // The recent failure and what users did stay.
    expect(rows("SELECT COUNT(*) AS n FROM audit_log WHERE action = 'loginFailed'")).toBe(1);
    expect(rows("SELECT COUNT(*) AS n FROM audit_log WHERE action IN ('login', 'logout')")).toBe(2);
  }, 60_000);
});
