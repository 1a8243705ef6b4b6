/**
 * What the officer reads for each error code of the REST API and of the
 * dashboard itself, in Simplified Chinese and English. Typed as a record
 * keyed by the protocol's catalog: a code the server can answer without a
 * sentence here fails the type check (and test/error-texts.test.ts at
 * runtime). A code this build does not know (a newer server) gets
 * `unknown`, with the code, so it still reads as a sentence.
 */
import type { ApiErrorCode, DashboardErrorCode } from '@kanjia/protocol';
import type { Lang } from './i18n';

export type ShownErrorCode = ApiErrorCode | DashboardErrorCode;

export interface ErrorTexts {
  codes: Readonly<Record<ShownErrorCode, string>>;
  /** A code this dashboard does not know, {code}. */
  unknown: string;
}

const zh: ErrorTexts = {
  codes: {
    BAD_REQUEST: '提交的内容有误。',
    PAYLOAD_TOO_LARGE: '提交的内容太大。',
    UNSUPPORTED_MEDIA_TYPE: '不支持此文件类型。',
    NOT_FOUND: '服务器没有此功能，请刷新页面。',
    HOST_NOT_ALLOWED: '服务器不接受以此地址访问，请联系管理员。',
    CROSS_ORIGIN: '请求来自其他网站，已被拒绝。请直接打开值班台网址。',
    RATE_LIMITED: '请求太频繁，请稍后再试。',
    INTERNAL: '服务器内部错误，操作可能未完成。紧急情况请直接电话联系。',
    UNAUTHENTICATED: '登录已过期，请重新登录。',
    FORBIDDEN: '您的账号无权进行此操作。',
    LOGIN_FAILED: '用户名或密码不正确。',
    LOGIN_THROTTLED: '登录失败次数太多，请稍后再试。',
    LOGIN_BUSY: '服务器正在处理很多登录请求，请几秒后再试。',
    ALARM_NOT_FOUND: '找不到此警报。',
    ALARM_ALREADY_TAKEN: '此警报已被他人接警。',
    ALARM_CLOSED: '此警报已关闭。',
    ALARM_WRONG_STATE: '此警报当前的状态不能进行这一步，请刷新。',
    ANSWER_CODE_UNKNOWN: '此链接无效。',
    ANSWER_CODE_EXPIRED: '此链接已失效。',
    VILLAGE_NOT_FOUND: '找不到此村（或不在您的管辖范围内）。',
    HOUSEHOLD_NOT_FOUND: '找不到此户（或不在您的管辖范围内）。',
    RESIDENT_NOT_FOUND: '找不到这位老人（或不在您的管辖范围内）。',
    CONTACT_NOT_FOUND: '找不到此联系人。',
    DEVICE_NOT_FOUND: '找不到此设备。',
    RESIDENT_NOT_IN_HOUSEHOLD: '这位老人不属于此户。',
    CONTACT_ORDER_MISMATCH: '联系人顺序有误，请刷新后重新排序。',
    HOUSEHOLD_HAS_NO_RESIDENT: '此户还没有登记老人，请先添加。',
    CONTACT_CHAIN_EMPTY: '不能删除最后一位联系人：警报将无人接收。请先添加新联系人。',
    RESIDENT_HAS_LEFT: '此人已离册。如已返回，请先恢复在册。',
    RESIDENT_NOT_LEFT: '此人仍在册，无需恢复。',
    VISITOR_NOT_A_HELPER: '所选探访人不是此人的帮扶责任人。',
    PLAN_NOT_AN_IMAGE: '平面图必须是 PNG 或 JPEG 图片。',
    PLAN_TYPE_MISMATCH: '图片的类型与文件内容不符。',
    PLAN_TOO_LARGE: '平面图文件太大（最大 10 MB）。',
    PLAN_TOO_MANY_PIXELS: '平面图尺寸太大（每边最多 8192 像素）。',
    PLAN_NOT_FOUND: '此村还没有平面图。',
    SPREADSHEET_EMPTY: '表格是空的，或表头下面没有人员。',
    SPREADSHEET_UNREADABLE: '无法读取这个文件：请上传 .xlsx 或 CSV 文件（旧版 .xls 请先另存为 .xlsx）。',
    SPREADSHEET_TOO_LARGE: '表格文件太大（最大 5 MB）：请按村拆分后再导入。',
    SPREADSHEET_NO_HEADER: '没有找到表头：表格中应有一行写着“姓名”等列名。',
    IMPORT_PLAN_CHANGED: '预览之后文件或台账有了变化，没有导入任何内容：请查看新的预览后再确认。',
    STORAGE_BUSY: '数据库暂时被占用，未保存。请几秒后再试。',
    STORAGE_WRITE_FAILED: '服务器无法保存数据，未保存。请联系管理员；紧急情况请直接电话联系。',
    NETWORK: '无法连接服务器。',
    TIMEOUT: '服务器没有响应。',
    BAD_RESPONSE: '服务器返回的数据格式有误。',
  },
  unknown: '服务器报告了一个错误（代码 {code}）。',
};

