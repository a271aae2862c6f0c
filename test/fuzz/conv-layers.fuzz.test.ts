// nn.BinaryConv2d and nn.QuantConv2d: random geometry and options against a
// float64 direct convolution (test/nn/conv-ref.ts) of the ±1 / fake-quantized
// values, summary MACs, frozen predictions, and hostile constructor arguments.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { convRef, pm1, refGeometry } from '../nn/conv-ref.js';
import { convGeometry, hostileOption } from './arbitraries.js';
import { expectClearError, expectClose, expectNoLeakSince, free, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

const geo = convGeometry({ minN: 1, maxCg: 40, maxOg: 5, maxGroups: 2, maxK: 3 });

/** Deterministic values in [-2, 2) from an integer seed (exact zeros included, which binarize to +1). */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s % 17 === 0 ? 0 : s / 2 ** 30 - 2;
  }
  return out;
}

describe('nn.BinaryConv2d', () => {
  prop(['sg.nn.BinaryConv2d', 'sg.nn.BinaryLayer', 'sg.nn.BinaryLayer#weight', 'sg.nn.BinaryLayer#bias', 'sg.nn.BinaryLayer#binaryWeight', 'sg.nn.BinaryLayer#channelScales',
    'sg.nn.BinaryConv2d#forward', 'sg.nn.BinaryConv2d#summaryMacs', 'sg.nn.BinaryConv2d#freezeStage', 'sg.nn.BinaryConv2d#inputWidth'],
  'random geometry, padValue, input kind and XNOR scale: forward = float64 conv of the ±1 values (exact sums), summary MACs = outH·outW·Cout·kh·kw·Cin/groups per sample, frozen predictions = eval mode bit for bit; bad constructor arguments are clear errors naming BinaryConv2d',
  fc.record({
    g: geo, padValue: fc.constantFrom<0 | 1>(0, 1), inputs: fc.constantFrom('binary', 'float', 'uint8'), scale: fc.boolean(), seed: fc.integer({ min: 1, max: 2 ** 30 }),
    badArg: fc.option(fc.tuple(fc.constantFrom(0, 1, 2, 3), hostileOption), { freq: 4 }),
  }), async ({ g, padValue, inputs, scale, seed, badArg }) => {
    const since = stats();
    const binary = inputs === 'binary';
    const options = { stride: g.stride, dilation: g.dilation, padding: g.padding, groups: g.groups, padValue: binary ? padValue : 0, binarizeInputs: binary, uint8Inputs: inputs === 'uint8', scale, seed };
    const args: unknown[] = [g.cin, g.cout, [g.kh, g.kw], options];
    if (badArg) args[badArg[0]] = badArg[0] === 3 ? { ...options, [['padValue', 'groups', 'clip', 'inputGrad'][seed % 4]]: badArg[1] } : badArg[1];
    let layer: sg.nn.BinaryConv2d;
    try {
      layer = new sg.nn.BinaryConv2d(...(args as ConstructorParameters<typeof sg.nn.BinaryConv2d>));
    } catch (e) {
      expectClearError(e, 'BinaryConv2d');
      if (!badArg) throw new Error(`BinaryConv2d rejected valid arguments ${JSON.stringify(args)}: ${(e as Error).message}`);
      expectNoLeakSince(since, 'BinaryConv2d (rejected)');
      return;
    }
    if (badArg) { layer.dispose(); return; }
    // BinaryConv2d is a BinaryLayer (the base it shares with BinaryLinear).
    if (!(layer instanceof sg.nn.BinaryLayer)) throw new Error('BinaryConv2d is not a BinaryLayer');
    const xs = [g.N, g.H, g.W, g.cin];
    // integer inputs keep float sums exact for float and uint8 layers too
    const xv = binary ? values(size(xs), seed) : Float32Array.from(values(size(xs), seed), (v) => Math.floor((v + 2) * 63.75));
    const x = sg.tensor(xv, xs);
    const rg = refGeometry(xs, layer.weight.shape, { stride: g.stride, dilation: g.dilation, padding: g.padding });
    const fits = rg.outH > 0 && rg.outW > 0;
    await runCase(() => layer.forward(x), {
      fn: 'BinaryConv2d', expect: fits ? 'ok' : 'error', args: ['window'], state: [x, layer.weight],
      check: (y) => {
        const dots = convRef(rg, binary ? Array.from(xv, pm1) : xv, Array.from(layer.weight.dataSync(), pm1), binary ? padValue : 0);
        const sc = scale ? sg.tidy(() => layer.channelScales().dataSync()) : null;
        const got = y.dataSync();
        if (y.shape.join() !== [g.N, rg.outH, rg.outW, g.cout].join()) throw new Error(`BinaryConv2d gave [${y.shape}]`);
        dots.forEach((d, i) => expectClose([got[i]], [sc ? Math.fround(d * sc[i % g.cout]) : d], 'BinaryConv2d.forward', { abs: 0 }));
      },
    });
    if (fits) {
      const s = sg.tidy(() => sg.summary(layer, { example: x }));
      const macs = rg.outH * rg.outW * g.cout * g.kh * g.kw * (g.cin / g.groups);
      if (s.macs[binary ? 'binary' : 'binaryWeights'] !== macs) throw new Error(`BinaryConv2d summary MACs ${JSON.stringify(s.macs)}, want ${macs}`);
      const frozen = sg.freeze(layer, { example: x });
      const got = sg.tidy(() => frozen.predict(x).dataSync());
      const want = sg.tidy(() => sg.noGrad(() => layer.forward(x)).dataSync());
      frozen.dispose();
      if (got.some((v, i) => !Object.is(v, want[i]))) throw new Error('BinaryConv2d frozen prediction differs from eval mode');
    }
    free(x);
    layer.dispose();
    expectNoLeakSince(since, 'BinaryConv2d');
  });
});

