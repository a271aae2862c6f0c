// Checkpoints: optimizer and schedule state dicts round-trip (a restored
// optimizer takes the same next step bit for bit), hostile states and
// options are clear errors that change nothing, and mutated checkpoint files
// either load exactly what an independent parse of them says or are
// rejected with the model, optimizer, schedule and generator untouched.
import fc from 'fast-check';
import { describe } from 'vitest';
import * as sg from '../../src/index.js';
import { applyMutations, dim, hostile, mutations, shape } from './arbitraries.js';
import { bytesOf, expectClearError, expectNoLeakSince, f32, prop, runCase, stats, useRuntime } from './oracle.js';

useRuntime();

/** A model that is only a bag of parameters of the given shapes (and one buffer). */
class Bag extends sg.nn.Module {
  constructor(shapes: number[][], salt: number) {
    super();
    shapes.forEach((s, i) => {
      const n = s.reduce((a, b) => a * b, 1);
      this.registerParameter(`p${i}`, sg.tensor(Array.from({ length: n }, (_, k) => f32(Math.sin(k * 1.7 + i + salt))), s));
    });
    this.registerBuffer('count', sg.tensor([salt], [1]));
  }

  forward(x: sg.Tensor): sg.Tensor {
    return x;
  }
}

const KINDS = ['SGD', 'Adam', 'AdamW', 'Bop', 'Chain'] as const;
type Kind = (typeof KINDS)[number];
type Opt = sg.optim.Optimizer<any> | sg.optim.Chain;

function makeOptimizer(kind: Kind, params: sg.Tensor[], groups: boolean): Opt {
  const split = (O: new (p: any, o: any) => sg.optim.Optimizer<any>, o: object, ps: sg.Tensor[]) =>
    groups && ps.length > 1 ? new O([{ params: ps.slice(0, 1) }, { params: ps.slice(1), options: { lr: 0.003 } }], o) : new O(ps, o);
  switch (kind) {
    case 'SGD': return split(sg.optim.SGD, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 }, params);
    case 'Adam': return split(sg.optim.Adam, { lr: 0.01, beta2: 0.99 }, params);
    case 'AdamW': return split(sg.optim.AdamW, { lr: 0.01 }, params);
    case 'Bop': return new sg.optim.Bop(params, { gamma: 0.5, threshold: 1e-3 });
    default: {
      const half = Math.max(1, Math.floor(params.length / 2));
      return params.length > 1 ? new sg.optim.Chain(new sg.optim.Bop(params.slice(0, half), { gamma: 0.5 }), split(sg.optim.Adam, { lr: 0.01 }, params.slice(half))) : new sg.optim.Chain(split(sg.optim.Adam, { lr: 0.01 }, params));
    }
  }
}

function makeSchedule(kind: 'none' | 'StepLR' | 'CosineLR', opt: Opt): sg.optim.LRSchedule | undefined {
  // A schedule drives the lr of one optimizer (a Chain's last one).
  const target = opt instanceof sg.optim.Chain ? opt.optimizers[opt.optimizers.length - 1] : opt;
  if (kind === 'StepLR') return new sg.optim.StepLR(target, 2, 0.5);
  if (kind === 'CosineLR') return new sg.optim.CosineLR(target, 5, 0.001);
  return undefined;
}

/** Gradients of step `s`: parameter i gets none where mask bit (s + i) is 0, so Adam's step counts differ per parameter. */
function setGrads(params: sg.Tensor[], s: number, mask: number): void {
  params.forEach((p, i) => {
    if (p.grad) p.grad.dispose();
    p.grad = ((mask >> ((s + i) % 8)) & 1) ? sg.tensor(Array.from({ length: p.size }, (_, k) => f32(Math.cos(k * 0.9 + s * 2.3 + i))), [...p.shape]) : null;
  });
}

function train(params: sg.Tensor[], opt: Opt, schedule: sg.optim.LRSchedule | undefined, from: number, steps: number, mask: number): void {
  for (let s = from; s < from + steps; s++) {
    setGrads(params, s, mask);
    opt.step();
    schedule?.step();
  }
  opt.zeroGrad();
}

