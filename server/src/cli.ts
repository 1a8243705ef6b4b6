/**
 * The `kanjia` command line: start the system, run the demo, manage the
 * registry, run simulated devices. `kanjia help` lists everything.
 */
import { DEVICE_KINDS, formatZodError, KanjiaError, maskPhone, RegistryFile, type ContactInput, type DeviceKind } from '@kanjia/protocol';
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { loadSettings, SettingsError, type Settings } from './config.js';
import { openDatabase, type Db } from './db/database.js';
import { explainStartError, StorageStartError } from './db/storage-errors.js';
import { OutFileError, privatizeStdoutFile, SecretOutFile, usePrivateUmask } from './private-files.js';
import { databaseFile, loadDeviceKey } from './device-key.js';
import { localDateOf, RegistryError, SqliteRegistryStore } from './registry/registry-store.js';
import { CLI_ACTOR, SqliteAuditLog } from './auth/audit-log.js';
import { generatePassword } from './auth/password.js';
import { SqliteUserStore, UserError, type UserInput } from './auth/user-store.js';
import { FIRST_ADMIN_COMMAND, KanjiaSystem } from './system.js';
import { applyImportPlan, planImport } from './township/spreadsheet/import-plan.js';
import { SqliteTownshipStore } from './township/township-store.js';
import { registryXlsx } from './township/spreadsheet/registry-export.js';
import { formatPreview } from './township/spreadsheet/preview-text.js';
import { SpreadsheetError } from './township/spreadsheet/spreadsheet-errors.js';

const HELP = `kanjia — 智慧看家: watches over old people living alone and gets help to them fast

Usage: kanjia <command> [options]

  start                         start the system (settings from KANJIA_* variables; see README)
      --config FILE             read settings from a JSON file as well (or KANJIA_CONFIG_FILE)
  demo                          start everything with a simulated village of 20 households
      --data-dir DIR            where the demo keeps its data (default ./data/demo)
      --sos-after-seconds N     when a resident presses SOS (default 20; 0 = never)
      --fresh                   forget the previous demo's data first
      --speed N                 live N times faster than real time (1–3600; 60 = a day in 24 min)
      --incident NAME:SPEC      a drill in NAME's home, repeatable, e.g. 刘玉珍:co@+2h (SPEC: kanjia sim --help, life)
      --login NAME:PASSWORD     the demo's duty officer of 石门村 (default: shimen with a generated password, on the banner)
  import FILE [--out F [--force]]
                                import a registry file (docs/registry.md); prints new device secrets once
                                (--out F writes them to F, readable by you only; --force replaces F)
  import registry FILE [--village NAME] [--confirm DIGEST]
                                import people from a spreadsheet (.xlsx or .csv; docs/spreadsheets.md): without
                                --confirm prints what would be created/updated and every row that cannot be
                                imported, and writes nothing; --confirm DIGEST (printed by the preview) imports it
  export registry --out FILE.xlsx [--village NAME] [--force]
                                the registry in the policy's layout, a sheet per village; ID and phone numbers
                                in full (the operator's copy): the file is readable by you only (mode 600)
  village add --name N --lat X --lng Y [--township T] [--county C] [--timezone Z]
  household add --village ID --address A --lat X --lng Y [--key-holder-note TEXT]
  resident add --household ID --name N --contact "name,role,phone" [--contact …] [--sex F|M]
               [--birth-year Y] [--phone P] [--id-number N] [--category C]
                                roles: helper, doctor, duty, family; contacts are texted in the given order
  contact add --resident ID --name N --role ROLE --phone P [--post TEXT]
  device add --household ID --kind KIND [--resident ID] [--label TEXT] [--exit]
                                kinds: ${DEVICE_KINDS.join(', ')}
                                --exit: a door sensor on a door that leads outside
                                prints the device id and its secret once, as JSON (or to --out F, mode 600)
  user add --name NAME --role ROLE [--village ID_OR_NAME …] [--township NAME]
           [--display-name TEXT] [--phone P] [--password-stdin | --password P]
                                roles: admin (everything), township (its villages: --township), duty (--village,
                                repeatable), helper (--phone: the residents whose contact chain has this number);
                                without a password a strong one is generated and printed once (or written
                                to --out F, readable by you only; --force replaces F)
                                --password-stdin: read it from standard input (--password lands in shell history)
  user list                     the users, their roles and villages, and who is disabled (phones masked)
  user reset-password --name NAME [--password-stdin | --password P] [--out F [--force]]
                                sets a new password (generated and printed once without one) and ends every
                                session of that user (a disabled user stays disabled)
  user disable --name NAME      no login works for that user any more and every session of theirs ends now
  user enable --name NAME       lets a disabled user log in again, with their old password
  user set-villages --name NAME --village ID_OR_NAME [--village …]
                                replaces a duty officer's villages (open dashboards follow within a minute)
  sim device|household|life …   run simulated devices, or a resident's life on them (kanjia sim --help)
  eval-falls --dataset FILE     replay every fall-dataset trial through the live fall detector and print
      [--loso] [--limit N]      sensitivity, specificity, false alarms per hour (docs: README, Evaluators)
  eval-inactivity               simulate person-months with incapacitations: false alarms and detection delays
      [--persons N --months M]  against the fixed 12-hour rule; --log FILE [--cut N] replays a recorded home
  help                          this text

Registry commands use the data directory of KANJIA_DATA_DIR (default ./data) or --data-dir.
Every file Kanjia creates is readable by its own user only (umask 077): the data hold ID numbers and phones.`;

