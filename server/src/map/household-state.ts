/**
 * One state per watched household, from what the server knows: active cases,
 * the detectors' reminders and learning, device health and away mode. Pure:
 * the tracker (household-map.ts) gathers the inputs.
 */
import type { AlarmKind, HouseholdState, HouseholdStateDetail } from '@kanjia/protocol';
import type { ResidentWatch } from '../pipeline/detection-pipeline.js';

export type DeviceProblem = 'offline' | 'lowBattery' | 'neverSeen' | 'unstable';

/** Cases about a device, not a person in danger: on the map they are a device problem, not an alarm. */
export const DEVICE_CASE_KINDS: ReadonlySet<AlarmKind> = new Set<AlarmKind>(['deviceOffline', 'lowBattery']);

export interface HouseholdStateInput {
  /** Kinds of the household's active cases (one entry per case). */
  activeAlarmKinds: readonly AlarmKind[];
  residents: ReadonlyArray<{ away: boolean; watch: ResidentWatch | undefined }>;
  /** One entry per device of the household: its problem, or null. */
  deviceProblems: ReadonlyArray<DeviceProblem | null>;
}

/** The household's state by precedence (alarm, reminder, device, away, learning, fine) and what the list says about it. */
export function householdState(input: HouseholdStateInput): { state: HouseholdState; detail: HouseholdStateDetail | null } {
  if (input.activeAlarmKinds.some((k) => !DEVICE_CASE_KINDS.has(k))) return { state: 'alarm', detail: null };
  const reminder = input.residents.find((r) => r.watch?.reminder)?.watch?.reminder;
  if (reminder) return { state: 'reminder', detail: reminder };
  const device = deviceDetail(input);
  if (device) return { state: 'device', detail: device };
  // One resident at home is still watched: the household is away only when all are.
  if (input.residents.length > 0 && input.residents.every((r) => r.away)) return { state: 'away', detail: null };
  if (input.residents.some((r) => !r.away && r.watch?.learning === true)) return { state: 'learning', detail: null };
  return { state: 'fine', detail: null };
}

function deviceDetail(input: HouseholdStateInput): HouseholdStateDetail | null {
  if (input.deviceProblems.length === 0) return 'noDevice';
  // The worst first: an offline device watches nothing; one never seen may still be on its way.
  if (input.deviceProblems.includes('offline') || input.activeAlarmKinds.includes('deviceOffline')) return 'offline';
  if (input.deviceProblems.includes('unstable')) return 'unstable';
  if (input.deviceProblems.includes('neverSeen')) return 'neverSeen';
  if (input.deviceProblems.includes('lowBattery') || input.activeAlarmKinds.includes('lowBattery')) return 'lowBattery';
  return null;
}
