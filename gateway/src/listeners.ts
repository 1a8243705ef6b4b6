/**
 * A typed listener list in the style of zigbee2mqtt's eventBus: every listener
 * runs inside try/catch (and its promise, if it returns one, gets a rejection
 * handler), so one faulty handler can neither silence the others nor crash the
 * broker.
 */
import type { Logger } from './logger.js';

export class ListenerSet<T> {
  private readonly listeners: Array<(value: T) => void | Promise<void>> = [];

  /**
   * @param name  what the listeners are for, for the log line (`uplink`, `presence`)
   * @param onError  called once per failing listener, after it has been logged
   */
  constructor(
    private readonly name: string,
    private readonly logger: Logger,
    private readonly onError: () => void = () => {},
  ) {}

  /** Adds a listener; listeners run in the order they were added. */
  add(listener: (value: T) => void | Promise<void>): void {
    this.listeners.push(listener);
  }

  /** Removes every listener. */
  clear(): void {
    this.listeners.length = 0;
  }

  /**
   * Calls every listener with `value`; never throws. `context` is merged into
   * error logs. Returns undefined when every listener returned synchronously,
   * else a promise that settles (never rejects) once every returned promise has.
   */
  emit(value: T, context: object = {}): Promise<void> | undefined {
    let pending: Array<Promise<void>> | undefined;
    for (const listener of this.listeners) {
      try {
        const result = listener(value);
        if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
          (pending ??= []).push((result as Promise<void>).then(undefined, (err: unknown) => this.fail(err, context)));
        }
      } catch (err) {
        this.fail(err, context);
      }
    }
    if (pending === undefined) return undefined;
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(() => {});
  }

  private fail(err: unknown, context: object): void {
    this.onError();
    this.logger.error({ ...context, listener: this.name, err: describeError(err) }, `${this.name} handler failed`);
  }
}

function describeError(err: unknown): { name: string; message: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { name: 'NonError', message: String(err) };
}
