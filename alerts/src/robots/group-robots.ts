/**
 * What the DingTalk and WeCom group robots share: the duty group of a notice
 * (its `to` is a group key: a village id, or `default`), the settings' map of
 * group key → robot, the post's title and @all taken from the message, and
 * one call to a robot's webhook with its answer {errcode, errmsg} sorted
 * into a failure kind. A robot has no receipts: its acceptance is all we learn.
 */
import { z } from 'zod';
import type { GroupPost } from '../messages/group-posts.js';
import { httpAddress } from '../channels/channel-settings.js';
import { httpJson, scrubSecrets, type ChannelFailure } from '../channels/http-json.js';
import { SMS_ERROR_CODES, type SmsFailureKind, type SmsMessage, type SmsResult } from '../sms/sms-sender.js';

/** The group every village without a robot of its own posts to. */
export const DEFAULT_GROUP_KEY = 'default';

/** Codes of group-channel failures on our side of the robot's API (besides SMS_ERROR_CODES). */
export const GROUP_ERROR_CODES = {
  /** Neither the notice's group nor `default` has a robot in the settings: a permanent failure of that notice. */
  notConfigured: 'GROUP_NOT_CONFIGURED',
} as const;

/** A group key: a village id or `default`. */
export const GROUP_KEY = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export const DEFAULT_ROBOT_TIMEOUT_MS = 5_000;

/** A DingTalk and WeCom robot takes at most 20 posts a minute; past that it refuses for a while (DingTalk: 10 minutes). */
export const ROBOT_POSTS_PER_MINUTE = 20;

/**
 * A map of group key → robot settings: a JSON object in an environment
 * variable, an object in the config file; at least one group.
 */
export function groupMapSetting<T extends z.ZodType>(robot: T, example: string) {
  return z.preprocess(
    (value, ctx) => {
      if (typeof value !== 'string') return value;
      try {
        return JSON.parse(value) as unknown;
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `not valid JSON (${(err as Error).message}); expected an object such as ${example}` });
        return z.NEVER;
      }
    },
    z
      .record(z.string().regex(GROUP_KEY, 'a group key: a village id, or default'), robot, { error: `a JSON object of group key → robot, such as ${example}` })
      .refine((groups) => Object.keys(groups).length > 0, `at least one group, such as ${example}`),
  );
}

/**
 * The credential of a robot's webhook: the address as the app shows it
 * (`…?{param}=X`), or X alone; X must match `pattern`.
 */
export function webhookCredential(param: string, pattern: RegExp, hint: string) {
  return z
    .string()
    .trim()
    .transform((value, ctx) => {
      let credential = value;
      if (/^https?:\/\//.test(value)) {
        try {
          credential = new URL(value).searchParams.get(param) ?? '';
        } catch {
          credential = '';
        }
      }
      if (!pattern.test(credential)) {
        ctx.addIssue({ code: 'custom', message: hint });
        return z.NEVER;
      }
      return credential;
    });
}

/** A robot channel's settings: its groups (a JSON map, see groupMapSetting), its base URL, its deadline. */
export function robotSettings<T extends z.ZodType>(robot: T, example: string, defaultBaseUrl: string) {
  return z
    .object({
      groups: groupMapSetting(robot, example),
      /** The robot API's address; the local stand-in's url in tests. */
      baseUrl: httpAddress(defaultBaseUrl).default(defaultBaseUrl),
      /** Deadline of one post, answer included. */
      timeoutMs: z.coerce.number().int().min(100).max(60_000).default(DEFAULT_ROBOT_TIMEOUT_MS),
    })
    .strict();
}

/** The robot of group `key`, else that of `default`; undefined when neither has one (or the key is malformed). */
export function robotOfGroup<T>(groups: Readonly<Record<string, T>>, key: string): { key: string; robot: T } | undefined {
  if (GROUP_KEY.test(key) && Object.hasOwn(groups, key)) return { key, robot: groups[key] as T };
  if (Object.hasOwn(groups, DEFAULT_GROUP_KEY)) return { key: DEFAULT_GROUP_KEY, robot: groups[DEFAULT_GROUP_KEY] as T };
  return undefined;
}

/**
 * The params of a group notice's SmsMessage (its `text` is the post's
 * markdown): the robots read the title and whether to wake the group from them.
 */
export function groupPostParams(post: GroupPost): Record<string, string> {
  return { title: post.title, mentionAll: post.mentionAll ? 'true' : 'false' };
}

/** The post's title: params.title, else the text's first line without markdown. */
export function postTitle(message: SmsMessage): string {
  const title = message.params.title;
  if (title !== undefined && title.trim() !== '') return title.trim();
  const first = markdownToPlain(message.text).split('\n').find((line) => line.trim() !== '') ?? '';
  return first.trim().slice(0, 64) || message.kind;
}

