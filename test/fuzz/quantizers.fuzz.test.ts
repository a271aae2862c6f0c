// The modern quantizers (issue 14): nn.FSQ, nn.LFQ, nn.ResidualVQ and the
// ste.vq variants (rotation trick, cosine codebooks, sampling) under hostile
// sizes, options and values, against float64 references and their own
// documented invariants (codes on the grid, indices <-> codes both ways).
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { finiteF32, hostile, make, matrix, numberOption, plainF32 } from './arbitraries.js';
import { expectClose, expectNoLeakSince, free, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

const fin = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const same = (a: ArrayLike<number>, b: ArrayLike<number>, what: string): void => {
  if (a.length !== b.length || Array.from(a).some((v, i) => !Object.is(v, b[i]) && !(v === 0 && b[i] === 0))) throw new Error(`${what}: [${Array.from(a).slice(0, 8)}] != [${Array.from(b).slice(0, 8)}]`);
};

describe('quantizers', () => {
  prop(['sg.nn.FSQ', 'sg.nn.FSQ#forward', 'sg.nn.FSQ#quantize', 'sg.nn.FSQ#codesToIndices', 'sg.nn.FSQ#indicesToCodes', 'sg.nn.FSQ#inputWidth'],
    'FSQ: valid levels build, every code is on its channel grid within [-1, 1], indices decode to the same bits and encode back; bad levels and inputs are clear errors', fc.record({
      levels: fc.oneof({ weight: 4, arbitrary: fc.array(fc.integer({ min: 3, max: 12 }), { minLength: 1, maxLength: 5 }) }, { weight: 1, arbitrary: fc.array(fc.oneof(fc.integer({ min: -1, max: 9 }), hostile), { maxLength: 4 }) }, { weight: 1, arbitrary: hostile }),
      rows: fc.integer({ min: 1, max: 9 }), widthDelta: fc.constantFrom(0, 0, 0, 1), train: fc.boolean(),
      values: fc.array(fc.oneof({ weight: 9, arbitrary: fc.double({ min: -6, max: 6, noNaN: true }).map(Math.fround) }, { weight: 1, arbitrary: fc.constantFrom(NaN, Infinity, -Infinity, -0, 1e30) }), { minLength: 60, maxLength: 60 }),
    }), async ({ levels, rows, widthDelta, train, values }) => {
      const valid = Array.isArray(levels) && levels.length >= 1 && levels.length <= 32 && levels.every((L) => Number.isInteger(L) && (L as number) >= 3) && (levels as number[]).reduce((a, b) => a * b, 1) <= 2 ** 30;
      let fsq: sg.nn.FSQ | null = null;
      await runCase(() => (fsq = new sg.nn.FSQ(levels as number[])), { fn: 'FSQ', args: ['levels'], expect: valid ? 'ok' : 'error', kept: (m) => m.namedBuffers().map(([, t]) => t) });
      if (!valid) return;
      fsq = new sg.nn.FSQ(levels as number[]);
      const d = fsq.dim;
      if (fsq.inputWidth() !== d) throw new Error('inputWidth');
      fsq.train(train);
      const since = stats();
      const width = d + widthDelta;
      const z = sg.tensor(Array.from({ length: rows * width }, (_, i) => values[i % values.length]), [rows, width]);
      const ok = widthDelta === 0 && !Array.from(z.dataSync()).some(Number.isNaN);
      await runCase(() => fsq!.quantize(z), {
        fn: 'FSQ.quantize', expect: ok ? 'ok' : 'error', state: [z],
        check: (r) => {
          const codes = r.codes.dataSync();
          const idx = r.indices.dataSync();
          const lv = levels as number[];
          for (let n = 0; n < rows; n++) {
            let index = 0;
            for (let c = 0; c < d; c++) {
              const h = Math.floor(lv[c] / 2);
              const k = Math.round(codes[n * d + c] / Math.fround(1 / h));
              if (!(k >= -h && k <= lv[c] - 1 - h) || codes[n * d + c] !== Math.fround(k * Math.fround(1 / h))) throw new Error(`code ${codes[n * d + c]} off channel ${c}'s grid (L = ${lv[c]})`);
              // The float64 bound picks the same level unless it sits within float32 noise of a rounding boundary.
              const a = ((lv[c] - 1) * (1 - 1e-3)) / 2, o = lv[c] % 2 === 0 ? 0.5 : 0;
              const b = Math.tanh(z.dataSync()[n * d + c] + Math.atanh(o / a)) * a - o;
              if (Math.abs(b - Math.round(b)) < 0.5 - 1e-4 && Math.round(b) !== k && !(Math.round(b) === 0 && k === 0)) throw new Error(`level ${k}, float64 bound ${b}`);
              index += (k + h) * fsq!.basis[c];
            }
            if (idx[n] !== index) throw new Error(`index ${idx[n]} != ${index}`);
          }
          sg.tidy(() => {
            same(fsq!.indicesToCodes(r.indices).dataSync(), codes, 'indicesToCodes(indices)');
            same(fsq!.codesToIndices(r.codes).dataSync(), idx, 'codesToIndices(codes)');
            same(fsq!.forward(z).dataSync(), codes, 'forward');
          });
        },
      });
      const bad = sg.tensor([fsq.codebookSize], [1], { dtype: 'int32' });
      await runCase(() => fsq!.indicesToCodes(bad), { fn: 'FSQ.indicesToCodes', args: ['indices'], expect: 'error' });
      free(z, bad);
      expectNoLeakSince(since, 'FSQ');
      fsq.dispose();
    });

  prop(['sg.nn.LFQ', 'sg.nn.LFQ#forward', 'sg.nn.LFQ#quantize', 'sg.nn.LFQ#codesToIndices', 'sg.nn.LFQ#indicesToCodes', 'sg.nn.LFQ#summaryMacs', 'sg.nn.LFQ#inputWidth', 'sg.nn.LFQ#freezeStage'],
    'LFQ: codes are the signs (0 -> +1), indices their bits both ways; entropies lie in [0, ln 2^d] and the loss is finite; freeze gives the same bits; bad options are clear errors', fc.record({
      codeDim: numberOption(fc.integer({ min: 1, max: 6 })), temperature: numberOption(fc.constantFrom(0.01, 0.5, 3)), gamma: numberOption(fc.constantFrom(0, 1, 2)),
      rows: fc.integer({ min: 1, max: 12 }), values: fc.array(fc.oneof({ weight: 9, arbitrary: plainF32 }, { weight: 1, arbitrary: fc.constantFrom(-0, 0, 1e-40, 1e30) }), { minLength: 72, maxLength: 72 }),
    }), async ({ codeDim, temperature, gamma, rows, values }) => {
      const valid = Number.isInteger(codeDim) && (codeDim as number) >= 1 && (codeDim as number) <= 14
        && (temperature === undefined || (fin(temperature) && temperature >= 1.2e-38 && temperature <= 3.4e38 && 2 / temperature <= 3.4e38)) && (gamma === undefined || (fin(gamma) && gamma >= 0 && gamma <= 3.4e38));
      const options = { temperature: temperature as number, diversityGamma: gamma as number };
      await runCase(() => new sg.nn.LFQ(codeDim as number, options), { fn: 'LFQ', expect: valid ? 'ok' : 'error' });
      if (!valid) return;
      const D = codeDim as number;
      const lfq = new sg.nn.LFQ(D, options);
      if (lfq.inputWidth() !== D) throw new Error('inputWidth');
      const since = stats();
      const z = sg.tensor(Array.from({ length: rows * D }, (_, i) => values[i % values.length]), [rows, D]);
      // The entropy's logits 2·z·c/τ must stay finite: larger |z| is a clear error.
      const limit = (3e38 * lfq.temperature) / (2 * D);
      const small = Array.from(z.dataSync()).every((v) => Math.abs(v) <= limit);
      await runCase(() => lfq.quantize(z), {
        fn: 'LFQ.quantize', args: ['z'], expect: small ? 'ok' : 'error', state: [z],
        check: (r) => {
          const zs = z.dataSync();
          same(r.codes.dataSync(), Array.from(zs, (v) => (v >= 0 ? 1 : -1)), 'codes');
          same(r.indices.dataSync(), Array.from({ length: rows }, (_, n) => Array.from({ length: D }, (_, i) => (zs[n * D + i] >= 0 ? 2 ** i : 0)).reduce((a, b) => a + b, 0)), 'indices');
          const hmax = D * Math.LN2 * (1 + 1e-5) + 1e-6;
          for (const [name, t] of [['perSampleEntropy', r.perSampleEntropy], ['codebookEntropy', r.codebookEntropy]] as const) {
            const v = t!.item();
            if (!(v >= -1e-6 && v <= hmax)) throw new Error(`${name} = ${v} outside [0, ${hmax}]`);
          }
          if (!Number.isFinite(r.loss.item()) && Math.max(...Array.from(zs, Math.abs)) < 1e15) throw new Error(`loss ${r.loss.item()}`);
          sg.tidy(() => {
            same(lfq.codesToIndices(lfq.indicesToCodes(r.indices)).dataSync(), r.indices.dataSync(), 'round trip');
            same(lfq.forward(z).dataSync(), r.codes.dataSync(), 'forward');
          });
        },
      });
      const macs = lfq.summaryMacs();
      if (macs.float !== 0 || macs.binary !== 0) throw new Error('summaryMacs');
      const model = new sg.nn.Sequential(new sg.nn.Linear(D, D, { seed: 1 }), lfq).eval();
      const frozen = sg.freeze(model);
      sg.tidy(() => same(frozen.predict(z).dataSync(), model.forward(z).dataSync(), 'frozen'));
      frozen.dispose();
      const badIdx = sg.tensor([-1], [1], { dtype: 'int32' });
      const badCodes = sg.tensor(Array(D).fill(0.5), [1, D]);
      await runCase(() => lfq.indicesToCodes(badIdx), { fn: 'LFQ.indicesToCodes', args: ['indices'], expect: 'error' });
      await runCase(() => lfq.codesToIndices(badCodes), { fn: 'LFQ.codesToIndices', args: ['codes'], expect: 'error' });
      free(z, badIdx, badCodes);
      model.dispose();
      expectNoLeakSince(since, 'LFQ');
    });

  prop(['sg.nn.ResidualVQ', 'sg.nn.ResidualVQ#forward', 'sg.nn.ResidualVQ#quantize', 'sg.nn.ResidualVQ#indicesToCodes', 'sg.nn.ResidualVQ#summaryMacs', 'sg.nn.ResidualVQ#inputWidth'],
    'ResidualVQ: stage s picks the code nearest z − Σ_{j<s} q_j, zq = Σ q_s = indicesToCodes(indices) bit for bit (unless an EMA step moved the codebooks); bad sizes are clear errors', fc.record({
      stages: numberOption(fc.integer({ min: 1, max: 4 })), K: fc.integer({ min: 1, max: 6 }), D: fc.integer({ min: 1, max: 5 }), N: fc.integer({ min: 1, max: 9 }),
      ema: fc.boolean(), train: fc.boolean(), seed: fc.integer({ min: 0, max: 1000 }), z: matrix(fc.constant(9), fc.constant(5), finiteF32),
    }), async ({ stages, K, D, N, ema, train, seed, z: zspec }) => {
      const valid = Number.isInteger(stages) && (stages as number) >= 1 && (stages as number) <= 64;
      await runCase(() => new sg.nn.ResidualVQ(stages as number, K, D, { seed }), { fn: 'ResidualVQ', expect: valid ? 'ok' : 'error', kept: (m) => [...m.parameters(), ...m.namedBuffers().map(([, t]) => t)] });
      if (!valid) return;
      const S = stages as number;
      const since = stats();
      const rvq = new sg.nn.ResidualVQ(S, K, D, { seed, ema });
      rvq.train(train);
      if (rvq.inputWidth() !== D || rvq.summaryMacs([N]).float !== N * S * K * D) throw new Error('inputWidth / summaryMacs');
      const z = sg.tensor(zspec.data.slice(0, N * D), [N, D]);
      await runCase(() => rvq.quantize(z), {
        fn: 'ResidualVQ', expect: 'ok', state: [z], caches: true,
        check: (r) => {
          const idx = r.indices.dataSync();
          if (!Array.from(idx).every((k) => k >= 0 && k < K)) throw new Error(`indices out of [0, ${K})`);
          const books = rvq.stages.map((q) => q.codebook.dataSync());
          // An EMA training step moves the codebooks after their lookup; otherwise zq decodes from the indices exactly.
          if (!(train && ema)) sg.tidy(() => same(rvq.indicesToCodes(r.indices).dataSync(), r.zq.dataSync(), 'indicesToCodes(indices) vs zq'));
          if (!train) {
            // Eval: no codebook moved, so the last stage's pick is the nearest of the last residual (float64 check).
            const rs = Float32Array.from(z.dataSync());
            for (let s = 0; s < S; s++) {
              for (let n = 0; n < N; n++) {
                const dist = (k: number) => { let t = 0; for (let d = 0; d < D; d++) t += (rs[n * D + d] - books[s][k * D + d]) ** 2; return t; };
                const best = Math.min(...Array.from({ length: K }, (_, k) => dist(k)));
                if (dist(idx[n * S + s]) > best * (1 + 1e-5) + 1e-6) throw new Error(`stage ${s} row ${n}: code ${idx[n * S + s]} at ${dist(idx[n * S + s])}, nearest at ${best}`);
              }
              for (let n = 0; n < N; n++) for (let d = 0; d < D; d++) rs[n * D + d] = Math.fround(rs[n * D + d] - books[s][idx[n * S + s] * D + d]);
            }
            sg.tidy(() => expectClose(rvq.forward(z).dataSync(), r.zq.dataSync(), 'forward'));
          }
        },
      });
      const badIdx = sg.tensor(Array(S).fill(K), [1, S], { dtype: 'int32' });
      const badZ = sg.tensor(Array(1 + D).fill(0), [1, 1 + D]);
      await runCase(() => rvq.indicesToCodes(badIdx), { fn: 'ResidualVQ.indicesToCodes', args: ['indices'], expect: 'error' });
      await runCase(() => rvq.quantize(badZ), { fn: 'ResidualVQ', args: ['z'], expect: 'error' });
      free(z, badIdx, badZ);
      // The codebooks' cached norms go with them.
      rvq.dispose();
      expectNoLeakSince(since, 'ResidualVQ');
    });

  prop(['sg.ste.vq'], 'vq variants: rotationTrick keeps the forward value (the codes, bit for bit) and a finite gradient; cosine picks the most similar code; sampling returns valid codes; bad options are clear errors', fc.record({
    z: matrix(fc.integer({ min: 1, max: 6 }), fc.constant(3), finiteF32), cb: matrix(fc.integer({ min: 1, max: 5 }), fc.constant(3), finiteF32),
    rotationTrick: fc.oneof(fc.boolean(), hostile), cosine: fc.boolean(), temperature: numberOption(fc.constantFrom(0, 1e-6, 0.5, 4)), seed: fc.integer({ min: 0, max: 99 }),
  }), async ({ z: zs, cb: cs, rotationTrick, cosine, temperature, seed }) => {
    const since = stats();
    const z = make(zs, true);
    const cb = make(cs);
    const bigs = [...zs.data, ...cs.data].some((v) => Math.abs(v) > 1e5);
    const okOptions = (rotationTrick === undefined || rotationTrick === null || typeof rotationTrick === 'boolean') && (temperature === undefined || (fin(temperature) && (temperature === 0 || (temperature >= 1.2e-38 && temperature <= 3.4e38))));
    const withSeed = fin(temperature) && temperature > 0 ? { seed } : {};
    await runCase(() => sg.ste.vq(z, cb, { rotationTrick: rotationTrick as boolean, cosine, temperature: temperature as number, ...withSeed }), {
      fn: 'ste.vq', caches: true, expect: okOptions ? (bigs ? 'either' : 'ok') : 'error', state: [z, cb],
      check: (r) => {
        const K = cs.shape[0];
        const idx = r.indices.dataSync();
        const book = cb.dataSync();
        const rowsOf = (a: ArrayLike<number>, n: number) => Array.from({ length: a.length / 3 }, (_, i) => Array.from({ length: 3 }, (_, d) => a[i * 3 + d])).slice(0, n);
        const unit = (v: number[]) => { const n = Math.hypot(...v); return n > 0 ? v.map((x) => x / Math.sqrt(n * n + 1e-24)) : v; };
        const codes = rowsOf(book, K).map((c) => (cosine ? unit(c) : c));
        const zq = r.zq.dataSync();
        idx.forEach((k, n) => {
          if (!(k >= 0 && k < K)) throw new Error(`index ${k}`);
          expectClose(zq.subarray(n * 3, n * 3 + 3), codes[k], 'zq row', { rel: 1e-5, abs: 1e-6 });
        });
        if (!bigs && (temperature === undefined || temperature === 0)) {
          const zr = rowsOf(zs.data, zs.shape[0]).map((v) => (cosine ? unit(v) : v));
          zr.forEach((v, n) => {
            const dist = (c: number[]) => c.reduce((s, x, d) => s + (x - v[d]) ** 2, 0);
            const best = Math.min(...codes.map(dist));
            if (dist(codes[idx[n]]) > best + 1e-4 * (1 + best)) throw new Error(`row ${n}: code ${idx[n]} is not the nearest`);
          });
        }
        sg.tidy(() => {
          sg.sum(r.zq).backward();
          const finite = z.grad!.dataSync().every(Number.isFinite);
          z.grad!.dispose();
          z.grad = null;
          if (!bigs && !finite) throw new Error('non-finite gradient');
        });
      },
    });
    free(z, cb);
    expectNoLeakSince(since, 'ste.vq variants');
  });
});
