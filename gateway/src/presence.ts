/**
 * Online/offline state per device, in the manner of zigbee2mqtt's availability:
 * the device's own retained `status` messages (and its last will) say what it
 * is, a closed connection means offline whatever the last message said, and any
 * other valid uplink from a live connection means it is there.
 */
import type { DeviceStatus } from '@kanjia/protocol';

/** One change of a device's presence, as handed to `Gateway.onPresence` listeners. */
export interface PresenceChange {
  deviceId: string;
  online: boolean;
  /** Gateway clock time of the change, ms since the epoch (not the device's `ts`). */
  atMs: number;
  /** From the device's latest `online` status message, when it sent one. */
  firmware?: string;
  batteryPct?: number;
}

interface DeviceState {
  online: boolean;
  sinceMs: number;
  firmware?: string;
  batteryPct?: number;
}

/** Tracks presence per device and reports each flip between online and offline (and the first sighting). */
export class PresenceTracker {
  private readonly devices = new Map<string, DeviceState>();

  constructor(private readonly emit: (change: PresenceChange) => void) {}

  /** A valid `status` message (including a last will) from the device. */
  statusReceived(deviceId: string, status: DeviceStatus, atMs: number): void {
    const state = this.devices.get(deviceId);
    const firmware = status.firmware ?? state?.firmware;
    const batteryPct = status.batteryPct ?? state?.batteryPct;
    this.set(deviceId, status.state === 'online', atMs, firmware, batteryPct);
  }

  /** Any other valid uplink from the device's live connection: it is there. */
  seen(deviceId: string, atMs: number): void {
    const state = this.devices.get(deviceId);
    if (state?.online === true) return;
    this.set(deviceId, true, atMs, state?.firmware, state?.batteryPct);
  }

  /** The device's connection ended, with or without a last will. */
  connectionClosed(deviceId: string, atMs: number): void {
    const state = this.devices.get(deviceId);
    if (state === undefined || !state.online) return;
    this.set(deviceId, false, atMs, state.firmware, state.batteryPct);
  }

  /** True when the device is currently online. */
  isOnline(deviceId: string): boolean {
    return this.devices.get(deviceId)?.online === true;
  }

  /** Forgets every device (on gateway stop). */
  clear(): void {
    this.devices.clear();
  }

  private set(deviceId: string, online: boolean, atMs: number, firmware: string | undefined, batteryPct: number | undefined): void {
    const previous = this.devices.get(deviceId);
    const next: DeviceState = { online, sinceMs: previous?.online === online ? previous.sinceMs : atMs };
    if (firmware !== undefined) next.firmware = firmware;
    if (batteryPct !== undefined) next.batteryPct = batteryPct;
    this.devices.set(deviceId, next);
    if (previous?.online === online) return;
    const change: PresenceChange = { deviceId, online, atMs };
    if (firmware !== undefined) change.firmware = firmware;
    if (batteryPct !== undefined) change.batteryPct = batteryPct;
    this.emit(change);
  }
}
