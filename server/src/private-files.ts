/**
 * Kanjia's files hold ID numbers, phone numbers, medical notes, the device
 * key and generated passwords: readable by the account that runs Kanjia and
 * nobody else. The process umask is 077 from the start of every command, so
 * whatever it creates (SQLite makes its -wal and -shm with the database
 * file's mode) is private; files and directories left wider by an older
 * version, a copy or a restore are narrowed at start, with one warning each.
 */
import { KanjiaError, type CatalogCodes } from '@kanjia/protocol';
import { chmodSync, closeSync, fstatSync, fchmodSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Group and others get nothing. */
export const PRIVATE_UMASK = 0o077;
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Sets the process umask to 077 (before any file is created); returns the previous one. */
export function usePrivateUmask(): number {
  return process.umask(PRIVATE_UMASK);
}

/** A path whose mode was narrowed (or could not be), for the warning. */
export interface ModeFix {
  path: string;
  oldMode: string;
  newMode: string;
  /** Set when chmod failed (not the owner): what to run by hand. */
  error?: string;
}

/** Creates `dir` (and parents) if missing; a directory Kanjia creates is 0700. */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Takes group's and others' access away from the data directory and from
 * every file and directory under it (0755 → 0700, 0644 → 0600). Symbolic
 * links are not followed (a link may point anywhere). Calls `warn` once per
 * path changed, naming it and its old mode.
 */
export function securePrivateTree(root: string, warn: (fix: ModeFix) => void, maxDepth = 6): ModeFix[] {
  const fixes: ModeFix[] = [];
  const visit = (path: string, depth: number) => {
    let stat;
    try {
      stat = lstatSync(path);
    } catch {
      return; // gone meanwhile, or not there yet
    }
    if (stat.isSymbolicLink()) return;
    const isDir = stat.isDirectory();
    if (!isDir && !stat.isFile()) return; // sockets, fifos: not ours to change
    const mode = stat.mode & 0o777;
    if ((mode & 0o077) !== 0) {
      // Only group and others lose access: the owner's own bits stay as they were.
      const wanted = mode & 0o700;
      const fix: ModeFix = { path, oldMode: octal(mode), newMode: octal(wanted) };
      try {
        chmodSync(path, wanted);
      } catch (err) {
        fix.error = `${(err as NodeJS.ErrnoException).code ?? 'ERROR'}: run "chmod ${octal(wanted)} ${path}" as its owner`;
      }
      fixes.push(fix);
      warn(fix);
    }
    if (isDir && depth < maxDepth) {
      let names: string[] = [];
      try {
        names = readdirSync(path);
      } catch {
        return;
      }
      for (const name of names) visit(join(path, name), depth + 1);
    }
  };
  visit(root, 0);
  return fixes;
}

/** The mode as `0755`. */
export function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/**
 * A file for a command's secret output (`--out FILE`), opened before the
 * command does anything, so a name that exists (without `force`) or a
 * directory that cannot be written stops the command before a secret is made
 * that could then not be kept. The file is created 0600; with `force` an
 * existing file is replaced (written beside it, then renamed over it), so it
 * is never readable by others even for a moment.
 */
export class SecretOutFile {
  private fd: number | undefined;
  private readonly tmp: string | undefined;

  private constructor(
    readonly path: string,
    force: boolean,
  ) {
    if (force) {
      this.tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
      this.fd = openSync(this.tmp, 'wx', PRIVATE_FILE_MODE);
    } else {
      this.fd = openSync(path, 'wx', PRIVATE_FILE_MODE);
    }
    // The umask only narrows; a file system that ignores modes is told again.
    fchmodSync(this.fd, PRIVATE_FILE_MODE);
  }

  /** Opens FILE for writing secrets; throws OutFileError with an operator's message. */
  static open(path: string, force: boolean): SecretOutFile {
    try {
      return new SecretOutFile(path, force);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' && !force) throw new OutFileError('OUT_FILE_EXISTS', `${path} exists already; choose another name, or give --force to replace it`);
      throw new OutFileError('OUT_FILE_NOT_WRITABLE', `cannot create ${path} (${code ?? (err as Error).message}); choose a file in a directory you can write`);
    }
  }

  /** Writes `text` (or bytes: an exported spreadsheet) and closes the file (renaming it into place with --force). */
  commit(text: string | Uint8Array): void {
    if (this.fd === undefined) throw new Error('the out file is closed');
    const buffer = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
    let offset = 0;
    while (offset < buffer.length) offset += writeSync(this.fd, buffer, offset);
    closeSync(this.fd);
    this.fd = undefined;
    if (this.tmp) renameSync(this.tmp, this.path);
  }

  /** The command failed: the empty file goes. Idempotent. */
  discard(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.tmp ?? this.path, { force: true });
  }
}

export class OutFileError extends KanjiaError<CatalogCodes<'OUT_FILE_EXISTS' | 'OUT_FILE_NOT_WRITABLE'>> {
  override readonly name = 'OutFileError';
}

/**
 * When standard output is a regular file (`kanjia import … > secrets.json`)
 * readable by group or others, narrows it to 0600 and returns what it was;
 * undefined when stdout is a terminal, a pipe, or already private. The shell
 * created that file with its own umask before Kanjia started.
 */
export function privatizeStdoutFile(fd = 1): string | undefined {
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || (stat.mode & 0o077) === 0) return undefined;
    fchmodSync(fd, PRIVATE_FILE_MODE);
    return octal(stat.mode);
  } catch {
    return undefined;
  }
}
