import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMS_TEMPLATES, type ChannelMedium, type DeliveryAnswer, type DeliveryQuery, type NoticeChannel, type SmsMessage, type SmsResult, type SmsSender } from '@kanjia/alerts';
import { LocalAliyunSmsServer } from '@kanjia/alerts/testing';
import type { RegistryFile } from '@kanjia/protocol';
import type { FastifyInstance } from 'fastify';
import { io, type Socket } from 'socket.io-client';
import type { SqliteUserStore, UserInput } from '../src/auth/user-store.js';
import { loadSettings, SettingsError, type Settings } from '../src/config.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { databaseFile, loadDeviceKey } from '../src/device-key.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';

/** An SMS channel that keeps every message it is given and reports each as sent. */
export class RecordingSender implements SmsSender {
  readonly name = 'recording';
  readonly sent: SmsMessage[] = [];
  async send(message: SmsMessage): Promise<SmsResult> {
    this.sent.push(message);
    return { ok: true, providerRef: `biz-${this.sent.length}` };
  }
}

/** A fresh data directory, removed by the returned cleanup. */
export function tempDataDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'kanjia-test-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A database file of its own (openDatabase: WAL, FULL, the migrations) with `sql` run on it; `cleanups` closes and removes it. */
export function tempDatabase(sql: string, cleanups: Array<() => void>): Db {
  const tmp = tempDataDir();
  const db = openDatabase(join(tmp.dir, 'kanjia.sqlite'));
  db.exec(sql);
  cleanups.push(() => {
    db.close();
    tmp.cleanup();
  });
  return db;
}

/** One village, one household of one resident with a chain of three contacts, and its devices (an SOS button by default). */
export function oneHousehold(devices: RegistryFile['villages'][number]['households'][number]['devices'] = [{ kind: 'sosButton' }]): RegistryFile {
  return {
    villages: [
      {
        name: '石门村',
        timezone: 'Asia/Shanghai',
        lat: 27.11,
        lng: 111.03,
        households: [
          {
            address: '石门村一组12号',
            lat: 27.112,
            lng: 111.031,
            keyHolderNote: '钥匙在隔壁王大姐家',
            residents: [
              {
                name: '王秀英',
                sex: 'F',
                birthYear: 1941,
                idNumber: '430524194101011240',
                contacts: [
                  { name: '刘建军', role: 'helper', phone: '13800000001' },
                  { name: '赵春梅', role: 'doctor', phone: '13800000002' },
                  { name: '村委值班室', role: 'duty', phone: '13800000003' },
                ],
              },
            ],
            devices,
          },
        ],
      },
    ],
  };
}

/** A user for tests: a duty officer unless told otherwise; the password is fixed and long enough. */
export const TEST_PASSWORD = 'correct-horse-battery';

/**
 * Creates a user (duty officer of `villages` by default) and logs in through
 * the real login route; returns the Cookie header value to send with inject().
 */
export async function loginAs(
  app: FastifyInstance,
  users: SqliteUserStore,
  user: Partial<UserInput> & { name: string },
): Promise<string> {
  if (!users.byName(user.name)) {
    await users.create({ role: 'duty', password: TEST_PASSWORD, ...user } as UserInput);
  }
  const res = await app.inject({ method: 'POST', url: '/api/auth/login', payload: { name: user.name, password: user.password ?? TEST_PASSWORD } });
  if (res.statusCode !== 200) throw new Error(`login of ${user.name} failed: ${res.statusCode} ${res.body}`);
  return cookieOf(res.headers['set-cookie']);
}

/** The `name=value` of the session cookie in a Set-Cookie header. */
export function cookieOf(setCookie: string | string[] | undefined): string {
  const header = Array.isArray(setCookie) ? setCookie[0] : setCookie;
  const pair = header?.split(';')[0];
  if (!pair) throw new Error('no Set-Cookie in the answer');
  return pair;
}

/**
 * A logged-in HTTP client of a running system: creates the user (an admin by
 * default) on first use, logs in through POST /api/auth/login, and logs in
 * again when the session has ended (tests that move a fake clock by days).
 */
export function systemClient(users: () => SqliteUserStore | undefined, baseUrl: string, user: Partial<UserInput> = {}) {
  const name = user.name ?? 'test-admin';
  let cookie: string | undefined;
  const login = async (): Promise<string> => {
    const store = users();
    if (!store) throw new Error('the system is not started');
    if (!store.byName(name)) await store.create({ role: 'admin', password: TEST_PASSWORD, ...user, name } as UserInput);
    const res = await fetch(new URL('/api/auth/login', baseUrl), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password: user.password ?? TEST_PASSWORD }) });
    if (res.status !== 200) throw new Error(`login of ${name} failed: ${res.status} ${await res.text()}`);
    return cookieOf(res.headers.get('set-cookie') ?? undefined);
  };
  const request = async (path: string, init: RequestInit = {}): Promise<Response> => {
    cookie ??= await login();
    const send = () => fetch(new URL(path, baseUrl), { ...init, headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> | undefined), cookie: cookie as string } });
    let res = await send();
    if (res.status === 401) {
      cookie = await login();
      res = await send();
    }
    return res;
  };
  return {
    request,
    /** GET and parse JSON. */
    get: async <T>(path: string): Promise<T> => (await (await request(path)).json()) as T,
    /** POST a JSON body. */
    post: (path: string, body: unknown) => request(path, { method: 'POST', body: JSON.stringify(body) }),
    cookie: async () => (cookie ??= await login()),
  };
}

