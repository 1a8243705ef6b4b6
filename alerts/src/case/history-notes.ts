/**
 * Notes the system writes into a case's history, in the deployment's locale:
 * the duty officer reads them on the dashboard, so they are Chinese by default.
 */
import type { AlarmKind, ContactRole } from '@kanjia/protocol';

export type NoteLocale = 'zh-CN' | 'en';

const ROLE: Record<NoteLocale, Record<ContactRole, string>> = {
  'zh-CN': { helper: '帮扶责任人', doctor: '村医', duty: '村委值班', family: '家属' },
  en: { helper: 'helper', doctor: 'village doctor', duty: 'duty staff', family: 'family' },
};

/** A contact role's word ("帮扶责任人"), as the case history names a helper who acted from the SMS link. */
export function roleLabel(locale: NoteLocale, role: ContactRole): string {
  return ROLE[locale][role];
}

/** How the history names a channel's medium: 短信, 语音电话, 值班群. */
const MEDIUM: Record<NoteLocale, Record<'sms' | 'voice' | 'group', string>> = {
  'zh-CN': { sms: '短信', voice: '语音电话', group: '值班群' },
  en: { sms: 'SMS', voice: 'voice call', group: 'duty group' },
};

/** A channel as the history names it: its medium's word and, for a second provider of the same medium, its name. */
export function channelLabel(locale: NoteLocale, medium: 'sms' | 'voice' | 'group', name: string): string {
  return `${MEDIUM[locale][medium]}（${name}）`;
}

