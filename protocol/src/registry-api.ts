/**
 * The registry over REST (台账): request bodies with the same rules as the
 * import file (registry.ts), the views the dashboard reads, the resident card
 * and device health. Phone and ID numbers arrive masked for roles that must
 * not see them; `phoneMasked` / `idNumberMasked` say which.
 */
import { z } from 'zod';
import { AlarmKind, AlarmStatus, ContactRole, Severity } from './alarms.js';
import { EpochMs } from './mqtt.js';
import { ContactInput, DeviceKind, HouseholdInput, IdNumber, PhoneNumber, ResidentInput, VillageInput } from './registry.js';
import { CareLevel, LivingSituation, PersonCategory } from './township.js';

const Id = z.string().min(1).max(64);
export const RegistryIdParams = z.object({ id: Id }).strict();

// --- request bodies -------------------------------------------------------------

export const CreateVillageBody = VillageInput.omit({ households: true }).strict();
export type CreateVillageBody = z.infer<typeof CreateVillageBody>;
export const UpdateVillageBody = CreateVillageBody.partial().strict();
export type UpdateVillageBody = z.infer<typeof UpdateVillageBody>;

export const CreateHouseholdBody = HouseholdInput.omit({ residents: true, devices: true }).strict();
export type CreateHouseholdBody = z.infer<typeof CreateHouseholdBody>;
/** null clears the key-holder note. */
export const UpdateHouseholdBody = CreateHouseholdBody.extend({ keyHolderNote: CreateHouseholdBody.shape.keyHolderNote.unwrap().nullable() }).partial().strict();
export type UpdateHouseholdBody = z.infer<typeof UpdateHouseholdBody>;

export const CreateResidentBody = ResidentInput;
export type CreateResidentBody = z.infer<typeof CreateResidentBody>;
const r = ResidentInput.shape;
/** Every field optional; null clears an optional one. The chain has its own routes. */
export const UpdateResidentBody = z
  .object({
    name: r.name,
    sex: r.sex.unwrap().nullable(),
    birthYear: r.birthYear.unwrap().nullable(),
    idNumber: IdNumber.nullable(),
    phone: PhoneNumber.nullable(),
    category: r.category.unwrap().nullable(),
    medicalNotes: r.medicalNotes.unwrap().nullable(),
    conditions: r.conditions.unwrap(),
    medicationNotes: r.medicationNotes.unwrap().nullable(),
    careLevel: r.careLevel.unwrap(),
    livingSituation: r.livingSituation.unwrap().nullable(),
    measures: r.measures.unwrap().nullable(),
    notes: r.notes.unwrap().nullable(),
    guardianName: r.guardianName.unwrap().nullable(),
    guardianWorkplace: r.guardianWorkplace.unwrap().nullable(),
    guardianPhone: PhoneNumber.nullable(),
    joinedOn: r.joinedOn.unwrap(),
  })
  .partial()
  .strict();
export type UpdateResidentBody = z.infer<typeof UpdateResidentBody>;

export const CreateContactBody = ContactInput;
export type CreateContactBody = z.infer<typeof CreateContactBody>;
export const UpdateContactBody = ContactInput.extend({ post: ContactInput.shape.post.unwrap().nullable() }).partial().strict();
export type UpdateContactBody = z.infer<typeof UpdateContactBody>;
/** The whole chain in its new order: every contact of the resident exactly once. */
export const ReorderContactsBody = z.object({ contactIds: z.array(Id).min(1).max(20) }).strict();
export type ReorderContactsBody = z.infer<typeof ReorderContactsBody>;

export const CreateDeviceBody = z
  .object({
    kind: DeviceKind,
    label: z.string().trim().max(64).optional(),
    /** The resident a personal device (pendant) belongs to; absent = shared by the household. */
    residentId: Id.optional(),
    exit: z.boolean().optional(),
  })
  .strict();
export type CreateDeviceBody = z.infer<typeof CreateDeviceBody>;
export const UpdateDeviceBody = z
  .object({ label: z.string().trim().max(64).nullable(), residentId: Id.nullable(), exit: z.boolean() })
  .partial()
  .strict();
