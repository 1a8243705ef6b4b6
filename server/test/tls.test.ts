/**
 * The operator's certificate (KANJIA_TLS_CERT, KANJIA_TLS_KEY): every reason
 * it cannot be used stops the start with a sentence naming the file; a near
 * end is a warning; a renewed pair on disk is served without a restart, a
 * broken one is not. Certificates made with the openssl command.
 */
import { FakeClock } from '@kanjia/protocol';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTestCertificates } from '../../tests/src/certificates.js';
import { loadSettings, SettingsError } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { KanjiaSystem } from '../src/system.js';
import { SystemHealth } from '../src/system-health.js';
import { CertificateWatcher, loadCertificate, TLS_CHECK_EVERY_MS, type LoadedCertificate } from '../src/tls.js';
import { RecordingSender, tempDataDir } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kanjia-tls-'));
const good = makeTestCertificates(dir, { days: 90 });
const other = makeTestCertificates(dir, { prefix: 'other-', days: 90 });
const soon = makeTestCertificates(dir, { prefix: 'soon-', days: 10 });
chmodSync(good.keyFile, 0o600);
chmodSync(other.keyFile, 0o600);
chmodSync(soon.keyFile, 0o600);
const now = Date.now();
const DAY = 86_400_000;

function fails(cert: string, key: string, at = now): string {
  try {
    loadCertificate(cert, key, at);
  } catch (err) {
    return `${(err as { code?: string }).code}: ${(err as Error).message}`;
  }
  throw new Error('loadCertificate accepted it');
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checking the certificate and key at start', () => {
  it('takes a matching pair with its names and end, and no warning', () => {
    const loaded = loadCertificate(good.certFile, good.keyFile, now);
    expect(loaded.names).toContain('DNS:localhost');
    expect(loaded.validToMs).toBeGreaterThan(now + 89 * DAY);
    expect(loaded.warnings).toEqual([]);
  });

  it('names the file that is missing or unreadable', () => {
    expect(fails(join(dir, 'nope.pem'), good.keyFile)).toBe(`TLS_FILE_UNREADABLE: KANJIA_TLS_CERT: ${join(dir, 'nope.pem')}: file not found`);
    expect(fails(good.certFile, dir)).toBe(`TLS_FILE_UNREADABLE: KANJIA_TLS_KEY: ${dir}: a directory, not a file`);
  });

  it('tells a certificate from a key, and says when the two are swapped', () => {
    expect(fails(good.keyFile, good.certFile)).toMatch(/^TLS_NOT_A_CERTIFICATE: KANJIA_TLS_CERT: .*server\.key: not a PEM certificate .* it holds a private key: are KANJIA_TLS_CERT and KANJIA_TLS_KEY swapped\?/);
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'hello');
    expect(fails(good.certFile, junk)).toMatch(/^TLS_NOT_A_KEY: KANJIA_TLS_KEY: .*junk\.pem: not a PEM private key/);
  });

  it('refuses a key with a passphrase, saying how to store it without one', () => {
    const encrypted = join(dir, 'encrypted.key');
    const r = spawnSync('openssl', ['pkey', '-in', good.keyFile, '-out', encrypted, '-aes256', '-passout', 'pass:secret']);
    expect(r.status).toBe(0);
    expect(fails(good.certFile, encrypted)).toMatch(/^TLS_NOT_A_KEY: .*protected by a passphrase.*openssl pkey -in key\.pem -out key-plain\.pem/);
  });

  it('refuses the key of another certificate', () => {
    expect(fails(good.certFile, other.keyFile)).toMatch(/^TLS_KEY_MISMATCH: KANJIA_TLS_KEY: .*other-server\.key is not the key of the certificate in .*server\.pem \(CN=localhost\)/);
  });

  it('refuses an expired certificate with the day it ended, and warns 30 days before', () => {
    const loaded = loadCertificate(good.certFile, good.keyFile, now);
    expect(fails(good.certFile, good.keyFile, loaded.validToMs + 1)).toMatch(new RegExp(`^TLS_CERT_EXPIRED: KANJIA_TLS_CERT: .*server\\.pem: the certificate expired on ${new Date(loaded.validToMs).toISOString().slice(0, 10)}`));
    expect(loadCertificate(soon.certFile, soon.keyFile, now).warnings).toEqual([expect.stringMatching(/expires on \d{4}-\d\d-\d\d, in (9|10) days: renew it/)]);
  });

  it('warns when other users of the machine can read the key', () => {
    const loose = join(dir, 'loose.key');
    copyFileSync(good.keyFile, loose);
    chmodSync(loose, 0o644);
    expect(loadCertificate(good.certFile, loose, now).warnings).toEqual([`the key ${loose} can be read by other users of this machine: chmod 600 ${loose}`]);
  });

  it('stops the start with the problem listed like a bad setting, before opening anything', async () => {
    const tmp = tempDataDir();
    try {
      const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttsPort: 0, mqttHost: '127.0.0.1', tlsCert: good.certFile, tlsKey: other.keyFile } });
      const system = new KanjiaSystem({ settings, clock: new FakeClock(now), smsSender: new RecordingSender(), logger: createLogger('silent') });
      const err = await system.start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SettingsError);
      expect((err as SettingsError).message).toMatch(/^Kanjia cannot start; fix these settings:\n {2}- KANJIA_TLS_KEY: .* is not the key of the certificate .*\(TLS_KEY_MISMATCH\)$/);
    } finally {
      tmp.cleanup();
    }
  });

  it('lists a cert without its key, and plain MQTT off without TLS, among the settings problems', () => {
    expect(() => loadSettings({ KANJIA_TLS_CERT: good.certFile })).toThrow(/KANJIA_TLS_KEY: TLS needs both KANJIA_TLS_CERT .* and KANJIA_TLS_KEY/);
    expect(() => loadSettings({ KANJIA_MQTT_PLAIN: 'false' })).toThrow(/KANJIA_MQTT_PLAIN: with plain MQTT off, devices can only connect over TLS/);
    expect(() => loadSettings({ KANJIA_TLS_CERT: good.certFile, KANJIA_TLS_KEY: good.keyFile, KANJIA_MQTTS_PORT: '1883' })).toThrow(/cannot share port 1883/);
    expect(loadSettings({ KANJIA_TLS_CERT: good.certFile, KANJIA_TLS_KEY: good.keyFile, KANJIA_MQTT_PLAIN: 'false' }).mqttPlain).toBe(false);
  });
});

