/**
 * Prometheus metrics of one running system (`/metrics`, prom-client). Two
 * kinds of figures:
 *
 * - Collected on scrape: what other parts already count (GatewayStats, the
 *   outbox's stats, the storage guard, system health, the open cases and the
 *   outbox rows in SQLite) is read by a prom-client `collect()` callback when
 *   Prometheus asks, so nothing on the alarm path does any extra work for it.
 * - Observed as it happens, where nothing counted it before: uplinks by kind
 *   (a listener of the gateway), SMS provider answers and the queued → accepted
 *   latency (a wrapper of the SmsSender), SQLite commit times (sqlite-timing.ts).
 *
 * Names follow the Prometheus conventions: `kanjia_` prefix, base units
 * (`_seconds`), `_total` for counters, and only labels with a fixed, small set
 * of values (a kind, a reason, a code) — never a device id, a phone or a name.
 * Node's own figures (event-loop lag from monitorEventLoopDelay, heap, GC, CPU)
 * are prom-client's default metrics, one set per process.
 */
import type { TsdbWriterStats } from '../telemetry/tsdb-writer.js';
import type { OutboxStats, SmsMessage, SmsResult, SmsSender } from '@kanjia/alerts';
import type { GatewayStats, UplinkMessage } from '@kanjia/gateway';
import { ALARM_KINDS, SEVERITIES, type SystemProblem } from '@kanjia/protocol';
import { performance } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { eventLoopDelayText, watchEventLoopDelay } from './event-loop-delay.js';

/** The uplink kinds (MQTT channels) counted by `kanjia_mqtt_messages_in_total`. */
export const UPLINK_KINDS = ['events', 'telemetry', 'accel', 'status'] as const satisfies ReadonlyArray<UplinkMessage['value']['channel']>;

/** Distinct SMS error codes given their own label value; the rest are counted as `other` (a provider could answer anything). */
export const MAX_SMS_ERROR_CODES = 64;

/**
 * Commit times of a WAL database with synchronous=FULL: one fsync is 0.1–10 ms
 * on an SSD, tens of ms on an SD card or a busy disk; a stuck lock shows as
 * the top buckets.
 */
const COMMIT_BUCKETS_SECONDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
/** Queued → accepted by the provider: tens of ms normally, the retry backoff (5 s … 5 min) and outages beyond. */
const SEND_LATENCY_BUCKETS_SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/** One SendSms call: Aliyun answers in 50–500 ms; its deadline is KANJIA_ALIYUN_TIMEOUT_MS (10 s). */
const PROVIDER_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Counts of what the store holds now, read on each scrape (metrics-queries.ts). */
export interface StoreFigures {
  /** Cases somebody still has to act on, by kind and severity (absent pairs are 0). */
  activeCases(): Array<{ kind: string; severity: string; count: number }>;
  /** Notification rows waiting to go out (pending or being sent) and failed for good. */
  outboxRows(): { pending: number; failed: number };
}

/** What the metrics read on each scrape; each part is optional (a test or a partial system). */
export interface MetricSources {
  gateway?: () => GatewayStats;
  outbox?: () => OutboxStats;
  store?: StoreFigures;
  storage?: () => { queued: number; failedWrites: number };
  health?: () => { problems: readonly SystemProblem[]; unhealthy: boolean };
  ready?: () => boolean;
  liveClients?: () => number;
  /** The time-series database writer (KANJIA_INFLUX_*), when one is configured. */
  tsdb?: () => TsdbWriterStats;
}

export interface MetricsOptions {
  version: string;
  /** Called when a source throws during a scrape (the figure is left out of that scrape). */
  onCollectError?: (source: string, err: unknown) => void;
}

let processRegistry: Registry | undefined;

/**
 * Node's default metrics, made once per process: prom-client starts an event
 * loop delay monitor and a GC observer for them that cannot be stopped, so a
 * process that starts several systems (the tests) must not make one each.
 */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    // 10 ms resolution of the event-loop delay histogram (nodejs_eventloop_lag_p50/p90/p99_seconds…).
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: 10 });
    watchEventLoopDelay();
  }
  return processRegistry;
}

