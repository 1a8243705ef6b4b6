/**
 * The `detail` variable of an alarm SMS: one short phrase with the figures of
 * the finding that opened the case ("自07:12起已3小时20分无活动", "浓度320ppm"),
 * built from the detector's `details` record. Pure and without I/O: it runs in
 * the browser too.
 *
 * The keys read here are the ones the detectors emit (detection/src/*): a
 * detector that renames a key loses its figures in the SMS, never the SMS. A
 * missing, mistyped or out-of-range value is left out; with nothing usable the
 * phrase is a plain sentence for the kind. The result is never empty (Aliyun
 * rejects an empty variable) and never longer than SMS_PARAM_MAX_CHARS.
 */
import type { AlarmKind, DeviceKind } from '@kanjia/protocol';
import { SMS_PARAM_MAX_CHARS, truncateSmsParam } from './sms-param.js';
import type { SmsLocale } from './sms-templates.js';

/** A finding's `details` as stored or received: anything, trusted for nothing. */
export type AlarmDetails = Readonly<Record<string, unknown>> | null | undefined;

/** What the phrase says when the details give nothing to say. */
const PLAIN: Readonly<Record<SmsLocale, Readonly<Record<AlarmKind, string>>>> = {
  'zh-CN': {
    sos: '老人按了紧急按钮',
    fall: '疑似跌倒',
    inactivity: '长时间没有活动迹象',
    missedCheckIn: '未按时按平安键',
    deviceOffline: '设备已离线',
    lowBattery: '设备电量低',
    co: '浓度超标',
    smoke: '烟雾报警器报警',
    gas: '检测到燃气泄漏',
    waterLeak: '检测到漏水',
    cold: '温度过低',
    heat: '温度过高',
    notBack: '出门后很久未归',
  },
  en: {
    sos: 'SOS button pressed',
    fall: 'a fall was detected',
    inactivity: 'no sign of life for a long time',
    missedCheckIn: 'no check-in press in time',
    deviceOffline: 'a device is offline',
    lowBattery: 'a device battery is low',
    co: 'CO above the safe limit',
    smoke: 'smoke alarm going off',
    gas: 'gas leak detected',
    waterLeak: 'water leak detected',
    cold: 'room too cold',
    heat: 'room too hot',
    notBack: 'went out and is not back',
  },
};

/** For a kind this module does not know (a newer database, a typo): still a phrase. */
const PLAIN_UNKNOWN_KIND: Readonly<Record<SmsLocale, string>> = { 'zh-CN': '请查看报警详情', en: 'see the alarm for details' };

/** Device kinds as the care team calls them; every emergency button reads "紧急按钮" so the SMS's "如是紧急按钮" matches it. */
const DEVICE_WORDS: Readonly<Record<SmsLocale, Readonly<Record<DeviceKind, string>>>> = {
  'zh-CN': {
    sosButton: '紧急按钮',
    pendant: '随身紧急按钮',
    checkInButton: '平安键',
    motionSensor: '人体感应器',
    doorSensor: '门磁',
    coSensor: '一氧化碳报警器',
    smokeSensor: '烟雾报警器',
    thermometer: '温度计',
    waterLeakSensor: '漏水感应器',
    powerMeter: '计量插座',
    bedSensor: '床垫感应器',
    hub: '网关',
  },
  en: {
    sosButton: 'SOS button',
    pendant: 'SOS pendant',
    checkInButton: 'check-in button',
    motionSensor: 'motion sensor',
    doorSensor: 'door sensor',
    coSensor: 'CO alarm',
    smokeSensor: 'smoke alarm',
    thermometer: 'thermometer',
    waterLeakSensor: 'leak sensor',
    powerMeter: 'power meter',
    bedSensor: 'bed sensor',
    hub: 'hub',
  },
};

const GENERIC_DEVICE: Readonly<Record<SmsLocale, string>> = { 'zh-CN': '设备', en: 'device' };

/**
 * The `detail` phrase of an alarm of `kind` from its finding's `details`, at
 * most SMS_PARAM_MAX_CHARS characters, never empty; never throws.
 */
