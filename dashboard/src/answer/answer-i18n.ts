/**
 * Every string of the helper's answer page, in Simplified Chinese (the
 * default) and English. Its own small table, so the page stays small and the
 * duty desk's table (../i18n.ts) is not edited; alarm kinds, statuses and
 * roles come from that table, so both pages name them alike. `en` is typed
 * against `zh`: a key missing from either fails the build.
 */
import { lang, translate, type Lang, type MessageKey, type Params } from '../i18n';

const zh = {
  'answer.title': '智慧看家 · 警报',
  'answer.loading': '正在加载…',
  'answer.who': '老人',
  'answer.where': '地址',
  'answer.key': '钥匙',
  'answer.noKeyNote': '无钥匙说明',
  'answer.since': '时间',
  'answer.status': '状态',
  'answer.takenBy': '接警人：{name}',
  'answer.you': '您是：{role} {name}',
  'answer.age': '{age}岁',
  'answer.sex.F': '女',
  'answer.sex.M': '男',
  'answer.take': '我去处理',
  'answer.onSite': '已到现场',
  'answer.resolve': '已处理',
  'answer.resolveNote': '处理情况（必填）',
  'answer.outcome': '处理结果（必选）',
  'answer.outcome.real': '确有情况',
  'answer.outcome.real.hint': '老人需要帮助，或确有危险',
  'answer.outcome.falseAlarm': '误报',
  'answer.outcome.falseAlarm.hint': '老人平安，无需帮助',
  'answer.outcome.needed': '请先选择：确有情况，还是误报。',
  'answer.resolveNotePlaceholder': '例如：老人摔倒，已扶起，无外伤',
  'answer.resolveConfirm': '确认已处理',
  'answer.cancel': '返回',
  'answer.sending': '正在提交…',
  'answer.done.take': '已接警。值班室和老人的按钮都已收到，请尽快前往。',
  'answer.done.on-site': '已记录：您已到现场。',
  'answer.done.resolve': '已处理完毕，谢谢您！',
  'answer.closed': '此警报已关闭：{status}。',
  'answer.resolutionNote': '处理情况：{note}',
  'answer.expiresAt': '本链接 {time} 前有效',
  'answer.refresh': '刷新',
  'answer.retry': '重试',
  'answer.expired.title': '链接已失效',
  'answer.expired.closed': '这个警报已经处理完毕或已取消，不需要再处理。',
  'answer.expired.timeout': '这条短信的链接已超过24小时。如仍需处理，请联系村委值班室。',
  'answer.unknown.title': '链接无效',
  'answer.unknown.body': '请核对短信中的链接是否完整。',
  'answer.error.RATE_LIMITED': '请求太频繁，请 {seconds} 秒后再试。',
  'answer.error.ALARM_ALREADY_TAKEN': '已有人接警。',
  'answer.error.ALARM_CLOSED': '此警报已关闭。',
  'answer.error.ALARM_WRONG_STATE': '当前状态下不能这样操作。',
  'answer.error.BAD_REQUEST': '请填写处理情况。',
  'answer.error.network': '无法连接服务器，请检查网络后重试。',
  'answer.error.other': '出错了：{message}',
  'answer.lang': 'English',
  'answer.bundle.title': '此短信共{n}起报警',
  'answer.bundle.who': '{name}（{village}）',
  'answer.bundle.shown': '▼ 正在查看',
  'answer.bundle.left': '此短信还有{n}起报警未处理完。',
  'answer.bundle.next': '看下一起：{name} {kind}',
  'answer.bundle.movedOn': '您刚才查看的警报已处理完毕，现在显示下一起。',
} as const;

export type AnswerKey = keyof typeof zh;

const en: Record<AnswerKey, string> = {
  'answer.title': 'Kanjia · Alarm',
  'answer.loading': 'Loading…',
  'answer.who': 'Who',
  'answer.where': 'Address',
  'answer.key': 'Key',
  'answer.noKeyNote': 'No note about a key',
  'answer.since': 'Since',
  'answer.status': 'Status',
  'answer.takenBy': 'Taken by: {name}',
  'answer.you': 'You are: {role} {name}',
  'answer.age': '{age}',
  'answer.sex.F': 'female',
  'answer.sex.M': 'male',
  'answer.take': 'I am taking it',
  'answer.onSite': 'I am on site',
  'answer.resolve': 'Resolved',
  'answer.resolveNote': 'What happened (required)',
  'answer.outcome': 'How it ended (required)',
  'answer.outcome.real': 'Real',
  'answer.outcome.real.hint': 'They needed help, or there was a real danger',
  'answer.outcome.falseAlarm': 'False alarm',
  'answer.outcome.falseAlarm.hint': 'They are fine, no help needed',
  'answer.outcome.needed': 'First choose: a real case, or a false alarm.',
  'answer.resolveNotePlaceholder': 'e.g. she had fallen, helped up, not hurt',
  'answer.resolveConfirm': 'Confirm resolved',
  'answer.cancel': 'Back',
  'answer.sending': 'Sending…',
  'answer.done.take': 'Taken. The duty room and the button know; please go now.',
  'answer.done.on-site': 'Recorded: you are on site.',
  'answer.done.resolve': 'Resolved. Thank you!',
  'answer.closed': 'This alarm is closed: {status}.',
  'answer.resolutionNote': 'What happened: {note}',
  'answer.expiresAt': 'This link works until {time}',
  'answer.refresh': 'Refresh',
  'answer.retry': 'Try again',
  'answer.expired.title': 'This link has expired',
  'answer.expired.closed': 'This alarm has been dealt with or cancelled; nothing more to do.',
  'answer.expired.timeout': 'The link in this SMS is more than 24 hours old. If help is still needed, call the village duty room.',
  'answer.unknown.title': 'This link is not valid',
  'answer.unknown.body': 'Check that the link is complete, as in the SMS.',
  'answer.error.RATE_LIMITED': 'Too many requests: try again in {seconds} s.',
  'answer.error.ALARM_ALREADY_TAKEN': 'Somebody has already taken it.',
  'answer.error.ALARM_CLOSED': 'This alarm is closed.',
  'answer.error.ALARM_WRONG_STATE': 'That step is not possible now.',
  'answer.error.BAD_REQUEST': 'Please say what happened.',
  'answer.error.network': 'Cannot reach the server. Check the network and try again.',
  'answer.error.other': 'Something went wrong: {message}',
  'answer.lang': '中文',
  'answer.bundle.title': 'This SMS names {n} alarms',
  'answer.bundle.who': '{name} ({village})',
  'answer.bundle.shown': '▼ shown below',
  'answer.bundle.left': '{n} more alarms of this SMS are not finished.',
  'answer.bundle.next': 'Next: {name}, {kind}',
  'answer.bundle.movedOn': 'The alarm you were looking at has been dealt with; here is the next one.',
};

export const ANSWER_MESSAGES: Readonly<Record<Lang, Readonly<Record<AnswerKey, string>>>> = { zh, en };

/** The page's message in the current language, `{name}` placeholders filled in; reactive in templates. */
export function at(key: AnswerKey, params?: Params): string {
  const template = ANSWER_MESSAGES[lang.value][key];
  return params ? template.replace(/\{(\w+)\}/g, (whole, name: string) => (params[name] === undefined ? whole : String(params[name]))) : template;
}

/** A word of the duty desk's table (kind, status, role) in the current language. */
export function word(key: MessageKey): string {
  return translate(lang.value, key);
}

export function isAnswerKey(key: string): key is AnswerKey {
  return Object.prototype.hasOwnProperty.call(zh, key);
}
