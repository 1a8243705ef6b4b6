/**
 * Aliyun's V3 request signature (ACS3-HMAC-SHA256), written from Aliyun's
 * description "V3版本请求体&签名机制" and deliberately not from the SDK's code, so
 * that a test where the SDK's request passes this verifier shows the two agree:
 *
 *   CanonicalRequest = HTTPMethod \n CanonicalURI \n CanonicalQueryString \n
 *                      CanonicalHeaders \n SignedHeaders \n HashedRequestPayload
 *   StringToSign     = "ACS3-HMAC-SHA256" \n hex(SHA256(CanonicalRequest))
 *   Signature        = hex(HMAC-SHA256(AccessKeySecret, StringToSign))
 *   Authorization    = ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2;…>,Signature=<hex>
 *
 * CanonicalQueryString: every parameter name and value percent-encoded per
 * RFC 3986 (only A–Z a–z 0–9 - _ . ~ stay as they are; space is %20), sorted by
 * name, joined as name=value with &. CanonicalHeaders: host, content-type and
 * every x-acs-* header, names lower-cased, values trimmed, sorted by name, one
 * "name:value\n" each. HashedRequestPayload: hex(SHA256(body)), the empty body
 * included; the same value travels as x-acs-content-sha256.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';

/** Percent-encodes per RFC 3986: everything but A–Z a–z 0–9 - _ . ~ (UTF-8 first). */
export function rfc3986Encode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Hex SHA-256 of a body (a string is taken as UTF-8). */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Splits a raw query string (without ?) into decoded name/value pairs; + is a space, as in forms. Throws URIError on bad %-escapes. */
export function parseQueryPairs(rawQuery: string): Array<[string, string]> {
  if (rawQuery === '') return [];
  return rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? '' : part.slice(eq + 1);
      return [decodeComponent(name), decodeComponent(value)];
    });
}

function decodeComponent(text: string): string {
  return decodeURIComponent(text.replace(/\+/g, '%20'));
}

/** The canonical query string of decoded name/value pairs. */
export function canonicalQueryString(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs
    .map(([name, value]) => [rfc3986Encode(name), rfc3986Encode(value)] as const)
    .sort(([a, av], [b, bv]) => compareCodeUnits(a, b) || compareCodeUnits(av, bv))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether a header must be signed when present: host, content-type and x-acs-*. */
export function isSignableHeader(lowerName: string): boolean {
  return lowerName === 'host' || lowerName === 'content-type' || lowerName.startsWith('x-acs-');
}

export type HeaderValues = Readonly<Record<string, string | readonly string[] | undefined>>;

/** Canonical headers over the given (lower-case) header names; several values of one header are sorted and joined with a comma. */
export function canonicalHeaders(headers: HeaderValues, signedNames: readonly string[]): string {
  const byLowerName = new Map<string, string[]>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const list = byLowerName.get(name.toLowerCase()) ?? [];
    list.push(...(typeof value === 'string' ? [value] : value).map((v) => v.trim()));
    byLowerName.set(name.toLowerCase(), list);
  }
  return [...signedNames]
    .sort(compareCodeUnits)
    .map((name) => `${name}:${(byLowerName.get(name) ?? []).sort(compareCodeUnits).join(',')}\n`)
    .join('');
}

export interface CanonicalRequestParts {
  method: string;
  /** The path as sent, e.g. "/" for every RPC API. */
  canonicalUri: string;
  queryPairs: ReadonlyArray<readonly [string, string]>;
  headers: HeaderValues;
  /** Lower-case names of the signed headers. */
  signedHeaders: readonly string[];
  payloadSha256Hex: string;
}

export function canonicalRequest(parts: CanonicalRequestParts): string {
  const signed = [...parts.signedHeaders].sort(compareCodeUnits);
  return [
    parts.method.toUpperCase(),
    parts.canonicalUri === '' ? '/' : parts.canonicalUri,
    canonicalQueryString(parts.queryPairs),
    canonicalHeaders(parts.headers, signed),
    signed.join(';'),
    parts.payloadSha256Hex,
  ].join('\n');
}

export function stringToSign(canonical: string): string {
  return `${ACS3_ALGORITHM}\n${sha256Hex(canonical)}`;
}

/** hex(HMAC-SHA256(secret, stringToSign)). */
export function acs3Signature(accessKeySecret: string, toSign: string): string {
  return createHmac('sha256', accessKeySecret).update(toSign).digest('hex');
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(a: string, b: string): boolean {
  const left = Buffer.from(a.toLowerCase());
  const right = Buffer.from(b.toLowerCase());
  return left.length === right.length && timingSafeEqual(left, right);
}

export interface Acs3Authorization {
  algorithm: string;
  accessKeyId: string;
  signedHeaders: string[];
  signature: string;
}

/** Parses `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`; null when it is not of that shape. */
export function parseAuthorization(header: string | undefined): Acs3Authorization | null {
  if (header === undefined) return null;
  const match = /^(\S+)\s+(.*)$/.exec(header.trim());
  if (match === null) return null;
  const fields = new Map<string, string>();
  for (const part of (match[2] ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const accessKeyId = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!accessKeyId || !signedHeaders || !signature) return null;
  return { algorithm: match[1] ?? '', accessKeyId, signedHeaders: signedHeaders.split(';').map((h) => h.trim().toLowerCase()), signature };
}

/** x-acs-date format: ISO 8601 UTC to the second, e.g. 2026-01-15T02:00:00Z. */
export function formatAcsDate(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface SignRequestInput {
  method: string;
  /** host[:port] as it will be sent in the Host header. */
  host: string;
  path?: string;
  query?: Readonly<Record<string, string>>;
  /** Extra headers to send (and sign when signable), e.g. content-type, x-acs-action, x-acs-version. */
  headers?: Readonly<Record<string, string>>;
  body?: string;
  accessKeyId: string;
  accessKeySecret: string;
  dateMs?: number;
  nonce?: string;
}

export interface SignedRequest {
  /** Path with the query string, encoded per RFC 3986, ready to append to http://host. */
  pathWithQuery: string;
  /** Every header to send, Authorization included. */
  headers: Record<string, string>;
  body: string;
}

/** Signs a request by hand (for tests that craft requests with fetch). */
export function signAcs3Request(input: SignRequestInput): SignedRequest {
  const body = input.body ?? '';
  const payloadSha256Hex = sha256Hex(body);
  const headers: Record<string, string> = {
    host: input.host,
    'x-acs-date': formatAcsDate(input.dateMs ?? Date.now()),
    'x-acs-signature-nonce': input.nonce ?? randomBytes(16).toString('hex'),
    'x-acs-content-sha256': payloadSha256Hex,
  };
  for (const [name, value] of Object.entries(input.headers ?? {})) headers[name.toLowerCase()] = value;
  const signedHeaders = Object.keys(headers).filter(isSignableHeader);
  const queryPairs = Object.entries(input.query ?? {});
  const path = input.path ?? '/';
  const canonical = canonicalRequest({ method: input.method, canonicalUri: path, queryPairs, headers, signedHeaders, payloadSha256Hex });
  const signature = acs3Signature(input.accessKeySecret, stringToSign(canonical));
  headers.authorization = `${ACS3_ALGORITHM} Credential=${input.accessKeyId},SignedHeaders=${[...signedHeaders].sort(compareCodeUnits).join(';')},Signature=${signature}`;
  const query = canonicalQueryString(queryPairs);
  return { pathWithQuery: query === '' ? path : `${path}?${query}`, headers, body };
}
