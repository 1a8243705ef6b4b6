/**
 * `npm run bench:load` (issue 10): a county on one machine. A real `kanjia
 * start` child process (Aliyun provider pointed at the local SendSms server),
 * N devices of the firmware-sim load mode (default 10,000, each a real MQTT
 * connection with a device's session), and the peers measured in the same run:
 *
 *   1. connect all devices: time, rate, RSS per idle connection (server);
 *   2. background telemetry (default 1,000 msgs/s) and SOS presses: press →
 *      `received` (device), → socket.io (a logged-in live feed), → SMS request;
 *   3. the open-loop search for the highest SOS rate sustained (0 lost, p99 < 1 s,
 *      steady) with the server's CPU per SOS (/proc of the child process);
 *   4. a reconnect storm: every connection cut at once, SOS pressed meanwhile:
 *      time until all are back, SOS lost;
 *   5. past capacity: 5,000 SOS/s offered for 20 s: crash, devices
 *      disconnected, lost, time for the backlog and for a probe SOS to recover;
 *   6. peers: bare aedes and Mosquitto (RSS per connection, connect rate, the same storm);
 *      Mosquitto + the mqtt.js forwarder and Mosquitto + Node-RED (SOS → SMS
 *      request search, CPU per SOS).
 *
 * Prints a table, then one JSON line (the last line of stdout). Loopback only;
 * every phase is bounded in count and time. `--quick` is the smallest run (the
 * smoke test's); `--devices N` changes the fleet.
 *
 *   npm run bench:load                      # ≈ 10 minutes
 *   npm run bench:load -- --quick --skip-node-red
 */
import { LocalAliyunSmsServer, type AcceptedSms, type RejectedRequest } from '@kanjia/alerts/testing';
import { LoadFleet } from '@kanjia/firmware-sim';
import { SOCKET_EVENTS, type AlarmView } from '@kanjia/protocol';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';
import { searchMaxRate, type LoadTarget, type SearchResult } from './bench/open-loop.js';
import { ensureNodeRed, startBareAedes, startForwarder, startMosquitto, startNodeRed, type PeerProcess } from './bench/peers.js';
import { alive, procSample } from './bench/proc.js';
import { provisionDevices, residentName } from './bench/provision.js';
import { latency, latencyLine, type Latency } from './bench/stats.js';
import { apiClient, kanjiaEnv, sleep, startKanjia, tempDir } from './harness.js';

const { values } = parseArgs({
  options: {
    devices: { type: 'string' },
    quick: { type: 'boolean', default: false },
    'telemetry-per-s': { type: 'string' },
    'skip-peers': { type: 'boolean', default: false },
    'skip-node-red': { type: 'boolean', default: false },
    'connect-concurrency': { type: 'string', default: '100' },
  },
});
const QUICK = values.quick === true;
const DEVICES = bounded(values.devices ?? (QUICK ? '200' : '10000'), 10, 15_000, '--devices');
const CONNECT_CONCURRENCY = bounded(values['connect-concurrency'] ?? '100', 1, 10_000, '--connect-concurrency');
const TELEMETRY_PER_S = bounded(values['telemetry-per-s'] ?? (QUICK ? '50' : '1000'), 0, 5000, '--telemetry-per-s');
/** Phase sizes: the default run, or the smallest one that still exercises every phase. */
const PLAN = QUICK
  ? { sosPresses: 20, sosSpreadMs: 2000, stormPresses: 10, searchSeconds: 1, kanjiaRates: [20, 40], peerRates: [50, 100], pastRate: 200, pastSeconds: 2, recoveryMs: 30_000, drainMs: 5000, stormMs: 30_000 }
  : { sosPresses: 300, sosSpreadMs: 10_000, stormPresses: 200, searchSeconds: 4, kanjiaRates: [100, 200, 400, 600, 800, 1000, 1200, 1600, 2000, 2400], peerRates: [250, 500, 1000, 1500, 2000, 2500, 3000, 4000], pastRate: 5000, pastSeconds: 20, recoveryMs: 90_000, drainMs: 15_000, stormMs: 90_000 };

