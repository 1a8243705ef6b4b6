/**
 * Scripted incidents of a simulated household: what goes wrong, and when.
 * The person-facing ones (a fall, an incapacitation, being overcome by carbon
 * monoxide) change what the home's sensors see from then on; the others change
 * the environment (a CO leak, a house going cold) or the devices (a flat
 * battery, a power cut).
 *
 * On the command line an incident is written `kind@when[,key=value…]`:
 *
 *   fall@2026-11-23T09:30            a fall, the person stays on the floor
 *   fall@+26h,getsUp                 a fall the person gets up from (presses cancel)
 *   incapacitation@+30h,where=bed    a stroke in bed
 *   co@+20h,peak=600,ramp=45,overcomes
 *   cold@+18h                        the stove goes out
 *   battery@+3d,device=sosButton     the button's battery runs flat
 *   powerCut@+22h,minutes=180
 *
 * `when` is a local date-time in the household's time zone (`YYYY-MM-DDTHH:mm`)
 * or an offset from the start (`+90m`, `+26h`, `+3d`).
 */
import { DeviceKind, formatLocalDateTime, fromLocalMs, KanjiaError } from '@kanjia/protocol';

const MIN = 60_000;

export type LifeIncident =
  | {
      kind: 'fall';
      atMs: number;
      /** Gets up within the grace period and presses cancel; otherwise lies on the floor from then on. */
      getsUp?: boolean;
    }
  | {
      kind: 'incapacitation';
      atMs: number;
      /** Default: in bed when asleep at that moment, else on the floor. */
      where?: 'bed' | 'floor';
    }
  | {
      kind: 'coLeak';
      atMs: number;
      /** Concentration the room reaches, ppm (default 400). */
      peakPpm?: number;
      /** Minutes from the start of the leak to the peak (default 60). */
      rampMin?: number;
      /** The person loses consciousness at the peak (where they are). */
      overcomes?: boolean;
    }
  | {
      /** The stove goes out (or is not lit) in the cold season: the room cools towards the outdoor temperature. */
      kind: 'coldHouse';
      atMs: number;
    }
  | {
      /** The battery of a device runs down over the two days before and the device dies at `atMs`. */
      kind: 'deadBattery';
      atMs: number;
      /** Which device (first of that kind); default the emergency button (sosButton, else pendant). */
      device?: DeviceKind;
    }
  | {
      /** Mains-powered devices (power meter, hub) go dead, appliances stop, for `minutes` (default 120). */
      kind: 'powerCut';
      atMs: number;
      minutes?: number;
    };

export type LifeIncidentKind = LifeIncident['kind'];

/** Command-line names of the incident kinds. */
const NAMES: Readonly<Record<string, LifeIncidentKind>> = {
  fall: 'fall',
  incapacitation: 'incapacitation',
  co: 'coLeak',
  coLeak: 'coLeak',
  cold: 'coldHouse',
  coldHouse: 'coldHouse',
  battery: 'deadBattery',
  deadBattery: 'deadBattery',
  powerCut: 'powerCut',
};

export class IncidentSpecError extends KanjiaError<'INCIDENT_SPEC_INVALID'> {
  override readonly name = 'IncidentSpecError';
  constructor(message: string) {
    super('INCIDENT_SPEC_INVALID', message);
  }
}

/**
 * Parses `kind@when[,key=value…]` (see the module comment); `startMs` anchors
 * offsets, `timeZone` local date-times. Throws IncidentSpecError with every
 * problem of the spec in the message.
 */
