/**
 * The composition root: opens the database, starts the MQTT gateway, the
 * outbox, the escalation scheduler, the HTTP API and the live feed, and wires
 * them together. One process, embedded broker, SQLite: a township on one
 * small machine (DESIGN.md "From one village to a province").
 */
import {
  AliyunSmsSender,
  AliyunVoiceCaller,
  ChannelOutbox,
  ConsoleVoiceCaller,
  ConsoleGroupChannel,
  ConsoleSmsSender,
  DingTalkRobotChannel,
  TwilioSmsSender,
  WeComRobotChannel,
  DEFAULT_GROUP_KEY,
  DEFAULT_OUTAGE_PROBE,
  DeliveryTracker,
  DueScheduler,
  defaultPolicies,
  EscalationScheduler,
  type ChannelFault,
  type ChannelMedium,
  type ChannelPlan,
  type NoticeChannel,
  type SmsOutage,
  type SmsNoticeSender,
  type SmsSender,
  sendsNotices,
} from '@kanjia/alerts';
import { Batcher, Gateway, PresenceDebouncer, type UplinkMessage } from '@kanjia/gateway';
import { systemClock, type Clock, type DeviceStatus, type SystemProblemCode, type TimerHandle } from '@kanjia/protocol';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { createRequire } from 'node:module';
import type { Server as TlsServer } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { AlarmService } from './alarms/alarm-service.js';
import { SqliteAlarmStore } from './alarms/alarm-store.js';
import { aliyunVoiceCallerSettings, SettingsError, trustProxyOption, trustProxyWarning, type Settings } from './config.js';
import { CertificateWatcher, loadCertificate, TlsError, type LoadedCertificate } from './tls.js';
import { openDatabase, SERVER_BUSY_TIMEOUT_MS, type Db } from './db/database.js';
import { explainStartError, storageFault } from './db/storage-errors.js';
import { probeWrite, StorageGuard, type DurableWrites } from './db/storage-guard.js';
import { databaseFile, loadDeviceKey, lockDataDir } from './device-key.js';
import { makePrivateDir, securePrivateTree } from './private-files.js';
import { SqliteAuditLog } from './auth/audit-log.js';
import { SqliteUserStore } from './auth/user-store.js';
import { buildApp } from './http/app.js';
import { sessionFromCookie } from './http/auth-plugin.js';
import { SocketIoLiveFeed } from './http/live-feed.js';
import { originAllowed, originOf, proxyTrust, rawRequestHost, rawRequestOrigin } from './http/origin.js';
import { AllowedHosts, refusedHostLog } from './http/hosts.js';
import { STATIC_SECURITY_HEADERS } from './http/security-headers.js';
import { createLogger, type Logger } from './logger.js';
import { DetectionPipeline } from './pipeline/detection-pipeline.js';
import { SqliteTelemetryStore } from './pipeline/telemetry-store.js';
import { SQLITE_TELEMETRY_WINDOW_WITH_TSDB_MS, TimeSeriesTelemetry } from './telemetry/time-series.js';
import { DEFAULT_ACTIVITY_RETENTION_MS, SqliteActivityLog } from './pipeline/activity-log.js';
import { SqliteDeviceHistory } from './registry/device-history.js';
import { SqliteTownshipStore } from './township/township-store.js';
import { SqliteVisitReminderStore } from './township/visit-reminder-store.js';
import { VisitReminders } from './township/visit-reminders.js';
import { SqliteRegistryStore } from './registry/registry-store.js';
import { HouseholdMap } from './map/household-map.js';
import { MapPlanStore } from './map/map-plans.js';
import { mapTiles } from './map/map-tiles.js';
import { SystemHealth } from './system-health.js';
import { KanjiaMetrics } from './metrics/metrics.js';
import { MetricsListener, metricsRoutes, openMetricsListener } from './metrics/metrics-http.js';
import { SqliteMetricsQueries } from './metrics/metrics-queries.js';
import { timeTransactions } from './metrics/sqlite-timing.js';

const require = createRequire(import.meta.url);
export const VERSION = (require('../package.json') as { version: string }).version;
const DEFAULT_DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/dist', import.meta.url));
/** Device statuses handed on together within this, ms (gateway Batcher): the battery writes of a reconnect storm share their commits. */
const STATUS_BATCH_MS = 100;
/** …and handled at most this many per turn of the event loop (one grouped commit each), so an SOS meanwhile waits for 64, not a storm's 1,000. */
const STATUS_PER_TURN = 64;

export interface SystemOptions {
  settings: Settings;
  clock?: Clock;
  logger?: Logger;
  /** Replaces the sender chosen by the settings (tests, demo). */
  smsSender?: SmsSender;
  /**
   * Channels besides the primary SMS one, in their place on every route (tests):
   * replaces those the settings choose of the same medium.
   */
  channels?: { sms?: NoticeChannel[]; voice?: NoticeChannel; group?: NoticeChannel };
  dashboardDir?: string;
  /** Sees every HTTP route as it is registered (the route walk test). */
  onRoute?: (route: RouteOptions) => void;
  /** How long the start waits for another process's lock on the database before it gives up (default 10 s). */
  storageLockWaitMs?: number;
}

export interface RunningSystem {
  httpUrl: string;
  /** Where devices connect: plain MQTT, or MQTT over TLS when plain is off. */
  mqttUrl: string;
  httpPort: number;
  /** 0 when plain MQTT is off. */
  mqttPort: number;
  /** MQTT over TLS, when a certificate is set. */
  mqttsPort?: number;
  mqttsUrl?: string;
  /** The separate metrics listener's URL (KANJIA_METRICS_ADDRESS), when set. */
  metricsUrl?: string;
}

