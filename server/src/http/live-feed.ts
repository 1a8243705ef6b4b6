/**
 * The socket.io live feed of alarm changes and device presence. One-way:
 * actions go through the REST API so every change has one validated path.
 *
 * Only logged-in users connect (the session cookie of the handshake), and each
 * hears only its scope: a socket joins `village:<id>` for each village of its
 * user (`all` for admin), a helper's socket `resident:<id>` for each of their
 * residents; every change is emitted to the rooms of its village and resident.
 * Logout, a password reset and the end of a session disconnect the sockets.
 * The scope is a user's as of now, not as of the connect: the sweep (and
 * rescope(), after a registry change) moves each socket to the rooms of its
 * user's current scope, so a helper taken off a chain stops hearing it.
 */
import { SOCKET_EVENTS, type AlarmView, type ApiErrorCode, type ClientToServerEvents, type Clock, type HouseholdStateEvent, type ServerToClientEvents, type SystemProblem, type TimerHandle } from '@kanjia/protocol';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { AlarmFeed } from '../alarms/alarm-service.js';
import type { SessionInfo } from '../auth/user-store.js';
import type { SessionUser } from './access.js';
import { hostRefusal } from './hosts.js';

/** How often sockets are checked against their sessions and scopes (ended or changed by expiry, or in another process: the CLI). */
export const SESSION_SWEEP_MS = 60_000;

/**
 * At most one `alarm:repeats` per case this often: the first at once, the
 * rest of the window folded into one at its end, so a button pressed 20 times
 * a second costs each dashboard a few hundred bytes a second, not a case per press.
 */
export const REPEATS_EVERY_MS = 1_000;

export interface LiveFeedOptions {
  /** The valid session of a handshake's Cookie header, without renewing it. */
  authenticate: (cookieHeader: string | undefined) => SessionInfo | undefined;
  /** The user of a session with their scope as of now; undefined when it has ended (checked every SESSION_SWEEP_MS and at rescope()). */
  sessionScope: (sessionKey: string) => SessionUser | undefined;
  /** Is the handshake's host one this server answers to (hosts.ts)? Omitted: any. */
  hostAllowed?: (request: IncomingMessage) => boolean;
  /** Set on every answer of the feed's HTTP side (security-headers.ts). */
  responseHeaders?: Readonly<Record<string, string>>;
  /** May a page at this Origin open the feed? The REST rule (origin.ts). */
  originAllowed: (origin: string, request: IncomingMessage) => boolean;
  /** Village and resident of a device, for presence; undefined for an unknown device (then only admins hear it). */
  locateDevice: (deviceId: string) => { villageId: string; residentId: string } | undefined;
  /** The system's problems now, sent to each socket as it connects (then on every change: systemHealth()). */
  systemProblems?: () => SystemProblem[];
  clock: Clock;
}

interface SocketData {
  sessionKey: string;
  userId: string;
}

export const ROOM_ALL = 'all';
const villageRoom = (id: string) => `village:${id}`;
const residentRoom = (id: string) => `resident:${id}`;
const sessionRoom = (key: string) => `session:${key}`;

/** Where a case goes: everyone, its village, its resident (a helper). */
const alarmRooms = (alarm: AlarmView) => [ROOM_ALL, villageRoom(alarm.village.id), residentRoom(alarm.resident.id)];

/** The rooms a user's socket joins: the scope of access.ts, as rooms. */
export function roomsOf(user: SessionUser, sessionKey: string): string[] {
  const rooms = [sessionRoom(sessionKey)];
  if (user.villageIds === 'all') rooms.push(ROOM_ALL);
  else if (user.residentIds !== undefined) rooms.push(...[...user.residentIds].map(residentRoom));
  else rooms.push(...[...user.villageIds].map(villageRoom));
  return rooms;
}

export class SocketIoLiveFeed implements AlarmFeed {
  private io: Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData> | undefined;
  private sweepTimer: TimerHandle | undefined;
  /** Per case with an `alarm:repeats` sent in the current window: the one to send at its end, if any. */
  private readonly repeatWindows = new Map<string, { timer: TimerHandle; pending: AlarmView | undefined }>();

  constructor(private readonly options: LiveFeedOptions) {}

  /** Attaches to the HTTP server that fastify listens on. */
  attach(server: HttpServer): void {
    const hostAllowed = this.options.hostAllowed;
    const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, SocketData>(server, {
      serveClient: false,
      maxHttpBufferSize: 16 * 1024,
      // Before any session exists, polling or WebSocket alike: a rebound name is refused with the reason (403; 400 for an upgrade).
      ...(hostAllowed ? { allowRequest: (req: IncomingMessage, done: (err: string | null | undefined, ok: boolean) => void) => (hostAllowed(req) ? done(null, true) : done(`HOST_NOT_ALLOWED: ${hostRefusal(req.headers.host).message}`, false)) } : {}),
    });
    const extra = this.options.responseHeaders;
    if (extra) io.engine.on('headers', (headers: Record<string, string>) => Object.assign(headers, extra));
    io.use((socket, next) => {
      const headers = socket.request.headers;
      // A page of another site (or another port of this host) must not open the feed with the officer's cookie.
      const origin = headers.origin;
      if (origin !== undefined && !this.options.originAllowed(origin, socket.request)) {
        return next(Object.assign(new Error('CROSS_ORIGIN'), { data: { code: 'CROSS_ORIGIN' satisfies ApiErrorCode } }));
      }
      const info = this.options.authenticate(headers.cookie);
      if (!info) return next(Object.assign(new Error('UNAUTHENTICATED'), { data: { code: 'UNAUTHENTICATED' satisfies ApiErrorCode } }));
      socket.data = { sessionKey: info.sessionKey, userId: info.user.id };
      void socket.join(roomsOf(info.user, info.sessionKey));
      next();
    });
    // Every logged-in user sees the system's own problems: an SMS outage means the duty room must phone people.
    io.on('connection', (socket) => {
      socket.emit(SOCKET_EVENTS.systemHealth, { problems: this.options.systemProblems?.() ?? [] });
    });
    this.io = io;
    this.scheduleSweep();
  }

