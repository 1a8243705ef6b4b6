import { ALARM_KINDS, type AlarmKind } from '@kanjia/protocol';
import { describe, expect, it } from 'vitest';
import { alarmDetail } from '../src/messages/alarm-detail.js';
import { SMS_LOCALES, SMS_PARAM_MAX_CHARS } from '../src/messages/sms-templates.js';

const T0 = Date.UTC(2026, 0, 15, 2, 0, 0);

/** What each detector emits (detection/src/*), with the phrase a helper should read, in Chinese and English. */
const REALISTIC: ReadonlyArray<[string, AlarmKind, Record<string, number | string | boolean> | undefined, string, string]> = [
  ['an SOS press (no details)', 'sos', undefined, '老人按了紧急按钮', 'SOS button pressed'],
  ['a fall from the accelerometer (confidence and g are for engineers)', 'fall', { confidence: 0.82, position: 'chest', hz: 20, peakG: 3.1, postureChangeDeg: 75 }, '疑似跌倒', 'a fall was detected'],
  [
    'silence since 07:12 for 200 min',
    'inactivity',
    { silenceMin: 200, limitMin: 180, graceMin: 30, context: 'day', learned: true, lastActivity: '2026-01-15 07:12' },
    '自07:12起已3小时20分无活动',
    'inactive since 07:12 (3 h 20 min)',
  ],
  [
    'silence since the night before, 14 h',
    'inactivity',
    { silenceMin: 840, limitMin: 720, graceMin: 30, context: 'sleep', learned: true, lastActivity: '2026-01-14 21:30' },
    '自21:30起已14小时无活动',
    'inactive since 21:30 (14 h)',
  ],
  [
    'gone out at 07:12 and not back after 250 min',
    'inactivity',
    { silenceMin: 250, limitMin: 240, graceMin: 30, context: 'out', learned: false, lastActivity: '2026-01-15 07:12', wentOut: '2026-01-15 07:12' },
    '07:12出门，已4小时10分未归',
    'left 07:12, not back for 4 h 10 min',
  ],
  [
    'not back home: went out at 12:44, 9 h ago',
    'notBack',
    { silenceMin: 540, limitMin: 520, context: 'out', learned: true, lastActivity: '2026-01-15 12:44', wentOut: '2026-01-15 12:44' },
    '12:44出门，已9小时未归',
    'left 12:44, not back for 9 h',
  ],
  [
    'the first missed check-in of the 07:00–10:00 window',
    'missedCheckIn',
    { localDate: '2026-01-15', windowStart: '07:00', windowEnd: '10:00', timeZone: 'Asia/Shanghai', daysMissed: 1, escalated: false, graceMin: 30 },
    '07:00–10:00未按平安键',
    'no check-in press 07:00–10:00',
  ],
  [
    'the third missed day in a row',
    'missedCheckIn',
    { localDate: '2026-01-17', windowStart: '07:00', windowEnd: '10:00', timeZone: 'Asia/Shanghai', daysMissed: 3, escalated: true, graceMin: 0, hoursSinceLastCheckIn: 72.5 },
    '已连续3天未按平安键',
    'no check-in for 3 days in a row',
  ],
  [
    "the resident's only SOS button silent for 540 min",
    'deviceOffline',
    { neverSeen: false, viaLastWill: false, silentMin: 540, heartbeatTimeoutMin: 540, lastSeenMs: T0, deviceKind: 'sosButton', isOnlyEmergencyButton: true, severity: 'urgent', urgent: true },
    '唯一的紧急按钮已离线9小时',
    'only SOS button down for 9 h',
  ],
  [
    'a motion sensor silent for 200 min',
    'deviceOffline',
    { neverSeen: false, viaLastWill: true, silentMin: 200, heartbeatTimeoutMin: 180, lastSeenMs: T0, deviceKind: 'motionSensor', isOnlyEmergencyButton: false, severity: 'maintenance', urgent: false },
    '人体感应器已离线3小时20分',
    'motion sensor down for 3 h 20 min',
  ],
  [
    'a smoke alarm never seen since installation',
    'deviceOffline',
    { neverSeen: true, viaLastWill: false, silentMin: 1440, heartbeatTimeoutMin: 180, installedAtMs: T0, deviceKind: 'smokeSensor', isOnlyEmergencyButton: false, severity: 'maintenance', urgent: false },
    '烟雾报警器安装后从未上线',
    'smoke alarm never came online',
  ],
  [
    'an SOS button at 15 %',
    'lowBattery',
    { batteryPct: 15, lowBatteryPct: 20, deviceKind: 'sosButton', isOnlyEmergencyButton: true, severity: 'maintenance', urgent: false },
    '唯一的紧急按钮电量仅剩15%',
    'only SOS button battery at 15%',
  ],
  ['CO at 320 ppm, the peak so far', 'co', { coPpm: 320, peakPpm: 320, stagePpm: 300, stageMin: 0, minutesAtStage: 0, startMs: T0, localStart: '09:40', standard: 'EN 50291-1' }, '浓度320ppm', 'CO at 320 ppm'],
  ['CO at 120 ppm after a 450 ppm peak', 'co', { coPpm: 120, peakPpm: 450, stagePpm: 100, stageMin: 40, minutesAtStage: 41.5, startMs: T0, localStart: '21:10' }, '浓度120ppm，最高450ppm', 'CO 120 ppm (peak 450 ppm)'],
  ['smoke (a yes/no sensor)', 'smoke', { smoke: true, readingsInRow: 2, startMs: T0, localStart: '10:00' }, '烟雾报警器报警', 'smoke alarm going off'],
  ['gas', 'gas', { gas: true, readingsInRow: 2, startMs: T0, localStart: '10:00' }, '检测到燃气泄漏', 'gas leak detected'],
  ['a water leak', 'waterLeak', { waterLeak: true, readingsInRow: 1, startMs: T0, localStart: '10:00' }, '检测到漏水', 'water leak detected'],
  ['2.5 °C for 240 min', 'cold', { temperatureC: 2.5, thresholdC: 5, minutes: 240, startMs: T0, localStart: '06:00' }, '室温2.5℃，已持续4小时', 'room at 2.5 °C for 4 h'],
  ['-3 °C for 30 h', 'cold', { temperatureC: -3, thresholdC: 5, minutes: 1800, startMs: T0 }, '室温-3℃，已持续1天6小时', 'room at -3 °C for 1 d 6 h'],
  ['37.24 °C for 125 min', 'heat', { temperatureC: 37.24, thresholdC: 35, minutes: 125, startMs: T0, localStart: '12:00' }, '室温37.2℃，已持续2小时5分', 'room at 37.2 °C for 2 h 5 min'],
];

