/** The printed reports of `kanjia eval-inactivity` (the JSON summary line follows them). */
import { formatLocalDateTime, formatMinuteOfDay } from '@kanjia/protocol';
import { CUT_KINDS } from './cut-kind.js';
import { MIN } from './monitor-replay.js';
import type { HomeResult, HomesSummary } from './recorded-homes.js';
import { WARMUP_DAYS, type SimResult } from './simulation.js';
import { describeDelays, fmtMinutes, isNoticeKind, type DelayFigures } from './statistics.js';

const ok = (b: boolean) => (b ? '✓' : '✗');

/** The report of a simulated run. */
export function simulationReport(r: SimResult): string[] {
  const s = r.summary;
  const l = s.learned;
  const b = s.baseline12h;
  const lines = [
    `eval-inactivity: ${s.persons} simulated persons × ${s.months} months (${s.personMonths} person-months, ${s.timeZone}, seed ${s.seed}), ${r.events} sensor events, ${s.seconds.toFixed(1)} s`,
    '',
    `Learned routine (InactivityMonitor, reminder then alarm ${r.remindGraceMin} min later):`,
    `  false alarms per person-month: ${l.falseAlarmsPerPersonMonth} (${r.falseAlarms} in all; after the first ${WARMUP_DAYS} days ${r.falseAlarmsLearned})`,
    `  reminders per person-month:    ${l.remindersPerPersonMonth} (answered by the simulated person 90 % of the time when up, 80 % asleep)`,
    `  not-back notices per person-month: ${l.noticesPerPersonMonth}`,
    `  false alarms by kind of silence: ${[...r.falseAlarmsByContext].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
    `  day incapacitation → alarm:             ${describeDelays(l.day)}`,
    `  night incapacitation → alarm:           ${describeDelays(l.night)}`,
    `  night: delay after usual wake-up:       ${describeDelays(l.nightAfterUsualWake)}; over 2 h: ${l.nightAfterUsualWake.over2h} of ${l.nightAfterUsualWake.n}`,
    `    (usual = median of the person's getting-up times in the 4 weeks before; over the whole run instead: ${describeDelays(l.nightAfterWholeRunUsualWake)})`,
    '  (night: asleep before the usual getting-up time, in bed; day: up, or sleeping in after that time; a quarter with a sensor stuck "on")',
    'Baseline (alarm after 12 h without a sensor firing):',
    `  false alarms per person-month: ${b.falseAlarmsPerPersonMonth}`,
    `  day incapacitation → alarm:             ${describeDelays(b.day)}`,
    `  night: delay after usual wake-up:       ${describeDelays(b.nightAfterUsualWake)}`,
    'By kind of person (false alarms / reminders per person-month):',
  ];
  for (const [name, f] of [...r.byProfile].sort()) {
    lines.push(`  ${name.padEnd(13)} ${String(f.persons).padStart(4)} persons  ${(f.alarms / (f.persons * s.months)).toFixed(2)} / ${(f.reminds / (f.persons * s.months)).toFixed(1)}`);
  }
  const t = s.targets;
  lines.push(`Targets: ≤ 1 false alarm per person-month ${ok(t.falseAlarmsPerPersonMonth)}; daytime median < 90 min ${ok(t.dayMedianUnder90Min)}; night within 2 h of usual wake-up (max) ${ok(t.nightWithin2hOfUsualWake)}`);
  return lines;
}

/** The report of one recorded home: everything the monitor raised, in local time, then the cuts. */
export function homeReport(r: HomeResult): string[] {
  const s = r.summary;
  const tz = s.timeZone;
  const at = (ms: number) => formatLocalDateTime(tz, ms);
  if (s.events === 0) return [`eval-inactivity: ${s.file}: no events`];
  const lines = [`eval-inactivity: ${s.home} (${tz}), ${s.events} events, ${r.sensors} sensors, ${(s.days).toFixed(1)} days from ${at(r.firstMs)} to ${at(r.lastMs)}`];
  if (r.stats.skippedUnknownKind > 0) lines.push(`  skipped ${r.stats.skippedUnknownKind} events of sensors of unknown kinds`);
  if (r.stats.outOfOrder > 0) lines.push(`  ${r.stats.outOfOrder} events out of time order (sorted)`);
  lines.push('', 'What the monitor would have raised (local time; a recording has no button: a reminder is answered only by a sign of life from a sensor within the grace period):');
  for (const o of r.outputs) {
    if (o.type === 'remind') lines.push(`  ${at(o.atMs)}  remind  on the device: "are you all right? press the button"`);
    else if (o.type === 'alarm') lines.push(`  ${at(o.finding.eventTs)}  ${isNoticeKind(o.finding.kind) ? 'NOTICE' : 'ALARM '}  ${o.finding.reason}`);
    else lines.push(`  ${at(o.atMs)}  cleared ${o.reason}`);
  }
  if (r.outputs.length === 0) lines.push('  nothing');
  const p = s.per30Days;
  lines.push(
    '',
    `${s.alarms} alarms (all false in an ordinary life), ${s.notices} not-back notices, ${s.reminders} reminders in ${s.days.toFixed(1)} days: ` +
      `per 30 days ${p.alarms.toFixed(2)} alarms, ${p.notices.toFixed(2)} notices, ${p.reminders.toFixed(1)} reminders; 12 h rule ${p.baseline12hAlarms.toFixed(2)} alarms`,
    `reminders: ${s.remindersAnsweredBySensor} answered by a sign of life within the grace period, ${s.reminders - s.remindersAnsweredBySensor} unanswered (each an alarm: nobody can press the button in a recording, so these alarms are counted pessimistically)`,
  );
  const c = s.cuts;
  if (c === undefined) return lines;
  const w = s.sleepWindow;
  lines.push(
    '',
    `Cut at ${c.n} random moments after ${at(r.learnFromMs)} (no event after the cut; night = ${formatMinuteOfDay(w.fromMin)}–${formatMinuteOfDay(w.toMin)}, ` +
      `${w.nights > 0 ? `learned from ${w.nights} nights` : 'fixed'}; out = after the exit door with no sign inside):`,
  );
  for (const cut of r.cuts) {
    const found = cut.delayMs === undefined ? 'nothing within 24 h' : `${isNoticeKind(cut.findingKind ?? '') ? 'notice' : 'alarm'} after ${fmtMinutes(Math.round(cut.delayMs / MIN))} (${cut.context ?? ''})`;
    lines.push(`  cut ${at(cut.atMs)} ${cut.kind.padEnd(5)} → ${found}; 12 h rule ${cut.baselineDelayMs === undefined ? '—' : fmtMinutes(Math.round(cut.baselineDelayMs / MIN))}`);
  }
  lines.push(`  detection delay: ${describeDelays(c, 24)}`);
  for (const k of CUT_KINDS) lines.push(`    ${k}: ${describeDelays(c.byKind[k], 24)}`);
  for (const [k, v] of Object.entries(c.byContext)) lines.push(`    detector's ${k}: ${describeDelays(v, 24)}`);
  lines.push(`  12 h rule: ${describeDelays(c.baseline12h, 24)}`);
  return lines;
}

/** `95 min (12.0 h)`: the monitor's median delay with the 12-hour rule's beside it. */
const medians = (f: DelayFigures | undefined, b: DelayFigures | undefined) => (f === undefined || f.n === 0 ? '—' : `${fmtMinutes(f.medianMin)} (${fmtMinutes(b?.medianMin ?? null)})`);

/** One row per home, then the totals; the 12-hour rule's figure in brackets. */
export function homesTable(summary: HomesSummary): string[] {
  const header = ['home', 'days', 'alarms/30d (12 h)', 'notices/30d', 'reminders/30d', 'cuts', 'day median (12 h)', 'night median (12 h)', 'out median (12 h)', 'missed (24 h)'];
  const rows: string[][] = [];
  const row = (name: string, h: { days: number; per30Days: HomesSummary['total']['per30Days']; cuts?: HomesSummary['total']['cuts'] }) => {
    const c = h.cuts;
    rows.push([
      name,
      h.days.toFixed(1),
      `${h.per30Days.alarms.toFixed(2)} (${h.per30Days.baseline12hAlarms.toFixed(2)})`,
      h.per30Days.notices.toFixed(2),
      h.per30Days.reminders.toFixed(1),
      String(c?.n ?? 0),
      ...CUT_KINDS.map((k) => (c === undefined ? '—' : `${medians(c.byKind[k], c.baseline12h.byKind[k])}${c.byKind[k].n > 0 ? ` n=${c.byKind[k].n}` : ''}`)),
      c === undefined ? '—' : `${c.missed} (${c.baseline12h.missed})`,
    ]);
  };
  for (const h of summary.homes) row(h.home, h);
  if (summary.homes.length > 1) row('all', summary.total);
  const widths = header.map((t, i) => Math.max(t.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [
    `eval-inactivity: ${summary.homes.length} recorded homes in ${summary.dir}, ${summary.total.days.toFixed(1)} days (figures per 30 days; the 12-hour rule in brackets)`,
    line(header),
    ...rows.map(line),
  ];
}
