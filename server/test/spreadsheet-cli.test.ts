/**
 * `kanjia import registry FILE [--confirm DIGEST]` and `kanjia export registry
 * --out FILE.xlsx` on a data directory, through the command line's own main().
 */
import ExcelJS from 'exceljs';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';
import { openDatabase } from '../src/db/database.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { csvText, SAMPLE_HEADER, validId, wrongCheckDigit } from './fixtures/spreadsheets.js';
import { tempDataDir } from './helpers.js';

const ID = { zhang: validId('43052419410305002'), li: validId('43052419380712001') };

describe('the spreadsheet commands', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let out: string;
  let err: string;

  beforeEach(() => {
    tmp = tempDataDir();
    out = '';
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
  });

  afterEach(() => {
    vi.restoreAllMocks();
    tmp.cleanup();
  });

  const run = async (...args: string[]) => {
    out = '';
    err = '';
    return main([...args, '--data-dir', tmp.dir]);
  };
  const residents = () => {
    const db = openDatabase(join(tmp.dir, 'kanjia.sqlite'));
    try {
      return new SqliteRegistryStore(db, Buffer.alloc(32)).residents({}).map((r) => [r.name, r.villageName, r.idNumber]);
    } finally {
      db.close();
    }
  };

  it('previews an import and writes nothing, then imports it with --confirm DIGEST', async () => {
    expect(await run('village', 'add', '--name', '石门村', '--township', '石门镇', '--lat', '27.11', '--lng', '111.03')).toBe(0);
    const file = join(tmp.dir, '名单.csv');
    writeFileSync(
      file,
      csvText([
        ['石门村关爱对象台账'],
        SAMPLE_HEADER,
        [1, '张桂花', '女', ID.zhang, '独居老人', '刘建军（村支书）13800000011', '', '', ''],
        [2, '周小梅', '女', wrongCheckDigit('43052419400101002'), '低保对象', '王强（网格员）13800000013', '', '', ''],
      ]),
    );
    expect(await run('import', 'registry', file)).toBe(0);
    expect(out).toContain('新建 create 1 · 更新 update 0 · 不能导入 rejected 1 row(s)');
    expect(out).toContain('CSV 第 4 行 身份证号码: 身份证号码校验位错误');
    expect(out).toContain('CSV 第 3 行: 新建 create 张桂花 · 石门村 · 石门村张桂花家 · +1 联系人 contact(s)');
    expect(out).not.toContain(ID.zhang);
    const digest = out.match(/--confirm ([0-9a-f]{64})/)?.[1];
    expect(digest).toBeDefined();
    expect(residents()).toEqual([]);

    expect(await run('import', 'registry', file, '--confirm', '0'.repeat(64))).toBe(1);
    expect(err).toContain('IMPORT_PLAN_CHANGED');
    expect(residents()).toEqual([]);

    expect(await run('import', 'registry', file, '--confirm', digest as string)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ created: 1, updated: 0, skipped: 1, householdsCreated: 1 });
    expect(residents()).toEqual([['张桂花', '石门村', ID.zhang]]);
  });

  it('exports the registry with full numbers to a file readable by its owner only', async () => {
    expect(await run('village', 'add', '--name', '石门村', '--township', '石门镇', '--lat', '27.11', '--lng', '111.03')).toBe(0);
    expect(await run('village', 'add', '--name', '青山村', '--lat', '27.2', '--lng', '111.1')).toBe(0);
    const villageId = (JSON.parse(out) as { villageId: string }).villageId;
    expect(await run('household', 'add', '--village', villageId, '--address', '青山村三组4号', '--lat', '27.2', '--lng', '111.1')).toBe(0);
    const householdId = (JSON.parse(out) as { householdId: string }).householdId;
    expect(await run('resident', 'add', '--household', householdId, '--name', '李大山', '--id-number', ID.li, '--phone', '13900000021', '--contact', '张伟,helper,13900000001,组长')).toBe(0);

    const file = join(tmp.dir, 'registry.xlsx');
    expect(await run('export', 'registry', '--out', file)).toBe(0);
    expect(err).toContain('2 village(s), 1 people');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.readFile(file);
    expect(workbook.worksheets.map((s) => s.name)).toEqual(['石门村', '青山村']);
    const sheet = workbook.getWorksheet('青山村')!;
    expect(sheet.getCell('A1').value).toBe('青山村关爱对象台账');
    expect((sheet.getRow(4).values as unknown[]).slice(1)).toEqual([1, '李大山', '男', ID.li, '', '张伟（组长）13900000001', '', '13900000021', '']);

    expect(await run('export', 'registry', '--out', file, '--village', '青山村')).toBe(1);
    expect(err).toContain('OUT_FILE_EXISTS');
    expect(await run('export', 'registry', '--out', file, '--village', '青山村', '--force')).toBe(0);
    const one = new ExcelJS.Workbook();
    await one.xlsx.readFile(file);
    expect(one.worksheets.map((s) => s.name)).toEqual(['青山村']);

    expect(await run('export', 'registry', '--out', join(tmp.dir, 'x.xlsx'), '--village', '白水村')).toBe(1);
    expect(err).toContain('VILLAGE_NOT_FOUND');
    expect(await run('export', 'registry')).toBe(2);
    expect(await run('export', 'people', '--out', 'x.xlsx')).toBe(2);
  });
});
