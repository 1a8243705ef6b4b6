/**
 * The shapes every detector shares. Detectors are pure: inputs are typed
 * readings and events, time comes from an injected Clock, and what they find
 * leaves through an `emit` callback — no I/O.
 */
import type { AlarmKind, Clock } from '@kanjia/protocol';

/** Something that needs a person's attention, found from the data of one person or device. */
export interface Finding {
  kind: AlarmKind;
  /**
   * Device the finding is about or came from. For a person-level finding
   * (inactivity, missed check-in) the device to beep and acknowledge on,
   * usually the person's SOS button.
   */
  deviceId: string;
  /**
   * The resident the finding is about, when the detector knows (person-level
   * detectors do); otherwise the server resolves it from the device.
   */
  subjectId?: string;
  /**
   * Dedup key, unique per (deviceId, eventId): the device's message id, or for
   * a derived finding a key stable for this occurrence (e.g.
   * `inactivity:{subjectId}:{lastActivityMs}`), so a restart that finds it
   * again does not open a second case.
   */
  eventId: string;
  /** When it happened (device time of the evidence, or the detector's clock). */
  eventTs: number;
  /** Short English reason for logs; the case history is written by the server. */
  reason: string;
  /** Figures that explain it (e.g. `{ silenceMin: 190 }`, `{ coPpm: 160 }`), shown in the case history. */
  details?: Record<string, number | string | boolean>;
}

/** What a detector asks of the system. */
export type DetectorOutput =
  /** Open (or join) an alarm case. */
  | { type: 'alarm'; finding: Finding }
  /**
   * Ask the person on their device to press the button (missed check-in,
   * long silence): the device beeps/remind command. `reason` matches the
   * `remind` command of the MQTT contract.
   */
  | { type: 'remind'; subjectId: string; deviceIds: string[]; reason: 'checkIn' | 'inactivity'; atMs: number }
  /** A condition that raised an alarm is over (e.g. CO back to normal): shown in the case history. */
  | { type: 'cleared'; kind: AlarmKind; deviceId: string; subjectId?: string; atMs: number; reason: string };

export type Emit = (output: DetectorOutput) => void;

/** Constructor options every stateful detector takes. */
export interface DetectorContext {
  clock: Clock;
  emit: Emit;
}

/** Kinds of sign of life a home sensor gives (EVENTS-FORMAT.md `kind`, plus our device kinds). */
export const ACTIVITY_SOURCES = ['motion', 'door', 'cupboard', 'appliance', 'water', 'bed', 'chair', 'button'] as const;
export type ActivitySource = (typeof ACTIVITY_SOURCES)[number];

/** One sign of life in a home. */
export interface Activity {
  atMs: number;
  source: ActivitySource;
  /** A door that leads out of the home (the person may have gone out). */
  exit?: boolean;
  /** 1 when the sensor starts firing, 0 when it stops (a bed that becomes empty is activity too). */
  value?: 0 | 1;
  sensorId?: string;
}
