/**
 * The system's own problems (not a resident's): the SMS provider refusing or
 * unreachable, the database unable to write. Each part of the server raises a
 * problem under a stable code when it starts and clears it when it ends; the
 * list is what /api/health reports and what the duty room sees as a red
 * banner (the live feed's `system:health`). Raising is idempotent: the same
 * code raised again keeps its first `since` and updates its message.
 */
import type { Clock, SystemProblem } from '@kanjia/protocol';
import type { Logger } from './logger.js';

export type ProblemInput = Omit<SystemProblem, 'since'>;

export type HealthListener = (problems: SystemProblem[]) => void;

export class SystemHealth {
  private readonly current = new Map<string, SystemProblem>();
  private readonly listeners = new Set<HealthListener>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Pick<Logger, 'error' | 'warn' | 'info'>,
  ) {}

  /** Raises (or updates) a problem; logs it when it is new. */
  raise(problem: ProblemInput): void {
    const before = this.current.get(problem.code);
    const next: SystemProblem = { ...problem, since: before?.since ?? this.clock.nowMs() };
    if (before !== undefined && sameProblem(before, next)) return;
    this.current.set(problem.code, next);
    if (before === undefined) {
      const log = { problem: problem.code, severity: problem.severity, unhealthy: problem.unhealthy, ...(problem.details ? { details: problem.details } : {}) };
      if (problem.severity === 'critical') this.logger.error(log, `system problem: ${problem.message}`);
      else this.logger.warn(log, `system problem: ${problem.message}`);
    }
    this.changed();
  }

  /** Clears a problem (nothing when it is not raised); logs how long it lasted. */
  clear(code: string): void {
    const before = this.current.get(code);
    if (before === undefined) return;
    this.current.delete(code);
    this.logger.info({ problem: code, lastedMs: this.clock.nowMs() - before.since }, 'system problem over');
    this.changed();
  }

  has(code: string): boolean {
    return this.current.has(code);
  }

  /** Every problem now, the critical first, then the oldest. */
  problems(): SystemProblem[] {
    return [...this.current.values()].sort((a, b) => (a.severity === b.severity ? a.since - b.since : a.severity === 'critical' ? -1 : 1));
  }

  /** Whether any problem stops this node doing its job. */
  unhealthy(): boolean {
    for (const p of this.current.values()) if (p.unhealthy) return true;
    return false;
  }

  /** Calls `listener` on every change with the whole list; returns the unsubscribe function. */
  onChange(listener: HealthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    const list = this.problems();
    for (const l of this.listeners) {
      try {
        l(list);
      } catch (err) {
        this.logger.error({ err }, 'system health: a listener failed');
      }
    }
  }
}

function sameProblem(a: SystemProblem, b: SystemProblem): boolean {
  return a.severity === b.severity && a.unhealthy === b.unhealthy && a.message === b.message && JSON.stringify(a.details ?? {}) === JSON.stringify(b.details ?? {});
}
