/**
 * The person record's checks, pure (protocol/src/township.ts) and through the
 * resident routes: ID numbers by GB 11643-1999 (check digit, birth date, not
 * in the future, sex from the 17th digit), age, the policies' categories and
 * the visit frequency settings.
 */
import {
  ageOn,
  categoryFromText,
  IdNumber,
  idNumberCheckDigit,
  idNumberFacts,
  idNumberProblem,
  idNumberSexProblem,
  parseVisitFrequency,
  ResidentInput,
  visitIntervalDays,
} from '@kanjia/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../src/config.js';
import { ID_LI, ID_WANG, ID_ZHANG, townshipApp, type TownshipApp } from './township-helpers.js';

describe('ID numbers (GB 11643-1999)', () => {
  it('computes the check digit with the standard weights, X for 10', () => {
    // The standard's own example: 11010519491231002X.
    expect(idNumberCheckDigit('11010519491231002')).toBe('X');
    expect(idNumberCheckDigit('43052419410101124')).toBe('0');
    for (const id of [ID_WANG, ID_LI, ID_ZHANG, '11010519491231002X']) expect(idNumberProblem(id, '2026-12-02')).toBeUndefined();
  });

  it('refuses a wrong check digit and says which one it should be', () => {
    expect(idNumberProblem('430524194101011234', '2026-12-02')).toBe('idNumber: the last character (the check digit) should be 2, not 4: check the number for a typing mistake');
    // A single typed digit changed is caught.
    expect(idNumberProblem('430524194101021240', '2026-12-02')).toMatch(/check digit/);
  });

  it('refuses a birth date that does not exist or lies in the future', () => {
    expect(idNumberProblem('430524194102301240', '2026-12-02')).toMatch(/19410230 is not one/);
    expect(idNumberProblem('430524194113011240', '2026-12-02')).toMatch(/real birth date/);
    const future = `43052420990101124`;
    expect(idNumberProblem(future + idNumberCheckDigit(future), '2026-12-02')).toBe('idNumber: the birth date inside it, 2099-01-01, is in the future');
    // The day after "today" is the future too, with its check digit right.
    const tomorrow = '43052420261203124';
    expect(idNumberProblem(tomorrow + idNumberCheckDigit(tomorrow), '2026-12-02')).toMatch(/in the future/);
    expect(idNumberProblem(tomorrow + idNumberCheckDigit(tomorrow), '2026-12-03')).toBeUndefined();
  });

  it('refuses the wrong length or letters, and reads a final x as X', () => {
    expect(idNumberProblem('43052419410101124', '2026-12-02')).toBe('idNumber: 18 characters, 17 digits and a digit or X');
    expect(idNumberProblem('4305241941010112X0', '2026-12-02')).toMatch(/18 characters/);
    expect(IdNumber.parse('11010519491231002x')).toBe('11010519491231002X');
  });

  it('reads the birth date and sex from the number; a mismatch with the given sex is a clear error', () => {
    expect(idNumberFacts(ID_WANG)).toEqual({ birthDate: '1941-01-01', birthYear: 1941, sex: 'F' });
    expect(idNumberFacts(ID_ZHANG).sex).toBe('M');
    expect(idNumberSexProblem(ID_WANG, 'F')).toBeUndefined();
    expect(idNumberSexProblem(ID_WANG, 'M')).toBe('sex: the ID number says 女 (F) (its 17th digit, 4, is even), but the record says 男 (M): correct one of them');
  });

  it('gives the age from the ID number (birthday counted), else from the birth year', () => {
    expect(ageOn('2026-12-02', { idNumber: ID_ZHANG, birthYear: 1900 })).toBe(87); // born 1938-12-31: not 88 before the 31st
    expect(ageOn('2026-12-31', { idNumber: ID_ZHANG })).toBe(88);
    expect(ageOn('2026-12-02', { idNumber: null, birthYear: 1941 })).toBe(85);
    expect(ageOn('2026-12-02', {})).toBeNull();
  });
});

