/**
 * The alarm case's rules, as pure functions (alerts/src/case): the state
 * machine, repeats, the policy of one occurrence, and which queued SMS of a
 * case may still go. The SQLite store's tests (server/test/alarm-store.test.ts,
 * closed-case-notices.test.ts) show the same rules carried out on disk.
 */
import { describe, expect, it } from 'vitest';
import type { AlarmStatus } from '@kanjia/protocol';
import {
  HISTORY_CAP,
  REPEAT_NOTE_AFTER_MS,
  TRANSITIONS,
  cancelledNoticeSms,
  caseNoticeSms,
  decideTransition,
  firstEscalationAt,
  foldRepeat,
  isDroppableHistory,
  maySend,
  needsSettling,
  parseCaseDetails,
  planSettlement,
  policyForOccurrence,
  takeTimeoutOf,
  type Notice,
} from '../src/case/index.js';
import { defaultPolicies } from '../src/policy.js';

const MIN = 60_000;

describe('the case state machine', () => {
  const open = { id: 'alm-1', status: 'open' as AlarmStatus, takenBy: null };

  it('takes an open case: the taker is recorded, the device hears "taken"', () => {
    expect(decideTransition(open, 'take', '王医生')).toEqual({ kind: 'move', to: 'taken', history: 'taken', command: 'taken', takes: true, closes: false });
  });

  it('treats the same person taking twice as nothing to do, and another person as already taken', () => {
    const taken = { id: 'alm-1', status: 'taken' as AlarmStatus, takenBy: '王医生' };
    expect(decideTransition(taken, 'take', '王医生')).toEqual({ kind: 'unchanged' });
    const other = decideTransition(taken, 'take', '李主任');
    expect(other).toMatchObject({ kind: 'refused', code: 'ALARM_ALREADY_TAKEN' });
    expect(other.kind === 'refused' && other.message).toContain('王医生');
  });

  it('lets a helper go straight to "on my way" or "on site": they take the case by doing so', () => {
    expect(decideTransition(open, 'onTheWay', '张三')).toMatchObject({ kind: 'move', to: 'onTheWay', takes: true });
    expect(decideTransition(open, 'onSite', '张三')).toMatchObject({ kind: 'move', to: 'onSite', takes: true, command: null });
  });

  it('refuses any move of a closed case with ALARM_CLOSED, and a step back with ALARM_WRONG_STATE', () => {
    for (const status of ['resolved', 'cancelled'] as const) {
      for (const action of Object.keys(TRANSITIONS) as Array<keyof typeof TRANSITIONS>) {
        expect(decideTransition({ id: 'a', status, takenBy: 'x' }, action, 'y')).toMatchObject({ kind: 'refused', code: 'ALARM_CLOSED' });
      }
    }
    expect(decideTransition({ id: 'a', status: 'onSite', takenBy: 'x' }, 'onTheWay', 'x')).toMatchObject({ kind: 'refused', code: 'ALARM_WRONG_STATE' });
  });

  it('closes on resolve and cancel; a cancel of an untaken case names no taker', () => {
    expect(decideTransition(open, 'resolve', '王')).toMatchObject({ to: 'resolved', closes: true, takes: true });
    expect(decideTransition(open, 'cancel', '王')).toMatchObject({ to: 'cancelled', closes: true, takes: false });
  });
});

describe('repeated triggers', () => {
  it('notes the first repeat and one after a pause, and only counts presses close together', () => {
    const t0 = 1_000_000;
    let state = { openedAt: t0, repeatCount: 1, repeatLastAt: null as number | null };
    const notes: boolean[] = [];
    for (const at of [t0 + 1000, t0 + 2000, t0 + 3000, t0 + 3000 + REPEAT_NOTE_AFTER_MS]) {
      const f = foldRepeat(state, at);
      notes.push(f.noteInHistory);
      state = { openedAt: t0, repeatCount: f.repeatCount, repeatLastAt: f.repeatLastAt };
    }
    expect(notes).toEqual([true, false, false, true]);
    expect(state).toEqual({ openedAt: t0, repeatCount: 5, repeatLastAt: t0 + 3000 + REPEAT_NOTE_AFTER_MS });
  });

  it('never moves the last press back in time when a late copy arrives', () => {
    expect(foldRepeat({ openedAt: 100, repeatCount: 3, repeatLastAt: 500 }, 400).repeatLastAt).toBe(500);
  });

  it('drops only unsigned system history past the cap, never the opening', () => {
    expect(HISTORY_CAP).toBeGreaterThan(0);
    expect(isDroppableHistory({ action: 'note', by: null })).toBe(true);
    expect(isDroppableHistory({ action: 'escalated', by: null })).toBe(true);
    expect(isDroppableHistory({ action: 'opened', by: null })).toBe(false);
    expect(isDroppableHistory({ action: 'note', by: '老人' })).toBe(false);
    expect(isDroppableHistory({ action: 'taken', by: '王医生' })).toBe(false);
  });
});

