/**
 * Topic builders and parsers for MQTT contract v1 (docs/protocol.md).
 *
 * Every device topic is `kanjia/v1/devices/{deviceId}/{channel}`.
 */
import { z } from 'zod';

export const TOPIC_ROOT = 'kanjia/v1/devices';

/** Channels a device publishes on (uplink). */
export const UPLINK_CHANNELS = ['events', 'telemetry', 'accel', 'status'] as const;
/** The one channel a device subscribes to (downlink). */
export const DOWNLINK_CHANNEL = 'commands' as const;

export type UplinkChannel = (typeof UPLINK_CHANNELS)[number];
export type Channel = UplinkChannel | typeof DOWNLINK_CHANNEL;

/**
 * Device ids are chosen by the registry. They must be usable as one MQTT topic
 * level, so no `/`, `+`, `#`, and stay short enough to print on a label.
 */
export const DeviceId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/, 'device id: 3–64 characters of A–Z, a–z, 0–9, _ and -, starting with a letter or digit');
export type DeviceId = z.infer<typeof DeviceId>;

const deviceTopic = (deviceId: string, channel: Channel): string => `${TOPIC_ROOT}/${deviceId}/${channel}`;

export const topics = {
  events: (deviceId: string) => deviceTopic(deviceId, 'events'),
  telemetry: (deviceId: string) => deviceTopic(deviceId, 'telemetry'),
  accel: (deviceId: string) => deviceTopic(deviceId, 'accel'),
  status: (deviceId: string) => deviceTopic(deviceId, 'status'),
  commands: (deviceId: string) => deviceTopic(deviceId, 'commands'),
  /** Wildcard subscription for one uplink channel of all devices. */
  allOf: (channel: Channel) => `${TOPIC_ROOT}/+/${channel}`,
} as const;

export interface ParsedTopic {
  deviceId: string;
  channel: Channel;
}

/** Parses a device topic; returns undefined for anything outside the v1 contract. */
export function parseDeviceTopic(topic: string): ParsedTopic | undefined {
  const parts = topic.split('/');
  if (parts.length !== 5) return undefined;
  const [a, b, c, deviceId, channel] = parts;
  if (`${a}/${b}/${c}` !== TOPIC_ROOT || deviceId === undefined || channel === undefined) return undefined;
  if (!DeviceId.safeParse(deviceId).success) return undefined;
  if (channel !== DOWNLINK_CHANNEL && !(UPLINK_CHANNELS as readonly string[]).includes(channel)) return undefined;
  return { deviceId, channel: channel as Channel };
}
