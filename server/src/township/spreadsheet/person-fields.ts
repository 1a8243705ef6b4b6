/**
 * The person record's fields as a spreadsheet writes them, read with the
 * protocol's definitions (township.ts: the ID number check, the categories,
 * care levels and living situations) and explained in Chinese for the preview.
 */
import {
  CARE_LEVELS,
  categoryFromText,
  idNumberCheckDigit,
  idNumberFacts,
  idNumberProblem,
  latestTodayIso,
  LIVING_SITUATIONS,
  PERSON_CATEGORIES,
  type CareLevelCode,
  type LivingSituationCode,
  type PersonCategoryCode,
} from '@kanjia/protocol';

export type CategoryValue = PersonCategoryCode;
export type CareLevelValue = CareLevelCode;
export type LivingValue = LivingSituationCode;

type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

/** An ID number checked as GB 11643-1999 says, with the facts inside it, or why not (in Chinese). */
export function checkIdNumber(id: string, nowMs: number = Date.now()): { ok: true; birthYear: number; sex: 'F' | 'M' } | { ok: false; message: string } {
  if (!/^\d{17}[\dX]$/.test(id)) return { ok: false, message: `身份证号码“${id}”应为 18 位（17 位数字加 1 位数字或 X），现在是 ${id.length} 位` };
  if (idNumberProblem(id, latestTodayIso(nowMs)) === undefined) {
    const facts = idNumberFacts(id);
    return { ok: true, birthYear: facts.birthYear, sex: facts.sex };
  }
  const expected = idNumberCheckDigit(id.slice(0, 17));
  const date = id.slice(6, 14);
  const y = Number(date.slice(0, 4));
  const d = new Date(Date.UTC(y, Number(date.slice(4, 6)) - 1, Number(date.slice(6, 8))));
  const realDate = y >= 1850 && d.toISOString().slice(0, 10).replace(/-/g, '') === date;
  if (!realDate) return { ok: false, message: `身份证号码第 7–14 位应为出生日期，“${date}”不是有效日期` };
  if (id[17] !== expected) return { ok: false, message: `身份证号码校验位错误：最后一位应为 ${expected}，不是 ${id[17]}（请核对是否录错）` };
  return { ok: false, message: `身份证号码中的出生日期 ${date} 晚于今天` };
}

/** The category a cell names (人员类别), or why not. */
export function parseCategory(text: string): Parsed<CategoryValue> {
  const code = categoryFromText(text);
  if (code !== undefined) return { ok: true, value: code };
  return { ok: false, message: `未知的人员类别“${text}”：应为 ${PERSON_CATEGORIES.map((c) => c.zh).join('、')} 之一` };
}

/** The care level a cell names (护理等级 / 关爱等级): 一般 or 特别困难, with the words used in practice. */
export function parseCareLevel(text: string): Parsed<CareLevelValue> {
  const t = text.replace(/\s+/g, '');
  const exact = CARE_LEVELS.find((c) => c.code === t || c.zh === t);
  if (exact) return { ok: true, value: exact.code };
  if (/特别困难|特困|重点/.test(t)) return { ok: true, value: 'especiallyDifficult' };
  if (/一般|普通|常规/.test(t)) return { ok: true, value: 'ordinary' };
  return { ok: false, message: `未知的护理等级“${text}”：应为“一般”或“特别困难”` };
}

/** The living situation a cell names (居住情况), or why not. */
export function parseLiving(text: string): Parsed<LivingValue> {
  const t = text.replace(/\s+/g, '');
  const exact = LIVING_SITUATIONS.find((c) => c.code === t || c.zh === t);
  if (exact) return { ok: true, value: exact.code };
  if (/独居|一人|单独/.test(t)) return { ok: true, value: 'alone' };
  if (/配偶|老伴|夫妻|老两口/.test(t)) return { ok: true, value: 'withSpouse' };
  if (/留守|外出/.test(t)) return { ok: true, value: 'leftBehind' };
  if (/子女|儿子|女儿/.test(t)) return { ok: true, value: 'withChildren' };
  if (/亲属|亲戚|侄|孙/.test(t)) return { ok: true, value: 'withRelatives' };
  if (/^其他|^其它/.test(t)) return { ok: true, value: 'other' };
  return { ok: false, message: `未知的居住情况“${text}”：应为 ${LIVING_SITUATIONS.map((c) => c.zh).join('、')} 之一` };
}
