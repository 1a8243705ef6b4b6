/**
 * A stand-in for Aliyun's voice API (Dyvmsapi 2017-05-25: SingleCallByTts,
 * IvrCall with its receipt pushed to a URL, and QueryCallDetailByCallId) on 127.0.0.1. The signature, the date window, nonces,
 * the modes (ok, signature-error, key-disabled, no-credit, out-of-service,
 * flow-control, outage-503, outage-reset) and the control endpoint are those of
 * every local Aliyun API (local-aliyun-api-server.ts).
 *
 * SingleCallByTts is checked as Aliyun checks it: the called number (a mainland
 * mobile or a fixed line), the display number registered (isv.DISPLAY_NUMBER_ILLEGAL;
 * none is the shared mode), the TTS template registered (isv.TTS_TEMPLATE_ILLEGAL),
 * TtsParam a JSON object with every variable of the template, PlayTimes 1 to 3,
 * Volume 0 to 100, Speed -500 to 500. Each accepted call gets a CallId.
 *
 * QueryCallDetailByCallId answers the call's detail in Data (a JSON string) once
 * the call has ended, `settleAfterMs` (2 s) after it was accepted on the server's
 * clock — before, Data is empty, as Aliyun's records trail a call — with the
 * outcome set for its number (answered by default; no-answer, busy, off, … or
 * ringing for ever), so that a test can make one call answered and another not.
 * A wrong ProdId or a QueryDate of another day gives an empty Data, as Aliyun's.
 */
import { maskPhone } from '@kanjia/protocol';
import { z } from 'zod';
import { aliyunDateTime, aliyunDay } from '../sms/aliyun-api-call.js';
import { ALIYUN_VOICE_NOTIFICATION_PROD_ID } from '../voice/aliyun-voice-error-codes.js';
import { bareNumber, isReply, LocalAliyunApiServer, LocalApiControl, replacePerNumber, type LocalAliyunApiServerOptions, type LocalApiState, type Reply, type RequestContext } from './local-aliyun-api-server.js';

export const SINGLE_CALL_BY_TTS_ACTION = 'SingleCallByTts';
export const QUERY_CALL_DETAIL_ACTION = 'QueryCallDetailByCallId';
export const IVR_CALL_ACTION = 'IvrCall';
/** A receipt is pushed this long after the IvrCall was accepted (wall clock), like Aliyun's, which follows the call's end. */
export const LOCAL_VOICE_DEFAULT_PUSH_DELAY_MS = 200;
/** By default a call has ended, and is in the records, 2 s after it was accepted (server clock). */
export const LOCAL_VOICE_DEFAULT_SETTLE_AFTER_MS = 2_000;
/**
 * SingleCallByTts (help.aliyun.com/document_detail/114035): the variables together
 * under 250 characters, no limit on one variable; OutId 1 to 15 bytes.
 */
const MAX_TTS_PARAM_CHARS = 250;
const MAX_OUT_ID_BYTES = 15;
/** A mainland mobile with the usual prefixes, or a fixed line with its area code. */
const CALLED_NUMBER = /^(?:(?:\+|\+86|0086|86)?1[3-9]\d{9}|0[1-9]\d{8,10})$/;

/**
 * How a call to a number ends, as the call's state code (运营商回执错误码,
 * help.aliyun.com/document_detail/55085); `ringing` never ends (200201, 被叫响铃).
 */
export const LOCAL_CALL_OUTCOMES = {
  answered: { state: '200000', desc: '用户听完语音', answered: true },
  'hung-up-early': { state: '200001', desc: '用户提前挂机未完整收听', answered: true },
  busy: { state: '200002', desc: '用户占线', answered: false },
  'no-answer': { state: '200003', desc: '用户收到呼叫但未接听', answered: false },
  unreachable: { state: '200005', desc: '被叫用户无法接通', answered: false },
  'out-of-area': { state: '200007', desc: '用户无法接通(不在服务区)', answered: false },
  off: { state: '200010', desc: '关机', answered: false },
  suspended: { state: '200011', desc: '停机', answered: false },
  ringing: { state: '200201', desc: '被叫响铃', answered: false },
} as const;
export type LocalCallOutcome = keyof typeof LOCAL_CALL_OUTCOMES;
const OUTCOME_NAMES = Object.keys(LOCAL_CALL_OUTCOMES) as [LocalCallOutcome, ...LocalCallOutcome[]];