describe('alarmDetail', () => {
  it.each(REALISTIC)('says %s in a phrase', (_what, kind, details, zh, en) => {
    expect(alarmDetail(kind, details, 'zh-CN')).toBe(zh);
    expect(alarmDetail(kind, details, 'en')).toBe(en);
  });

  it('uses Chinese by default', () => {
    expect(alarmDetail('co', { coPpm: 80 })).toBe('浓度80ppm');
  });

  it('says what it can from partial details', () => {
    expect(alarmDetail('inactivity', { silenceMin: 45 })).toBe('已45分钟无活动');
    expect(alarmDetail('inactivity', { lastActivity: '2026-01-15 07:12' })).toBe('自07:12起无活动');
    expect(alarmDetail('inactivity', { context: 'out', wentOut: '2026-01-15 06:05' })).toBe('06:05出门后未归');
    expect(alarmDetail('co', { peakPpm: 450 })).toBe('最高浓度450ppm');
    expect(alarmDetail('cold', { minutes: 90 })).toBe('低温已持续1小时30分');
    expect(alarmDetail('heat', { temperatureC: 36 }, 'en')).toBe('room at 36 °C');
    expect(alarmDetail('deviceOffline', { deviceKind: 'toaster', silentMin: 60 })).toBe('设备已离线1小时');
    expect(alarmDetail('deviceOffline', { deviceKind: 'pendant' })).toBe('随身紧急按钮已离线');
    expect(alarmDetail('lowBattery', { deviceKind: 'coSensor' })).toBe('一氧化碳报警器电量低');
    expect(alarmDetail('missedCheckIn', { windowStart: '06:30', windowEnd: '09:00', daysMissed: 1 })).toBe('06:30–09:00未按平安键');
  });

  const garbage: ReadonlyArray<[string, unknown]> = [
    ['undefined', undefined],
    ['null', null],
    ['an empty object', {}],
    ['an array', [1, 2, 3]],
    ['a string', 'coPpm=320'],
    ['a number', 42],
    [
      'values of the wrong type or out of range',
      {
        silenceMin: 'lots',
        lastActivity: 1_700_000_000_000,
        wentOut: '25:99',
        context: 'out',
        windowStart: '7 o’clock',
        windowEnd: null,
        daysMissed: 2.5,
        neverSeen: 'yes',
        silentMin: -5,
        deviceKind: { toString: () => 'sosButton' },
        isOnlyEmergencyButton: 'true',
        batteryPct: 150,
        coPpm: Number.NaN,
        peakPpm: Number.POSITIVE_INFINITY,
        temperatureC: 999,
        minutes: Number.NEGATIVE_INFINITY,
      },
    ],
    ['keys that look like methods', JSON.parse('{"__proto__": {"coPpm": 300}, "toString": 1, "constructor": "x"}')],
  ];

  it.each(garbage)('falls back to the plain phrase of every kind, never throwing, for %s', (_what, details) => {
    for (const locale of SMS_LOCALES) {
      for (const kind of ALARM_KINDS) {
        const plain = alarmDetail(kind, {}, locale);
        const phrase = alarmDetail(kind, details as Record<string, unknown>, locale);
        expect(phrase, `${kind}/${locale}`).toBe(plain);
        expect(phrase.length).toBeGreaterThan(0);
        expect(phrase).not.toMatch(/undefined|NaN|Infinity|\[object|null/);
      }
    }
  });

  it('has a distinct plain phrase for every kind, never empty, within the variable limit', () => {
    for (const locale of SMS_LOCALES) {
      const phrases = ALARM_KINDS.map((kind) => alarmDetail(kind, undefined, locale));
      expect(new Set(phrases).size).toBe(ALARM_KINDS.length);
      for (const phrase of phrases) expect(Array.from(phrase).length).toBeGreaterThan(0);
    }
  });

  it('still says something for a kind it does not know (a newer database)', () => {
    expect(alarmDetail('flood' as AlarmKind, { depthCm: 30 })).toBe('请查看报警详情');
    expect(alarmDetail('flood' as AlarmKind, undefined, 'en')).toBe('see the alarm for details');
  });

  it(`cuts a phrase longer than ${SMS_PARAM_MAX_CHARS} characters, ending with …`, () => {
    // "only SOS pendant down for 23 h 59 min" is 37 characters.
    const long = alarmDetail('deviceOffline', { deviceKind: 'pendant', isOnlyEmergencyButton: true, silentMin: 23 * 60 + 59 }, 'en');
    expect(Array.from(long)).toHaveLength(SMS_PARAM_MAX_CHARS);
    expect(long).toBe('only SOS pendant down for 23 h 59 …');
    for (const locale of SMS_LOCALES) {
      for (const [, kind, details] of REALISTIC) expect(Array.from(alarmDetail(kind, details, locale)).length).toBeLessThanOrEqual(SMS_PARAM_MAX_CHARS);
    }
  });
});
