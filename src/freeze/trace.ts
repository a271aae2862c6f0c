import { noGrad } from '../autograd/tape.js';
import type { Module } from '../nn/module.js';
import { keep, tidy } from '../tensor/scope.js';
import { empty, Tensor } from '../tensor/tensor.js';
import { copyTensor } from '../kernels/frozen.js';
import type { DType } from '../tensor/dtypes.js';
import { isDeclared, type DeclaredLayer } from './types.js';

/**
 * Tracing for freeze() and summary(): the model's forward runs once on an
 * example (eval mode, no tape) and every step is recorded. Layers that declare
 * their summary/freeze behaviour (DeclaredLayer) become one atomic node; any other module
 * is transparent, and the public ops its forward calls are recorded instead
 * (the wrappers in traced.ts). A depth counter keeps ops called inside an
 * atomic layer or inside another op out of the record.
 */

/** How a recorded argument is replayed. */
export type TracedArg =
  | { input: number } // index into the node's inputs
  | { constant: Tensor } // a tensor that existed before the trace (parameter, user constant), copied
  | { json: unknown }
  | { undefined: true }
  | { list: TracedArg[] }
  | { batchShape: number[] }; // a reshape target whose leading entry is the batch of the first input

export interface TraceNode {
  /** Value id of the output (the example input is value 0). */
  readonly id: number;
  readonly kind: 'module' | 'op';
  readonly module?: Module & DeclaredLayer;
  /** Dotted name of the module (module nodes), or of the innermost module whose forward called the op. */
  readonly name: string;
  readonly op?: string;
  /** Value ids read by the node. */
  readonly inputs: number[];
  readonly args: TracedArg[];
  readonly inputShapes: number[][];
  readonly shape: number[];
  readonly dtype: DType;
}

export interface Trace {
  readonly nodes: TraceNode[];
  readonly inputShape: number[];
  /** Value id of the model's output. */
  readonly output: number;
}

class Recorder {
  readonly nodes: TraceNode[] = [];
  readonly ids = new Map<Tensor, number>();
  readonly shapes: number[][] = [];
  depth = 0;
  /** Names of the transparent modules whose forward is running (innermost last). */
  readonly owners: string[] = [];
  /** Tensors made before the trace have smaller ids: they are constants, the rest must be traced values. */
  readonly firstId: number;
  readonly batch: number;

  constructor(readonly example: Tensor, readonly names: Map<Module, string>) {
    this.ids.set(example, 0);
    this.shapes.push([...example.shape]);
    // Tensor ids only grow: a probe made now marks where the trace begins.
    const probe = empty([1], 'float32');
    this.firstId = probe.id;
    probe.dispose();
    this.batch = example.shape[0];
  }

  valueOf(t: Tensor, where: string): number | null {
    const id = this.ids.get(t);
    if (id !== undefined) return id;
    if (t.id >= this.firstId) {
      throw new Error(`freeze: ${where} reads a tensor computed during forward by something freeze cannot trace (a creation function such as zeros/randn, a kernel function, or an op returning a non-tensor); make it before forward (e.g. in the constructor), or put it in a layer that declares freezeStage`);
    }
    return null;
  }

  private add(node: Omit<TraceNode, 'id' | 'inputShapes' | 'shape' | 'dtype'>, out: Tensor): void {
    const id = this.shapes.length;
    this.shapes.push([...out.shape]);
    this.nodes.push({ ...node, id, inputShapes: node.inputs.map((i) => this.shapes[i]), shape: [...out.shape], dtype: out.dtype });
    this.ids.set(out, id);
  }

  recordModule(m: Module & DeclaredLayer, x: unknown, out: unknown): void {
    const name = this.names.get(m) ?? m.constructor.name;
    if (!(x instanceof Tensor) || !(out instanceof Tensor)) throw new Error(`freeze: layer ${name} (${m.constructor.name}) must take and return one tensor`);
    const id = this.valueOf(x, `layer ${name}`);
    if (id === null) throw new Error(`freeze: layer ${name} (${m.constructor.name}) reads a tensor that is not computed from the example input`);
    this.add({ kind: 'module', module: m, name, inputs: [id], args: [{ input: 0 }] }, out);
  }

  recordOp(op: string, args: unknown[], out: unknown): void {
    if (!(out instanceof Tensor)) throw new Error(`freeze: ${op} returned ${typeof out}, not a tensor; freeze can only trace ops that return one tensor`);
    const inputs: number[] = [];
    const encode = (v: unknown, depth: number): TracedArg => {
      if (v instanceof Tensor) {
        const id = this.valueOf(v, op);
        if (id === null) return { constant: keep(copyTensor(v)) };
        let k = inputs.indexOf(id);
        if (k < 0) k = inputs.push(id) - 1;
        return { input: k };
      }
      if (v === undefined) return { undefined: true };
      if (Array.isArray(v) && v.some((e) => e instanceof Tensor)) {
        if (depth > 0) throw new Error(`freeze: ${op}: nested arrays of tensors cannot be traced`);
        return { list: v.map((e) => encode(e, depth + 1)) };
      }
      return { json: plainJson(v, op) };
    };
    const encoded = args.map((a) => encode(a, 0));
    while (encoded.length > 0 && 'undefined' in encoded[encoded.length - 1]) encoded.pop();
    // A reshape to [batch, ...] must follow the batch it is run on, not the example's.
    const target = args[1];
    if (op === 'reshape' && Array.isArray(target) && target.length > 0 && target[0] === this.batch && inputs.length === 1 && this.shapes[inputs[0]][0] === this.batch) {
      encoded[1] = { batchShape: target.slice(1) as number[] };
    }
    this.add({ kind: 'op', op, name: this.owners[this.owners.length - 1] ?? '', inputs, args: encoded }, out);
  }
}

