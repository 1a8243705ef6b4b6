/**
 * The person edit form's logic (person-edit.ts): the PATCH body holds only what
 * changed, and the server's refusals, with the very sentences protocol's
 * schemas and checks write (as the app's error handler joins them), become one
 * sentence per field in Chinese and English.
 */
import { idNumberCheckDigit, idNumberProblem, idNumberSexProblem, PersonRecord, UpdateResidentBody } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import { changedFields, fieldProblems, formOf } from '../src/person-edit';

const ID = '430524194101011240';
const record = PersonRecord.parse({
  id: 'res_1',
  name: '王秀英',
  sex: 'F',
  age: 85,
  idNumber: ID,
  idNumberMasked: false,
  phone: null,
  phoneMasked: false,
  category: 'leftBehindOrAlone',
  careLevel: 'ordinary',
  villageId: 'vil_1',
  villageName: '石门村',
  householdId: 'hh_1',
  address: '石门村一组12号',
  helpers: [],
  joinedOn: '2026-01-05',
  left: null,
  lastVisitAt: null,
  nextVisit: null,
  birthYear: null,
  birthDate: '1941-01-01',
  livingSituation: null,
  measures: null,
  notes: '女儿在外地',
  medicalNotes: null,
  conditions: ['高血压'],
  medicationNotes: null,
  guardian: { name: null, workplace: null, phone: null },
  visitFrequency: { count: 2, per: 'month', intervalDays: 15 },
  canEdit: true,
  canEditIdNumber: true,
  canEditChain: true,
  canVisit: true,
  timezone: 'Asia/Shanghai',
});

/** The message of a BAD_REQUEST for `body` as app.ts writes it: "body.<path>: <message>" joined by "; ". */
function refusal(body: unknown): string {
  const parsed = UpdateResidentBody.safeParse(body);
  if (parsed.success) throw new Error('expected a refusal');
  return parsed.error.issues.map((i) => `body.${i.path.join('.')}: ${i.message}`).join('; ');
}

describe('the PATCH body of the edit form', () => {
  it('holds only the fields that changed; empty clears; conditions become a list; the ID number only when the role may change it', () => {
    const before = formOf(record);
    expect(changedFields(before, { ...before }, { idNumber: true })).toEqual({});
    const after = { ...before, phone: ' 13712345678 ', notes: '', careLevel: 'especiallyDifficult' as const, conditions: '高血压、糖尿病, 关节炎', birthYear: '1941', idNumber: '430524194101011241' };
    expect(changedFields(before, after, { idNumber: true })).toEqual({ phone: '13712345678', notes: null, careLevel: 'especiallyDifficult', conditions: ['高血压', '糖尿病', '关节炎'], birthYear: 1941, idNumber: '430524194101011241' });
    expect(changedFields(before, after, { idNumber: false })).not.toHaveProperty('idNumber');
    // What the form sends, the server's schema reads.
    expect(UpdateResidentBody.safeParse(changedFields(before, { ...after, idNumber: ID }, { idNumber: true })).success).toBe(true);
  });
});

describe("the server's refusal next to each field", () => {
  it('says what is wrong with a phone number and an ID number, in Chinese and English, keeping the server words', () => {
    const message = refusal({ phone: '12345', idNumber: '430524194101011241', guardianPhone: 'abc' });
    const of = (lang: 'zh' | 'en', field: string) => fieldProblems(message, lang).find((p) => p.field === field)!;
    expect(fieldProblems(message, 'zh').map((p) => p.field).sort()).toEqual(['guardianPhone', 'idNumber', 'phone']);
    expect(of('zh', 'phone').text).toBe('请填写11位手机号码，例如 13812345678。');
    expect(of('zh', 'guardianPhone').text).toBe('请填写11位手机号码，例如 13812345678。');
    expect(of('zh', 'idNumber').text).toBe('身份证号码最后一位（校验码）应为 0，不是 1：请检查是否输错。');
    expect(of('zh', 'idNumber').server).toContain('check digit');
    expect(of('en', 'idNumber').text).toBe('The last character of the ID number (the check digit) should be 0, not 1: check for a typing mistake.');
  });

  it('names each of the ID number checks (length, birth date, future, check digit) and the sex it contradicts', () => {
    const today = '2026-12-03';
    const short = idNumberProblem('43052419410101', today)!;
    const badDate = idNumberProblem(`43052419411301002${idNumberCheckDigit('43052419411301002')}`, today)!;
    const future = idNumberProblem(`43052420990101002${idNumberCheckDigit('43052420990101002')}`, today)!;
    const texts = [short, badDate, future].map((m) => fieldProblems(m, 'zh')[0]!);
    expect(texts.map((p) => p.field)).toEqual(['idNumber', 'idNumber', 'idNumber']);
    expect(texts[0]!.text).toBe('身份证号码应为18位：17位数字，最后一位是数字或 X。');
    expect(texts[1]!.text).toBe('身份证号码第7至14位应是真实的出生日期（年月日），19411301 不是。');
    expect(texts[2]!.text).toBe('身份证号码里的出生日期 2099-01-01 晚于今天。');
    const sex = fieldProblems(idNumberSexProblem(ID, 'M')!, 'zh')[0]!;
    expect(sex).toMatchObject({ field: 'sex', text: '身份证号码显示为女（第17位是 4），与所填性别男不符：请改正其中一项。' });
  });

  it('keeps a sentence that names no field as it is, for the form to show above its buttons', () => {
    expect(fieldProblems('something else went wrong', 'zh')).toEqual([{ field: '', text: 'something else went wrong', server: 'something else went wrong' }]);
  });
});
