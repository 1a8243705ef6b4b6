/**
 * What a failed write means for the operator: the disk is full, the file
 * system is read-only, another process holds the database's write lock, the
 * account may not write there. SQLite's result codes (better-sqlite3 puts
 * them in `err.code`, extended ones included: SQLITE_IOERR_WRITE) and the
 * file system's errno codes are sorted into a few reasons with one message
 * each, naming the path and what to do.
 */
import { KanjiaError, type CatalogCodes } from '@kanjia/protocol';
import { accessSync, constants, existsSync, statfsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { userInfo } from 'node:os';

/** The reason of a storage fault, as /api/health and the dashboard show it. */
export type StorageReason = 'SQLITE_BUSY' | 'SQLITE_FULL' | 'SQLITE_IOERR' | 'SQLITE_READONLY' | 'SQLITE_CANTOPEN' | 'SQLITE_CORRUPT' | 'ENOSPC' | 'EROFS' | 'EACCES' | 'EIO';

export interface StorageFault {
  reason: StorageReason;
  /** The code as thrown (SQLITE_IOERR_FSYNC, EDQUOT…). */
  code: string;
  /** Another process holds the lock: waiting and trying again will do. */
  transient: boolean;
}

const SQLITE_PRIMARY: Record<string, StorageReason> = {
  SQLITE_BUSY: 'SQLITE_BUSY',
  // A lock inside this connection's own shared cache: the same remedy as busy.
  SQLITE_LOCKED: 'SQLITE_BUSY',
  SQLITE_FULL: 'SQLITE_FULL',
  SQLITE_IOERR: 'SQLITE_IOERR',
  SQLITE_READONLY: 'SQLITE_READONLY',
  SQLITE_CANTOPEN: 'SQLITE_CANTOPEN',
  SQLITE_CORRUPT: 'SQLITE_CORRUPT',
  SQLITE_NOTADB: 'SQLITE_CORRUPT',
};

const ERRNO: Record<string, StorageReason> = {
  ENOSPC: 'ENOSPC',
  EDQUOT: 'ENOSPC',
  EROFS: 'EROFS',
  EACCES: 'EACCES',
  EPERM: 'EACCES',
  EIO: 'EIO',
};

/** The storage fault an error is, or undefined for any other error (a constraint, a bug). */
export function storageFault(err: unknown): StorageFault | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (code.startsWith('SQLITE_')) {
    // SQLITE_IOERR_SHORT_READ → SQLITE_IOERR; SQLITE_BUSY_SNAPSHOT → SQLITE_BUSY.
    const primary = code.split('_').slice(0, 2).join('_');
    const reason = SQLITE_PRIMARY[primary];
    if (reason === undefined) return undefined;
    // SQLITE_IOERR_NOMEM is memory, not the disk; a full disk shows as IOERR_WRITE/FSYNC too.
    if (code === 'SQLITE_IOERR_NOMEM') return undefined;
    return { reason, code, transient: reason === 'SQLITE_BUSY' };
  }
  const reason = ERRNO[code];
  return reason === undefined ? undefined : { reason, code, transient: false };
}

/** The fault's reason as a short English phrase for logs and messages. */
export function describeReason(reason: StorageReason): string {
  switch (reason) {
    case 'SQLITE_BUSY':
      return 'the database is locked by another process';
    case 'SQLITE_FULL':
    case 'ENOSPC':
      return 'the disk is full';
    case 'SQLITE_READONLY':
    case 'EROFS':
      return 'the file system is read-only';
    case 'EACCES':
    case 'SQLITE_CANTOPEN':
      return 'the file cannot be opened for writing';
    case 'SQLITE_IOERR':
    case 'EIO':
      return 'the disk reported an input/output error';
    case 'SQLITE_CORRUPT':
      return 'the database file is damaged';
  }
}

export type StartErrorCode = CatalogCodes<'DATA_DIR_READ_ONLY' | 'DATA_DIR_FULL' | 'DATA_DIR_NOT_WRITABLE' | 'DATA_DIR_NOT_A_DIRECTORY' | 'DATABASE_LOCKED' | 'DATABASE_DAMAGED' | 'DATA_DIR_IO_ERROR'>;

/** A start that failed on the data directory; the message names the path and what to do. */
export class StorageStartError extends KanjiaError<StartErrorCode> {
  override readonly name = 'StorageStartError';
  constructor(
    code: StartErrorCode,
    message: string,
    readonly path: string,
  ) {
    super(code, message, { details: { path } });
  }
}

/**
 * Turns a raw error of opening or first writing the data directory (EROFS,
 * ENOSPC, SQLITE_CANTOPEN…) into a StorageStartError saying which path and
 * what to do; returns `err` itself when it is no storage fault. SQLite says
 * only "unable to open database file" for several causes, so the directory
 * is looked at to tell which.
 */
