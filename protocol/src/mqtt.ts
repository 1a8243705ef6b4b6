/**
 * Payload schemas of MQTT contract v1. One schema per channel; the inferred
 * types are used by the devices (firmware-sim), the gateway and the server.
 */
import { z } from 'zod';
import type { UplinkChannel } from './topics.js';

/**
 * Largest MQTT payload a device may send, in bytes. An accelerometer window of
 * 10 s at 200 Hz is about 50 KiB of JSON; twice that leaves room.
 */
export const MAX_PAYLOAD_BYTES = 128 * 1024;

/** Device-generated message id: unique per device, stable across retries. */
export const MessageId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9._:-]+$/, 'message id: 1–64 characters of A–Z, a–z, 0–9, . _ : -');

/** Device timestamp, ms since the Unix epoch (UTC). Device clocks may be wrong. */
export const EpochMs = z.number().int().nonnegative().max(8.64e15);

const uplinkBase = { id: MessageId, ts: EpochMs };

export const EVENT_TYPES = ['sos', 'checkIn', 'cancel', 'fall', 'door', 'ack'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** One event from a device (`.../events`, QoS 1). */
export const DeviceEvent = z.discriminatedUnion('type', [
  /** Emergency button (一键呼叫). */
  z.object({ ...uplinkBase, type: z.literal('sos') }).strict(),
  /** Daily "I'm fine" press (平安打卡). */
  z.object({ ...uplinkBase, type: z.literal('checkIn') }).strict(),
  /** The resident cancels a pending alarm within its grace period; `refId` names the event cancelled, if known. */
  z.object({ ...uplinkBase, type: z.literal('cancel'), refId: MessageId.optional() }).strict(),
  /** A fall detected by the device itself; `confidence` is 0..1 when the device reports it. */
  z.object({ ...uplinkBase, type: z.literal('fall'), confidence: z.number().min(0).max(1).optional() }).strict(),
  /** A door contact changed. */
  z.object({ ...uplinkBase, type: z.literal('door'), open: z.boolean() }).strict(),
  /**
   * The device has acted on command `commandId` (beeped, shown it): the server
   * stops resending that command. Sent for every copy of a command, once each,
   * and never answered with `received`. Added within v1: a device that never
   * acks is served as before, its commands are resent until they expire.
   */
  z.object({ ...uplinkBase, type: z.literal('ack'), commandId: MessageId }).strict(),
]);
export type DeviceEvent = z.infer<typeof DeviceEvent>;

/** Sensor readings; a message carries at least one. Units are in the names. */
export const Readings = z
  .object({
    motion: z.boolean(),
    /** true when a door or window contact is open. */
    contactOpen: z.boolean(),
    /** bed or chair occupied. */
    occupancy: z.boolean(),
    temperatureC: z.number().min(-60).max(100),
    humidityPct: z.number().min(0).max(100),
    /** carbon monoxide, parts per million. */
    coPpm: z.number().min(0).max(100_000),
    smoke: z.boolean(),
    gas: z.boolean(),
    waterLeak: z.boolean(),
    powerW: z.number().min(0).max(100_000),
    waterFlowLpm: z.number().min(0).max(1_000),
    batteryPct: z.number().min(0).max(100),
  })
  .partial()
  .strict()
  .refine((r) => Object.keys(r).length > 0, 'readings: at least one reading is required');
export type Readings = z.infer<typeof Readings>;

/** Sensor readings (`.../telemetry`, QoS 0 or 1). */
export const Telemetry = z.object({ ...uplinkBase, readings: Readings }).strict();
export type Telemetry = z.infer<typeof Telemetry>;

export const BODY_POSITIONS = ['chest', 'waist', 'wrist'] as const;
export type BodyPosition = (typeof BODY_POSITIONS)[number];

/** Accelerometer window (`.../accel`, QoS 1): samples in g, uniform rate. At most 10 s. */
export const AccelWindow = z
  .object({
    ...uplinkBase,
    hz: z.number().int().min(20).max(200),
    position: z.enum(BODY_POSITIONS),
    unit: z.literal('g').default('g'),
    samples: z
      .array(z.tuple([z.number().min(-64).max(64), z.number().min(-64).max(64), z.number().min(-64).max(64)]))
      .min(1)
      .max(2000),
  })
  .strict()
  .refine((w) => w.samples.length <= w.hz * 10, 'samples: a window holds at most 10 s of samples');
export type AccelWindow = z.infer<typeof AccelWindow>;

/**
 * Presence (`.../status`, retained, QoS 1). The device publishes `online` when
 * it connects; its last will publishes `offline`. `id` and `ts` are optional
 * here because a last will is composed when the device connects.
 */
export const DeviceStatus = z
  .object({
    id: MessageId.optional(),
    ts: EpochMs.optional(),
    state: z.enum(['online', 'offline']),
    firmware: z.string().max(64).optional(),
    batteryPct: z.number().min(0).max(100).optional(),
  })
  .strict();
export type DeviceStatus = z.infer<typeof DeviceStatus>;

export const COMMAND_TYPES = ['received', 'taken', 'onTheWay', 'resolved', 'cancelled', 'beep', 'remind'] as const;
export type CommandType = (typeof COMMAND_TYPES)[number];

const commandBase = { id: MessageId, ts: EpochMs };

/**
 * Commands to a device (`.../commands`, QoS 1). Each carries a server-made `id`
 * that the device answers with an `ack` event; a repeat of the same `id` is the
 * same command again (acknowledge it, do not beep twice).
 */
export const DeviceCommand = z.discriminatedUnion('type', [
  /** The alarm raised by event `eventId` is recorded durably: beep "received". */
  z.object({ ...commandBase, type: z.literal('received'), eventId: MessageId, alarmId: z.string().optional() }).strict(),
  /** A person has taken charge of the alarm: beep "help is coming". */
  z.object({ ...commandBase, type: z.literal('taken'), eventId: MessageId, alarmId: z.string().optional() }).strict(),
  z.object({ ...commandBase, type: z.literal('onTheWay'), eventId: MessageId, alarmId: z.string().optional() }).strict(),
  z.object({ ...commandBase, type: z.literal('resolved'), eventId: MessageId, alarmId: z.string().optional() }).strict(),
  z.object({ ...commandBase, type: z.literal('cancelled'), eventId: MessageId, alarmId: z.string().optional() }).strict(),
  /** Beep (and flash) a pattern, e.g. during a fall's grace period. */
  z.object({ ...commandBase, type: z.literal('beep'), pattern: z.enum(['short', 'long', 'alarm']).default('short') }).strict(),
  /**
   * Ask the resident to press a button (missed check-in, inactivity warning;
   * `fall`: a fall was detected while the bed says someone lies in it, most
   * likely rolling over: "are you all right?", nobody is texted).
   */
  z.object({ ...commandBase, type: z.literal('remind'), reason: z.enum(['checkIn', 'inactivity', 'fall']) }).strict(),
]);
export type DeviceCommand = z.infer<typeof DeviceCommand>;

/** Schema of each uplink channel, for validators that route by topic. */
export const UPLINK_SCHEMAS = {
  events: DeviceEvent,
  telemetry: Telemetry,
  accel: AccelWindow,
  status: DeviceStatus,
} as const satisfies Record<UplinkChannel, z.ZodType>;

export type UplinkPayload =
  | { channel: 'events'; payload: DeviceEvent }
  | { channel: 'telemetry'; payload: Telemetry }
  | { channel: 'accel'; payload: AccelWindow }
  | { channel: 'status'; payload: DeviceStatus };

export type PayloadError =
  | { code: 'PAYLOAD_TOO_LARGE'; message: string }
  | { code: 'PAYLOAD_NOT_JSON'; message: string }
  | { code: 'PAYLOAD_INVALID'; message: string };

/**
 * Parses and validates an uplink payload for its channel. Never throws: the
 * result says what was wrong in words a device developer can act on.
 */
export function parseUplink(
  channel: UplinkChannel,
  payload: Uint8Array | string,
): { ok: true; value: UplinkPayload } | { ok: false; error: PayloadError } {
  const size = typeof payload === 'string' ? new TextEncoder().encode(payload).length : payload.length;
  if (size > MAX_PAYLOAD_BYTES) {
    return { ok: false, error: { code: 'PAYLOAD_TOO_LARGE', message: `payload is ${size} bytes; the limit is ${MAX_PAYLOAD_BYTES}` } };
  }
  const text = typeof payload === 'string' ? payload : new TextDecoder('utf-8', { fatal: false }).decode(payload);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: { code: 'PAYLOAD_NOT_JSON', message: `payload is not JSON: ${(err as Error).message}` } };
  }
  const result = UPLINK_SCHEMAS[channel].safeParse(json);
  if (!result.success) {
    return { ok: false, error: { code: 'PAYLOAD_INVALID', message: formatZodError(result.error) } };
  }
  return { ok: true, value: { channel, payload: result.data } as UplinkPayload };
}

/** One line per problem, `path: message`, for logs and HTTP 400 bodies. */
export function formatZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
