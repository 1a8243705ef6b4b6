/**
 * Test certificates made with the `openssl` command (on every Debian
 * machine; no npm library needed): a CA, and a server certificate it signs
 * for localhost, 127.0.0.1 and ::1, with P-256 keys (fast to make).
 */
import { spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';

export interface TestCertificates {
  /** PEM files. */
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
  cert: string;
  key: string;
  /** base64 SHA-256 of the server certificate's public key (Chromium's --ignore-certificate-errors-spki-list pins exactly it). */
  spkiSha256: string;
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
}

/** Makes a CA and a server certificate valid for `days` days in `dir`; `names` are the subject alternative names. */
export function makeTestCertificates(dir: string, options: { days?: number; names?: string[]; prefix?: string } = {}): TestCertificates {
  const days = String(options.days ?? 30);
  const p = options.prefix ?? '';
  const names = options.names ?? ['DNS:localhost', 'IP:127.0.0.1', 'IP:::1'];
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...ec, '-keyout', `${p}ca.key`, '-out', `${p}ca.pem`, '-days', days, '-subj', '/CN=Kanjia test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  openssl(['req', ...ec, '-keyout', `${p}server.key`, '-out', `${p}server.csr`, '-subj', '/CN=localhost'], dir);
  writeFileSync(join(dir, `${p}server.ext`), `subjectAltName=${names.join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`);
  openssl(['x509', '-req', '-in', `${p}server.csr`, '-CA', `${p}ca.pem`, '-CAkey', `${p}ca.key`, '-CAcreateserial', '-out', `${p}server.pem`, '-days', days, '-extfile', `${p}server.ext`], dir);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  const cert = read(`${p}server.pem`);
  const spki = new X509Certificate(cert).publicKey.export({ type: 'spki', format: 'der' });
  return {
    caFile: join(dir, `${p}ca.pem`),
    certFile: join(dir, `${p}server.pem`),
    keyFile: join(dir, `${p}server.key`),
    ca: read(`${p}ca.pem`),
    cert,
    key: read(`${p}server.key`),
    spkiSha256: createHash('sha256').update(spki).digest('base64'),
  };
}

/** One HTTPS request that trusts `ca` (fetch cannot be given a CA); resolves with status, headers and body. */
export function httpsRequest(
  url: string,
  options: { ca: string; method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', ca: options.ca, headers: options.headers ?? {}, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}