describe('the policy of one occurrence', () => {
  const policies = defaultPolicies(5 * MIN);

  it("keeps the kind's policy unless the detector says another severity", () => {
    expect(policyForOccurrence(policies, 'sos', undefined)).toBe(policies.sos);
    expect(policyForOccurrence(policies, 'deviceOffline', 'nonsense')).toBe(policies.deviceOffline);
    // The only SOS button offline: urgent, with the urgent take timeout.
    const urgent = policyForOccurrence(policies, 'deviceOffline', 'urgent');
    expect(urgent).toMatchObject({ severity: 'urgent', takeTimeoutMs: policies.inactivity.takeTimeoutMs, chainRounds: policies.deviceOffline.chainRounds });
    expect(takeTimeoutOf(policies, 'deviceOffline', 'urgent')).toBe(policies.inactivity.takeTimeoutMs);
    expect(takeTimeoutOf(policies, 'deviceOffline', 'maintenance')).toBe(policies.deviceOffline.takeTimeoutMs);
  });

  it('sets no escalation timer when nobody comes after the first notice', () => {
    expect(firstEscalationAt(policies.sos, 3, 1000)).toBe(1000 + 5 * MIN);
    expect(firstEscalationAt(policies.sos, 1, 1000)).toBe(1000 + 5 * MIN); // two rounds: the same helper again
    expect(firstEscalationAt(policies.lowBattery, 1, 1000)).toBeNull();
    expect(firstEscalationAt(policies.notBack, 3, 1000)).toBeNull();
    expect(firstEscalationAt(policies.sos, 0, 1000)).toBeNull();
  });
});

