/**
 * The words of every SMS and of every alarm kind, in Simplified Chinese (the
 * default) and English. The dashboard and the SMS must use the same labels, so
 * both read ALARM_KIND_LABELS. This module imports only types: it runs in the
 * browser too.
 *
 * The texts are written for a basic phone and an old reader: short, plain,
 * who / where / what / since when, then what to do.
 */
import type { AlarmKind } from '@kanjia/protocol';
import type { SmsTemplateKey } from '../sms/sms-sender.js';

export const SMS_LOCALES = ['zh-CN', 'en'] as const;
export type SmsLocale = (typeof SMS_LOCALES)[number];
export const DEFAULT_SMS_LOCALE: SmsLocale = 'zh-CN';

/** Sign name (短信签名) used in `text` when none is given; the real one is registered with Aliyun. */
export const DEFAULT_SMS_SIGN_NAME = '智慧看家';

/**
 * Aliyun limits each template variable: the "other" variable types accept at most
 * 35 characters, and a longer value makes SendSms fail with isv.PARAM_LENGTH_LIMIT.
 * We cut every value to this length (ending with …) rather than lose the SMS.
 */
export const SMS_PARAM_MAX_CHARS = 35;

/** Village time zone used when a configured IANA zone is unknown to this runtime (all villages are in China). */
export const FALLBACK_TIME_ZONE = 'Asia/Shanghai';

/** The label of every alarm kind, as the SMS and the dashboard show it. */
export const ALARM_KIND_LABELS: Readonly<Record<SmsLocale, Readonly<Record<AlarmKind, string>>>> = {
  'zh-CN': {
    sos: '紧急呼叫',
    fall: '跌倒',
    inactivity: '长时间无活动',
    missedCheckIn: '未平安打卡',
    deviceOffline: '设备离线',
    lowBattery: '电量低',
    co: '一氧化碳',
    smoke: '烟雾',
    gas: '燃气',
    waterLeak: '漏水',
    cold: '室温过低',
    heat: '室温过高',
  },
  en: {
    sos: 'SOS call',
    fall: 'Fall',
    inactivity: 'Long inactivity',
    missedCheckIn: 'Missed check-in',
    deviceOffline: 'Device offline',
    lowBattery: 'Low battery',
    co: 'Carbon monoxide',
    smoke: 'Smoke',
    gas: 'Gas',
    waterLeak: 'Water leak',
    cold: 'Room too cold',
    heat: 'Room too hot',
  },
};

/** The label of an alarm kind in the given locale. */
export function alarmKindLabel(kind: AlarmKind, locale: SmsLocale = DEFAULT_SMS_LOCALE): string {
  return ALARM_KIND_LABELS[locale][kind];
}

export interface SmsTemplateDefinition {
  /** Variable names, as registered with the provider. */
  readonly variables: readonly string[];
  /** Template content with ${var} placeholders, exactly as registered (Aliyun adds the 【sign】 itself). */
  readonly content: Readonly<Record<SmsLocale, string>>;
}

const CALL_TO_ACTION: Record<SmsLocale, string> = {
  'zh-CN': '请立即联系或前往查看。',
  en: 'Please call or go there now.',
};

/**
 * The registered templates. `kind` is a label from ALARM_KIND_LABELS, `time`
 * is HH:mm in the village's time zone, `minutes` a whole number.
 */
export const SMS_TEMPLATES: Readonly<Record<SmsTemplateKey, SmsTemplateDefinition>> = {
  alarm: {
    variables: ['kind', 'name', 'village', 'time', 'address'],
    content: {
      'zh-CN': '${kind}报警：${name}（${village}），${time}起，地址：${address}。' + CALL_TO_ACTION['zh-CN'],
      en: '${kind} alarm: ${name} (${village}) since ${time}. Address: ${address}. ' + CALL_TO_ACTION.en,
    },
  },
  escalation: {
    variables: ['kind', 'minutes', 'name', 'village', 'time', 'address'],
    content: {
      'zh-CN': '${kind}报警已${minutes}分钟无人响应：${name}（${village}），${time}起，地址：${address}。' + CALL_TO_ACTION['zh-CN'],
      en: '${kind} alarm, nobody has answered for ${minutes} min: ${name} (${village}) since ${time}. Address: ${address}. ' + CALL_TO_ACTION.en,
    },
  },
};

