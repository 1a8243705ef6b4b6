/**
 * Helpers for cross-component scenarios: free ports, the real `kanjia`
 * command in its own process, and system binaries that must be present in CI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { ContactRole, DeviceCredentials, HouseholdInput, RegistryFile } from '@kanjia/protocol';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMS_TEMPLATES } from '@kanjia/alerts';
import { httpsRequest } from './certificates.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const KANJIA_BIN = join(REPO_ROOT, 'bin', 'kanjia.js');

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'kanjia-e2e-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * True when `binary` is on the PATH. Missing in CI → throws (the suite must
 * fail there); missing on a laptop → prints a loud message and the caller skips.
 */
export function haveBinary(binary: string, install: string): boolean {
  const found = spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0;
  if (found) return true;
  const message = `\n  !!! ${binary} is not installed: the tests that need it are SKIPPED.\n  !!! Install it with: ${install}\n`;
  if (process.env.CI) throw new Error(`${binary} is required in CI (${install})`);
  process.stderr.write(message);
  return false;
}

/** Runs a `kanjia` command to completion; returns exit code, stdout, stderr. */
export function runKanjia(args: string[], env: Record<string, string>, input?: string): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [KANJIA_BIN, ...args], { env: { ...cleanEnv(), ...env }, encoding: 'utf8', timeout: 60_000, ...(input !== undefined ? { input } : {}) });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The environment without any KANJIA_* variable of the developer's shell. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('KANJIA_')) env[k] = v;
  return env;
}

export interface KanjiaProcess {
  readonly process: ChildProcess;
  readonly httpUrl: string;
  output(): string;
  /** Sends a signal and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `kanjia start` and resolves when /api/health answers ok. With
 * `openFileLimit` the process runs under `ulimit -n` of that many descriptors;
 * with `tls` it serves HTTPS (KANJIA_TLS_CERT in `env`), checked with that CA
 * at https://localhost:port.
 */
export async function startKanjia(env: Record<string, string>, options: { timeoutMs?: number; openFileLimit?: number; tls?: { ca: string } } = {}): Promise<KanjiaProcess> {
  const httpPort = env.KANJIA_HTTP_PORT;
  if (!httpPort) throw new Error('startKanjia needs KANJIA_HTTP_PORT');
  const spawnEnv = { ...cleanEnv(), KANJIA_LOG_LEVEL: 'warn', ...env };
  const stdio: ['ignore', 'pipe', 'pipe'] = ['ignore', 'pipe', 'pipe'];
  const child =
    options.openFileLimit === undefined
      ? spawn(process.execPath, [KANJIA_BIN, 'start'], { env: spawnEnv, stdio })
      : spawn('sh', ['-c', `ulimit -n ${Math.floor(options.openFileLimit)} && exec "$0" "$@"`, process.execPath, KANJIA_BIN, 'start'], { env: spawnEnv, stdio });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const tls = options.tls;
  const httpUrl = tls ? `https://localhost:${httpPort}` : `http://127.0.0.1:${httpPort}`;
  const healthy = tls ? async () => (await httpsRequest(`${httpUrl}/api/health`, { ca: tls.ca })).status === 200 : async () => (await fetch(`${httpUrl}/api/health`)).ok;
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`kanjia exited with ${child.exitCode} before it was ready:\n${out}`);
    try {
      if (await healthy()) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`kanjia was not ready within the timeout:\n${out}`);
    }
    await sleep(50);
  }
  return {
    process: child,
    httpUrl,
    output: () => out,
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      // A stop that hangs is a bug to see, not a test to hang: after 15 s say so with the process's last words,
      // then end it (an alarm is safe across a SIGKILL: sos-durability.test.ts).
      const stuck = setTimeout(() => {
        process.stderr.write(`[harness] kanjia did not exit within 15 s of ${signal}; killing it. Its output ends:\n${out.slice(-4000)}\n`);
        child.kill('SIGKILL');
      }, 15_000);
      await exited;
      clearTimeout(stuck);
    },
  };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** Settings of a local SendSms server that `kanjia start` should use instead of Aliyun. */
