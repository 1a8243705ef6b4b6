/** The printed report of `kanjia eval-falls`: one table row per position and age group, then leave-one-subject-out. */
import { BODY_POSITIONS } from '@kanjia/protocol';
import type { FallEvalResult } from './replay.js';
import { AGE_GROUPS, type GroupFigures } from './statistics.js';

const pct = (x: number | null): string => (x === null ? '—' : `${(x * 100).toFixed(1)}%`);
const num = (x: number | null, digits: number): string => (x === null ? '—' : x.toFixed(digits));

interface Row {
  position: string;
  age: string;
  f: GroupFigures;
}

function tableRows(rows: Row[]): string[] {
  const header = ['position', 'age', 'falls', 'detected', 'sensitivity', 'ADLs', 'false-alarm ADLs', 'specificity', 'ADL h', 'false alarms/h'];
  const body = rows.map(({ position, age, f }) => [
    position,
    age,
    String(f.falls),
    String(f.detectedFalls),
    pct(f.sensitivity),
    String(f.adls),
    String(f.falseAlarmTrials),
    pct(f.specificity),
    num(f.adlHours, 2),
    num(f.falseAlarmsPerHour, 2),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(header), ...body.map(line)];
}

/** The lines printed before the JSON summary; `verbose` lists every missed fall and false alarm first. */
export function fallReport({ summary, outcomes }: FallEvalResult, verbose: boolean): string[] {
  const lines: string[] = [];
  if (verbose) {
    for (const o of outcomes) {
      if (o.label === 'fall' && o.detections === 0) lines.push(`missed fall   ${o.id} (${o.activity}, subject ${o.subject})`);
      if (o.label === 'adl' && o.detections > 0) lines.push(`false alarm   ${o.id} (${o.activity}, subject ${o.subject}): ${o.firstReason ?? ''}`);
    }
    for (const o of outcomes.filter((x) => x.suspectCalibration)) lines.push(`suspect scale ${o.id}: median |a| is not about 1 g`);
    lines.push('');
  }
  lines.push(
    `eval-falls ${summary.dataset}: ${summary.trials} trials (${summary.falls} falls, ${summary.adls} ADLs, ${summary.adlHours.toFixed(2)} h of ADL), ` +
      `${summary.windowMs} ms windows${summary.limitPerPositionAndLabel === null ? '' : `, first ${summary.limitPerPositionAndLabel} per position and label`}`,
  );
  const rows: Row[] = [];
  for (const position of BODY_POSITIONS) {
    const p = summary.positions[position];
    if (p === undefined) continue;
    rows.push({ position, age: 'all', f: p });
    for (const group of AGE_GROUPS) {
      const f = p.byAge[group];
      if (f !== undefined) rows.push({ position, age: group, f });
    }
  }
  rows.push({ position: 'all', age: 'all', f: summary.overall });
  lines.push(...tableRows(rows));
  if (summary.dataQuality.suspectCalibrationTrials > 0) {
    lines.push(`${summary.dataQuality.suspectCalibrationTrials} trial(s) have a median |a| outside 0.8–1.2 g (suspect sensor scale); they are counted as they are.`);
  }
  if (summary.loso !== null) {
    lines.push('', `leave one subject out (${summary.loso.rule}):`);
    const losoRows: Row[] = [];
    for (const position of BODY_POSITIONS) {
      const f = summary.loso.positions[position];
      if (f !== undefined) losoRows.push({ position, age: 'all', f });
    }
    losoRows.push({ position: 'all', age: 'all', f: summary.loso.overall });
    lines.push(...tableRows(losoRows));
    for (const fit of summary.loso.fits) {
      const p = fit.params;
      lines.push(
        `  ${fit.position}: impact ${p.impactThresholdG} g (${p.lowImpactThresholdG} g after free fall to ${p.freeFallThresholdG} g), ` +
          `calm below ${p.priorActivityMaxG} g, posture ${p.postureChangeMinDeg}°, turn after a soft impact ≤ ${p.maxTurnAfterSoftImpactDeg}°, still sd ${p.stillnessMaxSdG} g — fitted for ${fit.heldOutSubjects.length} held-out subject(s)`,
      );
    }
  }
  return lines;
}