export class KanjiaSystem {
  readonly logger: Logger;
  private readonly clock: Clock;
  private db: Db | undefined;
  private gateway: Gateway | undefined;
  private app: FastifyInstance | undefined;
  private feed: SocketIoLiveFeed | undefined;
  private outbox: ChannelOutbox | undefined;
  private escalation: EscalationScheduler | undefined;
  /** Moves notices to their next channel, and marks SMS past their delivery deadline (routing.ts). */
  private routes: DueScheduler | undefined;
  /** Asks the providers for delivery receipts. */
  private receipts: DeliveryTracker | undefined;
  private pipeline: DetectionPipeline | undefined;
  private activity: SqliteActivityLog | undefined;
  private telemetry: SqliteTelemetryStore | undefined;
  /** The time-series database, when KANJIA_INFLUX_URL is set. */
  tsdb: TimeSeriesTelemetry | undefined;
  private householdMap: HouseholdMap | undefined;
  private presence: PresenceDebouncer | undefined;
  private statusBatch: Batcher<{ deviceId: string; status: DeviceStatus; atMs: number }> | undefined;
  private ready = false;
  private releaseLock: (() => void) | undefined;
  private startedAt = 0;
  /** Fixed part of the answer links, from the settings or the bound HTTP port. */
  private publicUrl: string | undefined;
  private stopping: Promise<void> | undefined;
  private pruneTimer: TimerHandle | undefined;
  private certificateWatcher: CertificateWatcher | undefined;
  alarmStore: SqliteAlarmStore | undefined;
  registry: SqliteRegistryStore | undefined;
  /** Person records' history, leaving, visits (docs/township.md). */
  township: SqliteTownshipStore | undefined;
  alarmService: AlarmService | undefined;
  /** The evening SMS to helpers whose visits are due tomorrow (KANJIA_VISIT_REMINDER_HOUR; docs/township.md). */
  visitReminders: VisitReminders | undefined;
  visitReminderStore: SqliteVisitReminderStore | undefined;
  users: SqliteUserStore | undefined;
  /** The system's own problems (SMS provider, storage): /api/health and the dashboard's banner. */
  systemHealth: SystemHealth | undefined;
  /** Writes kept and retried while the database is locked or full; the STORAGE_WRITE_FAILED problem. */
  storage: StorageGuard | undefined;
  /** The Prometheus figures of /metrics (metrics/metrics.ts). */
  metrics: KanjiaMetrics | undefined;
  private metricsListener: MetricsListener | undefined;

  /** The open database (tests simulate a full disk on it with max_page_count). */
  get database(): Db | undefined {
    return this.db;
  }

  /** The notification outbox, one worker per channel (tests wait for it: `outboxWorker?.idle()`). */
  get outboxWorker(): ChannelOutbox | undefined {
    return this.outbox;
  }

  /** The delivery receipts' tracker (tests wait for it). */
  get deliveryTracker(): DeliveryTracker | undefined {
    return this.receipts;
  }

  constructor(private readonly options: SystemOptions) {
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger ?? createLogger(options.settings.logLevel);
  }

  /** Starts everything; on failure stops what did start and throws a message an operator can act on. */
  async start(): Promise<RunningSystem> {
    try {
      return await this.startAll();
    } catch (err) {
      await this.stop().catch(() => undefined);
      // A certificate that cannot be used is a setting to fix, listed like the others.
      if (err instanceof TlsError) throw new SettingsError([`${err.message} (${err.code})`]);
      const e = err as NodeJS.ErrnoException & { port?: number };
      if (e.code === 'EADDRINUSE') {
        const { settings } = this.options;
        const which = e.port === settings.mqttPort ? 'KANJIA_MQTT_PORT' : settings.tlsCert !== undefined && e.port === settings.mqttsPort ? 'KANJIA_MQTTS_PORT' : 'KANJIA_HTTP_PORT';
        throw new Error(`port ${e.port ?? '?'} is already in use (is Kanjia already running?); choose another with ${which}`);
      }
      throw err;
    }
  }

