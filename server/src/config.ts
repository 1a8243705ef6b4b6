/**
 * Settings: defaults < optional JSON file < KANJIA_* environment variables.
 * Parsed once at start into a frozen object; a bad setting stops the start
 * with every problem listed (CONVENTIONS.md §4).
 */
import { AliyunVoiceSettingsSchema, DingTalkRobotSettings, TwilioSmsSettings, WeComRobotSettings, type AliyunVoiceSettingsInput } from '@kanjia/alerts';
import { DEFAULT_BUNDLE_WINDOW_MS, DEFAULT_DELIVERY_DEADLINE_MS, DEFAULT_FAILOVER_AFTER_MS, DEFAULT_NIGHT, isKindTemplateKey, parseNightWindow, SMS_TEMPLATE_KEYS, type NightWindow } from '@kanjia/alerts';
import { ALARM_KINDS, DEFAULT_VISIT_FREQUENCY, KanjiaError, parseVisitFrequency, TimeZoneName, type VisitFrequency } from '@kanjia/protocol';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';
import { isAllowedHostEntry } from './http/hosts.js';
import { HTTP_LIMITS } from './http/http-server.js';

const Port = z.coerce.number().int().min(0).max(65535);
const Host = z.string().min(1);
/** `2/month`, `1/week`: visits per week or month of a care level (township.ts). */
const VisitFrequencySetting = z.string().transform((text, ctx): VisitFrequency => {
  try {
    return parseVisitFrequency(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});
/** true/false (also 1/0) in the environment, a boolean in the config file. */
const BooleanSetting = z.preprocess((v) => (v === 'false' || v === '0' ? false : v === 'true' || v === '1' ? true : v), z.boolean({ error: 'true or false' }));
/** `22:00-07:00` (village time; may span midnight), or `off`; an object in the config file. */
const NightWindowSetting = z.unknown().transform((value, ctx): NightWindow | null => {
  if (value === null || value === 'off') return null;
  if (typeof value === 'string') {
    try {
      return parseNightWindow(value);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `${(err as Error).message}, or off` });
      return z.NEVER;
    }
  }
  const window = z.object({ fromMinute: z.number().int().min(0).max(1439), toMinute: z.number().int().min(0).max(1439) }).strict().safeParse(value);
  if (window.success && window.data.fromMinute !== window.data.toMinute) return window.data;
  ctx.addIssue({ code: 'custom', message: 'a time window like 22:00-07:00 (village time), or off' });
  return z.NEVER;
});
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

