/**
 * Posts to a village's duty group through a WeCom (企业微信) group robot:
 * `POST {baseUrl}/cgi-bin/webhook/send?key=KEY` with a JSON message. A post
 * that must wake the group goes as a `text` message with mentioned_list
 * ["@all"] (WeCom's markdown cannot mention anyone by @all); the others as
 * `markdown` {content}. The answer is {errcode, errmsg}, errcode 0 when the
 * post is in the group.
 *
 * Source: WeCom developer documentation, "群机器人配置说明"
 * (developer.work.weixin.qq.com/document/path/91770): text content at most
 * 2048 bytes, markdown at most 4096 bytes, 20 posts a minute per robot; and
 * its global error codes (path/90313).
 */
import { systemClock, type Clock } from '@kanjia/protocol';
import { z } from 'zod';
import type { ChannelFault, NoticeChannel } from '../channels/channel.js';
import { parseChannelSettings } from '../channels/channel-settings.js';
import type { SmsMessage, SmsResult } from '../sms/sms-sender.js';
import {
  groupResult,
  markdownToPlain,
  notConfigured,
  postMentionsAll,
  postToRobot,
  robotOfGroup,
  webhookCredential,
  robotSettings,
  type RobotCodeTable,
} from './group-robots.js';
import { RobotGate } from './robot-gate.js';

export const WECOM_DEFAULT_BASE_URL = 'https://qyapi.weixin.qq.com';
export const WECOM_SEND_PATH = '/cgi-bin/webhook/send';
/** WeCom's limits of one post's content, in UTF-8 bytes. */
export const WECOM_MAX_TEXT_BYTES = 2048;
export const WECOM_MAX_MARKDOWN_BYTES = 4096;

/** What WeCom's errcodes mean for the outbox (the robot's key answers every post the same way). */
export const WECOM_CODES: RobotCodeTable = {
  permanent: new Set([
    40008, // invalid message type
    40058, // 不合法的参数: a field missing or too long
    44004, // 文本消息content参数为空
  ]),
  account: new Set([
    93000, // invalid webhook url: the key is wrong, or the robot was removed from the group
  ]),
  limited: new Set([
    45009, // api freq out of limit: more than 20 posts a minute to this robot
  ]),
  transport: new Set([-1]), // 系统繁忙
};

/** The robot's key: the webhook as WeCom shows it (…/webhook/send?key=K), or K alone. */
const WebhookKey = webhookCredential('key', /^[A-Za-z0-9-]{8,128}$/, 'the robot webhook (https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…) or its key');

export const WeComGroupRobot = z
  .object({
    webhook: WebhookKey,
    /** Whether a post that must wake the group goes as text with @all (default) rather than as markdown. */
    mentionAll: z.boolean().default(true),
  })
  .strict();

const WECOM_EXAMPLE = '{"default":{"webhook":"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"}}';

/** The settings of WeComRobotChannel (docs/channels.md): one robot per group key, `default` for every other village. */
export const WeComRobotSettings = robotSettings(WeComGroupRobot, WECOM_EXAMPLE, WECOM_DEFAULT_BASE_URL);
export type WeComRobotSettings = z.output<typeof WeComRobotSettings>;
export type WeComRobotSettingsInput = z.input<typeof WeComRobotSettings>;

export interface WeComRobotOptions {
  /** Where failures are reported, one line each; default stderr. */
  log?: (line: string) => void;
  /** The clock of the posts' pacing; default the system clock. */
  clock?: Pick<Clock, 'nowMs'>;
}

export class WeComRobotChannel implements NoticeChannel {
  readonly name = 'wecom';
  readonly medium = 'group' as const;
  private readonly settings: WeComRobotSettings;
  private readonly log: (line: string) => void;
  private readonly gate: RobotGate;

  constructor(settings: WeComRobotSettingsInput, options: WeComRobotOptions = {}) {
    this.settings = parseChannelSettings(WeComRobotSettings, settings, 'WeComRobotChannel');
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    // WeCom documents no throttle time after 45009 (its limit is per minute): a minute.
    this.gate = new RobotGate({ clock: options.clock ?? systemClock, groups: Object.keys(this.settings.groups).length, throttleMs: () => 60_000 });
  }

  watchFaults(listener: (faults: readonly ChannelFault[]) => void): void {
    this.gate.watch(listener);
  }

  /** Posts the message to the robot of its group (`to`), or of `default`: paced, and held while that robot refuses (robot-gate.ts). */
  async send(message: SmsMessage): Promise<SmsResult> {
    const found = robotOfGroup(this.settings.groups, message.to);
    if (found === undefined) return groupResult(this.name, message, undefined, notConfigured(this.name, message), this.log);
    const { key, robot } = found;
    return this.gate.run(key, robot.webhook, async () => groupResult(this.name, message, key, await this.post(robot, message), this.log));
  }

  /** The one request to the robot's webhook. */
  private async post(robot: WeComRobotSettings['groups'][string], message: SmsMessage) {
    const body =
      robot.mentionAll && postMentionsAll(message)
        ? { msgtype: 'text', text: { content: cutUtf8(markdownToPlain(message.text), WECOM_MAX_TEXT_BYTES), mentioned_list: ['@all'] } }
        : { msgtype: 'markdown', markdown: { content: cutUtf8(message.text, WECOM_MAX_MARKDOWN_BYTES) } };
    return postToRobot({
      robot: this.name,
      url: `${this.settings.baseUrl}${WECOM_SEND_PATH}?${new URLSearchParams({ key: robot.webhook }).toString()}`,
      body,
      timeoutMs: this.settings.timeoutMs,
      codes: WECOM_CODES,
    });
  }
}

/** `text` cut to at most `maxBytes` of UTF-8 on a character boundary (WeCom refuses longer content with 40058). */
export function cutUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, 'utf8');
    if (bytes + size > maxBytes - 3) break;
    bytes += size;
    end += char.length;
  }
  return `${text.slice(0, end)}…`;
}
