// PyTorch layout (src/nn/torch-state.ts): stateDict({ to: 'torch' }) and
// loadStateDict(state, { from: 'torch' }) on random dense stacks, with and
// without a Conv2d and a flatten of NHWC images, against independent models of the
// OIHW weight order and the [C, H, W] column order; corrupted PyTorch states must be rejected clearly,
// leaving the model unchanged and nothing allocated.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { bytesOf, expectNoLeakSince, free, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

interface Arch {
  /** Images [h, w, c] flattened before the first dense layer, or null for flat inputs. */
  image: [number, number, number] | null;
  /** A 'same' Conv2d on the images first: [outChannels, kh, kw, groups] (the flatten then sees outChannels). */
  conv: [number, number, number, number] | null;
  features: number;
  /** A BatchNorm1d right after the flatten (per-feature vectors permuted too). */
  bnFirst: boolean;
  hidden: number;
  out: number;
  bias: boolean;
}

const EDITS = ['none', 'drop', 'extra', 'transpose', 'shape', 'int32', 'snapgradName', 'counter', 'orphanCounter', 'hostile', 'negativeVar', 'hwio'] as const;

function build(a: Arch, seed: number): sg.nn.Sequential {
  const layers: sg.nn.Module[] = [];
  if (a.image && a.conv) layers.push(new sg.nn.Conv2d(a.image[2], a.conv[0], [a.conv[1], a.conv[2]], { padding: 'same', groups: a.conv[3], seed: seed + 3 }));
  if (a.image) layers.push(new sg.nn.Flatten());
  if (a.bnFirst) layers.push(new sg.nn.BatchNorm1d(a.features));
  layers.push(new sg.nn.Linear(a.features, a.hidden, { seed }), new sg.nn.BatchNorm1d(a.hidden), new sg.nn.ReLU(), new sg.nn.Linear(a.hidden, a.out, { bias: a.bias, seed: seed + 7 }));
  return new sg.nn.Sequential(...layers);
}

/** Fills every parameter and buffer with distinct values (variances positive), so that a wrong permutation shows. */
function randomize(m: sg.nn.Module, seed: number): void {
  const state: Record<string, sg.Tensor> = {};
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (const [k, t] of Object.entries(m.stateDict())) {
    const data = Array.from({ length: t.size }, () => (k.endsWith('runningVar') ? 0.1 + next() : next() * 2 - 1));
    state[k] = sg.tensor(data, [...t.shape]);
  }
  m.loadStateDict(state);
  free(...Object.values(state));
}

/** Index in PyTorch's OIHW [co, ci, kh, kw] of snapgrad's HWIO element i of [kh, kw, ci, co] (independent of the library). */
function oihwIndex(i: number, [kh, kw, ci, co]: readonly number[]): number {
  const o = i % co;
  const c = Math.floor(i / co) % ci;
  const x = Math.floor(i / (co * ci)) % kw;
  const y = Math.floor(i / (co * ci * kw));
  return ((o * ci + c) * kh + y) * kw + x;
}

/** PyTorch column of snapgrad feature j for a flattened [h, w, c] (written independently of the library's index map). */
function torchColumn(j: number, [h, w, c]: [number, number, number]): number {
  const pixel = Math.floor(j / c);
  return (j % c) * h * w + pixel;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

const arch: fc.Arbitrary<Arch> = fc.record({
  image: fc.option(fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 })), { nil: null }),
  conv: fc.option(fc.tuple(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.nat()), { nil: null }),
  flat: fc.integer({ min: 1, max: 13 }),
  bnFirst: fc.boolean(),
  hidden: fc.integer({ min: 1, max: 9 }),
  out: fc.integer({ min: 1, max: 6 }),
  bias: fc.boolean(),
}).map(({ image, conv, flat, bnFirst, hidden, out, bias }) => {
  // groups: a divisor of both channel counts, often 1.
  const c = image && conv ? ((g) => [conv[0], conv[1], conv[2], conv[3] % 2 === 0 ? 1 : g] as [number, number, number, number])(gcd(image[2], conv[0])) : null;
  const channels = c ? c[0] : image?.[2] ?? 0;
  return { image, conv: c, features: image ? image[0] * image[1] * channels : flat, bnFirst, hidden, out, bias };
});

