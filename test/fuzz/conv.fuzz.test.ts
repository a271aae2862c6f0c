// conv2d and nn.Conv2d: random shapes, strides, dilations, paddings and
// groups against a float64 direct convolution (forward and both gradients,
// written here from the definition), hostile tensors and option bags, and
// the layer's constructor, forward, summary and frozen form.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { convGeometry, hostile, hostileOption, type ConvGeo } from './arbitraries.js';
import { expectClearError, expectClose, expectNoLeakSince, free, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Output size and padding from the definitions (TF 'same': out = ceil(in / stride), the odd pixel after), or null when the window does not fit. */
function layout(g: ConvGeo): { oh: number; ow: number; pt: number; pl: number } | null {
  const span = (k: number, d: number) => (k - 1) * d + 1;
  let pt = 0, pb = 0, pl = 0, pr = 0;
  if (g.padding === 'same') {
    const tot = (n: number, k: number, s: number, d: number) => Math.max(0, (Math.ceil(n / s) - 1) * s + span(k, d) - n);
    const th = tot(g.H, g.kh, g.stride[0], g.dilation[0]), tw = tot(g.W, g.kw, g.stride[1], g.dilation[1]);
    pt = th >> 1; pb = th - pt; pl = tw >> 1; pr = tw - pl;
  } else if (g.padding !== 'valid') [[pt, pb], [pl, pr]] = g.padding;
  const ph = g.H + pt + pb, pw = g.W + pl + pr;
  if (ph < span(g.kh, g.dilation[0]) || pw < span(g.kw, g.dilation[1])) return null;
  return { oh: Math.floor((ph - span(g.kh, g.dilation[0])) / g.stride[0]) + 1, ow: Math.floor((pw - span(g.kw, g.dilation[1])) / g.stride[1]) + 1, pt, pl };
}

/** Calls f(yIndex, xIndex, wIndex) for every product of the convolution (in-image taps only). */
function taps(g: ConvGeo, l: { oh: number; ow: number; pt: number; pl: number }, f: (yi: number, xi: number, wi: number) => void): void {
  const cg = g.cin / g.groups, og = g.cout / g.groups;
  for (let n = 0; n < g.N; n++) for (let a = 0; a < l.oh; a++) for (let b = 0; b < l.ow; b++) for (let q = 0; q < g.cout; q++) {
    const grp = Math.floor(q / og);
    for (let i = 0; i < g.kh; i++) for (let j = 0; j < g.kw; j++) {
      const ih = a * g.stride[0] - l.pt + i * g.dilation[0], iw = b * g.stride[1] - l.pl + j * g.dilation[1];
      if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
      for (let c = 0; c < cg; c++) f(((n * l.oh + a) * l.ow + b) * g.cout + q, ((n * g.H + ih) * g.W + iw) * g.cin + grp * cg + c, ((i * g.kw + j) * cg + c) * g.cout + q);
    }
  }
}

const geo = convGeometry({ minN: 0, maxCg: 5, maxOg: 4, maxGroups: 3, maxK: 4 });

/** Deterministic values in [-1, 1) from an integer seed. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

describe('conv2d', () => {
  prop(['sg.conv2d'],
    'random NHWC x HWIO convolutions equal a float64 direct convolution, and dx, dW the float64 adjoints of a random output weighting; a window that does not fit is a clear error naming conv2d',
    fc.record({ g: geo, seed: fc.integer({ min: 1, max: 2 ** 30 }) }), async ({ g, seed }) => {
      const since = stats();
      const xs = [g.N, g.H, g.W, g.cin], ws = [g.kh, g.kw, g.cin / g.groups, g.cout];
      const xv = values(size(xs), seed), wv = values(size(ws), seed + 1);
      const x = sg.tensor(xv, xs, { requiresGrad: true }), w = sg.tensor(wv, ws, { requiresGrad: true });
      const l = layout(g);
      const opts = { stride: g.stride, dilation: g.dilation, padding: g.padding, groups: g.groups };
      const ys = l ? [g.N, l.oh, l.ow, g.cout] : [];
      const rv = values(l ? size(ys) : 0, seed + 2);
      const r = sg.tensor(rv, ys.length ? ys : [0]);
      await runCase(() => sg.tidy(() => {
        const y = sg.conv2d(x, w, opts);
        sg.mul(y, r).sum().backward();
        return y;
      }), {
        fn: 'conv2d', expect: l ? 'ok' : 'error', args: ['window'], state: [x, w], mutates: true,
        kept: () => [x.grad, w.grad],
        check: (y) => {
          const want = new Float64Array(size(ys)), bound = new Float64Array(size(ys));
          const dx = new Float64Array(xv.length), dw = new Float64Array(wv.length), dxb = new Float64Array(xv.length), dwb = new Float64Array(wv.length);
          taps(g, l!, (yi, xi, wi) => {
            want[yi] += xv[xi] * wv[wi]; bound[yi] += Math.abs(xv[xi] * wv[wi]);
            dx[xi] += rv[yi] * wv[wi]; dxb[xi] += Math.abs(rv[yi] * wv[wi]);
            dw[wi] += rv[yi] * xv[xi]; dwb[wi] += Math.abs(rv[yi] * xv[xi]);
          });
          if (y.shape.join() !== ys.join()) throw new Error(`conv2d gave [${y.shape}], want [${ys}] for ${JSON.stringify(g)}`);
          const near = (got: ArrayLike<number>, ref: Float64Array, b: Float64Array, what: string) => {
            // float32 sums of k terms: |error| <= k·2^-24·Σ|terms| (k <= 200 here)
            for (let i = 0; i < ref.length; i++) expectClose([got[i]], [ref[i]], `${what} ${JSON.stringify(g)}`, { abs: 200 * 2 ** -24 * b[i] + 1e-30 });
          };
          near(y.dataSync(), want, bound, 'conv2d');
          // an empty batch leaves no gradient path: the inputs get zero gradients or none
          if (x.grad) near(x.grad.dataSync(), dx, dxb, 'dx');
          if (w.grad) near(w.grad.dataSync(), dw, dwb, 'dW');
        },
      });
      free(x, w, r);
      expectNoLeakSince(since, 'conv2d');
    });

  prop(['sg.conv2d'],
    'hostile tensors and option bags: a clear error naming conv2d, or (when the bag means the defaults) a result; never a leak or a changed input',
    fc.record({
      which: fc.constantFrom('x', 'w', 'stride', 'padding', 'dilation', 'groups', 'options'),
      bad: hostile, badOpt: hostileOption,
    }), async ({ which, bad, badOpt }) => {
      const since = stats();
      const x = sg.tensor(values(2 * 5 * 5 * 4, 3), [2, 5, 5, 4]), w = sg.tensor(values(3 * 3 * 4 * 6, 4), [3, 3, 4, 6]);
      const a = which === 'x' ? bad : x, b = which === 'w' ? bad : w;
      const opts = which === 'options' ? bad : which === 'x' || which === 'w' ? { padding: 'same' } : { padding: 'same', [which]: badOpt };
      await runCase(() => sg.conv2d(a as sg.Tensor, b as sg.Tensor, opts as sg.Conv2dOptions), {
        fn: 'conv2d', expect: which === 'x' || which === 'w' ? 'error' : 'either', state: [x, w],
        args: which === 'options' ? ['options'] : [which],
        check: (y) => { if (y.dtype !== 'float32' || y.shape[0] !== 2 || y.shape[3] !== 6) throw new Error(`conv2d gave ${y.dtype} [${y.shape}]`); },
      });
      free(x, w);
      expectNoLeakSince(since, 'conv2d (hostile)');
    });
});

describe('nn.Conv2d', () => {
  prop(['sg.nn.Conv2d', 'sg.nn.Conv2d#weight', 'sg.nn.Conv2d#bias', 'sg.nn.Conv2d#forward', 'sg.nn.Conv2d#summaryMacs', 'sg.nn.Conv2d#freezeStage'],
    'a layer of random geometry: HWIO weight within ±1/√fan_in, forward = float64 conv + bias, summary MACs = outH·outW·Cout·kh·kw·Cin/groups per sample, frozen predictions = eval mode bit for bit; bad constructor arguments are clear errors naming Conv2d',
    fc.record({ g: geo, bias: fc.boolean(), seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }), badArg: fc.option(fc.tuple(fc.constantFrom(0, 1, 2, 3), hostileOption), { freq: 4 }) }),
    async ({ g, bias, seed, badArg }) => {
      const since = stats();
      const args: unknown[] = [g.cin, g.cout, [g.kh, g.kw], { stride: g.stride, dilation: g.dilation, padding: g.padding, groups: g.groups, bias, seed }];
      if (badArg) args[badArg[0]] = badArg[0] === 3 ? { groups: badArg[1] } : badArg[1];
      let layer: sg.nn.Conv2d;
      try {
        layer = new sg.nn.Conv2d(...(args as ConstructorParameters<typeof sg.nn.Conv2d>));
      } catch (e) {
        expectClearError(e, 'Conv2d');
        if (!badArg) throw new Error(`Conv2d rejected valid arguments ${JSON.stringify(args)}: ${(e as Error).message}`);
        expectNoLeakSince(since, 'Conv2d (rejected)');
        return;
      }
      if (badArg) { layer.dispose(); return; }
      const fanIn = g.kh * g.kw * g.cin / g.groups;
      const wv = layer.weight.dataSync().slice();
      if (layer.weight.shape.join() !== [g.kh, g.kw, g.cin / g.groups, g.cout].join()) throw new Error(`Conv2d weight [${layer.weight.shape}]`);
      if (wv.some((v) => Math.abs(v) > 1 / Math.sqrt(fanIn))) throw new Error('Conv2d weight outside ±1/√fan_in');
      if ((layer.bias === null) === bias) throw new Error(`Conv2d bias ${layer.bias === null ? 'missing' : 'present'} with bias: ${bias}`);
      const bv = layer.bias ? layer.bias.dataSync().slice() : null;
      const xs = [Math.max(g.N, 1), g.H, g.W, g.cin];
      const xv = values(size(xs), seed);
      const x = sg.tensor(xv, xs);
      const l = layout({ ...g, N: xs[0] });
      await runCase(() => layer.forward(x), {
        fn: 'Conv2d', expect: l ? 'ok' : 'error', args: ['window'], state: [x, layer.weight],
        check: (y) => {
          const want = new Float64Array(xs[0] * l!.oh * l!.ow * g.cout), b = new Float64Array(want.length);
          taps({ ...g, N: xs[0] }, l!, (yi, xi, wi) => { want[yi] += xv[xi] * wv[wi]; b[yi] += Math.abs(xv[xi] * wv[wi]); });
          const got = y.dataSync();
          for (let i = 0; i < want.length; i++) {
            const ref = want[i] + (bv ? bv[i % g.cout] : 0);
            expectClose([got[i]], [ref], 'Conv2d.forward', { abs: 200 * 2 ** -24 * (b[i] + 1) });
          }
        },
      });
      if (l) {
        const s = sg.tidy(() => sg.summary(layer, { example: x }));
        const macs = l.oh * l.ow * g.cout * fanIn;
        if (s.macs.float !== macs) throw new Error(`Conv2d summary MACs ${s.macs.float}, want ${macs}`);
        const frozen = sg.freeze(layer, { example: x });
        const got = sg.tidy(() => frozen.predict(x).dataSync());
        const want = sg.tidy(() => sg.noGrad(() => layer.forward(x)).dataSync());
        frozen.dispose();
        if (got.some((v, i) => !Object.is(v, want[i]))) throw new Error('Conv2d frozen prediction differs from eval mode');
      }
      free(x);
      layer.dispose();
      expectNoLeakSince(since, 'Conv2d');
    });
});
