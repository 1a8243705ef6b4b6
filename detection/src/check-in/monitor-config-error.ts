import { KanjiaError, type CatalogCodes } from '@kanjia/protocol';

/** Stable codes of the options the check-in, device-health and environment monitors reject. */
export type MonitorConfigErrorCode = CatalogCodes<
  | 'MONITOR_BAD_TIME_ZONE'
  | 'MONITOR_BAD_TIME_OF_DAY'
  | 'MONITOR_BAD_WINDOW'
  | 'MONITOR_BAD_DURATION'
  | 'MONITOR_NO_DEVICES'
  | 'MONITOR_BAD_THRESHOLD'
>;

/** An option passed to a monitor's register() or constructor is unusable; the message names it. */
export class MonitorConfigError extends KanjiaError<MonitorConfigErrorCode> {
  override readonly name = 'MonitorConfigError';
}