  private async startAll(): Promise<RunningSystem> {
    const { settings } = this.options;
    const log = this.logger;
    this.startedAt = this.clock.nowMs();
    // First: a certificate that cannot be used stops the start before anything is opened.
    const certificate = settings.tlsCert !== undefined && settings.tlsKey !== undefined ? loadCertificate(settings.tlsCert, settings.tlsKey, this.clock.nowMs()) : undefined;
    for (const warning of certificate?.warnings ?? []) log.warn({ certFile: settings.tlsCert }, warning);
    const health = new SystemHealth(this.clock, log.child({ component: 'health' }));
    this.systemHealth = health;
    const metrics = new KanjiaMetrics({ version: VERSION, onCollectError: (source, err) => log.warn({ err, source }, 'metrics: a figure could not be read; left out of this scrape') });
    this.metrics = metrics;
    const { deviceKey, db, storage } = await this.openStorage(health);
    const metricQueries = new SqliteMetricsQueries(db);
    const registry = new SqliteRegistryStore(db, deviceKey, () => this.clock.nowMs(), settings.timezone);
    // The township's person records, their history and visits (docs/township.md).
    const township = new SqliteTownshipStore(db, registry, () => this.clock.nowMs(), { ordinary: settings.visitFrequencyOrdinary, especiallyDifficult: settings.visitFrequencyEspeciallyDifficult });
    for (const f of township.openMissedFollowUps()) log.warn({ alarmId: f.alarmId, residentId: f.residentId, open: f.open }, 'follow-up visit opened at start: the case was resolved without one (a crash after the resolution)');
    // Every provider answer counted, and each accepted SMS's time since it was queued.
    const meter = <S extends SmsSender>(channel: S): S => metrics.meteredSender(channel, metricQueries.notificationQueuedAt, () => this.clock.nowMs());
    const sender = meter(asSmsChannel(this.options.smsSender ?? createSmsSender(settings, log.child({ component: 'sms' }))));
    const channels = createChannels(settings, this.options.channels, log, this.clock);
    // One village's robot refusing or throttled: named on the banner; the other groups go on (robot-gate.ts).
    channels.group?.watchFaults?.((faults) => {
      const problem = groupFaultProblem(channels.group?.name ?? 'group', faults, (id) => registry.village(id)?.name);
      if (problem) health.raise(problem);
      else health.clear('GROUP_ROBOT_FAULT');
    });
    const allChannels: NoticeChannel[] = [sender, ...channels.sms.map(meter), ...(channels.voice ? [meter(channels.voice)] : []), ...(channels.group ? [meter(channels.group)] : [])];
    const plan: ChannelPlan = {
      sms: [sender.name, ...channels.sms.map((c) => c.name)],
      ...(channels.voice ? { voice: channels.voice.name } : {}),
      ...(channels.group ? { group: channels.group.name } : {}),
      callAtNight: settings.voiceNight,
      callOnUnanswered: settings.voiceOnUnanswered,
      failoverAfterMs: { critical: settings.failoverCriticalSeconds * 1000, urgent: settings.failoverUrgentSeconds * 1000, maintenance: settings.failoverMaintenanceSeconds * 1000 },
      deliveryDeadlineMs: settings.deliveryDeadlineSeconds * 1000,
    };
    const media: Record<string, ChannelMedium> = Object.fromEntries(allChannels.map((c) => [c.name, c.medium]));
    const alarmStore = new SqliteAlarmStore(db, registry, {
      policies: defaultPolicies(settings.escalationTimeoutSeconds * 1000),
      locale: settings.locale,
      channel: sender.name,
      plan,
      media,
      receipts: new Set(allChannels.filter((c) => c.queryDelivery !== undefined).map((c) => c.name)),
      bundleWindowMs: settings.smsBundleWindowSeconds * 1000,
      // Known once the HTTP port is bound (port 0 in tests): until then no SMS is rendered.
      publicUrl: () => this.publicUrl ?? publicUrlOf(settings, settings.httpPort),
      ...(settings.aliyun ? { signName: settings.aliyun.signName } : {}),
    });
    this.registry = registry;
    this.township = township;
    this.alarmStore = alarmStore;

    const users = new SqliteUserStore(db, () => this.clock.nowMs());
    const audit = new SqliteAuditLog(db, () => this.clock.nowMs());
    this.users = users;
    const trustsProxy = proxyTrust(trustProxyOption(settings.trustProxy));
    const allowedHosts = new AllowedHosts({ extra: settings.allowedHosts, httpHost: settings.httpHost, publicUrl: settings.publicUrl, nowMs: () => this.clock.nowMs() });
    const logRefusedHost = refusedHostLog(log.child({ component: 'http' }), () => this.clock.nowMs());
    const feed = new SocketIoLiveFeed({
      hostAllowed: (request) => {
        const host = rawRequestHost(request, trustsProxy);
        if (allowedHosts.allows(host)) return true;
        logRefusedHost(host, 'live feed', request.socket.remoteAddress);
        return false;
      },
      responseHeaders: STATIC_SECURITY_HEADERS,
      authenticate: (cookie) => sessionFromCookie(users, cookie),
      sessionScope: (key) => users.sessionByKey(key, false)?.user,
      originAllowed: (origin, request) => originAllowed(origin, rawRequestOrigin(request, trustsProxy), originOf(settings.publicUrl)),
      locateDevice: (deviceId) => registry.deviceContext(deviceId),
      systemProblems: () => health.problems(),
      clock: this.clock,
    });
    this.feed = feed;
    health.onChange((problems) => feed.systemHealth(problems));
    const gateway = new Gateway({
      port: settings.mqttPort,
      host: settings.mqttHost,
      plain: settings.mqttPlain,
      ...(certificate ? { tls: { port: settings.mqttsPort, cert: certificate.cert, key: certificate.key } } : {}),
      authenticator: { verify: (deviceId, secret) => registry.verifyDevice(deviceId, secret) },
      clock: this.clock,
      logger: log.child({ component: 'gateway' }),
      ...(settings.mqttConnectsPerSecond !== undefined ? { connectRateLimit: { connects: settings.mqttConnectsPerSecond, perMs: 1_000 } } : {}),
      ...(settings.mqttConnectWaitMs !== undefined ? { connectWaitMs: settings.mqttConnectWaitMs } : {}),
      ...(settings.mqttInFlightUplinks !== undefined || settings.mqttInFlightPerConnection !== undefined
        ? { inFlightUplinks: { total: settings.mqttInFlightUplinks ?? 1_000, perConnection: settings.mqttInFlightPerConnection ?? 16 } }
        : {}),
    });
    this.gateway = gateway;
    metrics.countUplinks(gateway);

    // The service needs the outbox and the scheduler, which report back to the service.
    let service: AlarmService | undefined;
    const outbox = new ChannelOutbox({
      // What the provider answered is recorded through the durable writes: grouped with the other writes of the
      // moment (one commit for many SMS), and kept while the database is locked or full (else the row stays
      // "sending"). The worker waits for each to land before it tells the dashboard and sends the next.
      store: withDurableResults(alarmStore, storage, ['markNotificationSent', 'markNotificationRetry', 'markNotificationFailed', 'markNotificationHeld']),
      channels: allChannels,
      clock: this.clock,
      logger: log.child({ component: 'outbox' }),
      outageProbe: { initialDelayMs: DEFAULT_OUTAGE_PROBE.initialDelayMs, maxDelayMs: settings.smsOutageProbeMaxSeconds * 1000 },
      onChange: (alarmId) => {
        service?.alarmsChanged([alarmId]);
        // A failed SMS may have made the next escalation due now; a sent one, later.
        escalation.reschedule();
        // A notice moved to another channel has a new failover time; a sent one waits for its receipt.
        routes.reschedule();
        receipts.kick();
      },
      onOutage: (channel) => {
        const problem = outageProblem(channel.medium, outbox.outages(), media, plan);
        if (problem) health.raise(problem);
        else health.clear(OUTAGE_CODES[channel.medium]);
      },
    });
    const routes = new DueScheduler({
      work: { runDue: (nowMs) => alarmStore.sweepRoutes(nowMs), nextDueAt: () => alarmStore.nextRouteSweepAt() },
      clock: this.clock,
      logger: log.child({ component: 'routes' }),
      doneMessage: 'notices moved to their next channel, or not delivered in time',
      onDone: (ids) => {
        outbox.kickSoon();
        escalation.reschedule();
        service?.alarmsChanged(ids);
      },
    });
    const receipts = new DeliveryTracker({
      store: withDurableResults(alarmStore, storage, ['recordDelivery']),
      channels: allChannels,
      clock: this.clock,
      logger: log.child({ component: 'receipts' }),
      onChange: (alarmId) => {
        service?.alarmsChanged([alarmId]);
        escalation.reschedule();
        routes.reschedule();
      },
    });
    this.routes = routes;
    this.receipts = receipts;
    const escalation = new EscalationScheduler({
      store: alarmStore,
      clock: this.clock,
      logger: log.child({ component: 'escalation' }),
      onEscalated: (ids) => {
        outbox.kick();
        service?.alarmsChanged(ids);
      },
    });
    this.outbox = outbox;
    this.escalation = escalation;
    // The map follows every case change the live feed sends.
    let householdMap: HouseholdMap | undefined;
    const mapFeed = {
      alarmChanged: (alarm: Parameters<SocketIoLiveFeed['alarmChanged']>[0]) => {
        feed.alarmChanged(alarm);
        householdMap?.alarmChanged(alarm);
      },
      // The count of a stuck button changes nothing on the map.
      alarmRepeated: (alarm: Parameters<SocketIoLiveFeed['alarmRepeated']>[0]) => feed.alarmRepeated(alarm),
      devicePresence: (deviceId: string, online: boolean, atMs: number, unstable?: boolean) => feed.devicePresence(deviceId, online, atMs, unstable),
    };
    service = new AlarmService({ store: alarmStore, registry, commands: gateway, clock: this.clock, logger: log.child({ component: 'alarms' }), outbox, escalation, feed: mapFeed, writes: storage,
      // A resolved case asks for a follow-up visit within 24 hours (issue 11); a false alarm does not, as a cancelled one.
      onResolved: (alarm) => {
        if (alarm.resolvedAt !== null && alarm.outcome !== 'falseAlarm' && township.openFollowUp(alarm.id, alarm.resident.id, alarm.resolvedAt)) log.info({ alarmId: alarm.id, residentId: alarm.resident.id }, 'follow-up visit due within 24 hours');
      },
    });
    this.alarmService = service;
    const alarmService = service;

    // Telemetry (and the card's signs of life) also to a time-series database when one is configured.
    const tsdb = settings.influx ? new TimeSeriesTelemetry(settings.influx, settings.dataDir, registry, this.clock, log.child({ component: 'tsdb' })) : undefined;
    this.tsdb = tsdb;
    const activity = new SqliteActivityLog(
      db,
      this.clock,
      undefined,
      undefined,
      (err) => log.warn({ err, component: 'activity' }, 'could not write the activity counts; kept for the next minute'),
      tsdb ? (rows) => tsdb.activity(rows) : undefined,
    );
    this.activity = activity;
    const telemetry = new SqliteTelemetryStore(db, {
      // Batches in the world's time (fsyncs saved per real second); a simulated clock driven from timer to timer would stop at each one.
      clock: systemClock,
      writes: storage,
      ...(tsdb ? { retentionMs: SQLITE_TELEMETRY_WINDOW_WITH_TSDB_MS } : {}),
      onDropped: (rows, err) => log.warn({ err, rows, component: 'telemetry' }, 'the database cannot take the readings in time: giving up the oldest (the detectors saw them; counted until it writes again)'),
    });
    this.telemetry = telemetry;
    const deviceHistory = new SqliteDeviceHistory(db);
    const pipeline = new DetectionPipeline({
      activity,
      deviceHistory,
      db,
      registry,
      store: alarmStore,
      telemetry,
      commands: gateway,
      clock: this.clock,
      logger: log.child({ component: 'detection' }),
      fallGraceMs: settings.fallGraceSeconds * 1000,
      onAlarmsChanged: (ids) => {
        const tell = () => {
          alarmService.alarmsChanged(ids);
          outbox.kick();
          escalation.reschedule();
        };
        // A detector's write made inside a device event's transaction (a check-in press clearing a reminder's case
        // note, inside a grouped commit) has not committed yet: no SMS claimed and no case pushed before it has,
        // else a rollback would leave an SMS sent for a case that is not there. A microtask runs after the COMMIT.
        if (db.inTransaction) queueMicrotask(tell);
        else tell();
      },
      onWatchChanged: (residentIds) => householdMap?.residentsChanged(residentIds),
      writes: storage,
    });
    this.pipeline = pipeline;
    // What people see and what is stored follow presence calmed down: at most one
    // change per device every few seconds, `unstable` for a connection that keeps dropping.
    const presence = new PresenceDebouncer(this.clock, (p) => {
      try {
        alarmService.handlePresence(p.deviceId, p.online, p.atMs, p.firmware, p.batteryPct, p);
        if (p.stateChanged) pipeline.onPresence(p.deviceId, p.online, p.atMs, p.batteryPct);
        householdMap?.deviceChanged(p.deviceId);
      } catch (err) {
        log.error({ err, deviceId: p.deviceId }, 'presence change could not be handled');
      }
    });
    this.presence = presence;
    const watch = {
      residentWatch: (residentId: string) => pipeline.residentWatch(residentId),
      deviceProblem: (deviceId: string) => (presence.isUnstable(deviceId) ? ('unstable' as const) : pipeline.deviceProblem(deviceId)),
    };
    householdMap = new HouseholdMap({ db, watch, clock: this.clock, logger: log.child({ component: 'map' }), emit: (h) => feed.householdState(h) });
    this.householdMap = householdMap;
    const map = householdMap;
    alarmService.observeEvents(pipeline);

    const statusBatch = new Batcher<{ deviceId: string; status: DeviceStatus; atMs: number }>(
      this.clock,
      (statuses) => {
        for (const s of statuses) {
          try {
            pipeline.onStatus(s.deviceId, s.status, s.atMs);
          } catch (err) {
            log.error({ err, deviceId: s.deviceId }, 'device status could not be handled');
          }
        }
      },
      STATUS_BATCH_MS,
      STATUS_PER_TURN,
    );
    this.statusBatch = statusBatch;
    // The device's clock may be wrong: detectors run on the time the server received the message.
    gateway.onUplink((msg: UplinkMessage) => {
      switch (msg.value.channel) {
        case 'events':
          return alarmService.handleEvent(msg.deviceId, msg.value.payload);
        case 'telemetry':
          tsdb?.reading(msg.deviceId, msg.receivedAtMs, msg.value.payload.readings);
          return pipeline.onTelemetry(msg.deviceId, msg.value.payload, msg.receivedAtMs);
        case 'accel':
          return pipeline.onAccel(msg.deviceId, msg.value.payload, msg.receivedAtMs);
        case 'status':
          // Presence changes come through onPresence; a repeated `online` is the device's heartbeat
          // (its battery level written to the device's history: batched as presence is, one commit for a storm's many).
          return statusBatch.add({ deviceId: msg.deviceId, status: msg.value.payload, atMs: msg.receivedAtMs });
      }
    });
    gateway.onPresence((p) => {
      // Commands waiting for a device that is back go at once, debounced or not.
      if (p.online) alarmService.flushCommands(p.deviceId);
      presence.change(p);
    });

    const app = await buildApp({
      alarms: alarmService,
      store: alarmStore,
      logger: log,
      version: VERSION,
      dashboardDir: this.options.dashboardDir ?? DEFAULT_DASHBOARD_DIR,
      ...(this.options.onRoute ? { onRoute: this.options.onRoute } : {}),
      // Served as https behind a proxy that does not say so: the public address tells.
      auth: { users, audit, nowMs: () => this.clock.nowMs(), onSessionEnded: (key) => feed.endSession(key), ...(settings.publicUrl ? { publicUrl: settings.publicUrl } : {}) },
      trustProxy: trustProxyOption(settings.trustProxy),
      httpLimits: { maxConnections: settings.httpMaxConnections },
      ...(certificate ? { tls: { cert: certificate.cert, key: certificate.key } } : {}),
      hosts: { allowed: allowedHosts, onRefused: (host, address) => logRefusedHost(host, 'http', address) },
      residentVillage: (residentId) => registry.residentContext(residentId)?.villageId,
      answer: { alarms: alarmService, store: alarmStore, clock: this.clock, audit },
      ...(settings.aliyunVoice?.receiptToken && settings.voiceProvider === 'aliyun'
        ? {
            voiceReceipts: {
              token: settings.aliyunVoice.receiptToken,
              channel: 'aliyun-voice',
              alarms: alarmService,
              store: alarmStore,
              clock: this.clock,
              audit,
              locale: settings.locale,
              onChange: (alarmId: string) => {
                alarmService.alarmsChanged([alarmId]);
                this.escalation?.reschedule();
                this.routes?.reschedule();
              },
            },
          }
        : {}),
      setAway: (residentId, away, by, note) => {
        const result = registry.setAway(residentId, away, this.clock.nowMs());
        if (result) {
          pipeline.setAway(residentId, away, this.clock.nowMs());
          map.awayChanged(residentId, result.away);
          log.info({ residentId, away, by, note }, 'away mode changed');
        }
        return result;
      },
      registry: {
        registry,
        audit,
        alarms: alarmStore,
        activity: tsdb ? tsdb.chart(activity) : activity,
        deviceHistory,
        nowMs: () => this.clock.nowMs(),
        routineOf: (residentId, timeZone) => pipeline.routineOf(residentId, timeZone),
        registryChanged: (deviceIds) => pipeline.registryChanged(deviceIds),
        township,
      },
      township: {
        registry, township, audit, nowMs: () => this.clock.nowMs(), registryChanged: (deviceIds) => pipeline.registryChanged(deviceIds),
        // The visit reminders' outcome for the dashboard; startVisitReminders (below) makes the store and decides on or off.
        visitReminders: {
          reminders: (dueDate) => this.visitReminderStore?.reminders(dueDate) ?? [],
          state: () => {
            const hour = settings.visitReminderHour;
            if (hour === undefined) return { hour: null, off: 'notSet' };
            return sendsVisitReminders(sender) ? { hour, off: null } : { hour: null, off: 'noTemplate' };
          },
          timezone: settings.timezone,
        },
      },
      // A contact or resident changed: a helper's residents may have too.
      onRegistryWrite: () => feed.rescope(),
      spreadsheets: {
        registry, db, audit, township, nowMs: () => this.clock.nowMs(), timezone: settings.timezone,
        onImported: (deviceIds) => {
          feed.rescope();
          pipeline.registryChanged(deviceIds);
        },
      },
      reports: { db, registry, frequencies: township.frequencies, nowMs: () => this.clock.nowMs(), timezone: settings.timezone, audit },
      villages: () => registry.villages(),
      map: { households: map, plans: new MapPlanStore(db, settings.dataDir), tiles: mapTiles(settings), villages: () => registry.villages(), nowMs: () => this.clock.nowMs(), audit },
      stats: () => {
        const g = gateway.stats();
        return {
          startedAt: this.startedAt,
          gateway: g,
          notifications: alarmStore.notificationCounts(),
          devices: { registered: registry.counts().devices, online: registry.onlineDevices() },
          liveClients: feed.clientCount(),
        };
      },
      systemHealth: health,
      health: () => ({ ready: this.ready, database: this.db?.open === true, mqtt: this.gateway !== undefined && (this.gateway.port > 0 || (this.gateway.tlsPort ?? 0) > 0), outbox: this.outbox !== undefined }),
    });
    this.app = app;
    await app.register(metricsRoutes, { metrics, token: settings.metricsToken });
    metrics.collectFrom({
      gateway: () => gateway.stats(),
      outbox: () => outbox.stats,
      store: metricQueries,
      storage: () => ({ queued: storage.queued(), failedWrites: storage.failedWrites }),
      health: () => ({ problems: health.problems(), unhealthy: health.unhealthy() }),
      ready: () => this.ready,
      liveClients: () => feed.clientCount(),
      ...(tsdb ? { tsdb: () => tsdb.stats() } : {}),
    });

    // What an earlier run buffered for the time-series database is sent first.
    await tsdb?.start(() => activity.writtenSince(this.clock.nowMs() - DEFAULT_ACTIVITY_RETENTION_MS));
    const { port: mqttPort, tlsPort: mqttsPort } = await gateway.start();
    await app.listen({ port: settings.httpPort, host: settings.httpHost });
    feed.attach(app.server);
    const metricsUrl = settings.metricsAddress && (await openMetricsListener({ metrics, address: settings.metricsAddress, token: settings.metricsToken, logger: log.child({ component: 'metrics' }), opened: (l) => (this.metricsListener = l) }));
    if (certificate && settings.tlsCert !== undefined && settings.tlsKey !== undefined) this.watchCertificate(settings.tlsCert, settings.tlsKey, certificate, gateway, app);
    // Then the outbox (what a crash left unsent goes out now) and the escalation timers. A notice queued on a
    // channel this configuration no longer has goes on to one it has.
    const adopted = alarmStore.adoptOrphanedNotifications(outbox.channelNames(), this.clock.nowMs());
    if (adopted > 0) log.warn({ adopted, channels: outbox.channelNames() }, 'notices queued on a channel that is no longer configured go by the next one');
    outbox.start();
    routes.start();
    receipts.start();
    // Commands a crash left unacknowledged go out as their devices come online.
    alarmService.start();
    escalation.start();
    pipeline.start();
    activity.start();
    telemetry.start();
    map.start();
    this.startVisitReminders(db, registry, township, sender);
    const address = app.server.address();
    const httpPort = typeof address === 'object' && address ? address.port : settings.httpPort;
    this.publicUrl = publicUrlOf(settings, httpPort);
    if (settings.smsProvider !== 'console' && isLoopbackUrl(this.publicUrl)) {
      log.warn(
        { publicUrl: this.publicUrl },
        'the answer link in every SMS points at a loopback address that no phone can open: set KANJIA_PUBLIC_URL to the address phones reach this server at (it must match the registered SMS templates)',
      );
    }
    const proxyWarning = trustProxyWarning(settings.trustProxy);
    if (proxyWarning) log.warn({ trustProxy: settings.trustProxy }, proxyWarning);
    const consoleWarning = consoleSmsWarning(settings);
    if (consoleWarning) log.warn({ sms: 'console', httpHost: settings.httpHost }, consoleWarning);
    this.ready = true;
    const shown = (host: string) => (host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
    const mqttsUrl = mqttsPort === undefined ? undefined : `mqtts://${shown(settings.mqttHost)}:${mqttsPort}`;
    const running: RunningSystem = {
      httpPort,
      mqttPort,
      httpUrl: `${certificate ? 'https' : 'http'}://${shown(settings.httpHost)}:${httpPort}/`,
      mqttUrl: settings.mqttPlain || mqttsUrl === undefined ? `mqtt://${shown(settings.mqttHost)}:${mqttPort}` : mqttsUrl,
      ...(mqttsUrl !== undefined && mqttsPort !== undefined ? { mqttsPort, mqttsUrl } : {}),
      ...(metricsUrl ? { metricsUrl } : {}),
    };
    log.info({ ...running, publicUrl: this.publicUrl, sms: sender.name, channels: outbox.channelNames(), dataDir: settings.dataDir, allowedHosts: allowedHosts.list() }, 'kanjia ready');
    this.pruneAuth(users, audit);
    if (users.count() === 0) log.warn({ command: FIRST_ADMIN_COMMAND }, `no users yet: nobody can log in to the dashboard. Make the first admin with: ${FIRST_ADMIN_COMMAND}`);
    return running;
  }

  /**
   * The visit reminder (docs/township.md), when KANJIA_VISIT_REMINDER_HOUR is set: through the primary SMS sender,
   * which must have the template (Aliyun: KANJIA_ALIYUN_TEMPLATE_VISIT_REMINDER); else off, with one warning.
   */
  private startVisitReminders(db: Db, registry: SqliteRegistryStore, township: SqliteTownshipStore, sender: SmsSender): void {
    const { settings } = this.options;
    this.visitReminderStore = new SqliteVisitReminderStore(db, registry, township);
    if (settings.visitReminderHour === undefined) return;
    const log = this.logger.child({ component: 'visit-reminders' });
    if (!sendsVisitReminders(sender)) {
      log.warn(
        { sms: sender.name, hour: settings.visitReminderHour },
        sender.name === 'aliyun'
          ? 'the visit reminder is off: KANJIA_VISIT_REMINDER_HOUR is set, but Aliyun sends only registered templates: register the visitReminder template (docs/sms-templates.md) and set KANJIA_ALIYUN_TEMPLATE_VISIT_REMINDER'
          : `the visit reminder is off: the SMS sender ${sender.name} cannot send it`,
      );
      return;
    }
    this.visitReminders = new VisitReminders({
      store: this.visitReminderStore,
      sender,
      hour: settings.visitReminderHour,
      zones: () => registry.villages().map((v) => v.timezone),
      clock: this.clock,
      logger: log,
      locale: settings.locale,
      ...(settings.aliyun ? { signName: settings.aliyun.signName } : {}),
    });
    this.visitReminders.start();
  }

  /**
   * The data directory, private (0700, files 0600, wider modes fixed with a
   * warning each), locked for this process, and its database open, migrated
   * and shown to take a write. Another process's lock is waited out for
   * storageLockWaitMs; every failure is a StorageStartError naming the path
   * and what to do (read-only, full, not writable, locked).
   */
  private async openStorage(health: SystemHealth): Promise<{ deviceKey: Buffer; db: Db; storage: StorageGuard }> {
    const { settings } = this.options;
    const log = this.logger;
    const file = databaseFile(settings);
    const lockWaitMs = this.options.storageLockWaitMs ?? 10_000;
    try {
      makePrivateDir(settings.dataDir);
      this.releaseLock = lockDataDir(settings.dataDir);
      securePrivateTree(settings.dataDir, (fix) =>
        fix.error
          ? log.warn({ path: fix.path, mode: fix.oldMode }, `${fix.path} is readable by other users (mode ${fix.oldMode}) and could not be made private: ${fix.error}`)
          : log.warn({ path: fix.path, oldMode: fix.oldMode, mode: fix.newMode }, `${fix.path} was readable by other users (mode ${fix.oldMode}): made private (${fix.newMode})`),
      );
      const deviceKey = loadDeviceKey(settings);
      const waiting = () => log.warn({ file, waitMs: lockWaitMs }, 'the database is locked by another process: waiting for it before starting');
      const db = await retryWhileLocked(() => openDatabase(file, { busyTimeoutMs: SERVER_BUSY_TIMEOUT_MS }), lockWaitMs, waiting);
      this.db = db;
      // Before the storage guard makes its transaction function: its commits are timed too.
      if (this.metrics) timeTransactions(db, this.metrics.observeCommit);
      await retryWhileLocked(() => probeWrite(db), lockWaitMs, waiting);
      // Grouped commits: the events of one turn of the event loop share one transaction (one fsync).
      const storage = new StorageGuard({ db, file, health, logger: log.child({ component: 'storage' }), groupCommits: true });
      storage.start();
      this.storage = storage;
      return { deviceKey, db, storage };
    } catch (err) {
      throw explainStartError(err, settings.dataDir, file, lockWaitMs);
    }
  }

  /**
   * Drops ended sessions and old failed/refused login rows now and every
   * AUTH_PRUNE_EVERY_MS: a server that runs for months (or a flood of failed
   * logins) must not grow the database without end.
   */
  private pruneAuth(users: SqliteUserStore, audit: SqliteAuditLog): void {
    try {
      users.prune();
      const dropped = audit.pruneLoginNoise(LOGIN_NOISE_KEPT_MS);
      if (dropped > 0) this.logger.info({ dropped }, 'pruned old failed and refused login rows from the audit log');
    } catch (err) {
      this.logger.error({ err }, 'pruning sessions and the audit log failed; retrying in an hour');
    }
    this.pruneTimer = this.clock.setTimeout(() => this.pruneAuth(users, audit), AUTH_PRUNE_EVERY_MS);
  }

  /**
   * Serves a renewed certificate (the files changed on disk and pass the
   * checks) to new HTTPS and MQTT over TLS connections, without a restart.
   */
  private watchCertificate(certFile: string, keyFile: string, current: LoadedCertificate, gateway: Gateway, app: FastifyInstance): void {
    const server = app.server as unknown as TlsServer;
    this.certificateWatcher = new CertificateWatcher({
      certFile,
      keyFile,
      current,
      clock: this.clock,
      logger: this.logger.child({ component: 'tls' }),
      ...(this.systemHealth ? { health: this.systemHealth } : {}),
      onRenewed: (renewed) => {
        server.setSecureContext({ cert: renewed.cert, key: renewed.key });
        gateway.setTlsCertificate({ cert: renewed.cert, key: renewed.key });
      },
    });
    this.certificateWatcher.start();
  }

  /**
   * Closes the HTTP server: idle keep-alive connections at once (fastify), and
   * whatever a browser still holds open after HTTP_CLOSE_GRACE_MS, so a stop
   * never waits on a dashboard left open.
   */
  private async closeHttp(): Promise<void> {
    const app = this.app;
    if (!app) return;
    const force = setTimeout(() => {
      this.logger.warn({ graceMs: HTTP_CLOSE_GRACE_MS }, 'stopping: HTTP connections still open after the grace period are closed');
      app.server.closeAllConnections();
    }, HTTP_CLOSE_GRACE_MS);
    try {
      await app.close();
    } finally {
      clearTimeout(force);
    }
  }

  /** Stops everything this system started; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.ready = false;
      this.certificateWatcher?.stop();
      this.clock.clearTimeout(this.pruneTimer);
      this.pruneTimer = undefined;
      // Devices first: nothing new is acknowledged that the outbox would not text.
      await this.gateway?.stop();
      this.alarmService?.stop();
      // What it held (the last drops) is stored before the rest stops.
      this.presence?.stop();
      this.statusBatch?.stop();
      this.householdMap?.stop();
      this.pipeline?.stop();
      // After the pipeline: its last signs of life are written too.
      this.activity?.stop();
      this.telemetry?.stop();
      // What the time-series database did not take yet is on disk for the next start.
      await this.tsdb?.stop();
      this.escalation?.stop();
      await this.visitReminders?.stop();
      this.routes?.stop();
      await this.receipts?.stop();
      await this.outbox?.stop();
      await this.feed?.stop();
      await this.metricsListener?.stop();
      await this.closeHttp();
      // What waits for the database gets its last chance before the connection closes.
      this.storage?.stop();
      this.db?.close();
      this.releaseLock?.();
    })();
    return this.stopping;
  }
}

/** Runs `fn` until it does not fail on another process's lock, trying every 100 ms for up to `waitMs` (without blocking the event loop). */
async function retryWhileLocked<T>(fn: () => T, waitMs: number, onFirstWait: () => void): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return fn();
    } catch (err) {
      if (storageFault(err)?.transient !== true || Date.now() >= deadline) throw err;
      if (attempt === 0) onFirstWait();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * The store with `methods` routed through the durable writes (grouped
 * commits; kept and retried while the database is locked or full): each
 * returns the promise of its commit instead of its result, so only methods
 * whose callers take that (OutboxStore's verdicts) may be listed.
 */
function withDurableResults<S extends object>(store: S, writes: DurableWrites, methods: ReadonlyArray<keyof S & string>): S {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof prop === 'string' && (methods as readonly string[]).includes(prop)) {
        return (...args: unknown[]) => writes.write(prop, () => (value as (...a: unknown[]) => unknown).apply(target, args)).then(() => undefined);
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

/** How long a stop waits for open HTTP connections (a request under way) before closing them. */
export const HTTP_CLOSE_GRACE_MS = 3_000;

/** Ended sessions and old login noise are dropped this often. */
export const AUTH_PRUNE_EVERY_MS = 3600_000;
/** Failed and refused login rows are kept this long (the throttle needs 15 minutes; an investigation, weeks). */
export const LOGIN_NOISE_KEPT_MS = 90 * 24 * 3600_000;

/** What to run when there is no user yet (printed by `kanjia start` and logged). */
export const FIRST_ADMIN_COMMAND = 'npx kanjia user add --name admin --role admin';
/** The `publicUrl` setting, else http(s)://host:port of the HTTP listener (a wildcard host shown as 127.0.0.1). */
export function publicUrlOf(settings: Settings, httpPort: number): string {
  if (settings.publicUrl) return settings.publicUrl;
  const host = settings.httpHost === '0.0.0.0' || settings.httpHost === '::' ? '127.0.0.1' : settings.httpHost;
  return `${settings.tlsCert !== undefined ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${httpPort}`;
}

/** True when a phone could not open this address: localhost, 127/8, ::1. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host.endsWith('.localhost') || /^127\./.test(host) || host === '::1' || host === '0.0.0.0';
}

/**
 * The console SMS provider prints every SMS in full, answer link and code
 * included (it is the provider for the demo and for trying Kanjia out), to the
 * same stream as the log. Served beyond this machine, that output holds live
 * links that let anyone reading it take and close cases: say so at start.
 */
export function consoleSmsWarning(settings: Settings): string | undefined {
  if (settings.smsProvider !== 'console') return undefined;
  const host = settings.httpHost.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || /^127\./.test(host) || host === '::1') return undefined;
  return `the console SMS provider prints every SMS with its live answer link to the output (and the log), and this server listens on ${settings.httpHost}, beyond this machine: anyone who reads the output can take and close cases. It is for the demo and trying out; set KANJIA_SMS_PROVIDER=aliyun for real use`;
}

/** The system problem of each medium's outage. */
export const OUTAGE_CODES: Readonly<Record<ChannelMedium, SystemProblemCode>> = { sms: 'SMS_PROVIDER_OUTAGE', voice: 'VOICE_PROVIDER_OUTAGE', group: 'GROUP_ROBOT_OUTAGE' };

/** The system problem of an SMS outage: critical (alarms do not reach anybody), yet the node works: not unhealthy. */
export function smsOutageProblem(channel: string, outage: SmsOutage, fallback?: { to: string; afterMs: number }): Parameters<SystemHealth['raise']>[0] {
  const what = outage.kind === 'account' ? 'refuses every SMS' : 'cannot be reached';
  const then = fallback
    ? `Every notice waits on it (none is marked failed) and after ${Math.round(fallback.afterMs / 60_000)} min (critical alarms) moves on to ${fallback.to}.`
    : 'No alarm SMS goes out; every notice waits (none is marked failed), the escalation holds, and all are sent when the provider answers again.';
  return {
    code: 'SMS_PROVIDER_OUTAGE',
    severity: 'critical',
    unhealthy: false,
    message: `the SMS provider (${channel}) ${what}: ${outage.code}. ${then} Phone the helpers meanwhile.`,
    details: { reason: outage.code, kind: outage.kind, channel, inferred: outage.inferred },
  };
}

/**
 * The problem to show for `medium` given every channel's outage now, or
 * undefined when no channel of that medium is out. The SMS problem names
 * the first SMS channel out and where its notices go next.
 */
export function outageProblem(medium: ChannelMedium, outages: Record<string, SmsOutage>, media: Readonly<Record<string, ChannelMedium>>, plan: ChannelPlan): Parameters<SystemHealth['raise']>[0] | undefined {
  const out = Object.entries(outages).filter(([name]) => (media[name] ?? 'sms') === medium);
  const first = out[0];
  if (first === undefined) return undefined;
  const [name, outage] = first;
  if (medium === 'sms') {
    const route = [...plan.sms, ...(plan.voice ? [plan.voice] : []), ...(plan.group ? [plan.group] : [])];
    const next = route.slice(route.indexOf(name) + 1).find((c) => outages[c] === undefined);
    return smsOutageProblem(name, outage, next === undefined ? undefined : { to: next, afterMs: plan.failoverAfterMs.critical });
  }
  const what = medium === 'voice' ? 'voice calls cannot be made' : "the duty group's robot cannot post";
  return {
    code: OUTAGE_CODES[medium],
    severity: medium === 'voice' ? 'critical' : 'warning',
    unhealthy: false,
    message: `${what} (${name}): ${outage.code}. The SMS still go out; the waiting ${medium === 'voice' ? 'calls' : 'posts'} are sent when it answers again.`,
    details: { reason: outage.code, kind: outage.kind, channel: name, inferred: outage.inferred },
  };
}

/**
 * The problem of the duty groups whose robot refuses or throttles their
 * posts while the others work (undefined when none): a warning, it names the
 * villages (a group key is a village id, or `default`: every village without
 * a robot of its own).
 */
export function groupFaultProblem(channel: string, faults: readonly ChannelFault[], villageName: (id: string) => string | undefined): Parameters<SystemHealth['raise']>[0] | undefined {
  const first = faults[0];
  if (first === undefined) return undefined;
  const name = (key: string) => (key === DEFAULT_GROUP_KEY ? '默认群（default）' : (villageName(key) ?? key));
  const groups = faults.map((f) => name(f.target)).join('、');
  const what = faults.every((f) => f.kind === 'throttled') ? 'throttles the posts' : 'refuses the posts';
  return {
    code: 'GROUP_ROBOT_FAULT',
    severity: 'warning',
    unhealthy: false,
    message: `the ${channel} robot of ${faults.length} duty group(s) (${faults.map((f) => f.target).join(', ')}) ${what}: ${first.code}. Their posts wait and go when it takes them again; the other groups, the SMS and the calls are not affected.`,
    details: { reason: first.code, kind: first.kind, channel, groups, targets: faults.map((f) => f.target).join(','), count: faults.length },
  };
}

/** Whether the primary SMS sender can send the visit reminder (Aliyun only with its template code). */
function sendsVisitReminders(sender: SmsSender): sender is SmsSender & SmsNoticeSender {
  return sendsNotices(sender) && sender.canSendNotice('visitReminder');
}

/** An SMS sender handed in without a medium (tests, older code) is an SMS channel. */
function asSmsChannel(sender: SmsSender): NoticeChannel {
  return 'medium' in sender ? (sender as NoticeChannel) : Object.assign(Object.create(sender) as SmsSender, { medium: 'sms' as const });
}

/** The channels the settings name besides the primary SMS one, or those handed in (tests). */
export function createChannels(settings: Settings, given: SystemOptions['channels'], logger: Logger, clock: Pick<Clock, 'nowMs'> = systemClock): { sms: NoticeChannel[]; voice?: NoticeChannel; group?: NoticeChannel } {
  const fallback = settings.smsFallback === undefined ? undefined : asSmsChannel(createSmsSender(settings, logger.child({ component: 'sms-fallback' }), settings.smsFallback));
  const voiceLog = logger.child({ component: 'voice' });
  const voice =
    given?.voice ??
    (settings.voiceProvider === 'aliyun'
      ? new AliyunVoiceCaller(aliyunVoiceCallerSettings(settings), { log: (line) => voiceLog.warn({}, line) })
      : settings.voiceProvider === 'console'
        ? new ConsoleVoiceCaller({ locale: settings.locale })
        : undefined);
  const log = logger.child({ component: 'group-robot' });
  const robot =
    settings.groupRobot === 'dingtalk' && settings.dingtalk
      ? new DingTalkRobotChannel(settings.dingtalk, { clock, log: (line) => log.warn({}, line) })
      : settings.groupRobot === 'wecom' && settings.wecom
        ? new WeComRobotChannel(settings.wecom, { clock, log: (line) => log.warn({}, line) })
        : settings.groupRobot === 'console'
          ? new ConsoleGroupChannel()
          : undefined;
  const group = given?.group ?? robot;
  return { sms: given?.sms ?? (fallback ? [fallback] : []), ...(voice ? { voice } : {}), ...(group ? { group } : {}) };
}

export function createSmsSender(settings: Settings, logger: Logger, provider: Settings['smsProvider'] = settings.smsProvider): SmsSender {
  if (provider === 'twilio' && settings.twilio) return new TwilioSmsSender(settings.twilio, { log: (line) => logger.warn({}, line) });
  if (provider === 'aliyun' && settings.aliyun) {
    const a = settings.aliyun;
    return new AliyunSmsSender({
      accessKeyId: a.accessKeyId,
      accessKeySecret: a.accessKeySecret,
      signName: a.signName,
      templateCodes: { ...a.templateCodes, alarm: a.templateAlarm, escalation: a.templateEscalation, cancelled: a.templateCancelled },
      ...(a.templateVisitReminder ? { noticeTemplateCodes: { visitReminder: a.templateVisitReminder } } : {}),
      endpoint: a.endpoint,
      protocol: a.protocol,
      timeoutMs: a.timeoutMs,
    }, { log: (line) => logger.debug({}, line) });
  }
  return new ConsoleSmsSender();
}
