/**
 * The words of every SMS and of every alarm kind, in Simplified Chinese (the
 * default) and English. The dashboard and the SMS must use the same labels, so
 * both read ALARM_KIND_LABELS. This module imports nothing but @kanjia/protocol
 * and its siblings, and does no I/O: it runs in the browser too.
 *
 * The texts are written for a basic phone and an old reader: short, plain,
 * who / where / what / since when, then what to do — and what to do depends
 * on the kind, so every kind has its own text (SMS_KIND_TEMPLATES). An SMS
 * provider that needs each template registered (Aliyun) may have only the two
 * generic ones (SMS_TEMPLATES); free-text channels always get the kind's own
 * text. docs/sms-templates.md lists them all for the operator.
 *
 * Every first notice and escalation ends with the link to the helper's answer
 * page. Aliyun refuses a URL in a variable (isv.PARAM_NOT_SUPPORT_URL): the
 * registered template holds the deployment's address as fixed text and only
 * the random answer code is a variable. The contents below hold
 * PUBLIC_URL_PLACEHOLDER where the operator writes their own address.
 */
import type { AlarmKind } from '@kanjia/protocol';
import { ALARM_KINDS } from '@kanjia/protocol';
import { kindTemplateKey, SMS_KIND_ROLES, type SmsKindRole, type SmsKindTemplateKey, type SmsTemplateKey } from '../sms/sms-sender.js';
import { alarmDetail, type AlarmDetails } from './alarm-detail.js';
import { truncateSmsParam } from './sms-param.js';
import type { SmsNoticeKey } from '../sms/sms-notices.js';

export { SMS_PARAM_MAX_CHARS, truncateSmsParam } from './sms-param.js';

export const SMS_LOCALES = ['zh-CN', 'en'] as const;
export type SmsLocale = (typeof SMS_LOCALES)[number];
export const DEFAULT_SMS_LOCALE: SmsLocale = 'zh-CN';

/** Sign name (短信签名) used in `text` when none is given; the real one is registered with Aliyun. */
export const DEFAULT_SMS_SIGN_NAME = '智慧看家';

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
    notBack: '未归',
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
    notBack: 'Not back home',
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

/**
 * Where the registered template holds the deployment's public address (the
 * `publicUrl` setting, e.g. https://kanjia.example.cn): docs/sms-templates.md
 * shows it so, and renderSms writes the real address into the text.
 */
export const PUBLIC_URL_PLACEHOLDER = 'https://your.domain';

/** Path of the helper's answer page under the public address; the code follows it. */
export const ANSWER_PATH = '/a/';

/**
 * The link to the answer page, last in the SMS: a phone finds a URL's end at
 * the end of the text, while Chinese punctuation right after it could be taken
 * for part of it.
 */
const ANSWER_LINK: Readonly<Record<SmsLocale, string>> = {
  'zh-CN': `点此接警：${PUBLIC_URL_PLACEHOLDER}${ANSWER_PATH}\${code}`,
  en: ` Take it here: ${PUBLIC_URL_PLACEHOLDER}${ANSWER_PATH}\${code}`,
};

/** An escalation is the first notice led by how long nobody has taken the case. */
const ESCALATION_LEAD: Readonly<Record<SmsLocale, string>> = {
  'zh-CN': '已${minutes}分钟无人接警！',
  en: 'Not taken for ${minutes} min! ',
};

/**
 * The first notice of each kind. `detail` is the phrase of alarm-detail.ts
 * (figures of the finding); kinds whose detectors carry no figure a helper
 * needs (sos, fall, smoke, gas, waterLeak) leave it out. Each zh text stays
 * within 70 characters (one SMS segment) without its values, and the
 * instructions follow common first-aid advice: do not
 * lift a fallen old person before asking where it hurts; fresh air and out
 * of the house for CO; no switch or flame near a gas leak; 119 for fire,
 * 120 for an ambulance.
 */