describe('queued notices of a case', () => {
  const notice = (id: string, over: Partial<Notice> = {}): Notice => ({
    id,
    contactId: `c-${id}`,
    contactName: id,
    phone: `1380000000${id.length}`,
    escalationLevel: 0,
    template: 'alarm',
    status: 'pending',
    ...over,
  });

  it('sends anything of an open case, the first notice of a taken one, and the cancelled notice', () => {
    expect(maySend({ template: 'escalation', escalationLevel: 2 }, 'open')).toBe(true);
    expect(maySend({ template: 'alarm', escalationLevel: 0 }, 'taken')).toBe(true);
    expect(maySend({ template: 'escalation', escalationLevel: 1 }, 'onTheWay')).toBe(false);
    expect(maySend({ template: 'alarm', escalationLevel: 0 }, 'resolved')).toBe(false);
    expect(maySend({ template: 'cancelled', escalationLevel: 0 }, 'cancelled')).toBe(true);
    expect(needsSettling({ template: 'cancelled', escalationLevel: 0 }, 'cancelled')).toBe(false);
    expect(needsSettling({ template: 'escalation', escalationLevel: 1 }, 'taken')).toBe(true);
  });

  it('skips the queued escalations of a taken case and keeps its first notice', () => {
    const plan = planSettlement({ status: 'taken', severity: 'critical' }, [notice('a'), notice('b', { escalationLevel: 1, template: 'escalation' }), notice('c', { escalationLevel: 2, status: 'sending' })], [], true);
    expect(plan).toEqual({ skip: ['b'] });
  });

  it('plans nothing for an open case', () => {
    expect(planSettlement({ status: 'open', severity: 'critical' }, [notice('a')], [], true)).toEqual({ skip: [] });
  });

  it('skips everything queued of a resolved case', () => {
    expect(planSettlement({ status: 'resolved', severity: 'urgent' }, [notice('a'), notice('b', { escalationLevel: 1 })], [], true).skip).toEqual(['a', 'b']);
  });

  describe('a cancelled critical case', () => {
    const chain = [
      { id: 'c-a', phone: '13800000001' },
      { id: 'c-b', phone: '13800000002' },
    ];
    const cancelled = { status: 'cancelled' as AlarmStatus, severity: 'critical' as const };

    it("rewrites the first contact's queued notice into the cancelled notice, and skips the rest", () => {
      const plan = planSettlement(cancelled, [notice('a', { contactId: 'c-a' }), notice('b', { contactId: 'c-b', escalationLevel: 1 })], chain, true);
      expect(plan).toEqual({ skip: ['b'], cancelledNotice: { contact: chain[0], chainIndex: 0, carrierId: 'a', redirected: false } });
    });

    it('sends nothing more once some SMS of the case has gone', () => {
      const plan = planSettlement(cancelled, [notice('a', { contactId: 'c-a', status: 'sent' }), notice('b', { contactId: 'c-b', escalationLevel: 1 })], chain, true);
      expect(plan).toEqual({ skip: ['b'] });
    });

    it('redirects to the next contact when the first one failed, as a new notice', () => {
      const plan = planSettlement(cancelled, [notice('a', { contactId: 'c-a', status: 'failed' })], chain, true);
      expect(plan).toEqual({ skip: [], cancelledNotice: { contact: chain[1], chainIndex: 1, carrierId: undefined, redirected: true } });
    });

    it('says nobody is left when every contact failed', () => {
      const plan = planSettlement(cancelled, [notice('a', { contactId: 'c-a', status: 'failed' }), notice('b', { contactId: 'c-b', status: 'failed' })], chain, true);
      expect(plan).toEqual({ skip: [], nobodyLeft: true });
    });

    it("waits for the provider's verdict while the target's notice is with it", () => {
      const plan = planSettlement(cancelled, [notice('a', { contactId: 'c-a', status: 'sending' }), notice('b', { contactId: 'c-b', escalationLevel: 1 })], chain, true);
      expect(plan).toEqual({ skip: ['b'] });
    });

    it('is idempotent: a cancelled notice on its way stops settling', () => {
      const plan = planSettlement(cancelled, [notice('a', { contactId: 'c-a', template: 'cancelled' }), notice('b', { contactId: 'c-b', escalationLevel: 1 })], chain, true);
      expect(plan).toEqual({ skip: ['b'] });
    });

    it('skips like any closed case when the resident is gone from the registry', () => {
      expect(planSettlement(cancelled, [notice('a', { contactId: 'c-a' })], chain, false)).toEqual({ skip: ['a'] });
    });
  });
});

describe('the SMS of a case', () => {
  const subject = { kind: 'co' as const, details: { ppm: 180 }, openedAt: Date.UTC(2026, 11, 2, 12, 5), residentName: '王秀英', address: '东头3号', villageName: '柳树屯', timeZone: 'Asia/Shanghai' };

  it('says how long an escalated case has waited, in the village time zone, with the answer link', () => {
    const sms = caseNoticeSms('escalation', subject, { answerCode: 'ABCDEFGHJKMN', publicUrl: 'https://kanjia.example.cn' }, subject.openedAt + 10 * MIN, { locale: 'zh-CN' });
    expect(sms.text).toContain('王秀英');
    expect(sms.text).toContain('20:05');
    expect(sms.params.minutes).toBe('10');
    expect(sms.text).toContain('ABCDEFGHJKMN');
  });

  it('names who cancelled and why, or "-" when the history has no cancel', () => {
    expect(cancelledNoticeSms(subject, { by: '值班员 李明', note: '误报' }, { locale: 'zh-CN' }).text).toContain('误报');
    expect(cancelledNoticeSms(subject, undefined, { locale: 'en' }).params.reason).toBe('-');
  });

  it('reads stored details leniently', () => {
    expect(parseCaseDetails('{"ppm":180}')).toEqual({ ppm: 180 });
    expect(parseCaseDetails('[1]')).toBeUndefined();
    expect(parseCaseDetails('{oops')).toBeUndefined();
    expect(parseCaseDetails(null)).toBeUndefined();
  });
});
