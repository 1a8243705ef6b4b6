/**
 * A minimal typed event bus. Every listener runs inside try/catch so that one
 * faulty handler cannot silence the others or crash the device (the pattern of
 * zigbee2mqtt's eventBus).
 */
export type Listener<T> = (payload: T) => void;

export class TypedEvents<M extends { [K in keyof M]: unknown }> {
  private readonly listeners = new Map<keyof M, Set<Listener<never>>>();

  constructor(private readonly onListenerError: (event: keyof M, error: unknown) => void) {}

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof M>(event: K, listener: Listener<M[K]>): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => this.off(event, listener);
  }

  off<K extends keyof M>(event: K, listener: Listener<M[K]>): void {
    this.listeners.get(event)?.delete(listener as Listener<never>);
  }

  emit<K extends keyof M>(event: K, payload: M[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    // Copy: a listener may remove itself (or others) while we iterate.
    for (const listener of [...set]) {
      try {
        (listener as Listener<M[K]>)(payload);
      } catch (error) {
        this.onListenerError(event, error);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