export const historyNotes = {
  opened(locale: NoteLocale, kind: AlarmKind, reason: string, details?: Record<string, number | string | boolean>): string {
    const figures = details && Object.keys(details).length > 0 ? ` (${Object.entries(details).map(([k, v]) => `${k}=${String(v)}`).join(', ')})` : '';
    if (locale === 'en') return `${reason}${figures}`;
    const zh: Partial<Record<AlarmKind, string>> = {
      sos: '老人按下了紧急呼叫按钮',
      fall: '检测到跌倒，宽限期内未取消',
      inactivity: '长时间没有活动迹象，提醒后仍无回应',
      missedCheckIn: '未按时平安打卡',
      deviceOffline: '设备离线',
      lowBattery: '设备电量低',
      co: '一氧化碳浓度超标',
      smoke: '检测到烟雾',
      gas: '检测到燃气泄漏',
      waterLeak: '检测到漏水',
      cold: '室温过低',
      heat: '室温过高',
      notBack: '出门后超过平时最长时间仍未回家（未归提醒，只通知第一位帮扶人）',
    };
    return `${zh[kind] ?? reason}${figures}`;
  },
  /** Written when repeats start and after a pause (REPEAT_NOTE_AFTER_MS): the count itself is kept on the case. */
  pressedAgain(locale: NoteLocale, eventId: string, count: number): string {
    return locale === 'en'
      ? `triggered again (${count} times in all, event ${eventId}); further repeats are counted on the case, not listed one by one`
      : `再次触发（共${count}次，事件 ${eventId}）；之后的重复触发只计次数，不再逐条记录`;
  },
  escalated(locale: NoteLocale, contactName: string, role: ContactRole, level: number): string {
    return locale === 'en'
      ? `not taken: texting ${contactName} (${ROLE.en[role]}), step ${level}`
      : `无人接警，已短信通知${contactName}（${ROLE['zh-CN'][role]}），第${level}次升级`;
  },
  chainExhausted(locale: NoteLocale): string {
    return locale === 'en' ? 'every contact has been texted and nobody has taken the alarm' : '所有联系人均已通知，仍无人接警';
  },
  smsFailed(locale: NoteLocale, contactName: string, error: string): string {
    return locale === 'en'
      ? `SMS to ${contactName} failed (${error}): the next contact is texted now`
      : `发给${contactName}的短信发送失败（${error}），立即通知下一位联系人`;
  },
  cancelledNoticeKept(locale: NoteLocale, contactName: string): string {
    return locale === 'en'
      ? `the first SMS to ${contactName} had not gone out: it is sent, saying the alarm was cancelled and why`
      : `发给${contactName}的首条短信尚未发出：仍会发送，并说明警报已取消及原因`;
  },
  /** A notice redirected because the contacts before `contactName` could not be texted. */
  cancelledNoticeRedirected(locale: NoteLocale, contactName: string): string {
    return locale === 'en'
      ? `the SMS to the contacts before ${contactName} failed: ${contactName} is texted that the alarm was cancelled and why`
      : `首位联系人的短信发送失败：改为短信告知${contactName}警报已取消及原因`;
  },
  cancelledNoticeNobody(locale: NoteLocale): string {
    return locale === 'en'
      ? 'the SMS to every contact failed: nobody was told of this cancelled alarm; the duty officer should phone them'
      : '所有联系人的短信均发送失败：无人收到此警报取消的通知，请值班员电话告知';
  },
  /** A queued SMS dropped because the case no longer needs it (`why`: the case's status). */
  noticeSkipped(locale: NoteLocale, contactName: string, why: 'taken' | 'resolved' | 'cancelled'): string {
    const en = { taken: 'somebody has taken the alarm', resolved: 'the alarm was resolved', cancelled: 'the alarm was cancelled' }[why];
    const zh = { taken: '警报已有人接警', resolved: '警报已处理完毕', cancelled: '警报已取消' }[why];
    return locale === 'en' ? `the SMS to ${contactName} was not sent: ${en}` : `发给${contactName}的短信未发出：${zh}`;
  },
  /** Sorting out the queued SMS of a case failed; the outbox tries again when they fall due. */
  noticesUnsettled(locale: NoteLocale, error: string): string {
    return locale === 'en'
      ? `the queued SMS of this alarm could not be updated (${error}); retried automatically — please make sure by phone that the contacts know`
      : `此警报待发短信的状态更新出错（${error}），系统会自动重试；请电话确认联系人已知情`;
  },
  residentCancelled(locale: NoteLocale): string {
    return locale === 'en'
      ? 'the resident pressed cancel ("I am fine"): confirm by phone or visit before closing'
      : '老人按了取消键（表示平安）：请电话或上门确认后再关闭';
  },
  /** A notice moved to the next channel of its route: why, from which channel to which. */
  failedOver(locale: NoteLocale, contactName: string, from: string, to: string, reason: string): string {
    return locale === 'en'
      ? `the notice to ${contactName} could not go by ${from} (${reason}): now by ${to}`
      : `发给${contactName}的通知无法通过${from}送达（${reason}），已改用${to}`;
  },
  /** A notice that no channel of its route could deliver: counted, shown in red. */
  undeliverable(locale: NoteLocale, contactName: string, error: string): string {
    return locale === 'en'
      ? `no channel could reach ${contactName} (${error}): phone them`
      : `所有渠道均无法通知${contactName}（${error}），请值班员直接打电话`;
  },
  /** A voice call queued besides the SMS. */
  callQueued(locale: NoteLocale, contactName: string, why: 'night' | 'unanswered'): string {
    if (locale === 'en') return why === 'night' ? `night-time critical alarm: ${contactName} is also rung` : `${contactName} did not take it by SMS: ${contactName} is rung`;
    return why === 'night' ? `夜间紧急警报：同时给${contactName}打语音电话` : `${contactName}收到短信后未接警：给${contactName}打语音电话`;
  },
  callAnswered(locale: NoteLocale, contactName: string): string {
    return locale === 'en' ? `${contactName} answered the voice call` : `${contactName}接听了语音电话`;
  },
  callNotAnswered(locale: NoteLocale, contactName: string, code: string): string {
    return locale === 'en' ? `${contactName} did not answer the voice call (${code})` : `${contactName}未接听语音电话（${code}）`;
  },
  delivered(locale: NoteLocale, contactName: string, medium: 'sms' | 'voice' | 'group'): string {
    return locale === 'en' ? `the ${MEDIUM.en[medium]} to ${contactName} was delivered` : `发给${contactName}的${MEDIUM['zh-CN'][medium]}已送达`;
  },
  /** The provider says the SMS will not arrive, or it did not within the deadline: the next contact is texted now. */
  notReached(locale: NoteLocale, contactName: string, why: string, escalates: boolean): string {
    if (locale === 'en') return `the SMS to ${contactName} was not delivered (${why})${escalates ? ': counted as not reached, the next contact is texted now' : ''}`;
    return `发给${contactName}的短信未送达（${why}）${escalates ? '，视为未联系上，立即通知下一位联系人' : ''}`;
  },
  /** The contact rung pressed 2 ("ring the next one"): the next contact is texted now, if the case still waits at their level. */
  callPassedOn(locale: NoteLocale, contactName: string, escalates: boolean): string {
    if (locale === 'en') return `${contactName} pressed 2 on the voice call: pass it on${escalates ? '; the next contact is texted now' : ''}`;
    return `${contactName}在语音电话中按2：转给下一位联系人${escalates ? '，立即通知下一位联系人' : ''}`;
  },
  /** A post to the duty group that could not go. */
  groupPostFailed(locale: NoteLocale, error: string): string {
    return locale === 'en' ? `the post to the duty group failed (${error})` : `值班群消息发送失败（${error}）`;
  },
};
