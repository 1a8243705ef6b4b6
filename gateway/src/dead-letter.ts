/**
 * How the gateway drops a message without dropping the device. aedes closes
 * the connection when authorizePublish calls back with an error; to drop an
 * invalid message quietly we let it through, rewritten to a topic no client
 * can receive, without payload and without the retain flag.
 */
import type { PublishPacket } from 'aedes';

/**
 * The dead-letter topic. `$` topics never match a filter that starts with a
 * wildcard [MQTT-4.7.2-1], and the gateway's ACL grants no subscription
 * outside kanjia/v1, so nobody can subscribe to it.
 */
export const DEAD_LETTER_TOPIC = '$kanjia/dropped';

/** Rewrites a publish so that aedes acknowledges it (PUBACK/PUBREC as usual) but delivers and retains nothing. */
export function deadLetter(packet: PublishPacket): void {
  packet.topic = DEAD_LETTER_TOPIC;
  packet.retain = false; // aedes stores retained messages before delivery
  packet.payload = Buffer.alloc(0);
}
