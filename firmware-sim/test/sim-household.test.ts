import { afterEach, describe, expect, it } from 'vitest';
import { SimHousehold, lineLogger, parseHouseholdFile } from '@kanjia/firmware-sim';
import { Cleanup, TestBroker } from './harness.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const CREDENTIALS = [
  { deviceId: 'hh1-sos', secret: 's1', kind: 'sosButton' },
  { deviceId: 'hh1-motion', secret: 's2', kind: 'motionSensor' },
  { deviceId: 'hh1-checkin', secret: 's3', kind: 'checkInButton' },
] as const;

describe('SimHousehold', () => {
  it('starts 3 devices of one household, exposes them by kind, and its SOS button press is acknowledged', async () => {
    const broker = cleanup.add(new TestBroker());
    await broker.start();
    const lines: string[] = [];
    const household = cleanup.add(
      new SimHousehold({ brokerUrl: broker.url, devices: CREDENTIALS, resendIntervalMs: 100, logger: lineLogger((l) => lines.push(l)) }),
    );
    await household.start();

    expect(household.devices.map((d) => d.online)).toEqual([true, true, true]);
    expect(household.sosButton().deviceId).toBe('hh1-sos');
    expect(household.checkInButton().deviceId).toBe('hh1-checkin');
    expect(household.byKind('motionSensor').map((d) => d.deviceId)).toEqual(['hh1-motion']);
    expect(household.kindOf(household.devices[1]!)).toBe('motionSensor');
    const handle = household.pressSos();
    await expect(handle.received).resolves.toMatchObject({ eventId: handle.eventId });
    expect(broker.copiesOf(handle.eventId)[0]?.deviceId).toBe('hh1-sos');
    expect(() => new SimHousehold({ brokerUrl: broker.url, devices: [CREDENTIALS[1]] }).sosButton()).toThrow(/no sosButton or pendant/);
  });

  it('falls back to the pendant when there is no sosButton', () => {
    const household = new SimHousehold({ brokerUrl: 'mqtt://127.0.0.1:1', devices: [{ deviceId: 'hh2-pendant', secret: 's', kind: 'pendant' }] });
    expect(household.sosButton().deviceId).toBe('hh2-pendant');
  });

  it('start() rejects with AUTH_REFUSED naming the 1 refused device of 2, and stops the other', async () => {
    const broker = cleanup.add(new TestBroker((_id, username, password) => username !== 'hh1-motion' || password === 'right'));
    await broker.start();
    const household = cleanup.add(new SimHousehold({ brokerUrl: broker.url, devices: CREDENTIALS.slice(0, 2), logger: lineLogger(() => undefined) }));

    await expect(household.start()).rejects.toMatchObject({ code: 'AUTH_REFUSED', message: expect.stringMatching(/1 of 2 device\(s\).*hh1-motion/) as string });
    expect(household.devices.map((d) => d.online)).toEqual([false, false]);
  });
});

describe('parseHouseholdFile', () => {
  it('accepts the registry output as is (extra householdId/residentId keys ignored)', () => {
    const result = parseHouseholdFile(JSON.stringify([{ deviceId: 'hh1-sos', secret: 's', kind: 'sosButton', householdId: 'h1', residentId: null }]));
    expect(result).toEqual({ ok: true, devices: [{ deviceId: 'hh1-sos', secret: 's', kind: 'sosButton' }] });
  });

  it('lists every problem of a bad file: 4 problems in 3 entries give 4 lines with their places', () => {
    const result = parseHouseholdFile(
      JSON.stringify([
        { deviceId: 'hh1-sos', secret: '', kind: 'sosButton' },
        { deviceId: 'a/b', secret: 's', kind: 'toaster' },
        { deviceId: 'hh1-sos', secret: 's', kind: 'pendant' },
      ]),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems).toHaveLength(4);
    expect(result.problems[0]).toMatch(/^\[0\]\.secret: /);
    expect(result.problems.some((p) => p.startsWith('[1].deviceId: '))).toBe(true);
    expect(result.problems.some((p) => p.startsWith('[1].kind: '))).toBe(true);
    expect(result.problems.some((p) => p.startsWith('[2].deviceId: device id hh1-sos appears more than once'))).toBe(true);
  });

  it('says "not JSON" for a file that is not JSON', () => {
    expect(parseHouseholdFile('[{')).toMatchObject({ ok: false, problems: [expect.stringMatching(/^not JSON/) as string] });
  });
});
