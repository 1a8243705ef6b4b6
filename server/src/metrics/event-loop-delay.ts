/**
 * The event-loop delay as a Prometheus histogram, from Node's
 * monitorEventLoopDelay: prom-client's default metrics give its percentiles
 * since the last scrape as gauges (nodejs_eventloop_lag_p99_seconds…), which
 * cannot be summed over time or across instances; a histogram can
 * (`histogram_quantile(0.99, rate(kanjia_eventloop_delay_seconds_bucket[5m]))`).
 *
 * Node records the time between two ticks of a RESOLUTION_MS timer, so a loop
 * that is never late records RESOLUTION_MS: that is taken off, and what is
 * left is how late the loop was. Each scrape folds the samples since the last
 * one into cumulative bucket counts, read off the HDR histogram's percentiles
 * (a lower bound for each bucket, monotonic), then resets it.
 *
 * One monitor per process, like prom-client's own (it measures the process,
 * whatever number of systems runs in it); it is never disabled.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const NAME = 'kanjia_eventloop_delay_seconds';
/** The sampling timer, ms: the finest delay told apart. */
const RESOLUTION_MS = 10;
/** From "a little late" to "a stop the devices notice" (a keep-alive is 10 s at the least). */
const BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface State {
  monitor: IntervalHistogram;
  cumulative: number[];
  count: number;
  sumSeconds: number;
}

let state: State | undefined;

function started(): State {
  if (!state) {
    const monitor = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    monitor.enable();
    state = { monitor, cumulative: BUCKETS_SECONDS.map(() => 0), count: 0, sumSeconds: 0 };
  }
  return state;
}

/** Starts the process's monitor (if not yet), so the first scrape has samples. */
export function watchEventLoopDelay(): void {
  started();
}

/** Folds the samples since the last call into the counts; returns the histogram in the text format. */
export function eventLoopDelayText(): string {
  const s = started();
  const { monitor } = s;
  const n = monitor.count;
  if (n > 0) {
    const resolutionNs = RESOLUTION_MS * 1e6;
    const percentiles = [...monitor.percentiles.entries()];
    BUCKETS_SECONDS.forEach((le, i) => {
      const limitNs = le * 1e9 + resolutionNs;
      let fraction = 0;
      for (const [percentile, valueNs] of percentiles) if (valueNs <= limitNs) fraction = Math.max(fraction, percentile / 100);
      s.cumulative[i]! += Math.round(n * fraction);
    });
    s.count += n;
    s.sumSeconds += Math.max(0, monitor.mean - resolutionNs) * n / 1e9;
    monitor.reset();
  }
  const lines = [
    `# HELP ${NAME} How late the event loop was (monitorEventLoopDelay, ${RESOLUTION_MS} ms sampling; the sampling interval taken off).`,
    `# TYPE ${NAME} histogram`,
    ...BUCKETS_SECONDS.map((le, i) => `${NAME}_bucket{le="${le}"} ${s.cumulative[i]}`),
    `${NAME}_bucket{le="+Inf"} ${s.count}`,
    `${NAME}_sum ${s.sumSeconds}`,
    `${NAME}_count ${s.count}`,
  ];
  return `${lines.join('\n')}\n`;
}
