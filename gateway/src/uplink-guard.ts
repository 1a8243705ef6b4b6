/**
 * Per-device admission of uplink messages: the rate limit on everything a
 * device sends, payload validation with the protocol's `parseUplink`, and the
 * limit on invalid messages per minute. Pure apart from its counters; the
 * gateway turns the verdicts into aedes actions.
 */
import { parseUplink } from '@kanjia/protocol';
import type { PayloadError, UplinkChannel, UplinkPayload } from '@kanjia/protocol';
import { SlidingWindowCounter, TokenBucket } from './rate-limit.js';

export interface UplinkGuardOptions {
  /** More invalid messages than this within any 60 s disconnects the device. */
  invalidPerMinuteLimit: number;
  /** Burst size of the per-device uplink token bucket, in messages. */
  uplinkBurstMessages: number;
  /** Time in which an empty bucket refills completely, in ms. */
  uplinkBurstRefillMs: number;
}

export type UplinkVerdict =
  | { action: 'accept'; value: UplinkPayload }
  /** Drop this message, keep the connection. */
  | { action: 'drop'; error: PayloadError }
  /** Drop this message and disconnect the device. */
  | { action: 'disconnect'; reason: 'rateLimit' }
  | { action: 'disconnect'; reason: 'invalidFlood'; error: PayloadError };

const MINUTE_MS = 60_000;

interface DeviceLimits {
  bucket: TokenBucket;
  /** Made at the device's first invalid message: most never send one. */
  invalid?: SlidingWindowCounter;
}

/** Decides, message by message, whether a device's uplink is admitted. */
export class UplinkGuard {
  // Keyed by device id, not by connection, so reconnecting does not refill the bucket.
  private readonly limits = new Map<string, DeviceLimits>();

  constructor(private readonly options: UplinkGuardOptions) {}

  /** Judges one uplink message of `deviceId` on `channel` arriving at `nowMs`. */
  check(deviceId: string, channel: UplinkChannel, payload: Uint8Array, nowMs: number): UplinkVerdict {
    const limits = this.limitsOf(deviceId, nowMs);
    if (!limits.bucket.take(nowMs)) return { action: 'disconnect', reason: 'rateLimit' };
    return this.validate(limits, channel, payload, nowMs);
  }

  /** Validates without rate limits, for a last will: the broker sends it on the device's behalf. */
  validateOnly(channel: UplinkChannel, payload: Uint8Array): UplinkVerdict {
    const result = parseUplink(channel, payload);
    return result.ok ? { action: 'accept', value: result.value } : { action: 'drop', error: result.error };
  }

  /** Forgets every device's counters. */
  clear(): void {
    this.limits.clear();
  }

  private validate(limits: DeviceLimits, channel: UplinkChannel, payload: Uint8Array, nowMs: number): UplinkVerdict {
    const result = parseUplink(channel, payload);
    if (result.ok) return { action: 'accept', value: result.value };
    limits.invalid ??= new SlidingWindowCounter(this.options.invalidPerMinuteLimit, MINUTE_MS);
    if (!limits.invalid.hit(nowMs)) return { action: 'disconnect', reason: 'invalidFlood', error: result.error };
    return { action: 'drop', error: result.error };
  }

  private limitsOf(deviceId: string, nowMs: number): DeviceLimits {
    let limits = this.limits.get(deviceId);
    if (limits === undefined) {
      limits = { bucket: new TokenBucket(this.options.uplinkBurstMessages, this.options.uplinkBurstRefillMs, nowMs) };
      this.limits.set(deviceId, limits);
    }
    return limits;
  }
}