/** What the control endpoint (and setState) changes: the base fields, each number's call outcome and when calls end. */
export const LocalVoiceControl = LocalApiControl.extend({
  /** Number → how its calls end; numbers left out answer. Replaces the whole map. */
  outcomes: z.record(z.string().regex(/^\+?\d{5,20}$/), z.enum(OUTCOME_NAMES)).optional(),
  /** How long after its acceptance a call has ended and is in the records. */
  settleAfterMs: z.number().int().min(0).max(86_400_000).optional(),
  /** Number → the key its contact presses in an IvrCall (pushed as the receipt's dtmf); numbers left out press none. Replaces the whole map. */
  keys: z.record(z.string().regex(/^\+?\d{5,20}$/), z.enum(['1', '2'])).optional(),
  /** Where the IvrCall receipts are pushed (HTTP批量推送); null stops pushing. */
  receiptUrl: z.string().url().nullable().optional(),
}).strict();
export type LocalVoiceControl = z.infer<typeof LocalVoiceControl>;

export interface LocalVoiceState extends LocalApiState {
  outcomes: Record<string, LocalCallOutcome>;
  settleAfterMs: number;
  keys: Record<string, '1' | '2'>;
  receiptUrl: string | null;
  /** Every receipt push made, with the HTTP status and body our server answered (0 when it could not be reached). */
  pushes: LocalReceiptPush[];
}

export interface LocalReceiptPush {
  callId: string;
  report: Record<string, string | number>;
  status: number;
  answer: string;
}

export interface LocalAliyunVoiceServerOptions extends LocalAliyunApiServerOptions<AcceptedCall> {
  /** Registered display numbers (真实号); when given, any other CalledShowNumber is isv.DISPLAY_NUMBER_ILLEGAL. None given in a call is the shared mode. */
  showNumbers?: readonly string[];
  /** Approved TTS templates: code → variable names; when given, other codes are isv.TTS_TEMPLATE_ILLEGAL and missing variables isv.TEMPLATE_MISSING_PARAMETERS. */
  ttsTemplates?: Readonly<Record<string, readonly string[]>>;
  /** Where IvrCall receipts are pushed (the control endpoint's receiptUrl changes it); none: no push. */
  receiptUrl?: string;
  /** How long after an IvrCall its receipt is pushed; default 200 ms. */
  pushDelayMs?: number;
}

export interface AcceptedCall {
  callId: string;
  requestId: string;
  calledNumber: string;
  /** Null in the shared mode (no CalledShowNumber). */
  calledShowNumber: string | null;
  ttsCode: string;
  ttsParam: Record<string, string>;
  /** As sent; null when left out (Aliyun's default). */
  playTimes: number | null;
  volume: number | null;
  speed: number | null;
  outId: string | null;
  receivedAtMs: number;
  /** For an IvrCall: key → the TTS code read after it (MenuKeyMap), and the key timeout (null: Aliyun's default). */
  ivr?: { menuKeys: Record<string, string>; timeoutMs: number | null };
}

const SPEC = { actions: new Set([SINGLE_CALL_BY_TTS_ACTION, IVR_CALL_ACTION, QUERY_CALL_DETAIL_ACTION]), sendingActions: new Set([SINGLE_CALL_BY_TTS_ACTION, IVR_CALL_ACTION]), hostId: 'dyvmsapi.aliyuncs.com', noun: 'call' };

export class LocalAliyunVoiceServer extends LocalAliyunApiServer<AcceptedCall, LocalVoiceControl, LocalVoiceState> {
  private callSeq = 0;
  private readonly outcomes = new Map<string, LocalCallOutcome>();
  private settleAfterMs = LOCAL_VOICE_DEFAULT_SETTLE_AFTER_MS;
  private readonly keys = new Map<string, '1' | '2'>();
  private receiptUrl: string | null;
  private readonly pushList: LocalReceiptPush[] = [];
  private readonly pushTimers = new Set<ReturnType<typeof setTimeout>>();

