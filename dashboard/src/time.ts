/**
 * Times as the duty officer reads them: wall-clock times in the *village's* time
 * zone (never the browser's — the duty PC's zone setting is not to be trusted),
 * and "3分钟前" / "in 2 min" relative to the server-corrected now.
 */
import { isValidTimeZone, toLocalMs } from '@kanjia/protocol';
import { translate, type Lang } from './i18n';

/** China has one civil time zone; the default when a village names none or a bad one. */
export const DEFAULT_TIMEZONE = 'Asia/Shanghai';

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
/** Below this an event reads as "just now"; also absorbs small clock skew. */
const JUST_NOW_MS = 10 * SECOND_MS;

/** `timezone` if Intl knows it, else Asia/Shanghai. */
export function safeTimeZone(timezone: string | null | undefined): string {
  return timezone && isValidTimeZone(timezone) ? timezone : DEFAULT_TIMEZONE;
}

interface ZonedParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: string;
}

/** Short weekday names, Sunday first, as the Intl formats of zh-CN and en print them. */
const WEEKDAYS: Readonly<Record<Lang, readonly string[]>> = {
  zh: ['周日', '周一', '周二', '周三', '周四', '周五', '周六'],
  en: ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'],
};

/** The wall clock in the village's zone (protocol's zone arithmetic, shared with the server). */
function zonedParts(ms: number, timezone: string, lang: Lang): ZonedParts {
  const t = new Date(toLocalMs(safeTimeZone(timezone), ms));
  return {
    year: t.getUTCFullYear(),
    month: t.getUTCMonth() + 1,
    day: t.getUTCDate(),
    hour: t.getUTCHours(),
    minute: t.getUTCMinutes(),
    second: t.getUTCSeconds(),
    weekday: WEEKDAYS[lang][t.getUTCDay()] ?? '',
  };
}

const pad2 = (n: number): string => String(n).padStart(2, '0');
const EN_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** "10:03:07" in the zone. */
export function formatClock(ms: number, timezone: string, lang: Lang): string {
  const p = zonedParts(ms, timezone, lang);
  return `${pad2(p.hour)}:${pad2(p.minute)}:${pad2(p.second)}`;
}

/** "2026年1月15日 周四" / "Thu 15 Jan 2026" in the zone. */
export function formatDate(ms: number, timezone: string, lang: Lang): string {
  const p = zonedParts(ms, timezone, lang);
  return lang === 'zh'
    ? `${p.year}年${p.month}月${p.day}日 ${p.weekday}`
    : `${p.weekday} ${p.day} ${EN_MONTHS[p.month - 1] ?? ''} ${p.year}`;
}

/** The exact time of an event: "1月15日 10:03:07" / "15 Jan 10:03:07" in the zone. */
export function formatDateTime(ms: number, timezone: string, lang: Lang): string {
  const p = zonedParts(ms, timezone, lang);
  const time = `${pad2(p.hour)}:${pad2(p.minute)}:${pad2(p.second)}`;
  return lang === 'zh' ? `${p.month}月${p.day}日 ${time}` : `${p.day} ${EN_MONTHS[p.month - 1] ?? ''} ${time}`;
}

/** How long ago `thenMs` was: "刚刚", "25秒前", "3分钟前", "1小时12分钟前", "2天3小时前". */
export function formatAgo(nowMs: number, thenMs: number, lang: Lang): string {
  const ms = nowMs - thenMs;
  // A future time means the clocks disagree a little; it just happened.
  if (ms < JUST_NOW_MS) return translate(lang, 'time.justNow');
  if (ms < MINUTE_MS) return translate(lang, 'time.secondsAgo', { n: Math.floor(ms / SECOND_MS) });
  if (ms < HOUR_MS) return translate(lang, 'time.minutesAgo', { n: Math.floor(ms / MINUTE_MS) });
  if (ms < DAY_MS) {
    return translate(lang, 'time.hoursAgo', { h: Math.floor(ms / HOUR_MS), m: Math.floor((ms % HOUR_MS) / MINUTE_MS) });
  }
  return translate(lang, 'time.daysAgo', { d: Math.floor(ms / DAY_MS), h: Math.floor((ms % DAY_MS) / HOUR_MS) });
}

/**
 * How long until `thenMs`: "40秒后", "3分钟后", "1小时5分钟后"; null when it is
 * already due. Minutes round up, so "1分钟后" never means "in 1 min 59 s".
 */
export function formatIn(nowMs: number, thenMs: number, lang: Lang): string | null {
  const ms = thenMs - nowMs;
  if (ms <= 0) return null;
  if (ms < MINUTE_MS) return translate(lang, 'time.inSeconds', { n: Math.ceil(ms / SECOND_MS) });
  const minutes = Math.ceil(ms / MINUTE_MS);
  if (minutes < 60) return translate(lang, 'time.inMinutes', { n: minutes });
  return translate(lang, 'time.inHours', { h: Math.floor(minutes / 60), m: minutes % 60 });
}

/**
 * The server's clock minus the browser's, estimated from an HTTP `Date` header
 * (1 s resolution) and the request's start and end on the browser clock. Village
 * PCs often have wrong clocks (a flat CMOS battery resets them to years ago), and
 * "3分钟前" is computed against server timestamps, so the page runs on server time.
 * Returns 0 when the header is missing or the skew is within the header's
 * resolution.
 */
export function estimateServerOffsetMs(dateHeader: string | null, sentAtMs: number, receivedAtMs: number): number {
  if (!dateHeader) return 0;
  const serverMs = Date.parse(dateHeader);
  if (Number.isNaN(serverMs)) return 0;
  // The header truncates to the second: the server's clock was in [serverMs, serverMs + 1 s).
  const offset = serverMs + SECOND_MS / 2 - (sentAtMs + receivedAtMs) / 2;
  return Math.abs(offset) <= 2 * SECOND_MS ? 0 : Math.round(offset);
}
