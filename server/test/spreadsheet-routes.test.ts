/**
 * The spreadsheet routes with the real stores on SQLite behind the real auth
 * plugin: each role's user logs in, so each role's scope is tried; the
 * exported XLSX is read back with ExcelJS.
 */
import { defaultPolicies } from '@kanjia/alerts';
import { FakeClock } from '@kanjia/protocol';
import ExcelJS from 'exceljs';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AlarmService } from '../src/alarms/alarm-service.js';
import { SqliteAlarmStore } from '../src/alarms/alarm-store.js';
import { SqliteAuditLog } from '../src/auth/audit-log.js';
import { SqliteUserStore } from '../src/auth/user-store.js';
import { openDatabase, type Db } from '../src/db/database.js';
import { buildApp } from '../src/http/app.js';
import { createLogger } from '../src/logger.js';
import { SqliteActivityLog } from '../src/pipeline/activity-log.js';
import { SqliteDeviceHistory } from '../src/registry/device-history.js';
import { SqliteRegistryStore } from '../src/registry/registry-store.js';
import { SqliteTownshipStore } from '../src/township/township-store.js';
import { SAMPLE_HEADER, validId, wrongCheckDigit, xlsxOf } from './fixtures/spreadsheets.js';
import { loginAs, tempDataDir } from './helpers.js';

/** 2026-12-02 10:00 in Asia/Shanghai. */
const NOW = Date.UTC(2026, 11, 2, 2, 0, 0);
const ID = { wang: validId('43052419410101002'), li: validId('43052419390606002'), zhang: validId('43052419410305002') };