/** A JSON object in the environment variable, an object in the config file (TTS codes of kinds). */
const JsonStringRecord = z.preprocess(
  (value, ctx) => {
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not valid JSON (${(err as Error).message}); expected an object such as {"alarm.fall":"TTS_123456789"}` });
      return z.NEVER;
    }
  },
  z.record(z.string(), z.string().min(1), { error: 'a JSON object of key → code, such as {"alarm.fall":"TTS_123456789"}' }),
);

/** Aliyun's voice service (docs/voice-calls.md); the access key defaults to the SMS one. */
const AliyunVoiceSettings = z
  .object({
    accessKeyId: z.string().min(1).optional(),
    accessKeySecret: z.string().min(1).optional(),
    showNumber: z.string().min(1).optional(),
    ttsCodeAlarm: z.string().min(1).optional(),
    ttsCodeEscalation: z.string().min(1).optional(),
    ttsCodes: JsonStringRecord.optional(),
    playTimes: z.coerce.number().optional(),
    volume: z.coerce.number().optional(),
    speed: z.coerce.number().optional(),
    endpoint: z.string().min(1).optional(),
    protocol: z.enum(['https', 'http']).optional(),
    timeoutMs: z.coerce.number().optional(),
    /** "Press 1 to take it": calls by IvrCall; needs ivrTakeCode, ivrPassCode and the receipt token (docs/voice-calls.md). */
    ivr: BooleanSetting.optional(),
    ivrTakeCode: z.string().min(1).optional(),
    ivrPassCode: z.string().min(1).optional(),
    ivrKeyTimeoutMs: z.coerce.number().optional(),
    /** The secret part of the receipt URL Aliyun pushes to (POST /api/voice/receipts/<token>); without it the route does not exist. */
    receiptToken: z.string().min(24, 'at least 24 characters (e.g. openssl rand -hex 16)').regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only (it is part of a URL)').optional(),
  })
  .strict();

/** The voice caller's own settings from ours (the SMS key when the voice service has none of its own). */
export function aliyunVoiceCallerSettings(s: { aliyunVoice?: z.output<typeof AliyunVoiceSettings>; aliyun?: { accessKeyId: string; accessKeySecret: string } }): AliyunVoiceSettingsInput {
  const v = s.aliyunVoice ?? {};
  const ttsCodes: Record<string, string> = { ...v.ttsCodes, ...(v.ttsCodeAlarm ? { alarm: v.ttsCodeAlarm } : {}), ...(v.ttsCodeEscalation ? { escalation: v.ttsCodeEscalation } : {}) };
  return {
    accessKeyId: v.accessKeyId ?? s.aliyun?.accessKeyId ?? '',
    accessKeySecret: v.accessKeySecret ?? s.aliyun?.accessKeySecret ?? '',
    ttsCodes,
    ...(v.showNumber !== undefined ? { showNumber: v.showNumber } : {}),
    ...(v.playTimes !== undefined ? { playTimes: v.playTimes } : {}),
    ...(v.volume !== undefined ? { volume: v.volume } : {}),
    ...(v.speed !== undefined ? { speed: v.speed } : {}),
    ...(v.endpoint !== undefined ? { endpoint: v.endpoint } : {}),
    ...(v.protocol !== undefined ? { protocol: v.protocol } : {}),
    ...(v.timeoutMs !== undefined ? { timeoutMs: v.timeoutMs } : {}),
    ...(v.ivr ? { ivr: { takeCode: v.ivrTakeCode ?? '', passCode: v.ivrPassCode ?? '', ...(v.ivrKeyTimeoutMs !== undefined ? { keyTimeoutMs: v.ivrKeyTimeoutMs } : {}) } } : {}),
  } as AliyunVoiceSettingsInput;
}

/** One proxy address, or a CIDR block of them: 127.0.0.1, 10.0.0.0/8, ::1, fd00::/8. */
function isAddressOrCidr(text: string): boolean {
  const [address, bits, ...rest] = text.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d{1,3}$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

/** proxy-addr's names for address ranges (fastify passes the list to it). */
const PROXY_RANGE_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

const TRUST_PROXY_HELP =
  'false, or the addresses/CIDRs of the proxies in front, such as loopback (nginx on this machine), 127.0.0.1 or 10.0.0.0/8, comma-separated';
/** false | the proxies' addresses; `true` is kept as a marker and read as loopback (see Settings.trustProxy). */
const TrustProxySetting = z.preprocess(
  (v) => {
    if (typeof v === 'string') {
      const t = v.trim();
      if (t === 'false' || t === '0') return false;
      if (t === 'true') return true;
      return t.split(',').map((a) => a.trim()).filter((a) => a !== '');
    }
    return v;
  },
  z.union(
    [
      z.boolean(),
      z
        .array(
          z.string().refine(
            (a) => PROXY_RANGE_NAMES.has(a) || isAddressOrCidr(a),
            'not an IP address, CIDR block or range name (loopback, linklocal, uniquelocal); a hop count cannot tell a proxy from a client that connects directly',
          ),
        )
        .min(1),
    ],
    { error: TRUST_PROXY_HELP },
  ),
);

/**
 * What fastify's trustProxy gets. `true` (believe every hop: the client picks
 * its own address in X-Forwarded-For) becomes loopback: a proxy on this
 * machine, the usual nginx in front.
 */
export function trustProxyOption(setting: Settings['trustProxy']): false | string[] {
  if (setting === true) return ['loopback'];
  return setting;
}

/** A start-time warning for a trustProxy setting that does not mean what it says, else undefined. */
export function trustProxyWarning(setting: Settings['trustProxy']): string | undefined {
  return setting === true
    ? 'KANJIA_TRUST_PROXY=true would let every client choose its own address (X-Forwarded-For) and so escape the login throttle: read as loopback (a proxy on this machine). Set the proxies\' addresses instead, such as loopback or 10.0.0.2'
    : undefined;
}

/**
 * Names and addresses browsers reach the server by, beyond those always
 * allowed (hosts.ts): a comma-separated list in the variable, an array in the file.
 */
const AllowedHostsSetting = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((h) => h.trim()).filter((h) => h !== '') : v),
  z.array(
    z.string().refine(
      isAllowedHostEntry,
      {
        error: (issue) => `${JSON.stringify(issue.input)} is not a host name or address: give names and addresses only, without scheme or port, comma-separated, such as kanjia.example.cn,192.168.1.10 (localhost, 127.0.0.1, ::1, the host of KANJIA_PUBLIC_URL, the bound address and, bound to 0.0.0.0, this machine's own addresses and name are always allowed; * allows any host)`,
      },
    ),
  ),
);

/** `none`, `tianditu`, or a tile URL template with {z}, {x} and {y} (http or https; {s} for a subdomain). */
const MapTilesSetting = z
  .string()
  .refine(
    (v) => v === 'none' || v === 'tianditu' || (/^https?:\/\/\S+$/.test(v) && ['{z}', '{x}', '{y}'].every((p) => v.includes(p))),
    'none, tianditu, or an http(s) tile URL template with {z}, {x} and {y}, such as http://10.0.0.5/tiles/{z}/{x}/{y}.png',
  )
  // The page may load images from exactly the tile server's origin (security-headers.ts): its host must be fixed.
  .refine(
    (v) => !/^https?:\/\//.test(v) || !/[{}]/.test((/^https?:\/\/([^/]*)/.exec(v)?.[1] ?? '').split('{s}').join('')),
    'the host of a tile URL template may hold {s} (a subdomain) but no other placeholder, such as http://{s}.tiles.example.cn/{z}/{x}/{y}.png',
  );