export interface RenderSmsInput {
  kind: AlarmKind;
  residentName: string;
  address: string;
  villageName: string;
  /** When the alarm began (ms since epoch, UTC); shown as HH:mm in `timeZone`. */
  atMs: number;
  /** The village's IANA time zone, e.g. Asia/Shanghai. */
  timeZone: string;
  /** Minutes the case has stayed untaken; required by the escalation template. */
  minutesUnanswered?: number;
  locale?: SmsLocale;
  /** Sign name shown in 【】 at the start of `text`; defaults to DEFAULT_SMS_SIGN_NAME. */
  signName?: string;
}

export interface RenderedSms {
  /** Template variables, each at most SMS_PARAM_MAX_CHARS characters. */
  params: Record<string, string>;
  /** The whole SMS as a reader sees it, 【sign】 first, with the values in full (free-text channels have no variable limit). */
  text: string;
}

/** Renders a template's variables and full text for one alarm. */
export function renderSms(template: SmsTemplateKey, input: RenderSmsInput): RenderedSms {
  const locale = input.locale ?? DEFAULT_SMS_LOCALE;
  const definition = SMS_TEMPLATES[template];
  const values: Record<string, string> = {
    kind: alarmKindLabel(input.kind, locale),
    name: cleanValue(input.residentName),
    village: cleanValue(input.villageName),
    time: formatLocalTime(input.atMs, input.timeZone),
    address: cleanValue(input.address),
  };
  if (definition.variables.includes('minutes')) {
    if (input.minutesUnanswered === undefined || !Number.isFinite(input.minutesUnanswered)) {
      throw new TypeError(`renderSms: the ${template} template needs minutesUnanswered`);
    }
    values.minutes = String(Math.max(0, Math.round(input.minutesUnanswered)));
  }
  const params: Record<string, string> = {};
  for (const variable of definition.variables) params[variable] = truncateSmsParam(values[variable] ?? '');
  const signName = input.signName ?? DEFAULT_SMS_SIGN_NAME;
  const text = `【${signName}】${fillTemplate(definition.content[locale], values)}`;
  return { params, text };
}

/** Replaces each ${var} by its value; unknown variables stay visible so a mistake shows in the text. */
export function fillTemplate(content: string, values: Readonly<Record<string, string>>): string {
  return content.replace(/\$\{(\w+)\}/g, (placeholder, name: string) => values[name] ?? placeholder);
}

/** Cuts a value to `maxChars` characters (code points), ending with … when cut. */
export function truncateSmsParam(value: string, maxChars = SMS_PARAM_MAX_CHARS): string {
  const chars = Array.from(value);
  if (chars.length <= maxChars) return value;
  return `${chars.slice(0, Math.max(0, maxChars - 1)).join('')}…`;
}

/**
 * One line of plain text: newlines and runs of spaces collapse (a basic phone shows
 * them badly), and 【】 become [] so a value cannot pass for a sign name. An empty
 * value becomes "-": Aliyun rejects empty variables.
 */
function cleanValue(value: string): string {
  const cleaned = value.replace(/\s+/g, ' ').replace(/【/g, '[').replace(/】/g, ']').trim();
  return cleaned === '' ? '-' : cleaned;
}

const timeFormats = new Map<string, Intl.DateTimeFormat>();

function timeFormat(timeZone: string): Intl.DateTimeFormat {
  let format = timeFormats.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    timeFormats.set(timeZone, format);
  }
  return format;
}

/**
 * HH:mm of `atMs` in the IANA `timeZone`. An unknown zone falls back to
 * Asia/Shanghai instead of throwing: losing an alarm SMS over a registry typo
 * is worse than a time shown in Beijing time.
 */
export function formatLocalTime(atMs: number, timeZone: string): string {
  let format: Intl.DateTimeFormat;
  try {
    format = timeFormat(timeZone);
  } catch {
    format = timeFormat(FALLBACK_TIME_ZONE);
  }
  const parts = format.formatToParts(atMs);
  const hour = parts.find((p) => p.type === 'hour')?.value ?? '00';
  const minute = parts.find((p) => p.type === 'minute')?.value ?? '00';
  return `${hour.padStart(2, '0')}:${minute.padStart(2, '0')}`;
}
