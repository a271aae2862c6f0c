// The relaxed builds in Deno, which validates relaxed SIMD (Node 20 does not
// without a flag): what init() chooses there, the relaxed kernels against naive
// sums (relaxed-kernels.mjs), and the conformance suite per build. Where the
// probe fails on this CPU, the relaxed build is forced with unsafeRelaxed, and
// the probe's diagnosis must match what the kernels then do.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { snapshotDiff } from '../conformance/snapshot.mjs';

const ROOT = new URL('../../', import.meta.url).pathname;
const DENO = join(ROOT, 'node_modules/.bin/deno');
const DIST_URL = new URL('dist/snapgrad.js', `file://${ROOT}`).href;
const env = { ...process.env, DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' };

function deno(script: string, ...args: string[]): any {
  const out = execFileSync(DENO, ['run', '--allow-read', '--no-remote', '--no-check', script, ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const UNSAFE = { build: 'relaxed', unsafeRelaxed: true };

describe('relaxed builds in Deno', () => {
  const auto = () => deno('test/conformance/run.mjs', DIST_URL);
  let autoResult: any;

  test('init() with no options: relaxed only where the probe passes, and the build\'s snapshot holds', () => {
    autoResult = auto();
    expect(autoResult.runtime).toBe('deno');
    if (autoResult.relaxed) {
      expect(autoResult.build).toBe('relaxed-simd128-threads');
      expect(autoResult.relaxedReason).toContain('probe passed');
    } else {
      expect(autoResult.build).toBe('simd128-threads');
      expect(autoResult.relaxedReason).toMatch(/; the plain SIMD build runs$/);
    }
    expect(snapshotDiff(autoResult.hashes, autoResult.relaxed ? 'relaxed' : 'simd')).toEqual([]);
  });

  test.each([1, 2])('the relaxed kernels give the naive sums at %i thread(s) (int8 with |b| <= 64; u8 x 1-bit on full range)', (threads) => {
    const r = deno('test/runtime/relaxed-kernels.mjs', DIST_URL, String(threads));
    expect(r.info.relaxed).toBe(true);
    expect(r.info.threads).toBe(threads);
    expect(r.checked).toBe(23);
    expect(r.mismatches).toEqual([]);
    // Full-range int8 is exact exactly when the probe did not find saturation.
    expect(r.fullRangeExact).toBe(!/saturates/.test(r.info.relaxedReason));
  });

  test('the relaxed build\'s conformance hashes: all equal where the probe passes; forced where it fails, only int8 GEMM cases differ', () => {
    const r = deno('test/conformance/run.mjs', DIST_URL, JSON.stringify(UNSAFE));
    expect(r.build).toBe('relaxed-simd128-threads');
    expect(r.threadDiffs).toEqual({ 2: [], 3: [], 4: [] });
    const differing = snapshotDiff(r.hashes, 'relaxed').map((line: string) => line.slice(0, line.indexOf(':')));
    if (!r.relaxedReason.startsWith('unsafeRelaxed')) {
      expect(differing).toEqual([]);
      return;
    }
    // The probe failed on the relaxed dot: the cases through relaxed_swizzle (uint8BinaryMatmul) and every other kernel keep their bits.
    expect(r.relaxedReason).toMatch(/relaxed dot/);
    expect(differing.length).toBeGreaterThan(0);
    for (const name of differing) expect(name).toMatch(/^int8Matmul/);
  });
});