  constructor(protected override readonly options: LocalAliyunVoiceServerOptions) {
    // One variable has no length limit of its own; their total has (MAX_TTS_PARAM_CHARS).
    super({ maxParamChars: Number.POSITIVE_INFINITY, ...options }, SPEC, LocalVoiceControl);
    this.receiptUrl = options.receiptUrl ?? null;
  }

  override async stop(): Promise<void> {
    for (const timer of this.pushTimers) clearTimeout(timer);
    this.pushTimers.clear();
    await super.stop();
  }

  /** The receipt pushes made so far. */
  pushes(): readonly LocalReceiptPush[] {
    return this.pushList;
  }

  /** Changes what `control` names (mode, bad and limited numbers, outcomes, when calls end); what it leaves out stays. */
  setState(control: LocalVoiceControl): void {
    this.setBaseState(control);
    replacePerNumber(this.outcomes, control.outcomes);
    if (control.settleAfterMs !== undefined) this.settleAfterMs = control.settleAfterMs;
    replacePerNumber(this.keys, control.keys);
    if (control.receiptUrl !== undefined) this.receiptUrl = control.receiptUrl;
  }

  state(): LocalVoiceState {
    return { ...this.baseState(), outcomes: Object.fromEntries(this.outcomes), settleAfterMs: this.settleAfterMs, keys: Object.fromEntries(this.keys), receiptUrl: this.receiptUrl, pushes: [...this.pushList] };
  }

  protected resetOwn(): void {
    this.outcomes.clear();
    this.settleAfterMs = LOCAL_VOICE_DEFAULT_SETTLE_AFTER_MS;
    this.keys.clear();
    this.pushList.length = 0;
  }

  protected answer(action: string, params: ReadonlyMap<string, string>, ctx: RequestContext): Reply {
    if (action === QUERY_CALL_DETAIL_ACTION) return this.queryCallDetail(params, ctx);
    return action === IVR_CALL_ACTION ? this.ivrCall(params, ctx) : this.singleCallByTts(params, ctx);
  }

