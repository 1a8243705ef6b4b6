/**
 * Which column is which: the Chinese column names of the registries the
 * policies ask for (一人一档 sample layout: 序号, 姓名, 性别, 身份证号码, 人员类别,
 * 帮扶责任人（职务）, 帮扶措施, 联系电话, 备注) and the variants townships write,
 * and where the header row is (a title row, merged or not, often stands above it).
 */
import type { RawCell } from './sheet-reader.js';

/** The fields a registry spreadsheet can hold. */
export const SHEET_FIELDS = [
  'seq',
  'name',
  'sex',
  'idNumber',
  'category',
  'careLevel',
  'helpers',
  'helperPhone',
  'measures',
  'phone',
  'notes',
  'village',
  'address',
  'guardian',
  'guardianPhone',
  'guardianWorkplace',
  'living',
  'health',
  'birthYear',
] as const;
export type SheetField = (typeof SHEET_FIELDS)[number];

/**
 * Column names as townships write them, after normalising (no spaces, ASCII
 * parentheses, no "*" of a required column). The first one is the name the
 * export writes and the preview shows.
 */
export const COLUMN_NAMES: Readonly<Record<SheetField, readonly string[]>> = {
  seq: ['序号', '编号', '序'],
  name: ['姓名', '老人姓名', '对象姓名', '关爱对象姓名', '服务对象姓名', '名字'],
  sex: ['性别'],
  idNumber: ['身份证号码', '身份证号', '身份证', '公民身份号码', '公民身份证号码', '身份证件号码', '证件号码'],
  category: ['人员类别', '类别', '对象类别', '人员类型', '类型', '关爱对象类别'],
  careLevel: ['护理等级', '关爱等级', '关爱程度', '困难程度', '帮扶等级', '探访等级'],
  helpers: ['帮扶责任人(职务)', '帮扶责任人', '帮扶人', '帮扶人(职务)', '帮扶责任人及职务', '责任人(职务)', '责任人', '包保责任人', '结对帮扶人'],
  helperPhone: ['帮扶责任人联系电话', '帮扶责任人电话', '帮扶人电话', '帮扶人联系电话', '责任人电话', '责任人联系电话', '帮扶责任人手机'],
  measures: ['帮扶措施', '关爱措施', '措施', '帮扶内容'],
  phone: ['联系电话', '电话', '手机', '手机号码', '联系方式', '本人电话', '本人联系电话'],
  notes: ['备注', '说明'],
  village: ['所属村', '村', '村名', '所在村', '村(社区)', '村组', '行政村', '村别'],
  address: ['住址', '地址', '家庭住址', '居住地址', '现住址', '家庭地址'],
  guardian: ['监护人', '赡养人', '监护人姓名', '赡养人姓名', '子女'],
  guardianPhone: ['监护人电话', '监护人联系电话', '赡养人电话', '子女电话', '监护人手机'],
  guardianWorkplace: ['监护人工作单位', '赡养人工作单位', '监护人务工地点', '子女工作单位', '务工地点'],
  living: ['居住情况', '居住状况', '生活状况', '居住方式'],
  health: ['健康状况', '身体状况', '健康情况', '病史'],
  birthYear: ['出生年月', '出生日期', '出生年份'],
};

/** The column of each field found in a header row (0-based). */
export type ColumnMap = Partial<Record<SheetField, number>>;

/** A header row found in a sheet. */
export interface HeaderRow {
  /** 0-based index of the header row in the sheet's rows. */
  rowIndex: number;
  columns: ColumnMap;
  /** Header cells that name no known column (kept out of the import; the preview lists them). */
  unknown: string[];
}

/** The header row is looked for in this many rows from the top. */
const HEADER_SEARCH_ROWS = 15;

/** Normalised header text: no whitespace or "*", ASCII parentheses, full-width letters folded. */
export function normaliseHeader(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/[\s\u3000*＊:：]/g, '')
    .replace(/[（【\[]/g, '(')
    .replace(/[）】\]]/g, ')');
}

const ALIASES: ReadonlyMap<string, SheetField> = new Map(SHEET_FIELDS.flatMap((f) => COLUMN_NAMES[f].map((n) => [normaliseHeader(n), f] as const)));

/** The field a header cell names, if any: exact name first, then without a parenthesised remark ("身份证号码(18位)"). */
export function fieldOf(header: string): SheetField | undefined {
  const h = normaliseHeader(header);
  if (h === '') return undefined;
  return ALIASES.get(h) ?? ALIASES.get(h.replace(/\([^)]*\)/g, ''));
}

/**
 * Finds the header row: the first of the top rows that names 姓名 and at least
 * one more known column. A title row above it ("石门村关爱对象台账", merged
 * across the columns) names none, so it is passed over.
 */
export function findHeader(rows: readonly RawCell[][]): HeaderRow | undefined {
  for (let i = 0; i < Math.min(rows.length, HEADER_SEARCH_ROWS); i++) {
    const row = rows[i] ?? [];
    const columns: ColumnMap = {};
    const unknown: string[] = [];
    row.forEach((cell, c) => {
      const field = fieldOf(cell.text);
      if (field === undefined) {
        if (cell.text !== '') unknown.push(cell.text);
      } else if (columns[field] === undefined) {
        columns[field] = c;
      }
    });
    if (columns.name !== undefined && Object.keys(columns).length >= 2) return { rowIndex: i, columns, unknown };
  }
  return undefined;
}

/** The name of a field as the preview and the export show it. */
export function columnName(field: SheetField): string {
  return field === 'helpers' ? '帮扶责任人（职务）' : (COLUMN_NAMES[field][0] as string);
}
