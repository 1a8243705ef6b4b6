/**
 * The simulator's command line: `device` runs one device, `household` runs the
 * devices of one household from a credentials file. The server wraps it as
 * `kanjia sim …` by calling runSimCli().
 */
import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { DeviceCommand } from '@kanjia/protocol';
import { SimDeviceError } from './errors.js';
import { lineLogger, redactUrl } from './logger.js';
import { SimDevice, type AckHandle } from './sim-device.js';
import { HouseholdCredentialsFile, SimHousehold, type SimDeviceCredentials } from './sim-household.js';
import { readTrials, type FallTrial } from './dataset.js';
import { describeIncident, IncidentSpecError, parseIncidentSpec, type LifeIncident } from './life/incidents.js';
import { planHouseholdLife } from './life/life-plan.js';
import { HouseholdLifeRunner } from './life/life-runner.js';
import { PROFILE_NAMES, type ProfileName } from './routine/profiles.js';
import { formatLocalDateTime, isValidTimeZone, KanjiaError } from '@kanjia/protocol';

/** Exit codes; stable, scripts branch on them. */
export const SIM_EXIT = {
  ok: 0,
  /** Something unexpected; the message says what. */
  failed: 1,
  /** Bad arguments or a bad credentials file. */
  usage: 2,
  /** The broker refused the connection (wrong id or secret). */
  refused: 3,
  /** No connection, or not the awaited acknowledgement, within --timeout-ms. */
  timeout: 4,
  /** Interrupted (Ctrl-C) while waiting for an acknowledgement. */
  interrupted: 130,
} as const;

/** Where the CLI writes and what stops it; the defaults are the process's. */
export interface SimCliIo {
  /** One JSON line per acknowledgement. */
  stdout(line: string): void;
  /** The devices' human lines and the CLI's messages. */
  stderr(line: string): void;
  /** When aborted (Ctrl-C), the CLI stops its devices and returns. */
  signal?: AbortSignal;
  env?: Readonly<Record<string, string | undefined>>;
}

const processIo: SimCliIo = {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

const DEFAULT_URL = 'mqtt://127.0.0.1:1883';
const DEFAULT_TIMEOUT_MS = 30_000;

export const SIM_USAGE = `Usage: kanjia sim <command> [options]

Simulated devices speaking MQTT contract v1 over a real connection.

Commands:
  device     run one device; optionally press its button and wait for the acknowledgement
  household  run every device of one household from a credentials file
  life       live the simulated life of the household's resident on its devices, in real time

kanjia sim device --id <deviceId> --secret <secret> [options]
  --url <url>           broker (default ${DEFAULT_URL}); mqtts://host:8883 over TLS
  --ca <file>           with mqtts://: the PEM of the CA that signed the server's certificate,
                        when it is not one the system trusts (a CA of your own)
  --id <deviceId>       device id, also the MQTT username and client id
  --secret <secret>     device secret (or set KANJIA_SIM_SECRET)
  --press <button>      sos | checkIn | cancel, once connected
  --wait-taken          with --press: wait for "taken" (someone took the alarm), not only "received"
  --timeout-ms <ms>     give up on the connection and the awaited acknowledgement after this (default ${DEFAULT_TIMEOUT_MS})
  --resend-ms <ms>      resend an unacknowledged press after <ms> to 2×<ms>, the wait doubling up to 12×<ms> (default 5000)
  --firmware <text>     firmware reported in the online status
  --battery <pct>       battery reported in the online status (default 100)

kanjia sim household --file <creds.json> [options]
  --file <path>         JSON array of { "deviceId", "secret", "kind" } (the registry's output works as is)
  --url, --ca, --press sos|checkIn, --wait-taken, --timeout-ms, --resend-ms as above

kanjia sim life --file <creds.json> [options]
  --file <path>         as for household; every device is used for what its kind senses
  --seed <n>            the person and their days (default 1); the same seed gives the same life
  --days <n>            days to live, from now (default 7)
  --profile <name>      ${PROFILE_NAMES.join(' | ')} (default: drawn from the seed)
  --tz <zone>           the home's IANA time zone (default Asia/Shanghai)
  --incident <spec>     something going wrong, repeatable: kind@when[,key=value…], when is
                        YYYY-MM-DDTHH:mm (village time) or +90m / +26h / +3d from now:
                          fall@+2h                   falls, stays on the floor
                          fall@+2h,getsUp            falls, gets up, presses cancel when the pendant beeps
                          incapacitation@+30h,where=bed|floor
                          co@+20h,peak=400,ramp=60,overcomes   carbon monoxide from the stove
                          cold@+18h                  the stove goes out
                          battery@+3d,device=sosButton         a battery runs flat
                          powerCut@+22h,minutes=120
  --dataset <file>      fall recordings (../shared/datasets/FORMAT.md): a fall replays the first
                        fall trial worn at the chest on the pendant (else the pendant reports the fall itself)
  --url, --ca, --resend-ms as above. The life plays in real time; for a village lived at
  60× use \`kanjia demo --speed 60\` (the server must share the simulated clock).

Without --press the devices stay online until Ctrl-C.
Every command a device receives is printed on stdout as one JSON line
{"deviceId":…,"command":{…}}; what the device "beeps" is printed on stderr.

Exit codes: 0 the awaited acknowledgement arrived (or Ctrl-C without --press, or life is over),
1 unexpected error, 2 bad arguments or credentials file, 3 broker refused the
credentials, 4 timed out, 130 interrupted while waiting.`;

/** A bad command line or credentials file: exit code 2. */
class UsageError extends KanjiaError<'SIM_USAGE'> {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super('SIM_USAGE', message);
  }
}

