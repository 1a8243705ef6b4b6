/**
 * Posts to a village's duty group through a DingTalk custom robot (自定义机器人)
 * whose security setting is the signed request (加签): `POST
 * {baseUrl}/robot/send?access_token=T&timestamp=MS&sign=S`, where S is
 * base64(HmacSHA256(key = secret, data = `${MS}\n${secret}`)), URL-encoded, and
 * MS must be within an hour of DingTalk's clock. The body is a markdown
 * message {title, text}, with `at.isAtAll` when the post must wake the group.
 *
 * Source: DingTalk open platform, "自定义机器人接入" and "自定义机器人发送群消息"
 * (open.dingtalk.com/document/orgapp/custom-robot-access); its answers are
 * HTTP 200 with {errcode, errmsg}, errcode 0 when the post is in the group.
 */
import { createHmac } from 'node:crypto';
import { systemClock, type Clock } from '@kanjia/protocol';
import { z } from 'zod';
import type { ChannelFault, NoticeChannel } from '../channels/channel.js';
import { parseChannelSettings } from '../channels/channel-settings.js';
import type { SmsMessage, SmsResult } from '../sms/sms-sender.js';
import {
  groupResult,
  notConfigured,
  postMentionsAll,
  postTitle,
  postToRobot,
  robotOfGroup,
  webhookCredential,
  robotSettings,
  type RobotCodeTable,
} from './group-robots.js';
import { RobotGate } from './robot-gate.js';

export const DINGTALK_DEFAULT_BASE_URL = 'https://oapi.dingtalk.com';
export const DINGTALK_SEND_PATH = '/robot/send';
/** DingTalk refuses a timestamp more than an hour from its clock. */
export const DINGTALK_MAX_CLOCK_SKEW_MS = 60 * 60_000;

/**
 * What DingTalk's errcodes mean for the outbox. The robot's setup (its token,
 * its secret, its keyword, its IP list, the group itself) answers every post
 * the same way: with one robot, an outage of the channel until an
 * administrator fixes it; with a robot per village, that group's fault only
 * (robot-gate.ts).
 */
export const DINGTALK_CODES: RobotCodeTable = {
  permanent: new Set([
    40035, // 缺少参数: the post lacks a field
    400105, // 不支持的消息类型
    430101, // 含有不安全的外链
    430102, // 含有不合适的文本
    430103, // 含有不合适的图片
    430104, // 含有不合适的内容
  ]),
  account: new Set([
    310000, // sign not match / invalid timestamp / keywords not in content / ip not in whitelist: the security setting
    300001, // token is not exist (older answer) or an illegal IP
    300005, // token is not exist
    400101, // access_token 不存在
    400102, // 机器人已停用
    400106, // 机器人不存在
    400013, // 群已被解散
  ]),
  // The robot's throttle: its group's posts wait it out (robot-gate.ts), never failed for it.
  limited: new Set([
    130101, // send too fast, exceed 20 times per minute: the robot is throttled for 10 minutes
    410100, // 发送速度太快而限流
  ]),
  transport: new Set([-1]), // 系统繁忙
};

/** The robot's access token: the webhook as DingTalk shows it (…/robot/send?access_token=T), or T alone. */
const AccessToken = webhookCredential('access_token', /^[A-Za-z0-9]{16,128}$/, 'the robot webhook (https://oapi.dingtalk.com/robot/send?access_token=…) or its access token');

export const DingTalkGroupRobot = z
  .object({
    webhook: AccessToken,
    /** The 加签 secret (SEC…); absent only for a robot secured by keyword or IP alone. */
    secret: z.string().trim().min(1).optional(),
  })
  .strict();

const DINGTALK_EXAMPLE = '{"default":{"webhook":"https://oapi.dingtalk.com/robot/send?access_token=…","secret":"SEC…"}}';

/** The settings of DingTalkRobotChannel (docs/channels.md): one robot per group key, `default` for every other village. */
export const DingTalkRobotSettings = robotSettings(DingTalkGroupRobot, DINGTALK_EXAMPLE, DINGTALK_DEFAULT_BASE_URL);
export type DingTalkRobotSettings = z.output<typeof DingTalkRobotSettings>;
export type DingTalkRobotSettingsInput = z.input<typeof DingTalkRobotSettings>;

export interface DingTalkRobotOptions {
  /** The clock of the signature's timestamp; default the system clock. */
  clock?: Pick<Clock, 'nowMs'>;
  /** Where failures are reported, one line each; default stderr. */
  log?: (line: string) => void;
}

/** S of DingTalk's signed request, before URL encoding: base64(HmacSHA256(secret, `${timestampMs}\n${secret}`)). */
export function dingTalkSignature(secret: string, timestampMs: number): string {
  return createHmac('sha256', secret).update(`${timestampMs}\n${secret}`, 'utf8').digest('base64');
}

export class DingTalkRobotChannel implements NoticeChannel {
  readonly name = 'dingtalk';
  readonly medium = 'group' as const;
  private readonly settings: DingTalkRobotSettings;
  private readonly clock: Pick<Clock, 'nowMs'>;
  private readonly log: (line: string) => void;
  private readonly gate: RobotGate;

  constructor(settings: DingTalkRobotSettingsInput, options: DingTalkRobotOptions = {}) {
    this.settings = parseChannelSettings(DingTalkRobotSettings, settings, 'DingTalkRobotChannel');
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.gate = new RobotGate({ clock: this.clock, groups: Object.keys(this.settings.groups).length, throttleMs: dingTalkThrottleMs });
  }

  watchFaults(listener: (faults: readonly ChannelFault[]) => void): void {
    this.gate.watch(listener);
  }

  /** Posts the message's markdown to the robot of its group (`to`), or of `default`: paced, and held while that robot refuses (robot-gate.ts). */
  async send(message: SmsMessage): Promise<SmsResult> {
    const found = robotOfGroup(this.settings.groups, message.to);
    if (found === undefined) return groupResult(this.name, message, undefined, notConfigured(this.name, message), this.log);
    const { key, robot } = found;
    return this.gate.run(key, robot.webhook, async () => groupResult(this.name, message, key, await this.post(robot, message), this.log));
  }

  /** The one request to the robot's webhook. */
  private async post(robot: DingTalkRobotSettings['groups'][string], message: SmsMessage) {
    const query = new URLSearchParams({ access_token: robot.webhook });
    if (robot.secret !== undefined) {
      const timestampMs = this.clock.nowMs();
      query.set('timestamp', String(timestampMs));
      query.set('sign', dingTalkSignature(robot.secret, timestampMs));
    }
    const body: Record<string, unknown> = { msgtype: 'markdown', markdown: { title: postTitle(message), text: message.text } };
    // @all, never atMobiles: a mobile number in a group post is one more copy of it.
    if (postMentionsAll(message)) body.at = { isAtAll: true };
    return postToRobot({
      robot: this.name,
      url: `${this.settings.baseUrl}${DINGTALK_SEND_PATH}?${query.toString()}`,
      body,
      timeoutMs: this.settings.timeoutMs,
      codes: DINGTALK_CODES,
    });
  }
}

/** How long DingTalk refuses a robot after a throttle answer: 130101 says 10 minutes; anything else, a minute. */
export function dingTalkThrottleMs(code: string): number {
  return code === 'dingtalk.130101' ? 10 * 60_000 : 60_000;
}
