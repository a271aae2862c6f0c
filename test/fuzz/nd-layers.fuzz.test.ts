// Embedding, LayerNorm and Identity (constructors, forward against float64 or
// the table, hostile arguments), Sequential with function steps, multi-input
// Module.call and the dense layers on [..., in] (equal, bit for bit, to the
// 2-D path on the flattened rows).
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { DTYPES, hostile, hostileOption, make, optionBag, plainF32, shape, tensorOf, valuesFor } from './arbitraries.js';
import { bytesOf, expectClearError, expectNoLeakSince, free, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** n values taken from data in turn (shapes may need more values than were drawn). */
const cycle = (data: readonly number[], n: number): number[] => Array.from({ length: n }, (_, i) => data[i % data.length]);

/** A layer from its constructor, or null after checking the rejection is a clear error naming the layer (and one of args). */
function construct<M>(make: () => M, fn: string, args: string[]): M | null {
  try {
    return make();
  } catch (e) {
    expectClearError(e, fn, args);
    return null;
  }
}

describe('Embedding', () => {
  prop(['sg.nn.Embedding', 'sg.nn.Embedding#forward', 'sg.nn.Embedding#weight', 'sg.nn.Embedding#summaryMacs'],
    'a table of numEmbeddings x dim; forward(indices of any dtype and shape) gives the table rows for int32/uint8 indices in range, else a clear error naming Embedding (and indices) that leaves the table unchanged',
    fc.record({
      n: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 9 }) }, { weight: 1, arbitrary: hostile }),
      dim: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 6 }) }, { weight: 1, arbitrary: hostile }),
      options: optionBag({ seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }),
      idxShape: shape({ maxRank: 3, maxDim: 4 }),
      dtype: fc.constantFrom(...DTYPES),
      raw: fc.array(fc.integer({ min: -3, max: 12 }), { minLength: 64, maxLength: 64 }),
    }), async ({ n, dim, options, idxShape, dtype, raw }) => {
      const since = stats();
      const okSize = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= max;
      const okOptions = options === undefined || options === null || (typeof options === 'object' && !Array.isArray(options) && Object.entries(options as object).every(([k, v]) => k === 'seed' && (v === undefined || v === null || (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 2 ** 32))));
      // The constructor keeps its table (a parameter, freed with the layer below), so it runs outside runCase's leak check.
      const emb = construct(() => new sg.nn.Embedding(n as number, dim as number, options as sg.nn.EmbeddingOptions), 'Embedding', ['numEmbeddings', 'dim', 'seed', 'options', 'extra', 'axes', 'Scale', '__proto__x']);
      if (emb === null && okSize(n, 2 ** 24) && okSize(dim, 2 ** 16) && okOptions) throw new Error(`Embedding(${String(n)}, ${String(dim)}) was rejected`);
      if (emb === null) return;
      const e = emb as sg.nn.Embedding;
      const N = e.numEmbeddings;
      const D = e.dim;
      const values = raw.slice(0, size(idxShape)).map((v) => (dtype === 'uint8' ? Math.abs(v) : dtype === 'float32' ? v + 0.25 * (v & 1) : v));
      const idx = sg.tensor(values, idxShape, { dtype });
      const table = Array.from(e.weight.dataSync());
      const valid = (dtype === 'int32' || dtype === 'uint8') && values.every((v) => v >= 0 && v < N);
      await runCase(() => e.forward(idx), {
        fn: 'Embedding.forward', expect: valid ? 'ok' : 'error', args: ['indices'], state: [e.weight, idx],
        check: (y) => {
          if (y.shape.join() !== [...idxShape, D].join() || y.dtype !== 'float32') throw new Error(`Embedding.forward gave ${y.dtype} [${y.shape}] for indices [${idxShape}]`);
          const want = values.flatMap((i) => table.slice(i * D, i * D + D));
          const got = Array.from(y.dataSync());
          if (got.some((v, i) => !Object.is(v, want[i]))) throw new Error(`Embedding.forward rows differ from the table for indices [${values}]`);
        },
      });
      const macs = e.summaryMacs();
      if (macs.float !== 0 || macs.binary !== 0) throw new Error(`Embedding#summaryMacs gave ${JSON.stringify(macs)}`);
      await runCase(() => e.forward(hostile as unknown as sg.Tensor), { fn: 'Embedding.forward', expect: 'error', args: ['indices'] });
      free(idx);
      e.dispose();
      expectNoLeakSince(since, 'Embedding');
    });
});