describe('nn.QuantConv2d', () => {
  prop(['sg.nn.QuantConv2d', 'sg.nn.QuantLayer', 'sg.nn.QuantLayer#weight', 'sg.nn.QuantLayer#bias', 'sg.nn.QuantLayer#weightQmax', 'sg.nn.QuantLayer#computeWeightScale',
    'sg.nn.QuantLayer#weightScale', 'sg.nn.QuantLayer#quantizedWeight', 'sg.nn.QuantLayer#inputScale', 'sg.nn.QuantConv2d#forward',
    'sg.nn.QuantConv2d#summaryMacs', 'sg.nn.QuantConv2d#freezeStage', 'sg.nn.QuantConv2d#inputWidth'],
  'random geometry and bit widths: quantized weights on the k-bit grid, forward = float64 conv of the fake-quantized values + bias, frozen int8 predictions within the quantization error; bad constructor arguments are clear errors naming QuantConv2d',
  fc.record({
    g: geo, weightBits: fc.integer({ min: 2, max: 8 }), activationBits: fc.option(fc.integer({ min: 2, max: 8 }), { freq: 3 }), perChannel: fc.boolean(), seed: fc.integer({ min: 1, max: 2 ** 30 }),
    badArg: fc.option(fc.tuple(fc.constantFrom(0, 1, 2, 3), hostileOption), { freq: 4 }),
  }), async ({ g, weightBits, activationBits, perChannel, seed, badArg }) => {
    const since = stats();
    const options = { stride: g.stride, dilation: g.dilation, padding: g.padding, groups: g.groups, weightBits, activationBits, perChannel, seed };
    const args: unknown[] = [g.cin, g.cout, [g.kh, g.kw], options];
    if (badArg) args[badArg[0]] = badArg[0] === 3 ? { ...options, [['weightBits', 'activationBits', 'observerMomentum', 'groups'][seed % 4]]: badArg[1] } : badArg[1];
    let layer: sg.nn.QuantConv2d;
    try {
      layer = new sg.nn.QuantConv2d(...(args as ConstructorParameters<typeof sg.nn.QuantConv2d>));
    } catch (e) {
      expectClearError(e, 'QuantConv2d');
      if (!badArg) throw new Error(`QuantConv2d rejected valid arguments ${JSON.stringify(args)}: ${(e as Error).message}`);
      expectNoLeakSince(since, 'QuantConv2d (rejected)');
      return;
    }
    if (badArg) { layer.dispose(); return; }
    // QuantConv2d is a QuantLayer (the base it shares with QuantLinear).
    if (!(layer instanceof sg.nn.QuantLayer)) throw new Error('QuantConv2d is not a QuantLayer');
    const xs = [g.N, g.H, g.W, g.cin];
    const xv = values(size(xs), seed);
    const x = sg.tensor(xv, xs);
    const rg = refGeometry(xs, layer.weight.shape, { stride: g.stride, dilation: g.dilation, padding: g.padding });
    const fits = rg.outH > 0 && rg.outW > 0;
    await runCase(() => layer.forward(x), {
      fn: 'QuantConv2d', expect: fits ? 'ok' : 'error', args: ['window'], state: [x, layer.weight], mutates: true,
      check: (y) => {
        const wq = sg.tidy(() => sg.noGrad(() => layer.quantizedWeight()).dataSync());
        const s = sg.tidy(() => layer.computeWeightScale().dataSync());
        wq.forEach((v, i) => {
          const level = v / s[s.length === 1 ? 0 : i % g.cout];
          if (Math.abs(level - Math.round(level)) > 1e-3 || Math.abs(level) > layer.weightQmax + 1e-3) throw new Error(`QuantConv2d weight ${v} is not on the ${weightBits}-bit grid`);
        });
        const sx = layer.inputScale();
        const qmax = 2 ** ((activationBits ?? 8) - 1) - 1;
        const xq = sx === null ? xv : Array.from(xv, (v) => Math.fround(Math.min(qmax, Math.max(-qmax - 1, Math.round(v / sx))) * sx));
        const want = convRef(rg, xq, wq);
        const b = layer.bias!.dataSync();
        const got = y.dataSync();
        want.forEach((v, i) => expectClose([got[i]], [v + b[i % g.cout]], 'QuantConv2d.forward', { abs: 1e-3 * (1 + Math.abs(v)) }));
      },
    });
    if (fits) {
      const macs = rg.outH * rg.outW * g.cout * g.kh * g.kw * (g.cin / g.groups);
      const s = sg.tidy(() => sg.summary(layer, { example: x }));
      if (s.macs[activationBits === null ? 'float' : 'int8'] !== macs) throw new Error(`QuantConv2d summary MACs ${JSON.stringify(s.macs)}, want ${macs}`);
      // eval mode: the observer stops, so the frozen and the eval forward use the same activation scale
      layer.eval();
      const frozen = sg.freeze(layer, { example: x });
      const got = sg.tidy(() => frozen.predict(x).dataSync());
      const want = sg.tidy(() => sg.noGrad(() => layer.forward(x)).dataSync());
      frozen.dispose();
      const bound = 0.05 * Math.max(1, ...Array.from(want, Math.abs));
      got.forEach((v, i) => { if (!(Math.abs(v - want[i]) <= bound)) throw new Error(`QuantConv2d frozen ${v} vs eval ${want[i]}`); });
    }
    free(x);
    layer.dispose();
    expectNoLeakSince(since, 'QuantConv2d');
  });
});
