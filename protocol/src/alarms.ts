/**
 * The alarm case as the REST API and the socket.io feed show it, and the REST
 * bodies that move a case along its lifecycle:
 * open → taken → onTheWay → onSite → resolved, or cancelled.
 */
import { z } from 'zod';
import { EpochMs, MessageId } from './mqtt.js';

export const ALARM_KINDS = ['sos', 'fall', 'inactivity', 'missedCheckIn', 'deviceOffline', 'lowBattery', 'co', 'smoke', 'gas', 'waterLeak', 'cold', 'heat', 'notBack'] as const;
export const AlarmKind = z.enum(ALARM_KINDS);
export type AlarmKind = z.infer<typeof AlarmKind>;

/** critical: a life may be at stake now; urgent: within the hour; maintenance: within the day. */
export const SEVERITIES = ['critical', 'urgent', 'maintenance'] as const;
export const Severity = z.enum(SEVERITIES);
export type Severity = z.infer<typeof Severity>;

export const ALARM_STATUSES = ['open', 'taken', 'onTheWay', 'onSite', 'resolved', 'cancelled'] as const;
export const AlarmStatus = z.enum(ALARM_STATUSES);
export type AlarmStatus = z.infer<typeof AlarmStatus>;

/** Statuses in which somebody still has to act. */
export const ACTIVE_STATUSES: readonly AlarmStatus[] = ['open', 'taken', 'onTheWay', 'onSite'];

export const CONTACT_ROLES = ['helper', 'doctor', 'duty', 'family'] as const;
export const ContactRole = z.enum(CONTACT_ROLES);
export type ContactRole = z.infer<typeof ContactRole>;

/** skipped: the case was closed before this notice went out (a late escalation SMS is not sent). */
export const NOTIFICATION_STATUSES = ['pending', 'sending', 'sent', 'failed', 'skipped'] as const;
export const NotificationStatus = z.enum(NOTIFICATION_STATUSES);
export type NotificationStatus = z.infer<typeof NotificationStatus>;

/** What a channel reaches: a phone by SMS, the same phone by a voice call, the village's duty group by its robot. */
export const NOTIFICATION_MEDIA = ['sms', 'voice', 'group'] as const;
export const NotificationMedium = z.enum(NOTIFICATION_MEDIA);

/** chain: a contact of the chain (the escalation waits for it); call: a voice call besides the SMS; group: a post to the duty group. */
export const NOTIFICATION_PURPOSES = ['chain', 'call', 'group'] as const;
export const NotificationPurpose = z.enum(NOTIFICATION_PURPOSES);

/**
 * The provider's receipt of a sent notice: waiting (asked until it says),
 * delivered, failed (it will not arrive, or the call was not answered),
 * none (the channel gives no receipts), unknown (no answer after 48 hours).
 */
export const DELIVERY_STATES = ['waiting', 'delivered', 'failed', 'none', 'unknown'] as const;
export const DeliveryState = z.enum(DELIVERY_STATES);
export type DeliveryState = z.infer<typeof DeliveryState>;

/** One move of a notice from a channel to the next of its route. */
export const FailoverStep = z.object({ at: EpochMs, from: z.string(), to: z.string(), reason: z.string() });
export type FailoverStep = z.infer<typeof FailoverStep>;

export const NotificationView = z.object({
  id: z.string(),
  /** The channel it is on now (its last one once sent or failed). */
  channel: z.string(),
  medium: NotificationMedium,
  purpose: NotificationPurpose,
  /** Every channel it may go through, in order. */
  route: z.array(z.string()),
  /** Where on `route` it is now. */
  routeStep: z.number().int().nonnegative(),
  /** The moves it made, oldest first. */
  failovers: z.array(FailoverStep),
  /** The receipt; null until it is sent. */
  delivery: z.object({ state: DeliveryState, at: EpochMs.nullable(), error: z.string().nullable() }).nullable(),
  /** A critical case's SMS not delivered within the deadline, or failed: the escalation went on without this contact. */
  unreached: z.boolean(),
  /** Failed on the last channel of its route: nobody was reached by it. Red on the dashboard, counted. */
  undeliverable: z.boolean(),
  contactName: z.string(),
  contactRole: ContactRole,
  /** Phone number masked for display, e.g. 138****5678. */
  phoneMasked: z.string(),
  /** 0 for the first notice; n for the n-th escalation step. */
  escalationLevel: z.number().int().nonnegative(),
  status: NotificationStatus,
  attempts: z.number().int().nonnegative(),
  lastError: z.string().nullable(),
  createdAt: EpochMs,
  sentAt: EpochMs.nullable(),
  nextAttemptAt: EpochMs.nullable(),
  /** Pending because the SMS provider is out (not this message's fault): it goes when the provider answers again. */
  waitingForProvider: z.boolean(),
});
export type NotificationView = z.infer<typeof NotificationView>;