/**
 * KANJIA_METRICS_ADDRESS: `HOST:PORT` (`127.0.0.1:9464`, `[::1]:9464`) or a
 * port alone (on 127.0.0.1) of the listener that serves only /metrics
 * (metrics/metrics-http.ts). Port 0: any free port (tests).
 */
const MetricsAddress = z
  .string()
  .transform((text, ctx) => {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$|^(\d{1,5})$/.exec(text.trim());
    const host = match?.[1] ?? match?.[2] ?? (match?.[4] !== undefined ? '127.0.0.1' : undefined);
    const port = Number(match?.[3] ?? match?.[4]);
    if (host === undefined || !(port <= 65535) || (host !== 'localhost' && isIP(host) === 0)) {
      ctx.addIssue({ code: 'custom', message: 'HOST:PORT with an IP address (or localhost) such as 127.0.0.1:9464 or [::1]:9464, or a port alone (on 127.0.0.1)' });
      return z.NEVER;
    }
    return { host, port };
  });

/** Whether a metrics listener's host is this machine only. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || /^127\./.test(host) || host === '::1';
}

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
    /** The visit reminder's template (docs/sms-templates.md); without it the reminder is off with Aliyun. */
    templateVisitReminder: TemplateCode.optional(),
    endpoint: z.string().min(1).default('dysmsapi.aliyuncs.com'),
    protocol: z.enum(['https', 'http']).default('https'),
    timeoutMs: z.coerce.number().int().min(1000).max(60_000).default(10_000),
  })
  .strict();

/**
 * The time-series database for telemetry (telemetry/, README "Telemetry in a
 * time-series database"): InfluxDB 2, or anything that takes its
 * /api/v2/write line protocol (VictoriaMetrics). Unset: SQLite only.
 */
