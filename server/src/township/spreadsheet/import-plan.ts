/**
 * What importing a spreadsheet would do, against the registry as it is now
 * and within the caller's villages: every person to create or update, every
 * row that cannot be imported and why, and a digest of all of it. Nothing is
 * written here; applyImportPlan() writes a plan, in one transaction, once the
 * user has confirmed the preview whose digest it carries (docs/spreadsheets.md).
 */
import type { ContactInput, ResidentInput, UpdateResidentBody } from '@kanjia/protocol';
import { createHash } from 'node:crypto';
import type { Db } from '../../db/database.js';
import { RegistryError, type SqliteRegistryStore } from '../../registry/registry-store.js';
import type { Actor, SqliteTownshipStore } from '../township-store.js';
import { columnName, type SheetField } from './columns.js';
import { readSpreadsheet, type CsvEncoding, type SpreadsheetFormat } from './sheet-reader.js';
import type { CareLevelValue, CategoryValue, LivingValue } from './person-fields.js';
import { parseSheet, type RowProblem, type SheetPerson } from './sheet-rows.js';
import { SpreadsheetError } from './spreadsheet-errors.js';

/** Who imports: the villages they may write to ('all' for admin and the command line). */
export interface ImportScope {
  villageIds: 'all' | ReadonlySet<string>;
}

export interface ImportOptions {
  /** The village for rows that name none (no 所属村 column, no village in the sheet's name or title). */
  villageId?: string;
}

/** One person the import creates or updates. */
export interface PlannedPerson {
  sheet: string;
  row: number;
  action: 'create' | 'update';
  /** The resident updated (same ID number, same village). */
  residentId: string | null;
  name: string;
  villageId: string;
  villageName: string;
  /** The household address used (found or created). */
  address: string;
  /** The new contacts, in chain order (for an update: those not in the chain yet). */
  contacts: ContactInput[];
  person: SheetPerson;
}

/** One sheet as the import understood it. */
export interface SheetSummary {
  name: string;
  /** The header's row number as the spreadsheet shows it. */
  headerRow: number;
  /** The recognised columns: header text as written → field's name. */
  columns: Array<{ header: string; field: SheetField; as: string }>;
  /** Header cells that name no known column: their contents are not imported. */
  ignoredColumns: string[];
}

export interface ImportPlan {
  format: SpreadsheetFormat;
  encoding: CsvEncoding | null;
  sheets: SheetSummary[];
  people: PlannedPerson[];
  /** Rows that cannot be imported, and why; the rest of the file imports without them. */
  problems: RowProblem[];
  /** Rows that import, with something missing (a helper without a phone). */
  warnings: RowProblem[];
  /** sha256 of the file and of what the import would do: a confirmation names it. */
  digest: string;
}

