/**
 * What a person standing next to the device would hear, as one readable line.
 * Real buttons answer with beeps and an LED; the simulator prints the same
 * thing so a demo (or a person testing a deployment) can follow the alarm.
 */
import type { DeviceCommand, EventType } from '@kanjia/protocol';

const RECEIVED_TEXT: Record<EventType, string> = {
  sos: '嘀 — 已收到求助',
  checkIn: '嘀 — 平安打卡已收到',
  cancel: '嘀 — 取消请求已收到',
  fall: '嘀 — 已收到跌倒报警',
  door: '嘀 — 已收到',
  ack: '嘀 — 已收到',
};

const BEEP_PATTERN = { short: '嘀', long: '嘀————', alarm: '嘀嘀嘀嘀嘀' } as const;

/** The line for a command; `eventType` is the type of the event it acknowledges, when the device knows it. */
export function describeCommand(command: DeviceCommand, eventType?: EventType): string {
  switch (command.type) {
    case 'received':
      return `${eventType === undefined ? '嘀 — 已收到' : RECEIVED_TEXT[eventType]} (received ${eventType ?? 'event'} ${command.eventId})`;
    case 'taken':
      return `嘀嘀 — 有人接警了 (taken ${command.eventId})`;
    case 'onTheWay':
      return `嘀嘀嘀 — 救助人员正在路上 (onTheWay ${command.eventId})`;
    case 'resolved':
      return `嘀 — 求助已处理完毕 (resolved ${command.eventId})`;
    case 'cancelled':
      return `嘀 — 求助已取消 (cancelled ${command.eventId})`;
    case 'beep':
      return `${BEEP_PATTERN[command.pattern]} (beep ${command.pattern})`;
    case 'remind':
      if (command.reason === 'fall') return '嘀嘀 — 是不是摔着了？没事请按键 (remind fall)';
      return command.reason === 'checkIn'
        ? '嘀嘀 — 请按平安键报平安 (remind checkIn)'
        : '嘀嘀 — 很久没有动静了，请按键报平安 (remind inactivity)';
  }
}

const PRESS_TEXT: Record<EventType, string> = {
  sos: '按下一键呼叫',
  checkIn: '按下平安键',
  cancel: '按下取消键',
  fall: '检测到跌倒',
  door: '门磁变化',
  ack: '确认指令',
};

/** The line for an event the device raises, e.g. `按下一键呼叫 (pressed sos btn-0001-m1x-1)`. */
export function describeEvent(type: EventType, eventId: string): string {
  return `${PRESS_TEXT[type]} (${type === 'fall' || type === 'door' || type === 'ack' ? 'sent' : 'pressed'} ${type} ${eventId})`;
}
