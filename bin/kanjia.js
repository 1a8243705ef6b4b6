#!/usr/bin/env node
// The `kanjia` command (npx kanjia …). The code is TypeScript compiled to
// server/dist by `npm run build`.
import { existsSync } from 'node:fs';

const cli = new URL('../server/dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write('kanjia: not built yet. Run "npm run build" (or "npm run demo", which builds first).\n');
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = await main(process.argv.slice(2));
