/**
 * Alarm cases, their history, the notification outbox and the device-command
 * outbox in SQLite. Every state change and the messages it causes are written
 * in one transaction: a crash leaves either all of it or none of it.
 */
import type {
  AlarmDetails,
  AlarmPolicy,
  CaseSmsSubject,
  ChannelMedium,
  ChannelPlan,
  ClaimProblem,
  DeliveryAnswer,
  DeliveryCheck,
  DeliveryStore,
  EscalationStore,
  GroupPostInput,
  Notice,
  NoticePurpose,
  OutboxItem,
  OutboxStore,
  SmsTemplateKey,
  TransitionAction,
} from '@kanjia/alerts';
import {
  ABSORBS_REPEATS,
  DEFAULT_SMS_SIGN_NAME,
  DELIVERY_GIVE_UP_MS,
  HISTORY_CAP,
  alarmDetail,
  bundleable,
  bundleMessage,
  callsKind,
  callsWithFirstNotice,
  gatheredUntil,
  groupPostParams,
  renderGroupPost,
  cancelledNoticeSms,
  caseCallNotice,
  channelLabel,
  mediumOf,
  nextDeliveryCheckDelayMs,
  routeFor,
  smsOnlyPlan,
  caseNoticeSms,
  decideTransition,
  firstEscalationAt,
  foldRepeat,
  historyNotes,
  maySend,
  needsSettling,
  nextEscalationStep,
  parseCaseDetails,
  planSettlement,
  policyForOccurrence,
  roleLabel,
  skipReason,
  takeTimeoutOf,
} from '@kanjia/alerts';
import type { Finding } from '@kanjia/detection';
import {
  ACTIVE_STATUSES,
  KanjiaError,
  type CatalogCodes,
  type AlarmAction,
  type AlarmKind,
  type AlarmStatus,
  type AlarmView,
  type CardAlarm,
  type AnswerView,
  type DeviceCommand,
  type DeliveryState,
  type DeviceEvent,
  maskAnswerCode,
  maskPhone,
  Severity,
  type AlarmOutcome,
} from '@kanjia/protocol';
import { transactionRunner, withRelaxedCommit, type Db } from '../db/database.js';
import { newId } from '../ids.js';
import { ANSWER_CODE_TTL_MS, hashAnswerCode, newAnswerCode } from './answer-codes.js';
import { SqliteDeviceCommandStore, isQueuedCommand } from './device-commands.js';
import type { ContactRow, ResidentContext, SqliteRegistryStore } from '../registry/registry-store.js';

export type AlarmErrorCode = CatalogCodes<'ALARM_NOT_FOUND' | 'ALARM_ALREADY_TAKEN' | 'ALARM_CLOSED' | 'ALARM_WRONG_STATE'>;

export class AlarmError extends KanjiaError<AlarmErrorCode> {
  override readonly name = 'AlarmError';
}

export interface RecordEventResult {
  /** The case this event opened or joined, if it is an alarm. */
  alarmId: string | null;
  /** True when this (device, event id) was recorded before: nothing new was written. */
  duplicate: boolean;
  /** True when this event opened a new case. */
  opened: boolean;
}

/** Re-exported for the API layers: the case rules live in @kanjia/alerts (case/). */
export type { TransitionAction } from '@kanjia/alerts';

interface AlarmRow {
  id: string;
  kind: AlarmKind;
  severity: AlarmView['severity'];
  status: AlarmStatus;
  device_id: string;
  event_id: string;
  event_ts: number;
  resident_id: string;
  household_id: string;
  village_id: string;
  opened_at: number;
  updated_at: number;
  taken_by: string | null;
  taken_at: number | null;
  resolved_at: number | null;
  resolution_note: string | null;
  /** How a resolved case ended (migration 17); null while open, cancelled, or not said. */
  outcome: AlarmOutcome | null;
  escalation_level: number;
  next_escalation_at: number | null;
  /** JSON of the opening finding's `details`; null without details or for a case opened before migration 3. */
  details_json: string | null;
  /** Triggers in all, the first included (migration 10). */
  repeat_count: number;
  /** The latest repeated trigger; null when triggered once. */
  repeat_last_at: number | null;
  /** History entries dropped by HISTORY_CAP. */
  history_omitted: number;
}

/**
 * SQL (alarms aliased `a`): the case's latest notice to a contact is not held:
 * neither waiting out a provider's outage nor on its way by another channel
 * after the first could not send it (the contact has not been told yet, so
 * their time to take it has not begun). A notice already counted as not
 * reached (it fell over to the duty group: SMS and call could not reach the
 * contact) holds nothing: the next contact is texted whatever the group's
 * robot does.
 */
const NOT_HELD = `NOT EXISTS (SELECT 1 FROM notifications h WHERE h.alarm_id = a.id AND h.escalation_level = a.escalation_level AND h.purpose = 'chain'
                               AND h.status IN ('pending', 'sending') AND (h.outage_at IS NOT NULL OR h.route_step > 0) AND h.unreached_at IS NULL AND h.template <> 'cancelled')`;

/** How long a notice that could not be prepared for sending waits before the outbox tries it again. */
export const UNPREPARED_RETRY_MS = 60_000;

/** What an SMS about a case says, and which case it belongs to. */
interface SmsSubject extends CaseSmsSubject {
  alarmId: string;
  severity: Severity;
  /** The outbox's order (notifications.priority): the case's severity rank. */
  priority: number;
}

/** A notice's place in the outbox by its case's severity: after an outage an SOS goes before a low battery. */
const NOTICE_PRIORITY: Readonly<Record<Severity, number>> = { critical: 0, urgent: 1, maintenance: 2 };

export interface AlarmStoreOptions {
  policies: Record<AlarmKind, AlarmPolicy>;
  locale: 'zh-CN' | 'en';
  /** Name of the SMS channel written on notification rows (e.g. aliyun, console); the plan's first SMS channel when a plan is given. */
  channel: string;
  /** The channels and their routes (channels/routing.ts); default: `channel` alone. */
  plan?: ChannelPlan;
  /** The medium of every channel of the plan (a name not listed is an SMS channel). */
  media?: Readonly<Record<string, ChannelMedium>>;
  /** Channels that give delivery receipts: a notice sent on one waits for its receipt. */
  receipts?: ReadonlySet<string>;
  /** Several alarms for one number within this many ms go as one SMS (channels/bundles.ts); 0 or absent: never. */
  bundleWindowMs?: number;
  /** SMS sign name shown in 【】 in the rendered text. */
  signName?: string;
  /**
   * The address phones reach the server at (setting `publicUrl`), for the answer
   * link of every SMS; a function because the default is known only once the
   * HTTP port is bound.
   */
  publicUrl: string | (() => string);
}

/** A notice whose contact will not answer: what moving on from it needs. */
interface UnreachedRow {
  id: string;
  alarm_id: string;
  contact_name: string;
  escalation_level: number;
}

/** A voice call as a pushed receipt finds it (voiceCallByRef). */
export interface VoiceCallRef {
  /** The notification id. */
  id: string;
  alarmId: string;
  /** The contact as the case history names them, e.g. "帮扶责任人 刘建军". */
  actor: string;
  alarmStatus: AlarmStatus;
  /** The escalation already moved on past this call (callPassedOn, or not reached). */
  passedOn: boolean;
}

/** What an answer code opens: one case, for one contact. */
export interface AnswerGrant {
  alarmId: string;
  /** The notice whose SMS carried the code (the carrier of a bundle: answerBundle). */
  notificationId: string;
  contactName: string;
  contactRole: ContactRow['role'];
  /** How the case history names this contact: "帮扶责任人 刘建军". */
  actor: string;
  expiresAt: number;
  /** False once the case has closed or the 24 hours have passed: the page then shows nothing of the case. */
  live: boolean;
}

/** An answer code row joined with its case's status. */
interface AnswerGrantRow {
  alarm_id: string;
  notification_id: string;
  contact_name: string;
  contact_role: ContactRow['role'];
  expires_at: number;
  status: AlarmStatus;
}

