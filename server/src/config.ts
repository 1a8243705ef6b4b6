/**
 * Settings: defaults < optional JSON file < KANJIA_* environment variables.
 * Parsed once at start into a frozen object; a bad setting stops the start
 * with every problem listed (CONVENTIONS.md §4).
 */
import { isKindTemplateKey, SMS_TEMPLATE_KEYS } from '@kanjia/alerts';
import { ALARM_KINDS, TimeZoneName } from '@kanjia/protocol';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';

const Port = z.coerce.number().int().min(0).max(65535);
const Host = z.string().min(1);
const TemplateCode = z.string().regex(/^SMS_\d+$/, 'an approved template code such as SMS_123456789');

/**
 * Codes of the optional per-kind templates, `{"alarm.co":"SMS_123456789", …}`:
 * a JSON object in the environment variable, an object in the config file.
 */
const KindTemplateCodes = z.preprocess(
  (value, ctx) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not valid JSON (${(err as Error).message}); expected an object such as {"alarm.co":"SMS_123456789"}` });
      return z.NEVER;
    }
  },
  z
    .record(z.string(), TemplateCode, { error: 'a JSON object of template key → code, such as {"alarm.co":"SMS_123456789"}' })
    .superRefine((codes, ctx) => {
      for (const key of Object.keys(codes)) {
        if (isKindTemplateKey(key)) continue;
        const message = (SMS_TEMPLATE_KEYS as readonly string[]).includes(key)
          ? `the generic ${key} template has its own setting (KANJIA_ALIYUN_TEMPLATE_${key.toUpperCase()}); this one takes per-kind keys such as ${key}.co`
          : `unknown template key: expected alarm.<kind> or escalation.<kind>, <kind> one of ${ALARM_KINDS.join(', ')}`;
        ctx.addIssue({ code: 'custom', path: [key], message });
      }
    }),
);

const AliyunSettings = z
  .object({
    accessKeyId: z.string().min(1, 'required when the SMS provider is aliyun'),
    accessKeySecret: z.string().min(1, 'required when the SMS provider is aliyun'),
    signName: z.string().min(1, 'required when the SMS provider is aliyun (the approved 签名, e.g. 智慧看家)'),
    templateAlarm: TemplateCode,
    templateEscalation: TemplateCode,
    /** The first notice of a critical case cancelled before it went out (docs/sms-templates.md). */
    templateCancelled: TemplateCode,
    /** Optional templates of one kind each (docs/sms-templates.md); a kind without one uses the generic template. */
    templateCodes: KindTemplateCodes.optional(),
    endpoint: z.string().min(1).default('dysmsapi.aliyuncs.com'),
    protocol: z.enum(['https', 'http']).default('https'),
    timeoutMs: z.coerce.number().int().min(1000).max(60_000).default(10_000),
  })
  .strict();

export const Settings = z
  .object({
    httpHost: Host.default('127.0.0.1'),
    httpPort: Port.default(8080),
    mqttHost: Host.default('0.0.0.0'),
    mqttPort: Port.default(1883),
    /**
     * The address phones reach this server at, e.g. https://kanjia.example.cn: the fixed
     * part of the answer link in every SMS (it must match the registered templates).
     * Default: http://httpHost:httpPort.
     */
    publicUrl: z
      .url({ protocol: /^https?$/, error: 'an http(s) address such as https://kanjia.example.cn' })
      .refine((u) => !/[?#]/.test(u), 'the address alone, without ? or #')
      .transform((u) => u.replace(/\/+$/, ''))
      .optional(),
    dataDir: z.string().min(1).default('./data'),
    /** Language of SMS texts and the dashboard's default. */
    locale: z.enum(['zh-CN', 'en']).default('zh-CN'),
    /** Time zone of villages that do not name their own. */
    timezone: TimeZoneName().default('Asia/Shanghai'),
    /** Seconds a critical alarm may stay untaken before the next contact is texted. */
    escalationTimeoutSeconds: z.coerce.number().min(1).max(24 * 3600).default(300),
    /** Seconds a detected fall waits, beeping, for the person to cancel it with a press before the alarm goes out. */
    fallGraceSeconds: z.coerce.number().min(0).max(600).default(30),
    smsProvider: z.enum(['console', 'aliyun']).default('console'),
    aliyun: AliyunSettings.optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /**
     * Behind a reverse proxy (nginx with TLS): the client's address and scheme
     * come from X-Forwarded-For/-Proto (the login throttle's address, the
     * cookie's Secure flag, the same-origin check). Only when the proxy sets them.
     */
    trustProxy: z.preprocess((v) => (v === 'true' || v === '1' ? true : v === 'false' || v === '0' ? false : v), z.boolean({ error: 'true or false' })).default(false),
    /** Hex key (64 hex chars) for the keyed hash of device secrets; by default one is generated in the data directory. */
    deviceKey: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hex characters (32 bytes)').optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.smsProvider === 'aliyun' && s.aliyun === undefined) {
      ctx.addIssue({ code: 'custom', path: ['aliyun'], message: 'the SMS provider is aliyun: set KANJIA_ALIYUN_ACCESS_KEY_ID, KANJIA_ALIYUN_ACCESS_KEY_SECRET, KANJIA_ALIYUN_SIGN_NAME, KANJIA_ALIYUN_TEMPLATE_ALARM, KANJIA_ALIYUN_TEMPLATE_ESCALATION and KANJIA_ALIYUN_TEMPLATE_CANCELLED' });
    }
  });
export type Settings = Readonly<z.infer<typeof Settings>>;

/** Environment variable → settings path. */
export const ENV_VARS: Record<string, string[]> = {
  KANJIA_HTTP_HOST: ['httpHost'],
  KANJIA_HTTP_PORT: ['httpPort'],
  KANJIA_MQTT_HOST: ['mqttHost'],
  KANJIA_MQTT_PORT: ['mqttPort'],
  KANJIA_PUBLIC_URL: ['publicUrl'],
  KANJIA_DATA_DIR: ['dataDir'],
  KANJIA_LOCALE: ['locale'],
  KANJIA_TIMEZONE: ['timezone'],
  KANJIA_ESCALATION_TIMEOUT_SECONDS: ['escalationTimeoutSeconds'],
  KANJIA_FALL_GRACE_SECONDS: ['fallGraceSeconds'],
  KANJIA_SMS_PROVIDER: ['smsProvider'],
  KANJIA_ALIYUN_ACCESS_KEY_ID: ['aliyun', 'accessKeyId'],
  KANJIA_ALIYUN_ACCESS_KEY_SECRET: ['aliyun', 'accessKeySecret'],
  KANJIA_ALIYUN_SIGN_NAME: ['aliyun', 'signName'],
  KANJIA_ALIYUN_TEMPLATE_ALARM: ['aliyun', 'templateAlarm'],
  KANJIA_ALIYUN_TEMPLATE_ESCALATION: ['aliyun', 'templateEscalation'],
  KANJIA_ALIYUN_TEMPLATE_CANCELLED: ['aliyun', 'templateCancelled'],
  KANJIA_ALIYUN_TEMPLATE_CODES: ['aliyun', 'templateCodes'],
  KANJIA_ALIYUN_ENDPOINT: ['aliyun', 'endpoint'],
  KANJIA_ALIYUN_PROTOCOL: ['aliyun', 'protocol'],
  KANJIA_ALIYUN_TIMEOUT_MS: ['aliyun', 'timeoutMs'],
  KANJIA_LOG_LEVEL: ['logLevel'],
  KANJIA_DEVICE_KEY: ['deviceKey'],
  KANJIA_TRUST_PROXY: ['trustProxy'],
};
/** Read by loadSettings itself, not a setting. */
const META_VARS = new Set(['KANJIA_CONFIG_FILE']);

export class SettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Kanjia cannot start; fix these settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

/** The variable of a problem's path; a key inside an object-valued setting follows it, as in `KANJIA_ALIYUN_TEMPLATE_CODES "alarm.foo"`. */
function envNameOf(path: PropertyKey[]): string | undefined {
  let best: { name: string; length: number } | undefined;
  for (const [name, p] of Object.entries(ENV_VARS)) {
    if (p.length <= path.length && p.every((key, i) => key === path[i]) && p.length > (best?.length ?? 0)) best = { name, length: p.length };
  }
  if (best === undefined) return undefined;
  const inside = path.slice(best.length);
  return inside.length === 0 ? best.name : `${best.name} ${inside.map((key) => JSON.stringify(String(key))).join(' ')}`;
}

/**
 * Reads the settings from the environment and the optional file named by
 * KANJIA_CONFIG_FILE (or `configFile`), with `overrides` on top (used by the
 * demo and tests). Throws SettingsError listing every problem.
 */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, options: { configFile?: string; overrides?: Record<string, unknown> } = {}): Settings {
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};
  const file = options.configFile ?? env.KANJIA_CONFIG_FILE;
  if (file) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(resolve(file), 'utf8'));
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) problems.push(`${file}: must hold one JSON object`);
      else raw = parsed as Record<string, unknown>;
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
    }
  }
  for (const [name, value] of Object.entries(env)) {
    // An empty variable counts as unset (docker-compose passes `${X:-}` as "").
    if (!name.startsWith('KANJIA_') || value === undefined || value === '') continue;
    const path = ENV_VARS[name];
    if (path) setPath(raw, path, value);
    else if (!META_VARS.has(name)) problems.push(`${name}: unknown setting (known: ${Object.keys(ENV_VARS).join(', ')})`);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) raw[key] = value;
  const result = Settings.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const where = envNameOf(issue.path) ?? (issue.path.join('.') || '(settings)');
      problems.push(`${where}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new SettingsError(problems);
  return Object.freeze(result.data);
}
