/**
 * One error catalog for every package: each stable code once, with where it
 * comes from, the HTTP status when the REST API answers it, what it means and
 * what to do. docs/errors.md is generated from this table (a test fails when
 * it is out of date), the dashboard's messages are typed by it, and every
 * error class extends KanjiaError with a code from it. Codes are what people
 * and scripts grep for: a code keeps its name once published, and one code
 * means one thing everywhere.
 *
 * Not in here, because they are data and not our errors: the SMS provider's
 * own codes (alerts/src/sms/aliyun-error-codes.ts), MQTT CONNACK return codes,
 * the gateway's drop reasons of a device payload (protocol/src/mqtt.ts
 * PayloadError, counted in /api/stats) and Node's or SQLite's errno codes.
 *
 * Browser-safe: imports only zod.
 */
import { z } from 'zod';

/** Where a code comes from: the sections of docs/errors.md, in this order. */
export const ERROR_SOURCES = {
  http: 'HTTP API (any route)',
  auth: 'Login, sessions and users',
  alarms: 'Alarms and the helper’s answer page',
  registry: 'Registry (villages, households, residents, contacts, devices)',
  map: 'Village map',
  storage: 'Storage (the data directory and the database)',
  system: 'System problems (/api/health and the dashboard’s red banner)',
  server: 'Server start and the kanjia command line',
  dashboard: 'Dashboard (made in the browser, never sent by the server)',
  gateway: 'MQTT gateway',
  sim: 'Device simulator (kanjia sim)',
  detection: 'Detectors',
  eval: 'Evaluators (kanjia eval-falls, kanjia eval-inactivity)',
} as const;
export type ErrorSource = keyof typeof ERROR_SOURCES;

export interface ErrorCatalogEntry {
  from: ErrorSource;
  /** The HTTP status the REST API answers with this code; absent: the API never answers it. */
  status?: number;
  /** Also a system problem (SystemProblem.code): listed by /api/health and shown as a banner. */
  systemProblem?: true;
  /** One line, English: what happened. */
  meaning: string;
  /** One line, English: what the reader (officer, operator, developer) should do. */
  action: string;
}

