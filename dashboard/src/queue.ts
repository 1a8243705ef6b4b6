/**
 * The alarm queue as pure functions over immutable maps: what comes first on the
 * screen, and how a REST snapshot and the socket.io feed merge without an older
 * copy of a case overwriting a newer one.
 */
import { ACTIVE_STATUSES, type AlarmRepeatsEvent, type AlarmStatus, type AlarmView, type Severity } from '@kanjia/protocol';

export type AlarmMap = ReadonlyMap<string, AlarmView>;

/** The scope of a list request, as in `GET /api/alarms?status=`. */
export type ListScope = 'active' | 'closed' | 'all';

const SEVERITY_RANK: Readonly<Record<Severity, number>> = { critical: 0, urgent: 1, maintenance: 2 };

export function isActive(status: AlarmStatus): boolean {
  return ACTIVE_STATUSES.includes(status);
}

export function isClosed(status: AlarmStatus): boolean {
  return !isActive(status);
}

function inScope(status: AlarmStatus, scope: ListScope): boolean {
  if (scope === 'all') return true;
  return scope === 'active' ? isActive(status) : isClosed(status);
}

/**
 * Order of the live queue: open (nobody has taken it) before in progress;
 * within each, critical before urgent before maintenance, then oldest first —
 * the longest wait is the most dangerous.
 */
export function compareActive(a: AlarmView, b: AlarmView): number {
  const openA = a.status === 'open' ? 0 : 1;
  const openB = b.status === 'open' ? 0 : 1;
  if (openA !== openB) return openA - openB;
  const sev = SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity];
  if (sev !== 0) return sev;
  if (a.openedAt !== b.openedAt) return a.openedAt - b.openedAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** Closed cases: most recently closed first. */
export function compareClosed(a: AlarmView, b: AlarmView): number {
  const endA = a.resolvedAt ?? a.updatedAt;
  const endB = b.resolvedAt ?? b.updatedAt;
  if (endA !== endB) return endB - endA;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface QueueView {
  /** Nobody has taken these yet. */
  open: AlarmView[];
  /** Taken, on the way, on site. */
  inProgress: AlarmView[];
  /** Resolved or cancelled, most recent first. */
  closed: AlarmView[];
}

/** Splits and orders the cases for display. */
export function buildQueue(alarms: AlarmMap): QueueView {
  const active: AlarmView[] = [];
  const closed: AlarmView[] = [];
  for (const alarm of alarms.values()) (isActive(alarm.status) ? active : closed).push(alarm);
  active.sort(compareActive);
  closed.sort(compareClosed);
  const firstInProgress = active.findIndex((a) => a.status !== 'open');
  const split = firstInProgress === -1 ? active.length : firstInProgress;
  return { open: active.slice(0, split), inProgress: active.slice(split), closed };
}

/** Whether `incoming` should replace `current`: it is not older. */
export function isNewer(incoming: AlarmView, current: AlarmView | undefined): boolean {
  return current === undefined || incoming.updatedAt >= current.updatedAt;
}

/** The map with `alarm` inserted or replaced, unless the map already holds a newer copy. */
export function upsert(alarms: AlarmMap, alarm: AlarmView): AlarmMap {
  if (!isNewer(alarm, alarms.get(alarm.id))) return alarms;
  const next = new Map(alarms);
  next.set(alarm.id, alarm);
  return next;
}

/**
 * The map with a case's new repeat count (`alarm:repeats`). Only the count and
 * updatedAt change: the server sends the whole case whenever anything else
 * did. A case the map does not hold, or holds in a newer copy, is left alone
 * (the list answer or that newer copy has the count).
 */
export function applyRepeats(alarms: AlarmMap, event: AlarmRepeatsEvent): AlarmMap {
  const current = alarms.get(event.id);
  if (current === undefined || event.updatedAt < current.updatedAt) return alarms;
  const next = new Map(alarms);
  next.set(event.id, { ...current, repeats: event.repeats, updatedAt: event.updatedAt });
  return next;
}

/**
 * Merges a list answer for `scope` into the map. A case the map holds in that
 * scope but the snapshot lacks has left the scope while we were not listening
 * (e.g. it was closed during a disconnect), so it is dropped — unless it reached
 * us through the live feed after the request went out (`keepIds`), in which case
 * the snapshot may simply predate it.
 */
export function mergeSnapshot(
  alarms: AlarmMap,
  snapshot: readonly AlarmView[],
  scope: ListScope,
  keepIds: ReadonlySet<string> = new Set(),
): AlarmMap {
  const next = new Map<string, AlarmView>();
  const inSnapshot = new Set(snapshot.map((a) => a.id));
  for (const [id, alarm] of alarms) {
    if (inScope(alarm.status, scope) && !inSnapshot.has(id) && !keepIds.has(id)) continue;
    next.set(id, alarm);
  }
  for (const alarm of snapshot) {
    if (isNewer(alarm, next.get(alarm.id))) next.set(alarm.id, alarm);
  }
  return next;
}

/** Drops closed cases (when the officer hides them again). */
export function withoutClosed(alarms: AlarmMap): AlarmMap {
  const next = new Map<string, AlarmView>();
  for (const [id, alarm] of alarms) if (isActive(alarm.status)) next.set(id, alarm);
  return next;
}

/**
 * Ids of open cases in `after` that were not open in `before`: the ones that
 * should ring. A case that goes back to open (a server may reopen) rings again.
 */
export function newlyOpened(before: AlarmMap, after: AlarmMap): AlarmView[] {
  const fresh: AlarmView[] = [];
  for (const [id, alarm] of after) {
    if (alarm.status === 'open' && before.get(id)?.status !== 'open') fresh.push(alarm);
  }
  return fresh.sort(compareActive);
}

/** The highest severity among `alarms`, or null if there are none. */
export function highestSeverity(alarms: readonly AlarmView[]): Severity | null {
  let best: Severity | null = null;
  for (const a of alarms) if (best === null || SEVERITY_RANK[a.severity] < SEVERITY_RANK[best]) best = a.severity;
  return best;
}

/** Villages seen in the cases, by id, in order of first appearance. */
export function villagesOf(alarms: Iterable<AlarmView>): Array<AlarmView['village']> {
  const seen = new Map<string, AlarmView['village']>();
  for (const a of alarms) if (!seen.has(a.village.id)) seen.set(a.village.id, a.village);
  return [...seen.values()];
}