function bounded(value: string, min: number, max: number, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} must be an integer from ${min} to ${max}, got "${value}"`);
  return n;
}

const log = (line: string): void => void process.stderr.write(`[bench:load] ${line}\n`);
const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;

interface BrokerFigures {
  connectMs: number;
  connectPerS: number;
  rssPerConnectionKb: number;
}

/**
 * Cuts every connection of a connected fleet at once; `whileAway` runs once the
 * fleet has seen them close (bounded wait), e.g. presses that must be buffered.
 * Returns the ms until all are back, null when not within timeoutMs.
 */
async function reconnectStorm(fleet: LoadFleet, timeoutMs: number, whileAway?: () => void): Promise<number | null> {
  const before = fleet.counters.disconnects;
  const start = performance.now();
  fleet.dropAll();
  const seen = start + 10_000;
  while (fleet.counters.disconnects - before < fleet.devices.length && performance.now() < seen) await sleep(5);
  whileAway?.();
  try {
    await fleet.untilOnline(fleet.devices.length, start + timeoutMs);
    return Math.round(performance.now() - start);
  } catch {
    return null;
  }
}

/** Connects a fleet of `creds` to 127.0.0.1:port and measures the broker process's RSS per idle connection. */
async function connectAndMeasure(fleet: LoadFleet, pid: number, timeoutMs: number): Promise<BrokerFigures> {
  await sleep(1000);
  const before = procSample(pid).rssKb;
  const started = performance.now();
  await fleet.start(timeoutMs);
  const connectMs = performance.now() - started;
  await sleep(QUICK ? 1000 : 5000); // let the connect garbage go
  const after = procSample(pid).rssKb;
  return { connectMs: Math.round(connectMs), connectPerS: Math.round((fleet.devices.length / connectMs) * 1000), rssPerConnectionKb: round((after - before) / fleet.devices.length) };
}

async function main(): Promise<void> {
  const runStarted = performance.now();
  const tmp = tempDir('kanjia-bench-load-');
  const origin = performance.timeOrigin;
  const json: Record<string, unknown> = {
    bench: 'load',
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, loadAverageAtStart: loadavg().map((x) => round(x, 2)) },
    devices: DEVICES,
    quick: QUICK,
  };
  const cleanups: Array<() => Promise<void> | void> = [() => tmp.cleanup()];
  try {
    // ── The system: SMS server, kanjia, registry ─────────────────────────────
    // The SMS server runs in this process: its hooks see each request as it arrives.
    let onSms: (m: AcceptedSms) => void = () => undefined;
    let onRefusedRequest: (r: RejectedRequest) => void = () => undefined;
    const sms = new LocalAliyunSmsServer({ accessKeyId: 'LTAIbench', accessKeySecret: 'bench-secret', onAccepted: (m) => onSms(m), onRejected: (r) => onRefusedRequest(r) });
    const aliyun = await sms.start();
    cleanups.unshift(() => sms.stop());
    const { env, mqttPort } = await kanjiaEnv(tmp.dir, { ...aliyun, accessKeyId: 'LTAIbench', accessKeySecret: 'bench-secret' });
    log(`provisioning ${DEVICES} households …`);
    const provisioned = provisionDevices(env, DEVICES);
    json.provisionMs = Math.round(provisioned.ms);
    const kanjia = await startKanjia(env, { timeoutMs: 120_000 });
    cleanups.unshift(() => kanjia.kill('SIGTERM'));
    const pid = kanjia.process.pid!;
    const api = await apiClient(kanjia.httpUrl, env, { name: 'bench-admin' });

    // Arrivals, by event id: the SMS (alarm template) names the resident, the resident names the device, the device its pending press.
    const pressOfDevice = new Map<number, string>(); // device index → event id of its latest press that opens a case
    const smsAt = new Map<string, number>();
    const socketAt = new Map<string, number>();
    const receivedAt = new Map<string, number>();
    const deviceOfName = new Map<string, number>(provisioned.devices.map((_d, i) => [residentName(i), i]));
    const alarmTemplate = env.KANJIA_ALIYUN_TEMPLATE_ALARM;
    onSms = (m) => {
      if (m.templateCode !== alarmTemplate) return;
      const i = deviceOfName.get(m.templateParam.name ?? '');
      const id = i === undefined ? undefined : pressOfDevice.get(i);
      if (id !== undefined && !smsAt.has(id)) smsAt.set(id, m.receivedAtMs - origin);
    };
    const socket = io(kanjia.httpUrl, { transports: ['websocket'], extraHeaders: { cookie: api.cookie } });
    socket.on(SOCKET_EVENTS.alarmUpdate, (a: AlarmView) => {
      if (!socketAt.has(a.eventId)) socketAt.set(a.eventId, performance.now());
    });
    cleanups.unshift(() => void socket.close());

    // ── 1. Connect ─────────────────────────────────────────────────────────
    const fleet = new LoadFleet({ host: '127.0.0.1', port: mqttPort, devices: provisioned.devices, connectConcurrency: CONNECT_CONCURRENCY, onReceived: (id) => receivedAt.set(id, performance.now()) });
    cleanups.unshift(() => fleet.stop());
    log(`connecting ${DEVICES} devices to kanjia …`);
    const kanjiaConnect = await connectAndMeasure(fleet, pid, 300_000);
    log(`  ${kanjiaConnect.connectMs} ms, ${kanjiaConnect.rssPerConnectionKb} KB RSS per idle connection`);

    // Fresh devices: no open case, so their press opens one (and sends an SMS).
    let fresh = provisioned.devices.map((_d, i) => i);
    const pressFresh = (): string | undefined => {
      const i = fresh.shift();
      if (i === undefined) return undefined;
      const id = fleet.pressSos(i);
      pressOfDevice.set(i, id);
      return id;
    };

    // ── 2. SOS with background telemetry ───────────────────────────────────
    log(`SOS: ${PLAN.sosPresses} presses over ${PLAN.sosSpreadMs} ms with ${TELEMETRY_PER_S} telemetry msgs/s …`);
    fleet.telemetry(TELEMETRY_PER_S);
    const sosIds: Array<{ id: string; at: number }> = [];
    for (let k = 0; k < PLAN.sosPresses; k++) {
      await sleep(PLAN.sosSpreadMs / PLAN.sosPresses);
      const id = pressFresh();
      if (id !== undefined) sosIds.push({ id, at: performance.now() });
    }
    const sosDeadline = performance.now() + 60_000;
    while (performance.now() < sosDeadline && sosIds.some((p) => !smsAt.has(p.id) || !socketAt.has(p.id) || !receivedAt.has(p.id))) await sleep(100);
    const lat = (m: Map<string, number>) => sosIds.flatMap((p) => (m.has(p.id) ? [m.get(p.id)! - p.at] : []));
    const sos = {
      presses: sosIds.length,
      telemetryPerS: TELEMETRY_PER_S,
      toReceived: latency(lat(receivedAt)),
      toSocketIo: latency(lat(socketAt)),
      toSmsRequest: latency(lat(smsAt)),
      lost: sosIds.filter((p) => !smsAt.has(p.id) || !socketAt.has(p.id) || !receivedAt.has(p.id)).length,
      table: [latencyLine('press → received (device)', lat(receivedAt)), latencyLine('press → socket.io', lat(socketAt)), latencyLine('press → SMS request', lat(smsAt))],
    };
    fleet.telemetry(0);

    // ── 3. Open-loop search (before the storm: a storm slow to end would load every step) ──
    log(`open-loop SOS search (${PLAN.kanjiaRates.join(', ')} SOS/s × ${PLAN.searchSeconds} s) …`);
    const resetCases = async (): Promise<void> => {
      // Cancel every open case so that every device's next press opens a new one (and sends an SMS).
      const started = performance.now();
      let cancelled = 0;
      for (let round = 0; round < 200; round++) {
        const { alarms } = await api.get<{ alarms: AlarmView[] }>('/api/alarms?status=active&limit=500');
        if (alarms.length === 0) break;
        for (let k = 0; k < alarms.length; k += 16) {
          await Promise.all(alarms.slice(k, k + 16).map((a) => api.post(`/api/alarms/${a.id}/cancel`, { reason: 'bench:load reset' }).then((r) => r.body?.cancel())));
        }
        cancelled += alarms.length;
      }
      fresh = provisioned.devices.map((_d, i) => i);
      log(`  (cancelled ${cancelled} open cases in ${Math.round(performance.now() - started)} ms so that every device presses afresh)`);
    };
    // Each step starts from a quiet server (what the last phase left queued, telemetry included, is not the step's): a probe SOS every 500 ms until one's SMS comes within 250 ms, for at most 30 s.
    const settle = async (): Promise<void> => {
      const started = performance.now();
      for (let n = 0; n < 60; n++) {
        const id = pressFresh();
        if (id === undefined) return;
        const at = performance.now();
        await sleep(500);
        const arrived = smsAt.get(id);
        if (arrived !== undefined && arrived - at < 250) {
          if (n > 0) log(`  (quiet after ${Math.round(performance.now() - started)} ms)`);
          return;
        }
      }
      log('  (still busy after 30 s of probes; the step starts anyway)');
    };
    const kanjiaTarget: LoadTarget = { press: pressFresh, arrivedAt: (id) => smsAt.get(id), cpuMs: () => procSample(pid).cpuMs };
    const search = await searchMaxRate(kanjiaTarget, PLAN.kanjiaRates.filter((r) => r * PLAN.searchSeconds <= DEVICES), PLAN.searchSeconds, {
      drainMs: PLAN.drainMs,
      log,
      prepare: async (presses) => {
        // A device still away since the storm would buffer its press: the step measures online devices only.
        fresh = fresh.filter((i) => fleet.devices[i]!.online);
        if (fresh.length < presses + 60) await resetCases();
        fresh = fresh.filter((i) => fleet.devices[i]!.online);
        await settle();
      },
    });

    // ── 4. Reconnect storm ─────────────────────────────────────────────────
    log(`reconnect storm: all ${DEVICES} connections cut at once, ${PLAN.stormPresses} SOS pressed while they are away …`);
    if (fresh.length < PLAN.stormPresses) await resetCases();
    const disconnectsBefore = fleet.counters.disconnects;
    const stormIds: string[] = [];
    const stormBackMs = await reconnectStorm(fleet, PLAN.stormMs, () => {
      for (let k = 0; k < PLAN.stormPresses; k++) {
        const id = pressFresh();
        if (id !== undefined) stormIds.push(id);
      }
    });
    if (stormBackMs === null) log(`  ${fleet.counters.online} of ${DEVICES} online ${PLAN.stormMs / 1000} s after the cut`);
    const stormDeadline = performance.now() + 30_000;
    // Past capacity wants every device back; a storm that is still going is given (bounded) more time.
    if (stormBackMs === null) await fleet.untilOnline(DEVICES, performance.now() + 30_000).catch((error: Error) => log(`  ${error.message}; past capacity presses the devices online`));
    while (performance.now() < stormDeadline && stormIds.some((id) => !receivedAt.has(id))) await sleep(100);
    const storm = {
      devices: DEVICES,
      allBackMs: stormBackMs,
      dropped: fleet.counters.disconnects - disconnectsBefore,
      sosPressed: stormIds.length,
      /** Without `received` 30 s after the storm ended (or after its bound). */
      sosLost: stormIds.filter((id) => !receivedAt.has(id)).length,
      boundMs: PLAN.stormMs,
      refusedByCode: fleet.counters.refused,
    };
    log(`  all back in ${stormBackMs ?? 'n/a (not all)'} ms, SOS lost ${storm.sosLost}`);

    // ── 5. Past capacity ───────────────────────────────────────────────────
    log(`past capacity: ${PLAN.pastRate} SOS/s offered for ${PLAN.pastSeconds} s …`);
    const past = await pastCapacity(fleet, pid, receivedAt);
    if (past.crashed) {
      await sleep(500); // its last words
      const exit = `exit code ${kanjia.process.exitCode ?? 'none'}, signal ${kanjia.process.signalCode ?? 'none'}`;
      const lastError = kanjia
        .output()
        .split('\n')
        .filter((l) => /error|Error|fatal|FATAL/.test(l))
        .slice(-1)[0];
      past.exit = lastError === undefined ? exit : `${exit}; last error line: ${lastError.slice(0, 400)}`;
      log(`  kanjia DIED (${exit}). Its output ends:\n${kanjia.output().slice(-4000)}`);
    }
    log(`  crashed ${past.crashed}, disconnected ${past.devicesDisconnected}, unanswered ${past.unanswered}, backlog drained in ${past.backlogDrainedMs ?? 'n/a'} ms, recovered in ${past.recoveryMs ?? 'n/a'} ms`);
    json.kanjia = { ...kanjiaConnect, sos: { ...sos, table: undefined }, storm, search, pastCapacity: past };
    fleet.stop();
    socket.close();
    await kanjia.kill('SIGTERM');

    // ── 6. Peers ───────────────────────────────────────────────────────────
    const peers: Record<string, unknown> = {};
    if (values['skip-peers'] !== true) {
      const creds = provisioned.devices;
      const brokerPeer = async (peer: PeerProcess): Promise<BrokerFigures & { stormAllBackMs: number | null }> => {
        const f = new LoadFleet({ host: '127.0.0.1', port: peer.port, devices: creds, connectConcurrency: CONNECT_CONCURRENCY });
        try {
          const figures = await connectAndMeasure(f, peer.pid, 300_000);
          return { ...figures, stormAllBackMs: await reconnectStorm(f, PLAN.stormMs) };
        } finally {
          f.stop();
        }
      };
      log('peer: bare aedes …');
      const aedes = await startBareAedes();
      peers.bareAedes = await brokerPeer(aedes).finally(() => aedes.stop());
      log(`  ${JSON.stringify(peers.bareAedes)}`);

      log('peer: Mosquitto …');
      const mosquitto = await startMosquitto(tmp.dir);
      cleanups.unshift(() => mosquitto.stop());
      const mf = new LoadFleet({ host: '127.0.0.1', port: mosquitto.port, devices: creds, connectConcurrency: CONNECT_CONCURRENCY });
      cleanups.unshift(() => mf.stop());
      peers.mosquitto = { ...(await connectAndMeasure(mf, mosquitto.pid, 300_000)), stormAllBackMs: await reconnectStorm(mf, PLAN.stormMs) };
      log(`  ${JSON.stringify(peers.mosquitto)}`);

      // SOS → SMS request through Mosquitto: an arrival is a request with OutId = the event id (the SMS server rejects it unsigned, after reading OutId).
      const peerAt = new Map<string, number>();
      onRefusedRequest = (r) => {
        if (r.outId !== null && !peerAt.has(r.outId)) peerAt.set(r.outId, r.receivedAtMs - origin);
      };
      let next = 0;
      const peerSearch = async (name: string, procs: PeerProcess[]): Promise<SearchResult> => {
        log(`peer: Mosquitto + ${name}, SOS → SMS request search (${PLAN.peerRates.join(', ')} SOS/s × ${PLAN.searchSeconds} s) …`);
        // One copy per press: nothing behind Mosquitto answers `received`, and resends would flood the next steps and the next peer.
        const target: LoadTarget = { press: () => mf.pressSos(next++, { once: true }), arrivedAt: (id) => peerAt.get(id), cpuMs: () => procs.reduce((sum, p) => sum + procSample(p.pid).cpuMs, 0) };
        return searchMaxRate(target, PLAN.peerRates, PLAN.searchSeconds, { drainMs: PLAN.drainMs, log });
      };
      const forwarder = await startForwarder(mosquitto.port, aliyun.url);
      peers.mosquittoForwarder = await peerSearch('mqtt.js forwarder', [mosquitto, forwarder]).finally(() => forwarder.stop());

      if (values['skip-node-red'] === true) peers.mosquittoNodeRed = { skipped: '--skip-node-red' };
      else {
        const nr = ensureNodeRed(log);
        if ('unavailable' in nr) {
          log(`  Node-RED is not available, going on without it: ${nr.unavailable}`);
          peers.mosquittoNodeRed = { skipped: nr.unavailable };
        } else {
          const nodeRed = await startNodeRed(nr.redJs, tmp.dir, mosquitto.port, aliyun.url);
          peers.mosquittoNodeRed = await peerSearch('Node-RED', [mosquitto, nodeRed]).finally(() => nodeRed.stop());
        }
      }
      mf.stop();
      await mosquitto.stop();
    } else {
      peers.skipped = '--skip-peers';
    }
    json.peers = peers;
    json.runSeconds = Math.round((performance.now() - runStarted) / 1000);
    json.loadAverageAtEnd = loadavg().map((x) => round(x, 2));

    printTable(json, kanjiaConnect, sos, storm, search, past, peers);
    process.stdout.write(`${JSON.stringify(json)}\n`);
    process.exitCode = sos.lost === 0 && storm.sosLost === 0 && !past.crashed ? 0 : 1;
  } finally {
    for (const c of cleanups) {
      try {
        await c();
      } catch {
        // cleanup is best effort; the figures are printed already
      }
    }
  }
}

interface PastCapacity {
  offeredPerS: number;
  seconds: number;
  presses: number;
  /** Devices online when the burst began: all of them, unless a storm has not ended (then each presses more often, and may meet the gateway's uplink limit: the load mode does not pace). */
  devicesOnlineAtStart: number;
  crashed: boolean;
  /** When it crashed: how it ended, and its last error line. */
  exit?: string;
  devicesDisconnected: number;
  /** Presses without a `received` when the window ended (their devices would go on resending: not proven lost, not answered). */
  unanswered: number;
  windowMs: number;
  backlogDrainedMs: number | null;
  recoveryMs: number | null;
  toReceived: Latency;
}

/**
 * Offers PLAN.pastRate SOS/s for PLAN.pastSeconds, round-robin over every
 * device (a press on a device whose case is open joins it: still a `received`
 * each). Then waits (bounded) for every `received`, and presses a probe SOS
 * every 500 ms until 3 in a row are received within 1 s: the recovery time.
 */
async function pastCapacity(fleet: LoadFleet, pid: number, receivedAt: Map<string, number>): Promise<PastCapacity> {
  const disconnects0 = fleet.counters.disconnects;
  const devicesOnlineAtStart = fleet.counters.online;
  const total = PLAN.pastRate * PLAN.pastSeconds;
  const pressed: Array<{ id: string; at: number }> = [];
  let k = 0;
  const start = performance.now();
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * PLAN.pastRate));
      while (pressed.length < due) {
        // Online devices only (a device still away would buffer the press): skip at most a few offline ones per press.
        for (let skip = 0; skip < 8 && !fleet.devices[k % fleet.devices.length]!.online; skip++) k++;
        pressed.push({ id: fleet.pressSos(k++), at: performance.now() });
      }
      if (pressed.length >= total) {
        clearInterval(tick);
        resolve();
      }
    }, 10);
  });
  const burstEnd = performance.now();
  let backlogDrainedMs: number | null = null;
  let recoveryMs: number | null = null;
  let inARow = 0;
  let firstOfRow = 0;
  let probe: { id: string; at: number } | undefined;
  const deadline = burstEnd + PLAN.recoveryMs;
  while (performance.now() < deadline && alive(pid)) {
    if (backlogDrainedMs === null && pressed.every((p) => receivedAt.has(p.id))) backlogDrainedMs = Math.round(performance.now() - burstEnd);
    if (recoveryMs === null) {
      if (probe === undefined) probe = { id: fleet.pressSos(k++), at: performance.now() };
      const got = receivedAt.get(probe.id);
      if (got !== undefined || performance.now() - probe.at > 1000) {
        inARow = got !== undefined && got - probe.at < 1000 ? inARow + 1 : 0;
        if (inARow === 1) firstOfRow = probe.at;
        // Recovered from the press of the first of 3 probes in a row answered within 1 s.
        if (inARow === 3) recoveryMs = Math.max(0, Math.round(firstOfRow - burstEnd));
        probe = undefined;
      }
    }
    if (backlogDrainedMs !== null && recoveryMs !== null) break;
    await sleep(probe === undefined ? 500 : 50);
  }
  const ms = pressed.flatMap((p) => (receivedAt.has(p.id) ? [receivedAt.get(p.id)! - p.at] : []));
  return {
    offeredPerS: PLAN.pastRate,
    seconds: PLAN.pastSeconds,
    presses: pressed.length,
    devicesOnlineAtStart,
    crashed: !alive(pid),
    devicesDisconnected: fleet.counters.disconnects - disconnects0,
    unanswered: pressed.filter((p) => !receivedAt.has(p.id)).length,
    windowMs: PLAN.recoveryMs,
    backlogDrainedMs,
    recoveryMs,
    toReceived: latency(ms),
  };
}

function printTable(
  json: Record<string, unknown>,
  connect: BrokerFigures,
  sos: { presses: number; lost: number; table: string[] },
  storm: { allBackMs: number | null; sosPressed: number; sosLost: number },
  search: SearchResult,
  past: PastCapacity,
  peers: Record<string, unknown>,
): void {
  const m = json.machine as { cpus: number; model: string; node: string; loadAverageAtStart: number[] };
  const lines = [
    `bench:load — ${DEVICES} devices (firmware-sim load mode), loopback, one kanjia process; ${m.cpus} × ${m.model}, Node ${m.node}; load average at start ${m.loadAverageAtStart.join(' ')}, at end ${(json.loadAverageAtEnd as number[]).join(' ')}`,
    '',
    `${'broker'.padEnd(22)} ${'connect'.padStart(10)} ${'devices/s'.padStart(10)} ${'KB RSS/conn'.padStart(12)} ${'storm: all back'.padStart(16)}`,
  ];
  type Row = BrokerFigures & { stormAllBackMs: number | null };
  const brokerRow = (name: string, f: Row | undefined) =>
    f ? lines.push(`${name.padEnd(22)} ${`${f.connectMs} ms`.padStart(10)} ${String(f.connectPerS).padStart(10)} ${String(f.rssPerConnectionKb).padStart(12)} ${(f.stormAllBackMs === null ? `not in ${PLAN.stormMs / 1000} s` : `${f.stormAllBackMs} ms`).padStart(16)}`) : undefined;
  brokerRow('kanjia', { ...connect, stormAllBackMs: storm.allBackMs });
  brokerRow('bare aedes', peers.bareAedes as Row | undefined);
  brokerRow('mosquitto', peers.mosquitto as Row | undefined);
  lines.push('', `SOS with ${TELEMETRY_PER_S} telemetry msgs/s in the background (${sos.presses} presses, lost ${sos.lost}):`, ...sos.table.map((l) => `  ${l}`));
  lines.push('', `reconnect storm: all back in ${storm.allBackMs ?? 'n/a (not all)'} ms; SOS pressed meanwhile ${storm.sosPressed}, lost ${storm.sosLost}`);
  lines.push('', `${'SOS → SMS request'.padEnd(30)} ${'max SOS/s'.padStart(10)} ${'CPU ms/SOS'.padStart(11)}  (0 lost, p99 < 1 s, steady)`);
  const searchRow = (name: string, s: SearchResult | { skipped: string } | undefined) => {
    if (s === undefined) return;
    if ('skipped' in s) lines.push(`${name.padEnd(30)} skipped: ${s.skipped}`);
    else lines.push(`${name.padEnd(30)} ${String(s.maxSustainablePerS).padStart(10)} ${String(s.cpuMsPerSos ?? 'n/a').padStart(11)}`);
  };
  searchRow('kanjia (commits every case)', search);
  searchRow('mosquitto + mqtt.js forwarder', peers.mosquittoForwarder as SearchResult | undefined);
  searchRow('mosquitto + Node-RED', peers.mosquittoNodeRed as SearchResult | { skipped: string } | undefined);
  lines.push(
    '',
    `past capacity (${past.offeredPerS} SOS/s offered for ${past.seconds} s, ${past.presses} presses): crashed ${past.crashed ? `YES (${past.exit ?? 'no exit status'})` : 'no'}, devices disconnected ${past.devicesDisconnected}, without \`received\` ${past.windowMs / 1000} s after the burst ${past.unanswered}, backlog drained ${past.backlogDrainedMs ?? 'n/a'} ms after the burst, recovered (3 probes in a row received < 1 s) ${past.recoveryMs ?? 'n/a'} ms after`,
    `run: ${json.runSeconds as number} s`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:load failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
