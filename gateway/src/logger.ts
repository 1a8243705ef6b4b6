/**
 * The logging port. Structural and pino-compatible (`logger.info({ deviceId }, 'msg')`),
 * so the composition root can pass a pino instance and tests pass nothing.
 *
 * House rule: log device ids, codes, sizes and counts; never secrets, phone
 * numbers or payload contents.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** A logger that drops everything; the default when none is injected. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };
