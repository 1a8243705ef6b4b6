/**
 * The simulated village of the demo: 20 households of 石门村 (a made-up
 * village with plausible names, addresses and coordinates in the hills of
 * 隆回县, 湖南省). Phone numbers use the 1990000xxxx test range, which is not
 * assigned to real subscribers.
 */
import { defaultPolicies } from '@kanjia/alerts';
import { categoryFromText, DAY_MS, DEFAULT_VISIT_FREQUENCY, visitIntervalDays, type AlarmKind, type RegistryFile } from '@kanjia/protocol';
import { SqliteAlarmStore } from './alarms/alarm-store.js';
import type { Db } from './db/database.js';
import { localDateOf, type SqliteRegistryStore } from './registry/registry-store.js';
import { SqliteTownshipStore } from './township/township-store.js';

const CENTER = { lat: 27.1136, lng: 111.03 };

const PEOPLE: Array<{ name: string; sex: 'F' | 'M'; birthYear: number; group: number; no: number; note: string; category: string }> = [
  { name: '王秀英', sex: 'F', birthYear: 1941, group: 1, no: 12, note: '钥匙在隔壁王大姐家（东边第二家）', category: '独居' },
  { name: '李桂兰', sex: 'F', birthYear: 1944, group: 1, no: 7, note: '后门常开，狗拴在院里', category: '独居' },
  { name: '张德福', sex: 'M', birthYear: 1938, group: 2, no: 3, note: '侄子张建国在村口开小卖部，有钥匙', category: '特困供养' },
  { name: '刘玉珍', sex: 'F', birthYear: 1946, group: 2, no: 15, note: '钥匙在门口花盆下', category: '留守' },
  { name: '陈桂芳', sex: 'F', birthYear: 1940, group: 3, no: 1, note: '邻居陈大勇有钥匙', category: '独居' },
  { name: '杨淑珍', sex: 'F', birthYear: 1943, group: 3, no: 9, note: '村医赵医生有备用钥匙', category: '独居' },
  { name: '赵金花', sex: 'F', birthYear: 1947, group: 3, no: 21, note: '儿子在广州打工，钥匙在村委会', category: '留守' },
  { name: '黄永贵', sex: 'M', birthYear: 1936, group: 4, no: 5, note: '耳背，需用力敲门；钥匙在村委会', category: '特困供养' },
  { name: '周凤英', sex: 'F', birthYear: 1942, group: 4, no: 11, note: '对门周家有钥匙', category: '独居' },
  { name: '吴春生', sex: 'M', birthYear: 1945, group: 4, no: 18, note: '平时在后山菜地，门一般不锁', category: '留守' },
  { name: '徐翠兰', sex: 'F', birthYear: 1939, group: 5, no: 2, note: '钥匙在网格员小徐处', category: '独居' },
  { name: '孙德明', sex: 'M', birthYear: 1941, group: 5, no: 8, note: '有糖尿病，屋里有胰岛素', category: '特困供养' },
  { name: '胡秀珍', sex: 'F', birthYear: 1944, group: 5, no: 14, note: '女儿在县城，钥匙在邻居胡婶家', category: '留守' },
  { name: '朱玉兰', sex: 'F', birthYear: 1937, group: 6, no: 4, note: '院门挂锁，钥匙在村委会', category: '独居' },
  { name: '高长林', sex: 'M', birthYear: 1940, group: 6, no: 10, note: '独居，养了两只鹅，进门小心', category: '独居' },
  { name: '林桂香', sex: 'F', birthYear: 1946, group: 6, no: 16, note: '侄女林芳有钥匙，住七组', category: '留守' },
  { name: '何水生', sex: 'M', birthYear: 1943, group: 7, no: 6, note: '门口有石阶，雨天路滑', category: '独居' },
  { name: '郭兰英', sex: 'F', birthYear: 1938, group: 7, no: 13, note: '钥匙在门框上方', category: '特困供养' },
  { name: '马守田', sex: 'M', birthYear: 1942, group: 7, no: 19, note: '邻居马二哥有钥匙', category: '独居' },
  { name: '罗秋菊', sex: 'F', birthYear: 1945, group: 8, no: 3, note: '钥匙在村医处', category: '留守' },
];