/** The file with bits flipped in its data section (after the header). */
function flipData(file: Uint8Array, flips: { at: number; bit: number }[]): Uint8Array {
  const out = file.slice();
  const start = 8 + new DataView(file.buffer, file.byteOffset).getUint32(0, true);
  const n = file.length - start;
  for (const f of flips) if (n > 0) out[start + Math.min(n - 1, Math.floor(f.at * n))] ^= 1 << f.bit;
  return out;
}

const rawOf = (t: sg.Tensor): string => Array.from(bytesOf(t)).join(',');

/** Everything a checkpoint restores, as comparable strings. */
function fingerprint(model: sg.nn.Module, opt: Opt, schedule?: sg.optim.LRSchedule): string {
  const st = opt.stateDict();
  return JSON.stringify({
    model: Object.entries(model.stateDict()).map(([k, t]) => [k, rawOf(t)]),
    optTensors: Object.entries(st.tensors).map(([k, t]) => [k, rawOf(t)]),
    optValues: st.values,
    schedule: schedule?.stateDict() ?? null,
  });
}

const setup = fc.record({
  kind: fc.constantFrom(...KINDS),
  shapes: fc.array(shape({ maxRank: 3, maxDim: 5, maxSize: 40 }), { minLength: 1, maxLength: 4 }),
  groups: fc.boolean(),
  schedule: fc.constantFrom('none', 'StepLR', 'CosineLR') as fc.Arbitrary<'none' | 'StepLR' | 'CosineLR'>,
  steps: fc.integer({ min: 0, max: 4 }),
  mask: fc.integer({ min: 0, max: 255 }),
});

interface Setup { kind: Kind; shapes: number[][]; groups: boolean; schedule: 'none' | 'StepLR' | 'CosineLR' }

function build(c: Setup, salt: number) {
  const model = new Bag(c.shapes, salt);
  const params = model.parameters();
  const opt = makeOptimizer(c.kind, params, c.groups);
  const schedule = makeSchedule(c.schedule, opt);
  return { model, params, opt, schedule, dispose: () => { opt.dispose(); model.dispose(); } };
}

describe('round trip', () => {
  prop(['sg.io.saveCheckpoint', 'sg.io.loadCheckpoint', 'sg.optim.Optimizer#stateDict', 'sg.optim.Optimizer#loadStateDict', 'sg.optim.Optimizer#planLoad', 'sg.optim.Optimizer#stateNames',
    'sg.optim.Optimizer#extraState', 'sg.optim.Optimizer#planExtraState', 'sg.optim.Optimizer#checkStateValues', 'sg.optim.SGD#stateNames', 'sg.optim.Adam#stateNames', 'sg.optim.Adam#extraState',
    'sg.optim.Adam#planExtraState', 'sg.optim.Adam#checkStateValues', 'sg.optim.Bop#stateNames', 'sg.optim.Bop#extraState', 'sg.optim.Bop#planExtraState', 'sg.optim.Chain#stateDict',
    'sg.optim.Chain#loadStateDict', 'sg.optim.Chain#planLoad', 'sg.optim.LRSchedule#stateDict', 'sg.optim.LRSchedule#loadStateDict', 'sg.optim.LRSchedule#planLoad',
    'sg.optim.LRSchedule#hyperparameters', 'sg.optim.LRSchedule#checkHyperparameters', 'sg.optim.StepLR#hyperparameters', 'sg.optim.StepLR#checkHyperparameters',
    'sg.optim.CosineLR#hyperparameters', 'sg.optim.CosineLR#checkHyperparameters'],
  'a state saved (as a checkpoint file, or as a state dict whose values went through JSON) and loaded into a fresh optimizer, schedule and model equals the original, and the next step is bit-identical; nothing leaks',
  fc.record({ c: setup, via: fc.constantFrom('checkpoint', 'stateDict') }), async ({ c, via }) => {
    const since = stats();
    const a = build(c, 0);
    const b = build(c, 5);
    try {
      train(a.params, a.opt, a.schedule, 0, c.steps, c.mask);
      const before = fingerprint(a.model, a.opt, a.schedule);
      if (via === 'checkpoint') {
        const file = sg.io.saveCheckpoint({ model: a.model, optimizer: a.opt, schedule: a.schedule, extra: { steps: c.steps } });
        const r = await sg.io.loadCheckpoint(file, { model: b.model, optimizer: b.opt, schedule: b.schedule });
        if (JSON.stringify(r.extra) !== JSON.stringify({ steps: c.steps })) throw new Error(`extra came back as ${JSON.stringify(r.extra)}`);
      } else {
        const st = a.opt.stateDict();
        b.opt.loadStateDict({ kind: st.kind, tensors: st.tensors, values: JSON.parse(JSON.stringify(st.values)) });
        if (a.schedule) b.schedule!.loadStateDict(JSON.parse(JSON.stringify(a.schedule.stateDict())));
        b.model.loadStateDict(a.model.stateDict());
      }
      if (fingerprint(a.model, a.opt, a.schedule) !== before) throw new Error('saving changed the source');
      const got = fingerprint(b.model, b.opt, b.schedule);
      if (got !== before) throw new Error(`restored state differs:\n${got.slice(0, 600)}\nvs\n${before.slice(0, 600)}`);
      train(a.params, a.opt, a.schedule, c.steps, 2, c.mask);
      train(b.params, b.opt, b.schedule, c.steps, 2, c.mask);
      if (fingerprint(b.model, b.opt, b.schedule) !== fingerprint(a.model, a.opt, a.schedule)) throw new Error('the steps after the restore differ');
    } finally {
      a.dispose();
      b.dispose();
    }
    expectNoLeakSince(since, 'checkpoint round trip');
  }, 2);
});