  /**
   * IvrCall (help.aliyun.com/document_detail/393521): as SingleCallByTts, but the
   * display number is required (no shared mode), the prompt is StartCode with
   * StartTtsParams, and MenuKeyMap.N.Key / .Code name the keys (each Code a
   * registered template). The receipt is pushed after pushDelayMs when a
   * receiptUrl is set: the call's outcome, and the number's key as dtmf.
   */
  private ivrCall(params: ReadonlyMap<string, string>, ctx: RequestContext): Reply {
    const showNumber = params.get('CalledShowNumber') ?? '';
    if (showNumber === '') return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', '参数异常: CalledShowNumber is required');
    const menuKeys: Record<string, string> = {};
    for (let n = 1; params.has(`MenuKeyMap.${n}.Key`); n++) {
      const key = params.get(`MenuKeyMap.${n}.Key`) ?? '';
      const code = params.get(`MenuKeyMap.${n}.Code`) ?? '';
      if (!/^[0-9*#]$/.test(key) || code === '') return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', `参数异常: MenuKeyMap.${n} needs a Key (0-9, * or #) and a Code`);
      const templates = this.options.ttsTemplates;
      if (templates !== undefined && !Object.hasOwn(templates, code)) return this.reject(ctx, 200, 'isv.TTS_TEMPLATE_ILLEGAL', `TTS模板不合法: MenuKeyMap.${n}.Code`);
      menuKeys[key] = code;
    }
    if (Object.keys(menuKeys).length === 0) return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', '参数异常: MenuKeyMap is required');
    const timeout = params.get('Timeout');
    if (timeout !== undefined && !/^\d+$/.test(timeout)) return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', '参数异常: Timeout must be milliseconds');
    // The rest is checked as SingleCallByTts checks it, under IvrCall's names.
    const asTts = new Map(params);
    asTts.set('TtsCode', params.get('StartCode') ?? '');
    const startParams = params.get('StartTtsParams');
    if (startParams === undefined) asTts.delete('TtsParam');
    else asTts.set('TtsParam', startParams);
    const reply = this.singleCallByTts(asTts, ctx);
    const call = this.acceptedList.at(-1);
    if (reply.status !== 200 || call === undefined || call.requestId !== ctx.requestId) return reply;
    call.ivr = { menuKeys, timeoutMs: timeout === undefined ? null : Number(timeout) };
    this.schedulePush(call);
    return reply;
  }

  /** Pushes the call's receipt as Aliyun's HTTP batch push does: a JSON array of one VoiceReport. */
  private schedulePush(call: AcceptedCall): void {
    const url = this.receiptUrl;
    if (url === null) return;
    const bare = bareNumber(call.calledNumber);
    const outcome = LOCAL_CALL_OUTCOMES[this.outcomes.get(bare) ?? 'answered'];
    const key = outcome.answered ? this.keys.get(bare) : undefined;
    const startMs = call.receivedAtMs + Math.floor(this.settleAfterMs / 2);
    const endMs = call.receivedAtMs + this.settleAfterMs;
    const report: Record<string, string | number> = {
      call_id: call.callId,
      ...(call.outId !== null ? { out_id: call.outId } : {}),
      status_code: outcome.state,
      status_msg: outcome.desc,
      start_time: outcome.answered ? aliyunDateTime(startMs) : '',
      end_time: aliyunDateTime(endMs),
      duration: outcome.answered ? Math.round((endMs - startMs) / 1000) : 0,
      ...(key !== undefined ? { dtmf: key } : {}),
      toll_type: 'LOCAL',
      hangup_direction: outcome.answered ? '1' : '',
    };
    const timer = setTimeout(() => {
      this.pushTimers.delete(timer);
      void fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([report]) })
        .then(async (res) => ({ status: res.status, answer: await res.text() }))
        .catch((err: unknown) => ({ status: 0, answer: String(err) }))
        .then((result) => this.pushList.push({ callId: call.callId, report, ...result }));
    }, this.options.pushDelayMs ?? LOCAL_VOICE_DEFAULT_PUSH_DELAY_MS);
    this.pushTimers.add(timer);
  }

  private singleCallByTts(params: ReadonlyMap<string, string>, ctx: RequestContext): Reply {
    const calledNumber = params.get('CalledNumber') ?? '';
    if (!CALLED_NUMBER.test(calledNumber)) return this.reject(ctx, 200, 'isv.MOBILE_NUMBER_ILLEGAL', '号码格式非法');
    const bare = bareNumber(calledNumber);
    if (this.badNumbers.has(bare)) return this.reject(ctx, 200, 'isv.MOBILE_NUMBER_ILLEGAL', '号码格式非法', true);
    if (this.limitedNumbers.has(bare)) return this.reject(ctx, 200, 'isv.BUSINESS_LIMIT_CONTROL', '触发流控', true);
    const showNumber = params.get('CalledShowNumber');
    const shown = showNumber === undefined || showNumber === '' ? null : showNumber;
    if (shown !== null && this.options.showNumbers !== undefined && !this.options.showNumbers.includes(shown)) return this.reject(ctx, 200, 'isv.DISPLAY_NUMBER_ILLEGAL', '号显不合法');
    const ttsCode = params.get('TtsCode') ?? '';
    const templates = this.options.ttsTemplates;
    const variables = templates === undefined ? undefined : Object.hasOwn(templates, ttsCode) ? templates[ttsCode] : null;
    if (ttsCode === '' || variables === null) return this.reject(ctx, 200, 'isv.TTS_TEMPLATE_ILLEGAL', 'TTS模板不合法');
    const ttsParam = this.checkTemplateParam(ctx, params.get('TtsParam'), variables, 'isv.INVALID_PARAMETERS');
    if (isReply(ttsParam)) return ttsParam;
    const totalChars = Object.values(ttsParam).reduce((sum, value) => sum + Array.from(value).length, 0);
    if (totalChars >= MAX_TTS_PARAM_CHARS) return this.reject(ctx, 200, 'isv.PARAM_LENGTH_LIMIT', `参数长度受限: the variables hold ${totalChars} characters, fewer than ${MAX_TTS_PARAM_CHARS} allowed`);
    const outId = params.get('OutId');
    if (outId !== undefined && (outId === '' || Buffer.byteLength(outId) > MAX_OUT_ID_BYTES)) return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', `参数异常: OutId must be 1..${MAX_OUT_ID_BYTES} bytes`);
    const numbers: Record<'PlayTimes' | 'Volume' | 'Speed', number | null> = { PlayTimes: null, Volume: null, Speed: null };
    const ranges = { PlayTimes: [1, 3], Volume: [0, 100], Speed: [-500, 500] } as const;
    for (const name of ['PlayTimes', 'Volume', 'Speed'] as const) {
      const raw = params.get(name);
      if (raw === undefined || raw === '') continue;
      const value = Number(raw);
      const [min, max] = ranges[name];
      if (!/^-?\d+$/.test(raw) || value < min || value > max) return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', `参数异常: ${name} must be a whole number ${min}..${max}`);
      numbers[name] = value;
    }

    const call: AcceptedCall = {
      callId: `${String(ctx.receivedAtMs).slice(-12)}^${String(++this.callSeq).padStart(11, '0')}`,
      requestId: ctx.requestId,
      calledNumber,
      calledShowNumber: shown,
      ttsCode,
      ttsParam,
      playTimes: numbers.PlayTimes,
      volume: numbers.Volume,
      speed: numbers.Speed,
      outId: ctx.outId,
      receivedAtMs: ctx.receivedAtMs,
    };
    this.record(call);
    return { status: 200, body: { Code: 'OK', Message: 'OK', RequestId: ctx.requestId, CallId: call.callId } };
  }