export const ERROR_CATALOG = {
  // --- http ---
  BAD_REQUEST: { from: 'http', status: 400, meaning: 'The request body, query or parameters do not match the API (the message names each field), or the HTTP request itself was malformed (then with the 4xx status fastify chose).', action: 'Fix the request; nothing was changed.' },
  PAYLOAD_TOO_LARGE: { from: 'http', status: 413, meaning: 'The request body is larger than the server accepts (64 KiB for JSON).', action: 'Send less; a village plan image has its own limit (PLAN_TOO_LARGE).' },
  UNSUPPORTED_MEDIA_TYPE: { from: 'http', status: 415, meaning: 'The body’s content-type is not one the route reads (JSON, or image/png and image/jpeg for a plan).', action: 'Send the content-type the route expects.' },
  NOT_FOUND: { from: 'http', status: 404, meaning: 'No API route has this method and path.', action: 'Check the URL; a dashboard older or newer than the server can cause this: reload the page.' },
  HOST_NOT_ALLOWED: { from: 'http', status: 421, meaning: 'The Host header (or the live feed’s) names a host this server does not answer to (DNS rebinding protection).', action: 'If people reach the server by that name, add it to KANJIA_ALLOWED_HOSTS.' },
  CROSS_ORIGIN: { from: 'http', status: 403, meaning: 'A request that changes something (or the live feed) came from another site’s page (Origin or Referer of another origin).', action: 'Open the dashboard at its own address; behind a proxy, check KANJIA_ALLOWED_HOSTS and KANJIA_TRUST_PROXY.' },
  RATE_LIMITED: { from: 'http', status: 429, meaning: 'Too many requests from this address to the answer page (retryAfterSeconds says how long to wait).', action: 'Wait the given seconds, then try again.' },
  INTERNAL: { from: 'http', status: 500, meaning: 'An unexpected error in the server; the request may not have been carried out.', action: 'Look for “request failed” in the server log and report it; phone the helpers if an alarm action failed.' },

  // --- auth ---
  UNAUTHENTICATED: { from: 'auth', status: 401, meaning: 'No session, or it has ended (idle or absolute limit, logout, password reset, user disabled).', action: 'Log in again.' },
  FORBIDDEN: { from: 'auth', status: 403, meaning: 'The user’s role may not do this (e.g. a duty officer editing the registry).', action: 'Ask an administrator to do it, or for a user with the right role.' },
  LOGIN_FAILED: { from: 'auth', status: 401, meaning: 'Wrong name or password (the answer does not say which), or the user is disabled.', action: 'Check the name and password; an administrator can reset it with kanjia user reset-password.' },
  LOGIN_THROTTLED: { from: 'auth', status: 429, meaning: 'Too many failed logins for this name or from this address (retryAfterSeconds says how long to wait).', action: 'Wait, then log in with the right password; many of these in the log can mean someone is guessing.' },
  LOGIN_BUSY: { from: 'auth', status: 503, meaning: 'The server is checking too many passwords at once (each check is deliberately slow).', action: 'Try again in a few seconds.' },
  USER_EXISTS: { from: 'auth', meaning: 'kanjia user add: a user with this login name exists already (names compare case- and width-insensitively).', action: 'Choose another name, or change the existing user.' },
  USER_NOT_FOUND: { from: 'auth', meaning: 'kanjia user …: no user has this login name.', action: 'kanjia user list shows the users.' },
  INVALID_USER: { from: 'auth', meaning: 'kanjia user add/set-villages: the user’s settings do not fit its role (the message names each problem).', action: 'Fix the options as the message says (kanjia help).' },

  // --- alarms ---
  ALARM_NOT_FOUND: { from: 'alarms', status: 404, meaning: 'No alarm case has this id, or it is outside the user’s villages.', action: 'Reload the list; the case may belong to another village.' },
  ALARM_ALREADY_TAKEN: { from: 'alarms', status: 409, meaning: 'Someone else took this alarm first (the message says who).', action: 'Nothing to do unless you need to coordinate with them.' },
  ALARM_CLOSED: { from: 'alarms', status: 409, meaning: 'The alarm case is resolved or cancelled already.', action: 'Nothing to do; reload to see how it ended.' },
  ALARM_WRONG_STATE: { from: 'alarms', status: 409, meaning: 'This step does not fit the case’s state now (e.g. on site before it was taken).', action: 'Reload and take the step that the case offers.' },
  ANSWER_CODE_UNKNOWN: { from: 'alarms', status: 404, meaning: 'The answer link’s code was never issued (mistyped or cut off).', action: 'Check the link against the SMS, or phone the duty room.' },
  ANSWER_CODE_EXPIRED: { from: 'alarms', status: 410, meaning: 'The answer link no longer works: its case is closed (for an SMS naming several cases: every one of them), or 24 hours have passed (reason says which).', action: 'Nothing if the case is closed; otherwise phone the duty room.' },

  // --- registry ---
  VILLAGE_NOT_FOUND: { from: 'registry', status: 404, meaning: 'No village has this id or name, or it is outside the user’s scope.', action: 'Check the id (kanjia import or the registry list shows it).' },
  HOUSEHOLD_NOT_FOUND: { from: 'registry', status: 404, meaning: 'No household has this id, or it is outside the user’s scope.', action: 'Check the id.' },
  RESIDENT_NOT_FOUND: { from: 'registry', status: 404, meaning: 'No resident has this id, or it is outside the user’s scope.', action: 'Check the id.' },
  CONTACT_NOT_FOUND: { from: 'registry', status: 404, meaning: 'No contact has this id, or it is outside the user’s scope.', action: 'Check the id.' },
  DEVICE_NOT_FOUND: { from: 'registry', status: 404, meaning: 'No device has this id, or it is outside the user’s scope.', action: 'Check the id (printed on the device and by kanjia import).' },
  RESIDENT_NOT_IN_HOUSEHOLD: { from: 'registry', status: 400, meaning: 'A device is given to a resident of another household.', action: 'Choose a resident of the device’s household.' },
  CONTACT_ORDER_MISMATCH: { from: 'registry', status: 400, meaning: 'A reorder of a contact chain does not name every contact of the chain exactly once.', action: 'Reload the chain and send all its contacts in the new order.' },
  HOUSEHOLD_HAS_NO_RESIDENT: { from: 'registry', status: 409, meaning: 'The household has no resident to give the device or the change to.', action: 'Add the resident first.' },
  CONTACT_CHAIN_EMPTY: { from: 'registry', status: 409, meaning: 'The last contact of a chain cannot be removed: nobody would be texted.', action: 'Add the new contact first, then remove the old one.' },
  RESIDENT_HAS_LEFT: { from: 'registry', status: 409, meaning: 'The person has left the registry (离册): they cannot leave again, nor be visited (docs/township.md).', action: 'Restore the record first (POST /api/residents/:id/restore) if they are back.' },
  RESIDENT_NOT_LEFT: { from: 'registry', status: 409, meaning: 'A restore of a person who is in the registry: there is nothing to restore.', action: 'Nothing to do; reload the record.' },
  VISITOR_NOT_A_HELPER: { from: 'registry', status: 400, meaning: 'A visit names as its visitor a contact that is not a helper (帮扶责任人) in this person’s chain.', action: 'Choose one of the person’s helpers, or leave the visitor out to record the visit as your own.' },

  // --- map ---
  PLAN_NOT_AN_IMAGE: { from: 'map', status: 400, meaning: 'The uploaded village plan is not a png or jpeg image.', action: 'Upload the plan as png or jpeg.' },
  PLAN_TYPE_MISMATCH: { from: 'map', status: 400, meaning: 'The plan’s content-type says one image type and the file is another.', action: 'Upload it with its true type (image/png or image/jpeg).' },
  PLAN_TOO_LARGE: { from: 'map', status: 413, meaning: 'The plan file is larger than 10 MiB.', action: 'Save it smaller (a jpeg at 200 dpi is enough).' },
  PLAN_TOO_MANY_PIXELS: { from: 'map', status: 400, meaning: 'The plan is more than 8192 pixels on a side (old duty-room PCs fail to show it).', action: 'Scale it down.' },
  PLAN_NOT_FOUND: { from: 'map', status: 404, meaning: 'The village has no plan image.', action: 'Upload one, or use the map tiles.' },

  // --- registry: spreadsheets in and out (server/src/township/spreadsheet, docs/spreadsheets.md) ---
  SPREADSHEET_EMPTY: { from: 'registry', status: 400, meaning: 'The uploaded spreadsheet is empty, or has a header row and no person under it.', action: 'Check that the right file was chosen and that it was saved with its rows.' },
  SPREADSHEET_UNREADABLE: { from: 'registry', status: 400, meaning: 'The upload is not a spreadsheet Kanjia reads (.xlsx, or CSV in UTF-8, UTF-16 or GBK/GB18030); an old .xls is refused with advice.', action: 'Save it as .xlsx (or “CSV UTF-8”) in Excel or WPS and upload that.' },
  SPREADSHEET_TOO_LARGE: { from: 'registry', status: 413, meaning: 'The uploaded spreadsheet is larger than 5 MiB (or has more than 5000 rows on a sheet).', action: 'Split it by village, or remove pictures and unused sheets.' },
  SPREADSHEET_NO_HEADER: { from: 'registry', status: 400, meaning: 'No sheet of the file has a header row with 姓名 and at least one more known column in its first 15 rows.', action: 'Name the columns as the registry does (姓名, 性别, 身份证号码, 人员类别 …; docs/spreadsheets.md).' },
  IMPORT_PLAN_CHANGED: { from: 'registry', status: 409, meaning: 'A confirmed import no longer matches its preview: the file or the registry changed in between. Nothing was imported; the answer holds the new preview.', action: 'Look at the new preview and confirm it.' },

  // --- storage ---
  STORAGE_BUSY: { from: 'storage', status: 503, meaning: 'The database is locked by another process for the moment; nothing was changed.', action: 'Try again in a few seconds; if it lasts, close the other process (a sqlite3 shell, a backup tool).' },
  STORAGE_WRITE_FAILED: { from: 'storage', status: 503, systemProblem: true, meaning: 'The database cannot write (disk full, read-only, I/O error); new alarms may not be recorded. /api/health is unhealthy with the reason.', action: 'Fix the disk as the reason says (free space, remount read-write); phone the helpers meanwhile: devices keep resending until it is recorded.' },
  STORAGE_QUEUE_FULL: { from: 'storage', meaning: 'Too many writes wait for a locked or failing database; this one is not kept (the device resends it).', action: 'Fix the storage fault that /api/health reports.' },
  STORAGE_STOPPED: { from: 'storage', meaning: 'A write came after the server began stopping; it is not kept (the device resends it).', action: 'None: expected during shutdown.' },
  DATA_DIR_READ_ONLY: { from: 'storage', meaning: 'At start: the data directory is on a read-only file system.', action: 'Remount it read-write, or set KANJIA_DATA_DIR to a writable directory.' },
  DATA_DIR_FULL: { from: 'storage', meaning: 'At start: the disk holding the data directory is full.', action: 'Free space (df -h shows how much is left), then start again.' },
  DATA_DIR_NOT_WRITABLE: { from: 'storage', meaning: 'At start: the user Kanjia runs as cannot write the data directory.', action: 'chown the directory to that user and chmod 700 it, as the message says.' },
  DATA_DIR_NOT_A_DIRECTORY: { from: 'storage', meaning: 'At start: the data directory path is a file.', action: 'Set KANJIA_DATA_DIR (or --data-dir) to a directory.' },
  DATA_DIR_IO_ERROR: { from: 'storage', meaning: 'At start: the disk reported an input/output error.', action: 'Check the disk (dmesg, smartctl) and its free space, then start again.' },
  DATABASE_LOCKED: { from: 'storage', meaning: 'At start: another process holds a lock on the database.', action: 'Close it (fuser -v on the database file lists who has it open), then start again.' },
  DATABASE_DAMAGED: { from: 'storage', meaning: 'At start: the database file is damaged.', action: 'Stop Kanjia and restore the database from the latest backup.' },

  // --- system ---
  SMS_PROVIDER_OUTAGE: { from: 'system', systemProblem: true, meaning: 'An SMS provider refuses every message (signature, credit, a disabled key, the account\'s quota) or cannot be reached; its notices wait and are resent when it answers again, or after the failover time go by the next channel of their route (a second SMS provider, a voice call, the duty group; docs/channels.md).', action: 'Phone the contacts of open cases now; fix the provider account as the reason says (top up, enable the key).' },
  VOICE_PROVIDER_OUTAGE: { from: 'system', systemProblem: true, meaning: 'The voice service refuses every call or cannot be reached: critical alarms are texted but nobody is rung; waiting calls go when it answers again.', action: 'Phone the contacts of open critical cases at night; fix the voice account as the reason says (docs/voice-calls.md).' },
  GROUP_ROBOT_OUTAGE: { from: 'system', systemProblem: true, meaning: 'The duty group\'s robot (DingTalk, WeCom) refuses every post or cannot be reached: the group does not see the cases; the SMS and calls are not affected.', action: 'Check the robot\'s webhook, its 加签 secret or keyword and its 20-posts-a-minute limit (docs/channels.md).' },
  GROUP_ROBOT_FAULT: { from: 'system', systemProblem: true, meaning: 'The robot of one or more villages\' duty groups refuses its posts (a wrong token or 加签 secret, a stopped robot, a dissolved group) or throttles them; the other villages\' groups, the SMS and the calls are not affected. The posts of those groups wait and go when the robot takes them again; after 45 minutes of it they are marked failed instead of waiting.', action: 'Fix the robot of the villages named (details.groups) in their group\'s settings, or its entry in KANJIA_DINGTALK_ROBOTS / KANJIA_WECOM_ROBOTS (docs/channels.md).' },
  TLS_CERT_EXPIRING: { from: 'system', systemProblem: true, meaning: 'The TLS certificate ends within 14 days or has ended; browsers and 4G devices over TLS will fail to connect.', action: 'Renew the certificate (it is reloaded from disk without a restart).' },

  // --- server ---
  SETTINGS_INVALID: { from: 'server', meaning: 'kanjia start: one or more settings are wrong; the message lists every problem.', action: 'Fix the KANJIA_* variables or the config file as listed.' },
  CLI_USAGE: { from: 'server', meaning: 'kanjia: an unknown command or a bad option (exit code 2).', action: 'kanjia help lists the commands and options.' },
  OUT_FILE_EXISTS: { from: 'server', meaning: '--out FILE names a file that exists already.', action: 'Choose another name, or add --force to replace it.' },
  OUT_FILE_NOT_WRITABLE: { from: 'server', meaning: '--out FILE cannot be created.', action: 'Choose a file in a directory you can write.' },
  TLS_FILE_UNREADABLE: { from: 'server', meaning: 'KANJIA_TLS_CERT or KANJIA_TLS_KEY names a file that is missing or cannot be read.', action: 'Check the path and that the Kanjia user may read it.' },
  TLS_NOT_A_CERTIFICATE: { from: 'server', meaning: 'KANJIA_TLS_CERT is not a PEM certificate.', action: 'Point it at the certificate with its chain (e.g. fullchain.pem).' },
  TLS_NOT_A_KEY: { from: 'server', meaning: 'KANJIA_TLS_KEY is not an unencrypted PEM private key.', action: 'Point it at the private key (e.g. privkey.pem), without a passphrase.' },
  TLS_KEY_MISMATCH: { from: 'server', meaning: 'The TLS key does not belong to the certificate.', action: 'Use the key the certificate was issued for.' },
  TLS_CERT_EXPIRED: { from: 'server', meaning: 'The TLS certificate has ended (or is not valid yet).', action: 'Renew it.' },

  // --- dashboard ---
  NETWORK: { from: 'dashboard', meaning: 'The browser could not reach the server.', action: 'Check the network; phone the helpers directly if an alarm is waiting.' },
  TIMEOUT: { from: 'dashboard', meaning: 'The server did not answer within 15 s.', action: 'Try again; if it lasts, check the server and /api/health.' },
  BAD_RESPONSE: { from: 'dashboard', meaning: 'The server’s answer does not match the API this dashboard knows.', action: 'Reload the page (the dashboard may be older than the server).' },

  // --- gateway ---
  GATEWAY_CONFIG: { from: 'gateway', meaning: 'The gateway’s options are unusable (a port, a limit).', action: 'Fix the MQTT settings as the message says.' },
  GATEWAY_NOT_RUNNING: { from: 'gateway', meaning: 'A command was sent before the gateway started or after it stopped.', action: 'None during shutdown; otherwise a bug.' },
  GATEWAY_ALREADY_STARTED: { from: 'gateway', meaning: 'start() was called twice.', action: 'A bug: report it.' },
  INVALID_DEVICE_ID: { from: 'gateway', meaning: 'A device id that cannot be a topic segment.', action: 'Use the device id the registry gave.' },
  INVALID_COMMAND: { from: 'gateway', meaning: 'A command to a device does not satisfy MQTT contract v1.', action: 'A bug: report it with the message.' },
  GATEWAY_PUBLISH_FAILED: { from: 'gateway', meaning: 'The broker refused a command to a device.', action: 'Look at the gateway log; the command is resent while it is due.' },

  // --- sim ---
  INVALID_OPTIONS: { from: 'sim', meaning: 'An option passed to a simulated device is unusable (bad device id, interval ≤ 0, …).', action: 'Fix the option as the message says.' },
  INVALID_PAYLOAD: { from: 'sim', meaning: 'A payload the simulator was asked to send does not satisfy MQTT contract v1.', action: 'Fix the payload (docs/protocol.md).' },
  NOT_STARTED: { from: 'sim', meaning: 'A simulated device was used before start().', action: 'Call start() first.' },
  ALREADY_STARTED: { from: 'sim', meaning: 'A simulated device’s start() was called twice.', action: 'Call it once.' },
  STOPPED: { from: 'sim', meaning: 'The simulated device was stopped; pending acknowledgements will never arrive.', action: 'None: expected after stop().' },
  AUTH_REFUSED: { from: 'sim', meaning: 'The broker refused the device’s id or secret (CONNACK 4 or 5; kanjia sim exits 3).', action: 'Use the secret kanjia import printed for this device.' },
  CONNECT_REFUSED: { from: 'sim', meaning: 'The broker refused the connection for another reason (CONNACK 1–3).', action: 'Check the URL and the broker’s log.' },
  SUBSCRIBE_REFUSED: { from: 'sim', meaning: 'The broker refused the device’s subscription to its commands topic.', action: 'Check that the device subscribes to its own topic only.' },
  SIM_PUBLISH_FAILED: { from: 'sim', meaning: 'A QoS 1 publish of the simulated device failed (the connection closed before PUBACK and the client was ended).', action: 'Check the broker; the device resends what was not acknowledged.' },
  NO_SUCH_DEVICE: { from: 'sim', meaning: 'The simulated household has no device of the kind asked for.', action: 'Register the device, or choose one the household has.' },
  NO_LONGER_TRACKED: { from: 'sim', meaning: 'The device stopped tracking an event before its taken came (too many events awaiting it).', action: 'Await fewer events at once.' },
  SIM_USAGE: { from: 'sim', meaning: 'kanjia sim: a bad command line or credentials file (exit code 2).', action: 'kanjia sim --help lists the options.' },
  INCIDENT_SPEC_INVALID: { from: 'sim', meaning: '--incident: the incident spec cannot be read (the message lists every problem).', action: 'Write it as kind@when[,key=value…] (kanjia sim --help).' },
  DATASET_NOT_FOUND: { from: 'sim', meaning: 'The fall dataset file does not exist.', action: 'Check the path.' },
  DATASET_UNREADABLE: { from: 'sim', meaning: 'The fall dataset file cannot be read or decompressed.', action: 'Check the file (gzip JSON Lines, datasets/FORMAT.md).' },
  DATASET_INVALID_LINE: { from: 'sim', meaning: 'A line of the fall dataset is not a valid trial (the message gives the line).', action: 'Fix the line, or pass --skip-invalid.' },
  DATASET_DUPLICATE_ID: { from: 'sim', meaning: 'Two trials of the fall dataset share an id.', action: 'Make the ids unique.' },
  WINDOWING_INVALID_OPTIONS: { from: 'sim', meaning: 'The accel window options are unusable (window length, rate).', action: 'Fix --window-ms as the message says.' },
  REPLAY_INVALID_OPTIONS: { from: 'sim', meaning: 'The options of a trial replay are unusable.', action: 'Fix them as the message says.' },
  REPLAY_FAILED: { from: 'sim', meaning: 'A trial replay over MQTT failed (the message has the cause).', action: 'Check the broker and the device’s credentials.' },
  REPLAY_ABORTED: { from: 'sim', meaning: 'A trial replay was aborted by its caller.', action: 'None: expected when aborted.' },
  EVENT_LOG_UNREADABLE: { from: 'sim', meaning: 'A recorded home’s event log cannot be opened or decompressed.', action: 'Check the file.' },
  EVENT_LOG_EMPTY: { from: 'sim', meaning: 'The event log has no header line.', action: 'Check the file (EVENTS-FORMAT.md).' },
  EVENT_LOG_BAD_HEADER: { from: 'sim', meaning: 'The event log’s first line is not a valid header.', action: 'Fix the header (EVENTS-FORMAT.md).' },
  EVENT_LOG_BAD_EVENT: { from: 'sim', meaning: 'An event line of the log is not valid JSON or not a valid event (the message gives the line).', action: 'Fix the line.' },
  EVENT_LOG_UNKNOWN_SENSOR: { from: 'sim', meaning: 'An event names a sensor the header does not list.', action: 'Add the sensor to the header.' },

  // --- detection ---
  FALL_CONFIG_INVALID: { from: 'detection', meaning: 'The fall detector’s settings are unusable (the message lists every problem).', action: 'Fix the settings as listed.' },
  MONITOR_BAD_TIME_ZONE: { from: 'detection', meaning: 'A monitor was given a time zone that is not an IANA zone.', action: 'Use a zone such as Asia/Shanghai.' },
  MONITOR_BAD_TIME_OF_DAY: { from: 'detection', meaning: 'A monitor was given a time of day that is not HH:mm.', action: 'Fix the time.' },
  MONITOR_BAD_WINDOW: { from: 'detection', meaning: 'A check-in window is empty or inverted.', action: 'Fix the window.' },
  MONITOR_BAD_DURATION: { from: 'detection', meaning: 'A monitor was given a duration that is not a positive number of ms.', action: 'Fix the duration.' },
  MONITOR_NO_DEVICES: { from: 'detection', meaning: 'A monitor was registered with no devices.', action: 'Give it the resident’s devices.' },
  MONITOR_BAD_THRESHOLD: { from: 'detection', meaning: 'An environment threshold is unusable.', action: 'Fix the threshold.' },
  INVALID_CONFIG: { from: 'detection', meaning: 'The inactivity monitor’s settings are unusable (the message lists every problem).', action: 'Fix the settings as listed.' },
  INVALID_TIME_ZONE: { from: 'detection', meaning: 'The inactivity monitor was given a time zone that is not an IANA zone.', action: 'Use a zone such as Asia/Shanghai.' },
  INVALID_STATE: { from: 'detection', meaning: 'The inactivity monitor’s saved state cannot be read.', action: 'It learns again from scratch; report the message.' },
  NO_DEVICES: { from: 'detection', meaning: 'The inactivity monitor was registered with no devices.', action: 'Give it the resident’s devices.' },

  // --- eval ---
  EVAL_USAGE: { from: 'eval', meaning: 'kanjia eval-falls / eval-inactivity: a bad command line.', action: 'Run the command with --help.' },
  EVAL_LOGS_UNREADABLE: { from: 'eval', meaning: 'The folder of recorded homes cannot be read.', action: 'Check the path.' },
  EVAL_LOGS_EMPTY: { from: 'eval', meaning: 'The folder of recorded homes has no *.jsonl or *.jsonl.gz file.', action: 'Point --logs at the recordings.' },
} as const satisfies Record<string, ErrorCatalogEntry>;

