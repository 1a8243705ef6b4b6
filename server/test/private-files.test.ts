import { chmodSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { securePrivateTree, SecretOutFile, type ModeFix } from '../src/private-files.js';
import { KanjiaSystem } from '../src/system.js';
import { RecordingSender, tempDataDir } from './helpers.js';

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('private files', () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it('a fresh start creates every file private even under a permissive umask (022): explicit modes, not the umask alone', async () => {
    const tmp = tempDataDir();
    cleanups.push(tmp.cleanup);
    const dataDir = join(tmp.dir, 'data');
    const previous = process.umask(0o022);
    cleanups.push(() => process.umask(previous));
    const settings = loadSettings({}, { overrides: { dataDir, httpPort: 0, mqttPort: 0, mqttHost: '127.0.0.1', logLevel: 'silent' } });
    const system = new KanjiaSystem({ settings, smsSender: new RecordingSender(), logger: createLogger('silent') });
    await system.start();
    try {
      expect(modeOf(dataDir)).toBe(0o700);
      for (const name of ['kanjia.sqlite', 'kanjia.sqlite-wal', 'kanjia.sqlite-shm', 'device-key', 'kanjia.pid']) expect(modeOf(join(dataDir, name)), name).toBe(0o600);
    } finally {
      await system.stop();
    }
  });

  it('securePrivateTree takes group and others away (owner bits kept), leaves private files alone and does not follow symbolic links', () => {
    const tmp = tempDataDir();
    cleanups.push(tmp.cleanup);
    const root = join(tmp.dir, 'data');
    mkdirSync(join(root, 'sub'), { recursive: true });
    chmodSync(root, 0o775);
    writeFileSync(join(root, 'wide.json'), '{}');
    chmodSync(join(root, 'wide.json'), 0o664);
    writeFileSync(join(root, 'sub', 'script'), '');
    chmodSync(join(root, 'sub', 'script'), 0o755);
    writeFileSync(join(root, 'private'), '');
    chmodSync(join(root, 'private'), 0o600);
    const outside = join(tmp.dir, 'outside.txt');
    writeFileSync(outside, '');
    chmodSync(outside, 0o644);
    symlinkSync(outside, join(root, 'link'));
    const seen: ModeFix[] = [];
    securePrivateTree(root, (f) => seen.push(f));
    expect(seen.map((f) => [f.path.slice(root.length), f.oldMode, f.newMode]).sort()).toEqual(
      [
        ['', '0775', '0700'],
        ['/sub', '0755', '0700'],
        ['/sub/script', '0755', '0700'],
        ['/wide.json', '0664', '0600'],
      ].sort(),
    );
    expect(modeOf(outside)).toBe(0o644);
    expect(modeOf(join(root, 'private'))).toBe(0o600);
  });

  it('SecretOutFile refuses an existing file without force, and leaves nothing behind when discarded', () => {
    const tmp = tempDataDir();
    cleanups.push(tmp.cleanup);
    const file = join(tmp.dir, 'secrets.json');
    const out = SecretOutFile.open(file, false);
    expect(() => SecretOutFile.open(file, false)).toThrow(expect.objectContaining({ code: 'OUT_FILE_EXISTS' }));
    out.discard();
    out.discard();
    expect(() => statSync(file)).toThrow();
    expect(() => SecretOutFile.open(join(tmp.dir, 'no-such-dir', 'x.json'), false)).toThrow(expect.objectContaining({ code: 'OUT_FILE_NOT_WRITABLE' }));
  });
});
