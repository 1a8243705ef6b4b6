/**
 * The policy of one case: its kind's (policy.ts), unless the detector judged
 * this occurrence more (or less) severe, and the escalation times that follow.
 */
import { Severity, type AlarmKind } from '@kanjia/protocol';
import { nextEscalationStep, type AlarmPolicy } from '../policy.js';

/** The kind whose take timeout a case of each severity borrows when its detector changed the severity. */
const SEVERITY_MODEL: Readonly<Record<Severity, AlarmKind>> = { critical: 'sos', urgent: 'inactivity', maintenance: 'lowBattery' };

/**
 * The policy of an occurrence of `kind`: the kind's, unless the finding's
 * details carry another `severity` (e.g. the only SOS button offline is
 * urgent, not maintenance); then that severity's take timeout.
 */
export function policyForOccurrence(policies: Readonly<Record<AlarmKind, AlarmPolicy>>, kind: AlarmKind, detailsSeverity: unknown): AlarmPolicy {
  const policy = policies[kind];
  const override = Severity.safeParse(detailsSeverity);
  if (!override.success || override.data === policy.severity) return policy;
  return { ...policy, severity: override.data, takeTimeoutMs: policies[SEVERITY_MODEL[override.data]].takeTimeoutMs };
}

/** The take timeout of a stored case: its kind's, or its severity's when that differs from the kind's (as policyForOccurrence). */
export function takeTimeoutOf(policies: Readonly<Record<AlarmKind, AlarmPolicy>>, kind: AlarmKind, severity: Severity): number {
  const policy = policies[kind];
  return severity === policy.severity ? policy.takeTimeoutMs : policies[SEVERITY_MODEL[severity]].takeTimeoutMs;
}

/**
 * When a case opened at `openedAt` first escalates; null when nobody comes
 * after the first notice (a chain of one with one round, a first-contact-only
 * notice, no contact at all): there is then no escalation timer.
 */
export function firstEscalationAt(policy: AlarmPolicy, chainLength: number, openedAt: number): number | null {
  return nextEscalationStep(0, chainLength, policy) === null ? null : openedAt + policy.takeTimeoutMs;
}