export function alarmDetail(kind: AlarmKind, details: AlarmDetails, locale: SmsLocale = 'zh-CN'): string {
  const d: Readonly<Record<string, unknown>> = typeof details === 'object' && details !== null && !Array.isArray(details) ? details : {};
  const words = PLAIN[locale] ?? PLAIN['zh-CN'];
  const plain = Object.hasOwn(words, kind) ? words[kind] : (PLAIN_UNKNOWN_KIND[locale] ?? PLAIN_UNKNOWN_KIND['zh-CN']);
  const phrase = specificPhrase(kind, d, locale === 'en' ? 'en' : 'zh-CN');
  return truncateSmsParam(phrase ?? plain, SMS_PARAM_MAX_CHARS);
}

/** The phrase with the figures, or undefined when the details hold none worth saying. */
function specificPhrase(kind: AlarmKind, d: Readonly<Record<string, unknown>>, locale: SmsLocale): string | undefined {
  const zh = locale === 'zh-CN';
  switch (kind) {
    case 'inactivity':
      return inactivityPhrase(d, zh);
    case 'notBack':
      return inactivityPhrase({ ...d, context: 'out' }, zh);
    case 'missedCheckIn': {
      const days = wholeNumber(d.daysMissed);
      // Day 1 names the window; from day 2 the streak is what matters.
      if (days !== undefined && days >= 2) return zh ? `已连续${days}天未按平安键` : `no check-in for ${days} days in a row`;
      const start = clockTime(d.windowStart);
      const end = clockTime(d.windowEnd);
      if (start === undefined || end === undefined) return undefined;
      return zh ? `${start}–${end}未按平安键` : `no check-in press ${start}–${end}`;
    }
    case 'deviceOffline': {
      const known = deviceWord(d, locale);
      const device = known ?? GENERIC_DEVICE[locale];
      if (d.neverSeen === true) return zh ? `${device}安装后从未上线` : `${device} never came online`;
      const silentMin = minutes(d.silentMin);
      // "down", not "offline for": the English phrase must fit 35 characters too.
      if (silentMin !== undefined) return zh ? `${device}已离线${duration(silentMin, true)}` : `${device} down for ${duration(silentMin, false)}`;
      if (known === undefined) return undefined;
      return zh ? `${known}已离线` : `${known} offline`;
    }
    case 'lowBattery': {
      const known = deviceWord(d, locale);
      const device = known ?? GENERIC_DEVICE[locale];
      const pct = finite(d.batteryPct);
      if (pct !== undefined && pct >= 0 && pct <= 100) return zh ? `${device}电量仅剩${Math.round(pct)}%` : `${device} battery at ${Math.round(pct)}%`;
      if (known === undefined) return undefined;
      return zh ? `${known}电量低` : `${known} battery low`;
    }
    case 'co': {
      const now = ppm(d.coPpm);
      const peak = ppm(d.peakPpm);
      if (now === undefined) return peak === undefined ? undefined : zh ? `最高浓度${peak}ppm` : `CO peak ${peak} ppm`;
      if (peak !== undefined && peak > now) return zh ? `浓度${now}ppm，最高${peak}ppm` : `CO ${now} ppm (peak ${peak} ppm)`;
      return zh ? `浓度${now}ppm` : `CO at ${now} ppm`;
    }
    case 'cold':
    case 'heat': {
      const celsius = finite(d.temperatureC);
      // Below -60 °C or above 80 °C is a broken sensor, not a room.
      const temperature = celsius !== undefined && celsius > -60 && celsius < 80 ? String(Number(celsius.toFixed(1))) : undefined;
      const lasting = minutes(d.minutes);
      if (temperature !== undefined && lasting !== undefined) {
        return zh ? `室温${temperature}℃，已持续${duration(lasting, true)}` : `room at ${temperature} °C for ${duration(lasting, false)}`;
      }
      if (temperature !== undefined) return zh ? `室温${temperature}℃` : `room at ${temperature} °C`;
      if (lasting !== undefined) {
        const what = kind === 'cold' ? (zh ? '低温' : 'too cold') : zh ? '高温' : 'too hot';
        return zh ? `${what}已持续${duration(lasting, true)}` : `${what} for ${duration(lasting, false)}`;
      }
      return undefined;
    }
    // sos, fall, smoke, gas, waterLeak: the detectors' figures (confidence, peak g,
    // readings in a row) mean nothing to a helper; the plain phrase says it all.
    default:
      return undefined;
  }
}

