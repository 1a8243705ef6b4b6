/**
 * Keeps the time of the visit reminders (docs/township.md "The visit
 * reminder"): wakes at the reminder hour of each village's time zone, has the
 * store decide who is reminded (one transaction), then sends each decided
 * reminder through the system's primary SMS sender, after the commit, and
 * records the answer. Failed ones are tried again 10 minutes later, twice at
 * most. Not the alarm outbox: its rows belong to alarm cases.
 */
import { renderVisitReminder, type SmsLocale, type SmsNoticeSender, type SmsSender } from '@kanjia/alerts';
import { maskPhone, nextLocalMinute, type Clock, type TimerHandle } from '@kanjia/protocol';
import { inReminderWindow, type SqliteVisitReminderStore } from './visit-reminder-store.js';

/** Inside a village's window, how often it looks again (people added or visited meanwhile). */
export const REMINDER_RECHECK_MS = 10 * 60_000;
/** The longest it sleeps without looking (a new village's time zone, a clock change). */
const WATCHDOG_MS = 60 * 60_000;

export interface VisitRemindersOptions {
  store: SqliteVisitReminderStore;
  sender: SmsSender & SmsNoticeSender;
  /** The village-local hour (0–23), KANJIA_VISIT_REMINDER_HOUR. */
  hour: number;
  /** The time zones of the villages (read at each wake: villages come and go). */
  zones: () => readonly string[];
  clock: Clock;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void; error(obj: object, msg?: string): void };
  locale: SmsLocale;
  signName?: string;
}

export class VisitReminders {
  private timer: TimerHandle | undefined;
  private running = false;
  private busy: Promise<void> | undefined;
  private again = false;
  /** When the last round began: a window that opened since then is decided at once. */
  private roundAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: VisitRemindersOptions) {}

  /** Sends what a crash left decided but unsent, decides if a village is in its window, and sleeps until the next. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.wake();
  }

  /** Stops waking; resolves when the send in flight (if any) is recorded, before the database closes. */
  async stop(): Promise<void> {
    this.running = false;
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  /** Resolves when no round is running (tests). */
  async idle(): Promise<void> {
    while (this.busy !== undefined) await this.busy;
  }

  private wake(): void {
    if (!this.running) return;
    if (this.busy !== undefined) {
      this.again = true;
      return;
    }
    this.busy = this.round()
      .catch((err: unknown) => this.options.logger.error({ err }, 'visit reminders: the round failed; trying again at the next wake'))
      .finally(() => {
        this.busy = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        } else this.schedule();
      });
  }

  /** One round: decide (one transaction), then send every reminder due, one after the other. */
  private async round(): Promise<void> {
    const { store, sender, clock, logger } = this.options;
    this.roundAt = clock.nowMs();
    const decided = store.decide(clock.nowMs(), this.options.hour, (r) =>
      renderVisitReminder({ ...r, locale: this.options.locale, ...(this.options.signName ? { signName: this.options.signName } : {}) }),
    );
    if (decided.length > 0) logger.info({ reminders: decided.length, dueDate: decided[0]?.dueDate }, 'visit reminders decided: one SMS per helper whose people are due tomorrow');
    for (const r of store.due(clock.nowMs())) {
      if (!this.running) return;
      const result = await sender.sendNotice({ to: r.phone, template: 'visitReminder', params: r.params, text: r.text, outId: r.id });
      const nowMs = clock.nowMs();
      const about = { reminderId: r.id, phone: maskPhone(r.phone), dueDate: r.dueDate, people: r.residentIds.length };
      if (result.ok) {
        store.markSent(r.id, sender.name, result.providerRef, nowMs);
        logger.info({ ...about, channel: sender.name }, 'visit reminder sent');
      } else {
        const status = store.markFailed(r.id, sender.name, result, nowMs);
        logger.warn(
          { ...about, channel: sender.name, code: result.code, kind: result.kind },
          status === 'pending' ? 'visit reminder not sent: trying again in 10 minutes' : 'visit reminder not sent: given up (its code is kept with it)',
        );
      }
    }
  }

  /** Until the next attempt due, the next reminder hour of any zone, a recheck inside a window, or the watchdog. */
  private schedule(): void {
    if (!this.running) return;
    const { clock, store, hour } = this.options;
    const now = clock.nowMs();
    let next = now + WATCHDOG_MS;
    let opened = false;
    const attempt = store.nextAttemptAt();
    if (attempt !== null) next = Math.min(next, attempt);
    for (const zone of new Set(this.options.zones())) {
      next = Math.min(next, nextLocalMinute(zone, now, hour * 60));
      if (inReminderWindow(zone, now, hour)) {
        next = Math.min(next, now + REMINDER_RECHECK_MS);
        // The window opened while the last round ran (its timer came and went): decide now, not at the recheck.
        if (!inReminderWindow(zone, this.roundAt, hour)) opened = true;
      }
    }
    this.options.clock.clearTimeout(this.timer);
    this.timer = clock.setTimeout(() => {
      this.timer = undefined;
      this.wake();
    }, opened ? 0 : Math.max(1_000, next - now)); // at least a second: a round that failed leaves its attempts due, and must not spin
  }
}
