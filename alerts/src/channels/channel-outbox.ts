/**
 * The outbox of a system with several channels: one OutboxWorker per channel
 * (each with its own window, its own outage and its own probes, so an Aliyun
 * outage does not slow the voice calls or the group robot), seen from outside
 * as one outbox. A notice the store moves from one channel to another (its
 * route, channels/routing.ts) is picked up by the next channel's worker:
 * every change kicks them all.
 */
import type { OutboxStats, OutboxWorkerOptions, SmsOutage } from '../outbox-worker.js';
import { OutboxWorker } from '../outbox-worker.js';
import type { NoticeChannel } from './channel.js';

export interface ChannelOutboxOptions extends Omit<OutboxWorkerOptions, 'sender' | 'channel' | 'onOutage' | 'concurrency'> {
  /** Every configured channel; their names are unique. */
  channels: readonly NoticeChannel[];
  /** Sends under way at most per channel, by channel name (default: the worker's own). */
  concurrency?: Readonly<Record<string, number>>;
  /** A channel went out, changed its outage, or answers again (null). */
  onOutage?: (channel: NoticeChannel, outage: SmsOutage | null) => void;
}

export class ChannelOutbox {
  private readonly workers = new Map<string, OutboxWorker>();

  constructor(options: ChannelOutboxOptions) {
    const { channels, concurrency, onOutage, onChange, ...common } = options;
    for (const channel of channels) {
      if (this.workers.has(channel.name)) throw new Error(`two channels are named ${channel.name}`);
      const limit = concurrency?.[channel.name];
      this.workers.set(
        channel.name,
        new OutboxWorker({
          ...common,
          sender: channel,
          channel: channel.name,
          ...(limit !== undefined ? { concurrency: limit } : {}),
          onChange: (alarmId) => {
            // A verdict may have moved the notice to another channel: that channel's worker must look now.
            this.kickSoon();
            onChange?.(alarmId);
          },
          onOutage: (outage) => onOutage?.(channel, outage),
        }),
      );
    }
  }

  /** The channel names, in the order given. */
  channelNames(): string[] {
    return [...this.workers.keys()];
  }

  /** The worker of one channel (tests, the health page). */
  worker(channel: string): OutboxWorker | undefined {
    return this.workers.get(channel);
  }

  start(): void {
    for (const w of this.workers.values()) w.start();
  }

  async stop(): Promise<void> {
    await Promise.all([...this.workers.values()].map((w) => w.stop()));
  }

  kick(): void {
    for (const w of this.workers.values()) w.kick();
  }

  kickSoon(): void {
    for (const w of this.workers.values()) w.kickSoon();
  }

  async idle(): Promise<void> {
    // A verdict on one channel can queue work on another: wait until every worker is idle at once.
    for (;;) {
      await Promise.all([...this.workers.values()].map((w) => w.idle()));
      await new Promise((resolve) => setImmediate(resolve));
      if ([...this.workers.values()].every((w) => w.isIdle())) return;
    }
  }

  /** Every channel's outage now, by channel name. */
  outages(): Record<string, SmsOutage> {
    const out: Record<string, SmsOutage> = {};
    for (const [name, w] of this.workers) {
      const o = w.outage();
      if (o !== undefined) out[name] = o;
    }
    return out;
  }

  /** The first channel's outage (the primary SMS channel's, as a one-channel outbox reported it). */
  outage(): SmsOutage | undefined {
    return this.workers.values().next().value?.outage();
  }

  /** The sums over every channel. */
  get stats(): OutboxStats {
    const sum: OutboxStats = { sent: 0, retried: 0, failed: 0, held: 0, outages: 0, unprepared: 0, limited: 0 };
    for (const w of this.workers.values()) for (const key of Object.keys(sum) as Array<keyof OutboxStats>) sum[key] += w.stats[key];
    return sum;
  }

  /** Each channel's own figures. */
  statsByChannel(): Record<string, OutboxStats> {
    return Object.fromEntries([...this.workers].map(([name, w]) => [name, { ...w.stats }]));
  }
}