/** A bad command line: exit code 2. */
class UsageError extends KanjiaError<'CLI_USAGE'> {
  override readonly name = 'UsageError';
  constructor(message: string) {
    super('CLI_USAGE', message);
  }
}

/** Runs one command; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  // Before any file is created: the database, its -wal/-shm, the device key, exported secrets.
  usePrivateUmask();
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'start':
        return await startCommand(rest);
      case 'demo': {
        const { runDemo } = await import('./demo.js');
        return await runDemo(rest);
      }
      case 'import':
        if (rest[0] === 'registry' && rest.length > 1) return await importSheetCommand(rest.slice(1));
        return importCommand(rest);
      case 'export':
        return await exportCommand(rest);
      case 'village':
      case 'household':
      case 'resident':
      case 'contact':
      case 'device':
        return registryCommand(command, rest);
      case 'user':
        return await userCommand(rest);
      case 'eval-falls': {
        const { runEvalFalls } = await import('@kanjia/eval');
        return await runEvalFalls(rest);
      }
      case 'eval-inactivity': {
        const { runEvalInactivity } = await import('@kanjia/eval');
        return await runEvalInactivity(rest);
      }
      case 'sim': {
        const { runSimCli } = await import('@kanjia/firmware-sim');
        return await runSimCli(rest);
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${HELP}\n`);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`kanjia: ${err.message}\nRun "kanjia help" for the commands and their options.\n`);
      return 2;
    }
    if (err instanceof SettingsError) {
      process.stderr.write(`${err.message}\n`);
      return 2;
    }
    if (err instanceof z.ZodError) {
      process.stderr.write(`kanjia: invalid input: ${formatZodError(err)}\n`);
      return 1;
    }
    if (err instanceof UserError) {
      process.stderr.write(`kanjia: ${err.code}: ${err.message}\n`);
      return 1;
    }
    if (err instanceof RegistryError || err instanceof OutFileError || err instanceof StorageStartError || err instanceof SpreadsheetError) {
      process.stderr.write(`kanjia: ${err.code}: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`kanjia: ${(err as Error).message}\n`);
    return 1;
  }
}

function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

async function startCommand(args: string[]): Promise<number> {
  const { values } = parse(args, { config: { type: 'string' } });
  const settings = loadSettings(process.env, values.config ? { configFile: values.config } : {});
  const system = new KanjiaSystem({ settings });
  const running = await system.start();
  process.stdout.write(`Kanjia ${running.httpUrl} (dashboard) · ${running.mqttUrl} (devices)${running.mqttsUrl && running.mqttsUrl !== running.mqttUrl ? ` · ${running.mqttsUrl} (devices over TLS)` : ''} · data in ${settings.dataDir}\n`);
  if (system.users?.count() === 0) {
    process.stdout.write(`No users yet: nobody can log in to the dashboard. Make the first admin (it keeps running meanwhile):\n  ${FIRST_ADMIN_COMMAND}\n`);
  }
  await waitForSignal();
  await system.stop();
  return 0;
}

/** Resolves on SIGINT or SIGTERM. */
export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/** The data directory's database for a command; a read-only, full or locked one is said so, with the path. */
function openCommandDatabase(settings: Settings): Db {
  const file = databaseFile(settings);
  try {
    return openDatabase(file);
  } catch (err) {
    throw explainStartError(err, settings.dataDir, file);
  }
}