const en: ErrorTexts = {
  codes: {
    BAD_REQUEST: 'The request was not accepted.',
    PAYLOAD_TOO_LARGE: 'What was sent is too large.',
    UNSUPPORTED_MEDIA_TYPE: 'This type of file is not accepted.',
    NOT_FOUND: 'The server does not know this request; reload the page.',
    HOST_NOT_ALLOWED: 'The server does not answer to this address; call the administrator.',
    CROSS_ORIGIN: 'Refused: the request came from another site. Open the duty desk address directly.',
    RATE_LIMITED: 'Too many requests; try again shortly.',
    INTERNAL: 'Server error; the action may not have been done. Phone directly in an emergency.',
    UNAUTHENTICATED: 'Your session has ended. Please log in again.',
    FORBIDDEN: 'Your account may not do this.',
    LOGIN_FAILED: 'Wrong name or password.',
    LOGIN_THROTTLED: 'Too many failed logins; try again later.',
    LOGIN_BUSY: 'The server is handling many logins: try again in a few seconds.',
    ALARM_NOT_FOUND: 'This alarm was not found.',
    ALARM_ALREADY_TAKEN: 'Someone else has already taken this alarm.',
    ALARM_CLOSED: 'This alarm is closed.',
    ALARM_WRONG_STATE: 'This step does not fit the alarm’s state now; reload.',
    ANSWER_CODE_UNKNOWN: 'This link is not valid.',
    ANSWER_CODE_EXPIRED: 'This link has expired.',
    VILLAGE_NOT_FOUND: 'Village not found (or not in your area).',
    HOUSEHOLD_NOT_FOUND: 'Household not found (or not in your area).',
    RESIDENT_NOT_FOUND: 'Resident not found (or not in your area).',
    CONTACT_NOT_FOUND: 'Contact not found.',
    DEVICE_NOT_FOUND: 'Device not found.',
    RESIDENT_NOT_IN_HOUSEHOLD: 'This resident does not live in this household.',
    CONTACT_ORDER_MISMATCH: 'The contact order does not match; reload and order them again.',
    HOUSEHOLD_HAS_NO_RESIDENT: 'This household has no resident yet; add one first.',
    CONTACT_CHAIN_EMPTY: 'The last contact cannot be removed: nobody would get the alarm. Add the new contact first.',
    RESIDENT_HAS_LEFT: 'This person has left the registry. If they are back, restore the record first.',
    RESIDENT_NOT_LEFT: 'This person is in the registry: there is nothing to restore.',
    VISITOR_NOT_A_HELPER: 'The chosen visitor is not one of this person’s helpers.',
    PLAN_NOT_AN_IMAGE: 'The plan must be a PNG or JPEG image.',
    PLAN_TYPE_MISMATCH: 'The image type does not match the file.',
    PLAN_TOO_LARGE: 'The plan file is too large (10 MB at most).',
    PLAN_TOO_MANY_PIXELS: 'The plan is too large (8192 pixels a side at most).',
    PLAN_NOT_FOUND: 'This village has no plan yet.',
    SPREADSHEET_EMPTY: 'The spreadsheet is empty, or has no person under its header.',
    SPREADSHEET_UNREADABLE: 'This file cannot be read: upload an .xlsx or CSV file (save an old .xls as .xlsx first).',
    SPREADSHEET_TOO_LARGE: 'The spreadsheet is too large (5 MB at most): split it by village.',
    SPREADSHEET_NO_HEADER: 'No header row found: one row must name the columns, 姓名 among them.',
    IMPORT_PLAN_CHANGED: 'The file or the registry changed after the preview; nothing was imported. Check the new preview and confirm it.',
    STORAGE_BUSY: 'The database is busy for the moment; nothing was saved. Try again in a few seconds.',
    STORAGE_WRITE_FAILED: 'The server cannot save data; nothing was saved. Call the administrator; phone directly in an emergency.',
    NETWORK: 'Cannot reach the server.',
    TIMEOUT: 'The server did not answer.',
    BAD_RESPONSE: 'The server sent malformed data.',
  },
  unknown: 'The server reported an error (code {code}).',
};

export const ERROR_TEXTS: Readonly<Record<Lang, ErrorTexts>> = { zh, en };

/** Whether the dashboard has a sentence of its own for `code`. */
export function isShownErrorCode(code: string): code is ShownErrorCode {
  return Object.prototype.hasOwnProperty.call(zh.codes, code);
}

/** Our sentence for `code` in `lang`; the generic one with the code for a code this build does not know. */
export function errorSentence(lang: Lang, code: string): string {
  const texts = ERROR_TEXTS[lang];
  return isShownErrorCode(code) ? texts.codes[code] : texts.unknown.replace('{code}', code);
}