/** LayerNorm of rows of `dim` in float64. */
function layerNormRef(x: ArrayLike<number>, dim: number, eps: number, w: ArrayLike<number> | null, b: ArrayLike<number> | null): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / dim; r++) {
    const row = Array.from({ length: dim }, (_, k) => x[r * dim + k]);
    const m = row.reduce((a, v) => a + v, 0) / dim;
    const v = row.reduce((a, t) => a + (t - m) ** 2, 0) / dim;
    row.forEach((t, k) => out.push(((t - m) / Math.sqrt(v + eps)) * (w ? w[k] : 1) + (b ? b[k] : 0)));
  }
  return out;
}

describe('LayerNorm', () => {
  prop(['sg.nn.LayerNorm', 'sg.nn.LayerNorm#forward', 'sg.nn.LayerNorm#weight', 'sg.nn.LayerNorm#bias', 'sg.nn.LayerNorm#summaryMacs'],
    'normalizes [..., dim] over the last axis like a float64 reference (affine or not, any eps); hostile dims, options and inputs (other dtypes, other widths, non-tensors) are clear errors',
    fc.record({
      dim: fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 9 }) }, { weight: 1, arbitrary: hostile }),
      options: optionBag({ eps: fc.constantFrom(1e-5, 1e-3, 0.5), affine: fc.boolean() }),
      lead: shape({ maxRank: 3, maxDim: 4 }),
      widthOff: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1) }),
      dtype: fc.oneof({ weight: 6, arbitrary: fc.constant('float32' as const) }, { weight: 1, arbitrary: fc.constantFrom(...DTYPES) }),
      data: fc.array(plainF32, { minLength: 300, maxLength: 300 }),
      wb: fc.array(plainF32, { minLength: 18, maxLength: 18 }),
    }), async ({ dim, options, lead, widthOff, dtype, data, wb }) => {
      const since = stats();
      const ln = construct(() => new sg.nn.LayerNorm(dim as number, options as sg.nn.LayerNormOptions), 'LayerNorm', ['dim', 'eps', 'affine', 'options', 'extra', 'axes', 'Scale', '__proto__x']);
      if (typeof dim === 'number' && Number.isInteger(dim) && dim >= 1 && dim <= 9 && (options === undefined || options === null) && ln === null) throw new Error(`LayerNorm(${dim}) was rejected`);
      if (ln === null) return;
      const l = ln as sg.nn.LayerNorm;
      const D = l.dim;
      if (l.affine) {
        const state = { weight: sg.tensor(wb.slice(0, D), [D]), bias: sg.tensor(wb.slice(9, 9 + D), [D]) };
        l.loadStateDict(state);
        free(state.weight, state.bias);
      }
      const w = l.weight ? Array.from(l.weight.dataSync()) : null;
      const b = l.bias ? Array.from(l.bias.dataSync()) : null;
      const width = Math.max(0, D + widthOff);
      const s = [...lead, width];
      const x = sg.tensor(cycle(data, size(s)).map((v) => (dtype === 'float32' ? v : Math.trunc(Math.abs(v)))), s, { dtype });
      const xv = Array.from(x.dataSync());
      await runCase(() => l.forward(x), {
        fn: 'LayerNorm.forward', expect: dtype === 'float32' && widthOff === 0 ? 'ok' : 'error', args: ['x'], state: [x, l.weight, l.bias],
        check: (y) => {
          if (y.shape.join() !== s.join()) throw new Error(`LayerNorm.forward gave [${y.shape}] for [${s}]`);
          const want = layerNormRef(xv, D, l.eps, w, b);
          Array.from(y.dataSync()).forEach((v, i) => {
            if (!(Math.abs(v - want[i]) <= 2e-3 * (1 + Math.abs(want[i])))) throw new Error(`LayerNorm.forward element ${i} is ${v}, float64 gives ${want[i]}`);
          });
        },
      });
      await runCase(() => l.forward(hostileOption as unknown as sg.Tensor), { fn: 'LayerNorm.forward', expect: 'error', args: ['x'] });
      const macs = l.summaryMacs(s);
      if (macs.float !== size(s) * (l.affine ? 2 : 1)) throw new Error(`LayerNorm#summaryMacs gave ${JSON.stringify(macs)} for [${s}]`);
      free(x);
      l.dispose();
      expectNoLeakSince(since, 'LayerNorm');
    });
});

