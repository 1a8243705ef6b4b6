// docker compose cannot run here (no Docker engine), so the compose file and
// the Dockerfile are checked by reading them against the code they deploy.
import { ENV_VARS, loadSettings } from '@kanjia/server';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../src/harness.js';

interface ComposeService {
  build?: string | { context: string };
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test: string[] };
}

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
    // Resolve ${VAR:-default} the way compose does when VAR is unset.
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')]));
    expect(() => loadSettings(resolved)).not.toThrow();
  });

  it('publishes the HTTP and MQTT ports the service listens on', () => {
    const env = kanjia?.environment ?? {};
    const published = (kanjia?.ports ?? []).map((p) => p.split(':')[1]);
    expect(published).toContain(env.KANJIA_HTTP_PORT);
    expect(published).toContain(env.KANJIA_MQTT_PORT);
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
