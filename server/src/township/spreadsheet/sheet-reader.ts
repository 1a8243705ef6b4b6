/**
 * Reads an uploaded spreadsheet into plain text grids: XLSX through ExcelJS,
 * CSV decoded from UTF-8 (with or without BOM), UTF-16 (Excel's "Unicode
 * text") or GB18030/GBK (what Excel in China writes by default) and parsed
 * by ExcelJS's CSV reader with every value kept as text (an ID number must
 * never become 4.3E+17). Old binary .xls files are refused with advice.
 */
import ExcelJS from 'exceljs';
import { Readable } from 'node:stream';
import { SpreadsheetError } from './spreadsheet-errors.js';

/** One cell as read: its text, and whether the file stored it as a number (ID numbers lose digits so). */
export interface RawCell {
  text: string;
  numeric: boolean;
}

/** One worksheet: its name and its rows, row 0 being the sheet's row 1. */
export interface RawSheet {
  name: string;
  rows: RawCell[][];
}

export type SpreadsheetFormat = 'xlsx' | 'csv';

/** The text encoding a CSV file was read in. */
export type CsvEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'gb18030';

export interface ReadSpreadsheet {
  format: SpreadsheetFormat;
  /** For a CSV file: the encoding it was decoded from. */
  encoding?: CsvEncoding;
  sheets: RawSheet[];
}

/** A sheet with more rows is refused (SPREADSHEET_TOO_LARGE): a township registry has hundreds, not tens of thousands. */
export const MAX_ROWS_PER_SHEET = 5000;
/** Columns past this are ignored (a registry has about 15). */
const MAX_COLUMNS = 60;

const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** OLE2 compound file: Excel 97–2003 .xls (and .et of WPS), which ExcelJS cannot read. */
const OLE_MAGIC = [0xd0, 0xcf, 0x11, 0xe0];

const startsWith = (bytes: Uint8Array, magic: readonly number[]) => magic.every((b, i) => bytes[i] === b);

/** Reads the file's sheets; throws SpreadsheetError (Chinese message) when it is not a spreadsheet it can read. */
export async function readSpreadsheet(bytes: Uint8Array): Promise<ReadSpreadsheet> {
  if (bytes.length === 0) throw new SpreadsheetError('SPREADSHEET_EMPTY', '文件是空的（0 字节）');
  if (startsWith(bytes, ZIP_MAGIC)) return { format: 'xlsx', sheets: await readXlsx(bytes) };
  if (startsWith(bytes, OLE_MAGIC)) {
    throw new SpreadsheetError('SPREADSHEET_UNREADABLE', '这是旧版 Excel 97-2003 (.xls) 文件：请在 Excel 或 WPS 中“另存为” .xlsx 或 CSV 后再导入');
  }
  const { text, encoding } = decodeText(bytes);
  return { format: 'csv', encoding, sheets: [{ name: 'CSV', rows: await readCsv(text) }] };
}

async function readXlsx(bytes: Uint8Array): Promise<RawSheet[]> {
  checkZipSize(bytes);
  const workbook = new ExcelJS.Workbook();
  try {
    // ExcelJS's typing wants its own Buffer; a Node Buffer over the same bytes is what it reads.
    await workbook.xlsx.load(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as unknown as ExcelJS.Buffer);
  } catch (err) {
    throw new SpreadsheetError('SPREADSHEET_UNREADABLE', `无法读取这个 .xlsx 文件（${(err as Error).message}）：请确认它是 Excel 或 WPS 保存的表格`);
  }
  return workbook.worksheets.map((sheet) => {
    if (sheet.actualRowCount > MAX_ROWS_PER_SHEET) throw tooManyRows(sheet.name);
    const rows: RawCell[][] = [];
    // Only rows with values: a sheet formatted down to row 1048576 is not read row by row.
    sheet.eachRow({ includeEmpty: false }, (row, r) => {
      while (rows.length < r - 1) rows.push([]);
      const cells: RawCell[] = [];
      const width = Math.min(row.cellCount, MAX_COLUMNS);
      for (let c = 1; c <= width; c++) cells.push(cellOf(row.getCell(c)));
      rows.push(cells);
    });
    return { name: sheet.name, rows };
  });
}

function tooManyRows(sheet: string): SpreadsheetError {
  return new SpreadsheetError('SPREADSHEET_TOO_LARGE', `工作表“${sheet}”超过了 ${MAX_ROWS_PER_SHEET} 行的上限：请按村拆分后分别导入`);
}

/** What the parts of an .xlsx may add up to once unzipped: a 5 MiB file of text is about 50 MiB. */
export const MAX_UNZIPPED_BYTES = 150 * 1024 * 1024;

/**
 * Refuses an .xlsx whose parts would unzip to more than MAX_UNZIPPED_BYTES
 * (a zip bomb, or a sheet of a million rows), from the sizes its central
 * directory declares (PKWARE APPNOTE 4.3.12, 4.3.16), before ExcelJS inflates
 * anything. ZIP64 sizes are beyond any registry: refused too.
 */
