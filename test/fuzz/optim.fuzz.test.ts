// Optimizers and schedules: construction with hostile parameters and options,
// steps against float64 (Adam) and float32 twins (SGD, Bop), gradients that
// are not valid for their parameter, and schedules' formulas.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { bopUpdateRef } from '../../src/reference/optim.js';
import { dim, hostile, numberOption } from './arbitraries.js';
import { expectClose, expectNoLeakSince, f32, free, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

/** A plain options bag: not an array, typed array, DataView, Map or Set (those are wrong types, not bags). */
const isObj = (o: unknown): o is Record<string, any> => o !== null && typeof o === 'object' && !Array.isArray(o) && !ArrayBuffer.isView(o) && !(o instanceof Map) && !(o instanceof Set);
/** Learning rates, decays and thresholds are used as float32: finite float32 values only. */
const F32_MAX = 3.4028234663852886e38;
const fin = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const KINDS = ['SGD', 'Adam', 'AdamW', 'Bop'] as const;
type Kind = (typeof KINDS)[number];

function build(kind: Kind, params: unknown, options: unknown): sg.optim.Optimizer<any> {
  const O = (sg.optim as any)[kind];
  return new O(params, options);
}

/** Whether the options are valid for the optimizer (null or undefined options mean the defaults; any other non-object is a wrong type). */
function optionsValid(kind: Kind, o: unknown): boolean {
  if (o === undefined || o === null) o = {};
  if (!isObj(o)) return false;
  const inRange = (v: unknown, lo: number, hi: number, def: boolean) => (v === undefined ? def : fin(v) && v >= lo && v <= hi);
  switch (kind) {
    case 'SGD': return inRange(o.lr, 0, F32_MAX, false) && inRange(o.momentum, 0, 1, true) && inRange(o.weightDecay, 0, F32_MAX, true);
    case 'Adam': case 'AdamW':
      return inRange(o.lr, 0, F32_MAX, false) && inRange(o.beta1, 0, 0.999999, true) && inRange(o.beta2, 0, 0.999999999, true) && (o.eps === undefined || (fin(o.eps) && o.eps >= 2 ** -126 && o.eps <= F32_MAX)) && inRange(o.weightDecay, 0, F32_MAX, true);
    default: return inRange(o.gamma, 0, 1, true) && inRange(o.threshold, 0, F32_MAX, true);
  }
}

const optionArb = fc.record({
  lr: numberOption(fc.constantFrom(0.1, 1, 0.01, 0)), momentum: numberOption(fc.constantFrom(0, 0.9)), weightDecay: numberOption(fc.constantFrom(0, 0.01)),
  beta1: numberOption(fc.constantFrom(0.9, 0)), beta2: numberOption(fc.constantFrom(0.999, 0.9999, 0.99999)), eps: numberOption(fc.constantFrom(1e-8, 1e-6)),
  gamma: numberOption(fc.constantFrom(1e-4, 0.5)), threshold: numberOption(fc.constantFrom(1e-8, 0)), extra: fc.constant(undefined),
}, { requiredKeys: [] });

describe('construction', () => {
  prop(['sg.optim.SGD', 'sg.optim.Adam', 'sg.optim.AdamW', 'sg.optim.Bop', 'sg.optim.Optimizer', 'sg.optim.SGD#validate', 'sg.optim.Adam#validate', 'sg.optim.Bop#validate', 'sg.optim.Optimizer#dispose', 'sg.optim.Optimizer#params'],
    'constructors validate params (tensors, requiresGrad, float32, duplicates, groups) and options before allocating state; dispose frees it all', fc.record({
      kind: fc.constantFrom(...KINDS), params: fc.constantFrom('ok', 'ok', 'empty', 'hostile', 'noGrad', 'int', 'dup', 'groups', 'badGroup', 'disposed'),
      options: fc.oneof({ weight: 5, arbitrary: optionArb }, { weight: 1, arbitrary: hostile }), bad: hostile,
    }), async ({ kind, params, options, bad }) => {
      const p1 = sg.tensor([1, -2, 3], undefined, { requiresGrad: true });
      const p2 = sg.tensor([[0.5, -0.5]], undefined, { requiresGrad: true });
      const plain = sg.tensor([1]);
      const it = sg.tensor([1], undefined, { dtype: 'int32' });
      const gone = sg.tensor([1], undefined, { requiresGrad: true }); gone.dispose();
      const P: unknown = params === 'ok' ? [p1, p2] : params === 'empty' ? [] : params === 'hostile' ? bad : params === 'noGrad' ? [p1, plain] : params === 'int' ? [it] : params === 'dup' ? [p1, p1]
        : params === 'groups' ? [{ params: [p1] }, { params: [p2], options: { lr: 0.5 } }] : params === 'badGroup' ? [{ params: [p1] }, { params: [p2], options: { lr: -1 } }] : [p1, gone];
      // Bop has no learning rate: a group's lr is meaningless to it, so a bad one may be ignored.
      const paramsOk = params === 'ok' || params === 'groups' || (params === 'badGroup' && kind === 'Bop');
      const ok = paramsOk && optionsValid(kind, options);
      const snap = [p1, p2];
      await runCase(() => build(kind, P, options), {
        fn: kind, expect: ok ? 'ok' : 'error', state: kind === 'Bop' ? [] : snap,
        check: (o) => { if (o.params.length !== 2) throw new Error(`${kind}: ${o.params.length} params, want 2`); },
        kept: (o) => ((o as any)?.slots ?? []).flatMap((sl: { state?: sg.Tensor[] }) => sl.state ?? []),
      });
      free(p1, p2, plain, it);
    }, 2);
});

describe('steps', () => {
  prop(['sg.optim.Optimizer#step', 'sg.optim.Optimizer#beforeStep', 'sg.optim.Optimizer#zeroGrad', 'sg.optim.SGD#update', 'sg.optim.Adam#update', 'sg.optim.Bop#update', 'sg.optim.Bop#beforeStep', 'sg.optim.AdamW', 'sg.optim.Optimizer#checkStep'],
    'step() matches SGD/Bop twins and a float64 Adam; a gradient of the wrong size, dtype or type (or aliasing its parameter) is a clear error that changes no parameter or state', fc.record({
      kind: fc.constantFrom(...KINDS), n: fc.integer({ min: 1, max: 7 }), steps: fc.integer({ min: 1, max: 3 }), lr: fc.constantFrom(0.1, 1, 0.003),
      b2: fc.constantFrom(0.999, 0.9999, 0.99999), momentum: fc.constantFrom(0, 0.9), wd: fc.constantFrom(0, 0.01), gamma: fc.constantFrom(1e-4, 0.5),
      gradForm: fc.constantFrom('ok', 'ok', 'ok', 'ok', 'none', 'oneElement', 'int32', 'string', 'disposed', 'alias', 'nan', 'other'), seed: fc.integer({ min: 0, max: 999 }),
    }), async ({ kind, n, steps, lr, b2, momentum, wd, gamma, gradForm, seed }) => {
      const vals = (k: number, salt: number) => Array.from({ length: k }, (_, i) => f32(Math.sin(i * 3.1 + seed + salt) * 2));
      const p = sg.tensor(vals(n, 0), undefined, { requiresGrad: true });
      const q = sg.tensor(vals(2, 9), undefined, { requiresGrad: true });
      const opts = kind === 'SGD' ? { lr, momentum, weightDecay: wd } : kind === 'Bop' ? { gamma, threshold: 1e-8 } : { lr, beta2: b2, weightDecay: kind === 'AdamW' ? wd : 0 };
      const opt = build(kind, [q, p], opts);
      // Reference state (float64 for Adam, float32 twins otherwise), advanced only by accepted steps.
      let P = Float64Array.from(p.dataSync());
      if (kind === 'Bop') P = P.map((v) => (v < 0 ? -1 : 1));
      const m = new Float64Array(n); const v = new Float64Array(n); const mb = new Float32Array(n);
      let t = 0;
      for (let s = 0; s < steps; s++) {
        const gv = vals(n, 100 + s);
        const form = s === steps - 1 ? gradForm : 'ok';
        const extra: sg.Tensor[] = [];
        const mk = (d: number[], o?: sg.TensorOptions) => { const x = sg.tensor(d, undefined, o); extra.push(x); return x; };
        const qg = mk(vals(2, 50 + s));
        q.grad = qg;
        switch (form) {
          case 'ok': p.grad = mk(gv); break;
          case 'none': p.grad = null; break;
          case 'oneElement': p.grad = n === 1 ? mk(gv) : mk([1]); break;
          case 'int32': p.grad = mk(gv.map(Math.round), { dtype: 'int32' }); break;
          case 'string': (p as any).grad = 'grad'; break;
          case 'disposed': { const g = mk(gv); g.dispose(); p.grad = g; break; }
          case 'alias': p.grad = p; break;
          case 'nan': { gv[0] = NaN; p.grad = mk(gv); break; }
          case 'other': p.grad = q; break;
        }
        const valid = form === 'ok' || form === 'none' || form === 'nan' || form === 'alias' || (form === 'oneElement' && n === 1) || (form === 'other' && n === 2);
        // The optimizer's moment buffers are user-visible state too (private field: read defensively).
        const stateBefore = [p, q, ...(((opt as any).slots ?? []) as { state?: sg.Tensor[] }[]).flatMap((sl) => sl.state ?? [])];
        await runCase(() => opt.step(), {
          fn: [kind, 'step'], expect: valid ? (form === 'nan' || form === 'other' || form === 'alias' ? 'either' : 'ok') : 'error', state: stateBefore, mutates: true,
          check: () => {
            if (form === 'none' || form === 'nan' || form === 'other' || form === 'alias') { P = Float64Array.from(p.dataSync()); t = kind.startsWith('Adam') ? t + 1 : t; return; }
            const g = Array.from(p.grad!.dataSync());
            if (kind === 'SGD') {
              P = P.map((w, i) => {
                if (momentum === 0 && wd === 0) return f32(w - f32(f32(lr) * g[i]));
                const d = g[i] + wd * w;
                m[i] = momentum * m[i] + d;
                return w - lr * m[i];
              });
              expectClose(p.dataSync(), P, 'SGD', { abs: 1e-6, rel: 1e-5 });
              P = Float64Array.from(p.dataSync());
            } else if (kind === 'Bop') {
              const W = Float32Array.from(P); const G = Float32Array.from(g);
              bopUpdateRef(W, G, mb, gamma, 1e-8);
              P = Float64Array.from(W);
              expectClose(p.dataSync(), P, 'Bop');
            } else {
              t++;
              const step = P.map((w, i) => {
                const grad = g[i] + (kind === 'Adam' ? 0 : 0);
                m[i] = 0.9 * m[i] + (1 - 0.9) * grad;
                v[i] = b2 * v[i] + (1 - b2) * grad * grad;
                const mh = m[i] / (1 - 0.9 ** t);
                const vh = v[i] / (1 - b2 ** t);
                const w0 = kind === 'AdamW' ? w * (1 - lr * wd) : w;
                return w0 - (lr * mh) / (Math.sqrt(vh) + 1e-8);
              });
              const got = p.dataSync();
              step.forEach((w, i) => expectClose([got[i]], [w], `${kind} step ${t} (beta2 ${b2}, lr ${lr})`, { abs: 2e-5 * lr + 4e-7 * Math.abs(w) }));
              P = Float64Array.from(got);
            }
          },
        });
        q.grad = null;
        if (p.grad !== p && p.grad !== q) free(p.grad);
        p.grad = null;
        free(extra);
        if (!valid) break;
      }
      const before = stats();
      opt.zeroGrad();
      opt.dispose();
      const after = stats();
      if (after.tensors >= before.tensors && kind !== 'Bop' && kind !== 'SGD') throw new Error(`${kind}: dispose freed no state`);
      free(p, q);
    }, 3);

  prop(['sg.optim.Chain', 'sg.optim.Chain#step', 'sg.optim.Chain#zeroGrad', 'sg.optim.Chain#dispose'], 'Chain takes optimizers only and steps each once', fc.record({ args: fc.array(fc.oneof(fc.constantFrom('sgd', 'bop'), hostile), { maxLength: 3 }) }), async ({ args }) => {
    const since = stats();
    const p = sg.tensor([1, -1], undefined, { requiresGrad: true });
    const w = sg.tensor([0.5, -0.5], undefined, { requiresGrad: true });
    const made: sg.optim.Optimizer<any>[] = [];
    const list = args.map((a) => (a === 'sgd' ? (made.push(new sg.optim.SGD([p], { lr: 1 })), made[made.length - 1]) : a === 'bop' ? (made.push(new sg.optim.Bop([w], { gamma: 1 })), made[made.length - 1]) : a));
    const ok = list.length > 0 && list.every((o) => o instanceof sg.optim.Optimizer) && new Set(list).size === list.length;
    p.grad = sg.tensor([1, 1]);
    w.grad = sg.tensor([-1, 1]);
    await runCase(() => { const c = new sg.optim.Chain(...(list as sg.optim.Optimizer<any>[])); c.step(); c.zeroGrad(); return null; }, {
      fn: 'Chain', frees: true, expect: ok ? 'ok' : list.length > 0 && list.every((o) => o instanceof sg.optim.Optimizer) ? 'either' : 'error', state: [p, w, p.grad, w.grad], mutates: true,
      check: () => {
        const sgdSteps = args.filter((a) => a === 'sgd').length;
        if (sgdSteps) expectClose(p.dataSync(), [1 - sgdSteps, -1 - sgdSteps], 'Chain SGD');
        if ((sgdSteps && p.grad !== null) || (args.includes('bop') && w.grad !== null)) throw new Error('Chain.zeroGrad left gradients');
      },
    });
    for (const o of made) o.dispose();
    free(p, w);
    expectNoLeakSince(since, 'Chain');
  });
});

describe('learning rate', () => {
  prop(['sg.optim.LRSchedule', 'sg.optim.LRSchedule#step', 'sg.optim.StepLR', 'sg.optim.StepLR#lrAt', 'sg.optim.CosineLR', 'sg.optim.CosineLR#lrAt', 'sg.optim.Optimizer#lr'],
    'schedules follow their formulas; hostile optimizers, step sizes and lrs are clear errors', fc.record({
      which: fc.constantFrom('StepLR', 'CosineLR', 'setLr'), target: fc.constantFrom('opt', 'opt', 'opt', 'null', 'plain'), a: numberOption(fc.integer({ min: 1, max: 5 })), b: fc.oneof(fc.constant(undefined), numberOption(fc.constantFrom(0.5, 0.1, 0, 1e-3))), steps: dim(8),
    }), async ({ which, target, a, b, steps }) => {
      const p = sg.tensor([1], undefined, { requiresGrad: true });
      const opt = new sg.optim.SGD([p], { lr: 0.2 });
      const tgt: unknown = target === 'opt' ? opt : target === 'null' ? null : { lr: 0.2 };
      const aOk = Number.isInteger(a) && (a as number) >= 1;
      // StepLR's gamma is a decay (0..1: gamma > 1 would grow the lr without bound); CosineLR's minLr is a float32 lr.
      const bOk = b === undefined || (fin(b) && b >= 0 && b <= (which === 'StepLR' ? 1 : F32_MAX));
      const ok = which === 'setLr' ? fin(a) && (a as number) >= 0 && (a as number) <= F32_MAX : target !== 'null' && aOk && bOk;
      await runCase(() => {
        if (which === 'setLr') { opt.lr = a as number; return [opt.lr]; }
        const S = which === 'StepLR' ? new sg.optim.StepLR(tgt as any, a as number, b as number) : new sg.optim.CosineLR(tgt as any, a as number, b as number);
        const out: number[] = [];
        for (let i = 0; i < steps; i++) out.push(S.step());
        return out;
      }, {
        fn: which === 'setLr' ? ['SGD', 'lr'] : which, expect: ok ? 'ok' : 'error', state: [p],
        check: (lrs) => {
          const want = which === 'setLr' ? [a as number] : lrs.map((_, i) => {
            const t = i + 1;
            if (which === 'StepLR') return 0.2 * ((b ?? 0.1) as number) ** Math.floor(t / (a as number));
            const minLr = (b ?? 0) as number;
            return t >= (a as number) ? minLr : minLr + ((0.2 - minLr) * (1 + Math.cos((Math.PI * t) / (a as number)))) / 2;
          });
          expectClose(lrs, want, which, { abs: 1e-12, rel: 1e-9 });
          if (lrs.some((v) => !(v >= 0) || !Number.isFinite(v))) throw new Error(`${which}: lr ${lrs} is not a finite non-negative number`);
        },
      });
      opt.dispose();
      free(p);
    });
});