export class SqliteAlarmStore implements OutboxStore, EscalationStore, DeliveryStore {
  /** The commands to devices, written in this store's transactions (device-commands.ts). */
  readonly commands: SqliteDeviceCommandStore;
  private readonly plan: ChannelPlan;
  /** When each number was last sent a chain SMS, by channel (`channel\0phone`): the bundle window. */
  private readonly lastSentTo = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly registry: SqliteRegistryStore,
    private readonly options: AlarmStoreOptions,
  ) {
    this.commands = new SqliteDeviceCommandStore(db);
    this.plan = options.plan ?? smsOnlyPlan(options.channel);
  }

  private medium(channel: string): ChannelMedium {
    return mediumOf(this.options.media ?? {}, channel);
  }

  /** `fn` in a transaction (a savepoint when nested): committed when it returns, undone when it throws. */
  private run<T>(fn: () => T): T {
    return transactionRunner(this.db)(fn);
  }

  /** As run(), beginning with BEGIN IMMEDIATE when outermost. */
  private runImmediate<T>(fn: () => T): T {
    return transactionRunner(this.db).immediate(fn);
  }

  /**
   * Records a device event exactly once per (device, event id). An alarm
   * finding opens a case with its first notification and the device's
   * `received` acknowledgement is safe to send once this returns; a finding of
   * a kind that already has an active case for the same resident joins it.
   */
  recordEvent(deviceId: string, event: DeviceEvent, finding: Finding | undefined, nowMs: number): RecordEventResult {
    return this.run((): RecordEventResult => {
      const seen = this.db.prepare('SELECT alarm_id FROM device_events WHERE device_id = ? AND event_id = ?').get(deviceId, event.id) as
        | { alarm_id: string | null }
        | undefined;
      if (seen) return { alarmId: seen.alarm_id, duplicate: true, opened: false };

      let alarmId: string | null = null;
      let opened = false;
      if (finding) ({ alarmId, opened } = this.openOrJoin(finding, nowMs));
      this.db
        .prepare('INSERT INTO device_events (device_id, event_id, type, event_ts, received_at, alarm_id) VALUES (?, ?, ?, ?, ?, ?)')
        .run(deviceId, event.id, event.type, event.ts, nowMs, alarmId);
      return { alarmId, duplicate: false, opened };
    });
  }

  /**
   * Raises a finding that is not a device event of its own (a detector's
   * finding): once per (deviceId, eventId); a finding of a kind that already
   * has an active case for the same resident joins it.
   */
  raiseFinding(finding: Finding, nowMs: number): { alarmId: string; opened: boolean; duplicate: boolean } {
    return this.run(() => {
      const existing = this.db.prepare('SELECT id FROM alarms WHERE device_id = ? AND event_id = ?').get(finding.deviceId, finding.eventId) as { id: string } | undefined;
      if (existing) return { alarmId: existing.id, opened: false, duplicate: true };
      return { ...this.openOrJoin(finding, nowMs), duplicate: false };
    });
  }

  private openOrJoin(finding: Finding, nowMs: number): { alarmId: string; opened: boolean } {
    const ctx = this.contextOf(finding);
    const active = this.db
      .prepare('SELECT id, opened_at, repeat_count, repeat_last_at FROM alarms WHERE resident_id = ? AND kind = ? AND status = ? ORDER BY opened_at DESC LIMIT 1')
      .get(ctx.residentId, finding.kind, ABSORBS_REPEATS) as Pick<AlarmRow, 'id' | 'opened_at' | 'repeat_count' | 'repeat_last_at'> | undefined;
    if (active) {
      const folded = foldRepeat({ openedAt: active.opened_at, repeatCount: active.repeat_count, repeatLastAt: active.repeat_last_at }, nowMs);
      if (folded.noteInHistory) this.addHistory(active.id, nowMs, 'duplicate', null, historyNotes.pressedAgain(this.options.locale, finding.eventId, folded.repeatCount));
      this.db.prepare('UPDATE alarms SET repeat_count = ?, repeat_last_at = ?, updated_at = ? WHERE id = ?').run(folded.repeatCount, folded.repeatLastAt, nowMs, active.id);
      return { alarmId: active.id, opened: false };
    }
    return { alarmId: this.openAlarm(ctx, finding, nowMs), opened: true };
  }

  private contextOf(finding: Finding): ResidentContext {
    const ctx = finding.subjectId ? this.registry.residentContext(finding.subjectId) : this.registry.deviceContext(finding.deviceId);
    if (!ctx) throw new Error(`finding ${finding.kind} of device ${finding.deviceId}: no resident in the registry`);
    return ctx;
  }

  /** Adds a line to the history of the active case of `kind` for a resident (e.g. "CO back to normal"). */
  noteOnActiveCase(residentId: string, kind: AlarmKind, note: string, nowMs: number): string | null {
    const active = this.db
      .prepare(`SELECT id FROM alarms WHERE resident_id = ? AND kind = ? AND status IN (${ACTIVE_STATUSES.map(() => '?').join(',')}) ORDER BY opened_at DESC LIMIT 1`)
      .get(residentId, kind, ...ACTIVE_STATUSES) as { id: string } | undefined;
    if (!active) return null;
    this.addHistory(active.id, nowMs, 'note', null, note);
    this.touch(active.id, nowMs);
    return active.id;
  }

  private openAlarm(ctx: ResidentContext, finding: Finding, nowMs: number): string {
    const policy: AlarmPolicy = policyForOccurrence(this.options.policies, finding.kind, finding.details?.severity);
    const chain = this.registry.contactChain(ctx.residentId);
    const id = newId('alm');
    const nextEscalationAt = firstEscalationAt(policy, chain.length, nowMs);
    this.db
      .prepare(
        `INSERT INTO alarms (id, kind, severity, status, device_id, event_id, event_ts, resident_id, household_id, village_id,
                             opened_at, updated_at, escalation_level, next_escalation_at, details_json)
         VALUES (?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)`,
      )
      .run(
        id,
        finding.kind,
        policy.severity,
        finding.deviceId,
        finding.eventId,
        finding.eventTs,
        ctx.residentId,
        ctx.householdId,
        ctx.villageId,
        nowMs,
        nowMs,
        nextEscalationAt,
        finding.details === undefined ? null : JSON.stringify(finding.details),
      );
    this.addHistory(id, nowMs, 'opened', null, historyNotes.opened(this.options.locale, finding.kind, finding.reason, finding.details));
    const first = chain[0];
    const subject = smsSubject(id, finding.kind, policy.severity, finding.details, nowMs, ctx);
    if (first) {
      this.enqueueSms(subject, first, 0, 'alarm', nowMs);
      // A critical case at night: a ringing phone wakes a helper, an SMS does not.
      if (callsWithFirstNotice(this.plan, finding.kind, policy.severity, nowMs, ctx.timezone)) this.enqueueCall(subject, first, 0, 'alarm', 'night', nowMs);
    }
    this.enqueueGroupPost(id, { event: 'opened' }, nowMs);
    return id;
  }

  private enqueueSms(subject: SmsSubject, contact: ContactRow, level: number, template: 'alarm' | 'escalation', nowMs: number): void {
    const { alarmId } = subject;
    // The code is written with its notification, in the caller's transaction: a crash
    // leaves both or neither, never an SMS whose link opens nothing.
    const answerCode = newAnswerCode();
    const rendered = caseNoticeSms(template, subject, { answerCode, publicUrl: this.publicUrl() }, nowMs, this.smsOptions());
    const notificationId = this.insertNotice({ alarmId, purpose: 'chain', severity: subject.severity, contact, level, template, params: rendered.params, text: rendered.text, nowMs });
    if (notificationId === undefined) return;
    this.db
      .prepare('INSERT INTO answer_codes (code_hash, alarm_id, notification_id, contact_id, contact_name, contact_role, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(hashAnswerCode(answerCode), alarmId, notificationId, contact.id, contact.name, contact.role, nowMs, nowMs + ANSWER_CODE_TTL_MS);
  }

  /** A voice call to `contact` besides their SMS (a critical case at night, or their SMS went unanswered). */
  private enqueueCall(subject: SmsSubject, contact: ContactRow, level: number, template: 'alarm' | 'escalation', why: 'night' | 'unanswered', nowMs: number): void {
    const rendered = caseCallNotice(subject, this.smsOptions());
    const id = this.insertNotice({ alarmId: subject.alarmId, purpose: 'call', severity: subject.severity, contact, level, template, params: rendered.params, text: rendered.text, nowMs });
    if (id !== undefined) this.addHistory(subject.alarmId, nowMs, 'note', null, historyNotes.callQueued(this.options.locale, contact.name, why));
  }

  /** A post to the village's duty group about the case (opened, escalated, taken, closed), when a group channel is configured. */
  private enqueueGroupPost(alarmId: string, event: GroupEvent, nowMs: number): void {
    if (this.plan.group === undefined) return;
    const row = this.getRow(alarmId);
    const ctx = row ? this.registry.residentContext(row.resident_id) : undefined;
    if (!row || !ctx) return;
    const post = this.groupPost(row, ctx, event, nowMs);
    this.insertNotice({
      alarmId,
      purpose: 'group',
      severity: row.severity,
      contact: { id: null, name: ctx.villageName, role: 'duty', phone: '' },
      level: row.escalation_level,
      template: row.status === 'cancelled' ? 'cancelled' : 'alarm',
      params: post.params,
      text: post.text,
      nowMs,
    });
  }

  /** The duty group's post (messages/group-posts.ts) in the markdown of the group channel's robot. */
  private groupPost(row: AlarmRow, ctx: ResidentContext, event: GroupEvent, nowMs: number): { text: string; params: Record<string, string> } {
    const base = {
      alarmKind: row.kind,
      severity: row.severity,
      residentName: ctx.residentName,
      villageName: ctx.villageName,
      address: ctx.address,
      alarmAtMs: row.opened_at,
      timeZone: ctx.timezone,
      details: parseCaseDetails(row.details_json),
      link: `${this.publicUrl().replace(/\/+$/, '')}/#/alarms/${row.id}`,
      locale: this.options.locale,
      dialect: this.plan.group === 'wecom' ? ('wecom' as const) : ('dingtalk' as const),
      ...(this.options.signName ? { signName: this.options.signName } : {}),
    };
    const input: GroupPostInput =
      event.event === 'taken'
        ? { ...base, event: 'taken', by: event.by, atMs: nowMs }
        : event.event === 'closed'
          ? { ...base, event: 'closed', outcome: event.outcome, by: event.by, reason: event.reason, atMs: nowMs, ...(event.falseAlarm === true ? { falseAlarm: true } : {}) }
          : event.event === 'escalated'
            ? { ...base, event: 'escalated', minutesUnanswered: (nowMs - row.opened_at) / 60_000, nextContact: event.nextContact }
            : event.event === 'fellOver'
              ? { ...base, event: 'fellOver', contact: event.contact }
              : { ...base, event: 'opened' };
    const post = renderGroupPost(input);
    return { text: post.markdown, params: groupPostParams(post) };
  }

  /**
   * When a new SMS notice may go: at the end of the bundle window of the last one this channel sent the number
   * (bundles.ts). The last sends are kept in memory (lastSentTo): after a restart the first notice to a number
   * goes at once, which costs at most one SMS of the allowance; an index on every send would cost every SOS.
   */
  private gatheredUntil(n: { purpose: NoticePurpose; severity: Severity; template: SmsTemplateKey; contact: { phone: string }; nowMs: number }, channel: string): number {
    const windowMs = this.options.bundleWindowMs ?? 0;
    if (windowMs <= 0 || n.purpose !== 'chain' || n.severity === 'critical' || !bundleable(n) || this.medium(channel) !== 'sms') return n.nowMs;
    const last = this.lastSentTo.get(`${channel}\u0000${n.contact.phone}`);
    return gatheredUntil(n.nowMs, last !== undefined && last > n.nowMs - windowMs ? last : null, windowMs, false);
  }

  /** Remembers a chain SMS sent to a number (the bundle window); forgets what is older than the window. */
  private rememberSent(channel: string, phone: string, nowMs: number): void {
    const windowMs = this.options.bundleWindowMs ?? 0;
    if (windowMs <= 0 || this.medium(channel) !== 'sms') return;
    if (this.lastSentTo.size > 10_000) for (const [key, at] of this.lastSentTo) if (at <= nowMs - windowMs) this.lastSentTo.delete(key);
    this.lastSentTo.set(`${channel}\u0000${phone}`, nowMs);
  }

  /**
   * Writes one notice on the first channel of its route (routeFor); returns
   * its id, or undefined when the plan has no channel for it (no voice or
   * group channel configured).
   */
  private insertNotice(n: {
    alarmId: string;
    purpose: NoticePurpose;
    severity: Severity;
    contact: { id: string | null; name: string; role: string; phone: string };
    level: number;
    template: SmsTemplateKey;
    params: Record<string, string>;
    text: string;
    nowMs: number;
  }): string | undefined {
    const route = routeFor(this.plan, n.purpose, n.severity);
    const channel = route[0];
    if (channel === undefined) return undefined;
    const id = newId('ntf');
    const failoverAt = route.length > 1 ? n.nowMs + this.plan.failoverAfterMs[n.severity] : null;
    const dueAt = this.gatheredUntil(n, channel);
    this.db
      .prepare(
        `INSERT INTO notifications (id, alarm_id, channel, contact_id, contact_name, contact_role, phone, escalation_level, template,
                                    params_json, text, status, attempts, created_at, next_attempt_at, priority,
                                    purpose, route_json, route_step, channel_since, failover_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?, ?, 0, ?, ?)`,
      )
      .run(
        id,
        n.alarmId,
        channel,
        n.contact.id,
        n.contact.name,
        n.contact.role,
        n.contact.phone,
        n.level,
        n.template,
        JSON.stringify(n.params),
        n.text,
        n.nowMs,
        dueAt,
        NOTICE_PRIORITY[n.severity],
        n.purpose,
        JSON.stringify(route),
        n.nowMs,
        failoverAt,
      );
    return id;
  }

  private smsOptions(): { locale: 'zh-CN' | 'en'; signName?: string } {
    return { locale: this.options.locale, ...(this.options.signName ? { signName: this.options.signName } : {}) };
  }

  private publicUrl(): string {
    const { publicUrl } = this.options;
    return typeof publicUrl === 'function' ? publicUrl() : publicUrl;
  }

  /**
   * Once an SMS has gone (or will never go), its answer code has no business in
   * the outbox row: it is replaced by its mask, so only the helper's phone holds it.
   */
  private forgetAnswerCode(notificationId: string): void {
    const row = this.db.prepare('SELECT params_json, text FROM notifications WHERE id = ?').get(notificationId) as { params_json: string; text: string } | undefined;
    if (!row) return;
    const params = JSON.parse(row.params_json) as Record<string, string>;
    const code = params.code;
    if (code === undefined || code.length < 8) return;
    const masked = maskAnswerCode(code);
    params.code = masked;
    this.db.prepare('UPDATE notifications SET params_json = ?, text = ? WHERE id = ?').run(JSON.stringify(params), row.text.split(code).join(masked), notificationId);
  }

  /** What an answer code opens, by the code's hash; undefined for a code never issued. */
  answerGrant(codeHash: string, nowMs: number): AnswerGrant | undefined {
    const row = this.db
      .prepare(
        `SELECT c.alarm_id, c.notification_id, c.contact_name, c.contact_role, c.expires_at, a.status
           FROM answer_codes c JOIN alarms a ON a.id = c.alarm_id WHERE c.code_hash = ?`,
      )
      .get(codeHash) as AnswerGrantRow | undefined;
    return row && this.grantOf(row, nowMs);
  }

  /**
   * Every grant the SMS of `grant` carries: its own first, then, when it was a
   * bundle (several alarms in one message, bundles.ts), the grant of each other
   * case that went in it: that notice's own answer code row (its contact, role,
   * expiry), so a step on it is recorded exactly as its own link would record it.
   * A notice taken out of the bundle (its message refused or interrupted:
   * bundle_of NULL or '-') is not in it. One grant per case; the others critical
   * first, then the oldest. Just [grant] for an SMS of one case.
   */
  answerBundle(grant: AnswerGrant, nowMs: number): AnswerGrant[] {
    const rows = this.db
      .prepare(
        `SELECT c.alarm_id, c.notification_id, c.contact_name, c.contact_role, c.expires_at, a.status, a.severity, a.opened_at
           FROM notifications n INDEXED BY notifications_bundle
           JOIN answer_codes c INDEXED BY answer_codes_notification ON c.notification_id = n.id
           JOIN alarms a ON a.id = c.alarm_id
          WHERE n.bundle_of = ?
          ORDER BY n.created_at, n.rowid`,
      )
      .all(grant.notificationId) as Array<AnswerGrantRow & { severity: Severity; opened_at: number }>;
    // A case with two notices in the message (its alarm and its escalation to one number) is listed once.
    const byCase = new Map<string, (typeof rows)[number]>();
    for (const r of rows) if (r.alarm_id !== grant.alarmId && !byCase.has(r.alarm_id)) byCase.set(r.alarm_id, r);
    const others = [...byCase.values()].sort((a, b) => mostSevereFirst({ severity: a.severity, openedAt: a.opened_at }, { severity: b.severity, openedAt: b.opened_at }));
    return [grant, ...others.map((r) => this.grantOf(r, nowMs))];
  }

  private grantOf(row: AnswerGrantRow, nowMs: number): AnswerGrant {
    const closed = row.status === 'resolved' || row.status === 'cancelled';
    return {
      alarmId: row.alarm_id,
      notificationId: row.notification_id,
      contactName: row.contact_name,
      contactRole: row.contact_role,
      actor: `${roleLabel(this.options.locale, row.contact_role)} ${row.contact_name}`,
      expiresAt: row.expires_at,
      live: !closed && nowMs < row.expires_at,
    };
  }

  /**
   * Moves a case along its lifecycle; throws AlarmError with a stable code
   * when the move is not allowed. `outcome` is kept when the move resolves it.
   */
  transition(alarmId: string, action: TransitionAction, by: string, note: string | undefined, nowMs: number, outcome?: AlarmOutcome): void {
    this.run(() => {
      const row = this.getRow(alarmId);
      if (!row) throw new AlarmError('ALARM_NOT_FOUND', `no alarm with id ${alarmId}`);
      const t = decideTransition({ id: row.id, status: row.status, takenBy: row.taken_by }, action, by);
      if (t.kind === 'unchanged') return;
      if (t.kind === 'refused') throw new AlarmError(t.code, t.message);
      const { takes, closes } = t;
      this.db
        .prepare(
          `UPDATE alarms SET status = ?, updated_at = ?, next_escalation_at = NULL,
                  taken_by = CASE WHEN ? THEN ? ELSE taken_by END, taken_at = CASE WHEN ? THEN ? ELSE taken_at END,
                  resolved_at = CASE WHEN ? THEN ? ELSE resolved_at END,
                  resolution_note = CASE WHEN ? THEN ? ELSE resolution_note END,
                  outcome = CASE WHEN ? THEN ? ELSE outcome END
            WHERE id = ?`,
        )
        .run(t.to, nowMs, takes ? 1 : 0, by, takes ? 1 : 0, nowMs, closes ? 1 : 0, nowMs, closes ? 1 : 0, note ?? null, t.to === 'resolved' ? 1 : 0, outcome ?? null, alarmId);
      this.addHistory(alarmId, nowMs, t.history, by, note ?? null);
      // The duty group reads the case's life: who took it, who closed it and how.
      if (closes) this.enqueueGroupPost(alarmId, { event: 'closed', outcome: t.to === 'cancelled' ? 'cancelled' : 'resolved', by, reason: note ?? '-', ...(outcome === 'falseAlarm' && t.to === 'resolved' ? { falseAlarm: true } : {}) }, nowMs);
      else if (takes) this.enqueueGroupPost(alarmId, { event: 'taken', by }, nowMs);
      if (t.command) {
        // Every device whose press opened or joined this case hears it, each about its own latest event.
        const pressed = this.db
          .prepare(
            `SELECT e.device_id, e.event_id FROM device_events e
              WHERE e.alarm_id = ? AND e.received_at = (SELECT MAX(e2.received_at) FROM device_events e2 WHERE e2.alarm_id = e.alarm_id AND e2.device_id = e.device_id)
              GROUP BY e.device_id`,
          )
          .all(alarmId) as Array<{ device_id: string; event_id: string }>;
        const targets = pressed.length > 0 ? pressed : [{ device_id: row.device_id, event_id: row.event_id }];
        for (const p of targets) {
          this.enqueueCommand(p.device_id, alarmId, { id: newId('cmd'), ts: nowMs, type: t.command, eventId: p.event_id, alarmId } as DeviceCommand, nowMs);
        }
      }
      // Every transition leaves `open`: queued escalations are skipped now, not when they fall due.
      this.trySettleNotices(alarmId, nowMs);
    });
  }

  // ---- queued notices of a case that is no longer open --------------------------
  //
  // The rules are planSettlement's (@kanjia/alerts, case/notices.ts); this
  // carries a plan out. The claim, the transitions and the verdicts are each
  // one synchronous transaction on the one connection, so none of them runs
  // in the middle of another.

  /**
   * Brings the queued notices of a case that has left `open` in line with its
   * state; a no-op for an open case, and idempotent.
   */
  private settleNotices(alarmId: string, nowMs: number): void {
    const alarm = this.getRow(alarmId);
    if (!alarm || alarm.status === 'open') return;
    const notices = this.noticesOf(alarmId);
    const cancelledCritical = alarm.status === 'cancelled' && alarm.severity === 'critical';
    const ctx = cancelledCritical ? this.registry.residentContext(alarm.resident_id) : undefined;
    const chain = cancelledCritical && ctx ? this.registry.contactChain(alarm.resident_id) : [];
    const plan = planSettlement(alarm, notices, chain, ctx !== undefined);
    const byId = new Map(notices.map((n) => [n.id, n]));
    for (const id of plan.skip) this.skipNotice(byId.get(id) as Notice, alarm, nowMs);
    if (plan.nobodyLeft) {
      const note = historyNotes.cancelledNoticeNobody(this.options.locale);
      const said = this.db.prepare("SELECT 1 FROM alarm_history WHERE alarm_id = ? AND action = 'note' AND note = ?").get(alarm.id, note);
      if (!said) this.addHistory(alarm.id, nowMs, 'note', null, note);
    }
    const target = plan.cancelledNotice;
    if (!target || !ctx) return;
    const cancel = this.db.prepare("SELECT by, note FROM alarm_history WHERE alarm_id = ? AND action = 'cancelled' ORDER BY seq DESC LIMIT 1").get(alarm.id) as
      | { by: string | null; note: string | null }
      | undefined;
    const rendered = cancelledNoticeSms(smsSubject(alarm.id, alarm.kind, alarm.severity, parseCaseDetails(alarm.details_json), alarm.opened_at, ctx), cancel, this.smsOptions());
    const contact = chain[target.chainIndex] as ContactRow;
    if (target.carrierId !== undefined) {
      // The code of the old text dies with the text; the case is closed, so it opens nothing anyway.
      this.db.prepare("UPDATE notifications SET template = 'cancelled', params_json = ?, text = ? WHERE id = ?").run(JSON.stringify(rendered.params), rendered.text, target.carrierId);
    } else {
      this.insertNotice({ alarmId: alarm.id, purpose: 'chain', severity: alarm.severity, contact, level: target.chainIndex, template: 'cancelled', params: rendered.params, text: rendered.text, nowMs });
    }
    const note = target.redirected ? historyNotes.cancelledNoticeRedirected(this.options.locale, contact.name) : historyNotes.cancelledNoticeKept(this.options.locale, contact.name);
    this.addHistory(alarm.id, nowMs, 'note', null, note);
  }

  private noticesOf(alarmId: string): Notice[] {
    return this.db
      .prepare(
        `SELECT id, contact_id AS contactId, contact_name AS contactName, phone, escalation_level AS escalationLevel, template, status, purpose
           FROM notifications WHERE alarm_id = ? ORDER BY created_at, rowid`,
      )
      .all(alarmId) as Notice[];
  }

  private skipNotice(n: Notice, alarm: AlarmRow, nowMs: number): void {
    const why = skipReason(alarm.status);
    const reason = why === 'taken' ? 'CASE_TAKEN: the case was taken before this notice went out' : 'CASE_CLOSED: the case was closed before this notice went out';
    const changed = this.db
      .prepare(
        "UPDATE notifications SET status = 'skipped', next_attempt_at = NULL, outage_at = NULL, failover_at = NULL, last_error = COALESCE(last_error || '; ', '') || ? WHERE id = ? AND status = 'pending'",
      )
      .run(reason, n.id).changes;
    if (changed === 0) return;
    this.forgetAnswerCode(n.id);
    this.addHistory(alarm.id, nowMs, 'note', null, historyNotes.noticeSkipped(this.options.locale, n.contactName, why));
  }

  /**
   * settleNotices inside the caller's transaction, never throwing: a take or
   * a verdict must not fail over a notice. On an error its writes are undone
   * (a savepoint), the officer reads it in the history, and the outbox's claim
   * settles (and logs) the queued notices when they fall due.
   */
  private trySettleNotices(alarmId: string, nowMs: number): void {
    try {
      this.run(() => this.settleNotices(alarmId, nowMs));
    } catch (err) {
      this.addHistory(alarmId, nowMs, 'note', null, historyNotes.noticesUnsettled(this.options.locale, errorText(err)));
    }
  }

  /**
   * The claim's first step: due notices of cases no longer open are settled,
   * each case in a savepoint of its own. One that throws is left queued, put
   * off by a minute and reported; the claim goes on with every other SMS.
   */
  private settleDueNoticesOfNotOpen(nowMs: number, onProblem: ((problem: ClaimProblem) => void) | undefined): void {
    const due = this.db
      .prepare(
        `SELECT n.id, n.alarm_id, n.template, n.escalation_level AS escalationLevel, n.purpose, a.status AS caseStatus
           FROM notifications n JOIN alarms a ON a.id = n.alarm_id
          WHERE n.status = 'pending' AND n.next_attempt_at <= ? AND a.status <> 'open'`,
      )
      .all(nowMs) as Array<{ id: string; alarm_id: string; template: SmsTemplateKey; escalationLevel: number; purpose: NoticePurpose; caseStatus: AlarmStatus }>;
    const byAlarm = new Map<string, string[]>();
    for (const n of due) if (needsSettling(n, n.caseStatus)) byAlarm.set(n.alarm_id, [...(byAlarm.get(n.alarm_id) ?? []), n.id]);
    for (const [alarmId, ids] of byAlarm) {
      try {
        this.run(() => this.settleNotices(alarmId, nowMs));
      } catch (error) {
        for (const id of ids) this.putOff(id, alarmId, nowMs, error, onProblem);
      }
    }
  }

  /** A notice that could not be prepared: tried again in a minute (not at once, which would spin the outbox), and reported. */
  private putOff(notificationId: string, alarmId: string, nowMs: number, error: unknown, onProblem: ((problem: ClaimProblem) => void) | undefined): void {
    this.db.prepare("UPDATE notifications SET next_attempt_at = ? WHERE id = ? AND status = 'pending'").run(nowMs + UNPREPARED_RETRY_MS, notificationId);
    try {
      onProblem?.({ notificationId, alarmId, error: safeError(error) });
    } catch {
      // A failing reporter must not take the other SMS down with it.
    }
  }

  // ---- EscalationStore --------------------------------------------------------
  //
  // A case whose latest notice is held by an SMS outage does not escalate:
  // the contact could not be told, so their time to take it has not begun
  // (it begins when the SMS goes: markNotificationSent). Nothing is lost: the
  // case stays open and red, and the banner says to phone the helpers.

  escalateDueAlarms(nowMs: number): string[] {
    return this.run(() => {
      const due = this.db
        .prepare(`SELECT * FROM alarms a INDEXED BY alarms_open_escalation WHERE status = 'open' AND next_escalation_at IS NOT NULL AND next_escalation_at <= ? AND ${NOT_HELD} ORDER BY next_escalation_at`)
        .all(nowMs) as AlarmRow[];
      for (const row of due) {
        const policy = this.options.policies[row.kind];
        const takeTimeoutMs = takeTimeoutOf(this.options.policies, row.kind, row.severity);
        const ctx = this.registry.residentContext(row.resident_id);
        const chain = this.registry.contactChain(row.resident_id);
        const step = nextEscalationStep(row.escalation_level, chain.length, policy);
        const contact = step ? chain[step.contactIndex] : undefined;
        const subject = ctx ? smsSubject(row.id, row.kind, row.severity, parseCaseDetails(row.details_json), row.opened_at, ctx) : undefined;
        // The contact whose SMS went unanswered for the escalation time is rung (critical cases), whatever comes next.
        if (subject && this.plan.callOnUnanswered && callsKind(this.plan, row.kind, row.severity)) this.callUnanswered(subject, row.escalation_level, nowMs);
        if (!step || !contact || !ctx || !subject) {
          this.db.prepare('UPDATE alarms SET next_escalation_at = NULL, updated_at = ? WHERE id = ?').run(nowMs, row.id);
          this.addHistory(row.id, nowMs, 'escalated', null, historyNotes.chainExhausted(this.options.locale));
          continue;
        }
        this.db
          .prepare('UPDATE alarms SET escalation_level = ?, next_escalation_at = ?, updated_at = ? WHERE id = ?')
          .run(step.level, nowMs + takeTimeoutMs, nowMs, row.id);
        // After the last step the timer runs once more, so the history records when the chain ran out.
        this.addHistory(row.id, nowMs, 'escalated', null, historyNotes.escalated(this.options.locale, contact.name, contact.role, step.level));
        // The escalation repeats the first notice's figures: those of the finding that opened the case.
        this.enqueueSms(subject, contact, step.level, 'escalation', nowMs);
        this.enqueueGroupPost(row.id, { event: 'escalated', nextContact: `${roleLabel(this.options.locale, contact.role)} ${contact.name}` }, nowMs);
        if (callsWithFirstNotice(this.plan, row.kind, row.severity, nowMs, ctx.timezone)) this.enqueueCall(subject, contact, step.level, 'escalation', 'night', nowMs);
      }
      return due.map((r) => r.id);
    });
  }

  /**
   * Rings the contact of the case's step `level` whose SMS went out and was
   * not answered, unless they were rung at that step already (at night) or
   * their SMS never reached them (it failed: the escalation went on at once).
   */
  private callUnanswered(subject: SmsSubject, level: number, nowMs: number): void {
    const sms = this.db
      .prepare("SELECT contact_id, contact_name, contact_role, phone FROM notifications WHERE alarm_id = ? AND escalation_level = ? AND purpose = 'chain' AND status = 'sent' ORDER BY created_at DESC LIMIT 1")
      .get(subject.alarmId, level) as { contact_id: string | null; contact_name: string; contact_role: ContactRow['role']; phone: string } | undefined;
    if (!sms) return;
    const rung = this.db.prepare("SELECT 1 FROM notifications WHERE alarm_id = ? AND escalation_level = ? AND purpose = 'call' AND phone = ?").get(subject.alarmId, level, sms.phone);
    if (rung) return;
    const contact = { id: sms.contact_id, name: sms.contact_name, role: sms.contact_role, phone: sms.phone } as ContactRow;
    this.enqueueCall(subject, contact, level, level === 0 ? 'alarm' : 'escalation', 'unanswered', nowMs);
  }

  nextEscalationAt(): number | null {
    // In index order (alarms_open_escalation), stopping at the first case not held: not a MIN over every open case.
    const row = this.db
      .prepare(`SELECT next_escalation_at AS t FROM alarms a INDEXED BY alarms_open_escalation WHERE status = 'open' AND next_escalation_at IS NOT NULL AND ${NOT_HELD} ORDER BY next_escalation_at LIMIT 1`)
      .get() as { t: number } | undefined;
    return row?.t ?? null;
  }

  // ---- OutboxStore ------------------------------------------------------------
  //
  // The most severe first, then the longest due: after an outage every waiting
  // notice is due at once, and an SOS goes before a low battery.

  claimDueNotifications(nowMs: number, limit: number, onProblem?: (problem: ClaimProblem) => void, channel?: string): OutboxItem[] {
    // Not fsync'd on its own (withRelaxedCommit): a claim lost to a power cut leaves its notices pending, which is
    // where a crash puts a `sending` notice back anyway; the SMS goes out either way.
    return withRelaxedCommit(this.db, () => this.runImmediate(() => {
      this.settleDueNoticesOfNotOpen(nowMs, onProblem);
      // Only what a case in its present state may send (maySend). Every due notice it may not
      // was settled above, or put off by a minute when that failed, so the filter below drops
      // nothing the LIMIT counted, unless settling itself is wrong: then it still sends nothing.
      const columns = `n.id, n.alarm_id, n.phone, n.template, n.escalation_level AS escalationLevel, n.params_json, n.text, n.attempts, n.purpose, n.channel, n.bundle_of,
                       a.kind, a.status AS caseStatus, a.village_id`;
      const rows = (
        channel === undefined
          ? this.db
              .prepare(
                `SELECT ${columns} FROM notifications n INDEXED BY notifications_claim JOIN alarms a ON a.id = n.alarm_id
                  WHERE n.status = 'pending' AND n.next_attempt_at <= ?
                  ORDER BY n.priority, n.next_attempt_at, n.created_at LIMIT ?`,
              )
              .all(nowMs, limit)
          : this.db
              .prepare(
                `SELECT ${columns} FROM notifications n INDEXED BY notifications_channel_claim JOIN alarms a ON a.id = n.alarm_id
                  WHERE n.channel = ? AND n.status = 'pending' AND n.next_attempt_at <= ?
                  ORDER BY n.priority, n.next_attempt_at, n.created_at LIMIT ?`,
              )
              .all(channel, nowMs, limit)
      ) as Array<{
        id: string;
        alarm_id: string;
        phone: string;
        purpose: NoticePurpose;
        channel: string;
        bundle_of: string | null;
        village_id: string;
        template: SmsTemplateKey;
        escalationLevel: number;
        params_json: string;
        text: string;
        attempts: number;
        kind: AlarmKind;
        caseStatus: AlarmStatus;
      }>;
      const mark = this.db.prepare("UPDATE notifications SET status = 'sending' WHERE id = ?");
      const items: OutboxItem[] = [];
      // Several due for one number on one SMS channel: one message (bundles.ts), the first (most severe, oldest) carries it.
      const carriers = new Map<string, OutboxItem>();
      const members = new Map<OutboxItem, OutboxItem[]>();
      for (const r of rows.filter((row) => maySend(row, row.caseStatus))) {
        try {
          const params = JSON.parse(r.params_json) as Record<string, string>;
          // A row written before the templates had `detail` (pending across an upgrade) would
          // be refused by the generic template that now has it: give it the plain phrase.
          params.detail ??= alarmDetail(r.kind, undefined, this.options.locale);
          mark.run(r.id);
          // A duty group is reached by its village: the group channel looks up that village's robot (or its default).
          const medium = this.medium(r.channel);
          const to = medium === 'group' ? r.village_id : r.phone;
          const item: OutboxItem = { id: r.id, alarmId: r.alarm_id, attempts: r.attempts, message: { to, template: r.template, kind: r.kind, params, text: r.text, outId: r.id } };
          const key = `${r.channel}\u0000${r.phone}`;
          const carrier = (this.options.bundleWindowMs ?? 0) > 0 && medium === 'sms' && r.purpose === 'chain' && r.bundle_of !== '-' && bundleable(r) ? carriers.get(key) : undefined;
          if (carrier !== undefined) {
            members.get(carrier)?.push(item);
            continue;
          }
          if ((this.options.bundleWindowMs ?? 0) > 0 && medium === 'sms' && r.purpose === 'chain' && r.bundle_of !== '-' && bundleable(r)) {
            carriers.set(key, item);
            members.set(item, []);
          }
          items.push(item);
        } catch (error) {
          this.putOff(r.id, r.alarm_id, nowMs, error, onProblem);
        }
      }
      const bundleInto = this.db.prepare('UPDATE notifications SET bundle_of = ? WHERE id = ?');
      for (const [carrier, with_] of members) {
        if (with_.length === 0) continue;
        for (const m of with_) bundleInto.run(carrier.id, m.id);
        carrier.message = bundleMessage([carrier.message, ...with_.map((m) => m.message)], this.options.locale, this.options.signName ?? DEFAULT_SMS_SIGN_NAME);
        carrier.alsoAlarmIds = [...new Set(with_.map((m) => m.alarmId))];
      }
      return items;
    }));
  }

  /**
   * The notices sent inside `carrierId`'s message go back to the queue on
   * their own (the carrier's verdict was not "sent"): due at `dueAtMs`, held
   * by an outage as the carrier is (`outageAtMs`), never bundled again when the
   * bundle itself may be what was refused.
   */
  private releaseBundle(carrierId: string, dueAtMs: number, opts: { outageAtMs?: number; error?: string; neverAgain?: boolean } = {}): void {
    this.db
      .prepare(
        `UPDATE notifications SET status = 'pending', next_attempt_at = ?, bundle_of = ?, outage_at = COALESCE(outage_at, ?), last_error = COALESCE(?, last_error)
          WHERE bundle_of = ? AND status = 'sending'`,
      )
      .run(dueAtMs, opts.neverAgain ? '-' : null, opts.outageAtMs ?? null, opts.error ?? null, carrierId);
  }

  /** The notices sent inside `carrierId`'s message. */
  private bundleMembers(carrierId: string): Array<{ id: string; alarm_id: string; outage_at: number | null; route_step: number }> {
    return this.db.prepare("SELECT id, alarm_id, outage_at, route_step FROM notifications WHERE bundle_of = ? AND status = 'sending'").all(carrierId) as Array<{
      id: string;
      alarm_id: string;
      outage_at: number | null;
      route_step: number;
    }>;
  }

  /**
   * Sent: after an outage held it, the contact's time to take the case counts
   * from now, not from when the notice was queued; its answer link lives 24
   * hours from the SMS.
   */
  markNotificationSent(id: string, nowMs: number, providerRef: string | null): void {
    this.run(() => {
      const held = this.db.prepare('SELECT outage_at, route_step, channel, purpose, phone FROM notifications WHERE id = ?').get(id) as
        | { outage_at: number | null; route_step: number; channel: string; purpose: NoticePurpose; phone: string }
        | undefined;
      if (held?.purpose === 'chain') this.rememberSent(held.channel, held.phone, nowMs);
      // A channel with receipts: the notice waits for the provider's word (DeliveryTracker); else sent is all we learn.
      const waits = held !== undefined && providerRef !== null && (this.options.receipts?.has(held.channel) ?? false);
      this.db
        .prepare(
          `UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_at = ?, provider_ref = ?, next_attempt_at = NULL, last_error = NULL, outage_at = NULL,
                  failover_at = NULL, delivery = ?, delivery_next_at = ? WHERE id = ?`,
        )
        .run(nowMs, providerRef, waits ? 'waiting' : 'none', waits ? nowMs + nextDeliveryCheckDelayMs(0) : null, id);
      this.forgetAnswerCode(id);
      if (held !== undefined && held.purpose === 'chain' && this.medium(held.channel) === 'group') {
        // The contact's notice reached only the duty group ("nobody could reach them: phone them"): the contact was
        // not told, so the next contact is due now, as after a failure; the group knows to phone. (Marked so when it
        // fell over to the group already; kept from then.)
        this.db.prepare('UPDATE notifications SET unreached_at = COALESCE(unreached_at, ?) WHERE id = ?').run(nowMs, id);
        const row = this.db.prepare('SELECT alarm_id, escalation_level FROM notifications WHERE id = ?').get(id) as { alarm_id: string; escalation_level: number };
        this.nextContactDueNow(row.alarm_id, row.escalation_level, nowMs);
      } else if (held !== undefined && held.purpose === 'chain' && (held.outage_at != null || held.route_step > 0)) {
        // Held by an outage, or gone by another channel after the first could not send it: the contact is told only now.
        this.escalationCountsFrom(id, nowMs);
      }
      // The alarms that went in the same message: sent with it; their receipt is the carrier's (recordDelivery copies it).
      for (const m of this.bundleMembers(id)) {
        this.db
          .prepare(
            `UPDATE notifications SET status = 'sent', attempts = attempts + 1, sent_at = ?, provider_ref = ?, next_attempt_at = NULL, last_error = NULL, outage_at = NULL,
                    failover_at = NULL, delivery = ?, delivery_next_at = NULL WHERE id = ?`,
          )
          .run(nowMs, providerRef, waits ? 'waiting' : 'none', m.id);
        this.forgetAnswerCode(m.id);
        if (m.outage_at != null || m.route_step > 0) this.escalationCountsFrom(m.id, nowMs);
        this.db.prepare('UPDATE answer_codes SET expires_at = MAX(expires_at, ?) WHERE notification_id = ?').run(nowMs + ANSWER_CODE_TTL_MS, m.id);
        this.touch(m.alarm_id, nowMs);
      }
      this.db.prepare('UPDATE answer_codes SET expires_at = MAX(expires_at, ?) WHERE notification_id = ?').run(nowMs + ANSWER_CODE_TTL_MS, id);
    });
  }

  /** Back to the queue for another attempt, unless its case no longer needs it (then skipped, or the cancelled notice, at once). */
  markNotificationRetry(id: string, nowMs: number, nextAttemptAtMs: number, error: string, counted = true): void {
    this.run(() => {
      const held = this.db.prepare('SELECT outage_at FROM notifications WHERE id = ?').get(id) as { outage_at: number | null } | undefined;
      this.db.prepare("UPDATE notifications SET status = 'pending', attempts = attempts + ?, next_attempt_at = ?, last_error = ?, outage_at = NULL WHERE id = ?").run(counted ? 1 : 0, nextAttemptAtMs, error, id);
      this.releaseBundle(id, nextAttemptAtMs, { error });
      // Held through an outage, now refused on its own account: the case's escalation runs again, from now.
      if (held?.outage_at != null && this.purposeOf(id) === 'chain') this.escalationCountsFrom(id, nowMs);
      const n = this.db.prepare('SELECT alarm_id FROM notifications WHERE id = ?').get(id) as { alarm_id: string } | undefined;
      if (n) this.trySettleNotices(n.alarm_id, nowMs);
    });
  }

  /** Kept back by an outage of the channel: waiting and due, no attempt counted, held (see holdPendingNotifications). */
  markNotificationHeld(id: string, nowMs: number, error: string): void {
    this.run(() => {
      // Due again, but behind every notice already due (a millisecond after the last of them):
      // the next probe takes another one, so one notice the provider refuses for itself cannot hide its recovery.
      const behind = this.db.prepare("SELECT MAX(next_attempt_at) AS t FROM notifications WHERE status = 'pending' AND next_attempt_at <= ?").get(nowMs) as { t: number | null };
      this.db
        .prepare("UPDATE notifications SET status = 'pending', next_attempt_at = ?, last_error = ?, outage_at = COALESCE(outage_at, ?) WHERE id = ? AND status = 'sending'")
        .run(Math.max(nowMs, (behind.t ?? 0) + 1), error, nowMs, id);
      this.releaseBundle(id, Math.max(nowMs, (behind.t ?? 0) + 1), { outageAtMs: nowMs, error });
      const n = this.db.prepare('SELECT alarm_id FROM notifications WHERE id = ?').get(id) as { alarm_id: string } | undefined;
      if (n) this.trySettleNotices(n.alarm_id, nowMs);
    });
  }

  /**
   * The SMS channel is out: every pending notice not yet held is held from
   * now. A held notice keeps its place in the queue and its attempts; it shows
   * as waiting for the provider; and while it waits, the escalation of its
   * case does not go past it (escalateDueAlarms): the next contact is not
   * texted early because this one could not be. Returns the cases touched.
   */
  holdPendingNotifications(nowMs: number, error: string, channel?: string): string[] {
    return this.run(() => {
      const only = channel === undefined ? '' : ' AND channel = @channel';
      const args = { now: nowMs, error, ...(channel === undefined ? {} : { channel }) };
      const rows = this.db.prepare(`SELECT DISTINCT alarm_id FROM notifications WHERE status = 'pending' AND outage_at IS NULL${only}`).all(args) as Array<{ alarm_id: string }>;
      if (rows.length > 0) this.db.prepare(`UPDATE notifications SET outage_at = @now, last_error = @error WHERE status = 'pending' AND outage_at IS NULL${only}`).run(args);
      return rows.map((r) => r.alarm_id);
    });
  }

  private purposeOf(id: string): NoticePurpose | undefined {
    return (this.db.prepare('SELECT purpose FROM notifications WHERE id = ?').get(id) as { purpose: NoticePurpose } | undefined)?.purpose;
  }

  /**
   * When the notice `notificationId` is the latest step of an untaken case,
   * the contact has until `fromMs` + the take timeout before the next one is
   * texted (never earlier than already set).
   */
  private escalationCountsFrom(notificationId: string, fromMs: number): void {
    const row = this.db
      .prepare(
        `SELECT a.id, a.kind, a.severity FROM notifications n JOIN alarms a ON a.id = n.alarm_id
          WHERE n.id = ? AND n.purpose = 'chain' AND a.status = 'open' AND a.escalation_level = n.escalation_level AND a.next_escalation_at IS NOT NULL`,
      )
      .get(notificationId) as { id: string; kind: AlarmKind; severity: Severity } | undefined;
    if (!row) return;
    this.db.prepare('UPDATE alarms SET next_escalation_at = MAX(next_escalation_at, ?) WHERE id = ?').run(fromMs + takeTimeoutOf(this.options.policies, row.kind, row.severity), row.id);
  }

  /**
   * This channel cannot deliver the notice. With another channel left in its
   * route it moves there (failOver). On its last channel it has failed for
   * good and informed nobody: if it was the latest step of a case still
   * untaken, the next contact is due now instead of after the take timeout,
   * and it is counted as undeliverable (red on the dashboard).
   */
  markNotificationFailed(id: string, nowMs: number, error: string): void {
    this.run(() => {
      // What was refused may be the bundle itself (its variables): the others go on their own, now.
      this.releaseBundle(id, nowMs, { neverAgain: true });
      const row = this.routeRow(id);
      if (row && (row.status === 'sending' || row.status === 'pending') && this.nextChannel(row) !== undefined) {
        this.failOver(row, nowMs, error);
        return;
      }
      this.db
        .prepare("UPDATE notifications SET status = 'failed', attempts = attempts + 1, next_attempt_at = NULL, last_error = ?, outage_at = NULL, failover_at = NULL WHERE id = ?")
        .run(error, id);
      this.forgetAnswerCode(id);
      if (!row) return;
      if (row.purpose === 'group') {
        this.addHistory(row.alarm_id, nowMs, 'note', null, historyNotes.groupPostFailed(this.options.locale, error));
        return;
      }
      if (row.purpose === 'call') {
        this.addHistory(row.alarm_id, nowMs, 'note', null, historyNotes.callNotAnswered(this.options.locale, row.contact_name, error));
        return;
      }
      // Also when the time had passed while the notice was held by an outage: the next contact is due now either way.
      const moved = this.nextContactDueNow(row.alarm_id, row.escalation_level, nowMs);
      const routeLength = parseRoute(row.route_json, row.channel).length;
      if (routeLength > 1) this.addHistory(row.alarm_id, nowMs, 'note', null, historyNotes.undeliverable(this.options.locale, row.contact_name, error));
      if (moved > 0) this.addHistory(row.alarm_id, nowMs, 'escalated', null, historyNotes.smsFailed(this.options.locale, row.contact_name, error));
      // A cancelled critical case: the cancelled notice may now have to go to the next contact.
      this.trySettleNotices(row.alarm_id, nowMs);
    });
  }

  private routeRow(id: string): RouteRow | undefined {
    return this.db
      .prepare(
        `SELECT n.id, n.alarm_id, n.channel, n.route_json, n.route_step, n.purpose, n.status, n.contact_name, n.contact_role, n.escalation_level, n.last_error, n.failovers_json, n.template, a.severity
           FROM notifications n JOIN alarms a ON a.id = n.alarm_id WHERE n.id = ?`,
      )
      .get(id) as RouteRow | undefined;
  }

  private nextChannel(row: Pick<RouteRow, 'route_json' | 'route_step' | 'channel'>): string | undefined {
    return parseRoute(row.route_json, row.channel)[row.route_step + 1];
  }

  /**
   * Moves a notice to the next channel of its route: pending and due now,
   * attempts from zero, no longer held by the old channel's outage; the
   * history and the row's failover trail say from where to where and why.
   * A move to the duty group rewrites the text as the group's "nobody could
   * reach this contact" post.
   */
  private failOver(row: RouteRow, nowMs: number, reason: string): void {
    const route = parseRoute(row.route_json, row.channel);
    const step = row.route_step + 1;
    const to = route[step] as string;
    const failoverAt = step + 1 < route.length ? nowMs + this.plan.failoverAfterMs[row.severity] : null;
    const trail = [...parseTrail(row.failovers_json), { at: nowMs, from: row.channel, to, reason: reason.slice(0, 200) }];
    this.db
      .prepare(
        `UPDATE notifications SET channel = ?, route_step = ?, status = 'pending', attempts = 0, next_attempt_at = ?, outage_at = NULL, last_error = ?,
                channel_since = ?, failover_at = ?, failovers_json = ? WHERE id = ?`,
      )
      .run(to, step, nowMs, reason, nowMs, failoverAt, JSON.stringify(trail), row.id);
    if (this.medium(to) === 'group' && row.purpose === 'chain') {
      // No SMS and no call reached the contact: not reached now, and the next contact is due now, whenever the
      // group's robot takes the post (it may be paced or throttled for minutes).
      this.db.prepare('UPDATE notifications SET unreached_at = ? WHERE id = ?').run(nowMs, row.id);
      this.nextContactDueNow(row.alarm_id, row.escalation_level, nowMs);
      const alarm = this.getRow(row.alarm_id);
      const ctx = alarm ? this.registry.residentContext(alarm.resident_id) : undefined;
      if (alarm && ctx) {
        // The answer link is not for a group: the post replaces the SMS's text and variables.
        const post = this.groupPost(alarm, ctx, { event: 'fellOver', contact: `${roleLabel(this.options.locale, row.contact_role)} ${row.contact_name}` }, nowMs);
        this.db.prepare('UPDATE notifications SET text = ?, params_json = ? WHERE id = ?').run(post.text, JSON.stringify(post.params), row.id);
      }
    }
    const label = (channel: string) => channelLabel(this.options.locale, this.medium(channel), channel);
    this.addHistory(row.alarm_id, nowMs, 'note', null, historyNotes.failedOver(this.options.locale, row.contact_name, label(row.channel), label(to), reason));
    this.touch(row.alarm_id, nowMs);
  }

  // ---- routes: failover by time, delivery deadline -------------------------------
  //
  // A notice that has waited on one channel past the failover time (an outage,
  // retries) moves to the next; a critical case's SMS the provider accepted but
  // did not deliver within the deadline counts as not reached.

  /** Moves every notice due to fail over, and marks every SMS past its delivery deadline; returns the cases changed. */
  sweepRoutes(nowMs: number): string[] {
    return this.run(() => {
      const changed = new Set<string>();
      const due = this.db
        .prepare(
          `SELECT n.id, n.purpose, n.template, n.escalation_level AS escalationLevel, n.channel, n.last_error, a.status AS caseStatus
             FROM notifications n INDEXED BY notifications_failover JOIN alarms a ON a.id = n.alarm_id
            WHERE n.status = 'pending' AND n.failover_at IS NOT NULL AND n.failover_at <= ? ORDER BY n.failover_at LIMIT 500`,
        )
        .all(nowMs) as Array<{ id: string; purpose: NoticePurpose; template: SmsTemplateKey; escalationLevel: number; channel: string; last_error: string | null; caseStatus: AlarmStatus }>;
      for (const n of due) {
        if (!maySend(n, n.caseStatus)) {
          // The claim settles it (skipped); it must not move on meanwhile.
          this.db.prepare('UPDATE notifications SET failover_at = NULL WHERE id = ?').run(n.id);
          continue;
        }
        const row = this.routeRow(n.id);
        if (!row || this.nextChannel(row) === undefined) continue;
        const minutes = Math.round(this.plan.failoverAfterMs[row.severity] / 60_000);
        this.failOver(row, nowMs, `FAILOVER_TIMEOUT: not sent by ${n.channel} within ${minutes} min${n.last_error ? ` (${n.last_error})` : ''}`);
        changed.add(row.alarm_id);
      }
      for (const id of this.expireUndelivered(nowMs)) changed.add(id);
      return [...changed];
    });
  }

  /** When sweepRoutes next has something to do, or null. */
  nextRouteSweepAt(): number | null {
    const failover = (this.db.prepare("SELECT MIN(failover_at) AS t FROM notifications INDEXED BY notifications_failover WHERE status = 'pending' AND failover_at IS NOT NULL").get() as { t: number | null }).t;
    const sent = (
      this.db
        .prepare("SELECT MIN(sent_at) AS t FROM notifications INDEXED BY notifications_undelivered WHERE delivery = 'waiting' AND unreached_at IS NULL AND purpose = 'chain' AND priority = 0")
        .get() as { t: number | null }
    ).t;
    const deadline = sent === null ? null : sent + this.plan.deliveryDeadlineMs;
    return failover === null ? deadline : deadline === null ? failover : Math.min(failover, deadline);
  }

  /**
   * A critical case's SMS the provider accepted and did not deliver within the
   * deadline: not reached. When it is the case's latest step and nobody has
   * taken it, the next contact is texted now.
   */
  private expireUndelivered(nowMs: number): string[] {
    const rows = this.db
      .prepare(
        `SELECT id, alarm_id, contact_name, escalation_level FROM notifications INDEXED BY notifications_undelivered
          WHERE delivery = 'waiting' AND unreached_at IS NULL AND purpose = 'chain' AND priority = 0 AND sent_at <= ? LIMIT 500`,
      )
      .all(nowMs - this.plan.deliveryDeadlineMs) as Array<{ id: string; alarm_id: string; contact_name: string; escalation_level: number }>;
    const minutes = Math.round(this.plan.deliveryDeadlineMs / 60_000);
    for (const r of rows) this.notReached(r, nowMs, this.options.locale === 'en' ? `no receipt within ${minutes} min` : `${minutes}分钟内未收到送达回执`);
    return [...new Set(rows.map((r) => r.alarm_id))];
  }

  private notReached(r: UnreachedRow, nowMs: number, why: string): void {
    this.moveOnFrom(r, nowMs, (escalates) => historyNotes.notReached(this.options.locale, r.contact_name, why, escalates));
  }

  /**
   * This contact will not answer (their notice was not delivered, or they
   * pressed 2 on the call): marked on the notice, and the next contact is due
   * now if the case still waits at their level. `note` says which, in the
   * history.
   */
  private moveOnFrom(r: UnreachedRow, nowMs: number, note: (escalates: boolean) => string): void {
    this.db.prepare('UPDATE notifications SET unreached_at = ? WHERE id = ?').run(nowMs, r.id);
    const moved = this.nextContactDueNow(r.alarm_id, r.escalation_level, nowMs);
    this.addHistory(r.alarm_id, nowMs, moved > 0 ? 'escalated' : 'note', null, note(moved > 0));
    this.touch(r.alarm_id, nowMs);
  }

  /**
   * The next contact of a case still untaken at `level` is due now (not after
   * the take timeout): its contact at that level could not be reached. Returns
   * 1 when the case was moved, 0 when it had moved on, was taken or closed.
   */
  private nextContactDueNow(alarmId: string, level: number, nowMs: number): number {
    return this.db
      .prepare("UPDATE alarms SET next_escalation_at = MIN(next_escalation_at, ?), updated_at = ? WHERE id = ? AND status = 'open' AND escalation_level = ? AND next_escalation_at IS NOT NULL")
      .run(nowMs, nowMs, alarmId, level).changes;
  }

  // ---- DeliveryStore ---------------------------------------------------------

  dueDeliveryChecks(nowMs: number, limit: number): DeliveryCheck[] {
    const rows = this.db
      .prepare(
        `SELECT id, alarm_id, channel, provider_ref, phone, sent_at FROM notifications INDEXED BY notifications_delivery
          WHERE delivery = 'waiting' AND delivery_next_at <= ? ORDER BY delivery_next_at LIMIT ?`,
      )
      .all(nowMs, limit) as Array<{ id: string; alarm_id: string; channel: string; provider_ref: string | null; phone: string; sent_at: number }>;
    return rows
      .filter((r) => r.provider_ref !== null)
      .map((r) => ({ id: r.id, alarmId: r.alarm_id, channel: r.channel, query: { providerRef: r.provider_ref as string, to: r.phone, sentAtMs: r.sent_at, outId: r.id } }));
  }

  /**
   * The provider's word on a sent notice. Delivered: said in the history. Failed
   * (the handset will not get it, the call was not answered): a contact's SMS
   * counts as not reached and moves the escalation on as a failed SMS does.
   * Pending or unknown: asked again later, until DELIVERY_GIVE_UP_MS.
   */
  recordDelivery(id: string, answer: DeliveryAnswer, nowMs: number): void {
    this.run(() => {
      // The alarms that went in the same message have the same fate (their delivery is never asked for on its own).
      const members = answer.state === 'delivered' || answer.state === 'failed' ? (this.db.prepare("SELECT id FROM notifications WHERE bundle_of = ? AND delivery = 'waiting'").all(id) as Array<{ id: string }>) : [];
      this.recordOneDelivery(id, answer, nowMs);
      for (const m of members) this.recordOneDelivery(m.id, answer, nowMs);
    });
  }

  private recordOneDelivery(id: string, answer: DeliveryAnswer, nowMs: number): void {
    {
      const r = this.db
        .prepare("SELECT id, alarm_id, contact_name, escalation_level, purpose, channel, sent_at, delivery_checks, unreached_at FROM notifications WHERE id = ? AND delivery = 'waiting'")
        .get(id) as
        | { id: string; alarm_id: string; contact_name: string; escalation_level: number; purpose: NoticePurpose; channel: string; sent_at: number; delivery_checks: number; unreached_at: number | null }
        | undefined;
      if (!r) return;
      const medium = this.medium(r.channel);
      if (answer.state === 'delivered') {
        this.db.prepare("UPDATE notifications SET delivery = 'delivered', delivery_at = ?, delivery_next_at = NULL, delivery_checks = delivery_checks + 1 WHERE id = ?").run(answer.atMs ?? nowMs, id);
        this.addHistory(r.alarm_id, nowMs, 'note', null, medium === 'voice' ? historyNotes.callAnswered(this.options.locale, r.contact_name) : historyNotes.delivered(this.options.locale, r.contact_name, medium));
        this.touch(r.alarm_id, nowMs);
        return;
      }
      if (answer.state === 'failed') {
        const error = `${answer.code}: ${answer.message}`.slice(0, 200);
        this.db.prepare("UPDATE notifications SET delivery = 'failed', delivery_at = ?, delivery_error = ?, delivery_next_at = NULL, delivery_checks = delivery_checks + 1 WHERE id = ?").run(answer.atMs ?? nowMs, error, id);
        if (medium === 'voice') this.addHistory(r.alarm_id, nowMs, 'note', null, historyNotes.callNotAnswered(this.options.locale, r.contact_name, answer.code));
        else if (r.purpose === 'chain' && r.unreached_at === null) this.notReached(r, nowMs, error);
        else this.touch(r.alarm_id, nowMs);
        return;
      }
      const checks = r.delivery_checks + 1;
      if (nowMs - r.sent_at >= DELIVERY_GIVE_UP_MS) {
        this.db.prepare("UPDATE notifications SET delivery = 'unknown', delivery_next_at = NULL, delivery_checks = ?, delivery_error = ? WHERE id = ?").run(checks, answer.state === 'unknown' ? `${answer.code}: ${answer.message}`.slice(0, 200) : null, id);
        return;
      }
      this.db
        .prepare('UPDATE notifications SET delivery_checks = ?, delivery_next_at = ?, delivery_error = ? WHERE id = ?')
        .run(checks, nowMs + nextDeliveryCheckDelayMs(checks), answer.state === 'unknown' ? `${answer.code}: ${answer.message}`.slice(0, 200) : null, id);
    }
  }

  /**
   * The voice call a receipt pushed by the provider is about: by the provider's
   * reference (CallId), else by our OutId (the notification id, maybe without
   * its prefix: voiceOutId); only calls (purpose 'call') of `channel`.
   */
  voiceCallByRef(channel: string, providerRef: string, outId: string | undefined): VoiceCallRef | undefined {
    const select = `SELECT n.id, n.alarm_id, n.contact_name, n.contact_role, n.unreached_at, a.status FROM notifications n JOIN alarms a ON a.id = n.alarm_id
      WHERE n.purpose = 'call' AND n.channel = ? AND `;
    type Row = { id: string; alarm_id: string; contact_name: string; contact_role: ContactRow['role']; unreached_at: number | null; status: AlarmStatus };
    const row = (this.db.prepare(`${select} n.provider_ref = ? AND n.provider_ref IS NOT NULL`).get(channel, providerRef) ??
      (outId ? this.db.prepare(`${select} (n.id = ? OR n.id = 'ntf_' || ?)`).get(channel, outId, outId) : undefined)) as Row | undefined;
    if (!row) return undefined;
    return { id: row.id, alarmId: row.alarm_id, actor: `${roleLabel(this.options.locale, row.contact_role)} ${row.contact_name}`, alarmStatus: row.status, passedOn: row.unreached_at !== null };
  }

  /**
   * Key 2 pressed in this call ("ring the next one"): the escalation moves on
   * now, once (false when it already had: a repeated receipt, or the notice
   * was already counted as not reached).
   */
  callPassedOn(notificationId: string, nowMs: number): boolean {
    return this.run(() => {
      const r = this.callRow(notificationId);
      if (!r || r.unreached_at !== null) return false;
      this.moveOnFrom(r, nowMs, (escalates) => historyNotes.callPassedOn(this.options.locale, r.contact_name, escalates));
      return true;
    });
  }

  /** A key pressed in this call that changes nothing (1 when somebody was first): `note` goes in the history. */
  callKeyNoted(notificationId: string, note: string, nowMs: number): boolean {
    return this.run(() => {
      const r = this.callRow(notificationId);
      if (!r) return false;
      this.addHistory(r.alarm_id, nowMs, 'note', null, note);
      this.touch(r.alarm_id, nowMs);
      return true;
    });
  }

  private callRow(notificationId: string): (UnreachedRow & { unreached_at: number | null }) | undefined {
    return this.db.prepare("SELECT id, alarm_id, contact_name, escalation_level, unreached_at FROM notifications WHERE id = ? AND purpose = 'call'").get(notificationId) as
      | (UnreachedRow & { unreached_at: number | null })
      | undefined;
  }

  nextDeliveryCheckAt(): number | null {
    return (this.db.prepare("SELECT MIN(delivery_next_at) AS t FROM notifications INDEXED BY notifications_delivery WHERE delivery = 'waiting'").get() as { t: number | null }).t;
  }

  /**
   * Notices queued on a channel this configuration no longer has (the
   * operator changed the provider between two runs) go on to the next
   * channel of their route that exists, or to the first SMS channel: nothing
   * waits forever for a channel nobody drains. Returns how many moved.
   */
  adoptOrphanedNotifications(known: readonly string[], nowMs: number): number {
    return this.run(() => {
      const have = new Set(known);
      const rows = this.db
        .prepare(`SELECT id, route_json, route_step, channel, purpose FROM notifications WHERE status IN ('pending', 'sending') AND channel NOT IN (SELECT value FROM json_each(?))`)
        .all(JSON.stringify(known)) as Array<{ id: string; route_json: string | null; route_step: number; channel: string; purpose: NoticePurpose }>;
      let moved = 0;
      for (const r of rows) {
        const route = parseRoute(r.route_json, r.channel);
        const later = route.findIndex((c, i) => i > r.route_step && have.has(c));
        const fallback = r.purpose === 'chain' ? this.plan.sms[0] : r.purpose === 'call' ? this.plan.voice : this.plan.group;
        if (later < 0 && fallback === undefined) {
          this.db.prepare("UPDATE notifications SET status = 'failed', next_attempt_at = NULL, failover_at = NULL, last_error = ? WHERE id = ?").run(`CHANNEL_GONE: channel ${r.channel} is no longer configured`, r.id);
          continue;
        }
        const newRoute = later >= 0 ? route : [...route.slice(0, r.route_step + 1), fallback as string, ...route.slice(r.route_step + 1)];
        const step = later >= 0 ? later : r.route_step + 1;
        this.db
          .prepare("UPDATE notifications SET channel = ?, route_json = ?, route_step = ?, status = 'pending', next_attempt_at = ?, outage_at = NULL, channel_since = ? WHERE id = ?")
          .run(newRoute[step], JSON.stringify(newRoute), step, nowMs, nowMs, r.id);
        moved++;
      }
      return moved;
    });
  }

  /** The resident pressed cancel: the officer sees it in the case history (the case stays open until a person closes it). */
  noteResidentCancel(deviceId: string, refId: string | undefined, nowMs: number): string | null {
    const ctx = this.registry.deviceContext(deviceId);
    if (!ctx) return null;
    const byRef = refId
      ? (this.db.prepare('SELECT alarm_id FROM device_events WHERE device_id = ? AND event_id = ?').get(deviceId, refId) as { alarm_id: string | null } | undefined)?.alarm_id
      : undefined;
    // Without a usable reference, a cancel press can only be about something the person raised: an SOS or a fall.
    const active = (
      this.db
        .prepare(`SELECT id FROM alarms WHERE resident_id = ? AND kind IN ('sos', 'fall') AND status IN (${ACTIVE_STATUSES.map(() => '?').join(',')}) ORDER BY opened_at DESC LIMIT 1`)
        .get(ctx.residentId, ...ACTIVE_STATUSES) as { id: string } | undefined
    )?.id;
    const alarmId = byRef ?? active;
    if (!alarmId) return null;
    const row = this.getRow(alarmId);
    if (!row || !ACTIVE_STATUSES.includes(row.status)) return null;
    this.addHistory(alarmId, nowMs, 'note', ctx.residentName, historyNotes.residentCancelled(this.options.locale));
    this.touch(alarmId, nowMs);
    return alarmId;
  }

  /** The case a notification belongs to; undefined for an unknown id. */
  alarmOfNotification(notificationId: string): string | undefined {
    const row = this.db.prepare('SELECT alarm_id FROM notifications WHERE id = ?').get(notificationId) as { alarm_id: string } | undefined;
    return row?.alarm_id;
  }

  nextNotificationDueAt(channel?: string): number | null {
    const row = (
      channel === undefined
        ? this.db.prepare("SELECT MIN(next_attempt_at) AS t FROM notifications WHERE status = 'pending'").get()
        : this.db.prepare("SELECT MIN(next_attempt_at) AS t FROM notifications INDEXED BY notifications_channel_claim WHERE channel = ? AND status = 'pending'").get(channel)
    ) as { t: number | null };
    return row.t;
  }

  requeueInterruptedNotifications(nowMs: number, channel?: string): number {
    const unbundle = "bundle_of = CASE WHEN bundle_of = '-' THEN '-' ELSE NULL END";
    if (channel === undefined) return this.db.prepare(`UPDATE notifications SET status = 'pending', next_attempt_at = ?, ${unbundle} WHERE status = 'sending'`).run(nowMs).changes;
    return this.db.prepare(`UPDATE notifications SET status = 'pending', next_attempt_at = ?, ${unbundle} WHERE status = 'sending' AND channel = ?`).run(nowMs, channel).changes;
  }

  // ---- device commands ---------------------------------------------------------

  private enqueueCommand(deviceId: string, alarmId: string | null, command: DeviceCommand, nowMs: number): void {
    if (isQueuedCommand(command)) this.commands.insert(deviceId, alarmId, command, nowMs);
  }

  /** Commands the device has not acknowledged yet, oldest first (all devices, or one). */
  pendingCommands(deviceId?: string): Array<{ id: string; deviceId: string; command: DeviceCommand }> {
    return this.commands.open(deviceId).map((c) => ({ id: c.id, deviceId: c.deviceId, command: c.command }));
  }

  // ---- views ---------------------------------------------------------------

  private getRow(alarmId: string): AlarmRow | undefined {
    return this.db.prepare('SELECT * FROM alarms WHERE id = ?').get(alarmId) as AlarmRow | undefined;
  }

  private addHistory(alarmId: string, at: number, action: AlarmAction, by: string | null, note: string | null): void {
    this.db.prepare('INSERT INTO alarm_history (alarm_id, at, action, by, note) VALUES (?, ?, ?, ?, ?)').run(alarmId, at, action, by, note);
    this.capHistory(alarmId);
  }

  /** Keeps a case's history within HISTORY_CAP: the oldest entries isDroppableHistory allows go (the SQL says the same), counted in history_omitted. */
  private capHistory(alarmId: string): void {
    const { n } = this.db.prepare('SELECT COUNT(*) AS n FROM alarm_history WHERE alarm_id = ?').get(alarmId) as { n: number };
    if (n <= HISTORY_CAP) return;
    const dropped = this.db
      .prepare(
        `DELETE FROM alarm_history WHERE seq IN (
           SELECT seq FROM alarm_history WHERE alarm_id = ? AND by IS NULL AND action <> 'opened' ORDER BY seq LIMIT ?)`,
      )
      .run(alarmId, n - HISTORY_CAP).changes;
    if (dropped > 0) this.db.prepare('UPDATE alarms SET history_omitted = history_omitted + ? WHERE id = ?').run(dropped, alarmId);
  }

  private touch(alarmId: string, nowMs: number): void {
    this.db.prepare('UPDATE alarms SET updated_at = ? WHERE id = ?').run(nowMs, alarmId);
  }

  /** The whole case as the dashboard shows it; phone numbers masked. */
  view(alarmId: string): AlarmView | undefined {
    // The case, its resident, household and village in one statement (this runs on every change of every case).
    const joined = this.db
      .prepare(
        `SELECT a.*, r.name AS r_name, r.sex AS r_sex, r.birth_year AS r_birth_year,
                h.address AS h_address, h.lat AS h_lat, h.lng AS h_lng, h.key_holder_note AS h_key_holder_note,
                v.name AS v_name, v.timezone AS v_timezone
           FROM alarms a JOIN residents r ON r.id = a.resident_id JOIN households h ON h.id = a.household_id JOIN villages v ON v.id = a.village_id
          WHERE a.id = ?`,
      )
      .get(alarmId) as
      | (AlarmRow & {
          r_name: string;
          r_sex: 'F' | 'M' | null;
          r_birth_year: number | null;
          h_address: string;
          h_lat: number;
          h_lng: number;
          h_key_holder_note: string | null;
          v_name: string;
          v_timezone: string;
        })
      | undefined;
    if (!joined) return undefined;
    const row: AlarmRow = joined;
    const resident = { id: row.resident_id, name: joined.r_name, sex: joined.r_sex, birth_year: joined.r_birth_year };
    const household = { id: row.household_id, address: joined.h_address, lat: joined.h_lat, lng: joined.h_lng, key_holder_note: joined.h_key_holder_note };
    const village = { id: row.village_id, name: joined.v_name, timezone: joined.v_timezone };
    // Only what the view shows: not the SMS text or its parameters (a row's largest columns).
    const notifications = this.db
      .prepare(
        `SELECT id, channel, contact_name, contact_role, phone, escalation_level, status, attempts, last_error, created_at, sent_at, next_attempt_at, outage_at, template,
                purpose, route_json, route_step, failovers_json, delivery, delivery_at, delivery_error, unreached_at
           FROM notifications WHERE alarm_id = ? ORDER BY created_at, rowid`,
      )
      .all(alarmId) as Array<Record<string, unknown>>;
    const history = this.db.prepare('SELECT at, action, by, note FROM alarm_history WHERE alarm_id = ? ORDER BY seq').all(alarmId) as AlarmView['history'];
    const openedYear = new Date(row.opened_at).getUTCFullYear();
    // While the latest notice waits for the SMS provider the escalation holds: there is no time to show (as NOT_HELD).
    const held = notifications.some(
      (n) =>
        n.escalation_level === row.escalation_level &&
        n.purpose === 'chain' &&
        (n.status === 'pending' || n.status === 'sending') &&
        (n.outage_at != null || (n.route_step as number) > 0) &&
        n.template !== 'cancelled',
    );
    return {
      id: row.id,
      kind: row.kind,
      severity: row.severity,
      status: row.status,
      openedAt: row.opened_at,
      eventTs: row.event_ts,
      updatedAt: row.updated_at,
      deviceId: row.device_id,
      eventId: row.event_id,
      resident: { id: resident.id, name: resident.name, sex: resident.sex, age: resident.birth_year === null ? null : openedYear - resident.birth_year },
      household: { id: household.id, address: household.address, lat: household.lat, lng: household.lng, keyHolderNote: household.key_holder_note },
      village,
      takenBy: row.taken_by,
      takenAt: row.taken_at,
      resolvedAt: row.resolved_at,
      resolutionNote: row.resolution_note,
      outcome: row.outcome ?? null,
      escalationLevel: row.escalation_level,
      nextEscalationAt: row.status === 'open' && !held ? row.next_escalation_at : null,
      repeats: row.repeat_count > 1 ? { count: row.repeat_count, firstAt: row.opened_at, lastAt: row.repeat_last_at ?? row.opened_at } : null,
      ...(row.history_omitted > 0 ? { historyOmitted: row.history_omitted } : {}),
      notifications: notifications.map((n) => ({
        id: n.id as string,
        channel: n.channel as string,
        contactName: n.contact_name as string,
        contactRole: n.contact_role as AlarmView['notifications'][number]['contactRole'],
        phoneMasked: maskPhone(n.phone as string),
        escalationLevel: n.escalation_level as number,
        status: n.status as AlarmView['notifications'][number]['status'],
        attempts: n.attempts as number,
        lastError: (n.last_error as string | null) ?? null,
        createdAt: n.created_at as number,
        sentAt: (n.sent_at as number | null) ?? null,
        nextAttemptAt: (n.next_attempt_at as number | null) ?? null,
        waitingForProvider: n.status === 'pending' && n.outage_at !== null && n.outage_at !== undefined,
        ...this.routeView(n),
      })),
      history,
    };
  }

  /** A notification's channel, route, moves and receipt, as the dashboard shows them. */
  private routeView(n: Record<string, unknown>): Pick<AlarmView['notifications'][number], 'medium' | 'purpose' | 'route' | 'routeStep' | 'failovers' | 'delivery' | 'unreached' | 'undeliverable'> {
    const channel = n.channel as string;
    const route = parseRoute((n.route_json as string | null) ?? null, channel);
    const delivery = (n.delivery as DeliveryState | null) ?? null;
    const purpose = (n.purpose as NoticePurpose | null) ?? 'chain';
    return {
      medium: this.medium(channel),
      purpose,
      route,
      routeStep: n.route_step as number,
      failovers: parseTrail((n.failovers_json as string | null) ?? null),
      delivery: delivery === null ? null : { state: delivery, at: (n.delivery_at as number | null) ?? null, error: (n.delivery_error as string | null) ?? null },
      unreached: n.unreached_at != null && delivery !== 'delivered',
      undeliverable: n.status === 'failed' && purpose === 'chain',
    };
  }

  /**
   * The case as the answer page shows it to the contact of `grant`: no phone
   * numbers, no history; with the other cases of `bundle` (answerBundle: the
   * grants of the same SMS) listed by kind, resident, village and status.
   */
  answerView(grant: AnswerGrant, bundle: readonly AnswerGrant[] = [grant]): AnswerView | undefined {
    const view = this.view(grant.alarmId);
    const row = this.getRow(grant.alarmId);
    if (!view || !row) return undefined;
    return {
      alarmId: view.id,
      kind: view.kind,
      severity: view.severity,
      status: view.status,
      openedAt: view.openedAt,
      detail: { 'zh-CN': alarmDetail(view.kind, parseCaseDetails(row.details_json), 'zh-CN'), en: alarmDetail(view.kind, parseCaseDetails(row.details_json), 'en') },
      resident: { name: view.resident.name, sex: view.resident.sex, age: view.resident.age },
      household: { address: view.household.address, keyHolderNote: view.household.keyHolderNote },
      village: { name: view.village.name, timezone: view.village.timezone },
      you: { name: grant.contactName, role: grant.contactRole, actor: grant.actor },
      takenBy: view.takenBy,
      takenAt: view.takenAt,
      resolutionNote: view.resolutionNote,
      expiresAt: grant.expiresAt,
      otherCases: this.answerOtherCases(bundle.filter((g) => g.alarmId !== grant.alarmId).map((g) => g.alarmId)),
    };
  }

  /** The cases `alarmIds` as the answer page lists them, critical first, then the oldest. */
  private answerOtherCases(alarmIds: readonly string[]): AnswerView['otherCases'] {
    if (alarmIds.length === 0) return [];
    const rows = this.db
      .prepare(
        `SELECT a.id, a.kind, a.severity, a.status, a.opened_at, r.name AS r_name, v.name AS v_name, v.timezone AS v_timezone
           FROM alarms a JOIN residents r ON r.id = a.resident_id JOIN villages v ON v.id = a.village_id
          WHERE a.id IN (SELECT value FROM json_each(?))`,
      )
      .all(JSON.stringify(alarmIds)) as Array<{ id: string; kind: AlarmKind; severity: Severity; status: AlarmStatus; opened_at: number; r_name: string; v_name: string; v_timezone: string }>;
    return rows
      .map((r) => ({ alarmId: r.id, kind: r.kind, severity: r.severity, status: r.status, openedAt: r.opened_at, resident: { name: r.r_name }, village: { name: r.v_name, timezone: r.v_timezone } }))
      .sort(mostSevereFirst);
  }

  /**
   * Cases for the queue: active ones, closed ones, or all; newest first;
   * only those of `scope`'s villages (and residents) when given.
   */
  list(status: 'active' | 'closed' | 'all', limit: number, scope?: { villageIds?: readonly string[]; residentIds?: readonly string[] }): AlarmView[] {
    const conditions: string[] = [];
    if (status === 'active') conditions.push(`status IN (${ACTIVE_STATUSES.map((s) => `'${s}'`).join(',')})`);
    else if (status === 'closed') conditions.push("status IN ('resolved', 'cancelled')");
    // json_each keeps the statement one prepared text whatever the size of the scope.
    if (scope?.villageIds) conditions.push('village_id IN (SELECT value FROM json_each(@villages))');
    if (scope?.residentIds) conditions.push('resident_id IN (SELECT value FROM json_each(@residents))');
    const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
    const params: Record<string, unknown> = { limit };
    if (scope?.villageIds) params.villages = JSON.stringify(scope.villageIds);
    if (scope?.residentIds) params.residents = JSON.stringify(scope.residentIds);
    const ids = this.db.prepare(`SELECT id FROM alarms ${where} ORDER BY opened_at DESC LIMIT @limit`).all(params) as Array<{ id: string }>;
    return ids.map((r) => this.view(r.id)).filter((v): v is AlarmView => v !== undefined);
  }

  /** A resident's cases, newest first, for the resident card. */
  residentCases(residentId: string, limit: number): CardAlarm[] {
    return this.db
      .prepare(
        `SELECT id, kind, severity, status, opened_at AS openedAt, taken_by AS takenBy, resolved_at AS resolvedAt, resolution_note AS resolutionNote
           FROM alarms WHERE resident_id = ? ORDER BY opened_at DESC, rowid DESC LIMIT ?`,
      )
      .all(residentId, limit) as CardAlarm[];
  }

  /** Notification rows by status, for /api/stats. */
  notificationCounts(): { pending: number; sent: number; failed: number; undeliverable: number; delivered: number } {
    const rows = this.db.prepare('SELECT status, COUNT(*) AS n FROM notifications GROUP BY status').all() as Array<{ status: string; n: number }>;
    const count = (s: string) => rows.find((r) => r.status === s)?.n ?? 0;
    const { undeliverable, delivered } = this.db
      .prepare(
        `SELECT COALESCE(SUM(CASE WHEN purpose = 'chain' AND (status = 'failed' OR delivery = 'failed' OR (unreached_at IS NOT NULL AND delivery <> 'delivered')) THEN 1 ELSE 0 END), 0) AS undeliverable,
                COALESCE(SUM(CASE WHEN delivery = 'delivered' THEN 1 ELSE 0 END), 0) AS delivered
           FROM notifications`,
      )
      .get() as { undeliverable: number; delivered: number };
    return { pending: count('pending') + count('sending'), sent: count('sent'), failed: count('failed'), undeliverable, delivered };
  }

  /** The case a (device, event id) opened or joined, if any. */
  alarmIdFor(deviceId: string, eventId: string): string | undefined {
    const direct = this.db.prepare('SELECT id FROM alarms WHERE device_id = ? AND event_id = ?').get(deviceId, eventId) as { id: string } | undefined;
    if (direct) return direct.id;
    const viaEvent = this.db.prepare('SELECT alarm_id FROM device_events WHERE device_id = ? AND event_id = ?').get(deviceId, eventId) as { alarm_id: string | null } | undefined;
    return viaEvent?.alarm_id ?? undefined;
  }

  /** Runs `fn` in one transaction with the store's own writes (nested transactions become savepoints). */
  inTransaction<T>(fn: () => T): T {
    return this.run(fn);
  }

  /** Number of cases opened for a device event; used by tests and the durability check. */
  countAlarmsForEvent(deviceId: string, eventId: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM alarms WHERE device_id = ? AND event_id = ?').get(deviceId, eventId) as { n: number }).n;
  }
}

