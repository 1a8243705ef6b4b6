/**
 * The "1+N" helpers of a 帮扶责任人（职务） cell: "张三（村支书）、李四（网格员）",
 * with the phone in the same cell ("张三（村支书）13812345678", "张三（村支书，
 * 13812345678）") or in a column of its own ("13812345678、13912345678", in
 * the helpers' order). The export writes the same form, so a file read back
 * gives the same helpers.
 */

/** One helper as a cell names them. */
export interface CellHelper {
  name: string;
  /** 职务: 村支书, 网格员, 村医 … */
  post?: string;
  /** A mainland mobile number, 11 digits; absent when the sheet gives none. */
  phone?: string;
}

const MOBILE = /(?:\+?86[-\s]?)?(1[3-9]\d(?:[-\s]?\d){8})/g;
const SEPARATORS = new Set(['、', '，', ',', '；', ';', '/', '／', '\n', '|']);

/** Splits at separators outside parentheses: "张三（村支书，13812345678）、李四" is two parts. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text.normalize('NFKC')) {
    if (ch === '(' || ch === '（' || ch === '[') depth++;
    if ((ch === ')' || ch === '）' || ch === ']') && depth > 0) depth--;
    if (depth === 0 && SEPARATORS.has(ch)) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts.map((p) => p.trim()).filter((p) => p !== '');
}

/** The mobile numbers in a text, digits only, in order. */
export function mobilesIn(text: string): string[] {
  return [...text.normalize('NFKC').matchAll(MOBILE)].map((m) => (m[1] as string).replace(/[-\s]/g, ''));
}

/** The helpers a cell names, in order; `phoneCell` is the helpers' own phone column, if the sheet has one. */
export function parseHelpers(cell: string, phoneCell = ''): CellHelper[] {
  const helpers = splitTopLevel(cell).map(parseOne).filter((h): h is CellHelper => h !== undefined);
  const phones = mobilesIn(phoneCell);
  // A separate phone column gives the phones in the helpers' order, for those whose cell has none.
  let next = 0;
  for (const h of helpers) {
    if (h.phone !== undefined) continue;
    const phone = phones[next++];
    if (phone !== undefined) h.phone = phone;
  }
  return helpers;
}

function parseOne(part: string): CellHelper | undefined {
  const phone = mobilesIn(part)[0];
  let rest = part.replace(MOBILE, ' ');
  let post: string | undefined;
  const paren = rest.match(/[(（]([^)）]*)[)）]/);
  if (paren) {
    post = (paren[1] as string).replace(/[，,；;:：\s]+/g, ' ').trim() || undefined;
    rest = rest.replace(paren[0], ' ');
  }
  // "张三 村支书" (a space or a dash instead of parentheses).
  const words = rest.replace(/[-—:：]/g, ' ').split(/\s+/).filter((w) => w !== '');
  const name = words.shift();
  if (name === undefined) return undefined;
  if (post === undefined && words.length > 0) post = words.join(' ');
  return { name, ...(post ? { post } : {}), ...(phone ? { phone } : {}) };
}

/** How the export writes the helpers: "张三（村支书）13812345678、李四（网格员）". */
export function formatHelpers(helpers: readonly CellHelper[]): string {
  return helpers.map((h) => `${h.name}${h.post ? `（${h.post}）` : ''}${h.phone ?? ''}`).join('、');
}