function openRegistry(dataDir: string | undefined): { registry: SqliteRegistryStore; db: Db; close: () => void; settings: Settings } {
  const settings = loadSettings(process.env, dataDir ? { overrides: { dataDir } } : {});
  const db = openCommandDatabase(settings);
  try {
    return { registry: new SqliteRegistryStore(db, loadDeviceKey(settings), Date.now, settings.timezone), db, close: () => db.close(), settings };
  } catch (err) {
    db.close();
    throw explainStartError(err, settings.dataDir, databaseFile(settings));
  }
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** The options of a command that prints a secret once. */
const SECRET_OUT_OPTIONS = { out: { type: 'string' }, force: { type: 'boolean' } } as const;

/**
 * Where a command's secret (device secrets, a generated password) goes:
 * `--out FILE`, created 0600 before the command does anything (an existing
 * FILE only with --force), or standard output with advice on standard error
 * (and a file that output is redirected to narrowed to 0600).
 */
class SecretOutput {
  private constructor(
    private readonly file: SecretOutFile | undefined,
    private readonly what: string,
  ) {}

  static of(v: { out?: string | undefined; force?: boolean | undefined }, what: string): SecretOutput {
    if (v.force && v.out === undefined) throw new UsageError('--force goes with --out FILE (it lets FILE be replaced)');
    return new SecretOutput(v.out !== undefined ? SecretOutFile.open(v.out, v.force === true) : undefined, what);
  }

  /** Writes the command's JSON answer; `secret` says whether it holds a secret this time (a generated password may not be). */
  emit(value: unknown, secret = true): void {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    if (this.file) {
      this.file.commit(text);
      process.stderr.write(`Written to ${this.file.path} (readable by you only, mode 600)${secret ? `: keep it private, and delete it once ${this.what} have been handed over` : ''}.\n`);
      return;
    }
    if (secret) {
      const was = privatizeStdoutFile();
      process.stderr.write(
        was
          ? `Standard output is a file readable by other users (mode ${was}): it is now readable by you only (600). Next time use --out FILE.\n`
          : `Keep ${this.what} private: do not leave them in a terminal log or a shared file; --out FILE writes them readable by you only (mode 600).\n`,
      );
    }
    process.stdout.write(text);
  }

  /** The command failed: an --out file it opened is removed. */
  discard(): void {
    this.file?.discard();
  }
}

function importCommand(args: string[]): number {
  const { values, positionals } = parse(args, { 'data-dir': { type: 'string' }, ...SECRET_OUT_OPTIONS }, true);
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('import takes one registry file: kanjia import FILE');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  const parsed = RegistryFile.safeParse(json);
  if (!parsed.success) {
    process.stderr.write(`kanjia: ${file} is not a valid registry file:\n${parsed.error.issues.map((i) => `  - ${i.path.join('.') || '(root)'}: ${i.message}`).join('\n')}\n`);
    return 1;
  }
  const out = SecretOutput.of(values, 'the device secrets');
  let done = false;
  try {
    const { registry, close } = openRegistry(values['data-dir']);
    try {
      const result = registry.importRegistry(parsed.data);
      process.stderr.write(`Imported ${result.villages} village(s), ${result.households} household(s), ${result.residents} resident(s), ${result.devices.length} device(s). The device secrets ${values.out ? `in ${values.out}` : 'below'} are shown once only: give each to its device now.\n`);
      out.emit(result, result.devices.length > 0);
      done = true;
      return 0;
    } finally {
      close();
    }
  } finally {
    if (!done) out.discard();
  }
}

// --- the registry in and out of spreadsheets (docs/spreadsheets.md) ---

/** A village by id or name; the command line is the operator on the server machine: every village is in scope. */
function villageNamed(registry: SqliteRegistryStore, nameOrId: string): string {
  const v = registry.allVillages().find((x) => x.id === nameOrId || x.name === nameOrId);
  if (!v) throw new RegistryError('VILLAGE_NOT_FOUND', `no village named or with id "${nameOrId}" (kanjia village add makes one)`);
  return v.id;
}

/** `kanjia import registry FILE [--village NAME] [--confirm DIGEST]`: the preview, or the import it names. */
async function importSheetCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { 'data-dir': { type: 'string' }, village: { type: 'string' }, confirm: { type: 'string' } }, true);
  const [file] = positionals;
  if (!file || positionals.length > 1) throw new UsageError('import registry takes one spreadsheet: kanjia import registry FILE.xlsx');
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  const { registry, db, close, settings } = openRegistry(values['data-dir']);
  try {
    const villageId = values.village === undefined ? undefined : villageNamed(registry, values.village);
    const plan = await planImport(bytes, registry, { villageIds: 'all' }, villageId === undefined ? {} : { villageId });
    // The preview is the answer of a preview; with --confirm the answer is the result (JSON) and the preview goes to standard error.
    (values.confirm === undefined ? process.stdout : process.stderr).write(formatPreview(file, plan));
    if (values.confirm === undefined) {
      process.stdout.write(`\nNothing was imported. To import exactly this: kanjia import registry ${file}${values.village ? ` --village ${values.village}` : ''} --confirm ${plan.digest}\n`);
      return 0;
    }
    if (values.confirm !== plan.digest) {
      throw new SpreadsheetError('IMPORT_PLAN_CHANGED', `the file or the registry changed since the preview with digest ${values.confirm}: nothing was imported; the new preview is above (its digest: ${plan.digest})`);
    }
    const result = applyImportPlan(db, registry, plan, { store: new SqliteTownshipStore(db, registry, Date.now, { ordinary: settings.visitFrequencyOrdinary, especiallyDifficult: settings.visitFrequencyEspeciallyDifficult }), by: { userId: null, name: CLI_ACTOR } });
    new SqliteAuditLog(db, Date.now).record({ action: 'registry.import', actor: CLI_ACTOR, target: file, detail: `${result.created} created, ${result.updated} updated, ${result.skipped} rows not imported` });
    process.stderr.write(`Imported: ${result.created} created, ${result.updated} updated, ${result.skipped} row(s) not imported, ${result.householdsCreated} household(s) created (placed at the village centre: move their pins on the map).\n`);
    const { householdIds: _households, ...answer } = result;
    printJson(answer);
    return 0;
  } finally {
    close();
  }
}