function checkZipSize(bytes: Uint8Array): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  // The end-of-central-directory record is the last 22 bytes, followed by a comment of at most 65535.
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (view.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new SpreadsheetError('SPREADSHEET_UNREADABLE', '这个 .xlsx 文件不完整（找不到 zip 目录）：请重新保存后再上传');
  const entries = view.getUint16(eocd + 10, true);
  let at = view.getUint32(eocd + 16, true);
  let total = 0;
  for (let n = 0; n < entries; n++) {
    if (at + 46 > bytes.length || view.getUint32(at, true) !== 0x02014b50) throw new SpreadsheetError('SPREADSHEET_UNREADABLE', '这个 .xlsx 文件已损坏：请重新保存后再上传');
    const size = view.getUint32(at + 24, true);
    total += size === 0xffffffff ? Number.POSITIVE_INFINITY : size;
    at += 46 + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  if (total > MAX_UNZIPPED_BYTES) {
    throw new SpreadsheetError('SPREADSHEET_TOO_LARGE', `这个 .xlsx 文件解压后超过 ${MAX_UNZIPPED_BYTES / 1024 / 1024} MiB：请按村拆分，或删去图片和无用的工作表`);
  }
}

/** The text of a cell as Excel shows it (rich text joined, a formula's result, a date as YYYY-MM-DD). */
function cellOf(cell: ExcelJS.Cell): RawCell {
  // A merged cell's slaves repeat the master's value: a merged title row reads the same in every column.
  const value = cell.isMerged && cell.master !== cell ? cell.master.value : cell.value;
  return valueOf(value);
}

function valueOf(value: ExcelJS.CellValue): RawCell {
  if (value === null || value === undefined) return { text: '', numeric: false };
  if (typeof value === 'number') return { text: numberText(value), numeric: true };
  if (typeof value === 'string') return { text: value.trim(), numeric: false };
  if (typeof value === 'boolean') return { text: value ? 'TRUE' : 'FALSE', numeric: false };
  if (value instanceof Date) return { text: value.toISOString().slice(0, 10), numeric: false };
  if ('richText' in value) return { text: value.richText.map((p) => p.text).join('').trim(), numeric: false };
  if ('formula' in value || 'sharedFormula' in value) {
    const result = (value as { result?: unknown }).result;
    if (result === undefined || result === null || typeof result === 'object') return { text: '', numeric: false };
    return valueOf(result as ExcelJS.CellValue);
  }
  if ('text' in value && typeof (value as { text: unknown }).text === 'string') return { text: String((value as { text: string }).text).trim(), numeric: false };
  if ('error' in value) return { text: '', numeric: false };
  return { text: '', numeric: false };
}

/** A number as its digits (no exponent for 18-digit values, so the loss of precision can be seen). */
function numberText(n: number): string {
  if (Number.isInteger(n)) return BigInt(n).toString();
  return String(n);
}

/**
 * Decodes a CSV file's bytes: a BOM says the encoding; otherwise valid UTF-8
 * is UTF-8 and anything else is read as GB18030 (a superset of GBK and
 * GB2312, Excel's "CSV" in a Chinese Windows). Node's TextDecoder knows
 * GB18030 through the full ICU data that Node ships, so no extra library.
 */
export function decodeText(bytes: Uint8Array): { text: string; encoding: CsvEncoding } {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { text: decode('utf-8', bytes.subarray(3)), encoding: 'utf-8' };
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return { text: decode('utf-16le', bytes.subarray(2)), encoding: 'utf-16le' };
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return { text: decode('utf-16be', bytes.subarray(2)), encoding: 'utf-16be' };
  const head = bytes.subarray(0, 4096);
  if (head.includes(0)) throw new SpreadsheetError('SPREADSHEET_UNREADABLE', '这个文件不是表格：请上传 .xlsx 或 .csv 文件');
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    // Not UTF-8: the other encoding CSV files from Chinese Excel come in.
  }
  let text: string;
  try {
    text = new TextDecoder('gb18030', { fatal: true }).decode(bytes);
  } catch {
    throw new SpreadsheetError('SPREADSHEET_UNREADABLE', '无法识别文件的文字编码（不是 UTF-8，也不是 GBK/GB18030）：请在 Excel 中另存为“CSV UTF-8”或 .xlsx');
  }
  return { text, encoding: 'gb18030' };
}

function decode(encoding: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder(encoding, { fatal: true }).decode(bytes);
  } catch {
    throw new SpreadsheetError('SPREADSHEET_UNREADABLE', `文件开头标明是 ${encoding} 编码，但内容不是：请重新保存为 .xlsx 或“CSV UTF-8”`);
  }
}

/** Parses CSV text with ExcelJS (fast-csv underneath), every value kept as the text it was; tab-separated text too. */
async function readCsv(text: string): Promise<RawCell[][]> {
  const firstLine = text.slice(0, text.search(/\r?\n|$/));
  const delimiter = (firstLine.match(/\t/g)?.length ?? 0) > (firstLine.match(/,/g)?.length ?? 0) ? '\t' : ',';
  const workbook = new ExcelJS.Workbook();
  let sheet: ExcelJS.Worksheet;
  try {
    // One row more than the limit, to tell a file at the limit from one over it.
    sheet = await workbook.csv.read(Readable.from([text]), { map: (value: unknown) => value, parserOptions: { delimiter, ignoreEmpty: false, trim: false, maxRows: MAX_ROWS_PER_SHEET + 1 } });
  } catch (err) {
    throw new SpreadsheetError('SPREADSHEET_UNREADABLE', `无法读取这个 CSV 文件（${(err as Error).message}）`);
  }
  if (sheet.rowCount > MAX_ROWS_PER_SHEET) throw tooManyRows('CSV');
  const rows: RawCell[][] = [];
  for (let r = 1; r <= sheet.rowCount; r++) {
    const row = sheet.getRow(r);
    const cells: RawCell[] = [];
    for (let c = 1; c <= Math.min(row.cellCount, MAX_COLUMNS); c++) {
      const v = row.getCell(c).value;
      cells.push({ text: v === null || v === undefined ? '' : String(v).trim(), numeric: false });
    }
    rows.push(cells);
  }
  return rows;
}