const INFLUX_NEEDS = 'required when any KANJIA_INFLUX_* setting is given (KANJIA_INFLUX_URL, KANJIA_INFLUX_ORG and KANJIA_INFLUX_BUCKET; KANJIA_INFLUX_TOKEN for InfluxDB 2)';
const InfluxSettings = z
  .object({
    url: z
      .url({ protocol: /^https?$/, error: (issue) => (issue.input === undefined ? INFLUX_NEEDS : 'an http(s) address of the server, such as http://127.0.0.1:8086 (InfluxDB 2) or http://127.0.0.1:8428 (VictoriaMetrics)') })
      .refine((u) => !/[?#]/.test(u), 'the address alone, without ? or #')
      .refine((u) => { try { const p = new URL(u); return p.username === '' && p.password === ''; } catch { return true; } }, 'no user or password in the address: give the token as KANJIA_INFLUX_TOKEN')
      .transform((u) => u.replace(/\/+$/, '')),
    /** API token (InfluxDB 2: a token with write and read access to the bucket); never logged. */
    token: z.string().min(1).optional(),
    org: z.string({ error: INFLUX_NEEDS }).min(1, INFLUX_NEEDS),
    bucket: z.string({ error: INFLUX_NEEDS }).min(1, INFLUX_NEEDS),
    /** How the resident card's chart is read back: flux (InfluxDB 2) or prometheus (VictoriaMetrics' query API). */
    query: z.enum(['flux', 'prometheus'], { error: 'flux (InfluxDB 2) or prometheus (VictoriaMetrics)' }).default('flux'),
    /** MiB of line protocol the on-disk buffer keeps at most while the server is away; beyond, the oldest is given up. */
    bufferMb: z.coerce.number({ error: 'a whole number of MiB, such as 256' }).int('a whole number of MiB, such as 256').min(1).max(1_000_000).default(256),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.query === 'flux' && s.token === undefined) {
      ctx.addIssue({ code: 'custom', path: ['token'], message: 'InfluxDB 2 (KANJIA_INFLUX_QUERY=flux, the default) needs an API token: set KANJIA_INFLUX_TOKEN, or KANJIA_INFLUX_QUERY=prometheus for VictoriaMetrics' });
    }
  });

export const Settings = z
  .object({
    httpHost: Host.default('127.0.0.1'),
    httpPort: Port.default(8080),
    /** Open HTTP connections at most (http-server.ts HTTP_LIMITS); more are refused at once, so slow clients cannot take every file descriptor. */
    httpMaxConnections: z.coerce.number().int().min(16).max(100_000).default(HTTP_LIMITS.maxConnections),
    mqttHost: Host.default('0.0.0.0'),
    mqttPort: Port.default(1883),
    /** PEM certificate (with its chain) and key: HTTPS on httpPort and MQTT over TLS on mqttsPort (tls.ts). */
    tlsCert: z.string().min(1).optional(),
    tlsKey: z.string().min(1).optional(),
    /** MQTT over TLS, when tlsCert and tlsKey are set. */
    mqttsPort: Port.default(8883),
    /** Plain MQTT on mqttPort (the village LAN); false: devices connect over TLS only. */
    mqttPlain: BooleanSetting.default(true),
    /** Gateway pacing and backpressure (gateway/README.md); unset: the gateway's defaults (1 000/s waiting at most 5 s, 1 000, 16). */
    mqttConnectsPerSecond: z.coerce.number().int().min(1).max(100_000).optional(),
    /** How long a login over that rate waits for its turn before CONNACK 3 (gateway connect-line.ts); below the gateway's 10 s connect timeout. */
    mqttConnectWaitMs: z.coerce.number().int().min(0).max(9_000, { error: 'at most 9000 ms: a login still waiting at the 10 s connect timeout is cut' }).optional(),
    mqttInFlightUplinks: z.coerce.number().int().min(1).max(1_000_000).optional(),
    mqttInFlightPerConnection: z.coerce.number().int().min(1).max(10_000).optional(),
    /** Host names and addresses the HTTP side answers to besides the defaults (hosts.ts); `*` for any. */
    allowedHosts: AllowedHostsSetting.default([]),
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
    smsProvider: z.enum(['console', 'aliyun', 'twilio']).default('console'),
    /** A second SMS provider: a notice the first cannot send (a refusal, its flow control, an outage past the failover time) goes by this one. */
    smsFallback: z.enum(['aliyun', 'twilio']).optional(),
    /** A Twilio-compatible SMS provider (the Messages API), as the SMS provider or its fallback (docs/channels.md). */
    twilio: TwilioSmsSettings.optional(),
    /** Longest wait, in seconds, between two tries of the SMS provider during an outage (the first comes after 5 s, then doubling). */
    smsOutageProbeMaxSeconds: z.coerce.number().min(1).max(3600).default(120),
    aliyun: AliyunSettings.optional(),
    /**
     * Channels besides the SMS (docs/channels.md). A voice channel rings the
     * contact of a critical case at night and after an unanswered SMS, and is
     * the next channel of a critical case's notice the SMS channels could not
     * send; a group channel posts every case's opening, taking and closing to
     * the village's duty group and is the last channel of every contact's notice.
     */
    voiceProvider: z.enum(['off', 'console', 'aliyun']).default('off'),
    aliyunVoice: AliyunVoiceSettings.optional(),
    groupRobot: z.enum(['off', 'console', 'dingtalk', 'wecom']).default('off'),
    /** The DingTalk group robots, per village id and `default` (docs/channels.md). */
    dingtalk: DingTalkRobotSettings.optional(),
    /** The WeCom group robots, per village id and `default`. */
    wecom: WeComRobotSettings.optional(),
    /** Hours (village time) in which a critical alarm also rings its contact, e.g. 22:00-07:00; off: never by the hour. */
    voiceNight: NightWindowSetting.default(DEFAULT_NIGHT),
    /** Ring the contact whose SMS went unanswered for the escalation time (critical alarms). */
    voiceOnUnanswered: BooleanSetting.default(true),
    /** Seconds a notice may wait on one channel (an outage, retries) before it moves to the next, by severity. */
    failoverCriticalSeconds: z.coerce.number().int().min(10).max(24 * 3600).default(DEFAULT_FAILOVER_AFTER_MS.critical / 1000),
    failoverUrgentSeconds: z.coerce.number().int().min(10).max(24 * 3600).default(DEFAULT_FAILOVER_AFTER_MS.urgent / 1000),
    failoverMaintenanceSeconds: z.coerce.number().int().min(10).max(7 * 24 * 3600).default(DEFAULT_FAILOVER_AFTER_MS.maintenance / 1000),
    /** Alarms for one number within this many seconds of its last SMS go out together as one SMS at the end of it (critical ones never wait); 0: never. */
    smsBundleWindowSeconds: z.coerce.number().int().min(0).max(600).default(DEFAULT_BUNDLE_WINDOW_MS / 1000),
    /** A critical alarm's SMS not delivered within this many seconds (by the provider's receipt) counts as not reached: the next contact is texted. */
    deliveryDeadlineSeconds: z.coerce.number().int().min(30).max(24 * 3600).default(DEFAULT_DELIVERY_DEADLINE_MS / 1000),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /**
     * Behind a reverse proxy (nginx with TLS): which X-Forwarded-For/-Proto
     * entries to believe for the client's address (login throttle, answer page
     * limit, audit) and scheme (Secure cookie). `false` (default): none. A
     * number: that many proxies in front (1 for one nginx): the address is the
     * one the nearest of them saw, whatever the client wrote into the header.
     * Addresses/CIDRs (`127.0.0.1,10.0.0.0/8`): only hops from these.
     * `true` would believe the client's own leftmost entry: read as 1, with a
     * warning at start (trustProxyWarning).
     */
    trustProxy: TrustProxySetting.default(false),
    /** Hex key (64 hex chars) for the keyed hash of device secrets; by default one is generated in the data directory. */
    deviceKey: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hex characters (32 bytes)').optional(),
    /** Map background: none (no tile is requested: offline villages), tianditu (天地图, needs mapTiandituKey) or a {z}/{x}/{y} URL template. */
    mapTiles: MapTilesSetting.default('none'),
    /** 天地图 browser key (tk), sent to the page with the tile URLs. */
    mapTiandituKey: z.string().regex(/^[0-9a-zA-Z]{16,64}$/, 'the 天地图 key (tk), letters and digits').optional(),
    /** Datum of a URL template's tiles: wgs84 (天地图, OpenStreetMap) or gcj02 (Gaode, Tencent). */
    mapTileCrs: z.enum(['wgs84', 'gcj02']).default('wgs84'),
    /** A listener of its own for Prometheus (metrics-http.ts); absent: none (GET /metrics on the main port with the token only). */
    metricsAddress: MetricsAddress.optional(),
    /** Bearer token of GET /metrics (on the main port, and on metricsAddress when set); absent: /metrics on the main port answers 401. */
    metricsToken: z
      .string()
      .regex(/^[A-Za-z0-9._~+/-]{24,256}=*$/, 'at least 24 characters of A–Z, a–z, 0–9 and ._~+/- (e.g. the output of openssl rand -hex 32)')
      .optional(),
    /** Telemetry also to a time-series database (InfluxDB 2 or VictoriaMetrics); unset: SQLite only. */
    influx: InfluxSettings.optional(),
    /** How often people are visited (探访), per care level (docs/township.md); the policies: ordinary 2/month, especially difficult 1/week; some townships 1/month. */
    visitFrequencyOrdinary: VisitFrequencySetting.default(DEFAULT_VISIT_FREQUENCY.ordinary),
    visitFrequencyEspeciallyDifficult: VisitFrequencySetting.default(DEFAULT_VISIT_FREQUENCY.especiallyDifficult),
    /** The village-local hour of the SMS reminder to helpers whose visits are due tomorrow (docs/township.md); absent: no reminder. */
    visitReminderHour: z.coerce
      .number({ message: 'a whole hour of the village\'s day, 0–23 (18 sends the reminders at 18:00 village time)' })
      .int('a whole hour of the village\'s day, 0–23 (18 sends the reminders at 18:00 village time)')
      .min(0, 'a whole hour of the village\'s day, 0–23 (18 sends the reminders at 18:00 village time)')
      .max(23, 'a whole hour of the village\'s day, 0–23 (18 sends the reminders at 18:00 village time)')
      .optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    for (const [which, provider] of [['smsProvider', s.smsProvider], ['smsFallback', s.smsFallback]] as const) {
      if (provider === 'twilio' && s.twilio === undefined) {
        ctx.addIssue({ code: 'custom', path: ['twilio'], message: `${which === 'smsProvider' ? 'the SMS provider' : 'the fallback SMS provider'} is twilio: set KANJIA_TWILIO_ACCOUNT_SID, KANJIA_TWILIO_AUTH_TOKEN (or an API key) and KANJIA_TWILIO_FROM (or KANJIA_TWILIO_MESSAGING_SERVICE_SID)` });
      }
    }
    if (s.smsFallback !== undefined && s.smsFallback === s.smsProvider) {
      ctx.addIssue({ code: 'custom', path: ['smsFallback'], message: `the fallback SMS provider must differ from the SMS provider (${s.smsProvider})` });
    }
    if (s.smsFallback === 'aliyun' && s.aliyun === undefined) {
      ctx.addIssue({ code: 'custom', path: ['aliyun'], message: 'the fallback SMS provider is aliyun: set the KANJIA_ALIYUN_* settings (docs/sms-templates.md)' });
    }
    if (s.voiceProvider === 'aliyun') {
      const checked = AliyunVoiceSettingsSchema.safeParse(aliyunVoiceCallerSettings(s));
      for (const issue of checked.success ? [] : checked.error.issues) {
        const key = String(issue.path[0] ?? '');
        const path = key === 'ttsCodes' ? ['aliyunVoice', 'ttsCodeAlarm'] : ['aliyunVoice', ...issue.path.map(String)];
        const message =
          key === 'accessKeyId' || key === 'accessKeySecret'
            ? 'the voice provider is aliyun: set KANJIA_ALIYUN_VOICE_ACCESS_KEY_ID and _SECRET, or the SMS key (KANJIA_ALIYUN_ACCESS_KEY_ID and _SECRET)'
            : key === 'ttsCodes'
              ? `the voice provider is aliyun: ${issue.message}: set KANJIA_ALIYUN_VOICE_TTS_CODE_ALARM (and _ESCALATION), or KANJIA_ALIYUN_VOICE_TTS_CODES`
              : issue.message;
        ctx.addIssue({ code: 'custom', path, message });
      }
      if (s.aliyunVoice?.ivr && (s.aliyunVoice.receiptToken === undefined || s.aliyunVoice.showNumber === undefined)) {
        ctx.addIssue({ code: 'custom', path: ['aliyunVoice', 'ivr'], message: 'press 1 to take it needs the receipts pushed back and a display number: set KANJIA_ALIYUN_VOICE_RECEIPT_TOKEN and KANJIA_ALIYUN_VOICE_SHOW_NUMBER (docs/voice-calls.md)' });
      }
    }
    if (s.groupRobot === 'dingtalk' && s.dingtalk === undefined) {
      ctx.addIssue({ code: 'custom', path: ['dingtalk'], message: 'the group robot is dingtalk: set KANJIA_DINGTALK_ROBOTS (a JSON map of village id or "default" to {"webhook","secret"}) or KANJIA_DINGTALK_WEBHOOK and KANJIA_DINGTALK_SECRET' });
    }
    if (s.groupRobot === 'wecom' && s.wecom === undefined) {
      ctx.addIssue({ code: 'custom', path: ['wecom'], message: 'the group robot is wecom: set KANJIA_WECOM_ROBOTS (a JSON map of village id or "default" to {"webhook"}) or KANJIA_WECOM_WEBHOOK' });
    }
    if (s.smsProvider === 'aliyun' && s.aliyun === undefined) {
      ctx.addIssue({ code: 'custom', path: ['aliyun'], message: 'the SMS provider is aliyun: set KANJIA_ALIYUN_ACCESS_KEY_ID, KANJIA_ALIYUN_ACCESS_KEY_SECRET, KANJIA_ALIYUN_SIGN_NAME, KANJIA_ALIYUN_TEMPLATE_ALARM, KANJIA_ALIYUN_TEMPLATE_ESCALATION and KANJIA_ALIYUN_TEMPLATE_CANCELLED' });
    }
    if ((s.tlsCert === undefined) !== (s.tlsKey === undefined)) {
      ctx.addIssue({ code: 'custom', path: [s.tlsCert === undefined ? 'tlsCert' : 'tlsKey'], message: 'TLS needs both KANJIA_TLS_CERT (the certificate with its chain, e.g. fullchain.pem) and KANJIA_TLS_KEY (its private key, e.g. privkey.pem)' });
    }
    if ((s.mqttInFlightPerConnection ?? 16) > (s.mqttInFlightUplinks ?? 1_000)) {
      ctx.addIssue({ code: 'custom', path: ['mqttInFlightPerConnection'], message: `${s.mqttInFlightPerConnection ?? 16} uplinks per connection cannot exceed the ${s.mqttInFlightUplinks ?? 1_000} in all (KANJIA_MQTT_IN_FLIGHT_UPLINKS)` });
    }
    if (!s.mqttPlain && s.tlsCert === undefined) {
      ctx.addIssue({ code: 'custom', path: ['mqttPlain'], message: 'with plain MQTT off, devices can only connect over TLS: set KANJIA_TLS_CERT and KANJIA_TLS_KEY, or leave KANJIA_MQTT_PLAIN unset' });
    }
    if (s.tlsCert !== undefined && s.mqttPlain && s.mqttsPort === s.mqttPort && s.mqttPort !== 0) {
      ctx.addIssue({ code: 'custom', path: ['mqttsPort'], message: `MQTT over TLS and plain MQTT cannot share port ${s.mqttPort}: choose another KANJIA_MQTTS_PORT (8883 is usual) or set KANJIA_MQTT_PLAIN=false` });
    }
    if (s.metricsAddress !== undefined && s.metricsToken === undefined && !isLoopbackHost(s.metricsAddress.host)) {
      ctx.addIssue({ code: 'custom', path: ['metricsAddress'], message: `${s.metricsAddress.host} listens beyond this machine: set KANJIA_METRICS_TOKEN too (Prometheus sends it with authorization.credentials_file), or keep the metrics on 127.0.0.1` });
    }
    if (s.mapTiles === 'tianditu' && s.mapTiandituKey === undefined) {
      ctx.addIssue({ code: 'custom', path: ['mapTiandituKey'], message: 'the map tiles are tianditu: set KANJIA_TIANDITU_KEY to your 天地图 browser key (tk)' });
    }
    if (s.mapTiles === 'tianditu' && s.mapTileCrs === 'gcj02') {
      ctx.addIssue({ code: 'custom', path: ['mapTileCrs'], message: '天地图 tiles are CGCS2000 (the same as WGS-84 on a map): leave KANJIA_MAP_TILE_CRS unset or wgs84' });
    }
  });
export type Settings = Readonly<z.infer<typeof Settings>>;

/** Environment variable → settings path. */
export const ENV_VARS: Record<string, string[]> = {
  KANJIA_HTTP_HOST: ['httpHost'],
  KANJIA_HTTP_PORT: ['httpPort'],
  KANJIA_HTTP_MAX_CONNECTIONS: ['httpMaxConnections'],
  KANJIA_MQTT_HOST: ['mqttHost'],
  KANJIA_MQTT_PORT: ['mqttPort'],
  KANJIA_MQTTS_PORT: ['mqttsPort'],
  KANJIA_MQTT_PLAIN: ['mqttPlain'],
  KANJIA_MQTT_CONNECTS_PER_SECOND: ['mqttConnectsPerSecond'],
  KANJIA_MQTT_CONNECT_WAIT_MS: ['mqttConnectWaitMs'],
  KANJIA_MQTT_IN_FLIGHT_UPLINKS: ['mqttInFlightUplinks'],
  KANJIA_MQTT_IN_FLIGHT_PER_CONNECTION: ['mqttInFlightPerConnection'],
  KANJIA_TLS_CERT: ['tlsCert'],
  KANJIA_TLS_KEY: ['tlsKey'],
  KANJIA_PUBLIC_URL: ['publicUrl'],
  KANJIA_ALLOWED_HOSTS: ['allowedHosts'],
  KANJIA_DATA_DIR: ['dataDir'],
  KANJIA_LOCALE: ['locale'],
  KANJIA_TIMEZONE: ['timezone'],
  KANJIA_ESCALATION_TIMEOUT_SECONDS: ['escalationTimeoutSeconds'],
  KANJIA_FALL_GRACE_SECONDS: ['fallGraceSeconds'],
  KANJIA_SMS_PROVIDER: ['smsProvider'],
  KANJIA_SMS_OUTAGE_PROBE_MAX_SECONDS: ['smsOutageProbeMaxSeconds'],
  KANJIA_SMS_FALLBACK: ['smsFallback'],
  KANJIA_TWILIO_ACCOUNT_SID: ['twilio', 'accountSid'],
  KANJIA_TWILIO_AUTH_TOKEN: ['twilio', 'authToken'],
  KANJIA_TWILIO_API_KEY_SID: ['twilio', 'apiKeySid'],
  KANJIA_TWILIO_API_KEY_SECRET: ['twilio', 'apiKeySecret'],
  KANJIA_TWILIO_FROM: ['twilio', 'from'],
  KANJIA_TWILIO_MESSAGING_SERVICE_SID: ['twilio', 'messagingServiceSid'],
  KANJIA_TWILIO_STATUS_CALLBACK: ['twilio', 'statusCallback'],
  KANJIA_TWILIO_BASE_URL: ['twilio', 'baseUrl'],
  KANJIA_TWILIO_TIMEOUT_MS: ['twilio', 'timeoutMs'],
  KANJIA_DINGTALK_ROBOTS: ['dingtalk', 'groups'],
  KANJIA_DINGTALK_WEBHOOK: ['dingtalk', 'groups', 'default', 'webhook'],
  KANJIA_DINGTALK_SECRET: ['dingtalk', 'groups', 'default', 'secret'],
  KANJIA_DINGTALK_BASE_URL: ['dingtalk', 'baseUrl'],
  KANJIA_DINGTALK_TIMEOUT_MS: ['dingtalk', 'timeoutMs'],
  KANJIA_WECOM_ROBOTS: ['wecom', 'groups'],
  KANJIA_WECOM_WEBHOOK: ['wecom', 'groups', 'default', 'webhook'],
  KANJIA_WECOM_BASE_URL: ['wecom', 'baseUrl'],
  KANJIA_WECOM_TIMEOUT_MS: ['wecom', 'timeoutMs'],
  KANJIA_VOICE_PROVIDER: ['voiceProvider'],
  KANJIA_ALIYUN_VOICE_ACCESS_KEY_ID: ['aliyunVoice', 'accessKeyId'],
  KANJIA_ALIYUN_VOICE_ACCESS_KEY_SECRET: ['aliyunVoice', 'accessKeySecret'],
  KANJIA_ALIYUN_VOICE_SHOW_NUMBER: ['aliyunVoice', 'showNumber'],
  KANJIA_ALIYUN_VOICE_TTS_CODE_ALARM: ['aliyunVoice', 'ttsCodeAlarm'],
  KANJIA_ALIYUN_VOICE_TTS_CODE_ESCALATION: ['aliyunVoice', 'ttsCodeEscalation'],
  KANJIA_ALIYUN_VOICE_TTS_CODES: ['aliyunVoice', 'ttsCodes'],
  KANJIA_ALIYUN_VOICE_PLAY_TIMES: ['aliyunVoice', 'playTimes'],
  KANJIA_ALIYUN_VOICE_VOLUME: ['aliyunVoice', 'volume'],
  KANJIA_ALIYUN_VOICE_SPEED: ['aliyunVoice', 'speed'],
  KANJIA_ALIYUN_VOICE_ENDPOINT: ['aliyunVoice', 'endpoint'],
  KANJIA_ALIYUN_VOICE_PROTOCOL: ['aliyunVoice', 'protocol'],
  KANJIA_ALIYUN_VOICE_TIMEOUT_MS: ['aliyunVoice', 'timeoutMs'],
  KANJIA_ALIYUN_VOICE_IVR: ['aliyunVoice', 'ivr'],
  KANJIA_ALIYUN_VOICE_IVR_TAKE_CODE: ['aliyunVoice', 'ivrTakeCode'],
  KANJIA_ALIYUN_VOICE_IVR_PASS_CODE: ['aliyunVoice', 'ivrPassCode'],
  KANJIA_ALIYUN_VOICE_IVR_KEY_TIMEOUT_MS: ['aliyunVoice', 'ivrKeyTimeoutMs'],
  KANJIA_ALIYUN_VOICE_RECEIPT_TOKEN: ['aliyunVoice', 'receiptToken'],
  KANJIA_GROUP_ROBOT: ['groupRobot'],
  KANJIA_VOICE_NIGHT: ['voiceNight'],
  KANJIA_VOICE_ON_UNANSWERED: ['voiceOnUnanswered'],
  KANJIA_FAILOVER_CRITICAL_SECONDS: ['failoverCriticalSeconds'],
  KANJIA_FAILOVER_URGENT_SECONDS: ['failoverUrgentSeconds'],
  KANJIA_FAILOVER_MAINTENANCE_SECONDS: ['failoverMaintenanceSeconds'],
  KANJIA_DELIVERY_DEADLINE_SECONDS: ['deliveryDeadlineSeconds'],
  KANJIA_SMS_BUNDLE_WINDOW_SECONDS: ['smsBundleWindowSeconds'],
  KANJIA_ALIYUN_ACCESS_KEY_ID: ['aliyun', 'accessKeyId'],
  KANJIA_ALIYUN_ACCESS_KEY_SECRET: ['aliyun', 'accessKeySecret'],
  KANJIA_ALIYUN_SIGN_NAME: ['aliyun', 'signName'],
  KANJIA_ALIYUN_TEMPLATE_ALARM: ['aliyun', 'templateAlarm'],
  KANJIA_ALIYUN_TEMPLATE_ESCALATION: ['aliyun', 'templateEscalation'],
  KANJIA_ALIYUN_TEMPLATE_CANCELLED: ['aliyun', 'templateCancelled'],
  KANJIA_ALIYUN_TEMPLATE_CODES: ['aliyun', 'templateCodes'],
  KANJIA_ALIYUN_TEMPLATE_VISIT_REMINDER: ['aliyun', 'templateVisitReminder'],
  KANJIA_ALIYUN_ENDPOINT: ['aliyun', 'endpoint'],
  KANJIA_ALIYUN_PROTOCOL: ['aliyun', 'protocol'],
  KANJIA_ALIYUN_TIMEOUT_MS: ['aliyun', 'timeoutMs'],
  KANJIA_LOG_LEVEL: ['logLevel'],
  KANJIA_DEVICE_KEY: ['deviceKey'],
  KANJIA_MAP_TILES: ['mapTiles'],
  KANJIA_TIANDITU_KEY: ['mapTiandituKey'],
  KANJIA_MAP_TILE_CRS: ['mapTileCrs'],
  KANJIA_TRUST_PROXY: ['trustProxy'],
  KANJIA_METRICS_ADDRESS: ['metricsAddress'],
  KANJIA_METRICS_TOKEN: ['metricsToken'],
  KANJIA_INFLUX_URL: ['influx', 'url'],
  KANJIA_INFLUX_TOKEN: ['influx', 'token'],
  KANJIA_INFLUX_ORG: ['influx', 'org'],
  KANJIA_INFLUX_BUCKET: ['influx', 'bucket'],
  KANJIA_INFLUX_QUERY: ['influx', 'query'],
  KANJIA_INFLUX_BUFFER_MB: ['influx', 'bufferMb'],
  KANJIA_VISIT_FREQUENCY_ORDINARY: ['visitFrequencyOrdinary'],
  KANJIA_VISIT_FREQUENCY_ESPECIALLY_DIFFICULT: ['visitFrequencyEspeciallyDifficult'],
  KANJIA_VISIT_REMINDER_HOUR: ['visitReminderHour'],
};
/** Read by loadSettings itself, not a setting. */
const META_VARS = new Set(['KANJIA_CONFIG_FILE']);

export class SettingsError extends KanjiaError<'SETTINGS_INVALID'> {
  override readonly name = 'SettingsError';
  constructor(readonly problems: string[]) {
    super('SETTINGS_INVALID', `Kanjia cannot start; fix these settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
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
function envNameOf(path: PropertyKey[], set: ReadonlySet<string> = new Set()): string | undefined {
  let best: { name: string; length: number } | undefined;
  // The longest variable whose path leads to the problem, of those set when any is (KANJIA_DINGTALK_ROBOTS before the
  // shorthand KANJIA_DINGTALK_WEBHOOK, when the map is what was given).
  const candidates = Object.entries(ENV_VARS).filter(([, p]) => p.length <= path.length && p.every((key, i) => key === path[i]));
  const given = candidates.filter(([name]) => set.has(name));
  for (const [name, p] of given.length > 0 ? given : candidates) {
    if (p.length > (best?.length ?? 0)) best = { name, length: p.length };
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
      const where = envNameOf(issue.path, new Set(Object.keys(env).filter((name) => env[name] !== undefined && env[name] !== ''))) ?? (issue.path.join('.') || '(settings)');
      problems.push(`${where}: ${issue.message}`);
    }
  }
  if (problems.length > 0 || !result.success) throw new SettingsError(problems);
  return Object.freeze(result.data);
}