describe('a certificate renewed on disk', () => {
  const live = mkdtempSync(join(tmpdir(), 'kanjia-tls-live-'));
  const certFile = join(live, 'fullchain.pem');
  const keyFile = join(live, 'privkey.pem');
  afterAll(() => rmSync(live, { recursive: true, force: true }));

  it('is served within an hour when it passes the checks; a broken one is not, and the old one stays', () => {
    copyFileSync(good.certFile, certFile);
    copyFileSync(good.keyFile, keyFile);
    chmodSync(keyFile, 0o600);
    const clock = new FakeClock(now);
    const lines: string[] = [];
    const logger = { ...createLogger('silent'), error: (_o: object, m?: string) => lines.push(`error ${m}`), info: (_o: object, m?: string) => lines.push(`info ${m}`), warn: (_o: object, m?: string) => lines.push(`warn ${m}`) };
    const served: LoadedCertificate[] = [];
    const watcher = new CertificateWatcher({ certFile, keyFile, clock, logger, current: loadCertificate(certFile, keyFile, now), onRenewed: (c) => served.push(c) });
    watcher.start();
    // Half-way through a renewal: the new certificate is there, its key not yet.
    copyFileSync(other.certFile, certFile);
    clock.advance(TLS_CHECK_EVERY_MS);
    expect(served).toEqual([]);
    expect(lines).toEqual([expect.stringMatching(/^error the TLS files changed but cannot be used; still serving the previous certificate: KANJIA_TLS_KEY: .* is not the key/)]);
    copyFileSync(other.keyFile, keyFile);
    clock.advance(TLS_CHECK_EVERY_MS);
    expect(served).toHaveLength(1);
    expect(served[0]?.cert.toString()).toBe(other.cert);
    expect(lines[1]).toBe('info TLS certificate renewed: new connections get the new one');
    watcher.stop();
    clock.advance(10 * TLS_CHECK_EVERY_MS);
    expect(lines).toHaveLength(2);
  });

  it('shows the duty room a certificate ending within 14 days (TLS_CERT_EXPIRING with its last day), until a renewal', () => {
    copyFileSync(soon.certFile, certFile);
    copyFileSync(soon.keyFile, keyFile);
    chmodSync(keyFile, 0o600);
    const clock = new FakeClock(now);
    const health = new SystemHealth(clock, createLogger('silent'));
    const current = loadCertificate(certFile, keyFile, now);
    const watcher = new CertificateWatcher({ certFile, keyFile, clock, logger: createLogger('silent'), current, health, onRenewed: () => undefined });
    watcher.start();
    const lastDay = new Date(current.validToMs).toISOString().slice(0, 10);
    expect(health.problems()).toEqual([expect.objectContaining({ code: 'TLS_CERT_EXPIRING', severity: 'warning', unhealthy: false, details: expect.objectContaining({ reason: lastDay }) })]);
    copyFileSync(good.certFile, certFile);
    copyFileSync(good.keyFile, keyFile);
    clock.advance(TLS_CHECK_EVERY_MS);
    expect(health.problems()).toEqual([]);
    watcher.stop();
  });

  it('reaches the HTTPS listener of a running system: a new connection gets the renewed certificate (and HSTS for the public name)', async () => {
    copyFileSync(good.certFile, certFile);
    copyFileSync(good.keyFile, keyFile);
    chmodSync(keyFile, 0o600);
    const tmp = tempDataDir();
    const clock = new FakeClock(now);
    const settings = loadSettings({}, { overrides: { dataDir: tmp.dir, httpPort: 0, mqttPort: 0, mqttsPort: 0, mqttHost: '127.0.0.1', tlsCert: certFile, tlsKey: keyFile, publicUrl: 'https://kanjia.example.cn' } });
    const system = new KanjiaSystem({ settings, clock, smsSender: new RecordingSender(), logger: createLogger('silent') });
    const running = await system.start();
    try {
      expect(running.httpUrl).toMatch(/^https:/);
      expect(running.mqttsPort).toBeGreaterThan(0);
      const issuer = (ca: string) =>
        new Promise<number>((resolve, reject) => {
          const req = request({ host: 'localhost', port: running.httpPort, path: '/api/health', ca, agent: false }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        });
      expect(await issuer(good.ca)).toBe(200);
      // HSTS over HTTPS to the public name; not to localhost, where it would follow a developer to every port.
      const hsts = (host: string) =>
        new Promise<string | undefined>((resolve, reject) => {
          const req = request({ host: 'localhost', port: running.httpPort, path: '/api/health', ca: good.ca, servername: 'localhost', agent: false, headers: { host } }, (res) => {
            res.resume();
            resolve(res.headers['strict-transport-security']);
          });
          req.on('error', reject);
          req.end();
        });
      expect(await hsts('kanjia.example.cn')).toBe('max-age=15552000');
      expect(await hsts(`localhost:${running.httpPort}`)).toBeUndefined();
      copyFileSync(other.certFile, certFile);
      copyFileSync(other.keyFile, keyFile);
      clock.advance(TLS_CHECK_EVERY_MS);
      expect(await issuer(other.ca)).toBe(200);
      await expect(issuer(good.ca)).rejects.toThrow(/certificate|signature/i);
    } finally {
      await system.stop();
      tmp.cleanup();
    }
  });
});
