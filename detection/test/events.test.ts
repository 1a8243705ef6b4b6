import { describe, expect, it } from 'vitest';
import { findingsFromEvent } from '@kanjia/detection';

describe('findingsFromEvent', () => {
  it('turns an SOS press into one sos finding carrying the device event id', () => {
    const findings = findingsFromEvent('btn-001', { id: 'e1', ts: 1_700_000_000_000, type: 'sos' });
    expect(findings).toEqual([{ kind: 'sos', deviceId: 'btn-001', eventId: 'e1', eventTs: 1_700_000_000_000, reason: 'sos button pressed' }]);
  });

  it('turns an on-device fall into a fall finding', () => {
    const [finding] = findingsFromEvent('pend-1', { id: 'f1', ts: 5, type: 'fall', confidence: 0.9 });
    expect(finding?.kind).toBe('fall');
  });

  it('finds nothing in a check-in press or a door event', () => {
    expect(findingsFromEvent('btn-001', { id: 'c1', ts: 5, type: 'checkIn' })).toEqual([]);
    expect(findingsFromEvent('door-1', { id: 'd1', ts: 5, type: 'door', open: true })).toEqual([]);
  });
});
