/**
 * The report figures over REST against a seeded month whose answers are
 * worked out here by hand (in the comments): people joined and left, alarms
 * with known times to take and to reach the site, cancelled (false) cases,
 * visits on and off schedule, devices offline / low / never seen at the
 * month's end; the period's bounds in village time; bad periods; scoping per
 * role; the XLSX download read back.
 */
import type { AlarmOutcome, TownshipReport } from '@kanjia/protocol';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteDeviceHistory } from '../src/registry/device-history.js';
import { HOUR, townshipApp, visitBody, type TownshipApp } from './township-helpers.js';

const MIN = 60_000;
/** A local time in Asia/Shanghai (UTC+8). */
const cst = (iso: string, hour = 0, minute = 0) => Date.parse(`${iso}T00:00:00Z`) - 8 * HOUR + hour * HOUR + minute * MIN;

let t: TownshipApp;
let zhangSos: string;
let liSos: string;

/** Opens a case at `openedAt` and moves it along: steps are [action, minutes after opening]. */
function seedCase(kind: 'sos' | 'co' | 'deviceOffline', deviceId: string, eventId: string, openedAt: number, steps: Array<['take' | 'onTheWay' | 'onSite' | 'resolve' | 'cancel', number, AlarmOutcome?]>): void {
  const { alarmId } = t.alarmStore.raiseFinding({ kind, deviceId, eventId, eventTs: openedAt, reason: 'seeded for the report' }, openedAt);
  for (const [action, after, outcome] of steps) t.alarmStore.transition(alarmId, action, '值班员 李明', action === 'resolve' || action === 'cancel' ? '已处理' : undefined, openedAt + after * MIN, outcome);
}

beforeAll(async () => {
  t = await townshipApp();
  const devicesOf = (residentName: string) => t.registry.devices({}).filter((d) => d.residentName === residentName || t.registry.residents({ householdId: d.householdId }).some((r) => r.name === residentName));
  zhangSos = devicesOf('张德福')[0]!.id;
  liSos = devicesOf('李桂兰')[0]!.id;
  // The devices were registered at the test's "now" (2026-12-02); the report counts devices registered before the period's end: say they came in October.
  t.db.prepare('UPDATE devices SET created_at = ?').run(cst('2026-10-20'));

  // --- alarms in 石门村 (times to take: 2, 5, 1, 10, 30, 3 min; on site: 20, 35, 50 min) ---
  seedCase('sos', t.ids.wangSos, 'a1', cst('2026-11-01', 0, 30), [['take', 2], ['onTheWay', 5], ['onSite', 20], ['resolve', 40, 'real']]); // 00:30 local = 10-31 16:30 UTC: in November
  seedCase('sos', t.ids.wangSos, 'a2', cst('2026-11-10', 20), [['take', 5], ['onTheWay', 6], ['onSite', 35], ['resolve', 60, 'real']]);
  seedCase('co', t.ids.wangMotion, 'a3', cst('2026-11-15', 12), [['take', 1], ['cancel', 4]]); // false alarm
  // Pressed by mistake: found so on site and resolved as a false alarm.
  seedCase('sos', zhangSos, 'a4', cst('2026-11-20', 9), [['take', 10], ['onTheWay', 12], ['onSite', 50], ['resolve', 80, 'falseAlarm']]);
  // Resolved without saying how it ended (an API client): counted as real, and counted as unclassified.
  seedCase('deviceOffline', t.ids.wangMotion, 'a5', cst('2026-11-25', 3), [['take', 30], ['resolve', 90]]);
  seedCase('sos', zhangSos, 'a6', cst('2026-11-28', 22), [['take', 3], ['cancel', 6]]); // false alarm
  // Outside November in village time (in it in UTC, for the second): not counted.
  seedCase('sos', t.ids.wangSos, 'out1', cst('2026-10-31', 23, 59), [['take', 1], ['resolve', 2]]);
  seedCase('sos', t.ids.wangSos, 'out2', cst('2026-12-01', 0, 30), [['take', 7], ['resolve', 9]]);
  // --- 青山村: one case taken after 4 min and still on site's way (not closed) ---
  seedCase('sos', liSos, 'b1', cst('2026-11-22', 10), [['take', 4]]);

  // --- visits: 王秀英 (1/week) on 11-05, 11-12, 11-19, 11-26 (each within 7 days: compliant) and 12-01 (December);
  // 张德福 (2/month: every 15 days, joined 11-01, due by the end of 11-16) only on 11-18: late, not compliant.
  for (const day of ['2026-11-05', '2026-11-12', '2026-11-19', '2026-11-26', '2026-12-01']) {
    expect((await t.as('admin', 'POST', `/api/residents/${t.ids.wang}/visits`, visitBody({ at: cst(day, 10) }))).statusCode).toBe(201);
  }
  expect((await t.as('admin', 'POST', `/api/residents/${t.ids.zhang}/visits`, visitBody({ at: cst('2026-11-18', 10) }))).statusCode).toBe(201);
  // 张德福 died on 11-25: left, with the reason.
  expect((await t.as('admin', 'POST', `/api/residents/${t.ids.zhang}/leave`, { reason: 'died', date: '2026-11-25' })).statusCode).toBe(200);

  // --- devices at the end of November: 王's SOS fine; 王's motion sensor offline since 11-25; 张's SOS battery 15%; 李's never seen ---
  const history = new SqliteDeviceHistory(t.db);
  for (const d of [t.ids.wangSos, t.ids.wangMotion, zhangSos]) history.presence(d, true, cst('2026-11-01', 8));
  history.battery(t.ids.wangSos, 80, cst('2026-11-01', 8));
  history.presence(t.ids.wangMotion, false, cst('2026-11-25', 2, 50));
  history.battery(zhangSos, 15, cst('2026-11-20', 8));
  // After the month's end: not what the November report says.
  history.presence(t.ids.wangMotion, true, cst('2026-12-01', 9));
});