  alarmChanged(alarm: AlarmView): void {
    // The whole case carries the latest count: a repeat waiting for its window is superseded.
    const window = this.repeatWindows.get(alarm.id);
    if (window) window.pending = undefined;
    this.io?.to(alarmRooms(alarm)).emit(SOCKET_EVENTS.alarmUpdate, alarm);
  }

  /** Only the repeat count of `alarm` changed: a small `alarm:repeats`, at most one per case per REPEATS_EVERY_MS. */
  alarmRepeated(alarm: AlarmView): void {
    if (!this.io) return;
    const window = this.repeatWindows.get(alarm.id);
    if (window) {
      window.pending = alarm;
      return;
    }
    this.emitRepeats(alarm);
  }

  private emitRepeats(alarm: AlarmView): void {
    const timer = this.options.clock.setTimeout(() => {
      const pending = this.repeatWindows.get(alarm.id)?.pending;
      this.repeatWindows.delete(alarm.id);
      if (pending) this.emitRepeats(pending);
    }, REPEATS_EVERY_MS);
    this.repeatWindows.set(alarm.id, { timer, pending: undefined });
    if (!alarm.repeats) return;
    this.io?.to(alarmRooms(alarm)).emit(SOCKET_EVENTS.alarmRepeats, { id: alarm.id, repeats: alarm.repeats, updatedAt: alarm.updatedAt });
  }

  devicePresence(deviceId: string, online: boolean, atMs: number, unstable = false): void {
    const where = this.options.locateDevice(deviceId);
    const rooms = where ? [ROOM_ALL, villageRoom(where.villageId), residentRoom(where.residentId)] : [ROOM_ALL];
    this.io?.to(rooms).emit(SOCKET_EVENTS.devicePresence, { deviceId, online, at: atMs, unstable });
  }

  /** The system's problems changed: to every socket (each one belongs to a logged-in user). */
  systemHealth(problems: SystemProblem[]): void {
    this.io?.emit(SOCKET_EVENTS.systemHealth, { problems });
  }

  /** Disconnects the sockets of one session (logout). */
  endSession(sessionKey: string): void {
    this.io?.in(sessionRoom(sessionKey)).disconnectSockets(true);
  }

  /** Disconnects every socket whose session has ended (expired, revoked); moves the others to the rooms of their user's current scope. */
  sweepSessions(): void {
    const io = this.io;
    if (!io) return;
    const scopes = new Map<string, SessionUser | undefined>();
    for (const socket of io.of('/').sockets.values()) {
      const key = socket.data.sessionKey;
      if (!scopes.has(key)) scopes.set(key, this.options.sessionScope(key));
      const user = scopes.get(key);
      if (!user) {
        socket.disconnect(true);
        continue;
      }
      const wanted = new Set(roomsOf(user, key));
      for (const room of [...socket.rooms]) if (room !== socket.id && !wanted.has(room)) void socket.leave(room);
      const missing = [...wanted].filter((room) => !socket.rooms.has(room));
      if (missing.length > 0) void socket.join(missing);
    }
  }

  /** Scopes may have changed (a contact, resident or user changed): apply them to every socket now. */
  rescope(): void {
    this.sweepSessions();
  }

  private scheduleSweep(): void {
    this.sweepTimer = this.options.clock.setTimeout(() => {
      this.sweepSessions();
      if (this.io) this.scheduleSweep();
    }, SESSION_SWEEP_MS);
  }

  /** A household's map state changed: to its village's room; a helper's resident room gets it with only that resident's name. */
  householdState(event: HouseholdStateEvent): void {
    const io = this.io;
    if (!io) return;
    io.to([ROOM_ALL, villageRoom(event.villageId)]).emit(SOCKET_EVENTS.householdState, event);
    for (const r of event.residents) io.to(residentRoom(r.id)).emit(SOCKET_EVENTS.householdState, { ...event, residents: [r] });
  }

  clientCount(): number {
    return this.io?.engine.clientsCount ?? 0;
  }

  async stop(): Promise<void> {
    this.options.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const w of this.repeatWindows.values()) this.options.clock.clearTimeout(w.timer);
    this.repeatWindows.clear();
    const io = this.io;
    this.io = undefined;
    if (!io) return;
    // io.close() would also close the HTTP server, which fastify owns.
    io.disconnectSockets(true);
    io.engine.close();
  }
}
