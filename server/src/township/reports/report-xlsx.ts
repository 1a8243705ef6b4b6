/**
 * The report as an XLSX workbook: a sheet per section (概况, 人员, 报警, 探访,
 * 设备), Chinese headers, the township's name and the period in a title row,
 * a line per village and a 合计 (total) line. The same fonts and page set-up
 * as the registry export (spreadsheet/registry-export.ts).
 */
import { ALARM_KIND_LABELS } from '@kanjia/alerts';
import { CARE_LEVELS, LEAVE_REASONS, PERSON_CATEGORIES, type ReportDeviceProblem, type DurationStats, type ReportFigures, type TownshipReport } from '@kanjia/protocol';
import ExcelJS from 'exceljs';
import { localDateOf } from '../../registry/registry-store.js';
import { KIND_ORDER } from './figures.js';
import { periodLabelZh } from './period.js';

const BODY_FONT: Partial<ExcelJS.Font> = { name: '宋体', size: 11 };
const TITLE_FONT: Partial<ExcelJS.Font> = { name: '黑体', size: 16, bold: true };
const THIN: Partial<ExcelJS.Borders> = { top: { style: 'thin' }, left: { style: 'thin' }, bottom: { style: 'thin' }, right: { style: 'thin' } };

export const PROBLEM_LABELS: Readonly<Record<ReportDeviceProblem, string>> = { offline: '离线', lowBattery: '电量低', neverSeen: '从未上线' };

type Cell = string | number | null;
interface Section {
  name: string;
  headers: string[];
  rows: Cell[][];
  widths?: number[];
}

/** Minutes with one decimal, or 无 when no case reached the step. */
export const minutes = (ms: number | null): Cell => (ms === null ? '无' : Math.round(ms / 6_000) / 10);
const percent = (share: number | null): Cell => (share === null ? '无' : `${(share * 100).toFixed(1)}%`);
const lines = (report: TownshipReport): Array<{ name: string; f: ReportFigures }> => [...report.villages.map((v) => ({ name: v.villageName, f: v.figures })), { name: '合计', f: report.total }];
const duration = (d: DurationStats): Cell[] => [d.count, minutes(d.medianMs), minutes(d.p90Ms)];

/** The sections, as tables (also what the tests read back). */
export function reportSections(report: TownshipReport): Section[] {
  const kinds = KIND_ORDER.filter((k) => report.total.alarms.byKind[k]);
  const zh = ALARM_KIND_LABELS['zh-CN'];
  return [
    {
      name: '概况',
      headers: ['村', '在册人数', '新增', '离册', '报警', '接警时长中位数（分钟）', '到场时长中位数（分钟）', '误报比例', '探访达标率', '设备异常（期末）'],
      rows: lines(report).map(({ name, f }) => [name, f.people.total, f.people.joined, f.people.left, f.alarms.total, minutes(f.alarms.timeToTake.medianMs), minutes(f.alarms.timeToSite.medianMs), percent(f.alarms.falseShare), percent(f.visits.share), f.devices.notWorkingAtEnd]),
    },
    {
      name: '人员',
      headers: ['村', '在册人数', ...PERSON_CATEGORIES.map((c) => c.zh), ...CARE_LEVELS.map((c) => `${c.zh}（照护等级）`), '新增', '离册', ...LEAVE_REASONS.map((r) => `离册：${r.zh}`)],
      rows: lines(report).map(({ name, f }) => [
        name,
        f.people.total,
        ...PERSON_CATEGORIES.map((c) => f.people.byCategory[c.code] ?? 0),
        ...CARE_LEVELS.map((c) => f.people.byCareLevel[c.code] ?? 0),
        f.people.joined,
        f.people.left,
        ...LEAVE_REASONS.map((r) => f.people.leftByReason[r.code] ?? 0),
      ]),
    },
    {
      name: '报警',
      headers: ['村', '报警总数', ...kinds.map((k) => zh[k]), '已接警', '接警中位数（分钟）', '接警90%分位（分钟）', '已到场', '到场中位数（分钟）', '到场90%分位（分钟）', '已关闭', '误报', '误报比例', '处理时未注明是否误报'],
      rows: lines(report).map(({ name, f }) => [
        name,
        f.alarms.total,
        ...kinds.map((k) => f.alarms.byKind[k] ?? 0),
        ...duration(f.alarms.timeToTake),
        ...duration(f.alarms.timeToSite),
        f.alarms.closed,
        f.alarms.falseAlarms,
        percent(f.alarms.falseShare),
        f.alarms.unclassified,
      ]),
    },
    {
      name: '探访',
      headers: ['村', '探访次数', '应探访人数', '达标人数', '达标率'],
      rows: lines(report).map(({ name, f }) => [name, f.visits.count, f.visits.people, f.visits.compliant, percent(f.visits.share)]),
    },
    {
      name: '设备',
      headers: ['村', '设备', '位置', '使用人', '期末状态', '期间离线报警', '期间电量低报警'],
      widths: [12, 24, 22, 10, 16, 14, 14],
      rows: report.villages.flatMap((v) =>
        v.figures.devices.lines.map((l) => [
          v.villageName,
          l.label ?? l.kind,
          l.address,
          l.residentName ?? '',
          l.atEnd.length === 0 ? '正常' : l.atEnd.map((p) => PROBLEM_LABELS[p]).join('、'),
          l.duringPeriod.deviceOffline,
          l.duringPeriod.lowBattery,
        ]),
      ),
    },
  ];
}

