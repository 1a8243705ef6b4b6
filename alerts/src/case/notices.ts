/**
 * Which queued SMS of a case may still go, given the case's state.
 *
 * Once a case leaves `open`, nobody needs "come now, nobody has answered" any
 * more: a queued escalation (level > 0) is skipped, with a history note, the
 * moment the case is taken or closed, including one waiting in retry backoff.
 * The first notice (level 0) of a taken case still goes: the first contact
 * hears of the press. Every notice of a closed case is skipped, except that
 * a cancelled critical case must still reach somebody (planCancelledCritical).
 *
 * Only `pending` rows are ever skipped or rewritten. A row in `sending` has
 * been claimed and handed to the provider: it cannot be recalled, so it is
 * left alone and its verdict decides: sent stays sent, a retry of a notice
 * the case no longer needs is skipped there and then, failed may make the
 * cancelled notice go to the next contact.
 */
import type { AlarmStatus, Severity } from '@kanjia/protocol';
import type { SmsTemplateKey } from '../sms/sms-sender.js';
import { isClosed } from './lifecycle.js';
import type { NoticePurpose } from '../channels/routing.js';

export type NoticeStatus = 'pending' | 'sending' | 'sent' | 'failed' | 'skipped';

/** A notification row as these rules read it. */
export interface Notice {
  id: string;
  contactId: string | null;
  contactName: string;
  phone: string;
  escalationLevel: number;
  template: SmsTemplateKey;
  status: NoticeStatus;
  /** What the notice is for (channels/routing.ts); absent: `chain` (rows written before purposes). */
  purpose?: NoticePurpose;
}

/** A contact of the resident's chain, as these rules read it. */
export interface ChainContact {
  id: string;
  phone: string;
}

/** The case as these rules read it. */
export interface NoticeCase {
  status: AlarmStatus;
  severity: Severity;
}

/**
 * A queued notice the case in its present state may send: anything of an
 * open case, the first notice of a taken one, the cancelled notice; a post
 * to the duty group always (it is the group's record of the case: opened,
 * taken, closed); a voice call only while nobody has taken the case.
 */
export function maySend(notice: Pick<Notice, 'template' | 'escalationLevel'> & { purpose?: NoticePurpose }, caseStatus: AlarmStatus): boolean {
  if (notice.purpose === 'group') return true;
  if (notice.purpose === 'call') return caseStatus === 'open';
  return notice.template === 'cancelled' || caseStatus === 'open' || (notice.escalationLevel === 0 && !isClosed(caseStatus));
}

/** A queued notice that the case's state has made pointless, or (a cancelled critical case) that may have to change: settle before sending. */
export function needsSettling(notice: Pick<Notice, 'template' | 'escalationLevel'> & { purpose?: NoticePurpose }, caseStatus: AlarmStatus): boolean {
  return notice.template !== 'cancelled' && !maySend(notice, caseStatus);
}

/** Why a queued notice was skipped, for the row's last_error and the history. */
export type SkipReason = 'taken' | 'resolved' | 'cancelled';

export function skipReason(caseStatus: AlarmStatus): SkipReason {
  return caseStatus === 'resolved' ? 'resolved' : caseStatus === 'cancelled' ? 'cancelled' : 'taken';
}

/** What settling a case's queued notices does. */
export interface SettlePlan {
  /** Pending notices to skip, in order. */
  skip: string[];
  /** A cancelled critical case: who gets the cancelled notice, and how. */
  cancelledNotice?: {
    contact: ChainContact;
    /** The contact's place in the chain (the new row's escalation level). */
    chainIndex: number;
    /** The contact's queued notice, rewritten to the cancelled text; undefined: a new row. */
    carrierId: string | undefined;
    /** An earlier contact's SMS failed: the notice goes to this one instead. */
    redirected: boolean;
  };
  /** A cancelled critical case none of whose contacts could be texted: the officer must phone (said once). */
  nobodyLeft?: true;
}

/**
 * What settling the queued notices of a case no longer open does; for an open
 * case, nothing. Idempotent: settling the result again plans nothing new.
 *
 * @param residentKnown false when the resident is gone from the registry: the
 *   cancelled text cannot be written, so the notices are skipped as for any closed case.
 */