export function parseIncidentSpec(spec: string, startMs: number, timeZone: string): LifeIncident {
  const problems: string[] = [];
  const [head = '', ...options] = spec.split(',').map((part) => part.trim());
  const at = head.indexOf('@');
  const name = at < 0 ? head : head.slice(0, at);
  const when = at < 0 ? '' : head.slice(at + 1);
  const kind = NAMES[name];
  if (kind === undefined) problems.push(`unknown incident "${name}" (one of ${Object.keys(NAMES).join(', ')})`);
  const atMs = parseWhen(when, startMs, timeZone);
  if (atMs === undefined) problems.push(`"${when}" is not a time: give YYYY-MM-DDTHH:mm (village time) or +90m / +26h / +3d`);
  const values = new Map<string, string>();
  for (const option of options) {
    if (option === '') continue;
    const eq = option.indexOf('=');
    values.set(eq < 0 ? option : option.slice(0, eq), eq < 0 ? 'true' : option.slice(eq + 1));
  }
  const take = (key: string): string | undefined => {
    const v = values.get(key);
    values.delete(key);
    return v;
  };
  const positive = (key: string, max: number): number | undefined => {
    const raw = take(key);
    if (raw === undefined) return undefined;
    const n = Number(raw);
    if (!(Number.isFinite(n) && n > 0 && n <= max)) {
      problems.push(`${key}=${raw}: a number above 0 and at most ${max}`);
      return undefined;
    }
    return n;
  };
  const flag = (key: string): boolean | undefined => {
    const raw = take(key);
    if (raw === undefined) return undefined;
    if (raw !== 'true' && raw !== 'false') problems.push(`${key}=${raw}: true or false`);
    return raw === 'true';
  };
  let incident: LifeIncident | undefined;
  const t = atMs ?? 0;
  switch (kind) {
    case 'fall': {
      const getsUp = flag('getsUp');
      incident = { kind, atMs: t, ...(getsUp !== undefined ? { getsUp } : {}) };
      break;
    }
    case 'incapacitation': {
      const where = take('where');
      if (where !== undefined && where !== 'bed' && where !== 'floor') problems.push(`where=${where}: bed or floor`);
      incident = { kind, atMs: t, ...(where === 'bed' || where === 'floor' ? { where } : {}) };
      break;
    }
    case 'coLeak': {
      const peakPpm = positive('peak', 10_000);
      const rampMin = positive('ramp', 24 * 60);
      const overcomes = flag('overcomes');
      incident = { kind, atMs: t, ...(peakPpm !== undefined ? { peakPpm } : {}), ...(rampMin !== undefined ? { rampMin } : {}), ...(overcomes !== undefined ? { overcomes } : {}) };
      break;
    }
    case 'coldHouse':
      incident = { kind, atMs: t };
      break;
    case 'deadBattery': {
      const device = take('device');
      const parsed = device === undefined ? undefined : DeviceKind.safeParse(device);
      if (parsed !== undefined && !parsed.success) problems.push(`device=${device}: one of ${DeviceKind.options.join(', ')}`);
      incident = { kind, atMs: t, ...(parsed?.success === true ? { device: parsed.data } : {}) };
      break;
    }
    case 'powerCut': {
      const minutes = positive('minutes', 7 * 24 * 60);
      incident = { kind, atMs: t, ...(minutes !== undefined ? { minutes } : {}) };
      break;
    }
    default:
      break;
  }
  for (const key of values.keys()) problems.push(`"${key}" is not an option of ${name}`);
  if (problems.length > 0 || incident === undefined) throw new IncidentSpecError(`incident "${spec}": ${problems.join('; ')}`);
  return incident;
}

function parseWhen(when: string, startMs: number, timeZone: string): number | undefined {
  const offset = /^\+(\d+(?:\.\d+)?)(m|h|d)$/.exec(when);
  if (offset) {
    const n = Number(offset[1]);
    const unit = offset[2] === 'm' ? MIN : offset[2] === 'h' ? 60 * MIN : 24 * 60 * MIN;
    return Math.round(startMs + n * unit);
  }
  const local = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})$/.exec(when);
  if (!local) return undefined;
  const [, y, mo, d, h, mi] = local.map(Number) as [number, number, number, number, number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  // Date.UTC rolls 31 February over into March: a date that does not exist is refused.
  const back = new Date(wall);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59) return undefined;
  return fromLocalMs(timeZone, wall);
}

/** A sentence for logs: what happens and when (in `timeZone`, else UTC ISO). */
export function describeIncident(incident: LifeIncident, timeZone?: string): string {
  const at = timeZone === undefined ? new Date(incident.atMs).toISOString() : formatLocalDateTime(timeZone, incident.atMs);
  switch (incident.kind) {
    case 'fall':
      return `${at} fall (${incident.getsUp === true ? 'gets up and presses cancel' : 'stays on the floor'})`;
    case 'incapacitation':
      return `${at} incapacitation${incident.where ? ` in ${incident.where}` : ''}`;
    case 'coLeak':
      return `${at} carbon monoxide leak to ${incident.peakPpm ?? DEFAULT_CO_PEAK_PPM} ppm over ${incident.rampMin ?? DEFAULT_CO_RAMP_MIN} min${incident.overcomes === true ? ', the person is overcome' : ''}`;
    case 'coldHouse':
      return `${at} the stove goes out: the house cools down`;
    case 'deadBattery':
      return `${at} the ${incident.device ?? 'emergency button'}'s battery is flat`;
    case 'powerCut':
      return `${at} power cut for ${incident.minutes ?? DEFAULT_POWER_CUT_MIN} min`;
  }
}

export const DEFAULT_CO_PEAK_PPM = 400;
export const DEFAULT_CO_RAMP_MIN = 60;
export const DEFAULT_POWER_CUT_MIN = 120;