describe('registry spreadsheets over REST', () => {
  let tmp: ReturnType<typeof tempDataDir>;
  let db: Db;
  let app: FastifyInstance;
  let registry: SqliteRegistryStore;
  let audit: SqliteAuditLog;
  let rescoped: number;
  let township: SqliteTownshipStore;
  const ids = { shimen: '', qingshan: '', wang: '' };
  let cookies: Record<string, string>;

  beforeEach(async () => {
    tmp = tempDataDir();
    db = openDatabase(`${tmp.dir}/kanjia.sqlite`);
    const clock = new FakeClock(NOW);
    registry = new SqliteRegistryStore(db, Buffer.alloc(32, 1), () => clock.nowMs());
    ids.shimen = registry.createVillage({ name: '石门村', township: '石门镇', lat: 27.11, lng: 111.03, households: [] });
    ids.qingshan = registry.createVillage({ name: '青山村', township: '石门镇', lat: 27.2, lng: 111.1, households: [] });
    const h1 = registry.createHousehold(ids.shimen, { address: '石门村一组12号', lat: 27.112, lng: 111.031 });
    ids.wang = registry.createResident(h1, {
      name: '王秀英',
      sex: 'F',
      idNumber: ID.wang,
      phone: '13900000011',
      category: '分散供养特困人员',
      contacts: [
        { name: '刘建军', role: 'helper', phone: '13800000001', post: '村支书' },
        { name: '陈红', role: 'helper', phone: '13800000002', post: '网格员' },
        { name: '赵春梅', role: 'doctor', phone: '13800000003' },
      ],
    });
    const h2 = registry.createHousehold(ids.qingshan, { address: '青山村三组4号', lat: 27.201, lng: 111.101 });
    registry.createResident(h2, { name: '李桂兰', idNumber: ID.li, contacts: [{ name: '张伟', role: 'helper', phone: '13900000001' }] });

    const logger = createLogger('silent');
    const users = new SqliteUserStore(db, () => clock.nowMs());
    audit = new SqliteAuditLog(db, () => clock.nowMs());
    const store = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(), locale: 'zh-CN', channel: 'test', publicUrl: 'http://127.0.0.1:8080' });
    const commands = { publishCommand: async () => undefined, isOnline: () => false };
    const alarms = new AlarmService({ store, registry, clock, logger, commands, outbox: { kick: () => undefined }, escalation: { reschedule: () => undefined }, feed: { alarmChanged: () => undefined, alarmRepeated: () => undefined, devicePresence: () => undefined } });
    rescoped = 0;
    township = new SqliteTownshipStore(db, registry, () => clock.nowMs(), { ordinary: { count: 2, per: 'month' }, especiallyDifficult: { count: 1, per: 'week' } });
    app = await buildApp({
      alarms,
      store,
      logger,
      version: 'test',
      health: () => ({ ready: true }),
      villages: () => registry.villages(),
      setAway: (id, away) => registry.setAway(id, away, clock.nowMs()),
      stats: () => {
        throw new Error('not used here');
      },
      auth: { users, audit, nowMs: () => clock.nowMs() },
      residentVillage: (id) => registry.residentContext(id)?.villageId,
      registry: {
        registry,
        audit,
        alarms: store,
        activity: new SqliteActivityLog(db, clock),
        deviceHistory: new SqliteDeviceHistory(db),
        nowMs: () => clock.nowMs(),
        routineOf: () => undefined,
        registryChanged: () => undefined,
      },
      spreadsheets: { registry, db, audit, township, nowMs: () => clock.nowMs(), timezone: 'Asia/Shanghai', onImported: () => rescoped++ },
    });
    const login = (user: Parameters<typeof loginAs>[2]) => loginAs(app, users, user);
    cookies = {
      admin: await login({ name: 'admin', role: 'admin', displayName: '管理员' }),
      township: await login({ name: 'zhen', role: 'township', township: '石门镇', displayName: '镇民政办 王' }),
      duty: await login({ name: 'li', role: 'duty', villages: [ids.shimen], displayName: '值班员 李明' }),
      helper: await login({ name: 'liu', role: 'helper', phone: '13800000001', displayName: '刘建军' }),
    };
  });

  afterEach(async () => {
    await app.close();
    db.close();
    tmp.cleanup();
  });

  const as = (user: string, method: 'GET' | 'POST', url: string, payload?: unknown) =>
    app.inject({ method, url, headers: { cookie: cookies[user] ?? '' }, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  const upload = (user: string, bytes: Buffer, extra: Record<string, unknown> = {}) =>
    as(user, 'POST', '/api/registry/import', { fileName: '台账.xlsx', contentBase64: bytes.toString('base64'), ...extra });

  /** Rows for both villages: two good ones, a bad check digit, a helper without a phone. */
  const mixedFile = () =>
    xlsxOf([
      {
        name: '名单',
        merges: ['A1:J1'],
        rows: [
          ['石门镇关爱对象台账'],
          [...SAMPLE_HEADER, '所属村'],
          [1, '张桂花', '女', ID.zhang, '独居老人', '刘建军（村支书）13800000001', '每周上门', null, null, '石门村'],
          [2, '周小梅', '女', wrongCheckDigit('43052419400101002'), '低保对象', '王强（网格员）13800000013', null, null, null, '石门村'],
          [3, '钱奶奶', '女', null, '其他', '孙七（组长）', null, null, null, '石门村'],
          [4, '吴大爷', '男', null, '其他', '张伟（组长）13900000001', null, null, null, '青山村'],
        ],
      },
    ]);

  it('previews without importing, then imports exactly the preview once its digest is sent back', async () => {
    const file = await mixedFile();
    const before = registry.counts();
    const preview = await upload('township', file);
    expect(preview.statusCode).toBe(200);
    const body = preview.json();
    expect(body.imported).toBe(false);
    expect(body.preview.counts).toEqual({ create: 2, update: 0, rejected: 2 });
    expect(body.preview.rows.map((r: { row: number; name: string; villageName: string }) => [r.row, r.name, r.villageName])).toEqual([
      [3, '张桂花', '石门村'],
      [6, '吴大爷', '青山村'],
    ]);
    expect(body.preview.problems.map((p: { row: number; column: string }) => [p.row, p.column])).toEqual([
      [4, '身份证号码'],
      [5, '帮扶责任人（职务）'],
    ]);
    // The preview carries no ID or phone numbers.
    expect(preview.body).not.toContain(ID.zhang);
    expect(preview.body).not.toContain('13800000001');
    expect(registry.counts()).toEqual(before);

    const wrong = await upload('township', file, { confirmDigest: '0'.repeat(64) });
    expect(wrong.statusCode).toBe(409);
    expect(wrong.json()).toMatchObject({ code: 'IMPORT_PLAN_CHANGED', preview: { digest: body.preview.digest } });
    expect(registry.counts()).toEqual(before);

    const confirmed = await upload('township', file, { confirmDigest: body.preview.digest });
    expect(confirmed.statusCode).toBe(200);
    expect(confirmed.json()).toMatchObject({ imported: true, created: 2, updated: 0, skipped: 2 });
    expect(registry.counts().residents).toBe(before.residents + 2);
    expect(rescoped).toBe(1);
    expect(audit.page(undefined, 10).entries).toContainEqual(expect.objectContaining({ action: 'registry.import', actor: '镇民政办 王', target: '台账.xlsx', detail: '2 created, 0 updated, 2 rows not imported' }));

    // Each new person's history says who created the record.
    const zhang = registry.residents({ villageId: ids.shimen }).find((r) => r.name === '张桂花')!;
    expect(township.history(zhang.id, 10).map((h) => [h.action, h.by])).toEqual([['created', '镇民政办 王']]);

    // Confirming the old preview again: the registry has changed (the people exist now), so nothing is imported twice.
    const twice = await upload('township', file, { confirmDigest: body.preview.digest });
    expect(twice.statusCode).toBe(409);
    expect(registry.counts().residents).toBe(before.residents + 2);
  });

  it('records an update in the person’s history, and refuses a row of a person who left the registry', async () => {
    const file = await xlsxOf([{ name: '石门村', rows: [SAMPLE_HEADER, [1, '王秀英', '女', ID.wang, '分散供养特困人员', '何平（网格员）13800000014', '每月送米', null, '腿脚不便']] }]);
    const preview = (await upload('admin', file)).json().preview;
    expect(preview.rows).toEqual([expect.objectContaining({ action: 'update', residentId: ids.wang, newContacts: 1 })]);
    expect((await upload('admin', file, { confirmDigest: preview.digest })).json()).toMatchObject({ imported: true, updated: 1 });
    expect(registry.resident(ids.wang)).toMatchObject({ measures: '每月送米', notes: '腿脚不便' });
    const [entry] = township.history(ids.wang, 10);
    expect(entry).toMatchObject({ action: 'updated', by: '管理员' });

    township.leave(ids.wang, { reason: 'careHome', date: '2026-12-02' }, { userId: null, name: 'test' });
    const after = (await upload('admin', file)).json().preview;
    expect(after.rows).toEqual([]);
    expect(after.problems).toEqual([expect.objectContaining({ row: 2, column: '身份证号码', message: expect.stringContaining('已于 2026-12-02 离册') })]);
    // Nor is the person who left in the exported registry.
    const exported = await readBack((await as('admin', 'GET', `/api/registry/export.xlsx?villageId=${ids.shimen}`)).rawPayload);
    expect(exported.getWorksheet('石门村')!.rowCount).toBe(3);
  });

  it('lets a duty officer import into their own villages only, and a helper not at all', async () => {
    const file = await mixedFile();
    const preview = (await upload('duty', file)).json();
    expect(preview.preview.rows.map((r: { name: string }) => r.name)).toEqual(['张桂花']);
    expect(preview.preview.problems).toContainEqual(expect.objectContaining({ row: 6, column: '所属村', message: expect.stringContaining('不在您的管辖范围内') }));
    const done = await upload('duty', file, { confirmDigest: preview.preview.digest });
    expect(done.json()).toMatchObject({ imported: true, created: 1 });
    expect(registry.residents({ villageId: ids.qingshan }).map((r) => r.name)).toEqual(['李桂兰']);

    const elsewhere = await upload('duty', file, { villageId: ids.qingshan });
    expect(elsewhere.statusCode).toBe(404);
    expect(elsewhere.json().code).toBe('VILLAGE_NOT_FOUND');
    const helper = await upload('helper', file);
    expect(helper.statusCode).toBe(403);
    expect(helper.json().code).toBe('FORBIDDEN');
  });

  it('answers bad uploads with a clear code: not a spreadsheet, empty, not base64, too big', async () => {
    const png = await upload('admin', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]));
    expect([png.statusCode, png.json().code]).toEqual([400, 'SPREADSHEET_UNREADABLE']);
    const empty = await as('admin', 'POST', '/api/registry/import', { fileName: 'a.csv', contentBase64: '' });
    expect([empty.statusCode, empty.json().code]).toEqual([400, 'BAD_REQUEST']);
    const headerOnly = await upload('admin', Buffer.from(`${SAMPLE_HEADER.join(',')}\r\n`));
    expect([headerOnly.statusCode, headerOnly.json().code]).toEqual([400, 'SPREADSHEET_EMPTY']);
    const notBase64 = await as('admin', 'POST', '/api/registry/import', { fileName: 'a.csv', contentBase64: '这不是base64' });
    expect([notBase64.statusCode, notBase64.json().code]).toEqual([400, 'SPREADSHEET_UNREADABLE']);
    const noHeader = await upload('admin', Buffer.from('a,b\r\n1,2\r\n'));
    expect([noHeader.statusCode, noHeader.json().code]).toEqual([400, 'SPREADSHEET_NO_HEADER']);
    // 5 MiB and a little more, inside the body limit: refused by its decoded size.
    const big = await upload('admin', Buffer.alloc(5 * 1024 * 1024 + 10, 0x61));
    expect([big.statusCode, big.json().code]).toEqual([413, 'SPREADSHEET_TOO_LARGE']);
    // Far more than the body limit: refused before it is read.
    const huge = await as('admin', 'POST', '/api/registry/import', { fileName: 'a.xlsx', contentBase64: 'A'.repeat(9 * 1024 * 1024) });
    expect(huge.statusCode).toBe(413);
    expect(registry.counts().residents).toBe(2);
  });

  const readBack = async (bytes: Buffer) => {
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(bytes as unknown as ExcelJS.Buffer);
    return workbook;
  };
  const rowValues = (sheet: ExcelJS.Worksheet, r: number) => (sheet.getRow(r).values as unknown[]).slice(1);

  it('exports the registry in the policy layout, a sheet per village, with a Chinese file name', async () => {
    const res = await as('township', 'GET', '/api/registry/export.xlsx');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="kanjia-registry-2026-12-02.xlsx"; filename*=UTF-8''${encodeURIComponent('关爱对象台账-2026-12-02.xlsx')}`);
    const workbook = await readBack(res.rawPayload);
    expect(workbook.worksheets.map((s) => s.name)).toEqual(['石门村', '青山村']);
    const sheet = workbook.getWorksheet('石门村')!;
    expect(sheet.getCell('A1').value).toBe('石门镇石门村关爱对象台账');
    expect(sheet.getCell('A1').isMerged).toBe(true);
    expect(sheet.getCell('A1').font?.name).toBe('黑体');
    expect(rowValues(sheet, 3)).toEqual(['序号', '姓名', '性别', '身份证号码', '人员类别', '帮扶责任人（职务）', '帮扶措施', '联系电话', '备注']);
    expect(rowValues(sheet, 4)).toEqual([1, '王秀英', '女', ID.wang, '分散供养特困人员', '刘建军（村支书）13800000001、陈红（网格员）13800000002', '', '13900000011', '']);
    // The ID number is a text cell, in a text-formatted column: Excel shows all 18 digits.
    expect(sheet.getCell('D4').type).toBe(ExcelJS.ValueType.String);
    expect(sheet.getColumn(4).numFmt).toBe('@');
    expect(sheet.getColumn(4).width).toBe(22);
    expect(sheet.getCell('B4').font?.name).toBe('宋体');
    expect(sheet.rowCount).toBe(4);
    expect(rowValues(workbook.getWorksheet('青山村')!, 4).slice(0, 4)).toEqual([1, '李桂兰', '女', ID.li]);
  });

  it('masks ID numbers for a duty officer and keeps them to their villages; one village with ?villageId', async () => {
    const res = await as('duty', 'GET', '/api/registry/export.xlsx');
    expect(res.statusCode).toBe(200);
    const workbook = await readBack(res.rawPayload);
    expect(workbook.worksheets.map((s) => s.name)).toEqual(['石门村']);
    const row = rowValues(workbook.getWorksheet('石门村')!, 4);
    expect(row[3]).toBe(`${ID.wang.slice(0, 6)}********${ID.wang.slice(-4)}`);
    // The duty officer calls the chain: phones in clear.
    expect(row[7]).toBe('13900000011');
    expect(res.headers['content-disposition']).toContain(encodeURIComponent('石门镇石门村台账-2026-12-02.xlsx'));

    const other = await as('duty', 'GET', `/api/registry/export.xlsx?villageId=${ids.qingshan}`);
    expect([other.statusCode, other.json().code]).toEqual([404, 'VILLAGE_NOT_FOUND']);
    const one = await as('admin', 'GET', `/api/registry/export.xlsx?villageId=${ids.qingshan}`);
    expect((await readBack(one.rawPayload)).worksheets.map((s) => s.name)).toEqual(['青山村']);
    const bad = await as('admin', 'GET', '/api/registry/export.xlsx?village=x');
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'BAD_REQUEST']);
  });

  it('gives a helper only the people whose chain they are in, with ID and phone numbers masked', async () => {
    const res = await as('helper', 'GET', '/api/registry/export.xlsx');
    expect(res.statusCode).toBe(200);
    const workbook = await readBack(res.rawPayload);
    expect(workbook.worksheets.map((s) => s.name)).toEqual(['石门村']);
    const sheet = workbook.getWorksheet('石门村')!;
    expect(sheet.rowCount).toBe(4);
    const row = rowValues(sheet, 4);
    expect(row[3]).toBe(`${ID.wang.slice(0, 6)}********${ID.wang.slice(-4)}`);
    expect(row[5]).toBe('刘建军（村支书）138****0001、陈红（网格员）138****0002');
    expect(row[7]).toBe('139****0011');
    const anon = await app.inject({ method: 'GET', url: '/api/registry/export.xlsx' });
    expect(anon.statusCode).toBe(401);
  });

  it('reads its own export back: the same people, recognised as updates', async () => {
    const exported = await as('admin', 'GET', '/api/registry/export.xlsx');
    const preview = (await upload('admin', exported.rawPayload)).json();
    expect(preview.preview.problems).toEqual([]);
    expect(preview.preview.rows.map((r: { name: string; action: string; villageName: string; newContacts: number }) => [r.name, r.action, r.villageName, r.newContacts])).toEqual([
      ['王秀英', 'update', '石门村', 0],
      ['李桂兰', 'update', '青山村', 0],
    ]);
  });
});