function plainJson(v: unknown, op: string): unknown {
  const bad = (what: string) => new Error(`freeze: ${op} got ${what} as an argument; freeze can only record tensors, numbers, strings, booleans and plain arrays/objects of them`);
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw bad(String(v));
    return v;
  }
  if (Array.isArray(v)) return v.map((e) => plainJson(e, op));
  if (typeof v === 'object' && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null)) {
    const out: Record<string, unknown> = {};
    for (const [k, e] of Object.entries(v as object)) if (e !== undefined) out[k] = plainJson(e, op);
    return out;
  }
  throw bad(typeof v === 'object' ? (v as object).constructor?.name ?? 'an object' : typeof v);
}

let active: Recorder | null = null;

/** Wraps a public op so that a traced forward records it (one record per top-level call). */
export function traced<F extends (...args: any[]) => any>(name: string, fn: F): F {
  const wrapper = function (this: unknown, ...args: unknown[]) {
    const r = active;
    if (r === null || r.depth > 0) return fn.apply(this, args);
    r.depth++;
    let out: unknown;
    try {
      out = fn.apply(this, args);
    } finally {
      r.depth--;
    }
    r.recordOp(name, args, out);
    return out;
  };
  return wrapper as unknown as F;
}

/**
 * Runs model.forward(example) in eval mode without the tape and returns the
 * recorded graph. The model's training flags and forward methods are restored
 * afterwards, also when forward throws; tensors made by forward are freed.
 * Constants the graph captured are kept copies owned by the caller (see
 * disposeTrace).
 */
export function traceModel(model: Module, example: Tensor, op: string): Trace {
  if (active !== null) throw new Error(`${op}: cannot trace inside another trace (freeze or summary called from a forward)`);
  const modules = model.namedModules();
  const names = new Map<Module, string>(modules.map(([n, m]) => [m, n || '(model)']));
  const recorder = new Recorder(example, names);
  const training = modules.map(([, m]) => m.training);
  const patched: Module[] = [];
  for (const [, m] of modules) {
    if (Object.prototype.hasOwnProperty.call(m, 'forward')) continue;
    const forward = m.forward;
    const name = names.get(m)!;
    const declared = isDeclared(m);
    // A module may take several inputs (forward(a, b)): the extra ones are passed through untouched.
    (m as { forward: Module['forward'] }).forward = function (this: Module, x: Tensor, ...rest: unknown[]): Tensor {
      const r = active;
      if (r === null || r.depth > 0) return forward.call(this, x, ...rest);
      if (!declared) {
        // Transparent: its ops are recorded; what it returns must be one of them.
        r.owners.push(name);
        let out: Tensor;
        try {
          out = forward.call(this, x, ...rest);
        } finally {
          r.owners.pop();
        }
        if (out instanceof Tensor && !r.ids.has(out) && out.id >= r.firstId) {
          throw new Error(`${op}: layer ${name} (${m.constructor.name}) declares no frozen form (freezeStage/summaryMacs) and its forward computes its output with ops ${op} cannot trace`);
        }
        return out;
      }
      r.depth++;
      let out: Tensor;
      try {
        out = forward.call(this, x, ...rest);
      } finally {
        r.depth--;
      }
      r.recordModule(m as Module & DeclaredLayer, x, out);
      return out;
    };
    patched.push(m);
  }
  let output = -1;
  try {
    model.eval();
    active = recorder;
    noGrad(() =>
      tidy(() => {
        const y = model.forward(example);
        if (!(y instanceof Tensor)) throw new Error(`${op}: the model's forward must return one tensor, got ${typeof y}`);
        const id = recorder.ids.get(y);
        if (id === undefined) throw new Error(`${op}: the model's output is not computed from the example input by traceable ops`);
        if (id === 0) throw new Error(`${op}: the model returns its input unchanged; there is nothing to freeze`);
        output = id;
      }),
    );
  } catch (err) {
    disposeTrace({ nodes: recorder.nodes, inputShape: [], output: -1 });
    recorder.ids.clear();
    throw err;
  } finally {
    active = null;
    for (const m of patched) delete (m as { forward?: unknown }).forward;
    modules.forEach(([, m], i) => (m.training = training[i]));
  }
  return { nodes: recorder.nodes, inputShape: [...example.shape], output };
}

/** Frees the constants a trace captured. */
export function disposeTrace(trace: Trace): void {
  const free = (a: TracedArg): void => {
    if ('constant' in a) a.constant.dispose();
    else if ('list' in a) a.list.forEach(free);
  };
  for (const n of trace.nodes) n.args.forEach(free);
}
