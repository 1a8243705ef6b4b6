/**
 * Which channels a notice goes through, in which order, and when it moves on
 * (alerts/README.md "Channels and failover"). Pure rules: the store writes a
 * notice's route on its row when it queues it and carries the moves out.
 *
 * Three purposes of a notice:
 * - `chain`: the case's notice to one contact of the resident's chain (the
 *   first notice, an escalation, the cancelled notice). Its route is the SMS
 *   channels in order, then for a critical case the voice channel (the same
 *   phone rung), then the duty group (the group robot: "nobody could reach
 *   this contact, phone them"). It is what the escalation waits for.
 * - `call`: a voice call besides the SMS (a critical case at night, or an SMS
 *   that went unanswered for the escalation time). Its route is the voice
 *   channel alone: the SMS is already the other way. It never holds or moves
 *   the escalation.
 * - `group`: a post to the village's duty group (a case opened, taken,
 *   closed). Its route is the group channel alone.
 */
import type { AlarmKind, Severity } from '@kanjia/protocol';
import type { ChannelMedium } from './channel.js';

export type NoticePurpose = 'chain' | 'call' | 'group';

export const NOTICE_PURPOSES: readonly NoticePurpose[] = ['chain', 'call', 'group'];

/** Hours of the night as minutes of the village's local day; `from` > `to` spans midnight. */
export interface NightWindow {
  fromMinute: number;
  toMinute: number;
}

/** 22:00 to 07:00, the default. */
export const DEFAULT_NIGHT: NightWindow = { fromMinute: 22 * 60, toMinute: 7 * 60 };

export interface ChannelPlan {
  /** The SMS channels, first choice first (e.g. aliyun, then twilio). At least one. */
  sms: readonly string[];
  /** The voice channel, if one is configured. */
  voice?: string;
  /** The duty group channel (a group robot), if one is configured. */
  group?: string;
  /** Kinds that get a voice call; default: every critical kind. */
  callKinds?: ReadonlySet<AlarmKind>;
  /** When a critical case gets a call besides its SMS; null: never by the hour. */
  callAtNight: NightWindow | null;
  /** A call to the contact whose SMS went unanswered for the escalation time. */
  callOnUnanswered: boolean;
  /** How long a notice may wait on one channel (outage, retries) before it moves to the next, by severity. */
  failoverAfterMs: Readonly<Record<Severity, number>>;
  /** A critical case's SMS not delivered within this time counts as not reached: the escalation moves on. */
  deliveryDeadlineMs: number;
}

/** Defaults: 2 minutes on one channel for a critical case, 10 for the others; 5 minutes to be delivered. */
export const DEFAULT_FAILOVER_AFTER_MS: Readonly<Record<Severity, number>> = { critical: 2 * 60_000, urgent: 10 * 60_000, maintenance: 30 * 60_000 };
export const DEFAULT_DELIVERY_DEADLINE_MS = 5 * 60_000;

/** A plan with one SMS channel and nothing else (the behaviour before channels had routes). */
export function smsOnlyPlan(sms: string): ChannelPlan {
  return { sms: [sms], callAtNight: null, callOnUnanswered: false, failoverAfterMs: DEFAULT_FAILOVER_AFTER_MS, deliveryDeadlineMs: DEFAULT_DELIVERY_DEADLINE_MS };
}

/** The channels a notice of `purpose` for a case of `severity` goes through, in order; empty when it has none. */
export function routeFor(plan: ChannelPlan, purpose: NoticePurpose, severity: Severity): string[] {
  if (purpose === 'call') return plan.voice === undefined ? [] : [plan.voice];
  if (purpose === 'group') return plan.group === undefined ? [] : [plan.group];
  const route = [...plan.sms];
  if (severity === 'critical' && plan.voice !== undefined) route.push(plan.voice);
  if (plan.group !== undefined) route.push(plan.group);
  return [...new Set(route)];
}

/** Whether a case of this kind and severity may get voice calls at all. */
export function callsKind(plan: ChannelPlan, kind: AlarmKind, severity: Severity): boolean {
  if (plan.voice === undefined) return false;
  return plan.callKinds === undefined ? severity === 'critical' : plan.callKinds.has(kind);
}

/** Minutes since local midnight at `atMs` in `timeZone`. */
export function localMinuteOfDay(atMs: number, timeZone: string): number {
  const parts = minuteFormatter(timeZone).formatToParts(new Date(atMs));
  const hour = Number(parts.find((p) => p.type === 'hour')?.value ?? '0') % 24;
  const minute = Number(parts.find((p) => p.type === 'minute')?.value ?? '0');
  return hour * 60 + minute;
}

/** Whether `atMs` falls in the night window in the village's zone (from inclusive, to exclusive). */
export function isNight(window: NightWindow, atMs: number, timeZone: string): boolean {
  const m = localMinuteOfDay(atMs, timeZone);
  return window.fromMinute <= window.toMinute ? m >= window.fromMinute && m < window.toMinute : m >= window.fromMinute || m < window.toMinute;
}

/** Whether the first notice of a case opened at `atMs` gets a call besides its SMS. */
export function callsWithFirstNotice(plan: ChannelPlan, kind: AlarmKind, severity: Severity, atMs: number, timeZone: string): boolean {
  return callsKind(plan, kind, severity) && plan.callAtNight !== null && isNight(plan.callAtNight, atMs, timeZone);
}

/** "22:00-07:00" → a window; throws a clear error for anything else. */
export function parseNightWindow(text: string): NightWindow {
  const match = /^\s*([01]?\d|2[0-3]):([0-5]\d)\s*-\s*([01]?\d|2[0-3]):([0-5]\d)\s*$/.exec(text);
  if (!match) throw new Error(`"${text}" is not a time window like 22:00-07:00`);
  const [, fh, fm, th, tm] = match as unknown as [string, string, string, string, string];
  const window = { fromMinute: Number(fh) * 60 + Number(fm), toMinute: Number(th) * 60 + Number(tm) };
  if (window.fromMinute === window.toMinute) throw new Error(`"${text}" is an empty window: its start and end are the same`);
  return window;
}

/** The medium of a channel name in a plan with `media`; a name not listed is an SMS channel (rows written before routes). */
export function mediumOf(media: Readonly<Record<string, ChannelMedium>>, channel: string): ChannelMedium {
  return media[channel] ?? 'sms';
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function minuteFormatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    try {
      f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      f = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    }
    formatters.set(timeZone, f);
  }
  return f;
}
