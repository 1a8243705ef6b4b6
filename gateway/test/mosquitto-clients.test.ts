/**
 * The gateway against Debian's mosquitto clients: a second, independent MQTT
 * implementation, so we do not only test mqtt.js against aedes.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { topics } from '@kanjia/protocol';
import { Harness, SECRETS, settle, sos, waitFor } from './helpers.js';

function onPath(bin: string): boolean {
  return (process.env['PATH'] ?? '/usr/bin').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, bin), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

const haveMosquitto = onPath('mosquitto_pub') && onPath('mosquitto_sub');
const INSTALL_HINT = 'mosquitto_pub/mosquitto_sub not found: apt-get install mosquitto-clients';

if (!haveMosquitto) {
  if (process.env['CI']) {
    describe('mosquitto clients', () => {
      it('are installed (required on CI)', () => {
        throw new Error(INSTALL_HINT);
      });
    });
  } else {
    console.warn(`\n\n!!!!!!!!!! SKIPPING the mosquitto client tests: ${INSTALL_HINT} !!!!!!!!!!\n\n`);
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a mosquitto client to completion (at most 5 s). */
function run(bin: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: 5_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

const credentials = (port: number, deviceId: string, secret = SECRETS[deviceId] ?? '') => ['-h', '127.0.0.1', '-p', String(port), '-V', 'mqttv311', '-i', deviceId, '-u', deviceId, '-P', secret];

const h = new Harness();
afterEach(() => h.close());

describe.skipIf(!haveMosquitto)('mosquitto clients (mosquitto_pub / mosquitto_sub)', () => {
  it('mosquitto_pub with a wrong secret is refused ("bad user name or password") and 1 failure is counted', async () => {
    const { gateway, port, uplinks } = await h.gateway();
    const result = await run('mosquitto_pub', [...credentials(port, 'dev-001', 'wrong-secret'), '-t', topics.events('dev-001'), '-q', '1', '-m', sos('m-1')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.toLowerCase()).toContain('bad user name or password');
    expect(gateway.stats().authFailures).toBe(1);
    expect(uplinks).toEqual([]);
  });

  it('mosquitto_pub with a keep-alive of 1 201 s (above the 20-minute ceiling) is refused "not authorised"', async () => {
    const { gateway, port, uplinks } = await h.gateway();
    const result = await run('mosquitto_pub', [...credentials(port, 'dev-001'), '-k', '1201', '-t', topics.events('dev-001'), '-q', '1', '-m', sos('m-k')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.toLowerCase()).toContain('not authorised');
    expect(gateway.stats().refused.keepAlive).toBe(1);
    expect(uplinks).toEqual([]);
  });

  it('mosquitto_pub with a 2 000-character password is cut before login (over the 1 024 bytes allowed) and never answered', async () => {
    const { gateway, port } = await h.gateway();
    const result = await run('mosquitto_pub', [...credentials(port, 'dev-001', 'x'.repeat(2000)), '-t', topics.events('dev-001'), '-q', '1', '-m', sos('m-p')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr.toLowerCase()).toContain('connection was lost');
    expect(gateway.stats()).toMatchObject({ authFailures: 0, refused: { preLogin: 1 } });
  });

  it('mosquitto_pub with wrong secrets in a row: after 2 free refusals each waits longer (300, 600, 600 ms); the right secret still gets in at once', async () => {
    const { port } = await h.gateway({ loginThrottle: { freeFailures: 2, baseDelayMs: 300, maxDelayMs: 600 } });
    const took: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = performance.now();
      const result = await run('mosquitto_pub', [...credentials(port, 'dev-001', `wrong-${i}`), '-t', topics.events('dev-001'), '-q', '1', '-m', sos('m-w')]);
      took.push(performance.now() - t0);
      expect(result.stderr.toLowerCase()).toContain('bad user name or password');
    }
    expect(took[2]).toBeGreaterThanOrEqual(295);
    expect(took[3]).toBeGreaterThanOrEqual(595);
    expect(took[4]).toBeGreaterThanOrEqual(595);
    const ok = await run('mosquitto_pub', [...credentials(port, 'dev-002'), '-t', topics.events('dev-002'), '-q', '1', '-m', sos('m-ok')]);
    expect(ok).toMatchObject({ code: 0, stderr: '' });
  });

  it('mosquitto_sub asking for 7 foreign topics is cut at the 6th refusal, and again at once on each of its reconnects; the log has 1 line of each kind', async () => {
    const { gateway, port, logger } = await h.gateway();
    const filters = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].flatMap((t) => ['-t', `kanjia/v1/devices/dev-002/${t}`]);
    await run('mosquitto_sub', [...credentials(port, 'dev-001'), ...filters, '-q', '1', '-W', '2']);
    const stats = gateway.stats();
    expect(stats.refused.subscribeFlood).toBeGreaterThanOrEqual(2);
    expect(stats.aclDenied).toBeGreaterThanOrEqual(7);
    expect(logger.lines.filter((l) => l.msg === 'subscription refused by ACL')).toHaveLength(1);
    expect(logger.lines.filter((l) => l.msg === 'refused subscriptions flooding: connection closed')).toHaveLength(1);
  });

  it('mosquitto_pub to another device topic is cut off by the ACL: 1 denial, nothing delivered', async () => {
    const { gateway, port, uplinks } = await h.gateway();
    const result = await run('mosquitto_pub', [...credentials(port, 'dev-001'), '-t', topics.events('dev-002'), '-q', '1', '-m', sos('m-2')]);
    expect(result.code).not.toBe(0);
    expect(gateway.stats().aclDenied).toBe(1);
    await settle();
    expect(uplinks).toEqual([]);
  });

  it('mosquitto_sub on another device commands topic is denied (SUBACK 128) and counted', async () => {
    const { gateway, port } = await h.gateway();
    const result = await run('mosquitto_sub', [...credentials(port, 'dev-001'), '-t', topics.commands('dev-002'), '-q', '1', '-C', '1', '-W', '2']);
    // mosquitto_sub 2.0 reports the denial on stderr and exits (with status 0).
    expect(result.stderr).toContain('All subscription requests were denied');
    expect(gateway.stats().aclDenied).toBe(1);
  });

  it('a valid SOS from mosquitto_pub (QoS 1) reaches onUplink once', async () => {
    const { port, uplinks } = await h.gateway();
    const result = await run('mosquitto_pub', [...credentials(port, 'dev-002'), '-t', topics.events('dev-002'), '-q', '1', '-m', sos('m-3')]);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    await waitFor(() => uplinks.length === 1);
    expect(uplinks[0]).toMatchObject({ deviceId: 'dev-002', channel: 'events', payload: { id: 'm-3', type: 'sos' } });
  });

  it('mosquitto_sub as a device receives a "received" command from publishCommand', async () => {
    const { gateway, port } = await h.gateway();
    const sub = spawn('mosquitto_sub', [...credentials(port, 'dev-003'), '-t', topics.commands('dev-003'), '-q', '1', '-C', '1', '-W', '5']);
    let stdout = '';
    sub.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    const exited = new Promise<number | null>((resolve) => sub.once('exit', (code) => resolve(code)));
    try {
      await waitFor(() => gateway.stats().connected === 1, 3_000, 'mosquitto_sub to connect');
      const command = { id: 'c-1', ts: Date.UTC(2026, 0, 15), type: 'received', eventId: 'm-3' } as const;
      // The SUBSCRIBE follows the CONNACK by a moment; repeat until it has landed.
      while (stdout === '' && sub.exitCode === null) {
        await gateway.publishCommand('dev-003', command);
        await settle(50);
      }
      expect(await exited).toBe(0);
      expect(JSON.parse(stdout.trim().split('\n')[0] ?? '{}')).toEqual(command);
    } finally {
      sub.kill();
    }
  });
});
