/** Latency figures of the benchmarks: percentiles of a sample, one table line, one JSON object. */

/** The p-th percentile (nearest rank) of an ascending sample; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)]!;
}

export interface Latency {
  n: number;
  p50: number | null;
  p99: number | null;
  max: number | null;
}

const round1 = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 10) / 10 : null);

/** n, p50, p99 and max in ms (one decimal; null for an empty sample). */
export function latency(ms: readonly number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  return { n: s.length, p50: round1(percentile(s, 50)), p99: round1(percentile(s, 99)), max: round1(s[s.length - 1] ?? Number.NaN) };
}

/** `name  n=…  p50=… ms  p99=… ms  max=… ms`, aligned for a table. */
export function latencyLine(name: string, ms: readonly number[]): string {
  const l = latency(ms);
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(1)).padStart(8);
  return `${name.padEnd(28)} n=${String(l.n).padStart(6)}  p50=${f(l.p50)} ms  p99=${f(l.p99)} ms  max=${f(l.max)} ms`;
}
