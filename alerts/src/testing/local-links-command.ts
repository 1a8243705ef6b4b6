/**
 * The local Twilio and robot servers as a command, for end-to-end tests and
 * manual tries that run in other processes (entry point: local-links-cli.ts).
 *
 * stdout carries JSON lines only: first {"type":"listening","port","url"},
 * then one {"type":"sms",…} per accepted Twilio message or {"type":"post",…}
 * per accepted robot post. Twilio's numbers are printed in full (this output
 * stands for the provider's record, and tests check who was texted) unless
 * --mask-phones; rejections go to stderr, phones masked.
 */
import { parseArgs } from 'node:util';
import { scrubSecrets } from '../channels/http-json.js';
import { LOCAL_ROBOT_MODES, LocalRobotControl, LocalRobotServer, type LocalDingTalkRobot } from './local-robot-server.js';
import { LOCAL_TWILIO_MODES, LocalTwilioControl, LocalTwilioServer, maskTwilioMessage } from './local-twilio-server.js';
import type { CommandIo } from './local-aliyun-sms-command.js';

export const LOCAL_LINKS_USAGE = `usage: local-links-cli twilio --account-sid SID --auth-token TOKEN [options]
       local-links-cli robots [--dingtalk TOKEN[=SECRET]]… [--wecom KEY]… [options]
  --port N                 port to listen on (default 0: a free one)
  --host H                 address to listen on (default 127.0.0.1)
  --mode MODE              twilio: ${LOCAL_TWILIO_MODES.join(', ')}; robots: ${LOCAL_ROBOT_MODES.join(', ')} (default ok)
twilio:
  --api-key SID=SECRET     an API key of the account (repeatable)
  --sender NUMBER          an allowed From (repeatable; default: any)
  --error-code N           the code of mode error (default 21610)
  --mask-phones            mask phone numbers in the sms lines
robots:
  --dingtalk TOKEN=SECRET  a DingTalk robot with its 加签 secret (repeatable); TOKEN alone: unsigned
  --keyword WORD           every DingTalk robot's 自定义关键词 (repeatable)
  --wecom KEY              a WeCom robot key (repeatable)
  --posts-per-minute N     each robot's limit (default 20)
While it runs, GET /_control shows the mode and PUT /_control changes it (no authentication: keep it on loopback).`;

export interface RunningLocalLinks {
  server: LocalTwilioServer | LocalRobotServer;
  address: { port: number; url: string };
}

/** Parses the arguments, starts the stand-in and prints the listening line; throws a usage error for bad arguments. */
export async function runLocalLinksCommand(argv: readonly string[], io: CommandIo): Promise<RunningLocalLinks> {
  const { values, positionals } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      mode: { type: 'string', default: 'ok' },
      'account-sid': { type: 'string' },
      'auth-token': { type: 'string' },
      'api-key': { type: 'string', multiple: true },
      sender: { type: 'string', multiple: true },
      'error-code': { type: 'string' },
      'mask-phones': { type: 'boolean', default: false },
      dingtalk: { type: 'string', multiple: true },
      keyword: { type: 'string', multiple: true },
      wecom: { type: 'string', multiple: true },
      'posts-per-minute': { type: 'string', default: '20' },
    },
  });
  const problems: string[] = [];
  const service = positionals[0];
  if (positionals.length !== 1 || (service !== 'twilio' && service !== 'robots')) problems.push('name the stand-in: twilio or robots');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) problems.push('--port must be 0..65535');
  const pairs = (specs: readonly string[] | undefined, flag: string, needSecret: boolean): Array<[string, string | undefined]> =>
    (specs ?? []).flatMap((spec): Array<[string, string | undefined]> => {
      const eq = spec.indexOf('=');
      const name = eq < 0 ? spec : spec.slice(0, eq);
      const secret = eq < 0 ? undefined : spec.slice(eq + 1);
      if (name === '' || (needSecret && (secret === undefined || secret === ''))) {
        problems.push(`${flag} ${spec}: expected NAME=SECRET`);
        return [];
      }
      return [[name, secret]];
    });

  let server: LocalTwilioServer | LocalRobotServer | undefined;
  if (service === 'twilio') {
    const accountSid = values['account-sid'] ?? io.env.TWILIO_ACCOUNT_SID ?? '';
    const authToken = values['auth-token'] ?? io.env.TWILIO_AUTH_TOKEN ?? '';
    if (accountSid === '') problems.push('--account-sid is required');
    if (authToken === '') problems.push('--auth-token is required');
    const control = LocalTwilioControl.safeParse({ mode: values.mode, ...(values['error-code'] !== undefined ? { errorCode: Number(values['error-code']) } : {}) });
    if (!control.success) problems.push(`--mode one of ${LOCAL_TWILIO_MODES.join(', ')}; --error-code a whole number`);
    const apiKeys = Object.fromEntries(pairs(values['api-key'], '--api-key', true));
    if (problems.length === 0 && control.success) {
      const mask = values['mask-phones'] === true;
      server = new LocalTwilioServer({
        accountSid,
        authToken,
        apiKeys: apiKeys as Record<string, string>,
        ...(values.sender ? { senders: values.sender } : {}),
        host: values.host,
        port,
        onAccepted: (message) => io.stdout(JSON.stringify({ type: 'sms', ...(mask ? maskTwilioMessage(message) : message) })),
        onRejected: (r) => io.stderr(`rejected ${r.code} (HTTP ${r.httpStatus}${r.injected ? ', injected' : ''}): ${scrubSecrets(r.message)}`),
      });
      server.setState(control.data);
    }
  } else if (service === 'robots') {
    const control = LocalRobotControl.safeParse({ mode: values.mode });
    if (!control.success) problems.push(`--mode one of ${LOCAL_ROBOT_MODES.join(', ')}`);
    const postsPerMinute = Number(values['posts-per-minute']);
    if (!Number.isInteger(postsPerMinute) || postsPerMinute < 1) problems.push('--posts-per-minute must be a whole number >= 1');
    const keywords = values.keyword;
    const dingtalk: Record<string, LocalDingTalkRobot> = {};
    for (const [token, secret] of pairs(values.dingtalk, '--dingtalk', false)) dingtalk[token] = { ...(secret ? { secret } : {}), ...(keywords ? { keywords } : {}) };
    if (Object.keys(dingtalk).length === 0 && (values.wecom ?? []).length === 0) problems.push('at least one --dingtalk or --wecom robot');
    if (problems.length === 0 && control.success) {
      server = new LocalRobotServer({
        dingtalk,
        wecom: values.wecom ?? [],
        postsPerMinute,
        host: values.host,
        port,
        onAccepted: (post) => io.stdout(JSON.stringify({ type: 'post', ...post })),
        onRejected: (r) => io.stderr(`rejected ${r.robot} ${r.errcode} (HTTP ${r.httpStatus}${r.injected ? ', injected' : ''}): ${r.errmsg}`),
      });
      server.setState(control.data);
    }
  }
  if (server === undefined || problems.length > 0) throw new Error(`${problems.join('\n')}\n${LOCAL_LINKS_USAGE}`);
  const address = await server.start();
  io.stdout(JSON.stringify({ type: 'listening', ...address }));
  return { server, address };
}