afterAll(async () => {
  await t.close();
});

const get = async (role: Parameters<TownshipApp['as']>[0], query: string) => t.as(role, 'GET', `/api/reports?${query}`);
const village = (r: TownshipReport, name: string) => r.villages.find((v) => v.villageName === name)!.figures;

describe('the report figures (2026-11, seeded)', () => {
  it('counts people in the registry during the month by category and care level, who joined, who left and why', async () => {
    const res = await get('admin', 'period=2026-11');
    expect(res.statusCode).toBe(200);
    const report = res.json() as TownshipReport;
    expect(report.period).toEqual({ code: '2026-11', kind: 'month', from: '2026-11-01', until: '2026-12-01', lastDay: '2026-11-30' });
    expect(report.partial).toBe(false);
    const shimen = village(report, '石门村');
    // 王秀英 (特困, especially difficult) and 张德福 (独居 → leftBehindOrAlone, ordinary), both joined 11-01; 张 left (died) 11-25.
    expect(shimen.people).toMatchObject({ total: 2, joined: 2, left: 1 });
    expect(shimen.people.byCategory).toMatchObject({ dispersedSupport: 1, leftBehindOrAlone: 1, minimumLiving: 0 });
    expect(shimen.people.byCareLevel).toEqual({ ordinary: 1, especiallyDifficult: 1 });
    expect(shimen.people.leftByReason).toMatchObject({ died: 1, careHome: 0 });
    // The township: 李桂兰 (低保, joined 11-20) as well.
    expect(report.total.people).toMatchObject({ total: 3, joined: 3, left: 1 });
    expect(report.total.people.byCategory).toMatchObject({ minimumLiving: 1 });
  });

  it('counts alarms by kind in village time, with the median and 90th percentile of time to take and to arrive, and the share of false alarms', async () => {
    const report = (await get('admin', 'period=2026-11')).json() as TownshipReport;
    const alarms = village(report, '石门村').alarms;
    // a1..a6; out1 (10-31 23:59) and out2 (12-01 00:30 local, 11-30 in UTC) are not November's.
    expect(alarms.total).toBe(6);
    expect(alarms.byKind).toEqual({ sos: 4, co: 1, deviceOffline: 1 });
    // Take: 1, 2, 3, 5, 10, 30 min → median (3 + 5) / 2 = 4 min; p90 = the ⌈0.9 × 6⌉ = 6th value = 30 min.
    expect(alarms.timeToTake).toEqual({ count: 6, medianMs: 4 * MIN, p90Ms: 30 * MIN });
    // On site: 20, 35, 50 min → median 35; p90 = the ⌈2.7⌉ = 3rd = 50.
    expect(alarms.timeToSite).toEqual({ count: 3, medianMs: 35 * MIN, p90Ms: 50 * MIN });
    // 6 closed: 2 cancelled (a3, a6) and 1 resolved as a false alarm (a4): 1/2; a5 resolved without an outcome.
    expect(alarms).toMatchObject({ closed: 6, falseAlarms: 3, unclassified: 1 });
    expect(alarms.falseShare).toBeCloseTo(1 / 2, 10);
    // The township pools the durations: take 1, 2, 3, 4, 5, 10, 30 → median 4, p90 the 7th = 30; b1 is not closed.
    expect(report.total.alarms.timeToTake).toEqual({ count: 7, medianMs: 4 * MIN, p90Ms: 30 * MIN });
    expect(report.total.alarms).toMatchObject({ total: 7, closed: 6, falseAlarms: 3, unclassified: 1 });
  });

  it('gives the share of people whose visits met their care level’s frequency', async () => {
    const report = (await get('admin', 'period=2026-11')).json() as TownshipReport;
    // 王 compliant, 张 late (due by 11-16, visited 11-18); 4 + 1 visits in November (the one of 12-01 is December's).
    expect(village(report, '石门村').visits).toEqual({ count: 5, people: 2, compliant: 1, share: 0.5 });
    // 李 joined 11-20: first due by the end of 12-05, after the month: compliant.
    expect(report.total.visits).toMatchObject({ count: 5, people: 3, compliant: 2 });
    expect(report.total.visits.share).toBeCloseTo(2 / 3, 10);
  });

  it('lists the devices not working at the month’s end, and those with alarms during it, saying why', async () => {
    const report = (await get('admin', 'period=2026-11')).json() as TownshipReport;
    const devices = village(report, '石门村').devices;
    expect(devices).toMatchObject({ total: 3, notWorkingAtEnd: 2, atEndByProblem: { offline: 1, lowBattery: 1, neverSeen: 0 }, troubledDuring: 1 });
    const line = (id: string) => devices.lines.find((l) => l.deviceId === id);
    expect(line(t.ids.wangMotion)).toMatchObject({ atEnd: ['offline'], duringPeriod: { deviceOffline: 1, lowBattery: 0 } });
    expect(line(zhangSos)).toMatchObject({ atEnd: ['lowBattery'] });
    expect(line(t.ids.wangSos)).toBeUndefined();
    expect(village(report, '青山村').devices).toMatchObject({ total: 1, atEndByProblem: { neverSeen: 1 } });
  });

  it('a quarter covers its three months; the current month is partial', async () => {
    const q4 = (await get('admin', 'period=2026-Q4')).json() as TownshipReport;
    expect(q4.period).toMatchObject({ code: '2026-Q4', kind: 'quarter', from: '2026-10-01', until: '2027-01-01', lastDay: '2026-12-31' });
    expect(q4.partial).toBe(true);
    // a1..a6 and out1, out2.
    expect(village(q4, '石门村').alarms.total).toBe(8);
    const dec = (await get('admin', 'period=2026-12')).json() as TownshipReport;
    expect(dec.partial).toBe(true);
    // 张 left in November: not in December's registry.
    expect(village(dec, '石门村').people.total).toBe(1);
    expect(village(dec, '石门村').visits.count).toBe(1);
  });
});