type Catalog = typeof ERROR_CATALOG;
/** Every stable error code of Kanjia. */
export type ErrorCode = keyof Catalog;
/** The codes of one source (a section of docs/errors.md). */
export type ErrorCodeFrom<S extends ErrorSource> = { [K in ErrorCode]: Catalog[K]['from'] extends S ? K : never }[ErrorCode];
/** The codes the REST API (and the live feed's handshake) can answer: those with an HTTP status. */
export type ApiErrorCode = { [K in ErrorCode]: Catalog[K] extends { status: number } ? K : never }[ErrorCode];
/** Codes the dashboard makes itself (no answer, a timeout, an answer it cannot read). */
export type DashboardErrorCode = ErrorCodeFrom<'dashboard'>;
/** A union of catalog codes, checked: `CatalogCodes<'A' | 'TYPO'>` fails the type check. */
export type CatalogCodes<C extends ErrorCode> = C;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];
export const API_ERROR_CODES = ERROR_CODES.filter((c): c is ApiErrorCode => 'status' in ERROR_CATALOG[c]) as [ApiErrorCode, ...ApiErrorCode[]];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(ERROR_CATALOG, value);
}

/** Whether `value` is a code the REST API answers with (false for a newer server's code this build does not know). */
export function isApiErrorCode(value: unknown): value is ApiErrorCode {
  return isErrorCode(value) && 'status' in ERROR_CATALOG[value];
}