/** Reads a file and plans its import; throws SpreadsheetError when the file itself is unusable. */
export async function planImport(bytes: Uint8Array, registry: SqliteRegistryStore, scope: ImportScope, options: ImportOptions = {}): Promise<ImportPlan> {
  const file = await readSpreadsheet(bytes);
  const parsed = file.sheets.map(parseSheet).filter((s) => s !== undefined);
  if (parsed.length === 0) {
    throw new SpreadsheetError('SPREADSHEET_NO_HEADER', '没有找到表头：前 15 行中应有一行写着“姓名”和其他列名（性别、身份证号码、人员类别、帮扶责任人（职务）……）');
  }
  if (parsed.every((s) => s.people.length === 0 && s.problems.length === 0)) throw new SpreadsheetError('SPREADSHEET_EMPTY', '表头下面没有任何人员');

  const inScope = (id: string) => scope.villageIds === 'all' || scope.villageIds.has(id);
  const villages = registry.allVillages().filter((v) => inScope(v.id));
  const byName = new Map<string, (typeof villages)[number]>();
  for (const v of villages) {
    byName.set(v.name, v);
    byName.set(v.name.replace(/村$/, ''), v);
  }
  const target = options.villageId === undefined ? undefined : villages.find((v) => v.id === options.villageId);
  if (options.villageId !== undefined && !target) throw new RegistryError('VILLAGE_NOT_FOUND', `no village with id ${options.villageId}`);

  // Every resident with an ID number, scope or not: an ID number is one person in the whole deployment.
  const residentsById = new Map<string, { id: string; villageId: string; name: string; leftOn: string | null }>();
  const namesByVillage = new Map<string, Set<string>>();
  for (const r of registry.residents({})) {
    if (r.idNumber) residentsById.set(r.idNumber.toUpperCase(), { id: r.id, villageId: r.villageId, name: r.name, leftOn: r.leftOn });
    if (!namesByVillage.has(r.villageId)) namesByVillage.set(r.villageId, new Set());
    namesByVillage.get(r.villageId)?.add(r.name);
  }

  const people: PlannedPerson[] = [];
  const problems: RowProblem[] = [];
  const warnings: RowProblem[] = [];
  const seenIds = new Map<string, { sheet: string; row: number }>();
  for (const sheet of parsed) {
    problems.push(...sheet.problems);
    warnings.push(...sheet.warnings);
    const sheetVillage = byName.get(sheet.name.trim()) ?? villageInTitle(sheet.title, villages);
    for (const p of sheet.people) {
      const problem = (f: SheetField | null, message: string) => problems.push({ sheet: p.sheet, row: p.row, column: f === null ? null : columnName(f), message });
      const village = p.villageName !== undefined ? byName.get(p.villageName) : (sheetVillage ?? target);
      if (!village) {
        if (p.villageName !== undefined) problem('village', `没有“${p.villageName}”这个村（或它不在您的管辖范围内）：请先在系统中建立这个村，或改正村名`);
        else problem('village', '不知道这一行属于哪个村：请加一列“所属村”，或在导入时选择村');
        continue;
      }
      let residentId: string | null = null;
      if (p.idNumber !== undefined) {
        const earlier = seenIds.get(p.idNumber);
        if (earlier) {
          problem('idNumber', `身份证号码与${earlier.sheet === p.sheet ? '' : `工作表“${earlier.sheet}”`}第 ${earlier.row} 行重复`);
          continue;
        }
        seenIds.set(p.idNumber, { sheet: p.sheet, row: p.row });
        const existing = residentsById.get(p.idNumber);
        if (existing && existing.villageId !== village.id) {
          const other = inScope(existing.villageId) ? `（${registry.village(existing.villageId)?.name ?? ''}）` : '（不在您的管辖范围内）';
          problem('idNumber', `这个身份证号码已登记在另一个村${other}：同一个人只能登记一次`);
          continue;
        }
        if (existing?.leftOn) {
          problem('idNumber', `${existing.name}已于 ${existing.leftOn} 离册：如已返回，请先在台账中恢复在册，再导入`);
          continue;
        }
        if (existing) residentId = existing.id;
      } else if (namesByVillage.get(village.id)?.has(p.name)) {
        warnings.push({ sheet: p.sheet, row: p.row, column: columnName('name'), message: `${village.name}已有同名的人“${p.name}”，这一行没有身份证号码可以比对：将作为另一个人新建` });
      }

      const chain = residentId === null ? [] : registry.contactsOf(residentId);
      const known = new Set(chain.map((c) => c.phone));
      const contacts: ContactInput[] = [];
      for (const h of p.helpers) {
        if (h.phone === undefined || known.has(h.phone)) continue;
        known.add(h.phone);
        contacts.push({ name: h.name, role: 'helper', phone: h.phone, ...(h.post ? { post: h.post.slice(0, 64) } : {}) });
      }
      if (p.guardianPhone !== undefined && !known.has(p.guardianPhone)) {
        contacts.push({ name: p.guardian ?? `${p.name}的监护人`, role: 'family', phone: p.guardianPhone, post: '监护人' });
      }
      if (residentId === null && contacts.length === 0) {
        problem(
          'helpers',
          p.helpers.length === 0
            ? '没有帮扶责任人：无法建立报警联系链（至少要有一位有手机号码的帮扶责任人或监护人）'
            : '帮扶责任人都没有手机号码：无法建立报警联系链。请在单元格中写上号码（如“张三（村支书）13812345678”），或加一列“帮扶责任人电话”',
        );
        continue;
      }
      people.push({
        sheet: p.sheet,
        row: p.row,
        action: residentId === null ? 'create' : 'update',
        residentId,
        name: p.name,
        villageId: village.id,
        villageName: village.name,
        address: p.address ?? `${village.name}${p.name}家`,
        contacts,
        person: p,
      });
    }
  }
  const byRow = (a: RowProblem, b: RowProblem) => (a.sheet === b.sheet ? a.row - b.row : 0);
  problems.sort(byRow);
  warnings.sort(byRow);
  const sheets = parsed.map((s) => ({
    name: s.name,
    headerRow: s.header.rowIndex + 1,
    columns: (Object.entries(s.header.columns) as Array<[SheetField, number]>)
      .sort((a, b) => a[1] - b[1])
      .map(([field, c]) => ({ header: file.sheets.find((x) => x.name === s.name)?.rows[s.header.rowIndex]?.[c]?.text ?? '', field, as: columnName(field) })),
    ignoredColumns: s.header.unknown,
  }));
  const digest = createHash('sha256')
    .update(bytes)
    .update(JSON.stringify({ villageId: options.villageId ?? null, people: people.map((p) => [p.sheet, p.row, p.action, p.residentId, p.villageId, p.address, p.contacts]), problems }))
    .digest('hex');
  return { format: file.format, encoding: file.encoding ?? null, sheets, people, problems, warnings, digest };
}

