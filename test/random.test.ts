// The default generator (sg.seed, rngState, setRngState) and hostile input to
// the random functions. Unseeded call k after seed(n) is stream k of key(n)
// from draw 0 (key: splitmix32's finalizer of n + 0x6a09e667, written out
// below), so the expected values come from the scalar twin.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import * as sg from '../src/index.js';
import { rngIntI32Ref, rngUniformF32Ref } from '../src/reference/rng.js';
import { expectExact } from './support/kernel-harness.js';
import { useSnapgrad } from './support/setup.js';

useSnapgrad();

const ROOT = new URL('../', import.meta.url).pathname;

beforeAll(() => {
  execFileSync(process.execPath, [join(ROOT, 'test/support/ensure-build.mjs')], { stdio: 'inherit' });
});

/** The key of the default generator's streams after seed(n), by hand. */
function key(n: number): number {
  let z = (n + 0x6a09e667) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function values(t: sg.Tensor): number[] {
  const v = Array.from(t.dataSync() as ArrayLike<number>);
  t.dispose();
  return v;
}

describe('sg.seed and the default generator', () => {
  test('unseeded call k after seed(n) is stream k of key(n); seed(n) again replays it', () => {
    sg.seed(1234);
    const a = values(sg.rand([37]));
    const b = values(sg.rand([37], { low: -2, high: 5 }));
    const c = values(sg.randint([37], 0, 1000));
    expectExact(Float32Array.from(a), rngUniformF32Ref(37, key(1234), 0, 0, 0, 1).values, 'call 0');
    expectExact(Float32Array.from(b), rngUniformF32Ref(37, key(1234), 1, 0, -2, 5).values, 'call 1');
    expectExact(Int32Array.from(c), rngIntI32Ref(37, key(1234), 2, 0, 0, 1000).values, 'call 2');
    expect(sg.rngState()).toEqual({ seed: 1234, counter: 3 });
    sg.seed(1234);
    expect(values(sg.rand([37]))).toEqual(a);
    expect(values(sg.rand([37], { low: -2, high: 5 }))).toEqual(b);
  });

  test('two unseeded calls give different values (with and without seed(n))', () => {
    for (const reseed of [true, false]) {
      if (reseed) sg.seed(7);
      const x = values(sg.randn([64]));
      const y = values(sg.randn([64]));
      expect(x.filter((v, i) => v === y[i]).length, `reseed=${reseed}`).toBe(0);
      const g1 = values(sg.ste.gumbelSoftmax(sg.zeros([8, 5])));
      const g2 = values(sg.ste.gumbelSoftmax(sg.zeros([8, 5])));
      expect(g1).not.toEqual(g2);
    }
  });

  test('a call with { seed } depends on that seed only and leaves the default generator alone', () => {
    sg.seed(99);
    const first = values(sg.randn([20]));
    sg.seed(99);
    const own = values(sg.randn([20], { seed: 5 }));
    expect(values(sg.randn([20], { seed: 5 }))).toEqual(own);
    expect(sg.rngState().counter).toBe(0);
    expect(values(sg.randn([20]))).toEqual(first);
    // The same seed every step: the same noise every step.
    const logits = sg.tensor([[0.1, 0.5, -0.3], [1, 0, 0]]);
    const n1 = values(sg.ste.gumbelSoftmax(logits, { seed: 3 }));
    const n2 = values(sg.ste.gumbelSoftmax(logits, { seed: 3 }));
    expect(n2).toEqual(n1);
    logits.dispose();
  });

  test('seed(n) does not replay calls with { seed: n } (randn stream 0, gumbelSoftmax stream 7)', () => {
    for (const n of [0, 1, 42]) {
      sg.seed(n);
      const unseeded = Array.from({ length: 8 }, () => values(sg.rand([16])));
      const own = values(sg.rand([16], { seed: n }));
      for (const u of unseeded) expect(u).not.toEqual(own);
      sg.seed(n);
      const g = Array.from({ length: 8 }, () => values(sg.ste.gumbelSoftmax(sg.zeros([4, 4]))));
      const gOwn = values(sg.ste.gumbelSoftmax(sg.zeros([4, 4]), { seed: n }));
      for (const u of g) expect(u).not.toEqual(gOwn);
    }
  });

  test('rngState / setRngState: a plain object that replays what follows', () => {
    sg.seed(5);
    values(sg.rand([3]));
    const saved = sg.rngState();
    expect(JSON.parse(JSON.stringify(saved))).toEqual(saved);
    const next = [values(sg.randn([9])), values(sg.randint([9], -4, 4)), values(sg.rand([9]))];
    sg.seed(6);
    values(sg.rand([3]));
    sg.setRngState(saved);
    expect([values(sg.randn([9])), values(sg.randint([9], -4, 4)), values(sg.rand([9]))]).toEqual(next);
    // Past 2^32 calls the streams do not repeat: the seed moves on.
    sg.setRngState({ seed: 5, counter: 2 ** 32 });
    const far = values(sg.rand([9]));
    sg.setRngState({ seed: 5, counter: 0 });
    expect(far).not.toEqual(values(sg.rand([9])));
  });

  test('bad arguments to seed / setRngState throw a clear error and change nothing', () => {
    sg.seed(8);
    const before = sg.rngState();
    for (const bad of [NaN, -1, 1.5, 2 ** 40, '3', null, undefined, Infinity]) {
      expect(() => sg.seed(bad as number)).toThrow(/^seed: n must be (a number|finite|an integer|>= 0|<= 4294967295), got /);
    }
    for (const bad of [null, 5, { seed: 1 }, { seed: -1, counter: 0 }, { seed: 1, counter: -1 }, { seed: 1, counter: 0.5 }, { seed: 1, counter: 2 ** 53 }]) {
      expect(() => sg.setRngState(bad as sg.RngState)).toThrow(/^setRngState: state/);
    }
    expect(sg.rngState()).toEqual(before);
  });

  test('a fresh process after the same seed(n) gives the same bits (and this process too)', () => {
    const script = `
      import * as sg from ${JSON.stringify(join(ROOT, 'dist/snapgrad.js'))};
      await sg.init();
      const seed = process.argv[1];
      if (seed !== 'none') sg.seed(Number(seed));
      const out = [sg.randn([33]), sg.rand([17], { low: -1, high: 1 }), sg.randint([19], -50, 50), sg.ste.gumbelSoftmax(sg.zeros([4, 3]), { tau: 0.5 }), sg.randn([5], { seed: 77 })];
      console.log(JSON.stringify({ values: out.map((t) => Array.from(t.dataSync())), state: sg.rngState() }));
    `;
    const run = (seed: string) => JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script, seed], { encoding: 'utf8' }));
    const p1 = run('2024');
    const p2 = run('2024');
    expect(p2).toEqual(p1);
    expect(p1.state).toEqual({ seed: 2024, counter: 4 });
    // The same calls here (from src/, not the bundle) give the same bits.
    sg.seed(2024);
    const here = [sg.randn([33]), sg.rand([17], { low: -1, high: 1 }), sg.randint([19], -50, 50), sg.ste.gumbelSoftmax(sg.zeros([4, 3]), { tau: 0.5 }), sg.randn([5], { seed: 77 })];
    expect(here.map(values)).toEqual(p1.values);
    const other = run('2025');
    expect(other.values[0]).not.toEqual(p1.values[0]);
    expect(other.values[4]).toEqual(p1.values[4]);
    // Without seed(n) every process draws its own default seed.
    const u1 = run('none');
    const u2 = run('none');
    expect(u1.state.seed).not.toBe(u2.state.seed);
    expect(u1.values[0]).not.toEqual(u2.values[0]);
  }, 60_000);
});