  /** The call's detail once it has ended; empty Data before, or for another product or day (help.aliyun.com/document_detail/393529). */
  private queryCallDetail(params: ReadonlyMap<string, string>, ctx: RequestContext): Reply {
    const callId = params.get('CallId') ?? '';
    const prodId = params.get('ProdId') ?? '';
    const queryDate = params.get('QueryDate') ?? '';
    if (callId === '') return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', '参数异常: CallId is required');
    if (!/^\d+$/.test(prodId)) return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', '参数异常: ProdId must be a product id such as 11000000300006');
    if (!/^\d{10,13}$/.test(queryDate)) return this.reject(ctx, 200, 'isv.INVALID_PARAMETERS', '参数异常: QueryDate must be a Unix time in milliseconds');
    const ok = (data: string): Reply => ({ status: 200, body: { Code: 'OK', Message: 'OK', RequestId: ctx.requestId, Data: data } });
    const call = this.acceptedList.find((c) => c.callId === callId);
    if (call === undefined || Number(prodId) !== ALIYUN_VOICE_NOTIFICATION_PROD_ID || aliyunDay(Number(queryDate)) !== aliyunDay(call.receivedAtMs)) return ok('');
    const endedAtMs = call.receivedAtMs + this.settleAfterMs;
    if (this.clock.nowMs() < endedAtMs) return ok('');
    const outcome = LOCAL_CALL_OUTCOMES[this.outcomes.get(bareNumber(call.calledNumber)) ?? 'answered'];
    const answeredAtMs = call.receivedAtMs + Math.floor(this.settleAfterMs / 2);
    return ok(
      JSON.stringify({
        callee: call.calledNumber,
        caller: call.calledShowNumber ?? '',
        calleeShowNumber: call.calledShowNumber ?? '',
        callerShowNumber: call.calledShowNumber ?? '',
        state: outcome.state,
        stateDesc: outcome.desc,
        startDate: outcome.answered ? aliyunDateTime(answeredAtMs) : '',
        endDate: outcome.state === '200201' ? '' : aliyunDateTime(endedAtMs),
        duration: outcome.answered ? Math.round((endedAtMs - answeredAtMs) / 1000) : 0,
        gmtCreate: aliyunDateTime(call.receivedAtMs),
        hangupDirection: outcome.answered ? '用户' : '',
      }),
    );
  }
}

/** The accepted call with its called number masked, for logs. */
export function maskAcceptedCall(call: AcceptedCall): AcceptedCall {
  return { ...call, calledNumber: maskPhone(call.calledNumber) };
}
