/**
 * The bench's registry: N households of one resident each (unique name, one
 * helper with a unique phone, one SOS button), in villages of 500, imported
 * with the real `kanjia import` in one transaction; the secrets go to a file
 * (--out), not through a pipe (10,000 of them are over a megabyte).
 */
import type { DeviceCredentials, HouseholdInput, RegistryFile } from '@kanjia/protocol';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KANJIA_BIN, cleanEnv, household } from '../harness.js';

const PER_VILLAGE = 500;

/** Resident name of device i: what the SMS names, so an SMS request maps back to its press. */
export const residentName = (i: number): string => `老人${String(i).padStart(5, '0')}`;

export function provisionDevices(env: Record<string, string>, count: number): { devices: DeviceCredentials[]; ms: number } {
  const dir = env.KANJIA_DATA_DIR!;
  const villages: RegistryFile['villages'] = [];
  for (let v = 0; v * PER_VILLAGE < count; v++) {
    const households: HouseholdInput[] = [];
    for (let i = v * PER_VILLAGE; i < Math.min(count, (v + 1) * PER_VILLAGE); i++) {
      households.push(household(`压测${v + 1}村${Math.floor((i % PER_VILLAGE) / 50) + 1}组${(i % 50) + 1}号`, residentName(i), [['帮扶人', 'helper', `139${String(i).padStart(8, '0')}`]]));
    }
    villages.push({ name: `压测${v + 1}村`, timezone: 'Asia/Shanghai', lat: 27.11, lng: 111.03, households });
  }
  const file = join(dir, 'bench-registry.json');
  const out = join(dir, 'bench-secrets.json');
  writeFileSync(file, JSON.stringify({ villages } satisfies RegistryFile));
  const started = performance.now();
  const r = spawnSync(process.execPath, [KANJIA_BIN, 'import', file, '--out', out], { env: { ...cleanEnv(), ...env }, encoding: 'utf8', timeout: 300_000 });
  const ms = performance.now() - started;
  if (r.status !== 0) throw new Error(`kanjia import of ${count} households failed (${r.status ?? r.signal}): ${r.stderr}`);
  const devices = (JSON.parse(readFileSync(out, 'utf8')) as { devices: DeviceCredentials[] }).devices;
  if (devices.length !== count) throw new Error(`kanjia import made ${devices.length} devices, not ${count}`);
  return { devices, ms };
}