describe('hostile states', () => {
  const path = fc.constantFrom('root', 'kind', 'tensors', 'tensor', 'values', 'lr', 'groups', 'options', 'params', 'shape', 'steps', 'extraKey', 'dropKey');
  prop(['sg.optim.Optimizer#loadStateDict', 'sg.optim.Chain#loadStateDict', 'sg.optim.LRSchedule#loadStateDict'],
    'a state with one entry replaced by a hostile value (or a tensor of the wrong shape, dtype or values) is a clear error naming the class, and changes no state',
    fc.record({ c: setup, path, bad: hostile, tensorForm: fc.constantFrom('shape', 'int32', 'nan', 'negative', 'disposed'), schedKey: fc.constantFrom('kind', 't', 'baseLr', 'stepSize', 'gamma', 'totalSteps', 'minLr', 'root', 'extra') }),
    async ({ c, path, bad, tensorForm, schedKey }) => {
      const since = stats();
      const a = build({ ...c, schedule: c.schedule === 'none' ? 'CosineLR' : c.schedule }, 0);
      const b = build({ ...c, schedule: c.schedule === 'none' ? 'CosineLR' : c.schedule }, 3);
      const made: sg.Tensor[] = [];
      try {
        train(a.params, a.opt, a.schedule, 0, Math.max(1, c.steps), c.mask);
        const st = a.opt.stateDict();
        // A Chain nests each optimizer's values; corrupt the first inner optimizer's then.
        const inner = (v: Record<string, any>) => (st.kind === 'Chain' ? v.optimizers[0].values : v);
        const values = JSON.parse(JSON.stringify(st.values));
        const tensors: Record<string, unknown> = { ...st.tensors };
        let state: unknown = { kind: st.kind, tensors, values };
        const firstKey = Object.keys(tensors)[0];
        let valid = false;
        switch (path) {
          case 'root': state = bad; break;
          case 'kind': (state as any).kind = typeof bad === 'string' && bad !== st.kind ? bad : st.kind === 'SGD' ? 'Adam' : 'SGD'; break;
          // Every parameter has at least one state tensor: no hostile value is an acceptable tensors entry.
          case 'tensors': (state as any).tensors = bad; break;
          case 'values': (state as any).values = bad; break;
          case 'lr': inner(values).lr = bad; valid = typeof bad === 'number' && Number.isFinite(bad) && bad >= 0 && bad <= 3.4e38; break;
          case 'groups': inner(values).groups = bad; break;
          case 'options': inner(values).groups[0].options = { ...inner(values).groups[0].options, lr: bad }; valid = typeof bad === 'number' && Number.isFinite(bad) && bad >= 0 && bad <= 3.4e38; break;
          case 'params': inner(values).params = bad; break;
          case 'shape': { const orig: number[] = inner(values).params[0].shape; valid = Array.isArray(bad) && bad.length === orig.length && bad.every((d, i) => d === orig[i]); } inner(values).params[0].shape = bad; break;
          case 'steps':
            if ('steps' in inner(values)) {
              valid = Array.isArray(bad) && bad.length === inner(values).steps.length && bad.every((t) => Number.isSafeInteger(t) && t >= 0);
              inner(values).steps = bad;
            } else inner(values).lastFlips = -1;
            break;
          case 'extraKey': values.extraKey = 1; break;
          case 'dropKey': delete values[Object.keys(values)[0]]; break;
          case 'tensor': {
            if (firstKey === undefined) { valid = true; break; }
            const want = st.tensors[firstKey];
            const n = Math.max(want.size, 1);
            const t = tensorForm === 'shape' ? sg.zeros([want.size + 1])
              : tensorForm === 'int32' ? sg.zeros([...want.shape], { dtype: 'int32' })
              : tensorForm === 'disposed' ? sg.zeros([...want.shape])
              : sg.tensor(Array.from({ length: want.size }, (_, k) => (k === n - 1 ? (tensorForm === 'nan' ? NaN : -1) : 0)), [...want.shape]);
            made.push(t);
            if (tensorForm === 'disposed') t.dispose();
            tensors[firstKey] = t;
            // -1 is a valid first moment (m) or momentum; only v must be >= 0. An empty tensor has no bad value.
            valid = (tensorForm === 'negative' && !firstKey.endsWith('.v')) || ((tensorForm === 'nan' || tensorForm === 'negative') && want.size === 0);
            break;
          }
        }
        const fn = `${st.kind}.loadStateDict`;
        const before = fingerprint(b.model, b.opt);
        await runCase(() => b.opt.loadStateDict(state as sg.optim.OptimizerState), { fn, expect: valid ? 'either' : 'error', state: [...Object.values(b.opt.stateDict().tensors), ...b.params], mutates: true });
        // On rejection nothing changed (the lr and hyperparameters included); an accepted state is what was given.
        const after = fingerprint(b.model, b.opt);
        if (after !== before && !valid) throw new Error(`${fn}: a rejected state changed the optimizer`);

        const sst: Record<string, unknown> = { ...a.schedule!.stateDict() };
        let sstate: unknown = sst;
        if (schedKey === 'root') sstate = bad;
        else if (schedKey === 'extra') sst.extra = 1;
        else if (schedKey in sst) sst[schedKey] = schedKey === 'kind' && bad === sst.kind ? 'X' : bad;
        else sst[schedKey] = 1;
        const sfn = `${a.schedule!.constructor.name}.loadStateDict`;
        const sBefore = JSON.stringify(b.schedule!.stateDict());
        const lrBefore = (b.opt instanceof sg.optim.Chain ? b.opt.optimizers[b.opt.optimizers.length - 1] : b.opt).lr;
        let threw: unknown = null;
        try {
          b.schedule!.loadStateDict(sstate as sg.optim.ScheduleState);
        } catch (e) {
          threw = e;
        }
        if (threw) {
          expectClearError(threw, sfn);
          if (JSON.stringify(b.schedule!.stateDict()) !== sBefore) throw new Error(`${sfn}: a rejected state changed the schedule`);
        } else if (JSON.stringify(b.schedule!.stateDict()) !== JSON.stringify(sstate)) {
          throw new Error(`${sfn}: accepted ${fc.stringify(sstate)} but holds ${JSON.stringify(b.schedule!.stateDict())}`);
        }
        if ((b.opt instanceof sg.optim.Chain ? b.opt.optimizers[b.opt.optimizers.length - 1] : b.opt).lr !== lrBefore) throw new Error(`${sfn} changed the optimizer's lr`);
      } finally {
        for (const t of made) if (!t.disposed) t.dispose();
        a.dispose();
        b.dispose();
      }
      expectNoLeakSince(since, 'loadStateDict');
    }, 2);
});