/**
 * An error fit for the log and the case history: a JSON error quotes what it
 * could not read, which may be an SMS text with its answer code or a phone
 * number, so it is replaced by a fixed sentence; any other message keeps at
 * most 200 characters with digit runs like phone numbers masked.
 */
export function safeError(err: unknown): Error & { code: string } {
  const e = err as { name?: unknown; code?: unknown; message?: unknown } | null;
  const code = typeof e?.code === 'string' ? e.code : 'NOTICE_UNPREPARED';
  const message =
    e?.name === 'SyntaxError' ? 'a stored notification field is not readable JSON' : (typeof e?.message === 'string' ? e.message : String(err)).replace(/\d{7,}/g, (d) => maskPhone(d)).slice(0, 200);
  return Object.assign(new Error(message), { code });
}

function errorText(err: unknown): string {
  const e = safeError(err);
  return `${e.code}: ${e.message}`;
}

/** The subject of a case's SMS: the case, and where its resident lives. */
function smsSubject(alarmId: string, kind: AlarmKind, severity: Severity, details: AlarmDetails, openedAt: number, ctx: ResidentContext): SmsSubject {
  return { alarmId, severity, priority: NOTICE_PRIORITY[severity], kind, details, openedAt, residentName: ctx.residentName, address: ctx.address, villageName: ctx.villageName, timeZone: ctx.timezone };
}

