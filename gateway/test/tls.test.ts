/**
 * MQTT over TLS: the gateway with a certificate the test makes (openssl), real
 * mqtt.js clients over mqtts. A device that trusts the CA publishes; one that
 * does not, or speaks plain MQTT to the TLS port, gets nowhere; the plain port
 * serves on beside it unless turned off; the limits of the plain port apply
 * over TLS too; a renewed certificate is served to new connections; stop()
 * does not wait for a connection stuck in its handshake.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topics } from '@kanjia/protocol';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { makeTestCertificates } from '../../tests/src/certificates.js';
import { closed, Harness, sos, waitFor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'kanjia-tls-'));
const certs = makeTestCertificates(dir);
const renewed = makeTestCertificates(dir, { prefix: 'renewed-' });

describe('MQTT over TLS', () => {
  const h = new Harness();
  afterEach(() => h.close());
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const tlsGateway = (plain = true) => h.gateway({ tls: { port: 0, cert: certs.cert, key: certs.key }, plain });

  it('takes an SOS from a device that trusts the CA, over TLS, beside the plain port', async () => {
    const { gateway, port, uplinks } = await tlsGateway();
    expect(gateway.tlsPort).toBeGreaterThan(0);
    expect(port).toBeGreaterThan(0);
    const device = await h.device(gateway.tlsPort!, 'dev-001', { protocol: 'mqtts', ca: certs.ca });
    await device.publishAsync(topics.events('dev-001'), sos('tls-1'), { qos: 1 });
    const plainDevice = await h.device(port, 'dev-002');
    await plainDevice.publishAsync(topics.events('dev-002'), sos('plain-1'), { qos: 1 });
    await waitFor(() => uplinks.length === 2);
    expect(uplinks.map((u) => u.deviceId).sort()).toEqual(['dev-001', 'dev-002']);
  });

  it('refuses a device that does not trust the certificate, and a plain MQTT client on the TLS port', async () => {
    const { gateway, uplinks } = await tlsGateway();
    await expect(h.device(gateway.tlsPort!, 'dev-001', { protocol: 'mqtts' })).rejects.toThrow(/certificate/i);
    // A plain MQTT CONNECT to the TLS port: no CONNACK (0x20), only a TLS alert, and the connection is closed.
    const raw = tcpConnect({ host: '127.0.0.1', port: gateway.tlsPort! });
    raw.on('error', () => undefined);
    const answer: Buffer[] = [];
    raw.on('data', (d: Buffer) => answer.push(d));
    const rawClosed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    raw.write(Buffer.from('101300044d5154540402003c0007', 'hex'));
    raw.write(Buffer.from('dev-002'));
    await rawClosed;
    expect(Buffer.concat(answer)[0]).not.toBe(0x20);
    expect(uplinks).toEqual([]);
    expect(gateway.stats().connections).toBe(0);
  });

  it('applies the plain port’s limits over TLS: 200 KiB in one packet closes the connection', async () => {
    const { gateway } = await tlsGateway();
    const big = await h.device(gateway.tlsPort!, 'dev-001', { protocol: 'mqtts', ca: certs.ca });
    big.publish(topics.accel('dev-001'), Buffer.alloc(200 * 1024, 0x20), { qos: 0 });
    await closed(big);
    expect(gateway.stats().oversized).toBe(1);
  });

  it('runs TLS only when the plain port is turned off, and refuses plain: false without TLS', async () => {
    const { gateway, port } = await tlsGateway(false);
    expect(port).toBe(0);
    const device = await h.device(gateway.tlsPort!, 'dev-001', { protocol: 'mqtts', ca: certs.ca });
    expect(device.connected).toBe(true);
    await expect(h.gateway({ plain: false })).rejects.toThrow(/plain: false leaves no listener/);
  });

  it('serves a renewed certificate to new connections', async () => {
    const { gateway } = await tlsGateway();
    gateway.setTlsCertificate({ cert: renewed.cert, key: renewed.key });
    await expect(h.device(gateway.tlsPort!, 'dev-001', { protocol: 'mqtts', ca: certs.ca })).rejects.toThrow(/certificate|signature/i);
    const device = await h.device(gateway.tlsPort!, 'dev-002', { protocol: 'mqtts', ca: renewed.ca });
    expect(device.connected).toBe(true);
  });

  it('cuts a connection stuck before its handshake when it stops', async () => {
    const { gateway } = await tlsGateway();
    const raw = tcpConnect({ host: '127.0.0.1', port: gateway.tlsPort! });
    raw.on('error', () => undefined);
    await new Promise<void>((resolve) => raw.once('connect', () => resolve()));
    const rawClosed = new Promise<void>((resolve) => raw.once('close', () => resolve()));
    await gateway.stop();
    await rawClosed;
  });
});