describe('files', () => {
  prop(['sg.io.loadCheckpoint'],
    'a mutated checkpoint file either loads exactly what an independent parse of it holds, or is a clear error that changes no model, optimizer, schedule or generator state; nothing leaks',
    fc.record({
      c: setup, muts: mutations(0.4), withRng: fc.boolean(), inData: fc.boolean(),
      dataFlips: fc.array(fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }), { minLength: 1, maxLength: 3 }),
    }), async ({ c, muts, withRng, inData, dataFlips }) => {
      const since = stats();
      const a = build({ ...c, schedule: c.schedule === 'none' ? 'StepLR' : c.schedule }, 0);
      const b = build({ ...c, schedule: c.schedule === 'none' ? 'StepLR' : c.schedule }, 7);
      try {
        train(a.params, a.opt, a.schedule, 0, c.steps, c.mask);
        sg.seed(4321);
        const file = sg.io.saveCheckpoint({ model: a.model, optimizer: a.opt, schedule: a.schedule, extra: { note: 'ü', n: [1, 2] }, rng: withRng });
        // Half the cases flip bits in the data section only (values change, the file stays well formed): those exercise acceptance.
        const mutated = inData ? flipData(file, dataFlips) : applyMutations(file, muts);
        sg.seed(99);
        const rng = JSON.stringify(sg.rngState());
        const before = fingerprint(b.model, b.opt, b.schedule);
        let accepted = false;
        await runCase(async () => {
          const r = await sg.io.loadCheckpoint(mutated, { model: b.model, optimizer: b.opt, schedule: b.schedule });
          accepted = true;
          return r;
        }, {
          fn: 'loadCheckpoint', expect: 'either', state: [...Object.values(b.model.stateDict()), ...Object.values(b.opt.stateDict().tensors)], mutates: true,
          check: () => {
            // Accepted: the model and optimizer tensors are the file's, as parseSafetensors reads them.
            const parsed = sg.io.parseSafetensors(mutated);
            try {
              for (const [k, t] of Object.entries(b.model.stateDict())) if (rawOf(parsed.tensors[`model.${k}`]) !== rawOf(t)) throw new Error(`loadCheckpoint: model tensor ${k} is not the file's`);
              for (const [k, t] of Object.entries(b.opt.stateDict().tensors)) if (rawOf(parsed.tensors[`optimizer.${k}`]) !== rawOf(t)) throw new Error(`loadCheckpoint: optimizer tensor ${k} is not the file's`);
              const meta = JSON.parse(parsed.metadata['snapgrad.optimizer']);
              if (JSON.stringify(meta.values) !== JSON.stringify(b.opt.stateDict().values)) throw new Error('loadCheckpoint: optimizer values are not the file\'s');
              if (parsed.metadata['snapgrad.rng'] !== undefined && JSON.stringify(sg.rngState()) !== JSON.stringify(JSON.parse(parsed.metadata['snapgrad.rng']))) throw new Error('loadCheckpoint: the generator state is not the file\'s');
            } finally {
              for (const t of Object.values(parsed.tensors)) t.dispose();
            }
          },
        });
        const after = fingerprint(b.model, b.opt, b.schedule);
        if (!accepted && (after !== before || JSON.stringify(sg.rngState()) !== rng)) throw new Error('loadCheckpoint: a rejected file changed the model, optimizer, schedule or generator');
        // Accepted: the schedule and everything else is the file's, so loading it into another target gives the same state.
        if (accepted) {
          const c2 = build({ ...c, schedule: c.schedule === 'none' ? 'StepLR' : c.schedule }, 11);
          try {
            await sg.io.loadCheckpoint(mutated, { model: c2.model, optimizer: c2.opt, schedule: c2.schedule });
            if (fingerprint(c2.model, c2.opt, c2.schedule) !== after) throw new Error('loadCheckpoint: the same file loaded into two targets gives different states');
          } finally {
            c2.dispose();
          }
        }
      } finally {
        a.dispose();
        b.dispose();
      }
      expectNoLeakSince(since, 'loadCheckpoint');
    }, 2);

  prop(['sg.io.saveCheckpoint', 'sg.io.loadCheckpoint'],
    'hostile options (model, optimizer, schedule, rng, extra, sources) are clear errors naming saveCheckpoint/loadCheckpoint, and change nothing',
    fc.record({ which: fc.constantFrom('model', 'optimizer', 'schedule', 'rng', 'extra', 'unknown', 'options', 'source', 'mismatch', 'disposedOpt'), bad: hostile, n: dim(4) }), async ({ which, bad, n }) => {
      const since = stats();
      const model = new Bag([[n, 2]], 1);
      const opt = new sg.optim.Adam(model.parameters(), { lr: 0.1 });
      const sched = new sg.optim.StepLR(opt, 3);
      const other = new Bag([[n + 1, 2]], 2);
      const otherOpt = new sg.optim.SGD(other.parameters(), { lr: 0.1 });
      const goneOpt = new sg.optim.Adam(model.parameters(), { lr: 0.1 });
      goneOpt.dispose();
      try {
        const file = sg.io.saveCheckpoint({ model, optimizer: opt, schedule: sched });
        const base: Record<string, unknown> = { model, optimizer: opt, schedule: sched };
        let save: unknown = base;
        let load: unknown = { ...base };
        let source: unknown = file;
        let saveOk = true;
        let loadOk = true;
        switch (which) {
          case 'model': save = { ...base, model: bad }; load = { ...base, model: bad }; saveOk = loadOk = false; break;
          case 'optimizer': save = { ...base, optimizer: bad }; load = { ...base, optimizer: bad }; saveOk = loadOk = bad === undefined; break;
          case 'schedule': save = { ...base, schedule: bad }; load = { ...base, schedule: bad }; saveOk = loadOk = bad === undefined; break;
          case 'rng': save = { ...base, rng: bad }; saveOk = bad === undefined || typeof bad === 'boolean'; break;
          case 'extra': save = { ...base, extra: bad }; saveOk = bad === undefined || bad === null || typeof bad === 'string' || typeof bad === 'boolean' || (typeof bad === 'number' && Number.isFinite(bad)) || (Array.isArray(bad) && bad.every((v) => typeof v === 'number')) || (typeof bad === 'object' && bad !== null && (Object.getPrototypeOf(bad) === Object.prototype || Object.getPrototypeOf(bad) === null) && Object.keys(bad).length === 0); break;
          case 'unknown': save = { ...base, seed: 1 }; load = { ...base, rng: true }; saveOk = loadOk = false; break;
          case 'options': save = bad; load = bad; saveOk = loadOk = false; break;
          case 'source': source = bad; loadOk = false; break;
          case 'mismatch': load = { model: other, optimizer: otherOpt }; loadOk = false; break;
          case 'disposedOpt': save = { ...base, optimizer: goneOpt }; load = { ...base, optimizer: goneOpt }; saveOk = loadOk = false; break;
        }
        await runCase(() => sg.io.saveCheckpoint(save as sg.io.SaveCheckpointOptions), { fn: 'saveCheckpoint', expect: saveOk ? 'ok' : 'error', state: [...model.parameters(), ...Object.values(opt.stateDict().tensors)] });
        const fp = fingerprint(model, opt, sched);
        const fpOther = fingerprint(other, otherOpt);
        const rng = JSON.stringify(sg.rngState());
        await runCase(() => sg.io.loadCheckpoint(source as Uint8Array, load as sg.io.LoadCheckpointOptions), {
          fn: 'loadCheckpoint', expect: loadOk ? 'ok' : 'error',
          state: [...model.parameters(), ...Object.values(opt.stateDict().tensors), ...other.parameters()], mutates: loadOk,
        });
        if (!loadOk && (fingerprint(model, opt, sched) !== fp || fingerprint(other, otherOpt) !== fpOther || JSON.stringify(sg.rngState()) !== rng)) throw new Error('loadCheckpoint: a rejected call changed state');
      } finally {
        for (const o of [opt, otherOpt]) o.dispose();
        model.dispose();
        other.dispose();
      }
      expectNoLeakSince(since, 'saveCheckpoint/loadCheckpoint');
    });
});
