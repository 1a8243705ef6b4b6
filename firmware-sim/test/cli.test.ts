import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceCommand } from '@kanjia/protocol';
import { SIM_EXIT, runSimCli, type SimCliIo } from '@kanjia/firmware-sim';
import { Cleanup, TestBroker, sleep, waitFor } from './harness.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

interface CapturedIo extends SimCliIo {
  out: string[];
  err: string[];
}

function captureIo(signal?: AbortSignal): CapturedIo {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: (l) => out.push(l), stderr: (l) => err.push(l), signal, env: {} };
}

async function startBroker(authenticate?: ConstructorParameters<typeof TestBroker>[0]): Promise<TestBroker> {
  const broker = cleanup.add(new TestBroker(authenticate));
  await broker.start();
  return broker;
}

async function tempFile(name: string, content: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'kanjia-sim-'));
  cleanup.defer(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, name);
  await writeFile(file, content);
  return file;
}

const device = (url: string, ...more: string[]): string[] => ['device', '--url', url, '--id', 'btn-0001', '--secret', 'secret-0001', '--resend-ms', '100', ...more];

describe('kanjia sim CLI', () => {
  it('--help exits 0 and prints the usage of both commands and the exit codes', async () => {
    const io = captureIo();
    expect(await runSimCli(['--help'], io)).toBe(SIM_EXIT.ok);
    const usage = io.out.join('\n');
    expect(usage).toContain('kanjia sim device --id');
    expect(usage).toContain('kanjia sim household --file');
    expect(usage).toContain('Exit codes');
  });

  it('exits 2 with a clear message on an unknown option and on a missing --id', async () => {
    const io = captureIo();
    expect(await runSimCli(['device', '--bogus'], io)).toBe(SIM_EXIT.usage);
    expect(io.err.join('\n')).toMatch(/Unknown option '--bogus'/);
    const io2 = captureIo();
    expect(await runSimCli(['device', '--secret', 'x', '--press', 'boom'], io2)).toBe(SIM_EXIT.usage);
    expect(io2.err.join('\n')).toContain('--id is required; --press must be one of sos, checkIn, cancel, got "boom"');
  });

  it('device --press sos exits 0 once `received` arrives, with 1 JSON line on stdout and the beep on stderr', async () => {
    const broker = await startBroker();
    const io = captureIo();

    const code = await runSimCli(device(broker.url, '--press', 'sos', '--timeout-ms', '5000'), io);

    expect(code).toBe(SIM_EXIT.ok);
    expect(io.out).toHaveLength(1);
    const line = JSON.parse(io.out[0] ?? '') as { deviceId: string; command: unknown };
    expect(line.deviceId).toBe('btn-0001');
    const command = DeviceCommand.parse(line.command);
    expect(command.type).toBe('received');
    expect(broker.copies.map((c) => c.event.id)).toEqual([(command as { eventId: string }).eventId]);
    expect(io.err.some((l) => l.startsWith('[btn-0001] 嘀 — 已收到求助 (received sos btn-0001-'))).toBe(true);
  });

  it('device --press sos --wait-taken exits 0 only after `taken`, printing 2 JSON lines', async () => {
    const broker = await startBroker();
    broker.sendTaken = true;
    const io = captureIo();

    const code = await runSimCli(device(broker.url, '--press', 'sos', '--wait-taken', '--timeout-ms', '5000'), io);

    expect(code).toBe(SIM_EXIT.ok);
    expect(io.out.map((l) => (JSON.parse(l) as { command: { type: string } }).command.type)).toEqual(['received', 'taken']);
  });

  it('device exits 3 with a clear message when the broker refuses the credentials', async () => {
    const broker = await startBroker(() => false);
    const io = captureIo();

    const code = await runSimCli(device(broker.url, '--press', 'sos', '--timeout-ms', '5000'), io);

    expect(code).toBe(SIM_EXIT.refused);
    expect(io.err.at(-1)).toMatch(/^kanjia sim: broker mqtt:\/\/127\.0\.0\.1:\d+ refused the credentials of device btn-0001 .*check the device id and secret$/);
    expect(io.err.join('\n')).not.toContain('secret-0001');
    expect(broker.copies).toHaveLength(0);
  });

  it('device exits 4 after --timeout-ms 800 when nobody acknowledges, having sent 3 or more copies (resends after 100–200 ms, then 200–400 ms)', async () => {
    const broker = await startBroker();
    broker.ackPolicy = () => 'ignore';
    const io = captureIo();

    const code = await runSimCli(device(broker.url, '--press', 'sos', '--timeout-ms', '800'), io);

    expect(code).toBe(SIM_EXIT.timeout);
    expect(io.err.at(-1)).toMatch(/^kanjia sim: no "received" for sos btn-0001-\S+ within 800 ms \(\d copies sent\)/);
    expect(broker.copies.length).toBeGreaterThanOrEqual(3);
  });

  it('device without --press stays online until interrupted, prints commands it receives, then exits 0', async () => {
    const broker = await startBroker();
    const controller = new AbortController();
    const io = captureIo(controller.signal);

    const running = runSimCli(device(broker.url), io);
    await waitFor('the connection', () => io.err.some((l) => l.includes('(online mqtt://')));
    await broker.sendCommand('btn-0001', { id: 'srv-1', ts: Date.now(), type: 'remind', reason: 'checkIn' });
    await waitFor('the remind line', () => io.out.length === 1);
    controller.abort();

    expect(await running).toBe(SIM_EXIT.ok);
    expect(io.err).toContain('[btn-0001] 嘀嘀 — 请按平安键报平安 (remind checkIn)');
  });

  it('household --file with 4 problems exits 2 and lists all 4', async () => {
    const file = await tempFile(
      'creds.json',
      JSON.stringify([
        { deviceId: 'hh1-sos', secret: '', kind: 'sosButton' },
        { deviceId: 'a/b', secret: 's', kind: 'toaster' },
        { deviceId: 'hh1-sos', secret: 's', kind: 'pendant' },
      ]),
    );
    const io = captureIo();

    expect(await runSimCli(['household', '--file', file], io)).toBe(SIM_EXIT.usage);

    const message = io.err.join('\n');
    expect(message).toContain('is not a valid household credentials file (4 problems):');
    expect(message.split('\n').filter((l) => l.startsWith('  - '))).toHaveLength(4);
  });

  it('household --press sos presses the household SOS button and exits 0 when received', async () => {
    const broker = await startBroker();
    const file = await tempFile(
      'creds.json',
      JSON.stringify([
        { deviceId: 'hh1-motion', secret: 's2', kind: 'motionSensor' },
        { deviceId: 'hh1-sos', secret: 's1', kind: 'sosButton', householdId: 'h1', residentId: null },
      ]),
    );
    const io = captureIo();

    const code = await runSimCli(['household', '--url', broker.url, '--file', file, '--press', 'sos', '--resend-ms', '100', '--timeout-ms', '5000'], io);

    expect(code).toBe(SIM_EXIT.ok);
    expect(broker.copies.map((c) => c.deviceId)).toEqual(['hh1-sos']);
    expect(JSON.parse(io.out[0] ?? '')).toMatchObject({ deviceId: 'hh1-sos', command: { type: 'received' } });
    await sleep(50);
    expect(broker.connects.map((c) => c.clientId).sort()).toEqual(['hh1-motion', 'hh1-sos']);
  });
});