/** camelCase → snake_case, for label values taken from counter names (`keepAlive` → `keep_alive`). */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export class KanjiaMetrics {
  readonly registry = new Registry();
  private sources: MetricSources = {};
  private readonly messagesIn: Record<(typeof UPLINK_KINDS)[number], Counter.Internal>;
  private readonly commitSeconds: Histogram;
  private readonly sendLatency: Histogram;
  private readonly providerSeconds: Histogram;
  private readonly providerRequests: Counter<'result'>;
  private readonly providerErrors: Counter<'code' | 'kind'>;
  private readonly smsErrorCodes = new Set<string>();

  constructor(private readonly options: MetricsOptions) {
    // Started with the system, so the first scrape has the process's figures since then.
    processMetrics();
    const registers = [this.registry];
    new Gauge({ name: 'kanjia_build_info', help: 'Always 1; the running version as a label.', labelNames: ['version'], registers }).set({ version: options.version }, 1);

    const messagesIn = new Counter({ name: 'kanjia_mqtt_messages_in_total', help: 'Valid device uplinks admitted by the gateway, by kind (MQTT channel).', labelNames: ['kind'], registers });
    this.messagesIn = Object.fromEntries(UPLINK_KINDS.map((kind) => [kind, messagesIn.labels(kind)])) as KanjiaMetrics['messagesIn'];

    this.commitSeconds = new Histogram({
      name: 'kanjia_sqlite_commit_duration_seconds',
      help: 'Outermost SQLite write transactions, from BEGIN to COMMIT returned (the fsync of synchronous=FULL included).',
      buckets: COMMIT_BUCKETS_SECONDS,
      registers,
    });
    this.sendLatency = new Histogram({
      name: 'kanjia_outbox_send_latency_seconds',
      help: 'From a notification queued (its outbox row written) to the SMS provider accepting it: retries and outage waits included.',
      buckets: SEND_LATENCY_BUCKETS_SECONDS,
      registers,
    });
    this.providerSeconds = new Histogram({ name: 'kanjia_sms_provider_request_duration_seconds', help: 'One call of the SMS provider, until its answer.', buckets: PROVIDER_BUCKETS_SECONDS, registers });
    this.providerRequests = new Counter({ name: 'kanjia_sms_provider_requests_total', help: 'Calls of the SMS provider by result (ok, error).', labelNames: ['result'], registers });
    this.providerRequests.labels('ok');
    this.providerRequests.labels('error');
    this.providerErrors = new Counter({
      name: 'kanjia_sms_provider_errors_total',
      help: `SMS provider errors by the provider's code (isv.AMOUNT_NOT_ENOUGH, SMS_NETWORK_ERROR…; past ${MAX_SMS_ERROR_CODES} distinct codes: other) and kind (permanent, retryMessage, account, transport).`,
      labelNames: ['code', 'kind'],
      registers,
    });

    this.collected(registers);
  }

  /** Where the scrape-time figures come from; replaces what was given before. */
  collectFrom(sources: MetricSources): void {
    this.sources = sources;
    if (sources.tsdb && this.declareTsdb) {
      this.declareTsdb();
      this.declareTsdb = undefined;
    }
  }

  /** Declares the time-series writer's series, once (collected() makes it). */
  private declareTsdb: (() => void) | undefined;

  /** One outermost write transaction took `seconds` (sqlite-timing.ts calls it). */
  readonly observeCommit = (seconds: number): void => {
    this.commitSeconds.observe(seconds);
  };

  /** Counts every valid uplink of `gateway` by kind. */
  countUplinks(gateway: { onUplink(handler: (msg: UplinkMessage) => void): void }): void {
    gateway.onUplink((msg) => this.messagesIn[msg.value.channel].inc());
  }

  /**
   * `sender` with every answer counted: requests, errors by code, the call's
   * duration, and for an accepted SMS the time since its row was queued
   * (`queuedAtMs` of its notification id, on the system's clock `nowMs`).
   */
  meteredSender<S extends SmsSender>(sender: S, queuedAtMs: (notificationId: string) => number | undefined, nowMs: () => number): S {
    const send = async (message: SmsMessage): Promise<SmsResult> => {
      const started = performance.now();
      const result = await sender.send(message);
      this.providerSeconds.observe((performance.now() - started) / 1000);
      if (result.ok) {
        this.providerRequests.labels('ok').inc();
        this.observeQueued(message.outId, queuedAtMs, nowMs);
      } else {
        this.providerRequests.labels('error').inc();
        this.providerErrors.labels(this.errorCodeLabel(result.code), result.kind).inc();
      }
      return result;
    };
    // The channel's other faces (its medium, its delivery queries) stay as they are.
    return Object.assign(Object.create(sender) as S, { send });
  }

  /** The exposition: this system's metrics, then the process's (Prometheus text format 0.0.4). */
  async render(): Promise<string> {
    const [own, node] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return `${own}\n${eventLoopDelayText()}\n${node}`;
  }

  /** The Content-Type of render()'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  private observeQueued(notificationId: string, queuedAtMs: (id: string) => number | undefined, nowMs: () => number): void {
    let queued: number | undefined;
    try {
      queued = queuedAtMs(notificationId);
    } catch (err) {
      // A figure is not worth a failed send: the SMS went, the latency of this one is left out.
      this.options.onCollectError?.('outbox send latency', err);
    }
    if (queued !== undefined) this.sendLatency.observe(Math.max(0, nowMs() - queued) / 1000);
  }

  private errorCodeLabel(code: string): string {
    if (this.smsErrorCodes.has(code)) return code;
    if (this.smsErrorCodes.size >= MAX_SMS_ERROR_CODES) return 'other';
    this.smsErrorCodes.add(code);
    return code;
  }

  /** Reads `source` for a scrape; a throw (the database closed, a bug) is reported and the figure left out. */
  private read<T>(name: string, source: (() => T) | undefined): T | undefined {
    if (!source) return undefined;
    try {
      return source();
    } catch (err) {
      this.options.onCollectError?.(name, err);
      return undefined;
    }
  }

  /** The figures read on scrape: gauges set, counters mirrored from what the parts count since the start. */
  private collected(registers: Registry[]): void {
    type Values<L extends string> = () => Array<[Partial<Record<L, string>>, number]> | undefined;
    const declared = <L extends string>(name: string, help: string, labelNames: L[]) => ({ name, help, labelNames, registers });
    /** A counter whose value is another part's count since start, read at each scrape; one that cannot be read keeps its last count (never back to 0). */
    const mirrored = <L extends string>(name: string, help: string, labelNames: L[], values: Values<L>) =>
      new Counter<L>({
        ...declared(name, help, labelNames),
        collect() {
          const list = values();
          if (list !== undefined) this.reset();
          for (const [labels, value] of list ?? []) this.inc(labels, value);
        },
      });
    /**
     * A gauge read at each scrape. One that cannot be read shows no old value: a labelled gauge has
     * no series in that scrape, one without labels (which prom-client always writes) is NaN — unknown, not 0.
     */
    const gauge = <L extends string>(name: string, help: string, labelNames: L[], values: Values<L>) =>
      new Gauge<L>({
        ...declared(name, help, labelNames),
        collect() {
          const list = values();
          this.reset();
          if (list === undefined && labelNames.length === 0) this.set(NaN);
          for (const [labels, value] of list ?? []) this.set(labels, value);
        },
      });
    const fromGateway = (pick: (g: GatewayStats) => Array<[Record<string, string>, number]>) => () => {
      const g = this.read('gateway', this.sources.gateway);
      return g === undefined ? undefined : pick(g);
    };

    gauge('kanjia_mqtt_connections_open', 'Authenticated device connections open now.', [], fromGateway((g) => [[{}, g.connected]]));
    mirrored('kanjia_mqtt_connections_accepted_total', 'Authenticated device connections accepted.', [], fromGateway((g) => [[{}, g.connections]]));
    mirrored(
      'kanjia_mqtt_connections_refused_total',
      'Connections refused or cut, by reason: wrong credentials, a connection limit (keep_alive, pre_login, connect_timeout, ping_flood, subscribe_flood, login_delayed, login_unchecked…), an oversized or malformed packet, an uplink flood.',
      ['reason'],
      fromGateway((g) => [
        [{ reason: 'credentials' }, g.authFailures],
        [{ reason: 'oversized' }, g.oversized],
        [{ reason: 'malformed_frame' }, g.malformedFrames],
        [{ reason: 'flood' }, g.floodDisconnects],
        ...Object.entries(g.refused).map(([reason, n]): [Record<string, string>, number] => [{ reason: snake(reason) }, n]),
      ]),
    );
    mirrored('kanjia_mqtt_messages_refused_total', 'Publishes and subscriptions refused, by reason (acl: a topic the client may not use).', ['reason'], fromGateway((g) => [[{ reason: 'acl' }, g.aclDenied]]));
    mirrored(
      'kanjia_mqtt_messages_invalid_total',
      'Messages dropped as invalid, by reason (PAYLOAD_TOO_LARGE, PAYLOAD_NOT_JSON, PAYLOAD_INVALID: docs/errors.md).',
      ['reason'],
      fromGateway((g) => Object.entries(g.invalidPayloads).map(([reason, n]) => [{ reason }, n])),
    );
    gauge('kanjia_mqtt_uplinks_in_flight', 'Uplinks handed to the application and not yet handled (an SOS: until committed and received sent); bounded by KANJIA_MQTT_IN_FLIGHT_UPLINKS.', [], fromGateway((g) => [[{}, g.backpressure.inFlight]]));
    gauge('kanjia_mqtt_uplinks_waiting', 'Uplinks held back by the bound (their PUBACK delayed, their connection not read): the gateway is behind, no device is dropped.', [], fromGateway((g) => [[{}, g.backpressure.waiting]]));
    mirrored('kanjia_mqtt_uplinks_delayed_total', 'Uplinks that had to wait for room in the bound.', [], fromGateway((g) => [[{}, g.backpressure.delayed]]));
    mirrored('kanjia_mqtt_pings_answered_total', 'PINGREQs answered by the gateway itself (also while a connection is held back).', [], fromGateway((g) => [[{}, g.backpressure.pingsAnswered]]));
    mirrored('kanjia_mqtt_commands_out_total', 'Commands to devices accepted by the broker.', [], fromGateway((g) => [[{}, g.commandsOut]]));
    mirrored('kanjia_mqtt_handler_errors_total', 'Uplink and presence handlers that threw or rejected (each one logged).', [], fromGateway((g) => [[{}, g.handlerErrors]]));

    gauge('kanjia_alarm_cases_active', 'Cases somebody still has to act on (open, taken, on the way, on site), by kind and severity.', ['kind', 'severity'], () => {
      const rows = this.read('active cases', this.sources.store && (() => this.sources.store!.activeCases()));
      if (rows === undefined) return undefined;
      const values = new Map<string, [Record<string, string>, number]>();
      for (const kind of ALARM_KINDS) for (const severity of SEVERITIES) values.set(`${kind}/${severity}`, [{ kind, severity }, 0]);
      for (const r of rows) values.set(`${r.kind}/${r.severity}`, [{ kind: r.kind, severity: r.severity }, r.count]);
      return [...values.values()];
    });
    const outboxRows = () => this.read('outbox rows', this.sources.store && (() => this.sources.store!.outboxRows()));
    gauge('kanjia_outbox_pending', 'Notifications waiting to go out (pending or being sent, those held by a provider outage included).', [], () => {
      const rows = outboxRows();
      return rows && [[{}, rows.pending]];
    });
    gauge('kanjia_outbox_failed', 'Notifications failed for good (kept in the database, shown in red on the dashboard).', [], () => {
      const rows = outboxRows();
      return rows && [[{}, rows.failed]];
    });
    const fromOutbox = (pick: (o: OutboxStats) => number) => () => {
      const o = this.read('outbox', this.sources.outbox);
      return o === undefined ? undefined : ([[{}, pick(o)]] as Array<[Record<string, string>, number]>);
    };
    mirrored('kanjia_outbox_sent_total', 'SMS the provider accepted.', [], fromOutbox((o) => o.sent));
    mirrored('kanjia_outbox_retried_total', 'Sends that failed for this one message and were put off (backoff).', [], fromOutbox((o) => o.retried));
    mirrored('kanjia_outbox_failed_total', 'Notifications failed for good (a bad number, or the last attempt).', [], fromOutbox((o) => o.failed));
    mirrored('kanjia_outbox_held_total', 'Sends a provider outage kept from going (no attempt counted).', [], fromOutbox((o) => o.held));
    mirrored('kanjia_outbox_outages_total', 'SMS provider outages (the account refused, the provider out of reach).', [], fromOutbox((o) => o.outages));
    mirrored('kanjia_outbox_unprepared_total', 'Notifications the store could not get ready to send (each logged, tried again a minute later).', [], fromOutbox((o) => o.unprepared));

    gauge('kanjia_storage_queued_writes', 'Writes waiting in memory for the database (locked or full), in order.', [], () => {
      const s = this.read('storage', this.sources.storage);
      return s && [[{}, s.queued]];
    });
    mirrored('kanjia_storage_failed_writes_total', 'Writes that met a storage fault (busy, full, read-only, I/O error).', [], () => {
      const s = this.read('storage', this.sources.storage);
      return s && [[{}, s.failedWrites]];
    });
    gauge('kanjia_system_problem', 'System problems now (SMS_PROVIDER_OUTAGE, STORAGE_WRITE_FAILED, TLS_CERT_EXPIRING…: docs/errors.md), 1 each while raised.', ['code', 'severity'], () => {
      const h = this.read('health', this.sources.health);
      return h && h.problems.map((p) => [{ code: p.code, severity: p.severity }, 1]);
    });
    gauge('kanjia_system_unhealthy', '1 while a problem stops this node doing its job (/api/health 503).', [], () => {
      const h = this.read('health', this.sources.health);
      return h && [[{}, h.unhealthy ? 1 : 0]];
    });
    gauge('kanjia_ready', '1 once the system has started and until it stops.', [], () => {
      const r = this.read('ready', this.sources.ready);
      return r === undefined ? undefined : [[{}, r ? 1 : 0]];
    });
    const fromTsdb = (pick: (t: TsdbWriterStats) => number) => () => {
      const t = this.read('tsdb', this.sources.tsdb);
      return t === undefined ? undefined : ([[{}, pick(t)]] as Array<[Record<string, string>, number]>);
    };
    // Declared once a time-series database is configured (collectFrom with `tsdb`): without one these series are absent, not 0 or NaN.
    this.declareTsdb = () => {
      mirrored('kanjia_tsdb_sent_lines_total', 'Readings (line-protocol lines) the time-series database has taken.', [], fromTsdb((t) => t.sentLines));
      mirrored('kanjia_tsdb_dropped_lines_total', 'Readings given up because the on-disk buffer was full (KANJIA_INFLUX_BUFFER_MB), the oldest first.', [], fromTsdb((t) => t.droppedLines));
      mirrored('kanjia_tsdb_rejected_lines_total', 'Readings the time-series database refused for good (400, 413, 422).', [], fromTsdb((t) => t.rejectedLines));
      gauge('kanjia_tsdb_buffered_bytes', 'Bytes in the on-disk buffer of the time-series writer (waiting, or being sent).', [], fromTsdb((t) => t.bufferedBytes));
      gauge('kanjia_tsdb_pending_lines', 'Readings gathered in memory for the next batch to the time-series database.', [], fromTsdb((t) => t.pendingLines));
      gauge('kanjia_tsdb_up', '1 while the time-series database takes writes, 0 while it is away (the batches wait on disk).', [], fromTsdb((t) => (t.serverUp ? 1 : 0)));
    };

    gauge('kanjia_live_feed_clients', 'Dashboards connected to the live feed.', [], () => {
      const n = this.read('live feed', this.sources.liveClients);
      return n === undefined ? undefined : [[{}, n]];
    });
  }
}