export function explainStartError(err: unknown, dataDir: string, databaseFile: string, lockWaitMs?: number): unknown {
  if (err instanceof StorageStartError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOTDIR' || code === 'EEXIST') {
    return new StorageStartError('DATA_DIR_NOT_A_DIRECTORY', `the data directory ${dataDir} is not a directory (${code}): set KANJIA_DATA_DIR (or --data-dir) to a directory`, dataDir);
  }
  // Node's recursive mkdir answers ENOENT for a parent on a read-only file system: the nearest existing ancestor tells.
  const own = storageFault(err);
  const fault = own ?? (code === 'ENOENT' ? ancestorFault(dataDir) : undefined);
  if (fault === undefined) return err;
  const raw = own && err instanceof Error && err.message && !err.message.startsWith(fault.code) ? `${fault.code}: ${err.message}` : fault.code;
  // The directory itself tells what SQLite's CANTOPEN or READONLY hides.
  const dirState = probeDirectory(dataDir);
  const reason = fault.reason === 'SQLITE_CANTOPEN' || fault.reason === 'SQLITE_READONLY' || fault.reason === 'EACCES' ? (dirState ?? fault.reason) : fault.reason;
  switch (reason) {
    case 'EROFS':
    case 'SQLITE_READONLY':
      return new StorageStartError(
        'DATA_DIR_READ_ONLY',
        `the data directory ${dataDir} is on a read-only file system (${raw}): Kanjia must write there to record alarms. Remount it read-write (mount -o remount,rw), or set KANJIA_DATA_DIR to a writable directory`,
        dataDir,
      );
    case 'ENOSPC':
    case 'SQLITE_FULL':
      return new StorageStartError(
        'DATA_DIR_FULL',
        `the disk holding the data directory ${dataDir} is full (${raw}): no alarm could be recorded. Free space on it (df -h ${dataDir} shows how much is left), then start Kanjia again`,
        dataDir,
      );
    case 'EACCES':
    case 'SQLITE_CANTOPEN': {
      const who = currentUser();
      return new StorageStartError(
        'DATA_DIR_NOT_WRITABLE',
        `the data directory ${dataDir} cannot be written by the user Kanjia runs as (${who.label}) (${raw}): give that user the directory (chown -R ${who.name} ${dataDir} && chmod 700 ${dataDir}), or set KANJIA_DATA_DIR to a directory it owns`,
        dataDir,
      );
    }
    case 'SQLITE_BUSY':
      return new StorageStartError(
        'DATABASE_LOCKED',
        `the database ${databaseFile} is locked by another process${lockWaitMs ? ` (still after ${Math.round(lockWaitMs / 1000)} s)` : ''} (${raw}): a sqlite3 shell with an open transaction, a backup or copy tool, or another Kanjia using this directory from another container or machine. Close it (fuser -v ${databaseFile} lists who has the file open), then start Kanjia again`,
        databaseFile,
      );
    case 'SQLITE_CORRUPT':
      return new StorageStartError('DATABASE_DAMAGED', `the database ${databaseFile} is damaged (${raw}): stop Kanjia and restore it from your latest backup`, databaseFile);
    case 'SQLITE_IOERR':
    case 'EIO':
      return new StorageStartError(
        'DATA_DIR_IO_ERROR',
        `the disk holding ${dataDir} reported an input/output error (${raw}): check the disk (dmesg, smartctl) and that it has space (df -h ${dataDir}), then start Kanjia again`,
        dataDir,
      );
  }
}

/** The fault of the nearest existing ancestor of `dir` (read-only, not writable, full), if any. */
function ancestorFault(dir: string): StorageFault | undefined {
  for (let d = dirname(dir); ; d = dirname(d)) {
    if (existsSync(d)) {
      const reason = probeDirectory(d);
      return reason === undefined ? undefined : { reason, code: `${reason} on ${d}`, transient: false };
    }
    if (dirname(d) === d) return undefined;
  }
}

/** What stops writing in `dir` (or, when it does not exist yet, in its nearest existing ancestor): read-only, not writable by this user, full; undefined when nothing is seen. */
export function probeDirectory(dir: string): StorageReason | undefined {
  try {
    if (!statSync(dir).isDirectory()) return undefined;
  } catch {
    const parent = dirname(dir);
    return parent === dir ? undefined : probeDirectory(parent);
  }
  try {
    accessSync(dir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EROFS') return 'EROFS';
    if (code === 'EACCES' || code === 'EPERM') return 'EACCES';
  }
  try {
    const fs = statfsSync(dir);
    if (fs.bavail === 0) return 'ENOSPC';
  } catch {
    // statfs is not everywhere
  }
  return undefined;
}

function currentUser(): { name: string; label: string } {
  try {
    const u = userInfo();
    return { name: u.username, label: `${u.username}, uid ${u.uid}` };
  } catch {
    // A uid without a name (a container's --user 1234).
    const uid = String(process.getuid?.() ?? '?');
    return { name: uid, label: `uid ${uid}` };
  }
}

/** The HTTP answer to a request that failed on a storage fault (503 by the catalog, try again), or undefined for any other error. */
export function storageErrorReply(err: unknown): { code: CatalogCodes<'STORAGE_BUSY' | 'STORAGE_WRITE_FAILED'>; message: string } | undefined {
  const fault = storageFault(err);
  if (fault === undefined) return undefined;
  return fault.transient
    ? { code: 'STORAGE_BUSY', message: 'the database is locked by another process for the moment; nothing was changed: try again in a few seconds' }
    : { code: 'STORAGE_WRITE_FAILED', message: `the server cannot save data now (${fault.reason}); nothing was changed. The server log and /api/health say why` };
}