export interface LocalAliyunSettings {
  endpoint: string;
  accessKeyId: string;
  accessKeySecret: string;
  templateAlarm?: string;
  templateEscalation?: string;
  templateCancelled?: string;
}

/**
 * KANJIA_* settings for a system on free loopback ports with its data in
 * `dataDir`; with `aliyun`, SMS go to that local SendSms server over http.
 */
/** The Aliyun template codes kanjiaEnv sets, with the variables each is registered with: the stand-in's `templates`. */
export const ALIYUN_TEST_TEMPLATES = {
  SMS_100001: SMS_TEMPLATES.alarm.variables,
  SMS_100002: SMS_TEMPLATES.escalation.variables,
  SMS_100003: SMS_TEMPLATES.cancelled.variables,
} as const;

/** The settings that make a Twilio stand-in at `url` the fallback SMS provider (KANJIA_SMS_FALLBACK), sending from `from`. */
export function twilioFallbackEnv(twilio: { accountSid: string; authToken: string }, url: string, from = '+8610690000'): Record<string, string> {
  return {
    KANJIA_SMS_FALLBACK: 'twilio',
    KANJIA_TWILIO_ACCOUNT_SID: twilio.accountSid,
    KANJIA_TWILIO_AUTH_TOKEN: twilio.authToken,
    KANJIA_TWILIO_FROM: from,
    KANJIA_TWILIO_BASE_URL: url,
  };
}

export async function kanjiaEnv(dataDir: string, aliyun?: LocalAliyunSettings): Promise<{ env: Record<string, string>; mqttPort: number }> {
  const mqttPort = await freePort();
  const env: Record<string, string> = {
    KANJIA_DATA_DIR: dataDir,
    KANJIA_HTTP_PORT: String(await freePort()),
    KANJIA_MQTT_PORT: String(mqttPort),
    KANJIA_MQTT_HOST: '127.0.0.1',
  };
  if (aliyun) {
    Object.assign(env, {
      KANJIA_SMS_PROVIDER: 'aliyun',
      KANJIA_ALIYUN_ACCESS_KEY_ID: aliyun.accessKeyId,
      KANJIA_ALIYUN_ACCESS_KEY_SECRET: aliyun.accessKeySecret,
      KANJIA_ALIYUN_SIGN_NAME: '智慧看家',
      KANJIA_ALIYUN_TEMPLATE_ALARM: aliyun.templateAlarm ?? 'SMS_100001',
      KANJIA_ALIYUN_TEMPLATE_ESCALATION: aliyun.templateEscalation ?? 'SMS_100002',
      KANJIA_ALIYUN_TEMPLATE_CANCELLED: aliyun.templateCancelled ?? 'SMS_100003',
      KANJIA_ALIYUN_ENDPOINT: aliyun.endpoint,
      KANJIA_ALIYUN_PROTOCOL: 'http',
    });
  }
  return { env, mqttPort };
}

/** A household of one resident with an SOS button; `contacts` are the chain, texted in order. */
export function household(address: string, residentName: string, contacts: Array<[name: string, role: ContactRole, phone: string]>, extra: Partial<HouseholdInput> = {}): HouseholdInput {
  return {
    address,
    lat: 27.112,
    lng: 111.031,
    residents: [{ name: residentName, contacts: contacts.map(([name, role, phone]) => ({ name, role, phone })) }],
    devices: [{ kind: 'sosButton' }],
    ...extra,
  };
}

