/**
 * Every string the duty desk shows, in Simplified Chinese (the default: the
 * village duty officer) and English. `en` is typed against `zh`, so a key missing
 * from either language fails the build; test/i18n.test.ts checks that the
 * placeholders agree too.
 */
import { ref, watch } from 'vue';
import { cardEn, cardZh } from './i18n-card';
import { reportEn, reportZh } from './i18n-report';
import { townshipEn, townshipZh } from './i18n-township';

export const LANGS = ['zh', 'en'] as const;
export type Lang = (typeof LANGS)[number];

const zh = {
  'app.title': '智慧看家',
  'app.desk': '值班台',
  'punct.colon': '：',

  'header.officer': '当前用户',
  'header.logout': '退出登录',

  // The switch names the language it switches *to*, in that language.
  'lang.switch': 'English',

  'conn.connected': '已连接',
  'conn.connecting': '正在连接…',
  'conn.disconnected': '连接已断开',
  'conn.banner': '与服务器的连接已断开，正在重连… 屏幕上的信息可能不是最新的，请电话确认紧急情况。',
  'conn.connectingBanner': '正在连接服务器…',

  // The system's own problems (protocol SYSTEM_PROBLEM_CODES): the red banner under the header.
  'system.SMS_PROVIDER_OUTAGE': '短信平台自 {since} 起无法发送（{reason}）。告警短信暂未送达，平台恢复后会自动补发。请立即电话通知帮扶责任人！',
  'system.STORAGE_WRITE_FAILED': '服务器自 {since} 起无法保存数据（{reason}）。新的告警可能无法记录，请立即联系技术支持，并电话确认紧急情况！',
  'system.VOICE_PROVIDER_OUTAGE': '语音电话平台自 {since} 起无法拨打（{reason}）。紧急警报仍有短信，但不会打电话：夜间请值班员直接打电话通知帮扶责任人！',
  'system.GROUP_ROBOT_OUTAGE': '值班群机器人自 {since} 起无法发消息（{reason}）。短信和电话不受影响；请检查群机器人设置。',
  'system.GROUP_ROBOT_FAULT': '{groups}的值班群机器人自 {since} 起无法发消息（{reason}）。其他村的群、短信和电话不受影响；请检查这些群的机器人设置。',
  'system.TLS_CERT_EXPIRING': '服务器的安全证书有效期至 {reason}，即将或已经过期：过期后浏览器和通过 4G 连接的设备将无法连接。请通知系统管理员更新证书。',
  'system.other': '系统故障（自 {since} 起）：{reason}。请联系技术支持。',

  'load.loading': '正在加载警报…',
  'load.failed': '无法加载警报列表：{message}。正在自动重试…',
  'load.invalid': '有 {n} 条警报数据格式有误，无法显示。请联系技术人员。',
  'load.retry': '立即重试',

  'queue.open': '待接警',
  'queue.active': '处置中',
  'queue.closed': '最近已关闭',
  'queue.showClosed': '显示最近已关闭的警报',
  'queue.closedEmpty': '没有最近已关闭的警报',
  'queue.closedLoading': '正在加载已关闭的警报…',
  'queue.empty': '当前没有待处理的警报',
  'queue.emptyHint': '系统正在值守，新警报会自动出现并响铃提醒。',
  'queue.emptyStale': '注意：与服务器的连接已断开，此信息可能不是最新的。',

  'kind.sos': '紧急呼叫',
  'kind.fall': '跌倒',
  'kind.inactivity': '长时间无活动',
  'kind.notBack': '未归',
  'kind.missedCheckIn': '未平安打卡',
  'kind.deviceOffline': '设备离线',
  'kind.lowBattery': '电量低',
  'kind.co': '一氧化碳',
  'kind.smoke': '烟雾',
  'kind.gas': '燃气泄漏',
  'kind.waterLeak': '漏水',
  'kind.cold': '室温过低',
  'kind.heat': '室温过高',

  'severity.critical': '危急',
  'severity.urgent': '紧急',
  'severity.maintenance': '维护',

  'status.open': '待接警',
  'status.taken': '已接警',
  'status.onTheWay': '已出发',
  'status.onSite': '已到场',
  'status.resolved': '已处置',
  'status.cancelled': '已取消',

  'role.helper': '帮扶责任人',
  'role.doctor': '村医',
  'role.duty': '值班人员',
  'role.family': '家属',

  'notif.heading': '已发通知',
  'notif.none': '尚未发送通知',
  'notif.status.pending': '待发送',
  'notif.status.sending': '发送中',
  'notif.status.sent': '已发送',
  'notif.status.failed': '发送失败',
  'notif.status.skipped': '未发送（已结案）',
  'notif.retrying': '第 {n} 次发送失败，稍后重试：{error}',
  'notif.status.waiting': '等待短信平台恢复',
  'notif.waiting': '短信平台故障，未能发出（{error}）。平台恢复后自动补发；请先电话通知此联系人。',
  'notif.levelFirst': '首次',
  'notif.level': '升级{n}',
  'notif.summary': '已发通知 {n} 条',
  'notif.summaryFailed': '{n} 条未送达',
  'notif.sentAt': '{time} 发出',

  'channel.sms': '短信',
  'channel.voice': '语音电话',
  'channel.group': '值班群',
  'channel.aliyun': '阿里云',
  'channel.twilio': 'Twilio',
  'channel.aliyun-voice': '阿里云语音',
  'channel.console-voice': '控制台',
  'channel.console-group': '控制台',
  'notif.delivery.waiting': '等待送达回执',
  'notif.delivery.delivered': '已送达',
  'notif.delivery.failed': '未送达',
  'notif.delivery.unknown': '送达情况不明',
  'notif.call.waiting': '等待接听结果',
  'notif.call.delivered': '已接听',
  'notif.call.failed': '未接听',
  'notif.call.unknown': '接听情况不明',
  'notif.failover': '{time} {from}未能送达（{reason}），改用{to}',
  'notif.undeliverable': '所有渠道都未能送达此联系人：请值班员直接打电话。',
  'notif.onlyGroup': '短信和电话都未能联系上本人，已转告值班群：请值班员直接打电话。已通知下一位联系人。',
  'notif.unreached': '未送达（{error}），视为未联系上，已通知下一位联系人。请电话确认。',
  'channel.wecom': '企业微信',
  'channel.dingtalk': '钉钉',
  'channel.console': '控制台',

  'card.female': '女',
  'card.male': '男',
  'card.age': '{n}岁',
  'card.address': '地址',
  'card.keyNote': '钥匙/进门说明',
  'card.openedAt': '发生时间',
  'card.takenBy': '接警人：{name}（{time}）',
  'card.notTaken': '尚无人接警',
  'card.escalationLevel': '已升级通知 {n} 次',
  'card.nextEscalation': '{in}将通知下一位联系人',
  'card.escalatingNow': '正在通知下一位联系人…',
  'card.escalationHeld': '短信平台恢复、此短信发出后，才会计时通知下一位联系人',
  'card.escalationHeldFailover': '此通知正改用其他渠道发送，发出后才会计时通知下一位联系人',
  'card.resolution': '处置说明',
  'card.closedAt': '关闭时间',
  'card.deviceOffline': '设备当前离线',
  'card.deviceUnstable': '设备连接不稳定（频繁掉线）',
  'card.history': '处置记录',
  'card.by': '（{name}）',
  // A stuck button or a repeated finding: one case, counted (protocol AlarmView.repeats).
  'card.pressedTimes': '按了 {n} 次（最近 {time}）',
  'card.triggeredTimes': '触发 {n} 次（最近 {time}）',
  'card.historyOmitted': '较早的 {n} 条系统记录已省略（谁接警、谁处置的记录都保留）',

  'history.opened': '警报产生',
  'history.duplicate': '重复触发',
  'history.escalated': '升级通知',
  'history.taken': '接警',
  'history.onTheWay': '出发',
  'history.onSite': '到场',
  'history.resolved': '处置完成',
  'history.cancelled': '取消',
  'history.note': '备注',

  'action.take': '接警',
  'action.onTheWay': '已出发',
  'action.onSite': '已到场',
  'action.resolve': '处置完成',
  'action.cancel': '取消警报',
  'action.running': '正在提交…',

  'dialog.resolveTitle': '处置完成',
  'dialog.resolveLabel': '处置情况（必填）',
  'dialog.resolvePlaceholder': '例如：已到场，老人摔倒无大碍，已通知家属。',
  'dialog.cancelTitle': '取消警报',
  'dialog.cancelLabel': '取消原因（必填）',
  'dialog.cancelPlaceholder': '例如：老人误按，电话确认平安。',
  'dialog.confirm': '确认',
  'dialog.back': '返回',
  'dialog.noteRequired': '请先填写说明，再点确认。',
  'dialog.outcomeLabel': '处理结果（必选）',
  'dialog.outcomeRequired': '请选择：确有情况，还是误报。',
  'outcome.real': '确有情况',
  'outcome.real.hint': '老人需要帮助，或确有危险',
  'outcome.falseAlarm': '误报',
  'outcome.falseAlarm.hint': '老人平安，无需帮助（误按、测试、设备误判）',

  'login.title': '值班台登录',
  'login.hint': '请输入管理员给您的用户名和密码。接警和处置都会记录在您的名下。',
  'login.name': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.busy': '正在登录…',
  'login.required': '请填写用户名和密码。',
  'login.ended': '值班台已退出登录（登录过期或在别处退出）：新的报警不会在这里显示和响铃！请重新登录。',
  'session.expiresSoon': '登录将于 {time} 过期，请重新登录。',
  'session.logoutFailed': '退出登录失败（{reason}），您仍处于登录状态。请检查网络后重试。',
  'login.throttled': '登录失败次数过多，请 {minutes} 分钟后再试。',
  'login.checking': '正在检查登录状态…',

  'error.title': '操作失败',
  'error.dismiss': '知道了',

  'sound.locked': '提示音尚未开启 — 点击此处开启，新警报才会响铃。',

  'time.justNow': '刚刚',
  'time.secondsAgo': '{n}秒前',
  'time.minutesAgo': '{n}分钟前',
  'time.hoursAgo': '{h}小时{m}分钟前',
  'time.daysAgo': '{d}天{h}小时前',
  'time.inSeconds': '{n}秒后',
  'time.inMinutes': '{n}分钟后',
  'time.inHours': '{h}小时{m}分钟后',
  ...cardZh,
  ...reportZh,
  ...townshipZh,

  // --- views and the village map -------------------------------------------
  'view.nav': '页面',
  'view.alarms': '警报',
  'view.map': '地图',
  'view.residents': '老人档案',
  'view.devices': '设备状态',
  'view.audit': '操作记录',

  'audit.title': '操作记录（审计日志）',
  'audit.hint': '谁在什么时候登录、登录失败，以及谁对哪一条警报或档案做了什么。最新的在最上面。',
  'audit.refresh': '刷新',
  'audit.loading': '正在加载操作记录…',
  'audit.none': '还没有任何记录。',
  'audit.more': '加载更早的记录',
  'audit.cli': '命令行',
  'audit.colTime': '时间',
  'audit.colAction': '操作',
  'audit.colActor': '操作人',
  'audit.colTarget': '对象',
  'audit.colDetail': '说明',
  'audit.colAddress': '来源地址',
  'audit.action.login': '登录',
  'audit.action.loginFailed': '登录失败',
  'audit.action.loginThrottled': '登录被暂停（失败过多）',
  'audit.action.logout': '退出登录',
  'audit.action.alarm.take': '接警',
  'audit.action.alarm.onTheWay': '已出发',
  'audit.action.alarm.onSite': '已到现场',
  'audit.action.alarm.resolve': '处置完成',
  'audit.action.alarm.cancel': '取消警报（误报）',
  'audit.action.resident.away': '外出/在家切换',
  'audit.action.registry.change': '修改台账',
  'audit.action.registry.import': '导入台账',
  'audit.action.registry.export': '导出台账',
  'audit.action.map.plan': '村庄平面图',
  'audit.action.user.add': '新增用户',
  'audit.action.user.resetPassword': '重置密码',
  'audit.action.user.disable': '停用账号',
  'audit.action.user.enable': '启用账号',
  'audit.action.user.setVillages': '更改负责村',

  'map.title': '村庄地图',
  'map.legend': '图例',
  'map.state.alarm': '报警',
  'map.state.reminder': '待确认',
  'map.state.device': '设备异常',
  'map.state.away': '外出',
  'map.state.learning': '学习中',
  'map.state.fine': '平安',
  'map.stateHint.alarm': '有待处理的警报',
  'map.stateHint.reminder': '设备已提醒老人，尚未回应',
  'map.stateHint.device': '设备离线、电量低或从未上线',
  'map.stateHint.away': '老人外出（离家模式）',
  'map.stateHint.learning': '首周学习作息中',
  'map.stateHint.fine': '一切正常',
  'map.detail.inactivity': '长时间无活动，已提醒',
  'map.detail.checkIn': '未平安打卡，已提醒',
  'map.detail.offline': '设备离线',
  'map.detail.lowBattery': '电量低',
  'map.detail.neverSeen': '设备从未上线',
  'map.detail.noDevice': '未安装设备',
  'map.detail.unstable': '连接不稳定',
  'map.alarms': '{n}条警报',
  'map.list': '住户列表',
  'map.listCount': '共{n}户',
  'map.listMore': '还有{n}户未列出，请放大地图查看',
  'map.loading': '正在加载地图…',
  'map.empty': '还没有登记的住户',
  'map.failed': '无法加载地图：{message}',
  'map.openHint': '点击图钉打开老人档案',
  'map.cluster': '{n}户，其中{alarms}户报警',
  'map.offline': '离线底图',
  'map.plan': '村庄平面图',
} as const;

