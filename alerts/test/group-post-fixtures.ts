/** The case of the group post and robot tests: 王秀英 fell at 10:00 Beijing time. */
import type { GroupPostInput } from '../src/messages/group-posts.js';

export const WANG_FALL_OPENED: Extract<GroupPostInput, { event: 'opened' }> = {
  event: 'opened',
  alarmKind: 'fall',
  severity: 'critical',
  residentName: '王秀英',
  villageName: '王庄村',
  address: '王庄村3组12号',
  // 02:00 UTC is 10:00 in Asia/Shanghai.
  alarmAtMs: Date.UTC(2026, 0, 15, 2, 0),
  timeZone: 'Asia/Shanghai',
  link: 'https://kanjia.example.cn/alarms/al-0042',
};