describe('PyTorch layout', () => {
  prop(['sg.nn.Module#stateDict', 'sg.nn.Module#loadStateDict'],
    'stateDict({ to: "torch" }) writes conv weights OIHW and flattened features in [C, H, W] order, and loadStateDict({ from: "torch" }) restores the model bit for bit, or rejects a corrupted state clearly without writing or leaking',
    fc.record({ a: arch, seed: fc.integer({ min: 0, max: 1000 }), edit: fc.constantFrom(...EDITS), pick: fc.nat(), passShape: fc.boolean(), hostile: fc.constantFrom<unknown>(null, 1, 'x', {}, [1], new Float32Array(2)) }),
    async ({ a, seed, edit, pick, passShape, hostile }) => {
      const since = stats();
      const inputShape = a.image ?? (passShape ? [a.features] : undefined);
      /** What the flatten sees: [h, w, channels after the conv]. */
      const flatGeo: [number, number, number] | null = a.image ? [a.image[0], a.image[1], a.conv ? a.conv[0] : a.image[2]] : null;
      const at = (a.conv ? 1 : 0) + (a.image ? 1 : 0);
      const donor = build(a, seed);
      randomize(donor, seed + 1);
      const model = build(a, seed + 100);
      const torch = donor.stateDict({ to: 'torch', inputShape });
      const made: sg.Tensor[] = [];
      try {
        const own = donor.stateDict();
        const dense = a.image ? `${at + (a.bnFirst ? 1 : 0)}.weight` : null;
        // Names: running statistics renamed, nothing else; layouts: only what follows the flatten is permuted.
        for (const [k, t] of Object.entries(own)) {
          const tk = k.replace(/runningMean$/, 'running_mean').replace(/runningVar$/, 'running_var');
          const got = torch[tk];
          const shape = t.rank === 4 ? [t.shape[3], t.shape[2], t.shape[0], t.shape[1]] : t.shape;
          if (!got || got.dtype !== t.dtype || got.shape.join() !== shape.join()) throw new Error(`torch state lacks ${tk} [${t.shape}]`);
          const src = t.dataSync();
          const dst = got.dataSync();
          const permuted = flatGeo !== null && (k === dense || (a.bnFirst && k.startsWith(`${at}.`)));
          const conv = t.rank === 4;
          if (conv && got.shape.join() === t.shape.join() && new Set(t.shape).size > 1) throw new Error(`${tk}: a conv weight [${t.shape}] kept its HWIO shape`);
          const cols = t.shape[t.rank - 1];
          for (let i = 0; i < src.length; i++) {
            const row = Math.floor(i / cols);
            const want = conv ? oihwIndex(i, t.shape) : permuted ? row * cols + torchColumn(i % cols, flatGeo!) : i;
            if (!Object.is(dst[want], src[i])) throw new Error(`${tk}: element ${want} is ${dst[want]}, expected snapgrad element ${i} = ${src[i]}`);
          }
        }
        if (Object.keys(torch).length !== Object.keys(own).length) throw new Error(`torch state has ${Object.keys(torch).length} tensors, expected ${Object.keys(own).length}`);

        const state: Record<string, unknown> = { ...torch };
        const names = Object.keys(torch);
        const name = names[pick % names.length];
        const bn = names.find((k) => k.endsWith('running_var'))!;
        let ok = true;
        switch (edit) {
          case 'drop': delete state[name]; ok = false; break;
          case 'extra': state['9.weight'] = torch[name]; ok = false; break;
          case 'transpose': {
            const t = torch[name];
            if (t.rank === 2 && t.shape[0] !== t.shape[1]) {
              const tr = sg.transpose(t);
              made.push(tr);
              state[name] = tr;
              ok = false;
            }
            break;
          }
          case 'shape': {
            const t = sg.zeros([torch[name].size + 1]);
            made.push(t);
            state[name] = t;
            ok = false;
            break;
          }
          case 'int32': {
            const t = sg.cast(torch[name], 'int32');
            made.push(t);
            state[name] = t;
            ok = false;
            break;
          }
          case 'snapgradName': state[bn.replace('running_var', 'runningVar')] = state[bn]; delete state[bn]; ok = false; break;
          case 'counter': {
            const t = sg.tensor([25], [], { dtype: 'int32' });
            made.push(t);
            state[bn.replace('running_var', 'num_batches_tracked')] = t;
            break;
          }
          case 'orphanCounter': {
            const t = sg.tensor([25], [], { dtype: 'int32' });
            made.push(t);
            state['0.num_batches_tracked'] = t;
            // Layer 0 is a batch norm only when it comes first without images.
            ok = !a.image && a.bnFirst;
            break;
          }
          case 'hostile': state[name] = hostile; ok = false; break;
          case 'hwio': {
            // snapgrad's own conv weight where PyTorch's OIHW one belongs (same shape only when the permutation is one).
            const w = own['0.weight'];
            if (a.conv && w.shape.join() !== torch['0.weight'].shape.join()) {
              state['0.weight'] = w;
              ok = false;
            }
            break;
          }
          case 'negativeVar': {
            const v = Array.from(torch[bn].dataSync());
            v[pick % v.length] = -1;
            const t = sg.tensor(v);
            made.push(t);
            state[bn] = t;
            ok = false;
            break;
          }
        }
        const owned = Object.values(model.stateDict());
        await runCase(() => model.loadStateDict(state as Record<string, sg.Tensor>, { from: 'torch', inputShape }), {
          fn: 'loadStateDict', expect: ok ? 'ok' : 'error', state: owned, mutates: true,
          check: () => {
            const got = model.stateDict();
            for (const [k, t] of Object.entries(own)) {
              const x = bytesOf(got[k]);
              const y = bytesOf(t);
              if (x.length !== y.length || x.some((b, i) => b !== y[i])) throw new Error(`loadStateDict: "${k}" differs from the donor after a PyTorch round trip`);
            }
          },
        });
      } finally {
        free(...Object.values(torch), ...made);
        donor.dispose();
        model.dispose();
      }
      expectNoLeakSince(since, 'PyTorch round trip');
    });
});
