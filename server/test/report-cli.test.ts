/**
 * `kanjia export report --period … --out FILE.xlsx [--village NAME]` on a data
 * directory, through the command line's own main(): the workbook is read back.
 */
import ExcelJS from 'exceljs';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.js';
import { tempDataDir } from './helpers.js';

describe('kanjia export report', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let err: string;

  beforeEach(() => {
    tmp = tempDataDir();
    err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    });
  });

  afterEach(() => {
    vi.restoreAllMocks();
    tmp.cleanup();
  });

  const run = (...args: string[]) => main([...args, '--data-dir', tmp.dir]);

  it('writes a sheet per section with the township and the period in the title row', async () => {
    expect(await run('village', 'add', '--name', '石门村', '--township', '石门镇', '--lat', '27.11', '--lng', '111.03')).toBe(0);
    expect(await run('village', 'add', '--name', '青山村', '--township', '石门镇', '--lat', '27.2', '--lng', '111.1')).toBe(0);
    const file = join(tmp.dir, 'report.xlsx');
    expect(await run('export', 'report', '--period', '2026-Q4', '--out', file)).toBe(0);
    expect(err).toContain('石门镇 2026-Q4, 2 village(s)');
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.readFile(file);
    expect(wb.worksheets.map((s) => s.name)).toEqual(['概况', '人员', '报警', '探访', '设备']);
    const summary = wb.getWorksheet('概况')!;
    expect(summary.getCell('A1').value).toBe('石门镇2026年第四季度关爱工作报告');
    expect(String(summary.getCell('A2').value)).toContain('统计期间：2026-10-01 至 2026-12-31');
    expect([4, 5, 6].map((r) => summary.getRow(r).getCell(1).value)).toEqual(['石门村', '青山村', '合计']);

    const one = join(tmp.dir, 'one.xlsx');
    expect(await run('export', 'report', '--period', '2026-11', '--out', one, '--village', '青山村')).toBe(0);
    const wb1 = new ExcelJS.Workbook();
    await wb1.xlsx.readFile(one);
    expect([4, 5].map((r) => wb1.getWorksheet('概况')!.getRow(r).getCell(1).value)).toEqual(['青山村', '合计']);
  });

  it('refuses a bad period or a missing --out, and writes nothing', async () => {
    const file = join(tmp.dir, 'bad.xlsx');
    expect(await run('export', 'report', '--period', '2026-13', '--out', file)).not.toBe(0);
    expect(err).toMatch(/period: a month like 2026-11 or a quarter like 2026-Q4/);
    expect(existsSync(file)).toBe(false);
    expect(await run('export', 'report', '--period', '2026-Q4')).not.toBe(0);
    expect(err).toMatch(/--out/);
  });
});