export function planSettlement(c: NoticeCase, notices: readonly Notice[], chain: readonly ChainContact[], residentKnown: boolean): SettlePlan {
  if (c.status === 'open') return { skip: [] };
  if (c.status === 'cancelled' && c.severity === 'critical') return planCancelledCritical(notices, chain, residentKnown);
  return { skip: notices.filter((n) => n.status === 'pending' && needsSettling(n, c.status)).map((n) => n.id) };
}

/**
 * A critical case cancelled from the dashboard (a false alarm in the
 * officer's judgement): somebody on the chain must still learn that the
 * button was pressed (or the fall or CO detected), and who called it off
 * and why, so nobody is dropped silently. When some SMS of the case has
 * gone, that somebody exists; otherwise the cancelled notice goes to the
 * first contact of the chain not known to have failed (a `failed` row to
 * their number), taking over that contact's queued notice or, with none, as
 * a new one. Everything else queued is skipped.
 *
 * How a cancel meets the outbox's claim → send → commit of the notice to
 * that contact (C), and what C (or the next contact, N) gets:
 *  1. Before the claim (pending, due or in retry backoff): rewritten at the
 *     cancel; the claim sends the cancelled text. Rewritten again at no later
 *     point: once a `cancelled` row is pending or sending, settling stops.
 *  2. Claimed, with the provider at the cancel (`sending`): nothing is
 *     rewritten while the provider has it; the other queued notices are
 *     skipped (none may say "come now"). Then the verdict:
 *     a. sent: C has heard of the alarm; nothing more is sent (C's answer
 *        link now says the case is closed);
 *     b. retry: the row is back to pending and rewritten at once (case 1):
 *        C gets the cancelled text on the next attempt;
 *     c. failed for good: C is known to have failed; N gets the cancelled
 *        notice (its queued notice rewritten, or a new one), and so on down
 *        the chain; with nobody left, the history says so for the officer.
 *  3. After the commit: sent → as 2a; retry (pending) → case 1; failed →
 *     as 2c, decided at the cancel.
 *  4. The process died while C's notice was `sending`: the restart puts it
 *     back to pending and the next claim settles it as in case 1 (C may get
 *     the alarm text and the cancelled text: at least once, never never).
 *  5. Another contact's escalation with the provider at the cancel while C's
 *     notice is queued: C's is rewritten (case 1); the escalation's verdict
 *     stands if sent (that contact has heard of it too), is skipped if it is
 *     to be retried, and if it failed nothing changes (C's notice is on its way).
 */
export function planCancelledCritical(all: readonly Notice[], chain: readonly ChainContact[], residentKnown: boolean): SettlePlan {
  // A call that is queued is skipped like any other queued notice; a group post goes whatever the case does.
  const calls = all.filter((n) => n.purpose === 'call' && n.status === 'pending').map((n) => n.id);
  const notices = all.filter((n) => (n.purpose ?? 'chain') === 'chain');
  const queued = notices.filter((n) => n.status === 'pending' && n.template !== 'cancelled');
  const skipAllBut = (keep?: string): string[] => [...queued.filter((n) => n.id !== keep).map((n) => n.id), ...calls];
  const onItsWay = notices.some((n) => n.template === 'cancelled' && (n.status === 'pending' || n.status === 'sending'));
  if (onItsWay || notices.some((n) => n.status === 'sent') || !residentKnown) return { skip: skipAllBut() };
  const failed = notices.filter((n) => n.status === 'failed');
  const to = (contact: ChainContact) => (n: Notice) => n.contactId === contact.id || n.phone === contact.phone;
  const chainIndex = chain.findIndex((c) => !failed.some(to(c)));
  const target = chain[chainIndex];
  if (target === undefined) return { skip: skipAllBut(), nobodyLeft: true };
  // With the provider right now: its verdict comes back here (case 2).
  if (notices.some((n) => n.status === 'sending' && to(target)(n))) return { skip: skipAllBut() };
  const carrier = queued.find(to(target));
  return { skip: skipAllBut(carrier?.id), cancelledNotice: { contact: target, chainIndex, carrierId: carrier?.id, redirected: failed.length > 0 } };
}
