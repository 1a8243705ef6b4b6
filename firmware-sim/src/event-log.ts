/**
 * Reader (and writer) of home sensor event logs in the format of
 * `shared/datasets/EVENTS-FORMAT.md`: gzip-compressed JSON Lines, a header line
 * describing the home and its sensors, then one event per line. Streaming (a
 * year of a busy home never sits in memory unless asked), zod-validated at the
 * boundary, with the file name and line number in every error.
 *
 * Accepts any file of the format: any number of days and sensors, any zone,
 * overlapping events, sensors "on" for hours, extra fields (ignored), sensor
 * kinds it does not know (their events are skipped and counted), plain
 * (uncompressed) JSON Lines, and timestamps without an offset (read as local
 * time of the home's zone).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import { formatZodError, KanjiaError, type ErrorCode } from '@kanjia/protocol';
import { z } from 'zod';
import { SENSOR_KINDS, type SensorEvent, type SensorKind } from './routine/generate-routine.js';
import { fromLocalMs, isValidTimeZone, zoneOffsetMs } from '@kanjia/protocol';

export const EVENT_LOG_ERROR_CODES = [
  /** The file cannot be opened or decompressed. */
  'EVENT_LOG_UNREADABLE',
  /** No header line. */
  'EVENT_LOG_EMPTY',
  /** The first line is not a valid header. */
  'EVENT_LOG_BAD_HEADER',
  /** An event line is not valid JSON or not a valid event. */
  'EVENT_LOG_BAD_EVENT',
  /** An event names a sensor the header does not list. */
  'EVENT_LOG_UNKNOWN_SENSOR',
] as const satisfies readonly ErrorCode[];
export type EventLogErrorCode = (typeof EVENT_LOG_ERROR_CODES)[number];

export class EventLogError extends KanjiaError<EventLogErrorCode> {
  override readonly name = 'EventLogError';
  constructor(
    code: EventLogErrorCode,
    message: string,
    /** 1-based line number of the bad line. */
    readonly line?: number,
  ) {
    super(code, message);
  }
}

export const EventLogSensor = z.looseObject({
  id: z.union([z.string().min(1), z.number()]).transform(String),
  /** A kind of EVENTS-FORMAT.md; other kinds are accepted and their events skipped. */
  kind: z.string().min(1),
  room: z.string().optional(),
  name: z.string().optional(),
  exit: z.boolean().optional(),
});
export type EventLogSensor = z.infer<typeof EventLogSensor>;

export const EventLogHeader = z
  .looseObject({
    home: z.string().min(1),
    timezone: z.string().refine(isValidTimeZone, { message: 'not an IANA time zone this runtime knows' }),
    sensors: z.array(EventLogSensor),
  })
  .superRefine((h, ctx) => {
    const seen = new Set<string>();
    h.sensors.forEach((s, i) => {
      if (seen.has(s.id)) ctx.addIssue({ code: 'custom', path: ['sensors', i, 'id'], message: `duplicate sensor id "${s.id}"` });
      seen.add(s.id);
    });
  });
export type EventLogHeader = z.infer<typeof EventLogHeader>;

const TS_PATTERN = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

export const EventLogLine = z.looseObject({
  ts: z.string().regex(TS_PATTERN, 'ts: ISO 8601 date-time, e.g. 2008-02-25T09:33:41+01:00'),
  sensor: z.union([z.string().min(1), z.number()]).transform(String),
  value: z.union([z.literal(0), z.literal(1), z.boolean().transform((b) => (b ? 1 : 0) as 0 | 1)]),
});

/** Counts kept while reading (final when the events are exhausted). */
export interface EventLogStats {
  /** Event lines read (blank lines not counted). */
  lines: number;
  /** Events returned. */
  events: number;
  /** Events of sensors whose kind is not one of EVENTS-FORMAT.md (skipped). */
  skippedUnknownKind: number;
  /** Events earlier than the event before them (the file should be ordered; they are still returned). */
  outOfOrder: number;
  firstMs: number | null;
  lastMs: number | null;
}

