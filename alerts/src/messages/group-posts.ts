/**
 * The posts of a village's duty group (the DingTalk or WeCom group robot,
 * robots/): a case opened, escalated (nobody took it), taken, closed, and a
 * notice that fell over to the group because no phone could be reached. In
 * Simplified Chinese (the default) and English; no I/O, like sms-templates.ts.
 *
 * Written for a phone in a group chat: a title line with the event, the kind
 * and the person, then 3 to 5 short lines, the link last. The title starts
 * with the sign name (【智慧看家】), so a robot whose security setting is a
 * keyword (自定义关键词) accepts every post with that keyword.
 *
 * A group is many people: a phone number never appears in a post (one found
 * in a free-text value, a reason or an address, is masked), and no health
 * data beyond the alarm's own phrase (alarmDetail).
 */
import type { AlarmKind, Severity } from '@kanjia/protocol';
import { maskPhone } from '@kanjia/protocol';
import { alarmDetail, type AlarmDetails } from './alarm-detail.js';
import { alarmKindLabel, DEFAULT_SMS_LOCALE, DEFAULT_SMS_SIGN_NAME, formatLocalTime, type SmsLocale } from './sms-templates.js';

export const GROUP_POST_EVENTS = ['opened', 'escalated', 'taken', 'closed', 'fellOver'] as const;
export type GroupPostEvent = (typeof GROUP_POST_EVENTS)[number];

/** Whose markdown: DingTalk and WeCom share headings, bold and links, but colour text differently and break lines differently. */
export type GroupPostDialect = 'dingtalk' | 'wecom';

interface GroupPostBase {
  alarmKind: AlarmKind;
  severity: Severity;
  residentName: string;
  villageName: string;
  address: string;
  /** When the alarm began (ms since epoch); shown as HH:mm in `timeZone`. */
  alarmAtMs: number;
  /** The village's IANA time zone, e.g. Asia/Shanghai. */
  timeZone: string;
  /** The finding's details, for the alarm's phrase (alarmDetail). */
  details?: AlarmDetails;
  /** The case on the dashboard, or the answer page; an http(s) address. Absent or not http(s): no link line. */
  link?: string;
  locale?: SmsLocale;
  /** Default dingtalk. */
  dialect?: GroupPostDialect;
  /** Shown in 【】 at the start of the title; default DEFAULT_SMS_SIGN_NAME. */
  signName?: string;
}

export type GroupPostInput = GroupPostBase &
  (
    | { event: 'opened' }
    /** Nobody has taken the case for `minutesUnanswered`; `nextContact` ("村医 李四") is told now. */
    | { event: 'escalated'; minutesUnanswered: number; nextContact: string }
    /** `by` ("帮扶责任人 张三") took it at `atMs`. */
    | { event: 'taken'; by: string; atMs: number }
    /** Resolved or cancelled by `by` at `atMs`, for `reason` (the outcome note or the cancel reason); `falseAlarm`: resolved as one. */
    | { event: 'closed'; outcome: 'resolved' | 'cancelled'; by: string; reason: string; atMs: number; falseAlarm?: boolean }
    /** No channel reached `contact` ("帮扶责任人 张三"): the duty officers must phone. */
    | { event: 'fellOver'; contact: string }
  );

export interface GroupPost {
  /** The title line without markdown: DingTalk's `markdown.title` (the notification's text). */
  title: string;
  /** The whole post, title first as a heading. */
  markdown: string;
  /** Whether the post must wake the group (@all): a critical case opened, an escalation, a fall-over. */
  mentionAll: boolean;
}

const SEVERITY_LABELS: Readonly<Record<SmsLocale, Readonly<Record<Severity, string>>>> = {
  'zh-CN': { critical: '紧急', urgent: '较急', maintenance: '一般' },
  en: { critical: 'Critical', urgent: 'Urgent', maintenance: 'Routine' },
};

interface Words {
  titleEscalated: string;
  titleTaken: string;
  titleResolved: string;
  titleFalseAlarm: string;
  titleCancelled: string;
  titleFellOver: string;
  address: string;
  situation: string;
  alarmAt: string;
  link: string;
  escalated: (minutes: number, next: string) => string;
  taken: (by: string, time: string) => string;
  resolved: (by: string, time: string) => string;
  cancelled: (by: string, time: string) => string;
  reason: string;
  result: string;
  callNow: string;
  notReached: (contact: string) => string;
}

const WORDS: Readonly<Record<SmsLocale, Words>> = {
  'zh-CN': {
    titleEscalated: '无人接警',
    titleTaken: '已接警',
    titleResolved: '已处理',
    titleFalseAlarm: '已处理（误报）',
    titleCancelled: '已取消',
    titleFellOver: '联系不上',
    address: '地址：',
    situation: '情况：',
    alarmAt: '报警时间：',
    link: '查看详情',
    escalated: (minutes, next) => `已${minutes}分钟无人接警，现通知下一位：${next}`,
    taken: (by, time) => `${by} 已于 ${time} 接警`,
    resolved: (by, time) => `${by} 于 ${time} 处理完毕`,
    cancelled: (by, time) => `${by} 于 ${time} 取消`,
    reason: '原因：',
    result: '结果：',
    callNow: '请值班人员立即电话联系',
    notReached: (contact) => `短信和电话均未能送达 ${contact}`,
  },
  en: {
    titleEscalated: 'not taken',
    titleTaken: 'Taken',
    titleResolved: 'Resolved',
    titleFalseAlarm: 'Resolved (false alarm)',
    titleCancelled: 'Cancelled',
    titleFellOver: 'Nobody reached',
    address: 'Address: ',
    situation: 'Situation: ',
    alarmAt: 'Alarm at: ',
    link: 'Open the case',
    escalated: (minutes, next) => `Not taken for ${minutes} min; now telling the next contact: ${next}`,
    taken: (by, time) => `${by} took it at ${time}`,
    resolved: (by, time) => `${by} resolved it at ${time}`,
    cancelled: (by, time) => `${by} cancelled it at ${time}`,
    reason: 'Reason: ',
    result: 'Outcome: ',
    callNow: 'Duty officers: phone them now',
    notReached: (contact) => `Neither SMS nor call reached ${contact}`,
  },
};

