/** Reading EVENTS-FORMAT.md logs: streaming, validation with line numbers, mapping to activities. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { EventLogError, formatLogTimestamp, openEventLog, parseLogTimestamp, readEventLog, toActivity, writeEventLog } from '../src/event-log.js';
import { generateRoutine } from '../src/routine/index.js';

const dir = mkdtempSync(join(tmpdir(), 'kanjia-event-log-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEADER = {
  home: 'example-house',
  timezone: 'Europe/Amsterdam',
  sensors: [
    { id: 's12', kind: 'door', room: 'hall', name: 'Frontdoor', exit: true },
    { id: 's24', kind: 'door', room: 'bedroom', name: 'Hall-Bedroom door' },
    { id: 's8', kind: 'appliance', room: 'kitchen', name: 'Fridge' },
    { id: 's14', kind: 'water', room: 'toilet', name: 'ToiletFlush' },
  ],
};

/** Writes lines (gzip unless `plain`) and returns the path. */
function file(name: string, lines: unknown[], plain = false): string {
  const text = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
  const path = join(dir, name);
  writeFileSync(path, plain ? text : gzipSync(text));
  return path;
}

async function codeOf(path: string): Promise<{ code: string; line?: number; message: string }> {
  try {
    await readEventLog(path);
  } catch (err) {
    if (err instanceof EventLogError) return { code: err.code, ...(err.line !== undefined ? { line: err.line } : {}), message: err.message };
    throw err;
  }
  return { code: 'none', message: '' };
}