export type UpdateDeviceBody = z.infer<typeof UpdateDeviceBody>;

export const ResidentListQuery = z.object({ villageId: Id.optional() }).strict();
export const DeviceListQuery = z
  .object({
    villageId: Id.optional(),
    /** Only devices with this problem; `any` = any problem. */
    problem: z.enum(['any', 'offline', 'lowBattery', 'neverSeen', 'unstable']).optional(),
  })
  .strict();
export type DeviceListQuery = z.infer<typeof DeviceListQuery>;
export const DeviceHistoryQuery = z.object({ days: z.coerce.number().int().min(1).max(90).default(7) }).strict();

// --- views ------------------------------------------------------------------------

export const VillageView = z.object({
  id: z.string(),
  name: z.string(),
  township: z.string().nullable(),
  county: z.string().nullable(),
  timezone: z.string(),
  lat: z.number(),
  lng: z.number(),
  households: z.number().int().nonnegative(),
});
export type VillageView = z.infer<typeof VillageView>;

export const ContactView = z.object({
  id: z.string(),
  position: z.number().int().nonnegative(),
  name: z.string(),
  role: ContactRole,
  /** In clear for roles that call the chain, else 138****5678. */
  phone: z.string(),
  phoneMasked: z.boolean(),
  post: z.string().nullable(),
});
export type ContactView = z.infer<typeof ContactView>;

/** unstable: the connection keeps dropping (more than 6 changes in 2 min, until 5 quiet minutes): shown instead of online/offline. */
export const DEVICE_PROBLEMS = ['offline', 'lowBattery', 'neverSeen', 'unstable'] as const;
export const DeviceProblem = z.enum(DEVICE_PROBLEMS);
export type DeviceProblem = z.infer<typeof DeviceProblem>;

export const DeviceView = z.object({
  id: z.string(),
  householdId: z.string(),
  villageId: z.string(),
  /** null: shared by the household. */
  residentId: z.string().nullable(),
  kind: DeviceKind,
  label: z.string().nullable(),
  exit: z.boolean(),
  online: z.boolean(),
  lastSeenAt: EpochMs.nullable(),
  firmware: z.string().nullable(),
  batteryPct: z.number().nullable(),
  createdAt: EpochMs,
  /** What is wrong with it now; empty = fine. */
  problems: z.array(DeviceProblem),
});
export type DeviceView = z.infer<typeof DeviceView>;

export const ResidentView = z.object({
  id: z.string(),
  householdId: z.string(),
  villageId: z.string(),
  name: z.string(),
  sex: z.enum(['F', 'M']).nullable(),
  birthYear: z.number().int().nullable(),
  age: z.number().int().nullable(),
  idNumber: z.string().nullable(),
  idNumberMasked: z.boolean(),
  phone: z.string().nullable(),
  phoneMasked: z.boolean(),
  /** The policy's category code (township.ts PERSON_CATEGORIES has the labels). */
  category: PersonCategory.nullable(),
  medicalNotes: z.string().nullable(),
  conditions: z.array(z.string()),
  medicationNotes: z.string().nullable(),
  // The person record (docs/township.md); GET /api/registry/people/:id has all of it with the next visit.
  careLevel: CareLevel,
  livingSituation: LivingSituation.nullable(),
  measures: z.string().nullable(),
  notes: z.string().nullable(),
  guardianName: z.string().nullable(),
  guardianWorkplace: z.string().nullable(),
  /** Masked like the other phones. */
  guardianPhone: z.string().nullable(),
  joinedOn: z.string(),
  /** The day the person left the registry (YYYY-MM-DD); null: in the registry. */
  leftOn: z.string().nullable(),
  away: z.boolean(),
  awaySince: EpochMs.nullable(),
  contacts: z.array(ContactView),
});
export type ResidentView = z.infer<typeof ResidentView>;

