import { describe, expect, it } from 'vitest';
import { TopicEmitter } from '../src/topic-emitter.js';

const tick = () => new Promise((r) => setImmediate(r));

describe('TopicEmitter', () => {
  it('delivers to the exact listeners and the matching wildcard filters, then calls back once', async () => {
    const mq = new TopicEmitter();
    const got: string[] = [];
    mq.on('kanjia/v1/devices/dev-001/commands', (m, done) => (got.push(`exact ${m.topic}`), done()));
    mq.on('kanjia/v1/devices/+/commands', (m, done) => (got.push(`plus ${m.topic}`), setImmediate(done)));
    mq.on('kanjia/v1/devices/dev-002/commands', (_m, done) => (got.push('other'), done()));
    await tick();
    let calls = 0;
    await new Promise<void>((resolve) => mq.emit({ topic: 'kanjia/v1/devices/dev-001/commands' }, () => (calls++, resolve())));
    await tick();
    expect(got).toEqual(['exact kanjia/v1/devices/dev-001/commands', 'plus kanjia/v1/devices/dev-001/commands']);
    expect(calls).toBe(1);
  });

  it('completes a message nobody listens to synchronously, however many are emitted (no queue behind a cap)', () => {
    const mq = new TopicEmitter();
    mq.on('kanjia/v1/devices/+/commands', () => {}); // a listener that never finishes: mqemitter's cap would fill
    let done = 0;
    for (let i = 0; i < 1_000; i++) mq.emit({ topic: `kanjia/v1/devices/d${i}/commands` });
    for (let i = 0; i < 100_000; i++) mq.emit({ topic: `kanjia/v1/devices/d${i}/events` }, () => (done++, undefined));
    expect(done).toBe(100_000);
  });

  it('forgets an exact listener once removed, and refuses to emit once closed', async () => {
    const mq = new TopicEmitter();
    const got: string[] = [];
    const listener = (_m: { topic: string }, done: () => void) => (got.push('x'), done());
    mq.on('a/b', listener);
    await new Promise<void>((resolve) => mq.removeListener('a/b', listener, resolve));
    mq.emit({ topic: 'a/b' });
    expect(got).toEqual([]);
    await new Promise<void>((resolve) => mq.close(resolve));
    const err = await new Promise<Error | undefined>((resolve) => mq.emit({ topic: 'a/b' }, resolve));
    expect(err?.message).toMatch(/closed/);
  });
});
