/**
 * Asks the providers whether what they accepted has arrived ("sent" is not
 * "delivered": a provider accepts an SMS for a phone that is switched off).
 * Each sent notice on a channel with receipts is asked about at growing
 * intervals (nextDeliveryCheckDelayMs) until the provider says delivered or
 * failed, or for DELIVERY_GIVE_UP_MS; the store writes each answer and, for a
 * critical case's notice not delivered within the deadline, moves the
 * escalation on (its own sweep, see ChannelPlan.deliveryDeadlineMs).
 */
import type { Clock, TimerHandle } from '@kanjia/protocol';
import type { DeliveryAnswer, DeliveryQuery, NoticeChannel } from './channel.js';

/** One sent notice to ask about. */
export interface DeliveryCheck {
  id: string;
  alarmId: string;
  channel: string;
  query: DeliveryQuery;
}

export interface DeliveryStore {
  /** Up to `limit` sent notices whose next check is due. */
  dueDeliveryChecks(nowMs: number, limit: number): DeliveryCheck[];
  /** Writes the provider's answer and when to ask next (a pending or unknown answer). */
  recordDelivery(id: string, answer: DeliveryAnswer, nowMs: number): void | Promise<void>;
  /** When the next check is due, or null. */
  nextDeliveryCheckAt(): number | null;
}

/** How long after a notice was accepted it is asked about again, by the number of checks so far. */
export function nextDeliveryCheckDelayMs(checks: number): number {
  // 15 s, 30 s, 1, 2, 4, 8 min, then every 15 minutes: most receipts come within a minute, a switched-off phone's in hours.
  return Math.min(15 * 60_000, 15_000 * 2 ** Math.min(Math.max(0, checks), 10));
}

/** After this long without a final answer, nobody asks any more: the receipt stays unknown. */
export const DELIVERY_GIVE_UP_MS = 48 * 60 * 60_000;

export interface DeliveryTrackerOptions {
  store: DeliveryStore;
  channels: readonly NoticeChannel[];
  clock: Clock;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  /** Queries under way at most. */
  concurrency?: number;
  /** Called with a case's id when one of its notices' receipts changed. */
  onChange?: (alarmId: string) => void;
}

export class DeliveryTracker {
  private timer: TimerHandle | undefined;
  private running = false;
  private busy: Promise<void> | undefined;
  private readonly byName: Map<string, NoticeChannel>;

  constructor(private readonly options: DeliveryTrackerOptions) {
    this.byName = new Map(options.channels.filter((c) => c.queryDelivery !== undefined).map((c) => [c.name, c]));
  }

  /** Whether a channel gives receipts. */
  hasReceipts(channel: string): boolean {
    return this.byName.has(channel);
  }

  start(): void {
    if (this.running || this.byName.size === 0) return;
    this.running = true;
    this.kick();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.busy;
  }

  /** A notice was sent (a check may now be due earlier) or time passed: look. */
  kick(): void {
    if (!this.running || this.busy !== undefined) return;
    this.busy = this.round()
      .catch((err: unknown) => this.options.logger.error({ err }, 'delivery receipts: a round failed; trying again in a minute'))
      .finally(() => {
        this.busy = undefined;
        this.schedule();
      });
  }

  /** Resolves when no round is under way (tests). */
  async idle(): Promise<void> {
    while (this.busy !== undefined) await this.busy;
  }

  private schedule(): void {
    if (!this.running) return;
    this.options.clock.clearTimeout(this.timer);
    let due: number | null = null;
    try {
      due = this.options.store.nextDeliveryCheckAt();
    } catch (err) {
      this.options.logger.error({ err }, 'delivery receipts: could not read the next check; trying again in a minute');
    }
    const now = this.options.clock.nowMs();
    const delay = Math.min(60_000, due === null ? 60_000 : Math.max(0, due - now));
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      this.kick();
    }, delay);
  }

  private async round(): Promise<void> {
    const { store, clock, logger } = this.options;
    const width = Math.max(1, this.options.concurrency ?? 8);
    for (let guard = 0; guard < 100 && this.running; guard++) {
      const checks = store.dueDeliveryChecks(clock.nowMs(), width);
      if (checks.length === 0) return;
      await Promise.all(
        checks.map(async (check) => {
          const channel = this.byName.get(check.channel);
          const answer: DeliveryAnswer =
            channel?.queryDelivery === undefined
              ? { state: 'unknown', code: 'NO_RECEIPTS', message: `channel ${check.channel} gives no receipts` }
              : await channel.queryDelivery(check.query).catch((err: unknown) => ({ state: 'unknown' as const, code: 'QUERY_THREW', message: String((err as Error)?.message ?? err) }));
          try {
            await store.recordDelivery(check.id, answer, clock.nowMs());
          } catch (err) {
            logger.error({ err, notificationId: check.id }, 'delivery receipts: could not record an answer; asked again later');
            return;
          }
          if (answer.state === 'failed') logger.warn({ notificationId: check.id, alarmId: check.alarmId, channel: check.channel, code: answer.code }, 'not delivered: the provider says it will not arrive');
          if (answer.state === 'delivered' || answer.state === 'failed') this.options.onChange?.(check.alarmId);
        }),
      );
    }
  }
}