/** Renders one post of the duty group. */
export function renderGroupPost(input: GroupPostInput): GroupPost {
  const locale = input.locale ?? DEFAULT_SMS_LOCALE;
  const dialect = input.dialect ?? 'dingtalk';
  const w = WORDS[locale];
  const kind = alarmKindLabel(input.alarmKind, locale);
  const name = cleanValue(input.residentName);
  const sign = `【${cleanValue(input.signName ?? DEFAULT_SMS_SIGN_NAME)}】`;
  const alarmTime = formatLocalTime(input.alarmAtMs, input.timeZone);
  const header = `**${SEVERITY_LABELS[locale][input.severity]}** ${cleanValue(input.villageName)} · ${alarmTime}`;
  const address = `${w.address}${cleanValue(input.address)}`;
  const situation = `${w.situation}${cleanValue(alarmDetail(input.alarmKind, input.details, locale))}`;
  const separator = locale === 'en' ? ': ' : '：';

  let title: string;
  let lines: string[];
  let mentionAll: boolean;
  switch (input.event) {
    case 'opened':
      title = `${sign}${kind} · ${name}`;
      lines = [header, address, situation];
      mentionAll = input.severity === 'critical';
      break;
    case 'escalated': {
      const minutes = Math.max(0, Math.round(Number.isFinite(input.minutesUnanswered) ? input.minutesUnanswered : 0));
      title = `${sign}${kind} · ${name} · ${w.titleEscalated}`;
      lines = [header, `**${w.escalated(minutes, cleanValue(input.nextContact))}**`, address, situation];
      mentionAll = true;
      break;
    }
    case 'taken':
      title = `${sign}${w.titleTaken}${separator}${kind} · ${name}`;
      lines = [w.taken(cleanValue(input.by), formatLocalTime(input.atMs, input.timeZone)), `${w.alarmAt}${cleanValue(input.villageName)} ${alarmTime}`, address];
      mentionAll = false;
      break;
    case 'closed': {
      const resolved = input.outcome === 'resolved';
      const by = cleanValue(input.by);
      const time = formatLocalTime(input.atMs, input.timeZone);
      title = `${sign}${resolved ? (input.falseAlarm === true ? w.titleFalseAlarm : w.titleResolved) : w.titleCancelled}${separator}${kind} · ${name}`;
      lines = [resolved ? w.resolved(by, time) : w.cancelled(by, time), `${resolved ? w.result : w.reason}${cleanValue(input.reason)}`, `${w.alarmAt}${cleanValue(input.villageName)} ${alarmTime}`];
      mentionAll = false;
      break;
    }
    case 'fellOver':
      title = `${sign}${w.titleFellOver}${separator}${kind} · ${name}`;
      lines = [urgentLine(w.callNow, dialect), w.notReached(cleanValue(input.contact)), header, address];
      mentionAll = true;
      break;
  }
  const link = safeLink(input.link);
  if (link !== undefined) lines.push(`[${w.link}](${link})`);
  // DingTalk's markdown joins single line breaks into one paragraph; WeCom keeps them.
  const breakBetween = dialect === 'dingtalk' ? '\n\n' : '\n';
  return { title, markdown: [`### ${title}`, ...lines].join(breakBetween), mentionAll };
}

/** Red and bold: DingTalk takes an HTML colour, WeCom only its named colours (warning is its orange-red). */
function urgentLine(text: string, dialect: GroupPostDialect): string {
  return dialect === 'dingtalk' ? `**<font color=#FF0000>${text}</font>**` : `**<font color="warning">${text}</font>**`;
}

/**
 * One line of a value: whitespace collapsed; markdown's and HTML's special
 * characters replaced by their full-width forms (a name cannot turn into a
 * link, a heading or a colour, and a masked number's stars do not turn
 * into bold); any mobile number masked; at most
 * GROUP_POST_VALUE_MAX_CHARS characters.
 */
function cleanValue(value: string): string {
  const cleaned = value
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)/g, (phone) => maskPhone(phone.replace(/[\s-]/g, '')))
    .replace(/[*_#[\]<>`|~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0));
  if (cleaned === '') return '-';
  // A post stays a few short lines whatever a note holds; each robot limits a post's size.
  const chars = Array.from(cleaned);
  return chars.length > VALUE_MAX_CHARS ? `${chars.slice(0, VALUE_MAX_CHARS - 1).join('')}…` : cleaned;
}

/** The longest value in a post, in characters. */
export const GROUP_POST_VALUE_MAX_CHARS = 120;
const VALUE_MAX_CHARS = GROUP_POST_VALUE_MAX_CHARS;

/** The link when it is an http(s) address without spaces, parentheses or a phone number in it. */
function safeLink(link: string | undefined): string | undefined {
  if (link === undefined || !/^https?:\/\/[^\s()<>]+$/.test(link)) return undefined;
  return /(?<!\d)1[3-9]\d{9}(?!\d)/.test(link) ? undefined : link;
}
