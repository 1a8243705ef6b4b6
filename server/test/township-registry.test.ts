/**
 * The person record (一人一档) over REST with the real stores on SQLite and the
 * real auth plugin: create and edit through the resident routes, the registry
 * list's search, filters and pages, the history of every change (masked per
 * role), leaving the registry and coming back, each role's scope, and bad
 * bodies answered with a clear 400 that changes nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ID_LI, ID_WANG, ID_ZHANG, NOW, townshipApp, type TownshipApp } from './township-helpers.js';

describe('the person record and the registry list', () => {
  let t: TownshipApp;
  beforeEach(async () => {
    t = await townshipApp();
  });
  afterEach(async () => t.close());

  it('creates a record with the policy’s fields through the resident route and shows all of it', async () => {
    const created = await t.as('township', 'POST', `/api/households/${t.ids.wangHousehold}/residents`, {
      name: '王德胜',
      sex: 'M',
      idNumber: ID_ZHANG,
      phone: '13712340001',
      category: '一、二级重度残疾人（无有能力赡养人）',
      careLevel: 'especiallyDifficult',
      livingSituation: 'withSpouse',
      measures: '每月送药；代办低保年审',
      notes: '耳背',
      medicalNotes: '脑梗后遗症',
      guardianName: '王小军',
      guardianWorkplace: '广东省东莞市',
      guardianPhone: '13912340000',
      contacts: [
        { name: '刘建军', role: 'helper', phone: '13800000001', post: '村支书' },
        { name: '陈明', role: 'helper', phone: '13800000005', post: '网格员' },
      ],
    });
    expect(created.statusCode).toBe(201);
    const id = created.json().id as string;
    expect(created.json()).toMatchObject({ category: 'severeDisability', careLevel: 'especiallyDifficult', joinedOn: '2026-12-02', leftOn: null, age: 87 });
    const record = (await t.as('township', 'GET', `/api/registry/people/${id}`)).json();
    expect(record).toMatchObject({
      name: '王德胜',
      sex: 'M',
      age: 87,
      birthDate: '1938-12-31',
      idNumber: ID_ZHANG,
      idNumberMasked: false,
      phone: '13712340001',
      category: 'severeDisability',
      careLevel: 'especiallyDifficult',
      livingSituation: 'withSpouse',
      measures: '每月送药；代办低保年审',
      notes: '耳背',
      medicalNotes: '脑梗后遗症',
      guardian: { name: '王小军', workplace: '广东省东莞市', phone: '13912340000' },
      joinedOn: '2026-12-02',
      left: null,
      visitFrequency: { count: 1, per: 'week', intervalDays: 7 },
      canEdit: true,
      canVisit: true,
    });
    // "1+N": both helpers with their post.
    expect(record.helpers.map((h: { name: string; post: string }) => `${h.name}/${h.post}`)).toEqual(['刘建军/村支书', '陈明/网格员']);
    // Never visited: the first visit is due a week after joining, by the end of that day.
    expect(record.nextVisit).toMatchObject({ date: '2026-12-09', reason: 'regular', overdue: false });
  });

  it('edits the new fields through PATCH /api/residents/:id; null clears an optional one', async () => {
    const res = await t.as('township', 'PATCH', `/api/residents/${t.ids.wang}`, { careLevel: 'ordinary', livingSituation: 'leftBehind', guardianWorkplace: null, category: '低保对象' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ careLevel: 'ordinary', livingSituation: 'leftBehind', guardianWorkplace: null, guardianName: '王小军', category: 'minimumLiving' });
  });

  it('searches by name, ID number and phone, filters by village, category and care level, in pages', async () => {
    const names = async (query: string, role: 'admin' | 'duty' = 'admin') => {
      const res = await t.as(role, 'GET', `/api/registry/people?${query}`);
      expect(res.statusCode).toBe(200);
      return (res.json().people as Array<{ name: string }>).map((p) => p.name);
    };
    expect(await names('')).toEqual(['王秀英', '张德福', '李桂兰']);
    expect(await names(`q=${encodeURIComponent('秀')}`)).toEqual(['王秀英']);
    expect(await names(`q=${ID_LI.slice(-6)}`)).toEqual(['李桂兰']);
    expect(await names('q=2345678')).toEqual(['王秀英']); // her phone 13712345678
    expect(await names('q=12340000')).toEqual(['王秀英']); // her guardian's phone
    expect(await names(`villageId=${t.ids.qingshan}`)).toEqual(['李桂兰']);
    expect(await names('category=leftBehindOrAlone')).toEqual(['张德福']); // imported as 独居
    expect(await names('category=minimumLiving')).toEqual(['李桂兰']); // imported as 低保
    expect(await names('careLevel=especiallyDifficult')).toEqual(['王秀英']);
    expect(await names(`careLevel=ordinary&villageId=${t.ids.shimen}`)).toEqual(['张德福']);
    // A duty officer does not see ID numbers, so cannot search by one either (the answer would tell whose it is).
    expect(await names(`q=${ID_WANG.slice(-8)}`, 'duty')).toEqual([]);
    const page2 = (await t.as('admin', 'GET', '/api/registry/people?pageSize=2&page=2')).json();
    expect(page2).toMatchObject({ page: 2, pageSize: 2, total: 3 });
    expect(page2.people.map((p: { name: string }) => p.name)).toEqual(['李桂兰']);
  });

  it('keeps the history of every change: who, which fields, old → new, ID and phone numbers masked for roles that may not see them', async () => {
    t.clock.advance(60_000);
    expect((await t.as('township', 'PATCH', `/api/residents/${t.ids.wang}`, { careLevel: 'ordinary', phone: '13712349999', idNumber: ID_LI })).statusCode).toBe(200);
    t.clock.advance(60_000);
    expect((await t.as('duty', 'PATCH', `/api/residents/${t.ids.wang}`, { measures: '每周送菜' })).statusCode).toBe(200);
    // A change that changes nothing is not history.
    expect((await t.as('duty', 'PATCH', `/api/residents/${t.ids.wang}`, { measures: '每周送菜' })).statusCode).toBe(200);
    t.clock.advance(60_000);
    expect((await t.as('admin', 'PATCH', `/api/contacts/${t.ids.liuForWang}`, { post: '村主任' })).statusCode).toBe(200);

    const asTownship = (await t.as('township', 'GET', `/api/residents/${t.ids.wang}/history`)).json().entries;
    expect(asTownship.map((e: { action: string; by: string }) => `${e.action} by ${e.by}`)).toEqual(['contacts by 管理员', 'updated by 值班员 李明', 'updated by 镇民政办 王']);
    expect(asTownship[2].at).toBe(NOW + 60_000);
    expect(asTownship[2].changes).toEqual([
      { field: 'idNumber', old: ID_WANG, new: ID_LI },
      { field: 'phone', old: '13712345678', new: '13712349999' },
      { field: 'careLevel', old: 'especiallyDifficult', new: 'ordinary' },
    ]);
    expect(asTownship[1].changes).toEqual([{ field: 'measures', old: null, new: '每周送菜' }]);
    expect(asTownship[0].changes).toEqual([{ field: 'contact.1', old: '刘建军（helper，村支书）13800000001', new: '刘建军（helper，村主任）13800000001' }]);

    // The duty officer sees phones but not ID numbers; the helper neither.
    const asDuty = (await t.as('duty', 'GET', `/api/residents/${t.ids.wang}/history`)).json().entries;
    expect(asDuty[2].changes[0]).toEqual({ field: 'idNumber', old: '430524********1240', new: '430524********0026' });
    expect(asDuty[2].changes[1]).toEqual({ field: 'phone', old: '13712345678', new: '13712349999' });
    const helper = await t.as('helper', 'GET', `/api/residents/${t.ids.wang}/history`);
    expect(helper.statusCode).toBe(200);
    expect(helper.json().entries[2].changes[1]).toEqual({ field: 'phone', old: '137****5678', new: '137****9999' });
    expect(helper.json().entries[0].changes[0].new).toBe('刘建军（helper，村主任）138****0001');
    for (const clear of [ID_WANG, ID_LI, '13712345678', '13800000001']) expect(helper.body).not.toContain(clear);
  });

  it('records the creation of a record with its fields', async () => {
    const res = await t.as('admin', 'POST', `/api/households/${t.ids.wangHousehold}/residents`, { name: '王德胜', careLevel: 'ordinary', contacts: [{ name: '刘建军', role: 'helper', phone: '13800000001' }] });
    const entries = (await t.as('admin', 'GET', `/api/residents/${res.json().id}/history`)).json().entries;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ action: 'created', by: '管理员' });
    expect(entries[0].changes).toContainEqual({ field: 'name', old: null, new: '王德胜' });
    expect(entries[0].changes).toContainEqual({ field: 'joinedOn', old: null, new: '2026-12-02' });
  });
});

describe('leaving the registry and coming back', () => {
  let t: TownshipApp;
  beforeEach(async () => {
    t = await townshipApp();
  });
  afterEach(async () => t.close());

  it('takes the person out of the active lists and the detectors, keeps them for the reports, and restores them', async () => {
    const left = await t.as('duty', 'POST', `/api/residents/${t.ids.wang}/leave`, { reason: 'careHome', date: '2026-12-01', note: '县福利院' });
    expect(left.statusCode).toBe(200);
    expect(left.json().left).toMatchObject({ date: '2026-12-01', reason: 'careHome', note: '县福利院', by: '值班员 李明', recordedAt: NOW });
    expect(left.json()).toMatchObject({ nextVisit: null, canVisit: false });
    // Out of the active lists…
    const active = (await t.as('admin', 'GET', '/api/registry/people')).json().people.map((p: { name: string }) => p.name);
    expect(active).toEqual(['张德福', '李桂兰']);
    expect((await t.as('admin', 'GET', '/api/residents')).json().residents.map((r: { name: string }) => r.name)).not.toContain('王秀英');
    // …kept for the reports…
    const gone = (await t.as('admin', 'GET', '/api/registry/people?status=left')).json();
    expect(gone.people.map((p: { name: string; left: { reason: string } }) => `${p.name}:${p.left.reason}`)).toEqual(['王秀英:careHome']);
    expect((await t.as('admin', 'GET', '/api/registry/people?status=all')).json().total).toBe(3);
    // …and no longer watched: her devices were re-read and are not in the watch list.
    expect(t.changed).toEqual(expect.arrayContaining([t.ids.wangSos, t.ids.wangMotion]));
    expect(t.registry.watchList().map((w) => w.residentId)).not.toContain(t.ids.wang);
    // No visit for someone who left; leaving twice is refused.
    const visit = await t.as('duty', 'POST', `/api/residents/${t.ids.wang}/visits`, { mode: 'phone', health: 'good', mood: 'good' });
    expect(visit.statusCode).toBe(409);
    expect(visit.json().code).toBe('RESIDENT_HAS_LEFT');
    expect((await t.as('admin', 'POST', `/api/residents/${t.ids.wang}/leave`, { reason: 'died', date: '2026-12-02' })).json().code).toBe('RESIDENT_HAS_LEFT');

    t.clock.advance(2 * 3_600_000);
    const back = await t.as('township', 'POST', `/api/residents/${t.ids.wang}/restore`, { note: '福利院退回，回家住' });
    expect(back.statusCode).toBe(200);
    expect(back.json()).toMatchObject({ left: null, canVisit: true, joinedOn: '2026-11-01' });
    expect(t.registry.watchList().map((w) => w.residentId)).toContain(t.ids.wang);
    expect((await t.as('township', 'POST', `/api/residents/${t.ids.wang}/restore`, {})).json().code).toBe('RESIDENT_NOT_LEFT');
    const history = (await t.as('admin', 'GET', `/api/residents/${t.ids.wang}/history`)).json().entries;
    expect(history.map((e: { action: string }) => e.action)).toEqual(['restored', 'left']);
    expect(history[1].changes).toEqual([
      { field: 'leftOn', old: null, new: '2026-12-01' },
      { field: 'leaveReason', old: null, new: 'careHome' },
      { field: 'leaveNote', old: null, new: '县福利院' },
    ]);
    expect(history[0].changes).toContainEqual({ field: 'restoreNote', old: null, new: '福利院退回，回家住' });
  });

  it('refuses a leave without a valid reason and date, in the future, before joining, or other without a note; nothing changes', async () => {
    const cases: Array<[Record<string, unknown>, number, RegExp]> = [
      [{ reason: 'holiday', date: '2026-12-01' }, 400, /reason: one of movedToChildren \(随子女生活\), careHome \(入住养老机构\), died \(去世\), movedAway \(迁出\), other \(其他\)/],
      [{ reason: 'died' }, 400, /date/],
      [{ reason: 'died', date: '2026-02-30' }, 400, /date: not a real date/],
      [{ reason: 'died', date: '2026-12-03' }, 400, /date: 2026-12-03 is in the future \(today is 2026-12-02\)/],
      [{ reason: 'movedAway', date: '2026-10-01' }, 400, /before 王秀英 joined the registry \(2026-11-01\)/],
      [{ reason: 'other', date: '2026-12-01' }, 400, /note: say why the person left/],
      [{ reason: 'died', date: '2026-12-01', by: 'x' }, 400, /by/],
    ];
    for (const [body, status, message] of cases) {
      const res = await t.as('admin', 'POST', `/api/residents/${t.ids.wang}/leave`, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(status);
      expect(res.json().code).toBe('BAD_REQUEST');
      expect(res.json().message).toMatch(message);
    }
    expect(t.registry.resident(t.ids.wang)?.leftOn).toBeNull();
    expect(t.township.history(t.ids.wang, 10)).toEqual([]);
  });
});

describe('role scoping of the person record', () => {
  let t: TownshipApp;
  beforeEach(async () => {
    t = await townshipApp();
  });
  afterEach(async () => t.close());

  const names = async (role: Parameters<TownshipApp['as']>[0]) => ((await t.as(role, 'GET', '/api/registry/people')).json().people as Array<{ name: string }>).map((p) => p.name);

  it('lists for each role only its people: admin all, township its villages, duty theirs, a helper those whose chain they are in', async () => {
    expect(await names('admin')).toEqual(['王秀英', '张德福', '李桂兰']);
    expect(await names('township')).toEqual(['王秀英', '张德福']);
    expect(await names('duty')).toEqual(['王秀英', '张德福']);
    expect(await names('dutyB')).toEqual(['李桂兰']);
    expect(await names('helper')).toEqual(['王秀英', '张德福']);
    expect(await names('helperChen')).toEqual(['张德福']);
    // Another village's filter, or a person outside the scope, answers 404 as if it did not exist.
    expect((await t.as('dutyB', 'GET', `/api/registry/people?villageId=${t.ids.shimen}`)).json().code).toBe('VILLAGE_NOT_FOUND');
    for (const url of [`/api/registry/people/${t.ids.wang}`, `/api/residents/${t.ids.wang}/history`, `/api/residents/${t.ids.wang}/visits`]) {
      expect((await t.as('dutyB', 'GET', url)).json().code, url).toBe('RESIDENT_NOT_FOUND');
      expect((await t.as('helperChen', 'GET', url)).json().code, url).toBe('RESIDENT_NOT_FOUND');
    }
  });

  it('masks ID and phone numbers per role in the list and the record', async () => {
    const asHelper = (await t.as('helper', 'GET', `/api/registry/people/${t.ids.wang}`)).json();
    expect(asHelper).toMatchObject({ idNumber: '430524********1240', idNumberMasked: true, phone: '137****5678', phoneMasked: true, guardian: { phone: '139****0000' }, canEdit: false });
    expect(asHelper.helpers[0]).toMatchObject({ phone: '138****0001', phoneMasked: true });
    const asDuty = (await t.as('duty', 'GET', '/api/registry/people')).json();
    expect(asDuty.people[0]).toMatchObject({ idNumber: '430524********1240', idNumberMasked: true, phone: '13712345678', phoneMasked: false });
    expect(JSON.stringify(asDuty)).not.toContain(ID_WANG);
    const asTownship = (await t.as('township', 'GET', `/api/registry/people/${t.ids.wang}`)).json();
    expect(asTownship).toMatchObject({ idNumber: ID_WANG, idNumberMasked: false, canEdit: true });
  });

  it('says in the record what each role may change, as the routes allow it, and in which time zone its village is', async () => {
    const rights = async (role: Parameters<typeof t.as>[0]) => {
      const r = (await t.as(role, 'GET', `/api/registry/people/${t.ids.wang}`)).json();
      return [r.canEdit, r.canEditIdNumber, r.canEditChain, r.timezone];
    };
    expect(await rights('admin')).toEqual([true, true, true, 'Asia/Shanghai']);
    expect(await rights('township')).toEqual([true, true, true, 'Asia/Shanghai']);
    expect(await rights('duty')).toEqual([true, false, false, 'Asia/Shanghai']);
    expect(await rights('helper')).toEqual([false, false, false, 'Asia/Shanghai']);
    // The zone is the village's: another zone shows.
    t.db.prepare('UPDATE villages SET timezone = ? WHERE id = ?').run('Asia/Urumqi', t.ids.shimen);
    try {
      expect((await rights('duty'))[3]).toBe('Asia/Urumqi');
    } finally {
      t.db.prepare('UPDATE villages SET timezone = ? WHERE id = ?').run('Asia/Shanghai', t.ids.shimen);
    }
  });

  it('lets duty edit the record of their villages but not the ID number, the chain or another village; a helper edits nothing', async () => {
    expect((await t.as('duty', 'PATCH', `/api/residents/${t.ids.wang}`, { notes: '已安装烟感' })).statusCode).toBe(200);
    const id = await t.as('duty', 'PATCH', `/api/residents/${t.ids.wang}`, { idNumber: ID_LI });
    expect(id.statusCode).toBe(403);
    expect(id.json()).toEqual({ code: 'FORBIDDEN', message: 'a duty user may not change the ID number (身份证号): ask the township office' });
    expect((await t.as('duty', 'POST', `/api/residents/${t.ids.wang}/contacts`, { name: '某', role: 'helper', phone: '13800000009' })).statusCode).toBe(403);
    expect((await t.as('dutyB', 'PATCH', `/api/residents/${t.ids.wang}`, { notes: 'x' })).json().code).toBe('RESIDENT_NOT_FOUND');
    expect((await t.as('dutyB', 'POST', `/api/residents/${t.ids.wang}/leave`, { reason: 'died', date: '2026-12-01' })).json().code).toBe('RESIDENT_NOT_FOUND');
    expect((await t.as('helper', 'PATCH', `/api/residents/${t.ids.wang}`, { notes: 'x' })).statusCode).toBe(403);
    expect((await t.as('helper', 'POST', `/api/residents/${t.ids.wang}/leave`, { reason: 'died', date: '2026-12-01' })).statusCode).toBe(403);
    expect((await t.as('helper', 'POST', `/api/residents/${t.ids.wang}/restore`, {})).statusCode).toBe(403);
    expect(t.registry.resident(t.ids.wang)).toMatchObject({ notes: '已安装烟感', idNumber: ID_WANG, leftOn: null });
  });

  it('answers bad queries and bodies with 400 naming the field', async () => {
    const bad: Array<[string, string, unknown, RegExp]> = [
      ['GET', '/api/registry/people?category=独居', undefined, /category/],
      ['GET', '/api/registry/people?careLevel=high', undefined, /careLevel: ordinary \(一般\) or especiallyDifficult \(特别困难\)/],
      ['GET', '/api/registry/people?pageSize=1000', undefined, /pageSize/],
      ['GET', '/api/registry/people?status=gone', undefined, /status/],
      ['GET', '/api/registry/people?colour=red', undefined, /colour/],
      ['PATCH', `/api/residents/${t.ids.wang}`, { careLevel: null }, /careLevel/],
      ['PATCH', `/api/residents/${t.ids.wang}`, { livingSituation: 'tent' }, /livingSituation: one of alone \(独居\)/],
      ['PATCH', `/api/residents/${t.ids.wang}`, { guardianPhone: '12345' }, /guardianPhone/],
      ['PATCH', `/api/residents/${t.ids.wang}`, { joinedOn: '2026-13-01' }, /joinedOn/],
      ['GET', `/api/residents/${t.ids.wang}/history?limit=0`, undefined, /limit/],
    ];
    for (const [method, url, body, message] of bad) {
      const res = await t.as('admin', method as 'GET', url, body);
      expect(res.statusCode, url).toBe(400);
      expect(res.json().code).toBe('BAD_REQUEST');
      expect(res.json().message, url).toMatch(message);
    }
    expect(t.registry.resident(t.ids.wang)).toMatchObject({ careLevel: 'especiallyDifficult', livingSituation: 'alone', guardianPhone: '13912340000', joinedOn: '2026-11-01' });
  });
});
