/**
 * The local Aliyun SMS server (or, with --api voice, the voice server) as a
 * command, for end-to-end tests and benchmarks that run in other processes
 * (entry point: local-aliyun-sms-cli.ts).
 *
 * stdout carries JSON lines only: first {"type":"listening","port","url","endpoint"},
 * then one {"type":"sms",…AcceptedSms} per accepted SMS (or {"type":"call",
 * …AcceptedCall} per accepted call). The phone numbers are
 * printed in full because this output stands for Aliyun's own delivery record and
 * tests check who was texted; --mask-phones masks them. Rejections go to stderr.
 * The mode (--mode, and PUT /_control while it runs) plays the provider's failures.
 */
import { parseArgs } from 'node:util';
import { describeRejection, LOCAL_SMS_CONTROL_PATH, LOCAL_SMS_MODES, LocalApiControl, type LocalAliyunSmsAddress } from './local-aliyun-api-server.js';
import { LocalAliyunSmsServer, maskAcceptedSms } from './local-aliyun-sms-server.js';
import { LocalAliyunVoiceServer, maskAcceptedCall } from './local-aliyun-voice-server.js';

export const LOCAL_ALIYUN_SMS_USAGE = `usage: local-aliyun-sms-cli --access-key-id ID --access-key-secret SECRET [options]
  --api sms|voice          which API to serve: SMS (SendSms, QuerySendDetails) or voice
                           (SingleCallByTts, QueryCallDetailByCallId); default sms
  --port N                 port to listen on (default 0: a free one)
  --host H                 address to listen on (default 127.0.0.1)
  --sign-name NAME         approved sign name (repeatable; default: any)
  --template CODE=a,b,c    approved template code and its variables (repeatable; default: any);
                           with --api voice, the approved TTS templates
  --show-number N          voice: registered display number (repeatable; default: any)
  --latency-ms N           delay every answer by N ms
  --mask-phones            mask phone numbers in the SMS (call) lines
  --mode MODE              how to answer: ${LOCAL_SMS_MODES.join(', ')} (default ok)
  --bad-number N           answer isv.MOBILE_NUMBER_ILLEGAL for this number (repeatable)
  --limited-number N       answer isv.BUSINESS_LIMIT_CONTROL for this number (repeatable)
While it runs, GET ${LOCAL_SMS_CONTROL_PATH} shows the mode and PUT ${LOCAL_SMS_CONTROL_PATH} with
{"mode":"no-credit","badNumbers":["13800000001"]} changes it (no authentication: keep it on loopback);
the SMS server also takes {"receipts":{"13800000001":"failed:MK:0001"},"deliveredAfterMs":0},
the voice server {"outcomes":{"13800000001":"no-answer"},"settleAfterMs":0}.
The key may also come from ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET.`;

export interface CommandIo {
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  env: Readonly<Record<string, string | undefined>>;
}

export interface RunningLocalAliyunSms {
  server: LocalAliyunSmsServer | LocalAliyunVoiceServer;
  address: LocalAliyunSmsAddress;
}

/** Parses the arguments, starts the server and prints the listening line; throws a usage error for bad arguments. */
export async function runLocalAliyunSmsCommand(argv: readonly string[], io: CommandIo): Promise<RunningLocalAliyunSms> {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      api: { type: 'string', default: 'sms' },
      port: { type: 'string', default: '0' },
      host: { type: 'string', default: '127.0.0.1' },
      'access-key-id': { type: 'string' },
      'access-key-secret': { type: 'string' },
      'sign-name': { type: 'string', multiple: true },
      'show-number': { type: 'string', multiple: true },
      template: { type: 'string', multiple: true },
      'latency-ms': { type: 'string', default: '0' },
      'mask-phones': { type: 'boolean', default: false },
      mode: { type: 'string', default: 'ok' },
      'bad-number': { type: 'string', multiple: true },
      'limited-number': { type: 'string', multiple: true },
    },
  });
  const problems: string[] = [];
  if (values.api !== 'sms' && values.api !== 'voice') problems.push('--api must be sms or voice');
  const accessKeyId = values['access-key-id'] ?? io.env.ALIBABA_CLOUD_ACCESS_KEY_ID ?? '';
  const accessKeySecret = values['access-key-secret'] ?? io.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET ?? '';
  if (accessKeyId === '') problems.push('--access-key-id is required');
  if (accessKeySecret === '') problems.push('--access-key-secret is required');
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) problems.push('--port must be 0..65535');
  const latencyMs = Number(values['latency-ms']);
  if (!Number.isFinite(latencyMs) || latencyMs < 0) problems.push('--latency-ms must be a number >= 0');
  let templates: Record<string, string[]> | undefined;
  for (const spec of values.template ?? []) {
    const eq = spec.indexOf('=');
    const code = eq < 0 ? spec : spec.slice(0, eq);
    if (code === '') {
      problems.push(`--template ${spec}: expected CODE=var1,var2`);
      continue;
    }
    templates ??= {};
    templates[code] = eq < 0 ? [] : spec.slice(eq + 1).split(',').map((v) => v.trim()).filter((v) => v !== '');
  }
  const control = LocalApiControl.safeParse({ mode: values.mode, badNumbers: values['bad-number'] ?? [], limitedNumbers: values['limited-number'] ?? [] });
  if (!control.success) {
    for (const issue of control.error.issues) {
      const flag = { mode: '--mode', badNumbers: '--bad-number', limitedNumbers: '--limited-number' }[String(issue.path[0]) as 'mode'] ?? '--?';
      problems.push(`${flag}: ${issue.path[0] === 'mode' ? `one of ${LOCAL_SMS_MODES.join(', ')}` : 'a phone number of digits'}`);
    }
  }
  if (problems.length > 0 || !control.success) throw new Error(`${problems.join('\n')}\n${LOCAL_ALIYUN_SMS_USAGE}`);

  const maskPhones = values['mask-phones'] === true;
  const common = { accessKeyId, accessKeySecret, host: values.host, port, onRejected: describeAndPrint(io) };
  const server =
    values.api === 'voice'
      ? new LocalAliyunVoiceServer({
          ...common,
          ...(values['show-number'] ? { showNumbers: values['show-number'] } : {}),
          ...(templates ? { ttsTemplates: templates } : {}),
          onAccepted: (call) => io.stdout(JSON.stringify({ type: 'call', ...(maskPhones ? maskAcceptedCall(call) : call) })),
        })
      : new LocalAliyunSmsServer({
          ...common,
          ...(values['sign-name'] ? { signNames: values['sign-name'] } : {}),
          ...(templates ? { templates } : {}),
          onAccepted: (sms) => io.stdout(JSON.stringify({ type: 'sms', ...(maskPhones ? maskAcceptedSms(sms) : sms) })),
        });
  server.setLatencyMs(latencyMs);
  server.setState(control.data);
  const address = await server.start();
  io.stdout(JSON.stringify({ type: 'listening', ...address }));
  return { server, address };
}

function describeAndPrint(io: CommandIo): (rejection: Parameters<typeof describeRejection>[0]) => void {
  return (rejection) => io.stderr(describeRejection(rejection));
}
