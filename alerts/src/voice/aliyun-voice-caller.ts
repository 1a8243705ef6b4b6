/**
 * Rings a helper through Aliyun's voice service (语音通知, Dyvmsapi 2017-05-25):
 * SingleCallByTts reads a registered text-to-speech template aloud, PlayTimes
 * times (messages/voice-templates.ts), and QueryCallDetailByCallId tells
 * afterwards whether the call was answered.
 *
 * The official SDK @alicloud/dyvmsapi20170525 is not on the registry this
 * project builds from; every generated Aliyun SDK is a thin layer over
 * @alicloud/openapi-core's `callApi` with the API's Params, so this adapter
 * calls it the way the generated client does (action, version 2017-05-25, POST
 * /, RPC style, the parameters in the query string, ACS3-HMAC-SHA256): the
 * request and its signature are the official SDK's.
 *
 * "Press 1 to take it" (settings.ivr): the call is placed by IvrCall with the
 * keys 1 (take the case) and 2 (ring the next one). Aliyun reports the key
 * pressed only through its receipts (VoiceReport / VoiceCallReport `dtmf`, by
 * the MNS queue or an HTTP push), not through QueryCallDetailByCallId: the
 * server's receipt route reads the push (server/src/http/voice-receipt-routes.ts,
 * docs/voice-calls.md for the sources).
 */
import OpenApiModule, { $OpenApiUtil, OpenApiUtil } from '@alicloud/openapi-core';
import { ALARM_KINDS, maskPhone } from '@kanjia/protocol';
import { z } from 'zod';
import type { DeliveryAnswer, DeliveryQuery, NoticeChannel } from '../channels/channel.js';
import { VOICE_KIND_TEMPLATES, VOICE_TEMPLATES, VOICE_TEMPLATE_KEYS, isVoiceTemplateKey, voiceParams } from '../messages/voice-templates.js';
import {
  aliyunRuntime,
  classifyThrown,
  parseAliyunDateTime,
  scrubProviderText,
  sdkClientClass,
  sendWithGenericFallback,
  withDeadline,
  type AliyunAttempt,
  type AliyunFailure,
} from '../sms/aliyun-api-call.js';
import { isKindTemplateKey, normalizeMainlandMobile, SMS_ERROR_CODES, type SmsMessage, type SmsResult } from '../sms/sms-sender.js';
import { ALIYUN_CALL_ANSWERED_STATES, ALIYUN_CALL_FAILED_STATES, ALIYUN_VOICE_NOTIFICATION_PROD_ID, callStateOutcome, classifyAliyunVoiceFailure } from './aliyun-voice-error-codes.js';

export const ALIYUN_VOICE_DEFAULT_ENDPOINT = 'dyvmsapi.aliyuncs.com';
export const DYVMSAPI_VERSION = '2017-05-25';
/** Say the message twice: once to wake, once to be understood. Aliyun allows 1 to 3. */
export const ALIYUN_VOICE_DEFAULT_PLAY_TIMES = 2;
export const ALIYUN_VOICE_DEFAULT_TIMEOUT_MS = 5_000;

/** Every TTS template key a code may be given for: alarm, escalation, and alarm.<kind> / escalation.<kind>. */
const ttsCodeKey = z.string().refine((key) => isVoiceTemplateKey(key) || isKindTemplateKey(key), {
  message: `a role (${VOICE_TEMPLATE_KEYS.join(', ')}) or a role and an alarm kind such as alarm.fall (kinds: ${ALARM_KINDS.join(', ')})`,
});

/**
 * The settings of the voice caller, as the server's config reads them
 * (docs/voice-calls.md lists the KANJIA_ALIYUN_VOICE_* variables proposed for them).
 */
