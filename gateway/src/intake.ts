/**
 * Backpressure on uplinks: a bounded window of messages handed to the
 * application and not yet done with, in all and per connection.
 *
 * The gateway asks for a slot before it lets aedes go on with a PUBLISH
 * (authorizePublish), and gives it back when every onUplink handler has
 * settled (for the alarm path: the event is committed and `received` is
 * published). Over either bound the request waits: its PUBACK is delayed, and
 * aedes reads no further from that connection until its waiting PUBLISHes have
 * gone through, so the socket stops being read (TCP then slows the device)
 * instead of the gateway queueing without bound or dropping anyone.
 *
 * Waiting requests keep their order within a connection; connections take
 * turns for the free slots (round robin), so one device replaying its buffer
 * cannot starve another's SOS. Pure bookkeeping: no timers, no I/O.
 */

/** How many uplinks may be in the application at once. */
export interface IntakeBounds {
  /** In all connections together. */
  total: number;
  /** From one connection. */
  perConnection: number;
}

/** One admitted uplink's place in the window; give it back with release(). */
export interface IntakeSlot {
  /** True once given back (release() or the connection's drop()). */
  released: boolean;
  /** True once the message reached the application: drop() then leaves it to the handler's end. */
  handedOn: boolean;
}

interface Waiter {
  grant: (slot: IntakeSlot) => void;
}

interface ConnectionWindow {
  readonly key: unknown;
  inFlight: number;
  /** Slots granted and not yet released. */
  readonly slots: Set<Slot>;
  readonly waiting: Waiter[];
}

interface Slot extends IntakeSlot {
  readonly owner: ConnectionWindow;
}

/** Counters of the window; `inFlight` and `waiting` are now, `delayed` since start. */
export interface IntakeCounts {
  /** Uplinks handed to the application (or about to be) and not yet done with. */
  inFlight: number;
  /** PUBLISHes waiting for a slot (their PUBACK delayed). */
  waiting: number;
  /** PUBLISHes that had to wait for a slot, since start. */
  delayed: number;
}

/** The bounded window; `K` is whatever identifies a connection (the aedes Client). */
export class IntakeWindow<K> {
  private readonly connections = new Map<K, ConnectionWindow>();
  /** Connections with a waiting request and room in their own bound, in turn order (a Set keeps insertion order). */
  private readonly ready = new Set<ConnectionWindow>();
  private inFlight = 0;
  private waitingCount = 0;
  private delayedCount = 0;

  constructor(private readonly bounds: IntakeBounds) {
    if (!(Number.isInteger(bounds.total) && Number.isInteger(bounds.perConnection) && bounds.perConnection >= 1 && bounds.perConnection <= bounds.total)) {
      throw new RangeError(`intake bounds need integers 1 <= perConnection <= total, got ${bounds.perConnection} and ${bounds.total}`);
    }
  }

  /** Asks for a slot for `key`'s next uplink; `grant` runs at once when there is room, else when it is this request's turn. */
  acquire(key: K, grant: (slot: IntakeSlot) => void): void {
    let conn = this.connections.get(key);
    if (conn === undefined) {
      conn = { key, inFlight: 0, slots: new Set(), waiting: [] };
      this.connections.set(key, conn);
    }
    if (conn.waiting.length === 0 && conn.inFlight < this.bounds.perConnection && this.inFlight < this.bounds.total) {
      grant(this.take(conn));
      return;
    }
    conn.waiting.push({ grant });
    this.waitingCount += 1;
    this.delayedCount += 1;
    if (conn.inFlight < this.bounds.perConnection) this.ready.add(conn);
  }

  /** Gives a slot back (idempotent) and grants the freed room to the next waiting request. */
  release(slot: IntakeSlot): void {
    const s = slot as Slot;
    if (s.released) return;
    s.released = true;
    const conn = s.owner;
    conn.slots.delete(s);
    conn.inFlight -= 1;
    this.inFlight -= 1;
    if (conn.waiting.length > 0) this.ready.add(conn);
    else if (conn.inFlight === 0) this.forgetIfIdle(conn);
    this.pump();
  }

  /**
   * The connection is gone: its waiting requests are forgotten (never granted:
   * aedes has closed that client) and its slots not yet handed on are given back.
   */
  drop(key: K): void {
    const conn = this.connections.get(key);
    if (conn === undefined) return;
    this.waitingCount -= conn.waiting.length;
    conn.waiting.length = 0;
    this.ready.delete(conn);
    for (const slot of [...conn.slots]) if (!slot.handedOn) this.release(slot);
    this.forgetIfIdle(conn);
  }

  counts(): IntakeCounts {
    return { inFlight: this.inFlight, waiting: this.waitingCount, delayed: this.delayedCount };
  }

  /** Forgets every connection (on gateway stop). */
  clear(): void {
    this.connections.clear();
    this.ready.clear();
    this.inFlight = 0;
    this.waitingCount = 0;
  }

  private take(conn: ConnectionWindow): Slot {
    conn.inFlight += 1;
    this.inFlight += 1;
    const slot: Slot = { owner: conn, released: false, handedOn: false };
    conn.slots.add(slot);
    return slot;
  }

  /** Grants free room to waiting requests, one per connection in turn. */
  private pump(): void {
    while (this.inFlight < this.bounds.total && this.ready.size > 0) {
      const conn = this.ready.values().next().value as ConnectionWindow;
      this.ready.delete(conn);
      const waiter = conn.waiting.shift() as Waiter;
      this.waitingCount -= 1;
      // Back to the end of the turn order while it still waits and has room.
      if (conn.waiting.length > 0 && conn.inFlight + 1 < this.bounds.perConnection) this.ready.add(conn);
      waiter.grant(this.take(conn));
    }
  }

  /** A connection with nothing in flight and nothing waiting holds no entry (an idle device costs nothing here). */
  private forgetIfIdle(conn: ConnectionWindow): void {
    if (conn.inFlight > 0 || conn.waiting.length > 0) return;
    this.connections.delete(conn.key as K);
  }
}