describe('bad periods and scoping', () => {
  it.each(['2026-13', '2026-Q5', 'Q4', '2026-11-01', '', '1999-01'])('refuses period=%s with a clear 400', async (period) => {
    const res = await get('admin', `period=${encodeURIComponent(period)}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/period/);
  });

  it('needs a period', async () => {
    const res = await t.as('admin', 'GET', '/api/reports');
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toMatch(/period/);
  });

  it('gives a township its villages, a duty officer theirs; refuses a helper; an out-of-scope village is unknown', async () => {
    const township = (await get('township', 'period=2026-11')).json() as TownshipReport;
    expect(township.title).toBe('石门镇');
    expect(township.villages.map((v) => v.villageName)).toEqual(['石门村']);
    expect(township.total.alarms.total).toBe(6);
    const dutyB = (await get('dutyB', 'period=2026-11')).json() as TownshipReport;
    expect(dutyB.villages.map((v) => v.villageName)).toEqual(['青山村']);
    expect(dutyB.total.alarms.total).toBe(1);
    expect((await get('helper', 'period=2026-11')).statusCode).toBe(403);
    expect((await get('duty', `period=2026-11&villageId=${t.ids.qingshan}`)).statusCode).toBe(404);
    const one = (await get('admin', `period=2026-11&villageId=${t.ids.qingshan}`)).json() as TownshipReport;
    expect(one.villages.map((v) => v.villageName)).toEqual(['青山村']);
  });

  it('carries no ID or phone numbers', async () => {
    const text = (await get('admin', 'period=2026-11')).body;
    for (const secret of ['13712345678', '13912340000', '13800000001', '430524194101011240', '430524193905200026', '430524193812310031']) expect(text).not.toContain(secret);
  });
});

describe('the XLSX download', () => {
  it('has a sheet per section with the title row and Chinese headers, and the figures', async () => {
    const res = await t.as('township', 'GET', '/api/reports/export.xlsx?period=2026-11');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-disposition']).toContain(encodeURIComponent('石门镇2026年11月报告.xlsx'));
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(res.rawPayload as unknown as ArrayBuffer);
    expect(wb.worksheets.map((s) => s.name)).toEqual(['概况', '人员', '报警', '探访', '设备']);
    const summary = wb.getWorksheet('概况')!;
    expect(summary.getCell('A1').value).toBe('石门镇2026年11月关爱工作报告');
    expect(summary.getRow(3).getCell(1).value).toBe('村');
    expect(summary.getRow(4).getCell(1).value).toBe('石门村');
    expect(summary.getRow(4).getCell(5).value).toBe(6);
    expect(summary.getRow(5).getCell(1).value).toBe('合计');
    const alarms = wb.getWorksheet('报警')!;
    const headers = (alarms.getRow(3).values as unknown[]).slice(1);
    expect(headers).toContain('接警90%分位（分钟）');
    expect(alarms.getRow(4).getCell(headers.indexOf('接警中位数（分钟）') + 1).value).toBe(4);
    expect(alarms.getRow(4).getCell(headers.indexOf('误报比例') + 1).value).toBe('50.0%');
    expect(alarms.getRow(4).getCell(headers.indexOf('处理时未注明是否误报') + 1).value).toBe(1);
    expect(wb.getWorksheet('设备')!.getRow(4).getCell(5).value).toMatch(/离线|电量低/);
    expect((await t.as('helper', 'GET', '/api/reports/export.xlsx?period=2026-11')).statusCode).toBe(403);
  });

  it('is audited (report.export): who, the period and the villages; viewing the figures on screen is not', async () => {
    const before = t.audit.page(undefined, 1000).entries.filter((e) => e.action === 'report.export').length;
    await get('township', 'period=2026-11');
    expect(t.audit.page(undefined, 1000).entries.filter((e) => e.action === 'report.export')).toHaveLength(before);
    expect((await t.as('duty', 'GET', `/api/reports/export.xlsx?period=2026-Q4&villageId=${t.ids.shimen}`)).statusCode).toBe(200);
    const entries = t.audit.page(undefined, 1000).entries.filter((e) => e.action === 'report.export');
    expect(entries).toHaveLength(before + 1);
    expect(entries[0]).toMatchObject({ action: 'report.export', actor: '值班员 李明', target: t.ids.shimen, detail: '2026-Q4, 1 village(s)' });
    // A refused download (a helper, or a village out of scope) records nothing.
    expect((await t.as('dutyB', 'GET', `/api/reports/export.xlsx?period=2026-Q4&villageId=${t.ids.shimen}`)).statusCode).toBe(404);
    expect(t.audit.page(undefined, 1000).entries.filter((e) => e.action === 'report.export')).toHaveLength(before + 1);
    // The audit page lists it for an admin, with its action code.
    const page = (await t.as('admin', 'GET', '/api/audit?limit=200')).json() as { entries: Array<{ action: string }> };
    expect(page.entries.map((e) => e.action)).toContain('report.export');
  });
});