const HELPERS = ['刘建军', '陈晓红', '王志强', '周丽华', '李明'];
/** Each helper's post (职务), as the policies' "1+N" lists them. */
const HELPER_POSTS = ['村支书', '妇女主任', '网格员', '村医助理', '村委委员'];
/** The demo registry's people joined this long before the demo was first started (the reports have months to show). */
const JOINED_DAYS_AGO = 150;
const GROUP_OFFSETS: Array<[number, number]> = [
  [0.004, -0.006],
  [0.006, 0.002],
  [0.001, 0.007],
  [-0.003, 0.005],
  [-0.006, -0.001],
  [-0.004, -0.007],
  [0.0, -0.011],
  [0.009, -0.003],
];

const testPhone = (n: number) => `1990000${String(n).padStart(4, '0')}`;

/**
 * The devices of demo household `i`: every home has an SOS button by the bed,
 * a 平安 check-in button, a motion sensor in the 堂屋 and a contact on the
 * front door; others add what programmes install where they can: a bed sensor, a CO alarm and a thermometer by the coal stove, a pendant for
 * the frailest, a power meter and a second motion sensor.
 */
export function demoDevices(i: number): RegistryFile['villages'][number]['households'][number]['devices'] {
  const devices: RegistryFile['villages'][number]['households'][number]['devices'] = [
    { kind: 'sosButton', label: '床头紧急按钮' },
    { kind: 'checkInButton', label: '平安打卡按钮' },
    { kind: 'motionSensor', label: '堂屋人体感应' },
    // Without a contact on the front door, a morning in the fields looks like a silent house.
    { kind: 'doorSensor', label: '大门门磁', exit: true },
  ];
  if (i % 2 === 0) devices.push({ kind: 'bedSensor', label: '床垫传感器' });
  if (i % 3 === 0) devices.push({ kind: 'coSensor', label: '煤炉旁一氧化碳报警器' }, { kind: 'thermometer', label: '堂屋温度计' });
  if (i % 4 === 1) devices.push({ kind: 'pendant', label: '胸前跌倒报警器' });
  if (i % 5 === 0) devices.push({ kind: 'powerMeter', label: '电表' }, { kind: 'motionSensor', label: '卧室人体感应' });
  return devices;
}

/** The demo registry (see demoDevices for what each household has). */
export function demoVillage(): RegistryFile {
  return {
    villages: [
      {
        name: '石门村',
        township: '桃洪镇',
        county: '隆回县',
        timezone: 'Asia/Shanghai',
        lat: CENTER.lat,
        lng: CENTER.lng,
        households: PEOPLE.map((p, i) => {
          const [dLat, dLng] = GROUP_OFFSETS[(p.group - 1) % GROUP_OFFSETS.length] ?? [0, 0];
          const helper = HELPERS[i % HELPERS.length] ?? '刘建军';
          return {
            address: `石门村${'一二三四五六七八'[p.group - 1]}组${p.no}号`,
            // Spread the houses of a group over a few hundred metres.
            lat: Number((CENTER.lat + dLat + ((i * 37) % 11) * 0.00021).toFixed(6)),
            lng: Number((CENTER.lng + dLng + ((i * 53) % 13) * 0.00019).toFixed(6)),
            keyHolderNote: p.note,
            residents: [
              {
                name: p.name,
                sex: p.sex,
                birthYear: p.birthYear,
                category: categoryFromText(p.category) ?? 'other',
                // The oldest and the 特困 are especially difficult (visited weekly); the others ordinary (twice a month).
                careLevel: p.birthYear <= 1938 || p.category === '特困供养' ? ('especiallyDifficult' as const) : ('ordinary' as const),
                contacts: [
                  { name: helper, role: 'helper' as const, phone: testPhone(100 + (i % HELPERS.length)), post: HELPER_POSTS[i % HELPER_POSTS.length] ?? '帮扶责任人' },
                  { name: '赵春梅', role: 'doctor' as const, phone: testPhone(200), post: '村医' },
                  { name: '村委值班室', role: 'duty' as const, phone: testPhone(300), post: '村委值班' },
                  { name: `${p.name.slice(0, 1)}家亲属`, role: 'family' as const, phone: testPhone(400 + i), post: '子女（外出务工）' },
                ],
              },
            ],
            devices: demoDevices(i),
          };
        }),
      },
    ],
  };
}

