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
};
