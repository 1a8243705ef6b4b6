import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Db } from '../src/db/database.js';
import { openDatabase } from '../src/db/database.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { findHeader } from '../src/township/spreadsheet/columns.js';
import { parseHelpers } from '../src/township/spreadsheet/helpers-cell.js';
import { applyImportPlan, planImport } from '../src/township/spreadsheet/import-plan.js';
import { decodeText, readSpreadsheet } from '../src/township/spreadsheet/sheet-reader.js';
import { SpreadsheetError } from '../src/township/spreadsheet/spreadsheet-errors.js';
import { csvText, gbk, SAMPLE_HEADER, validId, wrongCheckDigit, xlsxOf } from './fixtures/spreadsheets.js';
import { tempDataDir } from './helpers.js';

const ID = {
  zhang: validId('43052419410305002'), // 17th digit 2: female
  li: validId('43052419380712001'), // 17th digit 1: male
  existingShimen: validId('43052419400101004'),
  existingQingshan: validId('43052419450202006'),
  chen: validId('43052419420909008'),
};

describe('importing a registry spreadsheet', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let registry: SqliteRegistryStore;
  let shimen: string;
  let qingshan: string;
  let existing: string;

  beforeEach(() => {
    tmp = tempDataDir();
    db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
    registry = new SqliteRegistryStore(db, Buffer.alloc(32, 1), () => Date.UTC(2026, 11, 2));
    shimen = registry.createVillage({ name: '石门村', township: '石门镇', lat: 27.11, lng: 111.03, households: [] });
    qingshan = registry.createVillage({ name: '青山村', township: '石门镇', lat: 27.2, lng: 111.1, households: [] });
    const h1 = registry.createHousehold(shimen, { address: '石门村一组12号', lat: 27.112, lng: 111.031 });
    existing = registry.createResident(h1, { name: '王秀英', sex: 'F', idNumber: ID.existingShimen, contacts: [{ name: '刘建军', role: 'helper', phone: '13800000001' }] });
    const h2 = registry.createHousehold(qingshan, { address: '青山村三组4号', lat: 27.201, lng: 111.101 });
    registry.createResident(h2, { name: '李桂兰', idNumber: ID.existingQingshan, contacts: [{ name: '张伟', role: 'helper', phone: '13900000001' }] });
  });

  afterEach(() => {
    db.close();
    tmp.cleanup();
  });

  /** The 石门村 sheet: a merged title row, the header on row 2, good and bad rows, an empty row and a footer. */
  const shimenWorkbook = () =>
    xlsxOf([
      {
        name: '台账',
        merges: ['A1:I1'],
        rows: [
          ['石门镇石门村关爱对象台账'],
          SAMPLE_HEADER,
          [1, '张桂花', '女', ID.zhang, '分散供养特困人员', '刘建军（村支书）13800000011、陈红（网格员）13800000012', '每周上门一次', '13900000021', '独居'],
          [2, '李大山', '男', ID.li, '留守老人', '王强（网格员）13800000013、赵六（村医）', '电话问候', null, null],
          [3, '周小梅', '女', wrongCheckDigit('43052419400101002'), '低保对象', '王强（网格员）13800000013', null, null, null],
          [4, '吴大爷', '男', null, '贫困户', '王强（网格员）13800000013', null, null, null],
          [5, null, '女', ID.chen, '其他', '王强（网格员）13800000013', null, null, null],
          [6, '张桂花二', '女', ID.zhang, '其他', '王强（网格员）13800000013', null, null, null],
          [7, '李桂兰', '女', ID.existingQingshan, '其他', '王强（网格员）13800000013', null, null, null],
          [8, '钱奶奶', '女', null, '独居老人', '孙七（组长）', null, null, null],
          [9, '郑爷爷', '男', 430524193001010011, '其他', '王强（网格员）13800000013', null, null, null],
          [10, '王秀英', '女', ID.existingShimen, '特困', '刘建军（村支书）13800000001、何平（网格员）13800000014', '送米送油', null, null],
          [null, null, null, null, null, null, null, null, null],
          ['填表人：石门村委', null, null, null, null, null, null, null, null],
        ],
      },
    ]);

  it('lists every row that cannot be imported, with its row, column and reason, and writes nothing', async () => {
    const before = registry.counts();
    const plan = await planImport(await shimenWorkbook(), registry, { villageIds: 'all' });
    expect(registry.counts()).toEqual(before);

    expect(plan.sheets).toEqual([expect.objectContaining({ name: '台账', headerRow: 2, ignoredColumns: [] })]);
    const problems = plan.problems.map((p) => [p.row, p.column, p.message]);
    expect(problems).toEqual([
      [5, '身份证号码', expect.stringContaining('校验位错误')],
      [6, '人员类别', expect.stringContaining('未知的人员类别“贫困户”')],
      [7, '姓名', '缺少姓名'],
      [8, '身份证号码', '身份证号码与第 3 行重复'],
      [9, '身份证号码', expect.stringContaining('已登记在另一个村（青山村）')],
      [10, '帮扶责任人（职务）', expect.stringContaining('无法建立报警联系链')],
      [11, '身份证号码', expect.stringContaining('被存成了数字')],
    ]);
    expect(plan.warnings).toEqual([
      expect.objectContaining({ row: 4, column: '帮扶责任人（职务）', message: expect.stringContaining('赵六没有手机号码') }),
      expect.objectContaining({ row: 10, message: expect.stringContaining('孙七没有手机号码') }),
    ]);
    expect(plan.people.map((p) => [p.row, p.action, p.name, p.villageName, p.contacts.length])).toEqual([
      [3, 'create', '张桂花', '石门村', 2],
      [4, 'create', '李大山', '石门村', 1],
      [12, 'update', '王秀英', '石门村', 1],
    ]);
    expect(plan.people[2]?.residentId).toBe(existing);
    expect(plan.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('imports the good rows once confirmed: residents with their helpers and posts, the existing one updated', async () => {
    const plan = await planImport(await shimenWorkbook(), registry, { villageIds: 'all' });
    const result = applyImportPlan(db, registry, plan);
    expect(result).toMatchObject({ created: 2, updated: 1, skipped: 7, householdsCreated: 2 });

    const people = registry.residents({ villageId: shimen });
    const zhang = people.find((r) => r.name === '张桂花');
    expect(zhang).toMatchObject({ sex: 'F', birthYear: 1941, idNumber: ID.zhang, phone: '13900000021', category: 'dispersedSupport', address: '石门村张桂花家' });
    expect(registry.contactsOf(zhang!.id).map((c) => [c.name, c.role, c.phone, c.post])).toEqual([
      ['刘建军', 'helper', '13800000011', '村支书'],
      ['陈红', 'helper', '13800000012', '网格员'],
    ]);
    // The household starts at the village centre (the sheet has no map position).
    expect(registry.household(zhang!.householdId)).toMatchObject({ lat: 27.11, lng: 111.03 });
    const li = people.find((r) => r.name === '李大山');
    expect(registry.contactsOf(li!.id).map((c) => c.name)).toEqual(['王强']);
    // The existing chain stays first; the new helper is added after it.
    expect(registry.contactsOf(existing).map((c) => [c.name, c.phone])).toEqual([
      ['刘建军', '13800000001'],
      ['何平', '13800000014'],
    ]);
    expect(registry.resident(existing)?.category).toBe('dispersedSupport');

    // The same file again: nothing new to create; the three people are updates now, and their chains are complete.
    const again = await planImport(await shimenWorkbook(), registry, { villageIds: 'all' });
    expect(again.people.map((p) => [p.name, p.action, p.contacts.length])).toEqual([
      ['张桂花', 'update', 0],
      ['李大山', 'update', 0],
      ['王秀英', 'update', 0],
    ]);
    expect(again.digest).not.toBe(plan.digest);
  });

  it('keeps to the importer’s villages: a row of another village is listed, not imported', async () => {
    const file = await xlsxOf([
      {
        name: 'Sheet1',
        rows: [
          ['序号', '姓名', '所属村', '帮扶人', '帮扶人电话'],
          [1, '甲', '石门村', '张三（组长）', '13800000031'],
          [2, '乙', '青山村', '李四', '13800000032'],
          [3, '丙', '白水村', '王五', '13800000033'],
        ],
      },
    ]);
    const plan = await planImport(file, registry, { villageIds: new Set([shimen]) });
    expect(plan.people.map((p) => [p.name, p.villageId])).toEqual([['甲', shimen]]);
    expect(plan.people[0]?.contacts).toEqual([{ name: '张三', role: 'helper', phone: '13800000031', post: '组长' }]);
    expect(plan.problems.map((p) => [p.row, p.column, p.message])).toEqual([
      [3, '所属村', expect.stringContaining('没有“青山村”这个村（或它不在您的管辖范围内）')],
      [4, '所属村', expect.stringContaining('没有“白水村”这个村')],
    ]);
  });

  it('puts people of the same address into one household, an existing one when the village has it', async () => {
    const file = await xlsxOf([
      {
        name: '石门村',
        rows: [
          ['姓名', '住址', '帮扶责任人', '监护人', '监护人电话'],
          ['甲', '石门村二组3号', '张三（组长）13800000031', null, null],
          ['乙', '石门村二组3号', '张三（组长）13800000031', '王小军', '13700000001'],
          ['丙', '石门村一组12号', '李四 13800000032', null, null],
        ],
      },
    ]);
    const result = applyImportPlan(db, registry, await planImport(file, registry, { villageIds: 'all' }));
    expect(result).toMatchObject({ created: 3, householdsCreated: 1 });
    const byName = new Map(registry.residents({ villageId: shimen }).map((r) => [r.name, r]));
    expect(byName.get('甲')?.householdId).toBe(byName.get('乙')?.householdId);
    expect(byName.get('丙')?.householdId).toBe(byName.get('王秀英')?.householdId);
    // A guardian with a phone joins the chain last, as family.
    expect(registry.contactsOf(byName.get('乙')!.id).map((c) => [c.name, c.role, c.post])).toEqual([
      ['张三', 'helper', '组长'],
      ['王小军', 'family', '监护人'],
    ]);
    expect(byName.get('乙')).toMatchObject({ guardianName: '王小军', guardianPhone: '13700000001' });
  });

  it('asks for the village when neither the rows, the sheet nor the caller name one', async () => {
    const file = await xlsxOf([{ name: 'Sheet1', rows: [['姓名', '帮扶责任人'], ['甲', '张三 13800000031']] }]);
    const plan = await planImport(file, registry, { villageIds: 'all' });
    expect(plan.problems).toEqual([expect.objectContaining({ row: 2, column: '所属村', message: expect.stringContaining('不知道这一行属于哪个村') })]);
    const withVillage = await planImport(file, registry, { villageIds: 'all' }, { villageId: qingshan });
    expect(withVillage.people.map((p) => [p.name, p.villageName])).toEqual([['甲', '青山村']]);
    expect(withVillage.digest).not.toBe(plan.digest);
  });

  it('reads CSV in UTF-8 with and without BOM and in GBK, the header below a title row', async () => {
    const rows = [
      ['青山村关爱对象名单', '', '', ''],
      ['姓名', '身份证号', '类别', '帮扶责任人(职务)'],
      ['张桂花', ID.zhang, '独居老人', '刘建军（村支书，13800000011）'],
    ];
    const text = csvText(rows);
    // 张 in GBK is D5 C5: the test's encoder is checked against the standard.
    expect([...gbk('张')]).toEqual([0xd5, 0xc5]);
    const files = {
      'utf-8 BOM': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]),
      'utf-8': Buffer.from(text, 'utf8'),
      gbk: gbk(text),
    };
    for (const [label, bytes] of Object.entries(files)) {
      const plan = await planImport(bytes, registry, { villageIds: 'all' });
      expect(plan.format, label).toBe('csv');
      expect(plan.encoding, label).toBe(label === 'gbk' ? 'gb18030' : 'utf-8');
      expect(plan.sheets[0]?.headerRow, label).toBe(2);
      expect(plan.problems, label).toEqual([]);
      expect(
        plan.people.map((p) => [p.name, p.villageName, p.person.idNumber, p.person.category, p.contacts]),
        label,
      ).toEqual([['张桂花', '青山村', ID.zhang, 'leftBehindOrAlone', [{ name: '刘建军', role: 'helper', phone: '13800000011', post: '村支书' }]]]);
    }
  });

  it('explains the other bad cells: sex against the ID number, an ID in scientific notation, a landline, unknown levels', async () => {
    const file = Buffer.from(
      csvText([
        ['姓名', '性别', '身份证号码', '护理等级', '居住情况', '联系电话', '帮扶人', '帮扶人电话', '所属村'],
        ['甲', '男', ID.zhang, '一般', '独居', '', '张三', '13800000031', '石门村'],
        ['乙', '', '4.30524E+17', '一般', '独居', '', '张三', '13800000031', '石门村'],
        ['丙', '', '', '很好', '独居', '', '张三', '13800000031', '石门村'],
        ['丁', '', '', '一般', '住山上', '', '张三', '13800000031', '石门村'],
        ['戊', '', '', '一般', '独居', '0734-1234567', '张三', '13800000031', '石门村'],
        ['己', '', '', '', '', '', '', '13800000031', '石门村'],
        ['庚', '不详', '', '特别困难', '与配偶同住', '13900000041', '张三', '13800000031', '石门村'],
      ]),
    );
    const plan = await planImport(file, registry, { villageIds: 'all' });
    expect(plan.problems.map((p) => [p.row, p.column, p.message])).toEqual([
      [2, '性别', '性别“男”与身份证号码（女）不符'],
      [3, '身份证号码', expect.stringContaining('被存成了数字')],
      [4, '护理等级', '未知的护理等级“很好”：应为“一般”或“特别困难”'],
      [5, '居住情况', expect.stringContaining('未知的居住情况“住山上”')],
      [6, '联系电话', '联系电话“0734-1234567”不是 11 位手机号码'],
      [7, '帮扶责任人（职务）', '有帮扶责任人电话，却没有帮扶责任人姓名'],
      [8, '性别', '性别“不详”应为“男”或“女”'],
    ]);
    expect(plan.people).toEqual([]);
  });

  it('refuses a sheet of more than 5000 rows and an xlsx that would unzip to too much, before reading it', async () => {
    const rows = [['姓名', '帮扶人'], ...Array.from({ length: 5001 }, (_, i) => [`人${i}`, '张三 13800000031'])];
    await expect(planImport(Buffer.from(csvText(rows)), registry, { villageIds: 'all' })).rejects.toMatchObject({ code: 'SPREADSHEET_TOO_LARGE' });
    // A real workbook whose central directory declares a part of 4 GB (a zip bomb declares so).
    const bomb = await xlsxOf([{ name: 'A', rows: [['姓名', '帮扶人'], ['甲', '张三 13800000031']] }]);
    const central = bomb.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    bomb.writeUInt32LE(0xfffffff0, central + 24);
    await expect(planImport(bomb, registry, { villageIds: 'all' })).rejects.toMatchObject({ code: 'SPREADSHEET_TOO_LARGE', message: expect.stringContaining('解压后超过') });
  });

  it('refuses files that are not spreadsheets, or have no header or no rows, with a clear code', async () => {
    const refused = async (bytes: Uint8Array) => {
      try {
        await planImport(bytes, registry, { villageIds: 'all' });
      } catch (err) {
        expect(err).toBeInstanceOf(SpreadsheetError);
        return [(err as SpreadsheetError).code, (err as SpreadsheetError).message];
      }
      throw new Error('not refused');
    };
    expect(await refused(new Uint8Array())).toEqual(['SPREADSHEET_EMPTY', expect.any(String)]);
    expect(await refused(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]))).toEqual(['SPREADSHEET_UNREADABLE', '这个文件不是表格：请上传 .xlsx 或 .csv 文件']);
    expect(await refused(Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]))).toEqual(['SPREADSHEET_UNREADABLE', expect.stringContaining('另存为')]);
    expect(await refused(Buffer.from([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]))).toEqual(['SPREADSHEET_UNREADABLE', expect.stringContaining('.xlsx')]);
    expect(await refused(Buffer.from('a,b,c\r\n1,2,3\r\n'))).toEqual(['SPREADSHEET_NO_HEADER', expect.stringContaining('姓名')]);
    expect(await refused(Buffer.from(csvText([SAMPLE_HEADER])))).toEqual(['SPREADSHEET_EMPTY', '表头下面没有任何人员']);
  });
});