/**
 * Whether the post wakes the whole group: params.mentionAll when given;
 * otherwise every alarm and escalation does (a notice given to a group
 * without the flag is taken as the alarm it most likely is), a cancellation not.
 */
export function postMentionsAll(message: SmsMessage): boolean {
  const flag = message.params.mentionAll;
  if (flag !== undefined) return flag === 'true';
  return message.template !== 'cancelled';
}

/** The post as plain text (WeCom's text message, which can @all): headings, bold, colours and link syntax removed. */
export function markdownToPlain(markdown: string): string {
  return markdown
    .replace(/^#{1,6}\s+/gm, '')
    .replace(/\*\*/g, '')
    .replace(/<\/?font[^>]*>/g, '')
    .replace(/\[([^\]]*)\]\(([^)\s]+)\)/g, '$1 $2')
    .replace(/\n{2,}/g, '\n');
}

/** How a robot's errcode reads (the DingTalk and WeCom code tables). */
export interface RobotCodeTable {
  permanent: ReadonlySet<number>;
  account: ReadonlySet<number>;
  limited: ReadonlySet<number>;
  transport: ReadonlySet<number>;
}

/** The kind of a robot's errcode; an unknown one: 5xx the transport, anything else this post (retried). */
export function classifyRobotFailure(table: RobotCodeTable, errcode: number, httpStatus: number): SmsFailureKind {
  if (table.permanent.has(errcode)) return 'permanent';
  if (table.account.has(errcode)) return 'account';
  if (table.limited.has(errcode)) return 'limited';
  if (table.transport.has(errcode)) return 'transport';
  return httpStatus >= 500 ? 'transport' : 'retryMessage';
}

const RobotAnswer = z.object({ errcode: z.number(), errmsg: z.string().optional() });

export interface RobotPost {
  /** dingtalk or wecom, for the code prefix and the log. */
  robot: string;
  /** The webhook with its credentials in the query; never logged. */
  url: string;
  body: unknown;
  timeoutMs: number;
  codes: RobotCodeTable;
}

/**
 * Posts to a robot's webhook; never throws. The robot's errcode is the
 * failure's code as `<robot>.<errcode>` (dingtalk.310000), so the dashboard
 * and logs tell whose code it is.
 */
export async function postToRobot(post: RobotPost): Promise<{ ok: true } | { ok: false; failure: ChannelFailure }> {
  const answer = await httpJson({ method: 'POST', url: post.url, body: { json: post.body }, timeoutMs: post.timeoutMs });
  if (!answer.ok) return answer;
  const parsed = RobotAnswer.safeParse(answer.json);
  if (!parsed.success) {
    const kind: SmsFailureKind = answer.status === 429 ? 'limited' : 'transport';
    return { ok: false, failure: { kind, code: answer.status === 429 ? `HTTP_429` : SMS_ERROR_CODES.badResponse, message: `HTTP ${answer.status} without an errcode` } };
  }
  const { errcode, errmsg } = parsed.data;
  if (errcode === 0 && answer.status >= 200 && answer.status < 300) return { ok: true };
  return {
    ok: false,
    failure: { kind: classifyRobotFailure(post.codes, errcode, answer.status), code: `${post.robot}.${errcode}`, message: `${(errmsg ?? '').slice(0, 200)} (HTTP ${answer.status})` },
  };
}

/** The result of a group post, logged when it failed (a group key is no personal data). */
export function groupResult(robot: string, message: SmsMessage, groupKey: string | undefined, outcome: { ok: true } | { ok: false; failure: ChannelFailure }, log: (line: string) => void): SmsResult {
  if (outcome.ok) return { ok: true, providerRef: null };
  const { failure } = outcome;
  log(`${robot} robot: ${failure.code} for group ${groupKey ?? scrubSecrets(message.to)} (outId ${message.outId}, ${failure.kind}): ${failure.message}`);
  // Which group's robot answered: one village's broken robot is fixed by whoever runs that group.
  const text = groupKey === undefined ? failure.message : `${failure.message}; robot of group ${groupKey}`;
  return { ok: false, kind: failure.kind, code: failure.code, message: text };
}

/** The permanent failure of a notice whose group has no robot, default included. */
export function notConfigured(robot: string, message: SmsMessage): { ok: false; failure: ChannelFailure } {
  return {
    ok: false,
    failure: { kind: 'permanent', code: GROUP_ERROR_CODES.notConfigured, message: `no ${robot} robot for group "${scrubSecrets(message.to).slice(0, 64)}" and none for "${DEFAULT_GROUP_KEY}" (docs/channels.md)` },
  };
}
