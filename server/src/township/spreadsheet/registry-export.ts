/**
 * The registry as an XLSX workbook in the policies' sample layout (序号, 姓名,
 * 性别, 身份证号码, 人员类别, 帮扶责任人（职务）, 帮扶措施, 联系电话, 备注): one
 * sheet per village, a title row with the township and village, Chinese
 * fonts, set column widths, ID numbers stored as text (never 4.3E+17), A4
 * landscape with the header repeated on every printed page. Phone and ID
 * numbers come as the caller may see them (the REST route masks them).
 */
import { idNumberFacts, labelOf, PERSON_CATEGORIES } from '@kanjia/protocol';
import ExcelJS from 'exceljs';
import type { ResidentRow, SqliteRegistryStore, VillageRow } from '../../registry/registry-store.js';
import { formatHelpers } from './helpers-cell.js';

/** The columns of the export, in order, with their widths in characters. */
export const EXPORT_COLUMNS = [
  { header: '序号', width: 6 },
  { header: '姓名', width: 10 },
  { header: '性别', width: 6 },
  { header: '身份证号码', width: 22 },
  { header: '人员类别', width: 26 },
  { header: '帮扶责任人（职务）', width: 38 },
  { header: '帮扶措施', width: 30 },
  { header: '联系电话', width: 15 },
  { header: '备注', width: 24 },
] as const;

/** The body font: 宋体 is on every Chinese Windows and in WPS; the title in 黑体. */
const BODY_FONT: Partial<ExcelJS.Font> = { name: '宋体', size: 11 };
const TITLE_FONT: Partial<ExcelJS.Font> = { name: '黑体', size: 16, bold: true };
const THIN: Partial<ExcelJS.Borders> = { top: { style: 'thin' }, left: { style: 'thin' }, bottom: { style: 'thin' }, right: { style: 'thin' } };

export interface ExportOptions {
  /** Villages the caller may see ('all' for admin and the command line). */
  villageIds: 'all' | ReadonlySet<string>;
  /** For a helper: only the people whose chain they are in. */
  residentIds?: ReadonlySet<string>;
  /** One village only; undefined: every village in scope, a sheet each. */
  villageId?: string;
  /** How a phone and an ID number are written (clear or masked, per the caller's role). */
  phone: (phone: string) => string;
  idNumber: (idNumber: string) => string;
  /** The date written under the title, YYYY-MM-DD. */
  today: string;
}

export interface ExportedRegistry {
  workbook: ExcelJS.Workbook;
  villages: VillageRow[];
  people: number;
}

/** Builds the workbook (a sheet for each village, even an empty one). */
export function buildRegistryWorkbook(registry: SqliteRegistryStore, options: ExportOptions): ExportedRegistry {
  const villages = registry
    .allVillages()
    .filter((v) => options.villageIds === 'all' || options.villageIds.has(v.id))
    .filter((v) => options.villageId === undefined || v.id === options.villageId);
  const workbook = new ExcelJS.Workbook();
  workbook.creator = 'Kanjia 智慧看家';
  workbook.created = new Date(`${options.today}T00:00:00Z`);
  const usedNames = new Set<string>();
  let people = 0;
  for (const village of villages) {
    const residents = registry
      .residents({ villageId: village.id })
      .filter((r) => options.residentIds === undefined || options.residentIds.has(r.id))
      // A person who left the registry is kept for the reports, not listed in it.
      .filter((r) => r.leftOn === null);
    people += residents.length;
    addVillageSheet(workbook, registry, village, residents, options, sheetName(village.name, usedNames));
  }
  return { workbook, villages, people };
}

/** The workbook's bytes. */
export async function registryXlsx(registry: SqliteRegistryStore, options: ExportOptions): Promise<{ bytes: Buffer; villages: VillageRow[]; people: number }> {
  const { workbook, villages, people } = buildRegistryWorkbook(registry, options);
  const bytes = Buffer.from(await workbook.xlsx.writeBuffer());
  return { bytes, villages, people };
}

