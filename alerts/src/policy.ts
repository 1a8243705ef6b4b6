/**
 * What each kind of alarm is worth and how fast it climbs the contact chain.
 *
 * Severity follows the duty room's triage: critical = a life may be at stake
 * right now (an SOS press, a fall, a toxic or burning house); urgent = someone
 * should look within the hour; maintenance = within the working day.
 */
import type { AlarmKind, Severity } from '@kanjia/protocol';

export interface AlarmPolicy {
  severity: Severity;
  /** How long the case may stay untaken before the next contact in the chain is texted. */
  takeTimeoutMs: number;
  /**
   * How many times the whole chain is gone through before escalation stops
   * (the case stays open and red on the dashboard). 2 = everybody is texted
   * twice, one after the other.
   */
  chainRounds: number;
  /**
   * Only the first contact is ever texted, and nothing escalates: a notice
   * (not back home) asks one helper to call, it is not an emergency.
   */
  firstContactOnly?: boolean;
}

const MINUTE_MS = 60_000;

/** Default policies; `takeTimeoutMs` of critical kinds is the configurable escalation timeout (default 5 minutes). */
export function defaultPolicies(criticalTakeTimeoutMs = 5 * MINUTE_MS): Record<AlarmKind, AlarmPolicy> {
  const critical: AlarmPolicy = { severity: 'critical', takeTimeoutMs: criticalTakeTimeoutMs, chainRounds: 2 };
  const urgent: AlarmPolicy = { severity: 'urgent', takeTimeoutMs: Math.max(criticalTakeTimeoutMs, 15 * MINUTE_MS), chainRounds: 1 };
  const maintenance: AlarmPolicy = { severity: 'maintenance', takeTimeoutMs: Math.max(criticalTakeTimeoutMs, 4 * 60 * MINUTE_MS), chainRounds: 1 };
  return {
    sos: critical,
    fall: critical,
    co: critical,
    smoke: critical,
    gas: critical,
    inactivity: urgent,
    missedCheckIn: urgent,
    cold: urgent,
    heat: urgent,
    waterLeak: maintenance,
    deviceOffline: maintenance,
    lowBattery: maintenance,
    // Out longer than ever before: one SMS to the first helper asking to call (held until a decent hour by the detector).
    notBack: { severity: 'urgent', takeTimeoutMs: urgent.takeTimeoutMs, chainRounds: 1, firstContactOnly: true },
  };
}

export interface EscalationStep {
  /** Index into the resident's ordered contact chain of the person to text now. */
  contactIndex: number;
  /** The case's escalation level after this step (0 = the first notice). */
  level: number;
}

/**
 * The step after `currentLevel` for a chain of `chainLength` contacts, or null
 * when the policy's rounds are used up. Level n texts contact n mod length, so
 * a chain of 3 with 2 rounds texts 0,1,2,0,1,2.
 */
export function nextEscalationStep(currentLevel: number, chainLength: number, policy: AlarmPolicy): EscalationStep | null {
  if (chainLength <= 0 || policy.firstContactOnly === true) return null;
  const level = currentLevel + 1;
  if (level >= chainLength * policy.chainRounds) return null;
  return { contactIndex: level % chainLength, level };
}