export interface EventLog {
  header: EventLogHeader;
  /** The events in file order; can be iterated once. */
  events: AsyncIterable<SensorEvent>;
  stats: EventLogStats;
}

const KNOWN_KINDS: ReadonlySet<string> = new Set(SENSOR_KINDS);

/** Parses a timestamp; without an offset it is local time of `timeZone`. */
export function parseLogTimestamp(ts: string, timeZone: string): number {
  const m = TS_PATTERN.exec(ts);
  if (m === null) return NaN;
  const fields = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i] ?? 0));
  const [y = 0, mo = 1, d = 1, h = 0, mi = 0, s = 0] = fields;
  const ms = m[7] === undefined ? 0 : Math.round(Number(`0.${m[7]}`) * 1000);
  const local = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const zone = m[8];
  if (zone === undefined) return fromLocalMs(timeZone, local);
  if (zone === 'Z') return local;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return local - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
}

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Opens an event log: reads and validates the header; the events follow as a stream. */
export async function openEventLog(path: string): Promise<EventLog> {
  let gz: boolean;
  try {
    gz = await isGzip(path);
  } catch (err) {
    throw new EventLogError('EVENT_LOG_UNREADABLE', `${path}: cannot read: ${(err as Error).message}`);
  }
  const file = createReadStream(path);
  const input = gz ? file.pipe(createGunzip()) : file;
  const failure: { err?: Error } = {};
  const fail = (err: Error) => {
    failure.err ??= err;
  };
  file.on('error', fail);
  input.on('error', fail);
  const rl = createInterface({ input, crlfDelay: Infinity });
  const lines = rl[Symbol.asyncIterator]();
  let lineNo = 0;
  const nextLine = async (): Promise<string | undefined> => {
    for (;;) {
      let r: IteratorResult<string>;
      try {
        r = await lines.next();
      } catch (err) {
        throw new EventLogError('EVENT_LOG_UNREADABLE', `${path}: cannot read${gz ? ' (gzip)' : ''}: ${(err as Error).message}`, lineNo);
      }
      if (failure.err !== undefined) throw new EventLogError('EVENT_LOG_UNREADABLE', `${path}: cannot read${gz ? ' (gzip)' : ''}: ${failure.err.message}`, lineNo);
      if (r.done === true) return undefined;
      lineNo++;
      if (r.value.trim() !== '') return r.value;
    }
  };
  const close = () => {
    rl.close();
    file.destroy();
  };

  const first = await nextLine().catch((err: unknown) => {
    close();
    throw err;
  });
  if (first === undefined) {
    close();
    throw new EventLogError('EVENT_LOG_EMPTY', `${path}: empty file: expected a header line {"home","timezone","sensors"}`);
  }
  let header: EventLogHeader;
  try {
    header = EventLogHeader.parse(JSON.parse(first));
  } catch (err) {
    close();
    const why = err instanceof z.ZodError ? formatZodError(err) : `not JSON (${(err as Error).message})`;
    throw new EventLogError('EVENT_LOG_BAD_HEADER', `${path} line ${lineNo}: bad header: ${why}`, lineNo);
  }
  const sensors = new Map(header.sensors.map((s) => [s.id, s]));
  const stats: EventLogStats = { lines: 0, events: 0, skippedUnknownKind: 0, outOfOrder: 0, firstMs: null, lastMs: null };
  const timeZone = header.timezone;

  async function* events(): AsyncGenerator<SensorEvent> {
    try {
      for (;;) {
        const line = await nextLine();
        if (line === undefined) return;
        stats.lines++;
        let raw: unknown;
        try {
          raw = JSON.parse(line);
        } catch (err) {
          throw new EventLogError('EVENT_LOG_BAD_EVENT', `${path} line ${lineNo}: not JSON (${(err as Error).message})`, lineNo);
        }
        const parsed = EventLogLine.safeParse(raw);
        if (!parsed.success) throw new EventLogError('EVENT_LOG_BAD_EVENT', `${path} line ${lineNo}: ${formatZodError(parsed.error)}`, lineNo);
        const sensor = sensors.get(parsed.data.sensor);
        if (sensor === undefined) throw new EventLogError('EVENT_LOG_UNKNOWN_SENSOR', `${path} line ${lineNo}: sensor "${parsed.data.sensor}" is not in the header`, lineNo);
        const atMs = parseLogTimestamp(parsed.data.ts, timeZone);
        if (!Number.isFinite(atMs)) throw new EventLogError('EVENT_LOG_BAD_EVENT', `${path} line ${lineNo}: ts: not a valid date-time "${parsed.data.ts}"`, lineNo);
        if (!KNOWN_KINDS.has(sensor.kind)) {
          stats.skippedUnknownKind++;
          continue;
        }
        if (stats.lastMs !== null && atMs < stats.lastMs) stats.outOfOrder++;
        stats.lastMs = stats.lastMs === null ? atMs : Math.max(stats.lastMs, atMs);
        stats.firstMs = stats.firstMs === null ? atMs : Math.min(stats.firstMs, atMs);
        stats.events++;
        const event: SensorEvent = { atMs, sensorId: sensor.id, kind: sensor.kind as SensorKind, value: parsed.data.value };
        if (sensor.exit === true) event.exit = true;
        yield event;
      }
    } finally {
      close();
    }
  }
  return { header, events: events(), stats };
}

