/**
 * Topic ACLs of MQTT contract v1: who may publish and subscribe where.
 *
 * Pure functions over a principal and a topic; the gateway wires them into
 * aedes' authorizePublish / authorizeSubscribe hooks.
 */
import { DOWNLINK_CHANNEL, DeviceId, TOPIC_ROOT, UPLINK_CHANNELS, parseDeviceTopic, topics } from '@kanjia/protocol';
import type { UplinkChannel } from '@kanjia/protocol';

/** Who is on the other end of a connection, fixed at CONNECT. */
export type Principal =
  /**
   * `primary`: the device's own connection (client id = device id), whose
   * presence is the device's. A maintenance connection (client id
   * `{deviceId}:{suffix}`, e.g. an installer's mosquitto_pub) has the same
   * rights but does not count for presence.
   */
  | { kind: 'device'; deviceId: string; primary: boolean }
  /** A trusted process (the server, run separately) that reads uplinks and sends commands. */
  | { kind: 'service'; username: string };

/** Outcome of a publish check: the uplink channel (device) or target device (service), or a refusal. */
export type PublishDecision =
  | { allowed: true; kind: 'uplink'; deviceId: string; channel: UplinkChannel }
  | { allowed: true; kind: 'command'; deviceId: string }
  | { allowed: false };

/**
 * A device publishes only to `kanjia/v1/devices/{its id}/{events|telemetry|accel|status}`;
 * a service account only to `kanjia/v1/devices/{any id}/commands`.
 * Wildcards never reach here: aedes refuses them in PUBLISH topics [MQTT-3.3.2-2].
 */
export function authorizePublishTopic(principal: Principal, topic: string): PublishDecision {
  const parsed = parseDeviceTopic(topic);
  if (parsed === undefined) return { allowed: false };
  if (principal.kind === 'device') {
    if (parsed.deviceId !== principal.deviceId || parsed.channel === DOWNLINK_CHANNEL) return { allowed: false };
    return { allowed: true, kind: 'uplink', deviceId: parsed.deviceId, channel: parsed.channel };
  }
  if (parsed.channel !== DOWNLINK_CHANNEL) return { allowed: false };
  return { allowed: true, kind: 'command', deviceId: parsed.deviceId };
}

/**
 * A device subscribes only to its own commands topic, spelled out (no wildcards);
 * a service account to `kanjia/v1/devices/{+ or one id}/{uplink channel}`.
 */
export function authorizeSubscribeFilter(principal: Principal, filter: string): boolean {
  if (principal.kind === 'device') return filter === topics.commands(principal.deviceId);
  const prefix = `${TOPIC_ROOT}/`;
  if (!filter.startsWith(prefix)) return false;
  const levels = filter.slice(prefix.length).split('/');
  if (levels.length !== 2) return false;
  const [device, channel] = levels as [string, string];
  const deviceOk = device === '+' || DeviceId.safeParse(device).success;
  return deviceOk && (UPLINK_CHANNELS as readonly string[]).includes(channel);
}
