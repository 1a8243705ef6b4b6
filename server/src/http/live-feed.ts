/**
 * The socket.io live feed of alarm changes and device presence. One-way:
 * actions go through the REST API so every change has one validated path.
 */
import { SOCKET_EVENTS, type AlarmView, type ClientToServerEvents, type HouseholdStateEvent, type ServerToClientEvents } from '@kanjia/protocol';
import type { Server as HttpServer } from 'node:http';
import { Server } from 'socket.io';
import type { AlarmFeed } from '../alarms/alarm-service.js';

export class SocketIoLiveFeed implements AlarmFeed {
  private io: Server<ClientToServerEvents, ServerToClientEvents> | undefined;

  /** Attaches to the HTTP server that fastify listens on. */
  attach(server: HttpServer): void {
    this.io = new Server<ClientToServerEvents, ServerToClientEvents>(server, { serveClient: false, maxHttpBufferSize: 16 * 1024 });
  }

  alarmChanged(alarm: AlarmView): void {
    this.io?.emit(SOCKET_EVENTS.alarmUpdate, alarm);
  }

  devicePresence(deviceId: string, online: boolean, atMs: number): void {
    this.io?.emit(SOCKET_EVENTS.devicePresence, { deviceId, online, at: atMs });
  }

  /** A household's map state changed. To every client until the session layer adds village rooms (then only `village:<id>`). */
  householdState(event: HouseholdStateEvent): void {
    this.io?.emit(SOCKET_EVENTS.householdState, event);
  }

  clientCount(): number {
    return this.io?.engine.clientsCount ?? 0;
  }

  async stop(): Promise<void> {
    const io = this.io;
    this.io = undefined;
    if (!io) return;
    // io.close() would also close the HTTP server, which fastify owns.
    io.disconnectSockets(true);
    io.engine.close();
  }
}
