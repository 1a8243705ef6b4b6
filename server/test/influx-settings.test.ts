/**
 * The KANJIA_INFLUX_* settings: unset is SQLite only; a partial set names
 * what is missing; a bad value says what is expected; the token is never
 * in a problem's text.
 */
import { describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../src/config.js';

function problems(env: Record<string, string>): string[] {
  try {
    loadSettings(env);
  } catch (err) {
    if (err instanceof SettingsError) return err.problems;
    throw err;
  }
  return [];
}

describe('time-series database settings', () => {
  it('leaves it off when none is set', () => {
    expect(loadSettings({}).influx).toBeUndefined();
  });

  it('takes InfluxDB 2 with a token (Flux by default) and VictoriaMetrics without one (prometheus), trailing slash dropped, 256 MiB buffer by default', () => {
    expect(loadSettings({ KANJIA_INFLUX_URL: 'http://127.0.0.1:8086/', KANJIA_INFLUX_TOKEN: 'tok', KANJIA_INFLUX_ORG: 'county', KANJIA_INFLUX_BUCKET: 'kanjia' }).influx).toEqual({
      url: 'http://127.0.0.1:8086',
      token: 'tok',
      org: 'county',
      bucket: 'kanjia',
      query: 'flux',
      bufferMb: 256,
    });
    expect(loadSettings({ KANJIA_INFLUX_URL: 'http://127.0.0.1:8428', KANJIA_INFLUX_ORG: 'o', KANJIA_INFLUX_BUCKET: 'b', KANJIA_INFLUX_QUERY: 'prometheus', KANJIA_INFLUX_BUFFER_MB: '32' }).influx).toMatchObject({ query: 'prometheus', bufferMb: 32 });
  });

  it('names every missing companion of a partial set', () => {
    const p = problems({ KANJIA_INFLUX_QUERY: 'prometheus' });
    expect(p.map((x) => x.split(':')[0])).toEqual(['KANJIA_INFLUX_URL', 'KANJIA_INFLUX_ORG', 'KANJIA_INFLUX_BUCKET']);
  });

  it('refuses Flux without a token, a URL with a password or of another scheme, an unknown query language and a buffer that is not a number, without repeating the token', () => {
    expect(problems({ KANJIA_INFLUX_URL: 'http://x:8086', KANJIA_INFLUX_ORG: 'o', KANJIA_INFLUX_BUCKET: 'b' })).toEqual([expect.stringMatching(/^KANJIA_INFLUX_TOKEN: InfluxDB 2 .* needs an API token/)]);
    const p = problems({ KANJIA_INFLUX_URL: 'http://user:s3cret-token@x:8086', KANJIA_INFLUX_TOKEN: 's3cret-token', KANJIA_INFLUX_ORG: 'o', KANJIA_INFLUX_BUCKET: 'b', KANJIA_INFLUX_QUERY: 'sql', KANJIA_INFLUX_BUFFER_MB: 'lots' });
    expect(p).toEqual([
      expect.stringMatching(/^KANJIA_INFLUX_URL: no user or password in the address/),
      expect.stringMatching(/^KANJIA_INFLUX_QUERY: flux \(InfluxDB 2\) or prometheus/),
      expect.stringMatching(/^KANJIA_INFLUX_BUFFER_MB: a whole number of MiB/),
    ]);
    expect(p.join('\n')).not.toContain('s3cret-token');
    expect(problems({ KANJIA_INFLUX_URL: 'udp://x:8089', KANJIA_INFLUX_TOKEN: 't', KANJIA_INFLUX_ORG: 'o', KANJIA_INFLUX_BUCKET: 'b' })).toEqual([expect.stringMatching(/^KANJIA_INFLUX_URL: an http\(s\) address/)]);
  });
});
