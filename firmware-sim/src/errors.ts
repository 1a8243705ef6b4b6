import { KanjiaError, type ErrorCode } from '@kanjia/protocol';

/** Stable error codes of the simulator (CONVENTIONS.md §8): callers branch on `code`, people read `message`. */
export const SIM_ERROR_CODES = [
  /** An option passed to a constructor is unusable (bad device id, interval ≤ 0, …). */
  'INVALID_OPTIONS',
  /** A payload the caller asked to send does not satisfy MQTT contract v1. */
  'INVALID_PAYLOAD',
  /** A method that needs a connection was called before start(). */
  'NOT_STARTED',
  /** start() was called twice. */
  'ALREADY_STARTED',
  /** The device was stopped; pending acknowledgements will never arrive. */
  'STOPPED',
  /** The broker refused the device's username/secret (CONNACK 4 or 5). */
  'AUTH_REFUSED',
  /** The broker refused the connection for another reason (CONNACK 1–3). */
  'CONNECT_REFUSED',
  /** The broker refused the subscription to the device's commands topic (SUBACK 0x80). */
  'SUBSCRIBE_REFUSED',
  /** A QoS 1 publish failed (connection closed before PUBACK and the client was ended). */
  'SIM_PUBLISH_FAILED',
  /** The household has no device of the kind asked for. */
  'NO_SUCH_DEVICE',
  /** The device stopped tracking an acknowledged event before its `taken` came (too many events awaiting it). */
  'NO_LONGER_TRACKED',
] as const satisfies readonly ErrorCode[];
export type SimErrorCode = (typeof SIM_ERROR_CODES)[number];

export class SimDeviceError extends KanjiaError<SimErrorCode> {
  override readonly name = 'SimDeviceError';
}