export const AliyunVoiceSettingsSchema = z
  .object({
    accessKeyId: z.string().min(1, 'required'),
    accessKeySecret: z.string().min(1, 'required'),
    /**
     * The display number (被叫显号, CalledShowNumber): the deployment's own number or
     * service instance id in the dedicated mode (专属模式); left out in the shared mode
     * (公共模式), where Aliyun picks a number of its pool.
     */
    showNumber: z.string().regex(/^[0-9A-Za-z_-]{3,40}$/, 'a phone number or a service instance id').optional(),
    /** Approved TTS template codes (e.g. TTS_123456789): the generic alarm and escalation ones, and any kind's own. At least one. */
    ttsCodes: z.record(ttsCodeKey, z.string().min(1, 'an approved TTS template code such as TTS_123456789')).refine((codes) => Object.keys(codes).length > 0, 'at least one TTS template code (alarm, escalation, or a kind such as alarm.fall)'),
    /** How many times the message is read in one call: 1 to 3 (SingleCallByTts PlayTimes); default 2. */
    playTimes: z.number().int().min(1).max(3).default(ALIYUN_VOICE_DEFAULT_PLAY_TIMES),
    /** Volume 0 to 100; Aliyun's default when left out. */
    volume: z.number().int().min(0).max(100).optional(),
    /** Speed -500 to 500; Aliyun's default when left out. */
    speed: z.number().int().min(-500).max(500).optional(),
    /** Host[:port] of the API; default dyvmsapi.aliyuncs.com. */
    endpoint: z.string().regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'host or host:port, without scheme or path').default(ALIYUN_VOICE_DEFAULT_ENDPOINT),
    /** Default https; http only for a local stand-in. */
    protocol: z.enum(['https', 'http']).default('https'),
    /** Deadline of one API call, answer included; default 5000 ms. */
    timeoutMs: z.number().int().positive().default(ALIYUN_VOICE_DEFAULT_TIMEOUT_MS),
    /**
     * "Press 1 to take it": the call is placed by IvrCall, the ttsCodes being the
     * IVR's start prompts (their text ends "…请按1接警，按2转给下一位"), and the key
     * pressed comes back in the receipts Aliyun pushes to the server (docs/voice-calls.md).
     * Left out: SingleCallByTts, no key.
     */
    ivr: z
      .object({
        /** The TTS template read after key 1 (e.g. "您已接警，请尽快前往。"): no variables. */
        takeCode: z.string().min(1, 'an approved TTS template code such as TTS_123456789'),
        /** The TTS template read after key 2 (e.g. "好的，已转给下一位。"): no variables. */
        passCode: z.string().min(1, 'an approved TTS template code such as TTS_123456789'),
        /** How long Aliyun waits for a key, in ms (IvrCall Timeout); Aliyun's default when left out. */
        keyTimeoutMs: z.number().int().min(1_000).max(60_000).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** The keys of an IVR call and what they mean (the receipt route reads them back). */
export const IVR_KEYS = { take: '1', pass: '2' } as const;
export const IVR_CALL_ACTION = 'IvrCall';

export type AliyunVoiceSettingsInput = z.input<typeof AliyunVoiceSettingsSchema>;
export type AliyunVoiceSettings = z.output<typeof AliyunVoiceSettingsSchema>;

export interface AliyunVoiceCallerOptions {
  /** Where failures are reported, one line each, phone masked; default stderr. */
  log?: (line: string) => void;
}

type OpenApiClientClass = typeof OpenApiModule.default;
type OpenApiClient = InstanceType<OpenApiClientClass>;

/** The called number as SingleCallByTts takes it: a mainland mobile (11 digits) or a fixed line with its area code (0571…); null otherwise. */
export function normalizeCalledNumber(phone: string): string | null {
  const mobile = normalizeMainlandMobile(phone);
  if (mobile !== null) return mobile;
  const digits = phone.replace(/[\s()-]/g, '').replace(/^(?:\+86|0086)(?=[1-9])/, '0');
  return /^0[1-9]\d{8,10}$/.test(digits) ? digits : null;
}

/** SingleCallByTts' OutId is 1 to 15 bytes (help.aliyun.com/document_detail/114035). */
export const ALIYUN_VOICE_OUT_ID_MAX_BYTES = 15;

/**
 * Our notification id as an OutId Aliyun takes: as it is when it fits 15 bytes,
 * else without its prefix (`ntf_3k9x2a7fq1mz` → `3k9x2a7fq1mz`), else none —
 * receipts are read by CallId, so the OutId only helps a person reading Aliyun's console.
 */
export function voiceOutId(outId: string): string | undefined {
  const fits = (id: string) => id !== '' && Buffer.byteLength(id) <= ALIYUN_VOICE_OUT_ID_MAX_BYTES;
  if (fits(outId)) return outId;
  const unprefixed = outId.slice(outId.indexOf('_') + 1);
  return fits(unprefixed) ? unprefixed : undefined;
}

/** The shape of SingleCallByTts' and QueryCallDetailByCallId's JSON answers (the generic client does not map names). */
interface DyvmsAnswer {
  Code?: unknown;
  Message?: unknown;
  RequestId?: unknown;
  CallId?: unknown;
  Data?: unknown;
}

interface PickedTts {
  key: string;
  ttsCode: string;
  variables: Record<string, string>;
}

/** Answers to a kind's own template that say the template, not the call, is wrong: the generic one is used. */
const KIND_TTS_FALLBACK_CODES: ReadonlySet<string> = new Set(['isv.TTS_TEMPLATE_ILLEGAL', 'isv.TEMPLATE_ILLEGAL', 'isv.TEMPLATE_MISSING_PARAMETERS']);

export class AliyunVoiceCaller implements NoticeChannel {
  readonly name = 'aliyun-voice';
  readonly medium = 'voice' as const;
  private readonly settings: AliyunVoiceSettings;
  private readonly client: OpenApiClient;
  private readonly log: (line: string) => void;

  /** Throws with every problem listed when the settings are bad (a start-up error). */
  constructor(settings: AliyunVoiceSettingsInput, options: AliyunVoiceCallerOptions = {}) {
    const parsed = AliyunVoiceSettingsSchema.safeParse(settings);
    if (!parsed.success) {
      const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(settings)'}: ${issue.message}`);
      throw new Error(`AliyunVoiceCaller: bad settings:\n- ${problems.join('\n- ')}`);
    }
    if (parsed.data.ivr && parsed.data.showNumber === undefined) {
      throw new Error('AliyunVoiceCaller: bad settings:\n- showNumber: required with ivr (IvrCall rings from a number of the deployment, there is no shared mode)');
    }
    this.settings = Object.freeze(parsed.data);
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    const Client = sdkClientClass<OpenApiClientClass>(OpenApiModule, '@alicloud/openapi-core');
    this.client = new Client(
      new $OpenApiUtil.Config({
        accessKeyId: this.settings.accessKeyId,
        accessKeySecret: this.settings.accessKeySecret,
        endpoint: this.settings.endpoint,
        protocol: this.settings.protocol,
        connectTimeout: this.settings.timeoutMs,
        readTimeout: this.settings.timeoutMs,
      }),
    );
  }

  /**
   * Rings `message.to` and reads the TTS template of the message's role and kind;
   * ok as soon as Aliyun has accepted the call (CallId as providerRef): whether it
   * was answered is for queryDelivery. Never throws.
   */
  async send(message: SmsMessage): Promise<SmsResult> {
    const called = normalizeCalledNumber(message.to);
    if (called === null) {
      return this.fail(message, message.template, { kind: 'permanent', code: 'isv.MOBILE_NUMBER_ILLEGAL', message: 'not a mainland mobile or fixed-line number (checked before calling)' });
    }
    return sendWithGenericFallback({
      picked: this.pickTemplate(message),
      // This channel cannot carry this notice (a cancelled alarm is never rung; a kind without a TTS
      // template), but the next channel of its route can: `limited` moves it there, where `permanent`
      // would fail it and skip the contact.
      noTemplate: {
        role: message.template,
        failure: { kind: 'limited', code: SMS_ERROR_CODES.unknownTemplate, message: `no Aliyun TTS template code for "${message.template}.${message.kind}" or "${message.template}"` },
      },
      generic: () => this.genericTemplate(message),
      attempt: (template) => this.callWith(message, called, template),
      fallbackCodes: KIND_TTS_FALLBACK_CODES,
      onFallback: (kindOwn, code, generic) =>
        this.log(`aliyun voice: the TTS template ${kindOwn.key} (${kindOwn.ttsCode}) was refused with ${code}: outId ${message.outId} is rung with the generic template ${generic.key} instead; fix its code (docs/voice-calls.md)`),
      fail: (template, failure) => this.fail(message, template, failure),
    });
  }

  /** Whether a notice of this role and kind can be rung: a TTS code is configured for it (the router can skip voice otherwise). */
  ringsFor(template: SmsMessage['template'], kind: SmsMessage['kind']): boolean {
    return this.pickTemplate({ template, kind, params: {} }) !== undefined;
  }

  /**
   * Whether the call was answered, by QueryCallDetailByCallId (CallId, the voice
   * notification's ProdId, and the day of the call): 200000/200001 delivered;
   * busy, no answer, switched off, refused … failed with the state as the code;
   * under way, or not yet in Aliyun's records (they trail the call by minutes),
   * pending. Never throws: a failed query is `unknown`.
   */
  async queryDelivery(query: DeliveryQuery): Promise<DeliveryAnswer> {
    const outcome = await this.callApi('QueryCallDetailByCallId', {
      CallId: query.providerRef,
      ProdId: ALIYUN_VOICE_NOTIFICATION_PROD_ID,
      QueryDate: query.sentAtMs,
    });
    if (!outcome.ok) return { state: 'unknown', code: outcome.code, message: outcome.message };
    const data = parseCallDetail(outcome.body.Data);
    if (data === null || data.state === '') return { state: 'pending' };
    const verdict = callStateOutcome(data.state);
    if (verdict === 'delivered') {
      return { state: 'delivered', atMs: parseAliyunDateTime(data.startDate), detail: `${data.state} ${ALIYUN_CALL_ANSWERED_STATES.get(data.state) ?? ''}`.trim() };
    }
    if (verdict === 'failed') {
      const meaning = ALIYUN_CALL_FAILED_STATES.get(data.state) ?? data.stateDesc;
      return { state: 'failed', code: data.state, message: `the call did not reach the helper: ${meaning}`, atMs: parseAliyunDateTime(data.endDate) ?? parseAliyunDateTime(data.gmtCreate) };
    }
    return { state: 'pending' };
  }

  /** One SingleCallByTts with the template `picked`; a failure is returned unlogged. */
  private async callWith(message: SmsMessage, called: string, picked: PickedTts): Promise<AliyunAttempt> {
    const { showNumber, playTimes, volume, speed, ivr } = this.settings;
    // Not idempotent: a retry after a timeout may ring twice. For an alarm, better twice than never.
    const outcome = ivr
      ? await this.callApi(IVR_CALL_ACTION, {
          // IvrCall has no shared mode: the display number is required (help.aliyun.com/document_detail/393521).
          ...optional('CalledShowNumber', showNumber),
          CalledNumber: called,
          StartCode: picked.ttsCode,
          StartTtsParams: JSON.stringify(picked.variables),
          PlayTimes: playTimes,
          ...optional('Timeout', ivr.keyTimeoutMs),
          ...optional('OutId', voiceOutId(message.outId)),
          // Flattened by the SDK as MenuKeyMap.1.Key, MenuKeyMap.1.Code …
          MenuKeyMap: [
            { Key: IVR_KEYS.take, Code: ivr.takeCode },
            { Key: IVR_KEYS.pass, Code: ivr.passCode },
          ],
        })
      : await this.callApi('SingleCallByTts', {
      ...optional('CalledShowNumber', showNumber),
      CalledNumber: called,
      TtsCode: picked.ttsCode,
      TtsParam: JSON.stringify(picked.variables),
      PlayTimes: playTimes,
      ...optional('Volume', volume),
      ...optional('Speed', speed),
      ...optional('OutId', voiceOutId(message.outId)),
    });
    if (!outcome.ok) return outcome;
    const callId = outcome.body.CallId;
    return { ok: true, providerRef: typeof callId === 'string' && callId !== '' ? callId : null };
  }

  /** One RPC call of Dyvmsapi as the generated SDK makes it; ok only with Code OK. */
  private async callApi(action: string, query: Record<string, string | number | ReadonlyArray<Record<string, string>>>): Promise<{ ok: true; body: DyvmsAnswer } | ({ ok: false } & AliyunFailure)> {
    const failed = (failure: AliyunFailure) => ({ ok: false as const, ...failure });
    const timeoutMs = this.settings.timeoutMs;
    try {
      const params = new $OpenApiUtil.Params({
        action,
        version: DYVMSAPI_VERSION,
        protocol: 'HTTPS',
        pathname: '/',
        method: 'POST',
        authType: 'AK',
        style: 'RPC',
        reqBodyType: 'formData',
        bodyType: 'json',
      });
      const request = new $OpenApiUtil.OpenApiRequest({ query: OpenApiUtil.query(query) });
      const response = (await withDeadline(this.client.callApi(params, request, aliyunRuntime(timeoutMs)), timeoutMs)) as { body?: unknown; statusCode?: number } | 'timeout';
      if (response === 'timeout') return failed({ kind: 'transport', code: SMS_ERROR_CODES.timeout, message: `no answer from Aliyun within ${timeoutMs} ms` });
      const body = (typeof response.body === 'object' && response.body !== null ? response.body : {}) as DyvmsAnswer;
      const code = body.Code;
      if (code === 'OK') return { ok: true, body };
      if (typeof code !== 'string' || code === '') {
        return failed({ kind: 'transport', code: SMS_ERROR_CODES.badResponse, message: `answer without a Code (HTTP ${response.statusCode ?? 'status unknown'})` });
      }
      return failed({
        kind: classifyAliyunVoiceFailure(code, response.statusCode ?? 200),
        code,
        message: scrubProviderText(`${typeof body.Message === 'string' ? body.Message : ''} (request id ${typeof body.RequestId === 'string' ? body.RequestId : 'unknown'})`),
      });
    } catch (err) {
      return failed(classifyThrown(err, classifyAliyunVoiceFailure));
    }
  }

  /** The role's generic template, when its code is configured. */
  private genericTemplate(message: Pick<SmsMessage, 'template' | 'kind' | 'params'>): PickedTts | undefined {
    if (!isVoiceTemplateKey(message.template)) return undefined;
    const ttsCode = this.settings.ttsCodes[message.template];
    if (ttsCode === undefined) return undefined;
    return { key: message.template, ttsCode, variables: voiceParams(VOICE_TEMPLATES[message.template], message) };
  }

  /** The kind's own template when its code is configured, else the role's generic one; undefined when neither is (or the role is never rung). */
  private pickTemplate(message: Pick<SmsMessage, 'template' | 'kind' | 'params'>): PickedTts | undefined {
    if (!isVoiceTemplateKey(message.template)) return undefined;
    const kindKey = `${message.template}.${message.kind}` as const;
    const ttsCode = this.settings.ttsCodes[kindKey];
    if (ttsCode !== undefined) return { key: kindKey, ttsCode, variables: voiceParams(VOICE_KIND_TEMPLATES[kindKey], message) };
    return this.genericTemplate(message);
  }

  /** Logs a failure (phone masked) with the template it was rung with, and returns it as the result. */
  private fail(message: SmsMessage, template: string, failure: AliyunFailure): SmsResult {
    this.log(`aliyun voice: ${failure.code} to ${maskPhone(message.to)} (outId ${message.outId}, template ${template}, ${failure.kind}): ${failure.message}`);
    return { ok: false, kind: failure.kind, code: failure.code, message: failure.message };
  }
}

/** A query parameter only when it has a value. */
function optional(name: string, value: string | number | undefined): Record<string, string | number> {
  return value === undefined ? {} : { [name]: value };
}

/** The call detail Aliyun answers in Data: a JSON object in a string; null when empty (not yet recorded) or unreadable. */
export const AliyunCallDetail = z
  .object({
    state: z.coerce.string().default(''),
    stateDesc: z.coerce.string().default(''),
    startDate: z.string().nullish(),
    endDate: z.string().nullish(),
    gmtCreate: z.string().nullish(),
    duration: z.coerce.number().nullish(),
    callee: z.string().nullish(),
  })
  .passthrough();
export type AliyunCallDetail = z.infer<typeof AliyunCallDetail>;

function parseCallDetail(data: unknown): AliyunCallDetail | null {
  let value: unknown = data;
  if (typeof data === 'string') {
    if (data.trim() === '') return null;
    try {
      value = JSON.parse(data);
    } catch {
      return null;
    }
  }
  const parsed = AliyunCallDetail.safeParse(value);
  return parsed.success ? parsed.data : null;
}
