/** Resident memory and CPU time of another process (Linux /proc), for figures of a server run as a child process. */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

export interface ProcSample {
  rssKb: number;
  /** User + system CPU time so far, in ms (10 ms resolution): what process.cpuUsage() would say inside the process. */
  cpuMs: number;
}

/** Reads one sample; throws when the process is gone. */
export function procSample(pid: number): ProcSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), from field 3 on: utime is field 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { rssKb: rss ? Number(rss[1]) : Number.NaN, cpuMs: (ticks * 1000) / TICKS_PER_SECOND };
}

/** True while the process exists (not yet reaped or a zombie). */
export function alive(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
