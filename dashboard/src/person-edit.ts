/**
 * The person record's edit form, the parts that are not the template: the
 * form's values from a record, the PATCH body of what changed, and the
 * server's refusal (BAD_REQUEST: "body.phone: phone: an 11-digit …; sex: the
 * ID number says …") turned into one sentence per field, in the officer's
 * language, to show next to the field.
 */
import type { PersonRecord, UpdateResidentBody } from '@kanjia/protocol';
import type { Lang, MessageKey } from './i18n';
import { translate } from './i18n';

/** The form's fields, as text (an input's value); '' is "not given". */
export interface RecordForm {
  name: string;
  sex: '' | 'F' | 'M';
  birthYear: string;
  idNumber: string;
  phone: string;
  category: string;
  careLevel: PersonRecord['careLevel'];
  livingSituation: string;
  measures: string;
  notes: string;
  medicalNotes: string;
  conditions: string;
  medicationNotes: string;
  guardianName: string;
  guardianWorkplace: string;
  guardianPhone: string;
  joinedOn: string;
}

/** The form filled from the record as the server gave it. */
export function formOf(r: PersonRecord): RecordForm {
  return {
    name: r.name,
    sex: r.sex ?? '',
    birthYear: r.birthYear === null ? '' : String(r.birthYear),
    idNumber: r.idNumber ?? '',
    phone: r.phone ?? '',
    category: r.category ?? '',
    careLevel: r.careLevel,
    livingSituation: r.livingSituation ?? '',
    measures: r.measures ?? '',
    notes: r.notes ?? '',
    medicalNotes: r.medicalNotes ?? '',
    conditions: r.conditions.join('、'),
    medicationNotes: r.medicationNotes ?? '',
    guardianName: r.guardian.name ?? '',
    guardianWorkplace: r.guardian.workplace ?? '',
    guardianPhone: r.guardian.phone ?? '',
    joinedOn: r.joinedOn,
  };
}

const splitConditions = (text: string): string[] =>
  text
    .split(/[、,，;；\s]+/)
    .map((c) => c.trim())
    .filter((c) => c !== '');

/**
 * The PATCH body of the fields that differ between `before` and `after`:
 * only those, so a masked value (a number the role sees as 138****5678) is
 * never sent back, and an edit that changes nothing sends nothing. '' clears
 * an optional field (null); a birth year that is not a number is sent as it
 * is typed, for the server to refuse with its reason.
 */
export function changedFields(before: RecordForm, after: RecordForm, options: { idNumber: boolean }): UpdateResidentBody {
  const body: Record<string, unknown> = {};
  const text = (v: string): string | null => (v.trim() === '' ? null : v.trim());
  for (const key of Object.keys(after) as Array<keyof RecordForm>) {
    if (after[key].trim() === before[key].trim()) continue;
    if (key === 'idNumber' && !options.idNumber) continue;
    const value = after[key];
    switch (key) {
      case 'name':
      case 'careLevel':
      case 'joinedOn':
        body[key] = value.trim();
        break;
      case 'birthYear':
        body[key] = value.trim() === '' ? null : /^\d+$/.test(value.trim()) ? Number(value.trim()) : value.trim();
        break;
      case 'conditions':
        body[key] = splitConditions(value);
        break;
      case 'idNumber':
        body[key] = text(value)?.toUpperCase() ?? null;
        break;
      default:
        body[key] = text(value);
    }
  }
  return body as UpdateResidentBody;
}

/** One refusal of a field: `field` as the API names it (phone, idNumber, sex…), the sentence for the officer, the server's own words. */
export interface FieldProblem {
  field: string;
  text: string;
  server: string;
}

const PHONE_FIELDS = new Set(['phone', 'guardianPhone']);
const SEX_WORD: Record<string, { zh: string; en: string }> = { 女: { zh: '女', en: 'female' }, 男: { zh: '男', en: 'male' } };

/** The sentence for one refusal of `field`, from the server's words (`detail`: what follows "field: "). */
function sentence(lang: Lang, field: string, detail: string): string {
  const say = (key: MessageKey, params?: Record<string, string | number>) => translate(lang, key, params);
  if (PHONE_FIELDS.has(field) || /11-digit mainland mobile/.test(detail)) return say('edit.err.phone');
  if (field === 'idNumber') {
    let m: RegExpMatchArray | null;
    if (/18 characters/.test(detail)) return say('edit.err.idLength');
    if ((m = detail.match(/birth date \(YYYYMMDD\); (\S+) is not one/))) return say('edit.err.idBirth', { digits: m[1] ?? '' });
    if ((m = detail.match(/birth date inside it, (\S+), is in the future/))) return say('edit.err.idFuture', { date: m[1] ?? '' });
    if ((m = detail.match(/should be (\S), not (\S)/))) return say('edit.err.idCheck', { expected: m[1] ?? '', given: (m[2] ?? '').replace(/:$/, '') });
    return say('edit.err.idNumber');
  }
  if (field === 'sex') {
    const m = detail.match(/ID number says (\S+) \([FM]\) \(its 17th digit, (\d)[^)]*\), but the record says (\S+) \([FM]\)/);
    if (m) {
      const word = (w: string | undefined) => SEX_WORD[w ?? '']?.[lang] ?? w ?? '';
      return say('edit.err.sexId', { fromId: word(m[1]), digit: m[2] ?? '', given: word(m[3]) });
    }
  }
  if (field === 'name') return say('edit.err.name');
  if (field === 'birthYear') return say('edit.err.birthYear');
  if (field === 'joinedOn') return say('edit.err.joinedOn');
  return say('edit.err.other');
}

/**
 * The refusal `message` of a BAD_REQUEST split per field: each part
 * "body.phone: …" or "sex: …" (parts joined by "; "). A part that names no
 * field comes back with field ''.
 */
export function fieldProblems(message: string, lang: Lang): FieldProblem[] {
  return message
    .split(/;\s+(?=(?:body\.)?[A-Za-z][\w.]*: )/)
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const m = part.match(/^(?:body\.|querystring\.|params\.)?([A-Za-z]\w*)(?:\.[\w.]+)?: (.*)$/s);
      if (!m) return { field: '', text: part, server: part };
      const field = m[1] ?? '';
      const detail = m[2] ?? '';
      return { field, text: sentence(lang, field, detail), server: part };
    });
}
