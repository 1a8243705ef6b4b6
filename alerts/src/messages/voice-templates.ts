/**
 * The text-to-speech (文本转语音, TTS) templates of the voice call: what a helper
 * hears when the phone rings at 2 a.m. Short and plain, said twice (PlayTimes).
 * Listed for operators, with the exact text to register, in docs/voice-calls.md.
 *
 * Aliyun's rules for voice templates (help.aliyun.com/document_detail/414170,
 * "语音模板规范"): 1–1000 characters; no # / : - % ¥ 【 】, no IP address, no
 * http(s); variables ${name} of letters, digits and _ starting with a letter;
 * no two variables side by side; each variable once; and in the shared mode
 * (公共模式, a number from Aliyun's pool) at most 2 variables per voice
 * notification template — the dedicated mode (专属模式, the deployment's own
 * number) has no limit. Hence two sets:
 * - the generic template of each role (`alarm`, `escalation`) names the kind as a
 *   variable: 3 or 4 variables, for the dedicated mode;
 * - each kind's own template (`alarm.fall`, `escalation.co`, …) says the kind in its
 *   fixed text and has only `village` and `name`: it fits the shared mode.
 * A deployment registers the generic pair, or the kinds it calls for (the
 * critical ones), or both; the caller takes a kind's own template when its code
 * is configured.
 */
import { ALARM_KINDS, type AlarmKind } from '@kanjia/protocol';
import { SMS_KIND_ROLES, type SmsKindRole, type SmsKindTemplateKey, type SmsMessage } from '../sms/sms-sender.js';
import { ALARM_KIND_LABELS, fillTemplate, templateVariables, type SmsLocale, type SmsTemplateDefinition } from './sms-templates.js';

/** The roles a call can play: the first notice of a case and its escalation (a cancelled alarm is never rung). */
export type VoiceTemplateKey = SmsKindRole;

export const VOICE_TEMPLATE_KEYS: readonly VoiceTemplateKey[] = SMS_KIND_ROLES;

/** Key of a kind's own TTS template, e.g. `alarm.fall` (the same keys as the SMS ones). */
export type VoiceKindTemplateKey = SmsKindTemplateKey;

/**
 * Longest value of one variable read aloud, in characters. Our choice, not a
 * documented Aliyun limit: a name or a village needs no more, and a long value
 * is cut rather than the call refused.
 */
export const VOICE_PARAM_MAX_CHARS = 20;

const GENERIC_CONTENT: Readonly<Record<VoiceTemplateKey, Readonly<Record<SmsLocale, string>>>> = {
  alarm: {
    'zh-CN': '智慧看家紧急通知，${village}的${name}家${kind}报警，请马上处理。',
    en: 'Kanjia emergency. ${kind} alarm at the home of ${name} in ${village}. Please act now.',
  },
  escalation: {
    'zh-CN': '智慧看家紧急通知，${village}的${name}家${kind}报警，已${minutes}分钟无人接警，请马上处理。',
    en: 'Kanjia emergency. ${kind} alarm at the home of ${name} in ${village}, not taken for ${minutes} minutes. Please act now.',
  },
};

/** A kind's own text: the generic one with the kind's label as fixed text, and without the minutes (2 variables). */
const KIND_CONTENT: Readonly<Record<VoiceTemplateKey, Readonly<Record<SmsLocale, string>>>> = {
  alarm: GENERIC_CONTENT.alarm,
  escalation: {
    'zh-CN': '智慧看家紧急通知，${village}的${name}家${kind}报警，至今无人接警，请马上处理。',
    en: 'Kanjia emergency. ${kind} alarm at the home of ${name} in ${village}, still not taken. Please act now.',
  },
};

function kindTemplate(role: VoiceTemplateKey, kind: AlarmKind): SmsTemplateDefinition {
  // The label as fixed text obeys the template rules too ("Missed check-in" has a forbidden -).
  const of = (locale: SmsLocale) => KIND_CONTENT[role][locale].replace('${kind}', voiceParamValue(ALARM_KIND_LABELS[locale][kind]));
  const content = { 'zh-CN': of('zh-CN'), en: of('en') };
  return { variables: templateVariables(content['zh-CN']), content };
}

/** The generic TTS template of each role; its variables are those of the zh text. */
export const VOICE_TEMPLATES: Readonly<Record<VoiceTemplateKey, SmsTemplateDefinition>> = {
  alarm: { variables: templateVariables(GENERIC_CONTENT.alarm['zh-CN']), content: GENERIC_CONTENT.alarm },
  escalation: { variables: templateVariables(GENERIC_CONTENT.escalation['zh-CN']), content: GENERIC_CONTENT.escalation },
};

/** Each kind's own TTS template of each role (`alarm.fall`, `escalation.co`, …): variables `village` and `name`. */
export const VOICE_KIND_TEMPLATES: Readonly<Record<VoiceKindTemplateKey, SmsTemplateDefinition>> = Object.fromEntries(
  VOICE_TEMPLATE_KEYS.flatMap((role) => ALARM_KINDS.map((kind) => [`${role}.${kind}`, kindTemplate(role, kind)])),
) as Record<VoiceKindTemplateKey, SmsTemplateDefinition>;

/** Whether `key` is a role a call can play. */
export function isVoiceTemplateKey(key: string): key is VoiceTemplateKey {
  return (VOICE_TEMPLATE_KEYS as readonly string[]).includes(key);
}

/**
 * A value as it may go into a TTS variable: one line, without the characters
 * Aliyun forbids in voice templates (# / : - % ¥ 【 】, which also keeps links
 * out), cut to VOICE_PARAM_MAX_CHARS; never empty (Aliyun refuses empty variables).
 */
export function voiceParamValue(value: string): string {
  const cleaned = value.replace(/[#/:：\-%¥【】]/g, ' ').replace(/\s+/g, ' ').trim();
  const chars = Array.from(cleaned);
  const cut = chars.length <= VOICE_PARAM_MAX_CHARS ? cleaned : chars.slice(0, VOICE_PARAM_MAX_CHARS).join('');
  return cut === '' ? '-' : cut;
}

/** The TtsParam of one call: exactly `definition`'s variables, from the message's SMS params. */
export function voiceParams(definition: SmsTemplateDefinition, message: Pick<SmsMessage, 'params'>): Record<string, string> {
  const params: Record<string, string> = {};
  for (const variable of definition.variables) params[variable] = voiceParamValue(message.params[variable] ?? '');
  return params;
}

/**
 * What the helper hears for `message` (the console caller prints it; tests read it):
 * the kind's own text when `kindOwn`, else the generic one; undefined for a role
 * that is never rung (cancelled).
 */
export function voiceText(message: Pick<SmsMessage, 'template' | 'kind' | 'params'>, locale: SmsLocale = 'zh-CN', kindOwn = false): string | undefined {
  if (!isVoiceTemplateKey(message.template)) return undefined;
  const definition = kindOwn ? VOICE_KIND_TEMPLATES[`${message.template}.${message.kind}`] : VOICE_TEMPLATES[message.template];
  return fillTemplate(definition.content[locale], voiceParams(definition, message));
}