describe('categories and visit frequency', () => {
  it('reads the policies’ names and the short names in use as category codes; an unknown text is refused with the list', () => {
    expect(categoryFromText('分散供养特困人员')).toBe('dispersedSupport');
    expect(categoryFromText('特困供养')).toBe('dispersedSupport');
    expect(categoryFromText('一、二级重度残疾人（无有能力赡养人）')).toBe('severeDisability');
    expect(categoryFromText('低保对象')).toBe('minimumLiving');
    expect(categoryFromText('易返贫致贫户（监测户）')).toBe('povertyMonitored');
    expect(categoryFromText('独居')).toBe('leftBehindOrAlone');
    expect(categoryFromText('留守老人 / 独居老人（需帮扶）')).toBe('leftBehindOrAlone');
    expect(categoryFromText('其他')).toBe('other');
    expect(categoryFromText('minimumLiving')).toBe('minimumLiving');
    expect(categoryFromText('村干部')).toBeUndefined();
    const bad = ResidentInput.safeParse({ name: '某', category: '村干部', contacts: [{ name: '刘', role: 'helper', phone: '13800000001' }] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toMatch(/^category: one of dispersedSupport \(分散供养特困人员\)/);
  });

  it('parses 2/month, 1/week and 1/month into days between visits; a bad setting stops the start with a clear message', () => {
    expect(visitIntervalDays(parseVisitFrequency('2/month'))).toBe(15);
    expect(visitIntervalDays(parseVisitFrequency('1/week'))).toBe(7);
    expect(visitIntervalDays(parseVisitFrequency(' 1 / month '))).toBe(30);
    const s = loadSettings({ KANJIA_VISIT_FREQUENCY_ORDINARY: '1/month' });
    expect(s.visitFrequencyOrdinary).toEqual({ count: 1, per: 'month' });
    expect(s.visitFrequencyEspeciallyDifficult).toEqual({ count: 1, per: 'week' });
    let problems: string[] = [];
    try {
      loadSettings({ KANJIA_VISIT_FREQUENCY_ORDINARY: 'twice a month', KANJIA_VISIT_FREQUENCY_ESPECIALLY_DIFFICULT: '9/week' });
    } catch (err) {
      problems = (err as SettingsError).problems;
    }
    expect(problems).toEqual([
      'KANJIA_VISIT_FREQUENCY_ORDINARY: "twice a month" is not a visit frequency: write visits per week or month, such as 2/month, 1/week or 1/month (at most 7/week or 30/month)',
      'KANJIA_VISIT_FREQUENCY_ESPECIALLY_DIFFICULT: "9/week" is not a visit frequency: write visits per week or month, such as 2/month, 1/week or 1/month (at most 7/week or 30/month)',
    ]);
  });
});

describe('ID numbers through the resident routes', () => {
  let t: TownshipApp;
  beforeEach(async () => {
    t = await townshipApp();
  });
  afterEach(async () => t.close());

  const newResident = (extra: Record<string, unknown>) =>
    t.as('admin', 'POST', `/api/households/${t.ids.wangHousehold}/residents`, { name: '王大爷', contacts: [{ name: '刘建军', role: 'helper', phone: '13800000001' }], ...extra });

  it('refuses a bad check digit, a date that does not exist and a future date with 400 naming the field; nothing is created', async () => {
    const before = t.registry.residents({}).length;
    for (const [idNumber, text] of [
      ['430524194101011234', 'should be 2, not 4'],
      ['430524194102301240', '19410230 is not one'],
      ['430524209901011246', 'in the future'],
    ] as const) {
      const res = await newResident({ idNumber });
      expect(res.statusCode).toBe(400);
      expect(res.json()).toMatchObject({ code: 'BAD_REQUEST' });
      expect(res.json().message).toContain('idNumber');
      expect(res.json().message).toContain(text);
    }
    expect(t.registry.residents({}).length).toBe(before);
  });

  it('refuses a sex that contradicts the ID number, on create and on an edit of either field', async () => {
    const created = await newResident({ idNumber: ID_ZHANG, sex: 'F' });
    expect(created.statusCode).toBe(400);
    expect(created.json()).toEqual({ code: 'BAD_REQUEST', message: 'sex: the ID number says 男 (M) (its 17th digit, 3, is odd), but the record says 女 (F): correct one of them' });
    // 王秀英 is F with a female number: changing only the sex, or only the number, to a contradiction is refused.
    const sexOnly = await t.as('admin', 'PATCH', `/api/residents/${t.ids.wang}`, { sex: 'M' });
    expect(sexOnly.statusCode).toBe(400);
    expect(sexOnly.json().message).toMatch(/^sex: the ID number says 女 \(F\)/);
    const idOnly = await t.as('admin', 'PATCH', `/api/residents/${t.ids.wang}`, { idNumber: ID_ZHANG });
    expect(idOnly.statusCode).toBe(400);
    expect(t.registry.resident(t.ids.wang)).toMatchObject({ sex: 'F', idNumber: ID_WANG });
    // Both together, consistent: fine; the age now comes from the number.
    const both = await t.as('admin', 'PATCH', `/api/residents/${t.ids.wang}`, { sex: 'M', idNumber: ID_ZHANG.toLowerCase() });
    expect(both.statusCode).toBe(200);
    expect(both.json()).toMatchObject({ sex: 'M', idNumber: ID_ZHANG, age: 87 });
  });
});
