/**
 * The registry import file (docs/registry.md): villages, households, residents,
 * their ordered contact chains and devices, in one JSON document.
 */
import { z } from 'zod';
import { ContactRole } from './alarms.js';
import { isValidTimeZone } from './local-time.js';
import { CheckedIdNumber, PersonCategoryInput, PersonRecordFields } from './township.js';

/** An IANA time zone this runtime knows (Asia/Shanghai); `prefix` leads the error message. */
export const TimeZoneName = (prefix = '') => z.string().refine(isValidTimeZone, `${prefix}an IANA time zone such as Asia/Shanghai`);

const Name = z.string().trim().min(1).max(64);
/** Mainland mobile numbers (11 digits starting with 1), optionally with +86. */
export const PhoneNumber = z
  .string()
  .trim()
  .regex(/^(\+?86)?1[3-9]\d{9}$/, 'phone: an 11-digit mainland mobile number such as 13812345678');
/** Resident ID number (身份证号): 17 digits and a check digit or X, checked as GB 11643-1999 says (township.ts). */
export const IdNumber = CheckedIdNumber;
export const Latitude = z.number().min(-90).max(90);
export const Longitude = z.number().min(-180).max(180);

export const DEVICE_KINDS = ['sosButton', 'pendant', 'checkInButton', 'motionSensor', 'doorSensor', 'coSensor', 'smokeSensor', 'thermometer', 'waterLeakSensor', 'powerMeter', 'bedSensor', 'hub'] as const;
export const DeviceKind = z.enum(DEVICE_KINDS);
export type DeviceKind = z.infer<typeof DeviceKind>;

export const ContactInput = z
  .object({ name: Name, role: ContactRole, phone: PhoneNumber, post: z.string().trim().max(64).optional() })
  .strict();
export type ContactInput = z.infer<typeof ContactInput>;

export const ResidentInput = z
  .object({
    name: Name,
    sex: z.enum(['F', 'M']).optional(),
    birthYear: z.number().int().min(1900).max(2100).optional(),
    idNumber: IdNumber.optional(),
    phone: PhoneNumber.optional(),
    /** The policy's category (township.ts PERSON_CATEGORIES): its code, or a text naming one (特困供养, 独居, 留守 …). */
    category: PersonCategoryInput.optional(),
    medicalNotes: z.string().trim().max(2000).optional(),
    /** Short names of the person's conditions (高血压, 糖尿病), shown as tags on the resident card. */
    conditions: z.array(z.string().trim().min(1).max(32)).max(20).optional(),
    /** What the person takes and when (降压药 早晚各一次): for the helper and the village doctor. */
    medicationNotes: z.string().trim().max(2000).optional(),
    // The person record (一人一档, docs/township.md).
    /** ordinary (一般, the default) or especiallyDifficult (特别困难): sets the visit frequency. */
    careLevel: PersonRecordFields.careLevel.optional(),
    livingSituation: PersonRecordFields.livingSituation.optional(),
    measures: PersonRecordFields.measures.optional(),
    notes: PersonRecordFields.notes.optional(),
    guardianName: PersonRecordFields.guardianName.optional(),
    guardianWorkplace: PersonRecordFields.guardianWorkplace.optional(),
    guardianPhone: PhoneNumber.optional(),
    /** Joined the registry on (YYYY-MM-DD, village time); default: the day it is created. */
    joinedOn: PersonRecordFields.joinedOn.optional(),
    /** Ordered contact chain: texted one after the other until somebody takes the alarm. */
    contacts: z.array(ContactInput).min(1, 'contacts: at least one person must be texted when this resident needs help').max(20),
  })
  .strict();
/** As given (a category may be a Chinese text); ResidentInput.parse turns it into codes. */
export type ResidentInput = z.input<typeof ResidentInput>;

export const DeviceInput = z
  .object({
    kind: DeviceKind,
    label: z.string().trim().max(64).optional(),
    /** Index into the household's residents for a personal device (pendant); a shared device belongs to resident 0. */
    resident: z.number().int().min(0).optional(),
    /** A door sensor on a door that leads out of the home (opening it, then silence, means "gone out"). */
    exit: z.boolean().optional(),
  })
  .strict();
export type DeviceInput = z.infer<typeof DeviceInput>;

export const HouseholdInput = z
  .object({
    address: z.string().trim().min(1).max(200),
    lat: Latitude,
    lng: Longitude,
    /** Who holds a key and how to get in (e.g. "邻居王大姐有钥匙，住东边第二家"). */
    keyHolderNote: z.string().trim().max(500).optional(),
    residents: z.array(ResidentInput).min(1).max(10),
    devices: z.array(DeviceInput).max(50).default([]),
  })
  .strict();
export type HouseholdInput = z.infer<typeof HouseholdInput>;

export const VillageInput = z
  .object({
    name: Name,
    township: z.string().trim().max(64).optional(),
    county: z.string().trim().max(64).optional(),
    /** IANA time zone in which times are shown and check-in windows counted; default: the server's KANJIA_TIMEZONE. */
    timezone: TimeZoneName('timezone: ').optional(),
    lat: Latitude,
    lng: Longitude,
    households: z.array(HouseholdInput).default([]),
  })
  .strict();
export type VillageInput = z.infer<typeof VillageInput>;

export const RegistryFile = z.object({ villages: z.array(VillageInput).min(1) }).strict();
export type RegistryFile = z.infer<typeof RegistryFile>;
/** A registry file as written (categories may be Chinese texts, devices may be absent). */
export type RegistryFileInput = z.input<typeof RegistryFile>;

/** What the registry prints once per created device: the only time the secret is shown. */
export const DeviceCredentials = z.object({ deviceId: z.string(), secret: z.string(), kind: DeviceKind, householdId: z.string(), residentId: z.string().nullable() });
export type DeviceCredentials = z.infer<typeof DeviceCredentials>;
