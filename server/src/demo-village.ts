/**
 * The simulated village of the demo: 20 households of 石门村 (a made-up
 * village with plausible names, addresses and coordinates in the hills of
 * 隆回县, 湖南省). Phone numbers use the 1990000xxxx test range, which is not
 * assigned to real subscribers.
 */
import { categoryFromText, type RegistryFile } from '@kanjia/protocol';

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
                contacts: [
                  { name: helper, role: 'helper' as const, phone: testPhone(100 + (i % HELPERS.length)), post: '帮扶责任人' },
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
