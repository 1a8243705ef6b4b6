/**
 * Another process holding the write lock of a database, as a sqlite3 shell
 * with an open transaction or a backup tool would: a child Node process that
 * runs BEGIN EXCLUSIVE through better-sqlite3 and commits when told.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

const BETTER_SQLITE3 = createRequire(import.meta.url).resolve('better-sqlite3');

const SCRIPT = `
const Database = require(process.argv[1]);
const db = new Database(process.argv[2], { timeout: 10000 });
db.exec('BEGIN EXCLUSIVE');
process.stdout.write('locked\\n');
process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.stdout.write('released\\n'); process.exit(0); });
`;

export interface HeldLock {
  /** When the child reported the lock taken (Date.now()). */
  lockedAt: number;
  /** Commits and ends the child; resolves with the time it was told to (Date.now()): no write of ours can commit before it. */
  release(): Promise<number>;
}

/** Takes the write lock of `file` in another process; resolves once it is held. */
export function lockDatabase(file: string): Promise<HeldLock> {
  const child = spawn(process.execPath, ['-e', SCRIPT, BETTER_SQLITE3, file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('locked\n')) {
        child.stdout.off('data', onData);
        const lockedAt = Date.now();
        resolve({
          lockedAt,
          release: async () => {
            const toldAt = Date.now();
            child.stdin.write('go\n');
            await exited;
            return toldAt;
          },
        });
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`the lock holder exited (${code}) before it held the lock: ${err}`)));
  });
}
