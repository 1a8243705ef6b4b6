/**
 * The alarm sound, synthesised with the Web Audio API (no asset files: the
 * village may be offline). Browsers keep audio locked until the first user
 * gesture on the page; `unlocked` says whether sound can play, so the page can
 * ask for a click when it cannot.
 */
import { ref, type Ref } from 'vue';
import type { Severity } from '@kanjia/protocol';

interface Beep {
  /** Start, from the start of the pattern. */
  atS: number;
  durationS: number;
  hz: number;
}

function beeps(hz: readonly number[], durationS: number, gapS: number, groups: number, groupGapS: number): Beep[] {
  const out: Beep[] = [];
  let at = 0;
  for (let g = 0; g < groups; g++) {
    for (const f of hz) {
      out.push({ atS: at, durationS, hz: f });
      at += durationS + gapS;
    }
    at += groupGapS;
  }
  return out;
}

/**
 * Critical: a fast high–low siren, three times (unmistakable, like a pager);
 * urgent: two pairs of mid beeps; maintenance: one soft low beep.
 */
const PATTERNS: Readonly<Record<Severity, { beeps: Beep[]; gain: number; wave: OscillatorType }>> = {
  critical: { beeps: beeps([1046, 784], 0.18, 0.04, 3, 0.25), gain: 0.35, wave: 'square' },
  urgent: { beeps: beeps([880, 880], 0.2, 0.1, 2, 0.4), gain: 0.3, wave: 'triangle' },
  maintenance: { beeps: beeps([523], 0.3, 0, 1, 0), gain: 0.2, wave: 'sine' },
};

type AudioContextCtor = new () => AudioContext;

export class AlarmSound {
  /** Whether the browser lets us play now. */
  readonly unlocked: Ref<boolean> = ref(false);
  private ctx: AudioContext | null = null;

  /** Call from a user gesture (click, key press): creates or resumes the audio context. */
  unlock(): void {
    const Ctor = (globalThis as { AudioContext?: AudioContextCtor; webkitAudioContext?: AudioContextCtor }).AudioContext
      ?? (globalThis as { webkitAudioContext?: AudioContextCtor }).webkitAudioContext;
    if (!Ctor) return;
    if (!this.ctx) {
      this.ctx = new Ctor();
      this.ctx.onstatechange = () => this.updateUnlocked();
    }
    if (this.ctx.state === 'suspended') {
      this.ctx.resume().then(
        () => this.updateUnlocked(),
        (err: unknown) => console.warn('[kanjia] audio resume failed', err),
      );
    }
    this.updateUnlocked();
  }

  /** Plays the pattern for `severity`; silently nothing while locked (the page shows that). */
  play(severity: Severity): void {
    const ctx = this.ctx;
    if (!ctx || ctx.state !== 'running') return;
    const pattern = PATTERNS[severity];
    const t0 = ctx.currentTime + 0.05;
    for (const b of pattern.beeps) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = pattern.wave;
      osc.frequency.value = b.hz;
      const start = t0 + b.atS;
      const end = start + b.durationS;
      // Short ramps avoid clicks at the edges of each beep.
      gain.gain.setValueAtTime(0, start);
      gain.gain.linearRampToValueAtTime(pattern.gain, start + 0.01);
      gain.gain.setValueAtTime(pattern.gain, end - 0.02);
      gain.gain.linearRampToValueAtTime(0, end);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(end + 0.01);
    }
  }

  close(): void {
    void this.ctx?.close().catch(() => undefined);
    this.ctx = null;
    this.unlocked.value = false;
  }

  private updateUnlocked(): void {
    this.unlocked.value = this.ctx?.state === 'running';
  }
}