const DEMO_ACTOR = { userId: null, name: '演示数据' };

/**
 * The past cases of the demo: [resident index, kind, days ago, minutes to
 * take, minutes to on site (null: none), how it ended: resolved as real,
 * resolved as a false alarm, or cancelled].
 */
const PAST_CASES: ReadonlyArray<[number, AlarmKind, number, number, number | null, 'real' | 'false' | 'cancel']> = [
  [0, 'sos', 118, 3, 22, 'real'],
  [7, 'inactivity', 104, 6, 35, 'real'],
  [11, 'sos', 96, 2, null, 'cancel'],
  [4, 'missedCheckIn', 88, 9, null, 'false'],
  [13, 'fall', 75, 1, 18, 'real'],
  [2, 'sos', 61, 4, 27, 'false'],
  [16, 'lowBattery', 55, 45, null, 'real'],
  [9, 'sos', 47, 2, null, 'cancel'],
  [17, 'inactivity', 40, 12, 41, 'real'],
  [5, 'deviceOffline', 33, 30, null, 'real'],
  [14, 'sos', 26, 5, 24, 'real'],
  [0, 'missedCheckIn', 19, 7, null, 'cancel'],
  [10, 'fall', 12, 2, 16, 'real'],
  [7, 'sos', 6, 3, 30, 'false'],
  [18, 'inactivity', 3, 8, null, 'cancel'],
];

/** What the helper wrote on resolving a past case of the demo. */
const RESOLUTION_NOTES: Partial<Record<AlarmKind, string>> & { false: string; onSite: string; byPhone: string } = {
  sos: '老人胸闷，已陪同到镇卫生院检查，无大碍',
  fall: '老人在院子里摔倒，已扶起，膝盖擦伤已处理，已通知子女',
  inactivity: '老人感冒卧床，已联系村医上门',
  lowBattery: '已更换按钮电池',
  deviceOffline: '家中停电，来电后设备已恢复在线',
  false: '老人平安，误按',
  onSite: '已上门查看，已处理',
  byPhone: '已电话确认，已处理',
};

/**
 * Gives the freshly imported demo registry a past, so the registry, the
 * overdue list and the reports show real figures: everyone joined
 * JOINED_DAYS_AGO days ago; visits by their helper at their care level's
 * frequency, a few late and a few people not visited for weeks (overdue
 * now); two people who left (a death, a move to the children); past cases
 * taken, reached and resolved or cancelled (none still open, so nothing is
 * sent and the demo's own SOS opens a new case). All times before `nowMs`.
 */
