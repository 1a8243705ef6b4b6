#!/usr/bin/env node
/**
 * node alerts/dist/testing/local-links-cli.js twilio --account-sid AC… --auth-token T
 * node alerts/dist/testing/local-links-cli.js robots --dingtalk TOKEN=SEC… --wecom KEY
 * Prints one JSON line when listening and one per accepted message or post; stops on SIGINT/SIGTERM.
 */
import { runLocalLinksCommand } from './local-links-command.js';

const fail = (why: string, code: number): never => {
  process.stderr.write(`local-links: ${why}\n`);
  process.exit(code);
};

const running = await runLocalLinksCommand(process.argv.slice(2), {
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
}).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err), 2));

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    running.server.stop().then(
      () => process.exit(0),
      (err: unknown) => fail(`could not stop cleanly: ${String(err)}`, 1),
    );
  });
}
