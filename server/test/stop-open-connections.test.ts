/**
 * A stop (SIGTERM from systemd, docker stop) must not wait on a connection a
 * browser or a slow client keeps open: after a short grace the server closes it.
 */
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { HTTP_CLOSE_GRACE_MS, KanjiaSystem } from '../src/system.js';
import { RecordingSender, tempDataDir } from './helpers.js';

describe('stopping with HTTP connections still open', () => {
  it('closes a connection in the middle of a request after the grace period instead of waiting for its deadline', async () => {
    const tmp = tempDataDir();
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
    const system = new KanjiaSystem({ settings, smsSender: new RecordingSender() });
    try {
      const running = await system.start();
      const url = new URL(running.httpUrl);
      const socket = connect(Number(url.port), '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      // A request head not yet complete: not an idle connection, and its own deadline is 10 s away.
      socket.write(`GET /api/health HTTP/1.1\r\nHost: 127.0.0.1:${url.port}\r\n`);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.on('error', () => undefined);
      await new Promise((r) => setTimeout(r, 100));
      const outcome = await Promise.race([system.stop().then(() => 'stopped' as const), new Promise<'still waiting'>((r) => setTimeout(() => r('still waiting'), HTTP_CLOSE_GRACE_MS + 4_000))]);
      expect(outcome).toBe('stopped');
      await closed;
    } finally {
      await system.stop();
      tmp.cleanup();
    }
  });
});