const KIND_ALARM_CONTENT: Readonly<Record<AlarmKind, Readonly<Record<SmsLocale, string>>>> = {
  sos: {
    'zh-CN': '紧急呼叫：${name}（${village}）${time}按了紧急按钮。地址：${address}。请马上打电话，打不通立即上门查看。',
    en: 'SOS: ${name} (${village}) pressed the emergency button at ${time}. Address: ${address}. Call now; if nobody answers, go there at once.',
  },
  fall: {
    'zh-CN': '跌倒报警：${name}（${village}）${time}疑似摔倒。地址：${address}。请立即打电话并上门。勿急于扶起老人，先问哪里疼；伤重或叫不醒拨打120。',
    en: 'Fall: ${name} (${village}) may have fallen at ${time}. Address: ${address}. Call and go now. Do not rush to lift them; ask where it hurts. Badly hurt or not answering: call 120.',
  },
  inactivity: {
    'zh-CN': '长时间无活动：${name}（${village}）${detail}，${time}报警。地址：${address}。请立即打电话或上门查看。',
    en: 'Inactivity: ${name} (${village}), ${detail}, alarm at ${time}. Address: ${address}. Call or go and look now.',
  },
  missedCheckIn: {
    'zh-CN': '未平安打卡：${name}（${village}）${detail}，${time}报警。地址：${address}。请打电话或上门确认老人平安。',
    en: 'Missed check-in: ${name} (${village}), ${detail}, alarm at ${time}. Address: ${address}. Call or visit to make sure they are safe.',
  },
  deviceOffline: {
    'zh-CN': '设备离线：${name}（${village}）家中${detail}，${time}报警。地址：${address}。如是紧急按钮，请先打电话确认老人平安，再检查设备电源和信号。',
    en: 'Device offline: ${name} (${village}), ${detail}, alarm at ${time}. Address: ${address}. If it is the SOS button, first call to check on the person, then check its power and signal.',
  },
  lowBattery: {
    'zh-CN': '电量低：${name}（${village}）家中${detail}，${time}报警。地址：${address}。请尽快更换电池；如是紧急按钮，请先打电话确认老人平安。',
    en: 'Low battery: ${name} (${village}), ${detail}, alarm at ${time}. Address: ${address}. Replace the battery soon; if it is the SOS button, first call to check on the person.',
  },
  co: {
    'zh-CN': '一氧化碳报警：${name}（${village}）家中${time}起一氧化碳${detail}。地址：${address}。请立即打电话并前往：开门窗通风，把人移到室外，必要时拨打120。',
    en: 'Carbon monoxide: ${name} (${village}), ${detail} since ${time}. Address: ${address}. Call and go now: open doors and windows, get the person outside, call 120 if needed.',
  },
  smoke: {
    'zh-CN': '烟雾报警：${name}（${village}）家中${time}起烟雾报警器报警。地址：${address}。请立即打电话并前往查看，有火情拨打119。',
    en: 'Smoke: ${name} (${village}), smoke alarm going off since ${time}. Address: ${address}. Call and go now; if there is a fire, call 119.',
  },
  gas: {
    'zh-CN': '燃气报警：${name}（${village}）家中${time}起检测到燃气泄漏。地址：${address}。请立即前往并告知老人：关闭气源、开窗，切勿开关电器或使用明火。',
    en: 'Gas: ${name} (${village}), gas leak since ${time}. Address: ${address}. Go now and tell the person: shut off the gas, open windows, no switches, no flames.',
  },
  waterLeak: {
    'zh-CN': '漏水报警：${name}（${village}）家中${time}起检测到漏水。地址：${address}。请尽快前往关闭总水阀，注意防滑。',
    en: 'Water leak: ${name} (${village}), water leak since ${time}. Address: ${address}. Go soon and close the main water valve; mind wet floors.',
  },
  cold: {
    'zh-CN': '室温过低：${name}（${village}）家中${detail}，${time}报警。地址：${address}。请打电话或上门检查取暖；烧煤取暖要开窗通风，防煤气中毒。',
    en: 'Room too cold: ${name} (${village}), ${detail}, alarm at ${time}. Address: ${address}. Call or visit to check the heating; a coal stove needs an open window (CO).',
  },
  heat: {
    'zh-CN': '室温过高：${name}（${village}）家中${detail}，${time}报警。地址：${address}。请打电话或上门帮老人降温、多喝水；有不适拨打120。',
    en: 'Room too hot: ${name} (${village}), ${detail}, alarm at ${time}. Address: ${address}. Call or visit: cool the person down, give water; call 120 if unwell.',
  },
  // A notice, not an alarm: the house is not silent, the person went out and is later than ever before.
  notBack: {
    'zh-CN': '未归提醒：${name}（${village}）${detail}，比平时出门久得多，${time}提醒。地址：${address}。请给老人打个电话问问是否平安，联系不上请上门看看。',
    en: 'Not back home: ${name} (${village}), ${detail}, out much longer than usual, notice at ${time}. Address: ${address}. Please call to ask whether they are all right; if you cannot reach them, go and look.',
  },
};