/** The HTTP status the API answers `code` with. */
export function apiErrorStatus(code: ApiErrorCode): number {
  return (ERROR_CATALOG[code] as { status: number }).status;
}

/**
 * The body of every 4xx/5xx answer. `code` is one of the catalog's API codes
 * (the server's answers are checked against it). A client reading answers
 * should use ApiErrorAnswer instead: a newer server may answer a code this
 * build does not know yet, and that must still show (as a generic sentence
 * with the code), not fail as a malformed answer.
 */
export const ApiError = z.object({ code: z.enum(API_ERROR_CODES), message: z.string() });
export type ApiError = z.infer<typeof ApiError>;

/** ApiError as a client reads it: any code (see ApiError); narrow with isApiErrorCode. */
export const ApiErrorAnswer = z.object({ code: z.string().min(1).max(100), message: z.string() });
export type ApiErrorAnswer = z.infer<typeof ApiErrorAnswer>;

const BRAND = Symbol.for('kanjia.error');

/**
 * The base of every Kanjia error: a stable `code` from the catalog, a message
 * for people, optional `details` for logs and machines, and the `cause`.
 * Subclasses set their own `name` and narrow `code`; they need no constructor
 * of their own unless they carry more. `C` is a catalog code everywhere (use
 * CatalogCodes<…>) except the dashboard's ApiRequestError, which carries what a
 * possibly newer server answered. `instanceof KanjiaError` holds across
 * packages, even when two copies of this module are loaded (a brand, not the
 * prototype chain, answers it).
 */
export class KanjiaError<C extends string = ErrorCode> extends Error {
  override name = 'KanjiaError';
  readonly code: C;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: C, message: string, options?: { details?: Readonly<Record<string, unknown>>; cause?: unknown }) {
    super(message, options && 'cause' in options ? { cause: options.cause } : undefined);
    this.code = code;
    this.details = options?.details;
    Object.defineProperty(this, BRAND, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses keep the ordinary prototype check; only the base is answered by the brand.
    if (this !== KanjiaError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
