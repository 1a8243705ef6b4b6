/**
 * Replays one dataset trial as a wearable: connects like a device (client id
 * = username = device id, password = its secret, last will `offline`),
 * publishes `online`, then the trial's `accel` windows with QoS 1, each when
 * its last sample would have been recorded — in real time, or `speed` times
 * faster — and finally `offline`. This is how an end-to-end test puts a real
 * fall (or a real ADL) into the running system.
 *
 * Windows go out one at a time, each after the broker's PUBACK of the
 * previous one, so they arrive in order. Unlike SimDevice the replay does not
 * buffer while offline: a lost connection fails the replay (REPLAY_FAILED),
 * which is what a test wants to hear. A device id can have one connection at
 * a time, so do not replay as a device that a SimDevice is running.
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { AccelWindow, DeviceId, formatZodError, KanjiaError, systemClock, topics, type CatalogCodes, type Clock, type DeviceStatus } from '@kanjia/protocol';
import { DEFAULT_WINDOW_MS, trialWindows, type FallTrial } from './dataset.js';
import { redactUrl, silentLogger, type SimLogger } from './logger.js';

export interface ReplayTrialOptions {
  /** e.g. `mqtt://127.0.0.1:1883`. */
  brokerUrl: string;
  deviceId: string;
  /** The device's secret; sent as the MQTT password, never logged. */
  secret: string;
  trial: Pick<FallTrial, 'hz' | 'position' | 'samples'> & { id?: string };
  /** 1 = real time (default); 10 = ten times faster; Infinity = each window as soon as the previous one is acknowledged. */
  speed?: number;
  /** Window length, ms (default 2000). */
  windowMs?: number;
  /** Device time of the first sample (window `ts` values follow the recording from there). Default: the clock's now. */
  startTs?: number;
  /** Paces the windows and gives the default startTs. Default: the system clock. */
  clock?: Clock;
  /** First part of the window ids. Default `{deviceId cut to 40}-{start time base 36}`, unique per replay like a device's boot. */
  idPrefix?: string;
  /** Aborting stops the replay after the window in flight; the promise rejects with REPLAY_ABORTED. */
  signal?: AbortSignal;
  /** Called after each window's PUBACK. */
  onWindow?: (window: AccelWindow, index: number) => void;
  /** Default: silent. */
  logger?: SimLogger;
}

export interface ReplayResult {
  /** The windows published, in order. */
  windows: AccelWindow[];
  /** Device time of the first and one past the last sample. */
  firstTs: number;
  endTs: number;
}

export class ReplayError extends KanjiaError<CatalogCodes<'REPLAY_INVALID_OPTIONS' | 'REPLAY_FAILED' | 'REPLAY_ABORTED'>> {
  override readonly name = 'ReplayError';
}

/** Replays a trial over MQTT as device `deviceId`; resolves when every window has been acknowledged by the broker. */
export async function replayTrial(options: ReplayTrialOptions): Promise<ReplayResult> {
  const clock = options.clock ?? systemClock;
  const speed = options.speed ?? 1;
  const logger = options.logger ?? silentLogger;
  const problems: string[] = [];
  if (!DeviceId.safeParse(options.deviceId).success) problems.push(`deviceId "${options.deviceId}": not a valid device id`);
  if (options.secret.length === 0) problems.push('secret: must not be empty');
  if (!(speed > 0)) problems.push(`speed: must be > 0 (Infinity for as fast as possible), got ${speed}`);
  if (problems.length > 0) throw new ReplayError('REPLAY_INVALID_OPTIONS', `replayTrial: ${problems.join('; ')}`);

  const startTs = options.startTs ?? Math.round(clock.nowMs());
  const idPrefix = options.idPrefix ?? `${options.deviceId.slice(0, 40)}-${startTs.toString(36)}`;
  const windows = trialWindows(options.trial, { windowMs: options.windowMs ?? DEFAULT_WINDOW_MS, startTs, idPrefix });
  for (const window of windows) {
    const parsed = AccelWindow.safeParse(window);
    if (!parsed.success) throw new ReplayError('REPLAY_INVALID_OPTIONS', `replayTrial: window ${window.id} breaks the contract: ${formatZodError(parsed.error)}`);
  }
  const tag = `[${options.deviceId}]`;
  const offlineWill: DeviceStatus = { state: 'offline' };
  let client: MqttClient;
  try {
    client = await connectAsync(
      options.brokerUrl,
      {
        protocolVersion: 4,
        clientId: options.deviceId,
        username: options.deviceId,
        password: options.secret,
        clean: true,
        reconnectPeriod: 0,
        connectTimeout: 10_000,
        will: { topic: topics.status(options.deviceId), payload: Buffer.from(JSON.stringify(offlineWill)), qos: 1, retain: true },
      },
      false,
    );
  } catch (error) {
    throw new ReplayError('REPLAY_FAILED', `${tag} cannot connect to ${redactUrl(options.brokerUrl)}: ${errorMessage(error)}`, { cause: error });
  }
  client.on('error', (error) => logger.warn(`${tag} ${error.message}`));

  const startWall = clock.nowMs();
  let statusSeq = 0;
  const status = (state: 'online' | 'offline'): DeviceStatus => ({ id: `${idPrefix}-s${(statusSeq += 1)}`, ts: Math.round(clock.nowMs()), state });
  try {
    await client.publishAsync(topics.status(options.deviceId), JSON.stringify(status('online')), { qos: 1, retain: true });
    logger.info(`${tag} replaying ${options.trial.id ?? 'a trial'}: ${windows.length} windows at ${speed === Infinity ? 'full speed' : `${speed}× real time`}`);
    for (const [index, window] of windows.entries()) {
      if (options.signal?.aborted === true) throw new ReplayError('REPLAY_ABORTED', `${tag} replay aborted after ${index} of ${windows.length} windows`);
      // A device sends a window once its last sample has been recorded.
      const recordedMs = ((index * windowSamples(windows) + window.samples.length) * 1000) / window.hz;
      if (Number.isFinite(speed)) await sleep(clock, startWall + recordedMs / speed - clock.nowMs(), options.signal);
      try {
        await client.publishAsync(topics.accel(options.deviceId), JSON.stringify(window), { qos: 1 });
      } catch (error) {
        throw new ReplayError('REPLAY_FAILED', `${tag} window ${index + 1} of ${windows.length} was not acknowledged: ${errorMessage(error)}`, { cause: error });
      }
      options.onWindow?.(window, index);
    }
    await client.publishAsync(topics.status(options.deviceId), JSON.stringify(status('offline')), { qos: 1, retain: true });
  } finally {
    await client.endAsync().catch(() => undefined);
  }
  const last = windows[windows.length - 1];
  const endTs = last === undefined ? startTs : last.ts + Math.round((last.samples.length * 1000) / last.hz);
  return { windows, firstTs: startTs, endTs };
}

/** Samples per window (all but the last window hold this many). */
function windowSamples(windows: AccelWindow[]): number {
  return windows[0]?.samples.length ?? 0;
}

function sleep(clock: Clock, delayMs: number, signal: AbortSignal | undefined): Promise<void> {
  if (delayMs <= 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    // Aborting ends the wait at once; the loop then stops before the next window.
    const onAbort = (): void => {
      clock.clearTimeout(timer);
      resolve();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