describe('the pieces of a registry sheet', () => {
  it('recognises the column names’ usual variants', () => {
    const header = findHeader([[{ text: '序 号', numeric: false }, { text: '姓名*', numeric: false }, { text: '身份证号码（18位）', numeric: false }, { text: '帮扶责任人(职务)', numeric: false }, { text: '联系 电话', numeric: false }, { text: '年龄', numeric: false }]]);
    expect(header?.columns).toEqual({ seq: 0, name: 1, idNumber: 2, helpers: 3, phone: 4 });
    expect(header?.unknown).toEqual(['年龄']);
  });

  it('reads "1+N" helpers with posts, phones in the cell or in a column of their own', () => {
    expect(parseHelpers('张三（村支书）、李四（网格员）', '13800000001、13800000002')).toEqual([
      { name: '张三', post: '村支书', phone: '13800000001' },
      { name: '李四', post: '网格员', phone: '13800000002' },
    ]);
    expect(parseHelpers('张三（村支书，138-0000-0001）；李四 网格员 13800000002，王五')).toEqual([
      { name: '张三', post: '村支书', phone: '13800000001' },
      { name: '李四', post: '网格员', phone: '13800000002' },
      { name: '王五' },
    ]);
  });

  it('decodes GBK text that is not valid UTF-8, and names the encoding', () => {
    expect(decodeText(gbk('姓名,性别\r\n王秀英,女\r\n'))).toEqual({ text: '姓名,性别\r\n王秀英,女\r\n', encoding: 'gb18030' });
    expect(decodeText(Buffer.from('\ufeff姓名', 'utf16le'))).toEqual({ text: '姓名', encoding: 'utf-16le' });
  });

  it('reads the text of merged, numeric and rich-text cells of an xlsx', async () => {
    const file = await xlsxOf([{ name: 'A', merges: ['A1:C1'], rows: [['标题'], ['姓名', '身份证号码', '电话'], ['甲', 430524194103050020, '13800000001']] }]);
    const { sheets } = await readSpreadsheet(file);
    expect(sheets[0]?.rows[0]?.map((c) => c.text)).toEqual(['标题', '标题', '标题']);
    // Stored as a number, as Excel does with a column not formatted as text: the digits are read, and flagged.
    expect(sheets[0]?.rows[2]?.[1]).toEqual({ text: expect.stringMatching(/^\d{18}$/), numeric: true });
  });
});