/** Reads a whole event log into memory, sorted by time (stable). */
export async function readEventLog(path: string): Promise<{ header: EventLogHeader; events: SensorEvent[]; stats: EventLogStats }> {
  const log = await openEventLog(path);
  const events: SensorEvent[] = [];
  for await (const e of log.events) events.push(e);
  if (log.stats.outOfOrder > 0) events.sort((a, b) => a.atMs - b.atMs);
  return { header: log.header, events, stats: log.stats };
}

/**
 * A sign of life as the detectors take it (structurally the `Activity` of
 * @kanjia/detection, which firmware-sim does not depend on).
 */
export interface LogActivity {
  atMs: number;
  source: SensorKind;
  value: 0 | 1;
  /** A door that leads out of the home. */
  exit?: boolean;
  sensorId: string;
}

/** Maps a sensor event to an activity: the sensor kind is the source; a door with exit:true is an exit. */
export function toActivity(e: SensorEvent): LogActivity {
  const a: LogActivity = { atMs: e.atMs, source: e.kind, value: e.value, sensorId: e.sensorId };
  if (e.exit === true && e.kind === 'door') a.exit = true;
  return a;
}

/** `2008-02-25T09:33:41+01:00`: the instant in the home's zone with its offset. */
export function formatLogTimestamp(ms: number, timeZone: string): string {
  const offsetMs = zoneOffsetMs(timeZone, ms);
  const local = new Date(ms + offsetMs).toISOString().slice(0, 19);
  const off = Math.round(offsetMs / 60_000);
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** The header as a writer gives it (e.g. a simulated household's sensors). */
export interface EventLogHeaderInput {
  home: string;
  timezone: string;
  sensors: readonly { id: string; kind: string; room?: string; name?: string; exit?: boolean }[];
}

/** Writes an event log (gzip JSON Lines when the path ends in .gz); the header is validated first. */
export async function writeEventLog(path: string, header: EventLogHeaderInput, events: Iterable<SensorEvent>): Promise<void> {
  const valid = EventLogHeader.parse(header);
  function* lines(): Generator<string> {
    yield `${JSON.stringify(valid)}\n`;
    for (const e of events) yield `${JSON.stringify({ ts: formatLogTimestamp(e.atMs, valid.timezone), sensor: e.sensorId, value: e.value })}\n`;
  }
  const source = Readable.from(lines());
  if (path.endsWith('.gz')) await pipeline(source, createGzip(), createWriteStream(path));
  else await pipeline(source, createWriteStream(path));
}
