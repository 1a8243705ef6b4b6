import { describe, expect, it } from 'vitest';
import { defaultPolicies, nextEscalationStep } from '../src/policy.js';

describe('escalation policy', () => {
  const policies = defaultPolicies();

  it('texts a not-back-home notice to the first helper only: no escalation along the chain', () => {
    expect(policies.notBack.firstContactOnly).toBe(true);
    expect(nextEscalationStep(0, 3, policies.notBack)).toBeNull();
  });

  it('still climbs the chain for an inactivity alarm (a silent house stays urgent)', () => {
    expect(policies.inactivity.severity).toBe('urgent');
    expect(nextEscalationStep(0, 3, policies.inactivity)).toEqual({ contactIndex: 1, level: 1 });
  });
});