const GENERIC_ALARM_CONTENT: Readonly<Record<SmsLocale, string>> = {
  'zh-CN': '${kind}报警：${name}（${village}），${time}起，${detail}。地址：${address}。请立即联系或前往查看。',
  en: '${kind} alarm: ${name} (${village}) since ${time}, ${detail}. Address: ${address}. Please call or go there now.',
};

/**
 * The first notice of a critical case that someone at the duty desk (a duty
 * officer, the township office, an admin) cancelled (a false alarm) before it
 * went out: the contact still learns that the button was pressed, and who
 * called it off and why, so nobody is dropped silently. `officer` names the
 * canceller with their role ("值班员李明", "民政办张红"). No link: the case is
 * closed, so its answer code has expired.
 */
const CANCELLED_CONTENT: Readonly<Record<SmsLocale, string>> = {
  'zh-CN': '${kind}报警已取消：${name}（${village}）${time}起，${detail}，已被${officer}取消，原因：${reason}。地址：${address}。如有疑问请打电话确认老人平安。',
  en: '${kind} alarm cancelled: ${name} (${village}) since ${time}, ${detail}; cancelled by ${officer}, reason: ${reason}. Address: ${address}. If in doubt, call to make sure they are safe.',
};

/** The role titles a canceller's name may start with ("值班员 李明"), and how each locale says it in the cancelled SMS. */
const ACTOR_TITLES: ReadonlyArray<{ zh: string; en: string }> = [
  { zh: '值班员', en: 'duty officer' },
  { zh: '民政办', en: 'township office' },
  { zh: '管理员', en: 'administrator' },
  { zh: '帮扶责任人', en: 'helper' },
];

/** "值班员 李明" → 值班员李明 (zh) / duty officer 李明 (en); a name without a known title is kept as it is. */
function actorPhrase(by: string, locale: SmsLocale): string {
  const text = by.trim();
  for (const title of ACTOR_TITLES) {
    for (const said of [title.zh, title.en]) {
      if (text.toLowerCase().startsWith(said.toLowerCase())) {
        const name = text.slice(said.length).trim();
        return locale === 'en' ? `${title.en} ${name}`.trim() : `${title.zh}${name}`;
      }
    }
  }
  return text;
}

/** The placeholders of `content`, each once, in order of appearance. */
export function templateVariables(content: string): string[] {
  return [...new Set(Array.from(content.matchAll(/\$\{(\w+)\}/g), (m) => m[1] as string))];
}

/** A template of `template`'s role from the first notice's content, the answer link last; its variables are those of the zh text. */
function templateOf(alarmContent: Readonly<Record<SmsLocale, string>>, template: SmsKindRole): SmsTemplateDefinition {
  const of = (locale: SmsLocale) => (template === 'escalation' ? ESCALATION_LEAD[locale] : '') + alarmContent[locale] + ANSWER_LINK[locale];
  const content = { 'zh-CN': of('zh-CN'), en: of('en') };
  return { variables: templateVariables(content['zh-CN']), content };
}

/** The answer link of a template's content, as it ends it (for length checks and docs). */
export function answerLinkOf(locale: SmsLocale): string {
  return ANSWER_LINK[locale];
}

/**
 * The generic templates, one per role, for every kind: the two an Aliyun
 * account must register. `kind` is a label from ALARM_KIND_LABELS, `time` is
 * HH:mm in the village's time zone, `minutes` a whole number, `detail` the
 * phrase of alarmDetail, `code` the answer code of the link. Their variables
 * include those of every per-kind template. `cancelled` has no per-kind variants.
 */