export type MessageKey = keyof typeof zh;

const en: Record<MessageKey, string> = {
  'app.title': 'Kanjia',
  'app.desk': 'Duty desk',
  'punct.colon': ': ',

  'header.officer': 'Signed in',
  'header.logout': 'Log out',

  'lang.switch': '中文',

  'conn.connected': 'Connected',
  'conn.connecting': 'Connecting…',
  'conn.disconnected': 'Disconnected',
  'conn.banner': 'Connection to the server lost, reconnecting… The screen may be out of date; confirm emergencies by phone.',
  'conn.connectingBanner': 'Connecting to the server…',

  'system.SMS_PROVIDER_OUTAGE': 'The SMS provider has not been sending since {since} ({reason}). Alarm SMS are waiting and will be resent when it recovers. Phone the helpers now!',
  'system.STORAGE_WRITE_FAILED': 'The server has not been able to save data since {since} ({reason}). New alarms may not be recorded: call technical support now and confirm emergencies by phone!',
  'system.VOICE_PROVIDER_OUTAGE': 'The voice service has not been calling since {since} ({reason}). Critical alarms are still texted but nobody is rung: at night, phone the helpers yourself!',
  'system.GROUP_ROBOT_OUTAGE': 'The duty group’s robot has not been posting since {since} ({reason}). SMS and calls are not affected; check the robot’s settings.',
  'system.GROUP_ROBOT_FAULT': 'The duty-group robot of {groups} has not been posting since {since} ({reason}). Other villages’ groups, SMS and calls are not affected; check those groups’ robot settings.',
  'system.TLS_CERT_EXPIRING': 'The server’s security certificate is valid until {reason} and is about to end or has ended: browsers and devices connecting over 4G will then fail to connect. Tell the system administrator to renew it.',
  'system.other': 'System problem (since {since}): {reason}. Call technical support.',

  'load.loading': 'Loading alarms…',
  'load.failed': 'Could not load the alarm list: {message}. Retrying automatically…',
  'load.invalid': '{n} alarm(s) have malformed data and cannot be shown. Call technical support.',
  'load.retry': 'Retry now',

  'queue.open': 'Waiting to be taken',
  'queue.active': 'In progress',
  'queue.closed': 'Recently closed',
  'queue.showClosed': 'Show recently closed alarms',
  'queue.closedEmpty': 'No recently closed alarms',
  'queue.closedLoading': 'Loading closed alarms…',
  'queue.empty': 'No alarms to handle right now',
  'queue.emptyHint': 'The system is on watch; new alarms appear here automatically with a sound.',
  'queue.emptyStale': 'Warning: the connection to the server is lost; this may be out of date.',

  'kind.sos': 'SOS call',
  'kind.fall': 'Fall',
  'kind.inactivity': 'No activity for a long time',
  'kind.notBack': 'Not back home',
  'kind.missedCheckIn': 'Missed daily check-in',
  'kind.deviceOffline': 'Device offline',
  'kind.lowBattery': 'Low battery',
  'kind.co': 'Carbon monoxide',
  'kind.smoke': 'Smoke',
  'kind.gas': 'Gas leak',
  'kind.waterLeak': 'Water leak',
  'kind.cold': 'Room too cold',
  'kind.heat': 'Room too hot',

  'severity.critical': 'Critical',
  'severity.urgent': 'Urgent',
  'severity.maintenance': 'Maintenance',

  'status.open': 'Waiting',
  'status.taken': 'Taken',
  'status.onTheWay': 'On the way',
  'status.onSite': 'On site',
  'status.resolved': 'Resolved',
  'status.cancelled': 'Cancelled',

  'role.helper': 'Helper',
  'role.doctor': 'Village doctor',
  'role.duty': 'Duty officer',
  'role.family': 'Family',

  'notif.heading': 'Notifications',
  'notif.none': 'No notifications sent yet',
  'notif.status.pending': 'Pending',
  'notif.status.sending': 'Sending',
  'notif.status.sent': 'Sent',
  'notif.status.failed': 'Failed',
  'notif.status.skipped': 'Not sent (case closed)',
  'notif.retrying': 'Attempt {n} failed, will retry: {error}',
  'notif.status.waiting': 'Waiting for the SMS provider',
  'notif.waiting': 'The SMS provider is out ({error}): not sent yet, it goes out when the provider recovers. Phone this contact meanwhile.',
  'notif.levelFirst': 'First',
  'notif.level': 'Escal. {n}',
  'notif.summary': '{n} notification(s)',
  'notif.summaryFailed': '{n} not delivered',
  'notif.sentAt': 'sent {time}',

  'channel.sms': 'SMS',
  'channel.voice': 'Voice call',
  'channel.group': 'Duty group',
  'channel.aliyun': 'Aliyun',
  'channel.twilio': 'Twilio',
  'channel.aliyun-voice': 'Aliyun voice',
  'channel.console-voice': 'Console',
  'channel.console-group': 'Console',
  'notif.delivery.waiting': 'waiting for the receipt',
  'notif.delivery.delivered': 'delivered',
  'notif.delivery.failed': 'not delivered',
  'notif.delivery.unknown': 'delivery unknown',
  'notif.call.waiting': 'waiting for the call result',
  'notif.call.delivered': 'answered',
  'notif.call.failed': 'not answered',
  'notif.call.unknown': 'answer unknown',
  'notif.failover': '{time} {from} could not deliver it ({reason}): now by {to}',
  'notif.undeliverable': 'No channel could reach this contact: phone them yourself.',
  'notif.onlyGroup': 'Neither SMS nor call reached this contact; the duty group was told: phone them yourself. The next contact was told.',
  'notif.unreached': 'Not delivered ({error}): counted as not reached, the next contact was told. Phone to make sure.',
  'channel.wecom': 'WeCom',
  'channel.dingtalk': 'DingTalk',
  'channel.console': 'Console',

  'card.female': 'female',
  'card.male': 'male',
  'card.age': '{n} yrs',
  'card.address': 'Address',
  'card.keyNote': 'Keys / how to get in',
  'card.openedAt': 'Opened',
  'card.takenBy': 'Taken by {name} ({time})',
  'card.notTaken': 'Nobody has taken it yet',
  'card.escalationLevel': 'Escalated {n} time(s)',
  'card.nextEscalation': 'Next contact will be texted {in}',
  'card.escalatingNow': 'Texting the next contact now…',
  'card.escalationHeld': 'The next contact’s turn starts once this SMS has gone out (the SMS provider is out)',
  'card.escalationHeldFailover': 'This notice is going by another channel; the next contact’s turn starts once it has gone out',
  'card.resolution': 'Resolution note',
  'card.closedAt': 'Closed',
  'card.deviceOffline': 'Device is offline now',
  'card.deviceUnstable': 'Unstable connection (the device keeps dropping off)',
  'card.history': 'Case history',
  'card.by': ' ({name})',
  'card.pressedTimes': 'pressed {n} times (last {time})',
  'card.triggeredTimes': 'triggered {n} times (last {time})',
  'card.historyOmitted': '{n} older system entries left out (who took and who closed the case are always kept)',

  'history.opened': 'Opened',
  'history.duplicate': 'Triggered again',
  'history.escalated': 'Escalated',
  'history.taken': 'Taken',
  'history.onTheWay': 'On the way',
  'history.onSite': 'On site',
  'history.resolved': 'Resolved',
  'history.cancelled': 'Cancelled',
  'history.note': 'Note',

  'action.take': 'Take',
  'action.onTheWay': 'On the way',
  'action.onSite': 'On site',
  'action.resolve': 'Resolve',
  'action.cancel': 'Cancel alarm',
  'action.running': 'Sending…',

  'dialog.resolveTitle': 'Resolve',
  'dialog.resolveLabel': 'What happened (required)',
  'dialog.resolvePlaceholder': 'e.g. On site; she fell but is unhurt; family informed.',
  'dialog.cancelTitle': 'Cancel the alarm',
  'dialog.cancelLabel': 'Reason (required)',
  'dialog.cancelPlaceholder': 'e.g. Pressed by mistake; confirmed safe by phone.',
  'dialog.confirm': 'Confirm',
  'dialog.back': 'Back',
  'dialog.noteRequired': 'Please write a note first, then confirm.',
  'dialog.outcomeLabel': 'How it ended (required)',
  'dialog.outcomeRequired': 'Please choose: a real case, or a false alarm.',
  'outcome.real': 'Real',
  'outcome.real.hint': 'They needed help, or there was a real danger',
  'outcome.falseAlarm': 'False alarm',
  'outcome.falseAlarm.hint': 'They are fine, no help needed (pressed by mistake, a test, a false detection)',

  'login.title': 'Duty desk login',
  'login.hint': 'Enter the name and password your administrator gave you. Every action you take is recorded under your name.',
  'login.name': 'Name',
  'login.password': 'Password',
  'login.submit': 'Log in',
  'login.busy': 'Logging in…',
  'login.required': 'Please enter your name and password.',
  'login.ended': 'The duty desk is logged out (the session ended or you were logged out elsewhere): new alarms will not show or ring here! Log in again now.',
  'session.expiresSoon': 'Your login expires at {time}. Please log in again.',
  'session.logoutFailed': 'Logout failed ({reason}): you are still logged in. Check the network and try again.',
  'login.throttled': 'Too many failed logins. Try again in {minutes} minutes.',
  'login.checking': 'Checking your login…',

  'error.title': 'Action failed',
  'error.dismiss': 'OK',

  'sound.locked': 'Alarm sound is off — click here to turn it on, or new alarms will be silent.',

  'time.justNow': 'just now',
  'time.secondsAgo': '{n} s ago',
  'time.minutesAgo': '{n} min ago',
  'time.hoursAgo': '{h} h {m} min ago',
  'time.daysAgo': '{d} d {h} h ago',
  'time.inSeconds': 'in {n} s',
  'time.inMinutes': 'in {n} min',
  'time.inHours': 'in {h} h {m} min',
  ...cardEn,
  ...reportEn,
  ...townshipEn,

  // --- views and the village map -------------------------------------------
  'view.nav': 'Pages',
  'view.alarms': 'Alarms',
  'view.map': 'Map',
  'view.residents': 'Residents',
  'view.devices': 'Devices',
  'view.audit': 'Audit log',

  'audit.title': 'Audit log',
  'audit.hint': 'Who logged in when, who failed to, and who did what to which alarm or record. Newest first.',
  'audit.refresh': 'Refresh',
  'audit.loading': 'Loading the audit log…',
  'audit.none': 'Nothing recorded yet.',
  'audit.more': 'Load older entries',
  'audit.cli': 'command line',
  'audit.colTime': 'Time',
  'audit.colAction': 'Action',
  'audit.colActor': 'Who',
  'audit.colTarget': 'On',
  'audit.colDetail': 'Details',
  'audit.colAddress': 'From',
  'audit.action.login': 'Logged in',
  'audit.action.loginFailed': 'Failed login',
  'audit.action.loginThrottled': 'Login paused (too many failures)',
  'audit.action.logout': 'Logged out',
  'audit.action.alarm.take': 'Took the alarm',
  'audit.action.alarm.onTheWay': 'On the way',
  'audit.action.alarm.onSite': 'On site',
  'audit.action.alarm.resolve': 'Resolved',
  'audit.action.alarm.cancel': 'Cancelled (false alarm)',
  'audit.action.resident.away': 'Away / at home',
  'audit.action.registry.change': 'Registry changed',
  'audit.action.registry.import': 'Registry imported',
  'audit.action.registry.export': 'Registry exported',
  'audit.action.map.plan': 'Village plan',
  'audit.action.user.add': 'User added',
  'audit.action.user.resetPassword': 'Password reset',
  'audit.action.user.disable': 'User disabled',
  'audit.action.user.enable': 'User enabled',
  'audit.action.user.setVillages': 'Villages changed',

  'map.title': 'Village map',
  'map.legend': 'Legend',
  'map.state.alarm': 'Alarm',
  'map.state.reminder': 'Awaiting answer',
  'map.state.device': 'Device problem',
  'map.state.away': 'Away',
  'map.state.learning': 'Learning',
  'map.state.fine': 'Fine',
  'map.stateHint.alarm': 'an alarm is waiting',
  'map.stateHint.reminder': 'the device reminded the resident; no answer yet',
  'map.stateHint.device': 'a device offline, low on battery or never seen',
  'map.stateHint.away': 'the resident is away (away mode)',
  'map.stateHint.learning': 'learning the routine (first week)',
  'map.stateHint.fine': 'all well',
  'map.detail.inactivity': 'no activity for long, reminded',
  'map.detail.checkIn': 'no daily check-in, reminded',
  'map.detail.offline': 'device offline',
  'map.detail.lowBattery': 'low battery',
  'map.detail.neverSeen': 'device never seen',
  'map.detail.noDevice': 'no device installed',
  'map.detail.unstable': 'unstable connection',
  'map.alarms': '{n} alarms',
  'map.list': 'Households',
  'map.listCount': '{n} households',
  'map.listMore': '{n} more not listed; zoom in on the map',
  'map.loading': 'Loading the map…',
  'map.empty': 'No household registered yet',
  'map.failed': 'Cannot load the map: {message}',
  'map.openHint': 'Click a pin to open the resident’s card',
  'map.cluster': '{n} households, {alarms} with an alarm',
  'map.offline': 'Offline background',
  'map.plan': 'Village plan',
};