export const ALARM_ACTIONS = ['opened', 'duplicate', 'escalated', 'taken', 'onTheWay', 'onSite', 'resolved', 'cancelled', 'note'] as const;
export const AlarmAction = z.enum(ALARM_ACTIONS);
export type AlarmAction = z.infer<typeof AlarmAction>;

export const AlarmHistoryEntry = z.object({
  at: EpochMs,
  action: AlarmAction,
  by: z.string().nullable(),
  note: z.string().nullable(),
});
export type AlarmHistoryEntry = z.infer<typeof AlarmHistoryEntry>;

/**
 * How a resolved case ended, for the reports' share of false alarms:
 * `real`: somebody needed help, or there was a real danger (a fall, gas, a
 * fire, an illness, a fright); `falseAlarm`: nobody needed help (pressed by
 * mistake, a test, a false detection). A cancelled case is a false alarm too.
 */
export const ALARM_OUTCOMES = ['real', 'falseAlarm'] as const;
export const AlarmOutcome = z.enum(ALARM_OUTCOMES, { error: `outcome: one of ${ALARM_OUTCOMES.join(', ')}` });
export type AlarmOutcome = z.infer<typeof AlarmOutcome>;

/**
 * A case triggered more than once while nobody had taken it (a stuck SOS
 * button, a device reporting its fall again, a detector finding the same
 * thing): the presses are counted here, not written one by one into the history.
 */
export const AlarmRepeats = z.object({
  /** How many times the case was triggered in all, the first time included (≥ 2). */
  count: z.number().int().min(2),
  /** The first trigger (the case's opening, server clock). */
  firstAt: EpochMs,
  /** The latest trigger (server clock). */
  lastAt: EpochMs,
});
export type AlarmRepeats = z.infer<typeof AlarmRepeats>;

export const AlarmView = z.object({
  id: z.string(),
  kind: AlarmKind,
  severity: Severity,
  status: AlarmStatus,
  /** When the server opened the case (server clock). */
  openedAt: EpochMs,
  /** The device's own timestamp of the triggering event (its clock may be wrong). */
  eventTs: EpochMs,
  updatedAt: EpochMs,
  deviceId: z.string(),
  eventId: MessageId,
  resident: z.object({ id: z.string(), name: z.string(), sex: z.enum(['F', 'M']).nullable(), age: z.number().int().nullable() }),
  household: z.object({
    id: z.string(),
    address: z.string(),
    lat: z.number(),
    lng: z.number(),
    keyHolderNote: z.string().nullable(),
  }),
  village: z.object({ id: z.string(), name: z.string(), timezone: z.string() }),
  takenBy: z.string().nullable(),
  takenAt: EpochMs.nullable(),
  resolvedAt: EpochMs.nullable(),
  resolutionNote: z.string().nullable(),
  /** How a resolved case ended, as whoever resolved it said (AlarmOutcome); null while open, for a cancelled case, and when it was not said. */
  outcome: AlarmOutcome.nullable(),
  escalationLevel: z.number().int().nonnegative(),
  /** When the next contact will be texted if nobody takes the case; null once taken or closed, and while the latest SMS waits for the provider (an outage holds the escalation). */
  nextEscalationAt: EpochMs.nullable(),
  notifications: z.array(NotificationView),
  history: z.array(AlarmHistoryEntry),
  /** Repeated triggers folded into a count; null (or absent, from an older server) when triggered once. */
  repeats: AlarmRepeats.nullable().optional(),
  /** Older history entries dropped to keep the history bounded (never who took or closed the case); absent = none. */
  historyOmitted: z.number().int().nonnegative().optional(),
});
export type AlarmView = z.infer<typeof AlarmView>;


// Who acts comes from the session (the user's display name), never from the body.
const Note = z.string().trim().max(2000);

export const TakeAlarmBody = z.object({ note: Note.optional() }).strict();
export type TakeAlarmBody = z.infer<typeof TakeAlarmBody>;

export const AlarmStepBody = z.object({ note: Note.optional() }).strict();
export type AlarmStepBody = z.infer<typeof AlarmStepBody>;

export const ResolveAlarmBody = z
  .object({
    note: Note.min(1, 'note: describe what happened before closing the case'),
    /** Optional for API clients; the dashboard and the answer page always ask it. */
    outcome: AlarmOutcome.optional(),
  })
  .strict();
export type ResolveAlarmBody = z.infer<typeof ResolveAlarmBody>;

export const CancelAlarmBody = z
  .object({ reason: Note.min(1, 'reason: say why the alarm is cancelled') })
  .strict();
export type CancelAlarmBody = z.infer<typeof CancelAlarmBody>;

