/**
 * The on-disk buffer of the time-series writer: batches of InfluxDB line
 * protocol, one file each, in a private directory of the data directory.
 *
 * A batch is written here before it is sent, and its file removed only once
 * the server has taken it (2xx), so neither a restart of Kanjia nor one of
 * the server loses what was buffered: at start the files are sent again in
 * the order they were written. A file is written beside its final name,
 * synced, then renamed, so a crash leaves a whole batch or none (a `.tmp`
 * left over is removed at start). The name carries the sequence number and
 * the count of lines (`0000000000000042-500.lp`), so the buffer's size is
 * known without reading it.
 *
 * Bounded: past `maxBytes` the oldest files are given up (the caller counts
 * and logs them). At-least-once: a batch the server took just before a crash
 * is sent again; InfluxDB overwrites a point of the same series and time,
 * VictoriaMetrics keeps it twice unless `-dedup.minScrapeInterval=1ms`.
 */
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../private-files.js';

const NAME = /^(\d{16})-(\d+)\.lp$/;

export interface SpoolSegment {
  name: string;
  seq: number;
  lines: number;
  bytes: number;
}

export interface SpoolDrop {
  segments: number;
  lines: number;
}

export class LineSpool {
  private segments: SpoolSegment[] = [];
  private nextSeq = 1;
  private totalBytes = 0;
  private totalLines = 0;
  /** The segment being sent: not given up by the size bound meanwhile (its send would then delete a file that is gone). */
  private busy: string | undefined;

  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
  ) {}

  /** Creates the directory (0700), removes torn writes, lists what an earlier run left, oldest first. */
  async open(): Promise<SpoolSegment[]> {
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
    const found: SpoolSegment[] = [];
    for (const name of await readdir(this.dir)) {
      if (name.endsWith('.tmp')) {
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      const m = NAME.exec(name);
      if (!m) continue;
      const bytes = (await stat(join(this.dir, name))).size;
      found.push({ name, seq: Number(m[1]), lines: Number(m[2]), bytes });
    }
    found.sort((a, b) => a.seq - b.seq);
    this.segments = found;
    this.totalBytes = found.reduce((n, s) => n + s.bytes, 0);
    this.totalLines = found.reduce((n, s) => n + s.lines, 0);
    this.nextSeq = (found[found.length - 1]?.seq ?? 0) + 1;
    return [...found];
  }

  /** Writes a batch as the newest segment; returns what the size bound had to give up for it (the oldest first). */
  async append(lines: readonly string[]): Promise<SpoolDrop> {
    if (lines.length === 0) return { segments: 0, lines: 0 };
    const seq = this.nextSeq++;
    const name = `${String(seq).padStart(16, '0')}-${lines.length}.lp`;
    const body = Buffer.from(`${lines.join('\n')}\n`, 'utf8');
    const tmp = join(this.dir, `${name}.tmp`);
    const file = await open(tmp, 'wx', PRIVATE_FILE_MODE);
    try {
      await file.writeFile(body);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, join(this.dir, name));
    this.segments.push({ name, seq, lines: lines.length, bytes: body.length });
    this.totalBytes += body.length;
    this.totalLines += lines.length;
    return this.enforceBound();
  }

  /** The oldest segment, marked busy until `release` or `remove`. */
  take(): SpoolSegment | undefined {
    const oldest = this.segments[0];
    if (oldest) this.busy = oldest.name;
    return oldest;
  }

  release(): void {
    this.busy = undefined;
  }

  async read(segment: SpoolSegment): Promise<string[]> {
    const text = await readFile(join(this.dir, segment.name), 'utf8');
    return text.split('\n').filter((l) => l !== '');
  }

  /** The server took it (or refused it for good): the file goes. */
  async remove(segment: SpoolSegment): Promise<void> {
    if (this.busy === segment.name) this.busy = undefined;
    const i = this.segments.findIndex((s) => s.name === segment.name);
    if (i < 0) return;
    this.segments.splice(i, 1);
    this.totalBytes -= segment.bytes;
    this.totalLines -= segment.lines;
    await rm(join(this.dir, segment.name), { force: true });
  }

  size(): { segments: number; lines: number; bytes: number } {
    return { segments: this.segments.length, lines: this.totalLines, bytes: this.totalBytes };
  }

  private async enforceBound(): Promise<SpoolDrop> {
    const dropped: SpoolDrop = { segments: 0, lines: 0 };
    // The newest segment always stays: a bound smaller than one batch still buffers something.
    while (this.totalBytes > this.maxBytes && this.segments.length > 1) {
      const index = this.segments[0]?.name === this.busy ? 1 : 0;
      if (index >= this.segments.length - 1) break;
      const victim = this.segments[index] as SpoolSegment;
      this.segments.splice(index, 1);
      this.totalBytes -= victim.bytes;
      this.totalLines -= victim.lines;
      dropped.segments++;
      dropped.lines += victim.lines;
      await rm(join(this.dir, victim.name), { force: true });
    }
    return dropped;
  }
}
