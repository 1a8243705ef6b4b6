/**
 * The socket.io live feed (same origin, default path /socket.io; the browser
 * sends the session cookie with the handshake). One-way: the
 * server pushes whole cases (and the count alone of a case triggered again)
 * and device presence; actions go through REST.
 */
import { io, type Socket } from 'socket.io-client';
import {
  AlarmRepeatsEvent,
  AlarmUpdateEvent,
  DevicePresenceEvent,
  HouseholdStateEvent,
  SOCKET_EVENTS,
  SystemHealthEvent,
  type SystemProblem,
  type AlarmView,
  type ClientToServerEvents,
  type ServerToClientEvents,
} from '@kanjia/protocol';

/** connecting: never connected yet; disconnected: was or could not connect, retrying. */
export type ConnectionState = 'connecting' | 'connected' | 'disconnected';

export interface LiveHandlers {
  onAlarm(alarm: AlarmView): void;
  /** Only the repeat count of an open case changed (a stuck button). */
  onRepeats?(event: AlarmRepeatsEvent): void;
  onPresence(event: DevicePresenceEvent): void;
  /** After every (re)connection: updates may have been missed, refetch. */
  onConnect(): void;
  /** A payload failed validation: something changed that we could not read, refetch. */
  onInvalid(): void;
  onState(state: ConnectionState): void;
  /** A household's map state changed; `receivedAt` is performance.now() when the socket delivered it (for the latency marks). */
  onHousehold?(event: HouseholdStateEvent, receivedAt: number): void;
  /** The server refused the handshake for want of a valid session. */
  onUnauthenticated?(): void;
  /** The system's own problems (the SMS provider, storage), on connecting and on every change; empty: all well. */
  onSystemHealth?(problems: SystemProblem[]): void;
}

export interface LiveFeed {
  stop(): void;
}

/** Keep retries frequent: an officer must not wait long for a restarted server. */
const RECONNECT_DELAY_MAX_MS = 5_000;

export function connectLive(handlers: LiveHandlers): LiveFeed {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io({
    path: '/socket.io',
    reconnectionDelay: 1_000,
    reconnectionDelayMax: RECONNECT_DELAY_MAX_MS,
  });
  let stopped = false;

  socket.on('connect', () => {
    handlers.onState('connected');
    handlers.onConnect();
  });
  socket.on('disconnect', (reason) => {
    handlers.onState('disconnected');
    // After a server-side disconnect socket.io does not retry by itself.
    if (reason === 'io server disconnect' && !stopped) socket.connect();
  });
  socket.on('connect_error', (err) => {
    console.warn('[kanjia] live feed: cannot connect', err.message);
    handlers.onState('disconnected');
    // The session ended: retrying would only be refused again.
    if (err.message === 'UNAUTHENTICATED') {
      socket.disconnect();
      handlers.onUnauthenticated?.();
    }
  });

  socket.on(SOCKET_EVENTS.alarmUpdate, (payload: unknown) => {
    const parsed = AlarmUpdateEvent.safeParse(payload);
    if (parsed.success) handlers.onAlarm(parsed.data);
    else {
      console.error('[kanjia] alarm:update failed validation', parsed.error.issues);
      handlers.onInvalid();
    }
  });
  socket.on(SOCKET_EVENTS.alarmRepeats, (payload: unknown) => {
    const parsed = AlarmRepeatsEvent.safeParse(payload);
    if (parsed.success) handlers.onRepeats?.(parsed.data);
    else {
      console.error('[kanjia] alarm:repeats failed validation', parsed.error.issues);
      handlers.onInvalid();
    }
  });
  socket.on(SOCKET_EVENTS.devicePresence, (payload: unknown) => {
    const parsed = DevicePresenceEvent.safeParse(payload);
    if (parsed.success) handlers.onPresence(parsed.data);
    else console.error('[kanjia] device:presence failed validation', parsed.error.issues);
  });

  socket.on(SOCKET_EVENTS.householdState, (payload: unknown) => {
    const receivedAt = performance.now();
    const parsed = HouseholdStateEvent.safeParse(payload);
    if (parsed.success) handlers.onHousehold?.(parsed.data, receivedAt);
    else console.error('[kanjia] household:state failed validation', parsed.error.issues);
  });

  socket.on(SOCKET_EVENTS.systemHealth, (payload: unknown) => {
    const parsed = SystemHealthEvent.safeParse(payload);
    if (parsed.success) handlers.onSystemHealth?.(parsed.data.problems);
    else console.error('[kanjia] system:health failed validation', parsed.error.issues);
  });

  return {
    stop() {
      stopped = true;
      socket.removeAllListeners();
      socket.disconnect();
    },
  };
}
