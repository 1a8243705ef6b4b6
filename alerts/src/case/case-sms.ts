/**
 * The SMS texts of a case: what the alarm, escalation and cancelled notices
 * say, whoever they go to. The store writes the rendered text and variables
 * on the notification row, in the transaction that queues it.
 */
import type { AlarmKind } from '@kanjia/protocol';
import type { AlarmDetails } from '../messages/alarm-detail.js';
import { alarmDetail } from '../messages/alarm-detail.js';
import { alarmKindLabel, formatLocalTime, renderSms, truncateSmsParam, type RenderedSms } from '../messages/sms-templates.js';

/** What every SMS about a case says. */
export interface CaseSmsSubject {
  kind: AlarmKind;
  /** The opening finding's details, for the SMS's `detail` phrase. */
  details: AlarmDetails;
  openedAt: number;
  residentName: string;
  address: string;
  villageName: string;
  /** The village's IANA time zone. */
  timeZone: string;
}

export interface CaseSmsOptions {
  locale: 'zh-CN' | 'en';
  /** SMS sign name shown in 【】. */
  signName?: string;
}

/**
 * The first notice (`alarm`) or an escalation of a case, with the answer
 * link's code; an escalation says how long the case has stayed untaken at `nowMs`.
 */
export function caseNoticeSms(
  template: 'alarm' | 'escalation',
  subject: CaseSmsSubject,
  link: { answerCode: string; publicUrl: string },
  nowMs: number,
  options: CaseSmsOptions,
): RenderedSms {
  return renderSms(template, {
    ...subjectInput(subject, options),
    answerCode: link.answerCode,
    publicUrl: link.publicUrl,
    minutesUnanswered: Math.round((nowMs - subject.openedAt) / 60_000),
  });
}

/**
 * The variables of a voice call about a case (the text-to-speech template reads
 * the resident's name, village and the kind; see docs/voice-calls.md), and
 * what it says, for the log and a console channel. No answer code: a call
 * carries no link.
 */
export function caseCallNotice(subject: CaseSmsSubject, options: CaseSmsOptions): RenderedSms {
  const locale = options.locale;
  const params: Record<string, string> = {
    kind: alarmKindLabel(subject.kind, locale),
    name: truncateSmsParam(subject.residentName),
    village: truncateSmsParam(subject.villageName),
    time: formatLocalTime(subject.openedAt, subject.timeZone),
    address: truncateSmsParam(subject.address),
    detail: truncateSmsParam(alarmDetail(subject.kind, subject.details, locale)),
  };
  const text =
    locale === 'en'
      ? `Kanjia emergency call: ${params.kind} alarm for ${params.name} in ${params.village}, since ${params.time}. Please act now.`
      : `智慧看家紧急通知：${params.village}的${params.name}${params.time}起${params.kind}报警，请马上处理。`;
  return { params, text };
}

/** The notice that a critical case was called off: who did, and why ("-" when not recorded). */
export function cancelledNoticeSms(subject: CaseSmsSubject, cancel: { by: string | null; note: string | null } | undefined, options: CaseSmsOptions): RenderedSms {
  return renderSms('cancelled', { ...subjectInput(subject, options), cancelledBy: cancel?.by ?? '-', cancelReason: cancel?.note ?? '-' });
}

function subjectInput(subject: CaseSmsSubject, options: CaseSmsOptions) {
  return {
    kind: subject.kind,
    residentName: subject.residentName,
    address: subject.address,
    villageName: subject.villageName,
    atMs: subject.openedAt,
    timeZone: subject.timeZone,
    details: subject.details,
    locale: options.locale,
    ...(options.signName ? { signName: options.signName } : {}),
  };
}

/** The stored details of a case; anything unreadable counts as none (the SMS then says the plain phrase). */
export function parseCaseDetails(json: string | null): AlarmDetails {
  if (json === null) return undefined;
  try {
    const parsed: unknown = JSON.parse(json);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
