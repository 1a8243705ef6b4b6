/** Display words for protocol values, in the current language. */
import type { AlarmAction, AlarmKind, AlarmStatus, ContactRole, NotificationStatus, Severity } from '@kanjia/protocol';
import { isMessageKey, lang, t } from './i18n';
import { errorSentence } from './i18n-errors';

export const kindLabel = (kind: AlarmKind): string => t(`kind.${kind}`);
export const severityLabel = (severity: Severity): string => t(`severity.${severity}`);
export const statusLabel = (status: AlarmStatus): string => t(`status.${status}`);
export const roleLabel = (role: ContactRole): string => t(`role.${role}`);
export const notificationStatusLabel = (status: NotificationStatus): string => t(`notif.status.${status}`);
export const historyLabel = (action: AlarmAction): string => t(`history.${action}`);

/** Known channels by name; an unknown channel shows as the server names it. */
export function channelLabel(channel: string): string {
  const key = `channel.${channel}`;
  return isMessageKey(key) ? t(key) : channel;
}

/**
 * What to tell the officer about a failed request: our sentence for the code
 * (i18n-errors.ts; a generic one naming a code this build does not know), and
 * the server's own words (which may carry the detail, e.g. who took it).
 */
export function errorText(code: string, message: string): { headline: string; detail: string | null } {
  const headline = errorSentence(lang.value, code);
  return { headline, detail: message && message !== headline ? message : null };
}