export const SMS_TEMPLATES: Readonly<Record<SmsTemplateKey, SmsTemplateDefinition>> = {
  alarm: templateOf(GENERIC_ALARM_CONTENT, 'alarm'),
  escalation: templateOf(GENERIC_ALARM_CONTENT, 'escalation'),
  cancelled: { variables: templateVariables(CANCELLED_CONTENT['zh-CN']), content: CANCELLED_CONTENT },
};

/** Each kind's own template of each role (`alarm.co`, `escalation.fall`, …); registering them with Aliyun is optional. */
export const SMS_KIND_TEMPLATES: Readonly<Record<SmsKindTemplateKey, SmsTemplateDefinition>> = Object.fromEntries(
  SMS_KIND_ROLES.flatMap((template) => ALARM_KINDS.map((kind) => [`${template}.${kind}`, templateOf(KIND_ALARM_CONTENT[kind], template)])),
) as Record<SmsKindTemplateKey, SmsTemplateDefinition>;

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
  /** The `details` of the finding that opened the case, for the `detail` phrase (alarmDetail); anything, missing or odd is fine. */
  details?: AlarmDetails;
  locale?: SmsLocale;
  /** Sign name shown in 【】 at the start of `text`; defaults to DEFAULT_SMS_SIGN_NAME. */
  signName?: string;
  /** The answer code of this SMS's link; required by the alarm and escalation templates. */
  answerCode?: string;
  /** The deployment's public address (scheme, host, optional port and path), e.g. https://kanjia.example.cn; required with answerCode. */
  publicUrl?: string;
  /** Cancelled template only: who cancelled, their role title first as the dashboard records it ("值班员 李明", "民政办 张红"). */
  cancelledBy?: string;
  /** Cancelled template only: why. */
  cancelReason?: string;
}

export interface RenderedSms {
  /**
   * The variables of the generic template of the role, each at most
   * SMS_PARAM_MAX_CHARS characters: a superset of those of the kind's own
   * template, so a provider can send either.
   */
  params: Record<string, string>;
  /**
   * The kind's own text as a reader sees it, 【sign】 first, with the values in
   * full (free-text channels have no variable limit).
   */
  text: string;
}

/** Renders the variables and the kind's full text of one alarm SMS of the given role. */
export function renderSms(template: SmsTemplateKey, input: RenderSmsInput): RenderedSms {
  const locale = input.locale ?? DEFAULT_SMS_LOCALE;
  const definition = SMS_TEMPLATES[template];
  const kindKey = kindTemplateKey(template, input.kind);
  const own = (kindKey === undefined ? undefined : SMS_KIND_TEMPLATES[kindKey]) ?? definition;
  const values: Record<string, string> = {
    kind: alarmKindLabel(input.kind, locale),
    name: cleanValue(input.residentName),
    village: cleanValue(input.villageName),
    time: formatLocalTime(input.atMs, input.timeZone),
    address: cleanValue(input.address),
    detail: cleanValue(alarmDetail(input.kind, input.details, locale)),
  };
  if (definition.variables.includes('minutes')) {
    if (input.minutesUnanswered === undefined || !Number.isFinite(input.minutesUnanswered)) {
      throw new TypeError(`renderSms: the ${template} template needs minutesUnanswered`);
    }
    values.minutes = String(Math.max(0, Math.round(input.minutesUnanswered)));
  }
  let publicUrl = PUBLIC_URL_PLACEHOLDER;
  if (definition.variables.includes('code')) {
    if (!input.answerCode || !input.publicUrl) throw new TypeError(`renderSms: the ${template} template needs answerCode and publicUrl`);
    values.code = input.answerCode;
    publicUrl = trimPublicUrl(input.publicUrl);
  }
  if (definition.variables.includes('officer')) {
    if (input.cancelledBy === undefined || input.cancelReason === undefined) throw new TypeError(`renderSms: the ${template} template needs cancelledBy and cancelReason`);
    // The canceller's own role, from the title their name starts with: the template no longer says 值班员 for everyone.
    values.officer = cleanValue(actorPhrase(input.cancelledBy, locale));
    values.reason = cleanValue(input.cancelReason);
  }
  const params: Record<string, string> = {};
  for (const variable of definition.variables) params[variable] = truncateSmsParam(values[variable] ?? '');
  const signName = input.signName ?? DEFAULT_SMS_SIGN_NAME;
  const content = own.content[locale].split(PUBLIC_URL_PLACEHOLDER + ANSWER_PATH).join(publicUrl + ANSWER_PATH);
  const text = `【${signName}】${fillTemplate(content, values)}`;
  return { params, text };
}

