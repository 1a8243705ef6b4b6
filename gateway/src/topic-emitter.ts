/**
 * aedes' message emitter (its `mq` option) with exact topics kept apart.
 *
 * Every device subscribes to exactly one topic without wildcards, its
 * commands topic. In mqemitter's Qlobber trie that is two Maps per device
 * (the `{deviceId}` level and the `commands` level under it), about 700 bytes
 * of an idle connection's ~10 KB (issue 10, connection-memory.ts), and every
 * publish walks the trie. Here a subscription without `+`/`#` is one entry in a
 * Map from topic to listeners; filters with wildcards (aedes' own `$SYS/+/…`,
 * a service account's `kanjia/v1/devices/+/events`) stay in an mqemitter.
 *
 * A message with no listener completes synchronously, as in mqemitter; there
 * is no queue and no concurrency cap, so nothing runs a backlog on one stack
 * (the stack overflow of issue 10, see gateway.ts).
 */
import mqemitter from 'mqemitter';

type MQEmitter = mqemitter.MQEmitter;
type Message = mqemitter.Message;

type Listener = (message: Message, done: () => void) => void;

function hasWildcard(topic: string): boolean {
  return topic.includes('+') || topic.includes('#');
}

/** The emitter aedes is given as `mq`: the subset of mqemitter's interface that aedes calls. */
export class TopicEmitter {
  private readonly exact = new Map<string, Listener[]>();
  private readonly patterns: MQEmitter = mqemitter({ concurrency: 0, matchEmptyLevels: true });
  private closed = false;

  /** Adds a listener for `topic` (a filter); `done` once it is in place. */
  on(topic: string, listener: Listener, done?: () => void): this {
    if (hasWildcard(topic)) {
      this.patterns.on(topic, listener, done);
      return this;
    }
    const listeners = this.exact.get(topic);
    if (listeners === undefined) this.exact.set(topic, [listener]);
    else listeners.push(listener);
    if (done !== undefined) setImmediate(done);
    return this;
  }

  /** Removes a listener, on the next turn of the event loop as mqemitter does; then `done`. */
  removeListener(topic: string, listener: Listener, done?: () => void): this {
    if (hasWildcard(topic)) {
      this.patterns.removeListener(topic, listener, done);
      return this;
    }
    setImmediate(() => {
      const listeners = this.exact.get(topic);
      if (listeners !== undefined) {
        const at = listeners.indexOf(listener);
        if (at >= 0) listeners.splice(at, 1);
        if (listeners.length === 0) this.exact.delete(topic);
      }
      done?.();
    });
    return this;
  }

  /** Calls every listener whose filter matches the message's topic; `callback` once all are done. */
  emit(message: Message, callback?: (error?: Error) => void): this {
    const cb = callback ?? (() => {});
    if (this.closed) {
      cb(new Error('mqemitter is closed'));
      return this;
    }
    const listeners = this.exact.get(message.topic);
    if (listeners === undefined) {
      this.patterns.emit(message, () => cb());
      return this;
    }
    // The exact listeners (a copy: one may unsubscribe meanwhile) and the patterns' emit, then cb once.
    let pending = listeners.length + 1;
    const doneOne = (): void => {
      pending -= 1;
      if (pending === 0) cb();
    };
    for (const listener of [...listeners]) listener(message, doneOne);
    this.patterns.emit(message, doneOne);
    return this;
  }

  close(callback: () => void): this {
    this.closed = true;
    this.patterns.close(callback);
    return this;
  }
}