describe('Identity, Sequential with functions, multi-input call, dense layers on [..., in]', () => {
  prop(['sg.nn.Identity', 'sg.nn.Identity#forward', 'sg.nn.Identity#freezeStage', 'sg.nn.Identity#summaryMacs'],
    'Identity returns a tensor with the bytes, shape and dtype of any input (a clear error for non-tensors); it freezes to no stage and counts no MACs',
    fc.record({ x: tensorOf(shape({ maxRank: 4, maxDim: 4 }), fc.constantFrom(...DTYPES)), bad: hostile }), async ({ x: spec, bad }) => {
      const id = new sg.nn.Identity();
      const x = make(spec);
      const want = Array.from(bytesOf(x)).join();
      await runCase(() => id.forward(x), {
        fn: 'Identity.forward', expect: 'ok', state: [x],
        check: (y) => {
          if (y === x || y.dtype !== x.dtype || y.shape.join() !== x.shape.join() || Array.from(bytesOf(y)).join() !== want) throw new Error('Identity.forward changed its input');
        },
      });
      await runCase(() => id.forward(bad as sg.Tensor), { fn: 'Identity.forward', expect: 'error', args: ['x'] });
      if (id.freezeStage() !== null) throw new Error('Identity#freezeStage is not null');
      if (Object.values(id.summaryMacs()).some((v) => v !== 0)) throw new Error('Identity#summaryMacs counts MACs');
      free(x);
    });

  prop(['sg.nn.Sequential', 'sg.nn.Module#call', 'sg.nn.Linear#forward', 'sg.nn.BinaryLinear#forward', 'sg.nn.QuantLinear#forward'],
    'dense layers (and a Sequential with function steps) on [..., in] equal, bit for bit, the 2-D path on the flattened rows reshaped back; a wrong last axis is a clear error; a function step that returns no tensor is a clear error',
    fc.record({
      kind: fc.constantFrom('Linear', 'BinaryLinear', 'QuantLinear'),
      inF: fc.integer({ min: 1, max: 9 }), outF: fc.integer({ min: 1, max: 5 }),
      lead: shape({ maxRank: 3, maxDim: 4 }),
      widthOff: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constantFrom(-1, 1) }),
      data: fc.array(plainF32, { minLength: 600, maxLength: 600 }),
      badStep: hostile,
    }), async ({ kind, inF, outF, lead, widthOff, data, badStep }) => {
      const since = stats();
      const layer = kind === 'Linear' ? new sg.nn.Linear(inF, outF, { seed: 3 }) : kind === 'BinaryLinear' ? new sg.nn.BinaryLinear(inF, outF, { seed: 3 }) : new sg.nn.QuantLinear(inF, outF, { seed: 3 });
      layer.eval();
      const model = new sg.nn.Sequential((t: sg.Tensor) => sg.mul(t, 1), layer, (t) => sg.add(t, 0));
      const width = Math.max(0, inF + widthOff);
      const s = [...lead, width];
      const x = sg.tensor(cycle(data, size(s)), s);
      const rows = sg.tensor(cycle(data, size(s)), [size(lead), width]);
      await runCase(() => model.call(x), {
        fn: [`${kind}`, 'Sequential'], expect: widthOff === 0 ? 'ok' : 'error', args: ['x'], state: [x, ...layer.parameters()],
        check: (y) => {
          if (y.shape.join() !== [...lead, outF].join()) throw new Error(`${kind} gave [${y.shape}] for [${s}]`);
          const flat = layer.call(rows);
          const same = Array.from(bytesOf(flat)).join() === Array.from(bytesOf(y)).join();
          flat.dispose();
          if (!same) throw new Error(`${kind} on [${s}] differs from the 2-D path`);
        },
      });
      const broken = new sg.nn.Sequential(layer, (() => badStep) as unknown as (t: sg.Tensor) => sg.Tensor);
      if (widthOff === 0) await runCase(() => broken.call(rows), { fn: 'Sequential', expect: 'error', args: ['step'] });
      free(x, rows);
      layer.dispose();
      expectNoLeakSince(since, kind);
    });
});