/** `kanjia export registry --out FILE.xlsx [--village NAME] [--force]`: full ID and phone numbers, written 0600. */
async function exportCommand(args: string[]): Promise<number> {
  const [what, ...rest] = args;
  if (what !== 'registry') throw new UsageError('export knows "registry": kanjia export registry --out FILE.xlsx [--village NAME]');
  const { values } = parse(rest, { 'data-dir': { type: 'string' }, village: { type: 'string' }, out: { type: 'string' }, force: { type: 'boolean' } });
  const outPath = need('out', values.out);
  const { registry, db, close, settings } = openRegistry(values['data-dir']);
  let out: SecretOutFile | undefined;
  try {
    const villageId = values.village === undefined ? undefined : villageNamed(registry, values.village);
    out = SecretOutFile.open(outPath, values.force === true);
    const today = localDateOf(settings.timezone, Date.now());
    const { bytes, villages, people } = await registryXlsx(registry, { villageIds: 'all', ...(villageId ? { villageId } : {}), phone: (p) => p, idNumber: (id) => id, today });
    out.commit(bytes);
    out = undefined;
    new SqliteAuditLog(db, Date.now).record({ action: 'registry.export', actor: CLI_ACTOR, target: villageId ?? null, detail: `${villages.length} village(s), ${people} people, full numbers, to ${outPath}` });
    process.stderr.write(`Written to ${outPath}: ${villages.length} village(s), ${people} people, with full ID and phone numbers (readable by you only, mode 600; keep it private).\n`);
    return 0;
  } finally {
    out?.discard();
    close();
  }
}

