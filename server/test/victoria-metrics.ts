/**
 * A real VictoriaMetrics (Debian's `victoria-metrics`) for the tests of the
 * time-series writer: its own loopback port and temporary storage, stopped
 * and started again on the same port and data to play a server restart.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { z } from 'zod';
import type { Logger } from '../src/logger.js';
import { freePort, haveBinary } from '../../tests/src/harness.js';

/** True when victoria-metrics is installed. Missing in CI: throws (the suite must fail); elsewhere a loud message and the suite skips. */
export function haveVictoriaMetrics(): boolean {
  return haveBinary('victoria-metrics', 'apt-get install victoria-metrics');
}

export { freePort };

const ExportLine = z.object({ metric: z.record(z.string(), z.string()), values: z.array(z.number()), timestamps: z.array(z.number()) });
export type ExportedSeries = z.infer<typeof ExportLine>;

export class VictoriaMetrics {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(
    readonly port: number,
    readonly storageDir: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.child) return;
    this.output = '';
    const child = spawn('victoria-metrics', [`-httpListenAddr=127.0.0.1:${this.port}`, `-storageDataPath=${this.storageDir}`, '-loggerLevel=ERROR', '-retentionPeriod=1y'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child = child;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`victoria-metrics exited at start (${child.exitCode}): ${this.output.slice(-2000)}`);
      try {
        const res = await fetch(`${this.url}/health`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`victoria-metrics did not answer /health within 15 s: ${this.output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM and wait for the exit (it writes what it holds in memory first); SIGKILL after 15 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    if (child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }

  /** Every raw sample of the series matching `match` (a series selector), what was just written included. */
  async export(match: string): Promise<ExportedSeries[]> {
    await fetch(`${this.url}/internal/force_flush`);
    const res = await fetch(`${this.url}/api/v1/export`, { method: 'POST', body: new URLSearchParams({ 'match[]': match }) });
    if (!res.ok) throw new Error(`export answered ${res.status}: ${await res.text()}`);
    const text = await res.text();
    return text
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => ExportLine.parse(JSON.parse(l)));
  }

  /** Count of samples over every series matching `match`. */
  async sampleCount(match: string): Promise<number> {
    return (await this.export(match)).reduce((n, s) => n + s.values.length, 0);
  }
}

/** A logger that keeps every line (level, fields, message). */
export function recordingLogger(): Logger & { lines: Array<{ level: string; obj: object; msg: string | undefined }> } {
  const lines: Array<{ level: string; obj: object; msg: string | undefined }> = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  const logger = { lines, trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal'), child: () => logger };
  return logger;
}