describe('hostile input (issue 10)', () => {
  const SEED_ERROR = (op: string) => new RegExp(`^${op}: seed must be (a number|finite|an integer|>= 0|<= 4294967295), got `);
  /** Runs fn, expects an error matching re, and checks that nothing was allocated and the default generator did not move. */
  function rejects(fn: () => unknown, re: RegExp): void {
    sg.seed(3);
    const mem = sg.memoryStats();
    expect(fn).toThrow(re);
    expect(sg.memoryStats().tensorsAlive, `${re}: tensors alive`).toBe(mem.tensorsAlive);
    expect(sg.memoryStats().bytesInUse, `${re}: bytes in use`).toBe(mem.bytesInUse);
    expect(sg.rngState()).toEqual({ seed: 3, counter: 0 });
  }

  test('rand over a span wider than float32 gives distinct values in [low, high)', () => {
    const x = sg.rand([2000], { low: -3e38, high: 3e38, seed: 1 });
    const v = x.dataSync() as Float32Array;
    expect(new Set(v).size).toBeGreaterThan(1990);
    expect(v.every((a) => a >= Math.fround(-3e38) && a < Math.fround(3e38))).toBe(true);
    expect(v.some((a) => a < -1e38) && v.some((a) => a > 1e38)).toBe(true);
    x.dispose();
  });

  test('a bad seed throws naming the function and seed, and leaks nothing', () => {
    const logits = sg.zeros([2, 3]);
    // null means "not given" (the package's options rule), so it is not among the bad seeds.
    for (const bad of [NaN, -1, 1.5, 2 ** 40, 'x', '3', Infinity, {}]) {
      rejects(() => sg.randn([100], { seed: bad as number }), SEED_ERROR('randn'));
      rejects(() => sg.rand([100], { seed: bad as number }), SEED_ERROR('rand'));
      rejects(() => sg.randint([100], 0, 5, { seed: bad as number }), SEED_ERROR('randint'));
      rejects(() => sg.ste.gumbelSoftmax(logits, { seed: bad as number }), SEED_ERROR('ste.gumbelSoftmax'));
    }
    logits.dispose();
  });

  test('randint with bad low/high throws naming randint and the argument, and leaks nothing', () => {
    for (const bad of [NaN, 1.5, '1', null, 2 ** 31, -(2 ** 31) - 1, Infinity]) {
      rejects(() => sg.randint([10], bad as number, 5), /^randint: low must be/);
      rejects(() => sg.randint([10], -5, bad as number), /^randint: high must be/);
    }
    rejects(() => sg.randint([10], 5, 5), /^randint: high \(5\) must be greater than low \(5\)/);
    rejects(() => sg.randint([10], 0, 5, { dtype: 'float32' }), /^randint: dtype must be int32/);
    rejects(() => sg.randint([10], 0, 5, { requiresGrad: true }), /^randint: requiresGrad needs dtype float32/);
  });

  test('bad options, shapes and float32-overflowing parameters are named, and leak nothing', () => {
    rejects(() => sg.randn([3], 'x' as never), /^randn: options must be an object/);
    rejects(() => sg.rand([3], 5 as never), /^rand: options must be an object/);
    rejects(() => sg.randint([3], 0, 2, [] as never), /^randint: options must be an object/);
    rejects(() => sg.randn([-1]), /^randn: shape\[0\] must be a non-negative/);
    rejects(() => sg.randn([3], { std: -1 }), /^randn: std must be >= 0, got -1/);
    rejects(() => sg.randn([3], { std: 1e39 }), /^randn: std must be within the float32 range/);
    rejects(() => sg.randn([3], { mean: -1e39 }), /^randn: mean must be within the float32 range/);
    rejects(() => sg.rand([3], { high: 1e39 }), /^rand: high must be within the float32 range/);
    rejects(() => sg.rand([3], { low: 1, high: 1 + 1e-12 }), /^rand: high \(1\.000000000001\) must be greater than low \(1\) as float32 values \(they round to the same float32\)/);
    rejects(() => sg.rand([3], { low: 2, high: 1 }), /^rand: high \(1\) must be greater than low \(2\) as float32 values$/);
    rejects(() => sg.rand([3], { dtype: 'int32' }), /^rand: dtype must be float32/);
  });
});