/** The workbook's bytes. */
export async function reportXlsx(report: TownshipReport, timezone: string): Promise<Buffer> {
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'Kanjia 智慧看家';
  workbook.created = new Date(report.generatedAt);
  const title = `${report.title}${periodLabelZh(report.period)}关爱工作报告`;
  const sub = `统计期间：${report.period.from} 至 ${report.period.lastDay}${report.partial ? '（期间未结束，截至生成时）' : ''}　生成：${localDateOf(timezone, report.generatedAt)}`;
  for (const section of reportSections(report)) addSheet(workbook, section, title, sub);
  return Buffer.from(await workbook.xlsx.writeBuffer());
}

function addSheet(workbook: ExcelJS.Workbook, section: Section, title: string, sub: string): void {
  const sheet = workbook.addWorksheet(section.name, {
    views: [{ state: 'frozen', ySplit: 3 }],
    pageSetup: { paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: '3:3', horizontalCentered: true },
  });
  const width = section.headers.length;
  sheet.columns = section.headers.map((h, i) => ({ width: section.widths?.[i] ?? Math.max(10, Math.min(26, h.length * 2 + 2)) }));
  const t = sheet.getRow(1).getCell(1);
  t.value = title;
  t.font = TITLE_FONT;
  t.alignment = { horizontal: 'center', vertical: 'middle' };
  sheet.getRow(1).height = 30;
  sheet.mergeCells(1, 1, 1, width);
  const s = sheet.getRow(2).getCell(1);
  s.value = sub;
  s.font = { ...BODY_FONT, size: 10 };
  s.alignment = { horizontal: 'right' };
  sheet.mergeCells(2, 1, 2, width);
  section.headers.forEach((h, i) => {
    const cell = sheet.getRow(3).getCell(i + 1);
    cell.value = h;
    cell.font = { ...BODY_FONT, bold: true };
    cell.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE7E6E6' } };
    cell.border = THIN;
  });
  sheet.getRow(3).height = 36;
  section.rows.forEach((values, r) => {
    values.forEach((v, c) => {
      const cell = sheet.getRow(4 + r).getCell(c + 1);
      cell.value = v;
      cell.font = values[0] === '合计' ? { ...BODY_FONT, bold: true } : BODY_FONT;
      cell.border = THIN;
      cell.alignment = { vertical: 'middle', ...(c > 0 && typeof v === 'number' ? { horizontal: 'right' } : {}) };
    });
  });
  if (section.rows.length === 0) {
    sheet.getRow(4).getCell(1).value = '无';
    sheet.getRow(4).getCell(1).font = BODY_FONT;
  }
}