describe('event log reader', () => {
  it('reads the example of EVENTS-FORMAT.md: offsets honoured, the front door maps to an exit activity', async () => {
    const path = file('example.jsonl.gz', [HEADER, { ts: '2008-02-25T09:33:41+01:00', sensor: 's24', value: 1 }, { ts: '2008-02-25T09:33:42+01:00', sensor: 's24', value: 0 }, { ts: '2008-02-25T09:40:00+01:00', sensor: 's12', value: 1 }]);
    const { header, events, stats } = await readEventLog(path);
    expect(header.home).toBe('example-house');
    expect(events.map((e) => e.atMs)).toEqual([Date.UTC(2008, 1, 25, 8, 33, 41), Date.UTC(2008, 1, 25, 8, 33, 42), Date.UTC(2008, 1, 25, 8, 40)]);
    expect(stats).toMatchObject({ lines: 3, events: 3, outOfOrder: 0 });
    expect(toActivity(events[2] ?? events[0]!)).toEqual({ atMs: Date.UTC(2008, 1, 25, 8, 40), source: 'door', value: 1, exit: true, sensorId: 's12' });
    expect(toActivity(events[0]!)).toEqual({ atMs: Date.UTC(2008, 1, 25, 8, 33, 41), source: 'door', value: 1, sensorId: 's24' });
  });

  it('streams: the header is available before the events are read, events arrive one by one', async () => {
    const lines: unknown[] = [HEADER];
    for (let i = 0; i < 5000; i++) lines.push({ ts: formatLogTimestamp(Date.UTC(2008, 1, 25) + i * 60_000, 'Europe/Amsterdam'), sensor: i % 2 ? 's8' : 's14', value: i % 4 < 2 ? 1 : 0 });
    const log = await openEventLog(file('big.jsonl.gz', lines));
    expect(log.header.sensors).toHaveLength(4);
    expect(log.stats.events).toBe(0);
    let n = 0;
    for await (const e of log.events) {
      n++;
      if (n === 1) expect(e.kind).toBe('water');
    }
    expect(n).toBe(5000);
    expect(log.stats.events).toBe(5000);
  });

  it('accepts what the format allows: plain JSON Lines, extra fields, sensors of unknown kinds (skipped), no offset (local time), overlapping and out-of-order events, "on" for hours', async () => {
    const header = { ...HEADER, sensors: [...HEADER.sensors, { id: 't1', kind: 'thermometer' }], extra: 'ignored' };
    const path = file(
      'lenient.jsonl',
      [
        header,
        { ts: '2008-07-01T10:00:00', sensor: 's24', value: 1, note: 'no offset: local summer time' },
        { ts: '2008-07-01T09:59:00+02:00', sensor: 's8', value: 1 },
        { ts: '2008-07-01T10:00:30+02:00', sensor: 't1', value: 1 },
        '',
        { ts: '2008-07-01T15:00:00+02:00', sensor: 's24', value: 0 },
      ],
      true,
    );
    const { events, stats } = await readEventLog(path);
    expect(stats).toMatchObject({ lines: 4, events: 3, skippedUnknownKind: 1, outOfOrder: 1 });
    expect(events.map((e) => e.sensorId)).toEqual(['s8', 's24', 's24']); // sorted by time
    expect(events[1]?.atMs).toBe(Date.UTC(2008, 6, 1, 8, 0)); // 10:00 CEST
    expect(parseLogTimestamp('2008-01-01T10:00', 'Europe/Amsterdam')).toBe(Date.UTC(2008, 0, 1, 9, 0));
    expect(parseLogTimestamp('2008-01-01T10:00:00.250Z', 'Europe/Amsterdam')).toBe(Date.UTC(2008, 0, 1, 10, 0, 0, 250));
  });

  it('says what is wrong and where, with stable codes', async () => {
    expect(await codeOf(join(dir, 'missing.jsonl.gz'))).toMatchObject({ code: 'EVENT_LOG_UNREADABLE' });
    expect(await codeOf(file('empty.jsonl.gz', ['']))).toMatchObject({ code: 'EVENT_LOG_EMPTY' });
    const badZone = await codeOf(file('zone.jsonl.gz', [{ ...HEADER, timezone: 'Mars/Olympus' }]));
    expect(badZone).toMatchObject({ code: 'EVENT_LOG_BAD_HEADER', line: 1 });
    expect(badZone.message).toMatch(/timezone: not an IANA time zone/);
    expect(await codeOf(file('dup.jsonl.gz', [{ ...HEADER, sensors: [HEADER.sensors[0], HEADER.sensors[0]] }]))).toMatchObject({ code: 'EVENT_LOG_BAD_HEADER' });
    const badValue = await codeOf(file('value.jsonl.gz', [HEADER, { ts: '2008-02-25T09:33:41+01:00', sensor: 's24', value: 1 }, { ts: '2008-02-25T09:33:42+01:00', sensor: 's24', value: 2 }]));
    expect(badValue).toMatchObject({ code: 'EVENT_LOG_BAD_EVENT', line: 3 });
    expect(badValue.message).toMatch(/line 3: value/);
    expect(await codeOf(file('ts.jsonl.gz', [HEADER, { ts: 'yesterday', sensor: 's24', value: 1 }]))).toMatchObject({ code: 'EVENT_LOG_BAD_EVENT', line: 2 });
    expect(await codeOf(file('json.jsonl.gz', [HEADER, '{"ts": '])).then((r) => r.code)).toBe('EVENT_LOG_BAD_EVENT');
    expect(await codeOf(file('sensor.jsonl.gz', [HEADER, { ts: '2008-02-25T09:33:41+01:00', sensor: 's99', value: 1 }]))).toMatchObject({ code: 'EVENT_LOG_UNKNOWN_SENSOR', line: 2 });
    const notGzip = join(dir, 'broken.jsonl.gz');
    writeFileSync(notGzip, Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from('not really gzip')]));
    expect(await codeOf(notGzip)).toMatchObject({ code: 'EVENT_LOG_UNREADABLE' });
  });

  it('round trip: a simulated month written with writeEventLog reads back identical (to the second), in its zone', async () => {
    const r = generateRoutine({ seed: 4, startDate: '2026-03-20', days: 30, timeZone: 'Europe/Amsterdam' });
    const path = join(dir, 'sim.jsonl.gz');
    await writeEventLog(path, { home: 'sim', timezone: r.timeZone, sensors: r.sensors }, r.events);
    const { header, events } = await readEventLog(path);
    expect(header.sensors.map((s) => s.id)).toEqual(r.sensors.map((s) => s.id));
    expect(events).toHaveLength(r.events.length);
    events.forEach((e, i) => {
      const src = r.events[i];
      expect(e.sensorId).toBe(src?.sensorId);
      expect(e.value).toBe(src?.value);
      expect(e.atMs).toBe(Math.floor((src?.atMs ?? 0) / 1000) * 1000);
    });
    expect(formatLogTimestamp(Date.UTC(2026, 2, 29, 1, 30), 'Europe/Amsterdam')).toBe('2026-03-29T03:30:00+02:00');
    expect(formatLogTimestamp(Date.UTC(2026, 2, 29, 0, 30), 'Europe/Amsterdam')).toBe('2026-03-29T01:30:00+01:00');
  });
});
