/**
 * From a sheet's text grid to the people it lists: each data row under the
 * header becomes a SheetPerson, or problems (a row number as the spreadsheet
 * shows it, the column, a message in Chinese). Pure: the registry is not
 * consulted here (duplicates against it, villages and scope: import-plan.ts).
 */
import { columnName, findHeader, type ColumnMap, type HeaderRow, type SheetField } from './columns.js';
import { parseHelpers, type CellHelper } from './helpers-cell.js';
import { checkIdNumber, parseCareLevel, parseCategory, parseLiving, type CareLevelValue, type CategoryValue, type LivingValue } from './person-fields.js';
import type { RawCell, RawSheet } from './sheet-reader.js';

/** A problem of one row: why it cannot be imported (or, as a warning, what will be missing). */
export interface RowProblem {
  sheet: string;
  /** The row number Excel shows (1-based). */
  row: number;
  /** The column's name as the preview shows it (帮扶责任人（职务）), or null for the whole row. */
  column: string | null;
  message: string;
}

/** One person as a row of the sheet gives them. */
export interface SheetPerson {
  sheet: string;
  row: number;
  name: string;
  sex?: 'F' | 'M';
  idNumber?: string;
  birthYear?: number;
  category?: CategoryValue;
  careLevel?: CareLevelValue;
  helpers: CellHelper[];
  measures?: string;
  phone?: string;
  notes?: string;
  /** The village named in the row (所属村); else the sheet's or the caller's. */
  villageName?: string;
  address?: string;
  guardian?: string;
  guardianPhone?: string;
  guardianWorkplace?: string;
  living?: LivingValue;
  health?: string;
}

export interface ParsedSheet {
  name: string;
  header: HeaderRow;
  /** The title rows above the header, joined: "石门村关爱对象台账" (the village may be named there). */
  title: string;
  people: SheetPerson[];
  problems: RowProblem[];
  warnings: RowProblem[];
}

const MOBILE = /^(?:\+?86)?1[3-9]\d{9}$/;
/** Rows under the table that are not people: "合计", "填表人：", "审核人", a date line. */
const FOOTER = /^(合计|总计|小计|填表人|制表人|审核人|负责人|填报单位|填表日期|制表日期|说明|注[:：])/;

/** The sheet's header and its people; undefined when the sheet has no header row (a notes sheet). */
export function parseSheet(sheet: RawSheet): ParsedSheet | undefined {
  const header = findHeader(sheet.rows);
  if (!header) return undefined;
  const title = sheet.rows
    .slice(0, header.rowIndex)
    .map((r) => [...new Set(r.map((c) => c.text).filter((t) => t !== ''))].join(' '))
    .filter((t) => t !== '')
    .join(' ');
  const out: ParsedSheet = { name: sheet.name, header, title, people: [], problems: [], warnings: [] };
  for (let i = header.rowIndex + 1; i < sheet.rows.length; i++) {
    const person = parseRow(sheet.name, i + 1, sheet.rows[i] ?? [], header.columns, out);
    if (person) out.people.push(person);
  }
  return out;
}

