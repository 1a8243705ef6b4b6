/**
 * The devices of one household, run together from the credentials the
 * registry printed when it created them.
 */
import { z } from 'zod';
import { DeviceId, DeviceKind, type Clock } from '@kanjia/protocol';
import { SimDeviceError } from './errors.js';
import type { SimLogger } from './logger.js';
import { SimDevice, type AckHandle } from './sim-device.js';

/**
 * One device's credentials. Other keys are ignored, so the registry's
 * `DeviceCredentials` output (with householdId, residentId) can be used as is.
 */
export const SimDeviceCredentials = z.object({
  deviceId: DeviceId,
  secret: z.string().min(1, 'secret: must not be empty'),
  kind: DeviceKind,
});
export type SimDeviceCredentials = z.infer<typeof SimDeviceCredentials>;

/** A household credentials file: a JSON array of `{ deviceId, secret, kind }`, device ids unique. */
export const HouseholdCredentialsFile = z
  .array(SimDeviceCredentials)
  .min(1, 'a household needs at least one device')
  .superRefine(
    (devices, ctx) => {
      // Runs even when some entries are invalid (see `when`), so a bad file lists every problem at once;
      // the entries are therefore read defensively.
      const seen = new Set<string>();
      devices.forEach((device: unknown, index) => {
        const deviceId = typeof device === 'object' && device !== null ? (device as { deviceId?: unknown }).deviceId : undefined;
        if (typeof deviceId !== 'string') return;
        if (seen.has(deviceId)) ctx.addIssue({ code: 'custom', path: [index, 'deviceId'], message: `device id ${deviceId} appears more than once` });
        seen.add(deviceId);
      });
    },
    { when: (payload) => Array.isArray(payload.value) },
  );

export interface SimHouseholdOptions {
  brokerUrl: string;
  /** The broker's CA for mqtts:// (SimDeviceOptions.ca). */
  ca?: string | Buffer;
  devices: readonly SimDeviceCredentials[];
  clock?: Clock;
  logger?: SimLogger;
  resendIntervalMs?: number;
  reconnectPeriodMs?: number;
  firmware?: string;
}

/** Kinds that carry the emergency button, in order of preference. */
const SOS_KINDS: readonly DeviceKind[] = ['sosButton', 'pendant'];

export class SimHousehold {
  private readonly entries: ReadonlyArray<{ kind: DeviceKind; device: SimDevice }>;
  private stopping: Promise<void> | undefined;

  constructor(options: SimHouseholdOptions) {
    this.entries = options.devices.map((credentials) => ({
      kind: credentials.kind,
      device: new SimDevice({
        brokerUrl: options.brokerUrl,
        ...(options.ca !== undefined ? { ca: options.ca } : {}),
        deviceId: credentials.deviceId,
        secret: credentials.secret,
        clock: options.clock,
        logger: options.logger,
        resendIntervalMs: options.resendIntervalMs,
        reconnectPeriodMs: options.reconnectPeriodMs,
        firmware: options.firmware,
      }),
    }));
  }

  /** Every device, in the order of the credentials. */
  get devices(): readonly SimDevice[] {
    return this.entries.map((entry) => entry.device);
  }

  /** Starts every device; if any is refused, stops them all and rejects with every refusal in the message. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.entries.map((entry) => entry.device.start()));
    const failures = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    if (failures.length === 0) return;
    await this.stop();
    const first = failures[0];
    const code = first instanceof SimDeviceError ? first.code : 'CONNECT_REFUSED';
    const message = failures.map((failure) => (failure instanceof Error ? failure.message : String(failure))).join('; ');
    throw new SimDeviceError(code, `household: ${failures.length} of ${this.entries.length} device(s) could not start: ${message}`, { cause: first });
  }

  /** Idempotent; stops every device. */
  stop(): Promise<void> {
    this.stopping ??= Promise.all(this.entries.map((entry) => entry.device.stop())).then(() => undefined);
    return this.stopping;
  }

  device(deviceId: string): SimDevice | undefined {
    return this.entries.find((entry) => entry.device.deviceId === deviceId)?.device;
  }

  byKind(kind: DeviceKind): SimDevice[] {
    return this.entries.filter((entry) => entry.kind === kind).map((entry) => entry.device);
  }

  kindOf(device: SimDevice): DeviceKind | undefined {
    return this.entries.find((entry) => entry.device === device)?.kind;
  }

  /** The household's emergency button: the first sosButton, else the first pendant. */
  sosButton(): SimDevice {
    for (const kind of SOS_KINDS) {
      const device = this.byKind(kind)[0];
      if (device !== undefined) return device;
    }
    throw new SimDeviceError('NO_SUCH_DEVICE', 'this household has no sosButton or pendant');
  }

  /** The household's check-in button (平安键). */
  checkInButton(): SimDevice {
    const device = this.byKind('checkInButton')[0];
    if (device === undefined) throw new SimDeviceError('NO_SUCH_DEVICE', 'this household has no checkInButton');
    return device;
  }

  /** Presses the household's emergency button. */
  pressSos(): AckHandle {
    return this.sosButton().pressSos();
  }

  /** Presses the household's check-in button. */
  pressCheckIn(): AckHandle {
    return this.checkInButton().pressCheckIn();
  }
}
