/**
 * Structured logs (pino, as fastify uses). Phone numbers, ID numbers and
 * secrets are redacted by key wherever they appear; code that logs personal
 * data masks it first (house rule 7).
 */
import { pino } from 'pino';

export interface Logger {
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  fatal(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export const REDACTED_KEYS = ['phone', 'phoneNumbers', 'PhoneNumbers', 'idNumber', 'secret', 'password', 'accessKeySecret', 'medicalNotes', 'answerCode', 'token'];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const paths = REDACTED_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);
  const options = { level, redact: { paths, censor: '[masked]' }, base: { service: 'kanjia' } };
  return (destination ? pino(options, destination) : pino(options)) as unknown as Logger;
}
