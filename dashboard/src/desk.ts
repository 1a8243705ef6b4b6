/**
 * The state of the duty desk and everything that changes it: the REST snapshot,
 * the live feed, the officer's actions, the clock, the alarm sound. The Vue
 * components only read this and call its methods.
 */
import { computed, ref, shallowRef, type ComputedRef, type Ref } from 'vue';
import type { AlarmOutcome, AlarmView, DevicePresenceEvent, HouseholdStateEvent, Severity, SystemProblem } from '@kanjia/protocol';
import { ApiRequestError, type Api } from './api';
import { connectLive, type ConnectionState, type LiveFeed } from './live';
import {
  applyRepeats,
  buildQueue,
  highestSeverity,
  isActive,
  mergeSnapshot,
  newlyOpened,
  upsert,
  villagesOf,
  withoutClosed,
  type AlarmMap,
  type ListScope,
  type QueueView,
} from './queue';
import type { AlarmSound } from './sound';
import { DEFAULT_TIMEZONE, safeTimeZone } from './time';

export type ActionKind = 'take' | 'onTheWay' | 'onSite' | 'resolve' | 'cancel';

export interface ActionError {
  action: ActionKind;
  code: string;
  message: string;
}

export type Village = AlarmView['village'];

export interface LoadError {
  code: string;
  message: string;
}

/** The clock on screen and every "x分钟前" move on this tick. */
const TICK_MS = 1_000;
/** Safety net under the live feed: refetch even when nothing arrived. */
const POLL_MS = 60_000;
/** While the list cannot be loaded, try again this often. */
const RETRY_MS = 5_000;
/** Untaken critical/urgent cases ring again this often, so nobody can miss them. */
const REMINDER_MS = 30_000;
const VILLAGES_STORAGE_KEY = 'kanjia.villages';
const REPEAT_SOUND_STORAGE_KEY = 'kanjia.repeatSound';

export type HouseholdListener = (event: HouseholdStateEvent, receivedAt: number) => void;

export interface Desk {
  /** Server-corrected now, ticking every second. */
  nowMs: Ref<number>;
  connection: Ref<ConnectionState>;
  /** The first active list has arrived. */
  loaded: Ref<boolean>;
  /** Why the last list request failed; null when it worked. */
  loadError: Ref<LoadError | null>;
  /** Cases in the last list answer that failed validation. */
  invalidCount: Ref<number>;
  showClosed: Ref<boolean>;
  closedLoaded: Ref<boolean>;
  queue: ComputedRef<QueueView>;
  openCount: ComputedRef<number>;
  villages: ComputedRef<Village[]>;
  /** The zone of the header clock: the villages' zone if they share one. */
  timezone: ComputedRef<string>;
  /** deviceId → online, from presence events since the page loaded. */
  presence: Ref<ReadonlyMap<string, boolean>>;
  /** Devices whose connection keeps dropping (presence `unstable`): the card says so instead of offline. */
  unstableDevices: Ref<ReadonlySet<string>>;
  /** The system's own problems (the SMS provider down, the disk full): the red banner; empty when all is well. */
  systemProblems: Ref<readonly SystemProblem[]>;
  /** alarmId → the action whose request is running. */
  pending: Ref<Readonly<Record<string, ActionKind>>>;
  /** alarmId → the last failed action on it. */
  errors: Ref<Readonly<Record<string, ActionError>>>;
  /** Untaken critical/urgent cases ring again every 30 s (on by default; remembered per PC). */
  repeatSound: Ref<boolean>;
  setRepeatSound(on: boolean): void;
  start(): void;
  stop(): void;
  refresh(): Promise<void>;
  /** Listens to the live `household:state` events (the map view); returns the unsubscribe. */
  onHousehold(listener: HouseholdListener): () => void;
  setShowClosed(show: boolean): void;
  /** Runs an action; resolves true when the server accepted it. */
  /** `outcome`: how a resolved case ended (resolve only). */
  act(alarmId: string, action: ActionKind, note?: string, outcome?: AlarmOutcome): Promise<boolean>;
  dismissError(alarmId: string): void;
}

export interface DeskDeps {
  api: Api;
  sound: AlarmSound;
  /** Replaceable for tests; the real feed by default. */
  connect?: typeof connectLive;
  /** The live feed refused the session (ended or logged out elsewhere): back to the login. */
  onUnauthenticated?: () => void;
  /** Learns the server clock offset from the API; wire `api`'s onServerOffset here. */
  serverOffsetMs?: Ref<number>;
}

function loadVillages(): Village[] {
  try {
    const raw: unknown = JSON.parse(globalThis.localStorage?.getItem(VILLAGES_STORAGE_KEY) ?? '[]');
    if (!Array.isArray(raw)) return [];
    return raw.filter(
      (v): v is Village =>
        typeof v === 'object' && v !== null && typeof v.id === 'string' && typeof v.name === 'string' && typeof v.timezone === 'string',
    );
  } catch {
    return [];
  }
}

function loadRepeatSound(): boolean {
  try {
    return globalThis.localStorage?.getItem(REPEAT_SOUND_STORAGE_KEY) !== '0';
  } catch {
    return true;
  }
}

function saveVillages(villages: readonly Village[]): void {
  try {
    globalThis.localStorage?.setItem(VILLAGES_STORAGE_KEY, JSON.stringify(villages));
  } catch {
    // Only a cache for the header.
  }
}