/** The one village whose name the sheet's title rows hold ("石门村关爱对象台账"), the longest name winning. */
function villageInTitle<V extends { name: string }>(title: string, villages: readonly V[]): V | undefined {
  if (title === '') return undefined;
  const found = villages.filter((v) => title.includes(v.name)).sort((a, b) => b.name.length - a.name.length);
  return found[0];
}

export interface ImportResult {
  created: number;
  updated: number;
  /** Rows not imported (the plan's problems). */
  skipped: number;
  householdsCreated: number;
  residentIds: string[];
  /** The households that gained or changed a resident (their shared devices now stand for the new people too). */
  householdIds: string[];
}

/** Where the import's changes go in the people's history (docs/township.md), and under whose name. */
export interface ImportHistory {
  store: Pick<SqliteTownshipStore, 'recorded' | 'recordCreated'>;
  by: Actor;
}

/** The person record's fields a row can give, typed to fit both a new resident and an update. */
interface RecordFields {
  name: string;
  sex?: 'F' | 'M';
  birthYear?: number;
  phone?: string;
  category?: CategoryValue;
  careLevel?: CareLevelValue;
  livingSituation?: LivingValue;
  measures?: string;
  notes?: string;
  medicalNotes?: string;
  guardianName?: string;
  guardianWorkplace?: string;
  guardianPhone?: string;
}

/** The record's fields a row gives (the ID number and the chain apart): an empty cell gives none. */
function recordFields(f: SheetPerson): RecordFields {
  return {
    name: f.name,
    ...(f.sex ? { sex: f.sex } : {}),
    ...(f.birthYear ? { birthYear: f.birthYear } : {}),
    ...(f.phone ? { phone: f.phone } : {}),
    ...(f.category ? { category: f.category } : {}),
    ...(f.careLevel ? { careLevel: f.careLevel } : {}),
    ...(f.living ? { livingSituation: f.living } : {}),
    ...(f.measures ? { measures: f.measures } : {}),
    ...(f.notes ? { notes: f.notes } : {}),
    ...(f.health ? { medicalNotes: f.health } : {}),
    ...(f.guardian ? { guardianName: f.guardian } : {}),
    ...(f.guardianWorkplace ? { guardianWorkplace: f.guardianWorkplace } : {}),
    ...(f.guardianPhone ? { guardianPhone: f.guardianPhone } : {}),
  };
}

/** Writes a plan in one transaction: a failure imports nothing. Each person's history says the import did it. */
export function applyImportPlan(db: Db, registry: SqliteRegistryStore, plan: ImportPlan, history?: ImportHistory): ImportResult {
  const result: ImportResult = { created: 0, updated: 0, skipped: new Set(plan.problems.map((p) => `${p.sheet}\u0000${p.row}`)).size, householdsCreated: 0, residentIds: [], householdIds: [] };
  const touched = new Set<string>();
  db.transaction(() => {
    // Each village's households by address, read once (an import of thousands of rows must not re-read them per row).
    const households = new Map<string, Map<string, string>>();
    const householdOf = (p: PlannedPerson): string => {
      let byAddress = households.get(p.villageId);
      if (!byAddress) {
        byAddress = new Map(registry.householdsOf(p.villageId).map((h) => [h.address, h.id] as const));
        households.set(p.villageId, byAddress);
      }
      const known = byAddress.get(p.address);
      if (known) return known;
      const village = registry.village(p.villageId);
      if (!village) throw new SpreadsheetError('IMPORT_PLAN_CHANGED', `村 ${p.villageName} 已不存在`);
      // The spreadsheet has no map position: the household starts at the village centre until someone moves its pin.
      const id = registry.createHousehold(p.villageId, { address: p.address, lat: village.lat, lng: village.lng });
      byAddress.set(p.address, id);
      result.householdsCreated++;
      return id;
    };
    for (const p of plan.people) {
      const f = p.person;
      if (p.action === 'create') {
        const input: ResidentInput = { ...recordFields(f), contacts: p.contacts, ...(f.idNumber ? { idNumber: f.idNumber } : {}) };
        const householdId = householdOf(p);
        const id = registry.createResident(householdId, input);
        history?.store.recordCreated(id, history.by);
        touched.add(householdId);
        result.residentIds.push(id);
        result.created++;
      } else if (p.residentId !== null) {
        // The sheet's values replace the record's; a column the sheet leaves empty changes nothing.
        const patch: UpdateResidentBody = recordFields(f);
        const residentId = p.residentId;
        const change = () => {
          registry.updateResident(residentId, patch);
          for (const c of p.contacts) registry.addContact(residentId, c);
        };
        if (history) history.store.recorded(residentId, history.by, 'updated', change);
        else change();
        const householdId = registry.resident(residentId)?.householdId;
        if (householdId) touched.add(householdId);
        result.residentIds.push(residentId);
        result.updated++;
      }
    }
  })();
  result.householdIds = [...touched];
  return result;
}