function parseRow(sheet: string, rowNumber: number, cells: readonly RawCell[], columns: ColumnMap, out: ParsedSheet): SheetPerson | undefined {
  const cell = (f: SheetField): RawCell | undefined => (columns[f] === undefined ? undefined : cells[columns[f] as number]);
  const text = (f: SheetField): string => cell(f)?.text ?? '';
  const problem = (f: SheetField | null, message: string) => out.problems.push({ sheet, row: rowNumber, column: f === null ? null : columnName(f), message });
  const warn = (f: SheetField | null, message: string) => out.warnings.push({ sheet, row: rowNumber, column: f === null ? null : columnName(f), message });

  const filled = (Object.keys(columns) as SheetField[]).filter((f) => f !== 'seq' && text(f) !== '');
  if (filled.length === 0) return undefined; // an empty row, or only a 序号
  const first = cells.find((c) => c.text !== '')?.text ?? '';
  if (FOOTER.test(first) && text('idNumber') === '') return undefined;

  const before = out.problems.length;
  const name = text('name');
  if (name === '') problem('name', '缺少姓名');
  else if (name.length > 64) problem('name', '姓名太长（最多 64 个字）');

  let sex: 'F' | 'M' | undefined;
  const sexText = text('sex');
  if (sexText !== '') {
    sex = /^(女|f|female)$/i.test(sexText) ? 'F' : /^(男|m|male)$/i.test(sexText) ? 'M' : undefined;
    if (sex === undefined) problem('sex', `性别“${sexText}”应为“男”或“女”`);
  }

  let idNumber: string | undefined;
  let birthYear: number | undefined;
  const idCell = cell('idNumber');
  const idText = (idCell?.text ?? '').replace(/[\s'‘’]/g, '').toUpperCase();
  if (idText !== '') {
    if ((idCell?.numeric && idText.length >= 15) || /^\d(\.\d+)?E\+?\d+$/.test(idText)) {
      problem('idNumber', '身份证号码被存成了数字，末几位已经丢失：请把这一列设为“文本”格式，重新填写号码后再导入');
    } else {
      const checked = checkIdNumber(idText);
      if (!checked.ok) problem('idNumber', checked.message);
      else {
        idNumber = idText;
        birthYear = checked.birthYear;
        if (sex !== undefined && sex !== checked.sex) problem('sex', `性别“${sexText}”与身份证号码（${checked.sex === 'F' ? '女' : '男'}）不符`);
        sex ??= checked.sex;
      }
    }
  }
  if (birthYear === undefined && text('birthYear') !== '') {
    const y = Number(text('birthYear').match(/^(19|20)\d{2}/)?.[0]);
    if (Number.isInteger(y) && y > 1900) birthYear = y;
    else problem('birthYear', `出生年月“${text('birthYear')}”看不懂：请写成 1941-03 或 1941年3月`);
  }

  let category: CategoryValue | undefined;
  if (text('category') !== '') {
    const c = parseCategory(text('category'));
    if (c.ok) category = c.value;
    else problem('category', c.message);
  }
  let careLevel: CareLevelValue | undefined;
  if (text('careLevel') !== '') {
    const c = parseCareLevel(text('careLevel'));
    if (c.ok) careLevel = c.value;
    else problem('careLevel', c.message);
  }

  let living: LivingValue | undefined;
  if (text('living') !== '') {
    const c = parseLiving(text('living'));
    if (c.ok) living = c.value;
    else problem('living', c.message);
  }

  const mobile = (f: 'phone' | 'guardianPhone', label: string): string | undefined => {
    if (text(f) === '') return undefined;
    const p = text(f).replace(/[\s-]/g, '');
    if (MOBILE.test(p)) return p.replace(/^\+?86/, '');
    problem(f, `${label}“${text(f)}”不是 11 位手机号码`);
    return undefined;
  };
  const phone = mobile('phone', '联系电话');
  const guardianPhone = mobile('guardianPhone', '监护人电话');

  const helpers = parseHelpers(text('helpers'), text('helperPhone'));
  for (const h of helpers) if (h.name.length > 64) problem('helpers', `帮扶责任人“${h.name}”的名字太长`);
  const helperColumn: SheetField = columns.helperPhone !== undefined ? 'helperPhone' : 'helpers';
  if (text('helperPhone') !== '' && text('helpers') === '') problem('helpers', '有帮扶责任人电话，却没有帮扶责任人姓名');
  for (const h of helpers.filter((x) => x.phone === undefined)) {
    warn(helperColumn, `帮扶责任人${h.name}没有手机号码：报警时不会给他/她发短信`);
  }

  if (out.problems.length > before) return undefined;
  const optional = (f: SheetField, max = 500): string | undefined => {
    const t = text(f);
    if (t === '') return undefined;
    return t.length > max ? t.slice(0, max) : t;
  };
  return {
    sheet,
    row: rowNumber,
    name,
    helpers,
    ...(sex ? { sex } : {}),
    ...(idNumber ? { idNumber } : {}),
    ...(birthYear ? { birthYear } : {}),
    ...(category ? { category } : {}),
    ...(careLevel ? { careLevel } : {}),
    ...(living ? { living } : {}),
    ...(phone ? { phone } : {}),
    ...(guardianPhone ? { guardianPhone } : {}),
    ...opt('measures', optional('measures', 2000)),
    ...opt('notes', optional('notes', 2000)),
    ...opt('villageName', optional('village', 64)),
    ...opt('address', optional('address', 200)),
    ...opt('guardian', optional('guardian', 64)),
    ...opt('guardianWorkplace', optional('guardianWorkplace', 200)),
    ...opt('health', optional('health', 2000)),
  };
}

const opt = <K extends string>(key: K, value: string | undefined): Partial<Record<K, string>> => (value === undefined ? {} : ({ [key]: value } as Record<K, string>));
