// The binary-CNN benchmarks run end to end (a quick run: one timed sample) and
// their cross-checks hold: the frozen model gives the eval-mode model's logits,
// the float peers in tfjs-wasm and onnxruntime-web compute the same network
// (same classes), and the training contenders start from the same weights with
// the same first loss. Timings are never asserted.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;

function runBench(name: string): Record<string, any> {
  execFileSync(process.execPath, [join(root, 'bench', `${name}.mjs`), '--quick'], { cwd: root, encoding: 'utf8', timeout: 240_000 });
  return JSON.parse(readFileSync(join(root, 'bench', 'results', `${name}.tmp.json`), 'utf8'));
}

describe('binary CNN benchmarks (quick runs)', () => {
  test('inference-cnn: frozen == eval-mode, peers agree with snapgrad, every timing recorded', () => {
    const r = runBench('inference-cnn');
    expect(r.frozenCheck.identicalClasses).toBe(true);
    expect(r.frozenCheck.maxAbsLogitDiff).toBe(0);
    expect(r.frozenCheck.images).toBeGreaterThanOrEqual(100);
    expect(Object.keys(r.byBatch).sort()).toEqual(['1', '64']);
    for (const [batch, b] of Object.entries<any>(r.byBatch)) {
      expect(Object.keys(b.ms)).toEqual(['snapgrad frozen (packed bits)', 'tfjs-wasm float (NHWC)', 'onnxruntime-web float (NCHW)']);
      for (const [name, ms] of Object.entries<number>(b.ms)) expect(Number.isFinite(ms) && ms > 0, `${batch} ${name}: ${ms}`).toBe(true);
      for (const [name, ms] of Object.entries<number>(b.cpuMs)) expect(Number.isFinite(ms) && ms >= 0, `${batch} ${name}: cpu ${ms}`).toBe(true);
      expect(b.stages.length, 'per-stage profile').toBeGreaterThan(5);
      // The peers compute the same function (Sign(0) = 0 may flip a rare class on a tie).
      for (const [name, a] of Object.entries<number>(b.sameClassAsSnapgrad)) expect(a, `${batch} ${name}`).toBeGreaterThanOrEqual(0.95);
    }
    expect(r.threads.snapgrad).toBeGreaterThanOrEqual(1);
    expect(r.machine.loadavg).toHaveLength(3);
  }, 250_000);

  test('training-cnn: same weights give the same first loss in snapgrad and both tfjs variants, and each step learns', () => {
    const r = runBench('training-cnn');
    const names = ['snapgrad', 'tfjs-wasm hand-tuned', 'tfjs-wasm obvious'];
    expect(Object.keys(r.firstLosses)).toEqual(names);
    expect(r.firstLosses['tfjs-wasm hand-tuned']).toBeCloseTo(r.firstLosses.snapgrad, 3);
    expect(Math.abs(r.firstLosses['tfjs-wasm obvious'] - r.firstLosses.snapgrad)).toBeLessThan(1e-2 * r.firstLosses.snapgrad);
    for (const n of names) {
      expect(r.secondLosses[n]).toBeLessThan(r.firstLosses[n]);
      expect(Number.isFinite(r.msPerStep[n]) && r.msPerStep[n] > 0).toBe(true);
    }
    expect(r.check).toEqual({ firstLossesAgree: true, allLearn: true });
  }, 250_000);
});