const num = (name: string, value: string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, not "${value}"`);
  return n;
};

function need<T>(name: string, value: T | undefined): T {
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

function parseContact(text: string): ContactInput {
  const [name, role, phone, post] = text.split(',').map((s) => s.trim());
  return { name: name ?? '', role: role as ContactInput['role'], phone: phone ?? '', ...(post ? { post } : {}) };
}

function registryCommand(noun: string, args: string[]): number {
  const [verb, ...rest] = args;
  if (verb !== 'add') throw new UsageError(`"${noun}" knows only "add": kanjia ${noun} add …`);
  const s = { type: 'string' } as const;
  const common = { 'data-dir': s };
  let run: (registry: SqliteRegistryStore) => unknown;
  switch (noun) {
    case 'village': {
      const { values: v } = parse(rest, { ...common, name: s, lat: s, lng: s, township: s, county: s, timezone: s });
      run = (r) => ({
        villageId: r.createVillage({
          name: need('name', v.name),
          lat: need('lat', num('lat', v.lat)),
          lng: need('lng', num('lng', v.lng)),
          ...(v.township ? { township: v.township } : {}),
          ...(v.county ? { county: v.county } : {}),
          ...(v.timezone ? { timezone: v.timezone } : {}),
          households: [],
        }),
      });
      return withRegistry(v['data-dir'], run);
    }
    case 'household': {
      const { values: v } = parse(rest, { ...common, village: s, address: s, lat: s, lng: s, 'key-holder-note': s });
      run = (r) => ({
        householdId: r.createHousehold(need('village', v.village), {
          address: need('address', v.address),
          lat: need('lat', num('lat', v.lat)),
          lng: need('lng', num('lng', v.lng)),
          ...(v['key-holder-note'] ? { keyHolderNote: v['key-holder-note'] } : {}),
        }),
      });
      return withRegistry(v['data-dir'], run);
    }
    case 'resident': {
      const { values: v } = parse(rest, {
        ...common,
        household: s,
        name: s,
        contact: { type: 'string', multiple: true },
        sex: s,
        'birth-year': s,
        phone: s,
        'id-number': s,
        category: s,
      });
      run = (r) => ({
        residentId: r.createResident(need('household', v.household), {
          name: need('name', v.name),
          contacts: (v.contact ?? []).map(parseContact),
          ...(v.sex ? { sex: v.sex as 'F' | 'M' } : {}),
          ...(v['birth-year'] ? { birthYear: num('birth-year', v['birth-year']) } : {}),
          ...(v.phone ? { phone: v.phone } : {}),
          ...(v['id-number'] ? { idNumber: v['id-number'] } : {}),
          ...(v.category ? { category: v.category } : {}),
        }),
      });
      return withRegistry(v['data-dir'], run);
    }
    case 'contact': {
      const { values: v } = parse(rest, { ...common, resident: s, name: s, role: s, phone: s, post: s });
      run = (r) => ({
        contactId: r.addContact(need('resident', v.resident), {
          name: need('name', v.name),
          role: need('role', v.role) as ContactInput['role'],
          phone: need('phone', v.phone),
          ...(v.post ? { post: v.post } : {}),
        }),
      });
      return withRegistry(v['data-dir'], run);
    }
    case 'device': {
      const { values: v } = parse(rest, { ...common, household: s, kind: s, resident: s, label: s, exit: { type: 'boolean' }, ...SECRET_OUT_OPTIONS });
      const out = SecretOutput.of(v, 'the device secret');
      run = (r) =>
        r.createDevice(need('household', v.household), {
          kind: need('kind', v.kind) as DeviceKind,
          ...(v.exit ? { exit: true } : {}),
          ...(v.label ? { label: v.label } : {}),
          ...(v.resident ? { residentId: v.resident } : {}),
        });
      return withRegistry(v['data-dir'], run, out);
    }
    default:
      throw new UsageError(`unknown registry noun ${noun}`);
  }
}

function withRegistry(dataDir: string | undefined, run: (registry: SqliteRegistryStore) => unknown, out?: SecretOutput): number {
  let done = false;
  try {
    const { registry, close } = openRegistry(dataDir);
    try {
      const result = run(registry);
      if (out) out.emit(result);
      else printJson(result);
      done = true;
      return 0;
    } finally {
      close();
    }
  } finally {
    if (!done) out?.discard();
  }
}

/**
 * The password of --password-stdin (standard input, one trailing newline
 * dropped: `echo "$PW" | kanjia …`) or --password; undefined for neither.
 */
function passwordOf(v: { password?: string | undefined; 'password-stdin'?: boolean | undefined }): string | undefined {
  if (v['password-stdin'] && v.password !== undefined) throw new UsageError('give the password either with --password-stdin or with --password, not both');
  if (!v['password-stdin']) return v.password;
  let text: string;
  try {
    text = readFileSync(0, 'utf8');
  } catch (err) {
    throw new UsageError(`--password-stdin: cannot read standard input (${(err as Error).message})`);
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new UsageError('--password-stdin: standard input was empty');
  return password;
}

/** `kanjia user add|list|reset-password|disable|enable|set-villages`: the dashboard's users, on the data directory's database. */
async function userCommand(args: string[]): Promise<number> {
  const [verb, ...rest] = args;
  const s = { type: 'string' } as const;
  const withUsers = async (dataDir: string | undefined, run: (users: SqliteUserStore, audit: SqliteAuditLog) => Promise<number> | number, out?: SecretOutput): Promise<number> => {
    let done = false;
    try {
      const settings = loadSettings(process.env, dataDir ? { overrides: { dataDir } } : {});
      const db = openCommandDatabase(settings);
      try {
        const code = await run(new SqliteUserStore(db, Date.now), new SqliteAuditLog(db, Date.now));
        done = true;
        return code;
      } finally {
        db.close();
      }
    } finally {
      if (!done) out?.discard();
    }
  };
  switch (verb) {
    case 'add': {
      const { values: v } = parse(rest, {
        'data-dir': s,
        name: s,
        role: s,
        village: { type: 'string', multiple: true },
        township: s,
        'display-name': s,
        phone: s,
        password: s,
        'password-stdin': { type: 'boolean' },
        ...SECRET_OUT_OPTIONS,
      });
      const given = passwordOf(v);
      const generated = given === undefined ? generatePassword() : undefined;
      const out = SecretOutput.of(v, 'the password');
      const input = {
        name: v.name ?? '',
        role: (v.role ?? '') as UserInput['role'],
        villages: v.village ?? [],
        password: given ?? (generated as string),
        ...(v.township !== undefined ? { township: v.township } : {}),
        ...(v['display-name'] !== undefined ? { displayName: v['display-name'] } : {}),
        ...(v.phone !== undefined ? { phone: v.phone } : {}),
      };
      return withUsers(v['data-dir'], async (users, audit) => {
        const user = await users.create(input);
        audit.record({ action: 'user.add', actor: CLI_ACTOR, target: user.name, detail: `role ${user.role}` });
        if (generated) process.stderr.write(`The password ${v.out ? `in ${v.out}` : 'below'} is shown once only: give it to ${user.name} now.\n`);
        out.emit({ ...user, phone: user.phone === null ? null : maskPhone(user.phone), ...(generated ? { password: generated } : {}) }, generated !== undefined);
        return 0;
      }, out);
    }
    case 'list': {
      const { values: v } = parse(rest, { 'data-dir': s });
      return withUsers(v['data-dir'], (users) => {
        printJson({ users: users.listWithStatus() });
        return 0;
      });
    }
    case 'reset-password': {
      const { values: v } = parse(rest, { 'data-dir': s, name: s, password: s, 'password-stdin': { type: 'boolean' }, ...SECRET_OUT_OPTIONS });
      const name = need('name', v.name);
      const given = passwordOf(v);
      const generated = given === undefined ? generatePassword() : undefined;
      const out = SecretOutput.of(v, 'the password');
      return withUsers(v['data-dir'], async (users, audit) => {
        const user = await users.resetPassword(name, given ?? (generated as string));
        audit.record({ action: 'user.resetPassword', actor: CLI_ACTOR, target: user.name, detail: 'sessions ended' });
        process.stderr.write(`New password set for ${user.name}; every session of ${user.name} has ended.${generated ? ` The password ${v.out ? `in ${v.out}` : 'below'} is shown once only.` : ''}\n`);
        out.emit({ name: user.name, sessionsEnded: true, ...(generated ? { password: generated } : {}) }, generated !== undefined);
        return 0;
      }, out);
    }
    case 'disable':
    case 'enable': {
      const { values: v } = parse(rest, { 'data-dir': s, name: s });
      const name = need('name', v.name);
      return withUsers(v['data-dir'], (users, audit) => {
        const user = verb === 'disable' ? users.disable(name) : users.enable(name);
        audit.record({ action: verb === 'disable' ? 'user.disable' : 'user.enable', actor: CLI_ACTOR, target: user.name, detail: verb === 'disable' ? 'sessions ended' : null });
        process.stderr.write(verb === 'disable' ? `${user.name} is disabled: no login works and every session of ${user.name} has ended.\n` : `${user.name} may log in again, with their old password.\n`);
        printJson({ name: user.name, disabled: verb === 'disable' });
        return 0;
      });
    }
    case 'set-villages': {
      const { values: v } = parse(rest, { 'data-dir': s, name: s, village: { type: 'string', multiple: true } });
      const name = need('name', v.name);
      return withUsers(v['data-dir'], (users, audit) => {
        const user = users.setVillages(name, v.village ?? []);
        audit.record({ action: 'user.setVillages', actor: CLI_ACTOR, target: user.name, detail: user.villageIds.join(', ') });
        printJson({ ...user, phone: user.phone === null ? null : maskPhone(user.phone) });
        return 0;
      });
    }
    default:
      throw new UsageError('"user" knows add, list, reset-password, disable, enable and set-villages: kanjia user add --name NAME --role ROLE …');
  }
}
