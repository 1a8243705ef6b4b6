// docker compose cannot run here (no Docker engine), so the compose file and
// the Dockerfile are checked by reading them against the code they deploy.
import { ENV_VARS, loadSettings } from '@kanjia/server';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { makeTestCertificates } from '../src/certificates.js';
import { cleanEnv, freePort, kanjiaEnv, REPO_ROOT, startKanjia, tempDir } from '../src/harness.js';

interface ComposeService {
  build?: string | { context: string };
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test: string[] };
}

/** `${VAR:-default}` as compose reads it when VAR is unset. */
const composeDefault = (text: string) => text.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1');

const compose = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService>; volumes?: Record<string, unknown> };
const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const rootPackage = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };

describe('docker-compose.yml', () => {
  const kanjia = compose.services.kanjia;

  it('builds the kanjia service from the Dockerfile at the repository root', () => {
    expect(kanjia).toBeDefined();
    const context = typeof kanjia?.build === 'string' ? kanjia.build : kanjia?.build?.context;
    expect(context).toBe('.');
    expect(existsSync(join(REPO_ROOT, 'Dockerfile'))).toBe(true);
  });

  it('sets only settings the server knows, and they validate with the compose defaults', () => {
    const env = kanjia?.environment ?? {};
    for (const key of Object.keys(env)) expect(Object.keys(ENV_VARS), key).toContain(key);
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, composeDefault(String(v))]));
    expect(() => loadSettings(resolved)).not.toThrow();
  });

  it('publishes the HTTP, MQTT and MQTT-over-TLS ports the service listens on, each on a stated address', () => {
    const env = kanjia?.environment ?? {};
    const mappings = (kanjia?.ports ?? []).map((p) => composeDefault(p).split(':'));
    for (const m of mappings) expect(m, m.join(':')).toHaveLength(3);
    const published = mappings.map((m) => m[2]);
    expect(published).toContain(env.KANJIA_HTTP_PORT);
    expect(published).toContain(env.KANJIA_MQTT_PORT);
    expect(published).toContain(env.KANJIA_MQTTS_PORT);
  });

  it('publishes the dashboard on 127.0.0.1 unless the operator opts in with KANJIA_PUBLISH_ADDRESS, and MQTT on every interface for the devices', () => {
    const env = kanjia?.environment ?? {};
    const http = (kanjia?.ports ?? []).find((p) => p.endsWith(`:${env.KANJIA_HTTP_PORT}`));
    expect(http).toBe(`\${KANJIA_PUBLISH_ADDRESS:-127.0.0.1}:${env.KANJIA_HTTP_PORT}:${env.KANJIA_HTTP_PORT}`);
    for (const port of [env.KANJIA_MQTT_PORT, env.KANJIA_MQTTS_PORT]) {
      expect((kanjia?.ports ?? []).find((p) => p.endsWith(`:${port}`))).toBe(`\${KANJIA_MQTT_PUBLISH_ADDRESS:-0.0.0.0}:${port}:${port}`);
    }
    // The operator who opts in must be able to name the hosts browsers use (the container knows only its own addresses).
    expect(env.KANJIA_ALLOWED_HOSTS).toBe('${KANJIA_ALLOWED_HOSTS:-}');
  });

  it('passes the TLS settings through and mounts their folder read-only', () => {
    const env = kanjia?.environment ?? {};
    expect(env.KANJIA_TLS_CERT).toBe('${KANJIA_TLS_CERT:-}');
    expect(env.KANJIA_TLS_KEY).toBe('${KANJIA_TLS_KEY:-}');
    expect(kanjia?.volumes ?? []).toContain('${KANJIA_TLS_DIR:-./tls}:/tls:ro');
  });

  it('keeps the data directory on a named volume', () => {
    const env = kanjia?.environment ?? {};
    const mount = (kanjia?.volumes ?? []).find((v) => v.endsWith(`:${env.KANJIA_DATA_DIR}`));
    expect(mount).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(mount?.split(':')[0]);
  });

  it('has a Dockerfile that copies every workspace manifest before npm ci and starts the kanjia command', () => {
    for (const ws of rootPackage.workspaces) expect(dockerfile, ws).toContain(`COPY ${ws}/package.json ${ws}/`);
    expect(dockerfile.indexOf('npm ci')).toBeGreaterThan(dockerfile.indexOf('COPY tests/package.json'));
    expect(dockerfile).toMatch(/CMD \["node", "bin\/kanjia\.js", "start"\]/);
  });
});

describe('the container healthcheck', () => {
  const script = compose.services.kanjia?.healthcheck?.test[3] ?? '';
  /** Runs the healthcheck's script against a server on `port` instead of 8080, with the container's TLS setting. */
  const check = (port: string, tlsCert: string) => spawnSync(process.execPath, ['-e', script.replace('port:8080', `port:${port}`)], { env: { ...cleanEnv(), KANJIA_TLS_CERT: tlsCert }, timeout: 10_000 }).status;

  it('is the same in the compose file and the Dockerfile', () => {
    expect(compose.services.kanjia?.healthcheck?.test.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
    expect(script).toContain('port:8080');
    expect(dockerfile).toContain(`CMD node -e "${script}"`);
  });

  it('passes against a running server over http and over https, and fails once it is gone', async () => {
    const tmp = tempDir();
    try {
      const { env } = await kanjiaEnv(tmp.dir);
      const plain = await startKanjia(env);
      expect(check(env.KANJIA_HTTP_PORT!, '')).toBe(0);
      await plain.kill('SIGTERM');
      expect(check(env.KANJIA_HTTP_PORT!, '')).toBe(1);

      const certs = makeTestCertificates(tmp.dir);
      chmodSync(certs.keyFile, 0o600);
      const tlsEnv = { ...env, KANJIA_TLS_CERT: certs.certFile, KANJIA_TLS_KEY: certs.keyFile, KANJIA_MQTTS_PORT: String(await freePort()) };
      const secure = await startKanjia(tlsEnv, { tls: { ca: certs.ca } });
      expect(check(env.KANJIA_HTTP_PORT!, certs.certFile)).toBe(0);
      // A probe that forgot the certificate would speak http to the https port.
      expect(check(env.KANJIA_HTTP_PORT!, '')).toBe(1);
      await secure.kill('SIGTERM');
    } finally {
      tmp.cleanup();
    }
  }, 60_000);
});