export function createDesk(deps: DeskDeps): Desk {
  const { api, sound } = deps;
  const connect = deps.connect ?? connectLive;
  const serverOffsetMs = deps.serverOffsetMs ?? ref(0);

  const nowMs = ref(Date.now() + serverOffsetMs.value);
  const connection = ref<ConnectionState>('connecting');
  const loaded = ref(false);
  const loadError = ref<LoadError | null>(null);
  const invalidCount = ref(0);
  const showClosed = ref(false);
  const closedLoaded = ref(false);
  const alarms = shallowRef<AlarmMap>(new Map());
  const presence = shallowRef<ReadonlyMap<string, boolean>>(new Map());
  const unstableDevices = shallowRef<ReadonlySet<string>>(new Set());
  const systemProblems = shallowRef<readonly SystemProblem[]>([]);
  const pending = ref<Readonly<Record<string, ActionKind>>>({});
  const errors = ref<Readonly<Record<string, ActionError>>>({});
  const knownVillages = shallowRef<Village[]>(loadVillages());
  const repeatSound = ref(loadRepeatSound());

  /** Ids that reached us outside a list answer while that request was out (see mergeSnapshot). */
  const inflight = new Set<Set<string>>();
  const listSeq: Record<ListScope, number> = { active: 0, closed: 0, all: 0 };
  const appliedSeq: Record<ListScope, number> = { active: 0, closed: 0, all: 0 };
  let live: LiveFeed | null = null;
  let tickTimer: ReturnType<typeof setInterval> | undefined;
  let reminderTimer: ReturnType<typeof setInterval> | undefined;
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  let lastRingMs = 0;
  let running = false;

  function ring(severity: Severity | null): void {
    if (severity === null) return;
    lastRingMs = Date.now();
    sound.play(severity);
  }

  function setAlarms(next: AlarmMap): void {
    const prev = alarms.value;
    if (next === prev) return;
    alarms.value = next;
    ring(highestSeverity(newlyOpened(prev, next)));
    rememberVillages(next);
  }

  function rememberVillages(map: AlarmMap): void {
    const merged = villagesOf([...map.values()]);
    const byId = new Map(knownVillages.value.map((v) => [v.id, v] as const));
    let changed = false;
    for (const v of merged) {
      const old = byId.get(v.id);
      if (!old || old.name !== v.name || old.timezone !== v.timezone) {
        byId.set(v.id, v);
        changed = true;
      }
    }
    if (changed) {
      knownVillages.value = [...byId.values()];
      saveVillages(knownVillages.value);
    }
  }

  /** One case from the feed or from an action's answer. */
  function applyAlarm(alarm: AlarmView): void {
    for (const ids of inflight) ids.add(alarm.id);
    let next = upsert(alarms.value, alarm);
    // A case closed while closed cases are hidden leaves the map, so that
    // showing them later does not surface a stale subset.
    if (!showClosed.value && !isActive(alarm.status)) next = withoutClosed(next);
    setAlarms(next);
  }

  async function fetchScope(scope: ListScope): Promise<void> {
    const seq = ++listSeq[scope];
    const keep = new Set<string>();
    inflight.add(keep);
    try {
      const list = await api.listAlarms(scope);
      // An older answer arriving after a newer one would undo it.
      if (seq < appliedSeq[scope]) return;
      appliedSeq[scope] = seq;
      setAlarms(mergeSnapshot(alarms.value, list.alarms, scope, keep));
      if (scope === 'active') invalidCount.value = list.invalid;
    } finally {
      inflight.delete(keep);
    }
  }

  function scheduleRefresh(delayMs: number): void {
    clearTimeout(refreshTimer);
    if (!running) return;
    refreshTimer = setTimeout(() => void refresh(), delayMs);
  }

  async function refresh(): Promise<void> {
    try {
      const closed = showClosed.value;
      await Promise.all([fetchScope('active'), closed ? fetchScope('closed') : Promise.resolve()]);
      loaded.value = true;
      if (closed) closedLoaded.value = true;
      loadError.value = null;
      scheduleRefresh(POLL_MS);
    } catch (err) {
      loadError.value = describeError(err);
      console.error('[kanjia] alarm list failed', err);
      scheduleRefresh(RETRY_MS);
    }
  }

  function setShowClosed(show: boolean): void {
    showClosed.value = show;
    if (show) {
      closedLoaded.value = false;
      void refresh();
    } else {
      alarms.value = withoutClosed(alarms.value);
    }
  }

  function setPending(alarmId: string, action: ActionKind | null): void {
    const next = { ...pending.value };
    if (action === null) delete next[alarmId];
    else next[alarmId] = action;
    pending.value = next;
  }

  function setError(alarmId: string, error: ActionError | null): void {
    const next = { ...errors.value };
    if (error === null) delete next[alarmId];
    else next[alarmId] = error;
    errors.value = next;
  }

  async function act(alarmId: string, action: ActionKind, note?: string, outcome?: AlarmOutcome): Promise<boolean> {
    if (pending.value[alarmId]) return false;
    setPending(alarmId, action);
    setError(alarmId, null);
    try {
      const trimmed = note?.trim();
      // Who acts is the session's user: the server records it, the body carries only the note.
      const step = trimmed ? { note: trimmed } : {};
      let updated: AlarmView;
      switch (action) {
        case 'take':
          updated = await api.take(alarmId, step);
          break;
        case 'onTheWay':
          updated = await api.onTheWay(alarmId, step);
          break;
        case 'onSite':
          updated = await api.onSite(alarmId, step);
          break;
        case 'resolve':
          updated = await api.resolve(alarmId, { note: trimmed ?? '', ...(outcome ? { outcome } : {}) });
          break;
        case 'cancel':
          updated = await api.cancel(alarmId, { reason: trimmed ?? '' });
          break;
      }
      applyAlarm(updated);
      return true;
    } catch (err) {
      const code = err instanceof ApiRequestError ? err.code : 'UNKNOWN';
      setError(alarmId, { action, code, message: err instanceof Error ? err.message : String(err) });
      // The screen was behind the server (someone else took or closed it): catch up.
      if (err instanceof ApiRequestError && (err.status === 409 || err.status === 404)) void reloadOne(alarmId, err.status);
      return false;
    } finally {
      setPending(alarmId, null);
    }
  }

  async function reloadOne(alarmId: string, status: number): Promise<void> {
    try {
      applyAlarm(await api.getAlarm(alarmId));
    } catch (err) {
      if (status === 404 && err instanceof ApiRequestError && err.status === 404) {
        const next = new Map(alarms.value);
        next.delete(alarmId);
        alarms.value = next;
      }
    }
  }

  function applyPresence(event: DevicePresenceEvent): void {
    const next = new Map(presence.value);
    next.set(event.deviceId, event.online);
    presence.value = next;
    if ((event.unstable === true) !== unstableDevices.value.has(event.deviceId)) {
      const unstable = new Set(unstableDevices.value);
      if (event.unstable === true) unstable.add(event.deviceId);
      else unstable.delete(event.deviceId);
      unstableDevices.value = unstable;
    }
  }

  const queue = computed(() => buildQueue(alarms.value));
  const openCount = computed(() => queue.value.open.length);
  const villages = computed(() => knownVillages.value);
  const timezone = computed(() => {
    const zones = new Set(villages.value.map((v) => safeTimeZone(v.timezone)));
    const [only] = zones;
    return zones.size === 1 && only !== undefined ? only : DEFAULT_TIMEZONE;
  });

  const householdListeners = new Set<HouseholdListener>();

  function start(): void {
    if (running) return;
    running = true;
    tickTimer = setInterval(() => {
      nowMs.value = Date.now() + serverOffsetMs.value;
    }, TICK_MS);
    reminderTimer = setInterval(() => {
      if (!repeatSound.value || Date.now() - lastRingMs < REMINDER_MS - TICK_MS) return;
      // Maintenance cases (a low battery) ring once only: a desk that beeps all
      // day for a battery gets its speakers switched off.
      const severity = highestSeverity(queue.value.open.filter((a) => a.severity !== 'maintenance'));
      ring(severity);
    }, REMINDER_MS);
    void refresh();
    live = connect({
      onAlarm: applyAlarm,
      onRepeats: (event) => setAlarms(applyRepeats(alarms.value, event)),
      onPresence: applyPresence,
      onConnect: () => void refresh(),
      onInvalid: () => void refresh(),
      onUnauthenticated: () => deps.onUnauthenticated?.(),
      onState: (state) => {
        connection.value = state;
      },
      onHousehold: (event, receivedAt) => {
        for (const listener of householdListeners) listener(event, receivedAt);
      },
      onSystemHealth: (problems) => {
        systemProblems.value = problems;
      },
    });
  }

  function stop(): void {
    running = false;
    clearInterval(tickTimer);
    clearInterval(reminderTimer);
    clearTimeout(refreshTimer);
    live?.stop();
    live = null;
  }

  return {
    nowMs,
    connection,
    loaded,
    loadError,
    invalidCount,
    showClosed,
    closedLoaded,
    queue,
    openCount,
    villages,
    timezone,
    presence,
    unstableDevices,
    systemProblems,
    pending,
    errors,
    start,
    stop,
    refresh,
    setShowClosed,
    act,
    dismissError: (alarmId) => setError(alarmId, null),
    repeatSound,
    setRepeatSound: (on) => {
      repeatSound.value = on;
      try {
        globalThis.localStorage?.setItem(REPEAT_SOUND_STORAGE_KEY, on ? '1' : '0');
      } catch {
        // Not remembered: the default (on) comes back after a reload, the safe side.
      }
    },
    onHousehold(listener) {
      householdListeners.add(listener);
      return () => householdListeners.delete(listener);
    },
  };
}

function describeError(err: unknown): LoadError {
  if (err instanceof ApiRequestError) return { code: err.code, message: err.message };
  return { code: 'UNKNOWN', message: err instanceof Error ? err.message : String(err) };
}
