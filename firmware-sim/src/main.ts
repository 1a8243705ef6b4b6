#!/usr/bin/env node
/** Entry point: `node firmware-sim/dist/main.js device --id … --secret … --press sos`. */
import { runSimCli } from './cli.js';

const controller = new AbortController();
const interrupt = (): void => controller.abort();
process.once('SIGINT', interrupt);
process.once('SIGTERM', interrupt);

process.exitCode = await runSimCli(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  signal: controller.signal,
  env: process.env,
});
process.off('SIGINT', interrupt);
process.off('SIGTERM', interrupt);
