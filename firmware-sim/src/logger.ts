/**
 * Where a simulated device says what it does. `info` carries what a person
 * near the device would notice (beeps, presses, connection lost); `warn` what
 * an operator must look at; `debug` the chatter (every resend).
 */
export interface SimLogger {
  info(line: string): void;
  warn(line: string): void;
  debug?(line: string): void;
}

/** Writes every line to stderr, so that stdout stays free for machine-readable output. */
export const stderrLogger: SimLogger = {
  info: (line) => process.stderr.write(`${line}\n`),
  warn: (line) => process.stderr.write(`${line}\n`),
};

/** Drops everything; for load runs and tests that do not look at the lines. */
export const silentLogger: SimLogger = {
  info: () => undefined,
  warn: () => undefined,
};

/** Logs lines through one function; e.g. `lineLogger((l) => lines.push(l))` in a test. */
export function lineLogger(write: (line: string) => void, options: { debug?: boolean } = {}): SimLogger {
  return options.debug === true ? { info: write, warn: write, debug: write } : { info: write, warn: write };
}

/** `mqtt://user:pw@host:1883` → `mqtt://host:1883`: never print a credential. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
