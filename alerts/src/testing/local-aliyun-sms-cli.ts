#!/usr/bin/env node
/**
 * node alerts/dist/testing/local-aliyun-sms-cli.js [--api voice] --port 0 --access-key-id ID --access-key-secret SECRET
 * Prints one JSON line when listening and one per accepted SMS (or call); stops on SIGINT/SIGTERM.
 */
import { runLocalAliyunSmsCommand } from './local-aliyun-sms-command.js';

const io = {
  stdout: (line: string) => process.stdout.write(`${line}\n`),
  stderr: (line: string) => process.stderr.write(`${line}\n`),
  env: process.env,
};

try {
  const { server } = await runLocalAliyunSmsCommand(process.argv.slice(2), io);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    server.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        io.stderr(`local-aliyun-sms: could not stop cleanly: ${String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  io.stderr(`local-aliyun-sms: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
}