export const HouseholdView = z.object({
  id: z.string(),
  villageId: z.string(),
  address: z.string(),
  lat: z.number(),
  lng: z.number(),
  keyHolderNote: z.string().nullable(),
  residents: z.array(ResidentView),
  devices: z.array(DeviceView),
});
export type HouseholdView = z.infer<typeof HouseholdView>;

/** One line of the residents list. */
export const ResidentSummary = z.object({
  id: z.string(),
  name: z.string(),
  sex: z.enum(['F', 'M']).nullable(),
  age: z.number().int().nullable(),
  address: z.string(),
  villageId: z.string(),
  villageName: z.string(),
  away: z.boolean(),
  activeAlarms: z.number().int().nonnegative(),
  deviceProblems: z.number().int().nonnegative(),
});
export type ResidentSummary = z.infer<typeof ResidentSummary>;

/** A case on the resident card (the queue has the full case). */
export const CardAlarm = z.object({
  id: z.string(),
  kind: AlarmKind,
  severity: Severity,
  status: AlarmStatus,
  openedAt: EpochMs,
  takenBy: z.string().nullable(),
  resolvedAt: EpochMs.nullable(),
  resolutionNote: z.string().nullable(),
});
export type CardAlarm = z.infer<typeof CardAlarm>;

/** Signs of life in one local day, per half hour. */
export const ActivityDay = z.object({
  /** Local date, YYYY-MM-DD. */
  date: z.string(),
  /** 48 counts, slot 0 = 00:00–00:30 local time. */
  slots: z.array(z.number().int().nonnegative()).length(48),
  /** Local minute of the day's first sign of life after 04:00 (the getting-up time, roughly); null: none. */
  firstMin: z.number().int().min(0).max(1439).nullable(),
});
export type ActivityDay = z.infer<typeof ActivityDay>;

export const ResidentCard = z.object({
  resident: ResidentView,
  household: z.object({ id: z.string(), address: z.string(), lat: z.number(), lng: z.number(), keyHolderNote: z.string().nullable() }),
  village: z.object({ id: z.string(), name: z.string(), timezone: z.string() }),
  devices: z.array(DeviceView),
  openAlarms: z.array(CardAlarm),
  pastAlarms: z.array(CardAlarm),
  activity: z.object({
    /** The last 7 local days, oldest first; the last is today. */
    days: z.array(ActivityDay),
    /** Usual getting-up time as the inactivity detector learned it (local minute); null: not learned yet. */
    usualWakeMin: z.number().int().min(0).max(1439).nullable(),
    /** Today's own getting-up time when this weekday is a learned lie-in. */
    todayWakeMin: z.number().int().min(0).max(1439).nullable(),
    lastActivityAt: EpochMs.nullable(),
  }),
  /** Whether this user may switch away mode / edit the registry. */
  canSetAway: z.boolean(),
  canEdit: z.boolean(),
});
export type ResidentCard = z.infer<typeof ResidentCard>;

export const DEVICE_HISTORY_KINDS = ['online', 'offline', 'battery'] as const;
export const DeviceHistoryEntry = z.object({
  at: EpochMs,
  kind: z.enum(DEVICE_HISTORY_KINDS),
  /** Battery %, for `battery`; null otherwise. */
  value: z.number().nullable(),
});
export type DeviceHistoryEntry = z.infer<typeof DeviceHistoryEntry>;

export const DeviceHealthRow = DeviceView.extend({
  address: z.string(),
  villageName: z.string(),
  residentName: z.string().nullable(),
});
export type DeviceHealthRow = z.infer<typeof DeviceHealthRow>;
export const DeviceHealthList = z.object({
  devices: z.array(DeviceHealthRow),
  counts: z.object({ total: z.number().int(), offline: z.number().int(), lowBattery: z.number().int(), neverSeen: z.number().int(), unstable: z.number().int().optional() }),
});
export type DeviceHealthList = z.infer<typeof DeviceHealthList>;
export const DeviceHistory = z.object({ device: DeviceHealthRow, entries: z.array(DeviceHistoryEntry) });
export type DeviceHistory = z.infer<typeof DeviceHistory>;
