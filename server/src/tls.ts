/**
 * The operator's TLS certificate and key (KANJIA_TLS_CERT, KANJIA_TLS_KEY):
 * read and checked at start with an error naming the file and what to do
 * (not found, unreadable, not a certificate, not a key, a key with a
 * passphrase, a key of another certificate, expired), a warning when it
 * expires within 30 days; then watched, because certificates are renewed on
 * disk (certbot every 60 days) while the server runs for months: a renewed
 * pair that passes the same checks is served to new connections, HTTPS and
 * MQTT alike, without a restart.
 */
import { KanjiaError, type CatalogCodes, type Clock, type TimerHandle } from '@kanjia/protocol';
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Logger } from './logger.js';
import type { SystemHealth } from './system-health.js';

export type TlsErrorCode = CatalogCodes<'TLS_FILE_UNREADABLE' | 'TLS_NOT_A_CERTIFICATE' | 'TLS_NOT_A_KEY' | 'TLS_KEY_MISMATCH' | 'TLS_CERT_EXPIRED'>;

/** A certificate or key that cannot be used, with a message an operator can act on. */
export class TlsError extends KanjiaError<TlsErrorCode> {
  override readonly name = 'TlsError';
}

/** A certificate within this many days of its end draws a warning (at start and at every check). */
export const EXPIRY_WARNING_DAYS = 30;
/** Within this many days the duty room sees it too (system problem TLS_CERT_EXPIRING): someone must call the administrator. */
export const EXPIRY_BANNER_DAYS = 14;
/** How often the files are looked at for a renewal, ms. */
export const TLS_CHECK_EVERY_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface LoadedCertificate {
  /** The files' contents, as given to the TLS servers (the chain after the server's own certificate). */
  cert: Buffer;
  key: Buffer;
  /** When the server's certificate ends, ms since the epoch. */
  validToMs: number;
  /** Names it is valid for (subjectAltName), for the start log. */
  names: string;
  /** Things to tell the operator that do not stop the start. */
  warnings: string[];
}

function read(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT'
        ? 'file not found'
        : e.code === 'EACCES'
          ? 'not readable by the user Kanjia runs as (give it read permission, and keep a key readable by that user only: chmod 600)'
          : e.code === 'EISDIR'
            ? 'a directory, not a file'
            : e.message;
    throw new TlsError('TLS_FILE_UNREADABLE', `${variable}: ${file}: ${why}`);
  }
}

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * Reads and checks the certificate and key files; throws TlsError naming the
 * file and what to do. `nowMs` is when to judge expiry.
 */