/** 石门村 (oneHousehold: 王秀英, helper 13800000001) and 李家村 (张大爷, helper 13900000009), both of 石门镇. */
export function twoVillages(): RegistryFile {
  const a = oneHousehold();
  const shimen = { ...a.villages[0]!, township: '石门镇' };
  const lijia = {
    name: '李家村',
    township: '石门镇',
    timezone: 'Asia/Shanghai',
    lat: 27.2,
    lng: 111.1,
    households: [
      {
        address: '李家村三组5号',
        lat: 27.201,
        lng: 111.101,
        residents: [{ name: '张大爷', contacts: [{ name: '李小红', role: 'helper' as const, phone: '13900000009' }] }],
        devices: [{ kind: 'sosButton' as const }],
      },
    ],
  };
  return { villages: [shimen, lijia] };
}


/** Polls `check` every 10 ms until it returns a value (not undefined or false); fails after `timeoutMs` saying what it waited for. */
export async function until<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A socket.io client of the live feed, connected with `cookie` (a logged-in user's); rejects if the handshake is refused. */
export async function connectedFeed(baseUrl: string, cookie: string): Promise<Socket> {
  const s = io(baseUrl, { transports: ['websocket'], reconnection: false, extraHeaders: { cookie } });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
}

/**
 * A local SendSms server (alerts/testing) that knows the three generic templates
 * under `templates`' codes and the sign name 智慧看家, started; and the `aliyun`
 * settings that reach it with `key`.
 */
export async function localAliyunSms(
  key: { accessKeyId: string; accessKeySecret: string },
  templates: { alarm: string; escalation: string; cancelled: string },
): Promise<{ sms: LocalAliyunSmsServer; aliyun: Record<string, unknown> }> {
  const sms = new LocalAliyunSmsServer({
    ...key,
    signNames: ['智慧看家'],
    templates: { [templates.alarm]: SMS_TEMPLATES.alarm.variables, [templates.escalation]: SMS_TEMPLATES.escalation.variables, [templates.cancelled]: SMS_TEMPLATES.cancelled.variables },
  });
  const { endpoint } = await sms.start();
  const aliyun = { ...key, signName: '智慧看家', templateAlarm: templates.alarm, templateEscalation: templates.escalation, templateCancelled: templates.cancelled, endpoint, protocol: 'http', timeoutMs: 2_000 };
  return { sms, aliyun };
}

/** Imports `registry` into the database of `settings` before the system starts; returns each device's id and secret. */
export function importBeforeStart(settings: Settings, registry: RegistryFile): Array<{ deviceId: string; secret: string }> {
  const db = openDatabase(databaseFile(settings));
  try {
    return new SqliteRegistryStore(db, loadDeviceKey(settings)).importRegistry(registry).devices;
  } finally {
    db.close();
  }
}

/**
 * A channel whose answers the test sets: `answer` decides each send (default:
 * accepted, with a provider reference); `receipts` holds the provider's word
 * on each reference (default: still pending). Every message it is given is kept.
 * For the rules of the outbox and the routes; the providers' own protocols are
 * tested against their local stand-ins.
 */
export class ScriptedChannel implements NoticeChannel {
  readonly sent: SmsMessage[] = [];
  readonly receipts = new Map<string, DeliveryAnswer>();
  answer: (message: SmsMessage) => SmsResult = () => ({ ok: true, providerRef: `${this.name}-${this.sent.length}` });
  queryDelivery?: (query: DeliveryQuery) => Promise<DeliveryAnswer>;

  constructor(
    readonly name: string,
    readonly medium: ChannelMedium = 'sms',
    withReceipts = false,
  ) {
    if (withReceipts) this.queryDelivery = async (query) => this.receipts.get(query.providerRef) ?? { state: 'pending' };
  }

  async send(message: SmsMessage): Promise<SmsResult> {
    this.sent.push(message);
    return this.answer(message);
  }
}

/** The settings of an Aliyun SMS account (the provider, its key, its sign name and templates), as the environment gives them. */
export const ALIYUN_ENV = {
  KANJIA_SMS_PROVIDER: 'aliyun',
  KANJIA_ALIYUN_ACCESS_KEY_ID: 'LTAIexample',
  KANJIA_ALIYUN_ACCESS_KEY_SECRET: 'secret-0123456789',
  KANJIA_ALIYUN_SIGN_NAME: '智慧看家',
  KANJIA_ALIYUN_TEMPLATE_ALARM: 'SMS_100',
  KANJIA_ALIYUN_TEMPLATE_ESCALATION: 'SMS_101',
  KANJIA_ALIYUN_TEMPLATE_CANCELLED: 'SMS_102',
};

/** The problems loadSettings lists for `env`, one string; throws when it accepts them. */
export function settingsProblems(env: Record<string, string>): string {
  try {
    loadSettings(env);
  } catch (err) {
    if (err instanceof SettingsError) return err.problems.join('\n');
    throw err;
  }
  throw new Error('loadSettings accepted the settings');
}

/** A log stream that keeps what is written: for what the logs must hold, and what they must never (codes, numbers). */
export function logCapture(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}