export function seedDemoHistory(db: Db, registry: SqliteRegistryStore, nowMs: number): void {
  const township = new SqliteTownshipStore(db, registry, () => nowMs, DEFAULT_VISIT_FREQUENCY);
  const people = registry.residents({});
  const tz = people[0]?.timezone ?? 'Asia/Shanghai';
  const joinedOn = localDateOf(tz, nowMs - JOINED_DAYS_AGO * DAY_MS);
  db.transaction(() => {
    db.prepare('UPDATE residents SET joined_on = ?').run(joinedOn);
    people.forEach((p, i) => {
      const helper = registry.contactsOf(p.id).find((c) => c.role === 'helper');
      const interval = visitIntervalDays(DEFAULT_VISIT_FREQUENCY[p.careLevel]);
      // Every fifth person has not been visited for 5 weeks (overdue now); every seventh was visited late once.
      const stopDaysAgo = i % 5 === 2 ? 35 : 0;
      let day = JOINED_DAYS_AGO - interval + 1 + (i % 3);
      let n = 0;
      while (day > stopDaysAgo) {
        const at = nowMs - day * DAY_MS + ((i * 37) % 300) * 60_000;
        const inPerson = n % 3 !== 2;
        township.addVisit(
          p.id,
          {
            at,
            ...(helper ? { visitorContactId: helper.id } : {}),
            mode: inPerson ? 'inPerson' : 'phone',
            health: n % 4 === 3 ? 'fair' : 'good',
            mood: n % 5 === 4 ? 'fair' : 'good',
            ...(inPerson ? { hygiene: 'good' as const, safety: { stove: { status: 'ok' as const }, wiring: { status: 'ok' as const }, heating: { status: 'ok' as const } } } : {}),
            ...(n % 6 === 1 ? { needs: '冬季棉被', measures: '送米一袋' } : {}),
          },
          { userId: null, name: helper?.name ?? DEMO_ACTOR.name },
        );
        n++;
        day -= i % 7 === 3 && n === 4 ? interval + 6 : interval - (i % 2);
      }
    });
  })();

  // Two people of the registry left (kept for the reports): added to existing homes, then off the registry.
  const leavers: Array<{ home: number; name: string; sex: 'F' | 'M'; birthYear: number; reason: 'died' | 'movedToChildren'; daysAgo: number }> = [
    { home: 2, name: '张李氏', sex: 'F', birthYear: 1935, reason: 'died', daysAgo: 70 },
    { home: 9, name: '吴秋莲', sex: 'F', birthYear: 1947, reason: 'movedToChildren', daysAgo: 20 },
  ];
  for (const l of leavers) {
    const home = people[l.home];
    if (!home) continue;
    const id = registry.createResident(home.householdId, {
      name: l.name,
      sex: l.sex,
      birthYear: l.birthYear,
      category: 'leftBehindOrAlone',
      joinedOn,
      contacts: registry.contactsOf(home.id).map((c) => ({ name: c.name, role: c.role, phone: c.phone, ...(c.post ? { post: c.post } : {}) })),
    });
    township.recordCreated(id, DEMO_ACTOR);
    township.leave(id, { reason: l.reason, date: localDateOf(tz, nowMs - l.daysAgo * DAY_MS) }, DEMO_ACTOR);
  }

  const alarms = new SqliteAlarmStore(db, registry, { policies: defaultPolicies(), locale: 'zh-CN', channel: 'demo', publicUrl: 'http://127.0.0.1' });
  PAST_CASES.forEach(([who, kind, daysAgo, take, site, end], k) => {
    const p = people[who];
    if (!p) return;
    const devices = registry.devices({ householdId: p.householdId });
    const device = devices.find((d) => d.kind === (kind === 'fall' ? 'pendant' : 'sosButton')) ?? devices[0];
    if (!device) return;
    const openedAt = nowMs - daysAgo * DAY_MS + ((k * 53) % 600) * 60_000;
    const { alarmId } = alarms.raiseFinding({ kind, deviceId: device.id, subjectId: p.id, eventId: `demo-past-${k}`, eventTs: openedAt, reason: 'a past case of the demo' }, openedAt);
    const by = registry.contactsOf(p.id).find((c) => c.role === 'helper')?.name ?? '村委值班室';
    alarms.transition(alarmId, 'take', by, undefined, openedAt + take * 60_000);
    if (site !== null) {
      alarms.transition(alarmId, 'onTheWay', by, undefined, openedAt + (take + 1) * 60_000);
      alarms.transition(alarmId, 'onSite', by, undefined, openedAt + site * 60_000);
    }
    const closeAt = openedAt + ((site ?? take) + 15) * 60_000;
    if (end === 'cancel') alarms.transition(alarmId, 'cancel', by, '误按，老人平安', closeAt);
    else if (end === 'false') alarms.transition(alarmId, 'resolve', by, RESOLUTION_NOTES.false, closeAt, 'falseAlarm');
    else alarms.transition(alarmId, 'resolve', by, RESOLUTION_NOTES[kind] ?? (site !== null ? RESOLUTION_NOTES.onSite : RESOLUTION_NOTES.byPhone), closeAt, 'real');
  });
  // Nothing of the past is sent: its notices were settled when the cases closed; mark what was queued as skipped to be sure.
  db.prepare("UPDATE notifications SET status = 'skipped' WHERE status IN ('pending', 'sending') AND alarm_id IN (SELECT id FROM alarms WHERE event_id LIKE 'demo-past-%')").run();
}