/** A public address without the trailing slash, so the link has exactly one before `a/`. */
export function trimPublicUrl(publicUrl: string): string {
  return publicUrl.replace(/\/+$/, '');
}

/** Replaces each ${var} by its value; unknown variables stay visible so a mistake shows in the text. */
export function fillTemplate(content: string, values: Readonly<Record<string, string>>): string {
  return content.replace(/\$\{(\w+)\}/g, (placeholder, name: string) => values[name] ?? placeholder);
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
  // HH:mm changes once a minute: the SMS of a burst in the same zone and minute share one formatting (formatToParts is
  // the costly part of rendering an alarm SMS). Every zone's offset is whole minutes, so the minute since the epoch is
  // a safe key.
  const minute = Math.floor(atMs / 60_000);
  const last = lastFormatted.get(timeZone);
  if (last !== undefined && last.minute === minute) return last.text;
  const text = formatMinute(atMs, timeZone);
  lastFormatted.set(timeZone, { minute, text });
  return text;
}

/** Per zone, the last minute formatted (formatLocalTime). */
const lastFormatted = new Map<string, { minute: number; text: string }>();

function formatMinute(atMs: number, timeZone: string): string {
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

/**
 * The notices that are not about a case (sms/sms-notices.ts), each a template
 * of its own to register. `visitReminder`, the evening before visits fall due
 * (docs/township.md): `helper` the helper's name, `count` how many of their
 * people are due, `names` those people's names (cut to the variable limit;
 * the free text has them all), `date` the day they are due (12月4日 / 4 Dec).
 * The date is written out rather than "明天": a reminder re-sent after midnight
 * (a restart) must still be right.
 */
export const SMS_NOTICE_TEMPLATES: Readonly<Record<SmsNoticeKey, SmsTemplateDefinition>> = {
  visitReminder: {
    variables: ['helper', 'count', 'date', 'names'],
    content: {
      'zh-CN': '探访提醒：${helper}您好，您帮扶的${count}位老人${date}到期应探访：${names}。请按时上门或电话探访，并记录探访情况。',
      en: 'Visit reminder: ${helper}, ${count} of the people you help are due a visit on ${date}: ${names}. Please visit or call them and record the visit.',
    },
  },
};

export interface RenderVisitReminderInput {
  helperName: string;
  /** The people due, in the order they are listed. */
  residentNames: readonly string[];
  /** The day they are due, YYYY-MM-DD in the village's calendar. */
  dueDate: string;
  locale?: SmsLocale;
  signName?: string;
}

const MONTHS_EN = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The variables (each cut to the provider's limit) and the full text of one visit reminder. */
export function renderVisitReminder(input: RenderVisitReminderInput): RenderedSms {
  const locale = input.locale ?? DEFAULT_SMS_LOCALE;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(input.dueDate);
  if (m === null) throw new RangeError(`renderVisitReminder: dueDate must be YYYY-MM-DD, got "${input.dueDate}"`);
  const [month, day] = [Number(m[2]), Number(m[3])];
  const values: Record<string, string> = {
    helper: cleanValue(input.helperName),
    count: String(input.residentNames.length),
    names: cleanValue(input.residentNames.map(cleanValue).join(locale === 'en' ? ', ' : '、')),
    date: locale === 'en' ? `${day} ${MONTHS_EN[month - 1] ?? ''}` : `${month}月${day}日`,
  };
  const definition = SMS_NOTICE_TEMPLATES.visitReminder;
  const params: Record<string, string> = {};
  for (const variable of definition.variables) params[variable] = truncateSmsParam(values[variable] ?? '');
  return { params, text: `【${input.signName ?? DEFAULT_SMS_SIGN_NAME}】${fillTemplate(definition.content[locale], values)}` };
}