/** Runs the simulator CLI with `argv` (without `node` and the script); resolves with the exit code. */
export async function runSimCli(argv: readonly string[], io: SimCliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'device':
        return await runDevice(rest, io);
      case 'household':
        return await runHousehold(rest, io);
      case 'life':
        return await runLife(rest, io);
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.stdout(SIM_USAGE);
        return command === undefined ? SIM_EXIT.usage : SIM_EXIT.ok;
      default:
        throw new UsageError(`unknown command "${command}"; expected device, household or life`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`kanjia sim: ${error.message}\n(kanjia sim --help for usage)`);
      return SIM_EXIT.usage;
    }
    io.stderr(`kanjia sim: ${error instanceof Error ? error.message : String(error)}`);
    return SIM_EXIT.failed;
  }
}

const commonOptions = {
  url: { type: 'string', default: DEFAULT_URL },
  ca: { type: 'string' },
  press: { type: 'string' },
  'wait-taken': { type: 'boolean', default: false },
  'timeout-ms': { type: 'string' },
  'resend-ms': { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, strict: true as const, allowPositionals: false as const });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

async function runDevice(args: readonly string[], io: SimCliIo): Promise<number> {
  const { values } = parse(args, {
    ...commonOptions,
    id: { type: 'string' },
    secret: { type: 'string' },
    firmware: { type: 'string' },
    battery: { type: 'string' },
  });
  if (values.help === true) {
    io.stdout(SIM_USAGE);
    return SIM_EXIT.ok;
  }
  const problems: string[] = [];
  const deviceId = values.id;
  if (deviceId === undefined) problems.push('--id is required');
  const secret = values.secret ?? io.env?.['KANJIA_SIM_SECRET'];
  if (secret === undefined || secret === '') problems.push('--secret (or KANJIA_SIM_SECRET) is required');
  const press = oneOf(values.press, '--press', ['sos', 'checkIn', 'cancel'] as const, problems);
  const timing = parseTiming(values, problems);
  const batteryPct = values.battery === undefined ? undefined : positiveInt(values.battery, '--battery', problems, { allowZero: true });
  if (values['wait-taken'] === true && press === undefined) problems.push('--wait-taken needs --press');
  if (problems.length > 0 || deviceId === undefined || secret === undefined) throw new UsageError(problems.join('; '));

  const ca = await readCa(values.ca);
  let device: SimDevice;
  try {
    device = new SimDevice({
      brokerUrl: values.url,
      ...(ca !== undefined ? { ca } : {}),
      deviceId,
      secret,
      firmware: values.firmware,
      batteryPct,
      resendIntervalMs: timing.resendMs,
      logger: lineLogger(io.stderr),
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  device.on('command', (command) => printCommand(io, device.deviceId, command));
  return runSession(io, {
    url: values.url,
    timeoutMs: timing.timeoutMs,
    waitTaken: values['wait-taken'] === true,
    start: () => device.start(),
    stop: () => device.stop(),
    press: press === undefined ? undefined : () => device.press(press),
  });
}

async function runHousehold(args: readonly string[], io: SimCliIo): Promise<number> {
  const { values } = parse(args, { ...commonOptions, file: { type: 'string' } });
  if (values.help === true) {
    io.stdout(SIM_USAGE);
    return SIM_EXIT.ok;
  }
  const problems: string[] = [];
  if (values.file === undefined) problems.push('--file is required');
  const press = oneOf(values.press, '--press', ['sos', 'checkIn'] as const, problems);
  const timing = parseTiming(values, problems);
  if (values['wait-taken'] === true && press === undefined) problems.push('--wait-taken needs --press');
  if (problems.length > 0 || values.file === undefined) throw new UsageError(problems.join('; '));

  const devices = await readHouseholdFile(values.file);

  const ca = await readCa(values.ca);
  const household = new SimHousehold({
    brokerUrl: values.url,
    ...(ca !== undefined ? { ca } : {}),
    devices,
    resendIntervalMs: timing.resendMs,
    logger: lineLogger(io.stderr),
  });
  let button: SimDevice | undefined;
  try {
    button = press === 'sos' ? household.sosButton() : press === 'checkIn' ? household.checkInButton() : undefined;
  } catch (error) {
    throw new UsageError(`${values.file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  for (const device of household.devices) device.on('command', (command) => printCommand(io, device.deviceId, command));
  return runSession(io, {
    url: values.url,
    timeoutMs: timing.timeoutMs,
    waitTaken: values['wait-taken'] === true,
    start: () => household.start(),
    stop: () => household.stop(),
    press: button === undefined || press === undefined ? undefined : () => button.press(press),
  });
}

async function runLife(args: readonly string[], io: SimCliIo): Promise<number> {
  const { values } = parse(args, {
    url: { type: 'string', default: DEFAULT_URL },
    ca: { type: 'string' },
    file: { type: 'string' },
    seed: { type: 'string', default: '1' },
    days: { type: 'string', default: '7' },
    profile: { type: 'string' },
    tz: { type: 'string', default: 'Asia/Shanghai' },
    incident: { type: 'string', multiple: true, default: [] },
    dataset: { type: 'string' },
    'resend-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help === true) {
    io.stdout(SIM_USAGE);
    return SIM_EXIT.ok;
  }
  const problems: string[] = [];
  if (values.file === undefined) problems.push('--file is required');
  const seed = positiveInt(values.seed, '--seed', problems, { allowZero: true });
  const days = positiveInt(values.days, '--days', problems);
  if (days !== undefined && days > 366) problems.push(`--days must be at most 366, got ${days}`);
  const profile = oneOf(values.profile, '--profile', PROFILE_NAMES, problems) as ProfileName | undefined;
  if (!isValidTimeZone(values.tz)) problems.push(`--tz "${values.tz}" is not an IANA time zone (e.g. Asia/Shanghai)`);
  const resendMs = values['resend-ms'] === undefined ? undefined : positiveInt(values['resend-ms'], '--resend-ms', problems);
  const startMs = Date.now();
  const incidents: LifeIncident[] = [];
  for (const spec of values.incident) {
    try {
      if (isValidTimeZone(values.tz)) incidents.push(parseIncidentSpec(spec, startMs, values.tz));
    } catch (error) {
      if (!(error instanceof IncidentSpecError)) throw error;
      problems.push(error.message);
    }
  }
  for (const i of incidents) if (i.atMs < startMs) problems.push(`incident at ${new Date(i.atMs).toISOString()} lies in the past`);
  if (days !== undefined) for (const i of incidents) if (i.atMs >= startMs + days * 86_400_000) problems.push(`incident at ${new Date(i.atMs).toISOString()} lies after the ${days} day(s) simulated (--days)`);
  if (problems.length > 0 || values.file === undefined || seed === undefined || days === undefined) throw new UsageError(problems.join('; '));
  const devices = await readHouseholdFile(values.file);
  let fallTrial: FallTrial | undefined;
  if (values.dataset !== undefined) {
    for await (const trial of readTrials(values.dataset)) {
      if (trial.label === 'fall' && trial.position === 'chest') {
        fallTrial = trial;
        break;
      }
    }
    if (fallTrial === undefined) throw new UsageError(`${values.dataset} holds no fall trial worn at the chest`);
  }

  const plan = planHouseholdLife({ seed, startMs, days, timeZone: values.tz, devices, incidents, ...(profile ? { profile } : {}), ...(fallTrial ? { fallTrial } : {}) });
  const person = plan.routine.person;
  io.stderr(`kanjia sim life: a ${person.profile} person (seed ${seed}), ${days} day(s) from ${formatLocalDateTime(values.tz, startMs)} (${values.tz}), ${plan.steps.length} messages planned`);
  for (const incident of incidents) io.stderr(`  incident: ${describeIncident(incident, values.tz)}`);
  for (const note of plan.notes) io.stderr(`  note: ${note}`);
  const ca = await readCa(values.ca);
  const runner = new HouseholdLifeRunner({
    brokerUrl: values.url,
    ...(ca !== undefined ? { ca } : {}),
    devices,
    plan,
    logger: lineLogger(io.stderr),
    ...(resendMs !== undefined ? { resendIntervalMs: resendMs } : {}),
    onStep: (step) => io.stderr(`${formatLocalDateTime(values.tz, step.atMs)} ${step.deviceId}: ${step.why}`),
    onCommand: (deviceId, command) => printCommand(io, deviceId, command),
  });
  return runSession(io, {
    url: values.url,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    waitTaken: false,
    start: () => runner.start(),
    stop: () => runner.stop(),
    press: undefined,
    until: () => runner.whenFinished(),
  });
}

/** The --ca file's PEM; undefined without --ca. */
async function readCa(file: string | undefined): Promise<string | undefined> {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--ca: cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`--ca: ${file} is not a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return text;
}

async function readHouseholdFile(file: string): Promise<SimDeviceCredentials[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const parsed = parseHouseholdFile(text);
  if (!parsed.ok) {
    const count = parsed.problems.length;
    throw new UsageError(`${file} is not a valid household credentials file (${count} problem${count === 1 ? '' : 's'}):\n${parsed.problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  return parsed.devices;
}

/** Validates a household credentials file; lists every problem, one per entry, with its place in the file. */
export function parseHouseholdFile(text: string): { ok: true; devices: SimDeviceCredentials[] } | { ok: false; problems: string[] } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { ok: false, problems: [`not JSON: ${error instanceof Error ? error.message : String(error)}`] };
  }
  const result = HouseholdCredentialsFile.safeParse(json);
  if (result.success) return { ok: true, devices: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => {
      const place = issue.path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('').replace(/^\./, '');
      return `${place === '' ? '(file)' : place}: ${issue.message}`;
    }),
  };
}

interface Session {
  url: string;
  timeoutMs: number;
  waitTaken: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  press: (() => AckHandle) | undefined;
  /** Without a press: the session ends when this resolves (else at Ctrl-C). */
  until?: () => Promise<void>;
}

type Outcome<T> = { kind: 'done'; value: T } | { kind: 'timeout' } | { kind: 'interrupted' };

async function runSession(io: SimCliIo, session: Session): Promise<number> {
  // Real time on purpose: the CLI talks to a real broker.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<{ kind: 'timeout' }>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'timeout' }), session.timeoutMs);
  });
  let onAbort: (() => void) | undefined;
  const interrupted = new Promise<{ kind: 'interrupted' }>((resolve) => {
    if (io.signal === undefined) return;
    if (io.signal.aborted) resolve({ kind: 'interrupted' });
    onAbort = () => resolve({ kind: 'interrupted' });
    io.signal.addEventListener('abort', onAbort, { once: true });
  });
  const race = <T>(promise: Promise<T>, withDeadline = true): Promise<Outcome<T>> =>
    Promise.race([promise.then((value) => ({ kind: 'done', value }) as const), interrupted, ...(withDeadline ? [deadline] : [])]);

  // The verdict is printed after stop(), so it is the last line the person sees.
  let verdict: string | undefined;
  try {
    const started = await race(session.start());
    if (started.kind === 'timeout') {
      verdict = `not connected to ${redactUrl(session.url)} within ${session.timeoutMs} ms; is the broker running?`;
      return SIM_EXIT.timeout;
    }
    if (started.kind === 'interrupted') return SIM_EXIT.interrupted;
    if (session.press === undefined) {
      // Nothing awaited: stay online until done, or until Ctrl-C.
      await race(session.until?.() ?? new Promise<never>(() => undefined), false);
      return SIM_EXIT.ok;
    }
    const handle = session.press();
    const what = session.waitTaken ? 'taken' : 'received';
    const acked = await race<DeviceCommand>(session.waitTaken ? handle.taken : handle.received);
    if (acked.kind === 'timeout') {
      const copies = handle.copiesSent;
      verdict = `no "${what}" for ${handle.event.type} ${handle.eventId} within ${session.timeoutMs} ms (${copies} cop${copies === 1 ? 'y' : 'ies'} sent); is the server running and does it know this device?`;
      return SIM_EXIT.timeout;
    }
    return acked.kind === 'interrupted' ? SIM_EXIT.interrupted : SIM_EXIT.ok;
  } catch (error) {
    if (error instanceof SimDeviceError && (error.code === 'AUTH_REFUSED' || error.code === 'CONNECT_REFUSED')) {
      verdict = error.message;
      return SIM_EXIT.refused;
    }
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort !== undefined) io.signal?.removeEventListener('abort', onAbort);
    await session.stop();
    if (verdict !== undefined) io.stderr(`kanjia sim: ${verdict}`);
  }
}


function printCommand(io: SimCliIo, deviceId: string, command: DeviceCommand): void {
  io.stdout(JSON.stringify({ deviceId, command }));
}

function oneOf<T extends string>(value: string | undefined, flag: string, allowed: readonly T[], problems: string[]): T | undefined {
  if (value === undefined) return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  problems.push(`${flag} must be one of ${allowed.join(', ')}, got "${value}"`);
  return undefined;
}

function positiveInt(value: string, flag: string, problems: string[], options: { allowZero?: boolean } = {}): number | undefined {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || (n === 0 && options.allowZero !== true)) {
    problems.push(`${flag} must be a ${options.allowZero === true ? 'non-negative' : 'positive'} integer, got "${value}"`);
    return undefined;
  }
  return n;
}

function parseTiming(values: { 'timeout-ms'?: string; 'resend-ms'?: string }, problems: string[]): { timeoutMs: number; resendMs: number | undefined } {
  const timeoutMs = values['timeout-ms'] === undefined ? DEFAULT_TIMEOUT_MS : positiveInt(values['timeout-ms'], '--timeout-ms', problems);
  const resendMs = values['resend-ms'] === undefined ? undefined : positiveInt(values['resend-ms'], '--resend-ms', problems);
  return { timeoutMs: timeoutMs ?? DEFAULT_TIMEOUT_MS, resendMs };
}