export const AlarmListQuery = z
  .object({
    status: z.enum(['active', 'closed', 'all']).default('active'),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();
export type AlarmListQuery = z.infer<typeof AlarmListQuery>;

export const AlarmIdParams = z.object({ id: z.string().min(1).max(64) }).strict();


/**
 * Something wrong with the system itself (not with a resident): the SMS
 * provider refusing or unreachable, the database unable to write. Shown to the
 * duty room as a red banner and listed by /api/health. `code` names the
 * problem (the dashboard has a sentence for each); `message` is the server's
 * own sentence in English for logs and operators.
 */
/**
 * The codes of system problems the dashboard has its own sentence for
 * (dashboard/src/i18n.ts `system.<code>`); another code shows the generic
 * sentence with the server's message.
 */
export const SYSTEM_PROBLEM_CODES = [
  /** The SMS provider refuses every message (signature, credit, a disabled key, flow control) or cannot be reached: notices wait and are resent. */
  'SMS_PROVIDER_OUTAGE',
  /** The database could not write (disk full, locked, read-only): new alarms may not be recorded. */
  'STORAGE_WRITE_FAILED',
  /** The TLS certificate ends within 14 days or has ended (details.reason: its last day): browsers and devices over TLS will fail to connect. */
  'TLS_CERT_EXPIRING',
  /** The voice service refuses every call or cannot be reached: critical alarms are texted, nobody is rung. */
  'VOICE_PROVIDER_OUTAGE',
  /** The duty group's robot refuses every post or cannot be reached: SMS and calls are not affected. */
  'GROUP_ROBOT_OUTAGE',
  /** The robot of some villages' duty groups refuses or throttles their posts (details.groups names them): the other groups are not affected. */
  'GROUP_ROBOT_FAULT',
] as const;
export type SystemProblemCode = (typeof SYSTEM_PROBLEM_CODES)[number];

export const SystemProblem = z.object({
  code: z.string().min(1).max(64),
  /** critical: alarms may not reach people (act now: phone the helpers); warning: degraded, alarms still flow. */
  severity: z.enum(['critical', 'warning']),
  /** true: this node cannot do its job (a load balancer should stop sending it work): /api/health answers 503. */
  unhealthy: z.boolean(),
  message: z.string().max(500),
  since: EpochMs,
  details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});
export type SystemProblem = z.infer<typeof SystemProblem>;

/** The system's own state: the banner of the dashboard and /api/health. */
export const SystemHealthEvent = z.object({
  problems: z.array(SystemProblem),
});
export type SystemHealthEvent = z.infer<typeof SystemHealthEvent>;

/**
 * ok: ready, nothing wrong; starting: not ready yet (503); degraded: working,
 * with problems (200); unhealthy: a problem stops this node doing its job (503).
 */
export const HealthResponse = z.object({
  status: z.enum(['ok', 'starting', 'degraded', 'unhealthy']),
  checks: z.record(z.string(), z.boolean()),
  problems: z.array(SystemProblem),
  version: z.string(),
});
export type HealthResponse = z.infer<typeof HealthResponse>;

/** A village as the dashboard header shows it. */
export const VillageSummary = z.object({ id: z.string(), name: z.string(), timezone: z.string(), lat: z.number(), lng: z.number(), households: z.number().int().nonnegative() });
export type VillageSummary = z.infer<typeof VillageSummary>;

/** Operating figures for the duty room and monitoring: what was received, rejected, sent and failed since the start. */
export const SystemStats = z.object({
  startedAt: EpochMs,
  gateway: z.object({
    connected: z.number().int(),
    connections: z.number().int(),
    authFailures: z.number().int(),
    aclDenied: z.number().int(),
    invalidPayloads: z.record(z.string(), z.number().int()),
    oversized: z.number().int(),
    malformedFrames: z.number().int(),
    floodDisconnects: z.number().int(),
    messagesIn: z.number().int(),
    commandsOut: z.number().int(),
    handlerErrors: z.number().int(),
    /** Connections refused or cut by the MQTT connection limits, by limit (keepAlive, preLogin, connectTimeout, pingFlood, subscribeFlood, loginDelayed, loginUnchecked). */
    refused: z.record(z.string(), z.number().int()).optional(),
  }),
  notifications: z.object({
    pending: z.number().int(),
    sent: z.number().int(),
    failed: z.number().int(),
    /** Notices to contacts that no channel could deliver, or that the provider says did not arrive. */
    undeliverable: z.number().int(),
    delivered: z.number().int(),
  }),
  devices: z.object({ registered: z.number().int(), online: z.number().int() }),
  liveClients: z.number().int(),
});
export type SystemStats = z.infer<typeof SystemStats>;

/** Away mode of a resident (visiting family, in hospital): silence is then expected. */
export const AwayBody = z.object({ away: z.boolean(), note: Note.optional() }).strict();
export type AwayBody = z.infer<typeof AwayBody>;

export const ResidentIdParams = z.object({ id: z.string().min(1).max(64) }).strict();

export const AwayResponse = z.object({ residentId: z.string(), away: z.boolean(), awaySince: EpochMs.nullable() });
export type AwayResponse = z.infer<typeof AwayResponse>;