/** A notification's place on its route, as failover reads it. */
interface RouteRow {
  id: string;
  alarm_id: string;
  channel: string;
  route_json: string | null;
  route_step: number;
  purpose: NoticePurpose;
  status: string;
  contact_name: string;
  contact_role: ContactRow['role'];
  escalation_level: number;
  last_error: string | null;
  failovers_json: string | null;
  template: SmsTemplateKey;
  severity: Severity;
}

/** A row's route; a row written before routes has its channel alone. */
function parseRoute(json: string | null, channel: string): string[] {
  if (json === null) return [channel];
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) && parsed.length > 0 && parsed.every((c) => typeof c === 'string') ? (parsed as string[]) : [channel];
  } catch {
    return [channel];
  }
}

/** The moves a notice made from channel to channel. */
function parseTrail(json: string | null): Array<{ at: number; from: string; to: string; reason: string }> {
  if (json === null) return [];
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) ? (parsed as Array<{ at: number; from: string; to: string; reason: string }>) : [];
  } catch {
    return [];
  }
}

/** The answer page's order of cases: critical first, then the oldest. */
function mostSevereFirst(a: { severity: Severity; openedAt: number }, b: { severity: Severity; openedAt: number }): number {
  return Severity.options.indexOf(a.severity) - Severity.options.indexOf(b.severity) || a.openedAt - b.openedAt;
}

/** What the store posts to the duty group about. */
type GroupEvent =
  | { event: 'opened' }
  | { event: 'escalated'; nextContact: string }
  | { event: 'taken'; by: string }
  | { event: 'closed'; outcome: 'resolved' | 'cancelled'; by: string; reason: string; falseAlarm?: boolean }
  | { event: 'fellOver'; contact: string };