/** Excel's sheet names: at most 31 characters, none of []:*?/\, unique. */
function sheetName(name: string, used: Set<string>): string {
  const base = name.replace(/[[\]:*?/\\]/g, '_').slice(0, 31) || '村';
  let candidate = base;
  for (let i = 2; used.has(candidate); i++) candidate = `${base.slice(0, 28)}(${i})`;
  used.add(candidate);
  return candidate;
}

function addVillageSheet(workbook: ExcelJS.Workbook, registry: SqliteRegistryStore, village: VillageRow, residents: ResidentRow[], options: ExportOptions, name: string): void {
  const sheet = workbook.addWorksheet(name, {
    views: [{ state: 'frozen', ySplit: 3 }],
    pageSetup: { paperSize: 9, orientation: 'landscape', fitToPage: true, fitToWidth: 1, fitToHeight: 0, printTitlesRow: '3:3', horizontalCentered: true },
  });
  const width = EXPORT_COLUMNS.length;
  sheet.columns = EXPORT_COLUMNS.map((c) => ({ width: c.width }));
  // The ID number column is text: an 18-digit number would be shown as 4.30524E+17 and lose its last digits.
  sheet.getColumn(4).numFmt = '@';
  sheet.getColumn(8).numFmt = '@';

  const title = sheet.getRow(1);
  title.getCell(1).value = `${village.township ?? ''}${village.name}关爱对象台账`;
  title.getCell(1).font = TITLE_FONT;
  title.getCell(1).alignment = { horizontal: 'center', vertical: 'middle' };
  title.height = 30;
  sheet.mergeCells(1, 1, 1, width);
  const sub = sheet.getRow(2);
  sub.getCell(1).value = `${[village.county, village.township, village.name].filter(Boolean).join(' ')}　共 ${residents.length} 人　导出日期：${options.today}`;
  sub.getCell(1).font = { ...BODY_FONT, size: 10 };
  sub.getCell(1).alignment = { horizontal: 'right' };
  sheet.mergeCells(2, 1, 2, width);

  const header = sheet.getRow(3);
  EXPORT_COLUMNS.forEach((c, i) => {
    const cell = header.getCell(i + 1);
    cell.value = c.header;
    cell.font = { ...BODY_FONT, bold: true };
    cell.alignment = { horizontal: 'center', vertical: 'middle', wrapText: true };
    cell.fill = { type: 'pattern', pattern: 'solid', fgColor: { argb: 'FFE7E6E6' } };
    cell.border = THIN;
  });
  header.height = 22;

  residents.forEach((r, i) => {
    const helpers = registry
      .contactsOf(r.id)
      .filter((c) => c.role === 'helper')
      .map((c) => ({ name: c.name, ...(c.post ? { post: c.post } : {}), phone: options.phone(c.phone) }));
    const row = sheet.getRow(4 + i);
    const values: Array<string | number> = [
      i + 1,
      r.name,
      sexLabel(r),
      r.idNumber ? options.idNumber(r.idNumber) : '',
      labelOf(PERSON_CATEGORIES, r.category),
      formatHelpers(helpers),
      r.measures ?? '',
      r.phone ? options.phone(r.phone) : '',
      r.notes ?? '',
    ];
    values.forEach((v, c) => {
      const cell = row.getCell(c + 1);
      cell.value = v;
      cell.font = BODY_FONT;
      cell.border = THIN;
      cell.alignment = { vertical: 'middle', wrapText: c >= 4, ...(c === 0 || c === 2 ? { horizontal: 'center' } : {}) };
    });
  });
}

/** 男 or 女: as recorded, else as the ID number says (its 17th digit). */
function sexLabel(r: ResidentRow): string {
  const sex = r.sex ?? (r.idNumber && /^\d{17}[\dX]$/.test(r.idNumber) ? idNumberFacts(r.idNumber).sex : null);
  return sex === 'F' ? '女' : sex === 'M' ? '男' : '';
}