export const MESSAGES: Readonly<Record<Lang, Readonly<Record<MessageKey, string>>>> = { zh, en };

/** BCP 47 tags for Intl and `<html lang>`. */
export const LOCALES: Readonly<Record<Lang, string>> = { zh: 'zh-CN', en: 'en-GB' };

export type Params = Readonly<Record<string, string | number>>;

/** The message for `key` in `lang` with `{name}` placeholders filled in. */
export function translate(lang: Lang, key: MessageKey, params?: Params): string {
  const template = MESSAGES[lang][key];
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = params[name];
    return value === undefined ? whole : String(value);
  });
}

/** Whether `key` names a message (for keys built from server data, e.g. error codes). */
export function isMessageKey(key: string): key is MessageKey {
  return Object.prototype.hasOwnProperty.call(zh, key);
}

export function isLang(value: unknown): value is Lang {
  return typeof value === 'string' && (LANGS as readonly string[]).includes(value);
}

const LANG_STORAGE_KEY = 'kanjia.lang';

function initialLang(): Lang {
  try {
    const stored = globalThis.localStorage?.getItem(LANG_STORAGE_KEY);
    if (isLang(stored)) return stored;
  } catch {
    // Storage can be disabled; Chinese is the default.
  }
  return 'zh';
}

/** The language the page shows now; reactive, remembered in localStorage. */
export const lang = ref<Lang>(initialLang());

watch(lang, (value) => {
  try {
    globalThis.localStorage?.setItem(LANG_STORAGE_KEY, value);
  } catch {
    // Not remembering the language is harmless.
  }
  if (typeof document !== 'undefined') document.documentElement.lang = LOCALES[value];
});

/** `translate` in the current language; reactive inside templates and computeds. */
export function t(key: MessageKey, params?: Params): string {
  return translate(lang.value, key, params);
}

export function toggleLang(): void {
  lang.value = lang.value === 'zh' ? 'en' : 'zh';
}
