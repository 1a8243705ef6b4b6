/**
 * Open-loop SOS load: presses at a fixed rate whatever the system answers
 * (a village does not wait for the server), then a bounded drain, and the
 * search for the highest rate the system sustains.
 */
import { sleep } from '../harness.js';
import { latency, percentile, type Latency } from './stats.js';

/** What a step drives: one press, when its answer arrived, the CPU the system under test used so far. */
export interface LoadTarget {
  /** Presses once; returns an id, or undefined when the target cannot press now (no fresh device). */
  press(): string | undefined;
  /** performance.now() of the arrival the step measures (the SMS request), if it arrived. */
  arrivedAt(id: string): number | undefined;
  /** CPU ms of the processes under test so far. */
  cpuMs(): number;
}

export interface StepResult {
  offeredPerS: number;
  seconds: number;
  presses: number;
  lost: number;
  latency: Latency;
  /** The last quarter of the presses was served about as fast as the first (no growing backlog). */
  steady: boolean;
  cpuMsPerSos: number | null;
  /** 0 lost, p99 < p99LimitMs, steady. */
  sustained: boolean;
}

export interface StepOptions {
  /** How long to wait after the last press for the answers still missing. */
  drainMs: number;
  /** Default 1000 ms. */
  p99LimitMs?: number;
}

/** Presses `rate` a second for `seconds` (10 ms ticks), then waits up to drainMs for every answer. */
export async function openLoopStep(target: LoadTarget, rate: number, seconds: number, options: StepOptions): Promise<StepResult> {
  const total = Math.round(rate * seconds);
  const pressed: Array<{ id: string; at: number }> = [];
  const cpu0 = target.cpuMs();
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
      while (pressed.length < due) {
        const id = target.press();
        if (id === undefined) break;
        pressed.push({ id, at: performance.now() });
      }
      if (pressed.length >= total || performance.now() - start > seconds * 1000 + 5000) {
        clearInterval(tick);
        resolve();
      }
    }, 10);
  });
  const drainUntil = performance.now() + options.drainMs;
  while (performance.now() < drainUntil && pressed.some((p) => target.arrivedAt(p.id) === undefined)) await sleep(100);
  const cpuMs = target.cpuMs() - cpu0;
  const ms: number[] = [];
  let lost = 0;
  for (const p of pressed) {
    const t = target.arrivedAt(p.id);
    if (t === undefined) lost++;
    else ms.push(t - p.at);
  }
  const l = latency(ms);
  const quarter = Math.max(1, Math.floor(pressed.length / 4));
  const part = (list: typeof pressed) => list.map((p) => (target.arrivedAt(p.id) ?? Number.POSITIVE_INFINITY) - p.at).sort((a, b) => a - b);
  const firstP50 = percentile(part(pressed.slice(0, quarter)), 50);
  const lastP50 = percentile(part(pressed.slice(-quarter)), 50);
  // A backlog that grows through the step shows in seconds; 100 ms of slack keeps a loaded machine's noise from deciding.
  const steady = pressed.length > 0 && lastP50 <= 2 * firstP50 + 100;
  const limit = options.p99LimitMs ?? 1000;
  return {
    offeredPerS: rate,
    seconds,
    presses: pressed.length,
    lost: lost + (total - pressed.length),
    latency: l,
    steady,
    cpuMsPerSos: pressed.length > 0 ? Math.round((cpuMs / pressed.length) * 100) / 100 : null,
    sustained: lost === 0 && pressed.length === total && l.p99 !== null && l.p99 < limit && steady,
  };
}

export interface SearchResult {
  steps: StepResult[];
  /** The highest rate sustained (0 lost, p99 < 1 s, steady); 0 when none was. */
  maxSustainablePerS: number;
  /** CPU per SOS at that rate, ms. */
  cpuMsPerSos: number | null;
}

/**
 * Steps through `rates` (ascending), `prepare` before each; after the first
 * rate not sustained, tries once the rate halfway to the last one sustained
 * (when it is at least 10 % from both), then stops.
 */
export async function searchMaxRate(
  target: LoadTarget,
  rates: readonly number[],
  seconds: number,
  options: StepOptions & { prepare?: (presses: number) => Promise<void>; log: (line: string) => void },
): Promise<SearchResult> {
  const steps: StepResult[] = [];
  let best: StepResult | undefined;
  const run = async (rate: number): Promise<StepResult> => {
    await options.prepare?.(Math.round(rate * seconds));
    const step = await openLoopStep(target, rate, seconds, options);
    steps.push(step);
    options.log(
      `  ${String(rate).padStart(5)}/s × ${seconds} s: ${step.presses} presses, lost ${step.lost}, p50 ${step.latency.p50 ?? 'n/a'} ms, p99 ${step.latency.p99 ?? 'n/a'} ms, ${step.steady ? 'steady' : 'NOT steady'}, CPU ${step.cpuMsPerSos ?? 'n/a'} ms/SOS → ${step.sustained ? 'sustained' : 'NOT sustained'}`,
    );
    return step;
  };
  for (const rate of rates) {
    const step = await run(rate);
    if (step.sustained) {
      best = step;
      continue;
    }
    const low = best?.offeredPerS ?? 0;
    const mid = Math.round((low + rate) / 2);
    if (mid - low >= 0.1 * rate && rate - mid >= 0.1 * rate) {
      const between = await run(mid);
      if (between.sustained) best = between;
    }
    break;
  }
  return { steps, maxSustainablePerS: best?.offeredPerS ?? 0, cpuMsPerSos: best?.cpuMsPerSos ?? null };
}