export function loadCertificate(certFile: string, keyFile: string, nowMs: number): LoadedCertificate {
  const certPem = read(certFile, 'KANJIA_TLS_CERT');
  const keyPem = read(keyFile, 'KANJIA_TLS_KEY');
  const warnings: string[] = [];
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (err) {
    const swapped = /PRIVATE KEY-----/.test(certPem.toString('latin1')) ? ' — it holds a private key: are KANJIA_TLS_CERT and KANJIA_TLS_KEY swapped?' : '';
    throw new TlsError('TLS_NOT_A_CERTIFICATE', `KANJIA_TLS_CERT: ${certFile}: not a PEM certificate (a file beginning -----BEGIN CERTIFICATE-----, such as certbot's fullchain.pem)${swapped} (${(err as Error).message})`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    const text = keyPem.toString('latin1');
    const reason = /ENCRYPTED/.test(text)
      ? 'the key is protected by a passphrase, which Kanjia cannot type at start: store it without one (openssl pkey -in key.pem -out key-plain.pem) in a file only Kanjia\'s user can read (chmod 600)'
      : /BEGIN CERTIFICATE-----/.test(text)
        ? 'it holds a certificate, not a key: are KANJIA_TLS_CERT and KANJIA_TLS_KEY swapped?'
        : `not a PEM private key (a file beginning -----BEGIN PRIVATE KEY-----, such as certbot's privkey.pem) (${(err as Error).message})`;
    throw new TlsError('TLS_NOT_A_KEY', `KANJIA_TLS_KEY: ${keyFile}: ${reason}`);
  }
  if (!x509.checkPrivateKey(key)) {
    throw new TlsError('TLS_KEY_MISMATCH', `KANJIA_TLS_KEY: ${keyFile} is not the key of the certificate in ${certFile} (${x509.subject.replace(/\n/g, ', ')}): give the key that was made with this certificate`);
  }
  const validToMs = Date.parse(x509.validTo);
  const validFromMs = Date.parse(x509.validFrom);
  if (validToMs <= nowMs) {
    throw new TlsError('TLS_CERT_EXPIRED', `KANJIA_TLS_CERT: ${certFile}: the certificate expired on ${day(validToMs)}; devices and browsers refuse it. Renew it (certbot renew, or ask whoever issued it) and start again`);
  }
  if (validFromMs > nowMs) {
    warnings.push(`the certificate in ${certFile} is valid only from ${x509.validFrom}: is this machine's clock right? Clients refuse it until then`);
  }
  const daysLeft = Math.floor((validToMs - nowMs) / DAY_MS);
  if (daysLeft < EXPIRY_WARNING_DAYS) {
    warnings.push(`the certificate in ${certFile} expires on ${day(validToMs)}, in ${daysLeft} day${daysLeft === 1 ? '' : 's'}: renew it; Kanjia serves the renewed files within an hour, without a restart`);
  }
  try {
    if ((statSync(keyFile).mode & 0o077) !== 0) warnings.push(`the key ${keyFile} can be read by other users of this machine: chmod 600 ${keyFile}`);
  } catch {
    // Read above; a vanished file shows at the next check.
  }
  return { cert: certPem, key: keyPem, validToMs, names: x509.subjectAltName ?? x509.subject, warnings };
}

export interface CertificateWatcherOptions {
  certFile: string;
  keyFile: string;
  clock: Clock;
  logger: Logger;
  /** The certificate in use (loadCertificate at start). */
  current: LoadedCertificate;
  /** A renewed pair that passed the checks: serve it. */
  onRenewed: (certificate: LoadedCertificate) => void;
  /** Where a near end is raised as TLS_CERT_EXPIRING (and cleared by a renewal). */
  health?: Pick<SystemHealth, 'raise' | 'clear'>;
}

/** Looks at the files every TLS_CHECK_EVERY_MS; constructor assigns, start() schedules, stop() clears. */
export class CertificateWatcher {
  private timer: TimerHandle | undefined;
  private current: LoadedCertificate;
  private seen: string;
  private lastError: string | undefined;

  constructor(private readonly options: CertificateWatcherOptions) {
    this.current = options.current;
    this.seen = this.stamp();
  }

  start(): void {
    this.report();
    this.schedule();
  }

  stop(): void {
    this.options.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Checks the files now: serves a renewed pair, warns of a near end. */
  check(): void {
    const { certFile, keyFile, logger } = this.options;
    const stamp = this.stamp();
    if (stamp !== this.seen) {
      try {
        const renewed = loadCertificate(certFile, keyFile, this.options.clock.nowMs());
        this.seen = stamp;
        this.lastError = undefined;
        this.current = renewed;
        this.options.onRenewed(renewed);
        logger.info({ certFile, validTo: new Date(renewed.validToMs).toISOString(), names: renewed.names }, 'TLS certificate renewed: new connections get the new one');
      } catch (err) {
        // Half-written by the renewal, or a bad pair: keep serving the old one and say so once per state.
        const message = err instanceof Error ? err.message : String(err);
        if (message !== this.lastError) logger.error({ certFile, keyFile }, `the TLS files changed but cannot be used; still serving the previous certificate: ${message}`);
        this.lastError = message;
      }
    }
    const daysLeft = this.report();
    if (daysLeft < EXPIRY_WARNING_DAYS) {
      logger.warn({ certFile, validTo: new Date(this.current.validToMs).toISOString(), daysLeft }, `the TLS certificate ${daysLeft < 0 ? 'has expired: devices and browsers refuse it' : `expires in ${daysLeft} days`}; renew ${certFile} (Kanjia serves the renewed files within an hour)`);
    }
  }

  /** Raises or clears TLS_CERT_EXPIRING for the certificate in use; returns its days left. */
  private report(): number {
    const daysLeft = Math.floor((this.current.validToMs - this.options.clock.nowMs()) / DAY_MS);
    const health = this.options.health;
    if (daysLeft < EXPIRY_BANNER_DAYS) {
      const lastDay = day(this.current.validToMs);
      health?.raise({
        code: 'TLS_CERT_EXPIRING',
        severity: 'warning',
        // Plain MQTT and the LAN still work; the node is not to be taken out of service for it.
        unhealthy: false,
        message: `the TLS certificate ${daysLeft < 0 ? 'ended' : 'ends'} on ${lastDay}: renew ${this.options.certFile}`,
        details: { reason: lastDay, daysLeft },
      });
    } else {
      health?.clear('TLS_CERT_EXPIRING');
    }
    return daysLeft;
  }

  private schedule(): void {
    this.timer = this.options.clock.setTimeout(() => {
      this.check();
      this.schedule();
    }, TLS_CHECK_EVERY_MS);
  }

  /** Size and modification time of both files: a renewal changes them. */
  private stamp(): string {
    const one = (f: string) => {
      try {
        const s = statSync(f);
        return `${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    };
    return `${one(this.options.certFile)}|${one(this.options.keyFile)}`;
  }
}