/** Imports a registry of one village through the real `kanjia import` command; returns the new devices' credentials in order. */
export function importVillage(env: Record<string, string>, households: HouseholdInput[], villageName = '石门村'): DeviceCredentials[] {
  const registry: RegistryFile = { villages: [{ name: villageName, timezone: 'Asia/Shanghai', lat: 27.11, lng: 111.03, households }] };
  const file = join(env.KANJIA_DATA_DIR ?? tmpdir(), `registry-${Date.now()}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(registry));
  const imported = runKanjia(['import', file], env);
  if (imported.status !== 0) throw new Error(`kanjia import failed (${imported.status}): ${imported.stderr}`);
  return (JSON.parse(imported.stdout) as { devices: DeviceCredentials[] }).devices;
}

/** The password the tests give the users they make. */
export const TEST_PASSWORD = 'correct-horse-battery';

export interface TestUser {
  name: string;
  role?: 'admin' | 'township' | 'duty' | 'helper';
  villages?: string[];
  township?: string;
  displayName?: string;
  phone?: string;
  password?: string;
}

/** Makes a user with the real `kanjia user add` command (an admin unless told otherwise). */
export function addUser(env: Record<string, string>, user: TestUser): void {
  const args = ['user', 'add', '--name', user.name, '--role', user.role ?? 'admin', '--password', user.password ?? TEST_PASSWORD];
  for (const v of user.villages ?? []) args.push('--village', v);
  if (user.township) args.push('--township', user.township);
  if (user.displayName) args.push('--display-name', user.displayName);
  if (user.phone) args.push('--phone', user.phone);
  const r = runKanjia(args, env);
  if (r.status !== 0) throw new Error(`kanjia user add failed (${r.status}): ${r.stderr}`);
}

/** Logs in through POST /api/auth/login; returns the Cookie header value (`kanjia_session=…`). */
export async function login(httpUrl: string, name: string, password = TEST_PASSWORD): Promise<string> {
  const res = await fetch(new URL('/api/auth/login', httpUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) });
  if (res.status !== 200) throw new Error(`login of ${name} failed: ${res.status} ${await res.text()}`);
  const pair = res.headers.get('set-cookie')?.split(';')[0];
  if (!pair) throw new Error('the login answer set no cookie');
  return pair;
}

/** A client of the REST API with a session cookie: GET json, POST json. */
export interface ApiClient {
  readonly cookie: string;
  get<T>(path: string): Promise<T>;
  post(path: string, body: unknown): Promise<Response>;
  request(path: string, init?: RequestInit): Promise<Response>;
}

/** Creates `user` with the CLI (if `create`), logs in and returns a client that sends the cookie. */
export async function apiClient(httpUrl: string, env: Record<string, string> | undefined, user: TestUser): Promise<ApiClient> {
  if (env) addUser(env, user);
  const cookie = await login(httpUrl, user.name, user.password);
  const request = (path: string, init: RequestInit = {}) =>
    fetch(new URL(path, httpUrl), { ...init, headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> | undefined), cookie } });
  return {
    cookie,
    request,
    get: async <T>(path: string) => {
      const res = await request(path);
      if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    post: (path, body) => request(path, { method: 'POST', body: JSON.stringify(body) }),
  };
}

/**
 * 王秀英's household in 石门村 made one command at a time with the registry CLI,
 * as an installer would (helper 刘建军 13800000001, then doctor 赵春梅
 * 13800000002); returns the SOS button's credentials.
 */
export function addHouseholdWithCli(env: Record<string, string>): { deviceId: string; secret: string } {
  const cli = (args: string[]) => {
    const r = runKanjia(args, env);
    if (r.status !== 0) throw new Error(`kanjia ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, string>;
  };
  const { villageId } = cli(['village', 'add', '--name', '石门村', '--lat', '27.1136', '--lng', '111.03']);
  const { householdId } = cli(['household', 'add', '--village', villageId!, '--address', '石门村一组12号', '--lat', '27.1178', '--lng', '111.0241', '--key-holder-note', '钥匙在隔壁王大姐家']);
  cli(['resident', 'add', '--household', householdId!, '--name', '王秀英', '--sex', 'F', '--birth-year', '1941', '--contact', '刘建军,helper,13800000001', '--contact', '赵春梅,doctor,13800000002']);
  const created = cli(['device', 'add', '--household', householdId!, '--kind', 'sosButton', '--label', '床头紧急按钮']);
  return { deviceId: created.deviceId!, secret: created.secret! };
}