function inactivityPhrase(d: Readonly<Record<string, unknown>>, zh: boolean): string | undefined {
  const silent = minutes(d.silenceMin);
  const lasting = silent === undefined ? undefined : duration(silent, zh);
  const wentOut = clockTime(d.wentOut);
  if (d.context === 'out' && wentOut !== undefined) {
    if (lasting === undefined) return zh ? `${wentOut}出门后未归` : `left ${wentOut}, not back`;
    return zh ? `${wentOut}出门，已${lasting}未归` : `left ${wentOut}, not back for ${lasting}`;
  }
  const since = clockTime(d.lastActivity);
  if (since !== undefined && lasting !== undefined) return zh ? `自${since}起已${lasting}无活动` : `inactive since ${since} (${lasting})`;
  if (since !== undefined) return zh ? `自${since}起无活动` : `inactive since ${since}`;
  if (lasting !== undefined) return zh ? `已${lasting}无活动` : `inactive for ${lasting}`;
  return undefined;
}

/** "紧急按钮", or "唯一的紧急按钮" for the resident's only one; undefined when the details name no known device. */
function deviceWord(d: Readonly<Record<string, unknown>>, locale: SmsLocale): string | undefined {
  const words = DEVICE_WORDS[locale];
  const kind = d.deviceKind;
  const known = typeof kind === 'string' && Object.hasOwn(words, kind) ? words[kind as DeviceKind] : undefined;
  if (d.isOnlyEmergencyButton !== true) return known;
  const word = known ?? GENERIC_DEVICE[locale];
  return locale === 'zh-CN' ? `唯一的${word}` : `only ${word}`;
}

function finite(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function wholeNumber(value: unknown): number | undefined {
  const n = finite(value);
  return n !== undefined && Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** A duration in whole minutes, ≥ 0; a year or more is a wrong clock, not a silence. */
function minutes(value: unknown): number | undefined {
  const n = finite(value);
  return n !== undefined && n >= 0 && n < 366 * 24 * 60 ? Math.round(n) : undefined;
}

/** A CO reading in ppm: sensors read 0–10 000 ppm; anything else is noise. */
function ppm(value: unknown): number | undefined {
  const n = finite(value);
  return n !== undefined && n >= 0 && n <= 10_000 ? Math.round(n) : undefined;
}

/** HH:mm from "HH:mm" or the detectors' local "YYYY-MM-DD HH:mm"; undefined for anything else. */
function clockTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const match = /^(?:\d{4}-\d{2}-\d{2}[ T])?([01]\d|2[0-3]):([0-5]\d)$/.exec(value.trim());
  return match ? `${match[1]}:${match[2]}` : undefined;
}

/** "45分钟", "3小时", "3小时20分", "1天2小时" (zh) or "45 min", "3 h 20 min", "1 d 2 h" (en), of whole minutes ≥ 0. */
function duration(totalMin: number, zh: boolean): string {
  if (totalMin < 60) return zh ? `${totalMin}分钟` : `${totalMin} min`;
  if (totalMin < 24 * 60) {
    const h = Math.floor(totalMin / 60);
    const m = totalMin % 60;
    if (m === 0) return zh ? `${h}小时` : `${h} h`;
    return zh ? `${h}小时${m}分` : `${h} h ${m} min`;
  }
  const days = Math.floor(totalMin / (24 * 60));
  const h = Math.floor((totalMin % (24 * 60)) / 60);
  if (h === 0) return zh ? `${days}天` : `${days} d`;
  return zh ? `${days}天${h}小时` : `${days} d ${h} h`;
}
