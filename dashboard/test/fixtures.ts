import type { AlarmView } from '@kanjia/protocol';

/** 2026-01-15 10:00:00 in Beijing. */
export const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);
export const MIN = 60_000;

/** A valid case; override what the test is about. */
export function alarm(overrides: Partial<AlarmView> & { id: string }): AlarmView {
  return {
    kind: 'sos',
    severity: 'critical',
    status: 'open',
    openedAt: T0,
    eventTs: T0,
    updatedAt: T0,
    deviceId: 'dev-1',
    eventId: 'evt-1',
    resident: { id: 'p1', name: '王秀英', sex: 'F', age: 82 },
    household: { id: 'h1', address: '三组 12 号', lat: 30.1, lng: 110.2, keyHolderNote: '钥匙在隔壁李家' },
    village: { id: 'v1', name: '石桥村', timezone: 'Asia/Shanghai' },
    takenBy: null,
    takenAt: null,
    resolvedAt: null,
    resolutionNote: null,
    outcome: null,
    escalationLevel: 0,
    nextEscalationAt: null,
    notifications: [],
    history: [],
    ...overrides,
  };
}
