import { Module } from '../nn/module.js';
import { cast } from '../ops/shape.js';
import { checkTensor, describe } from '../tensor/checks.js';
import { zeros } from '../tensor/creation.js';
import { keep, tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../autograd/tape.js';
import { FrozenModel } from './model.js';
import { createStage, storedCopy, type OpArg } from './stages.js';
import { disposeTrace, traceModel, type Trace, type TracedArg, type TraceNode } from './trace.js';
import type { DeclaredLayer, FreezeContext, FrozenStage } from './types.js';

export interface FreezeOptions {
  /**
   * An input batch to trace the model's forward on ([batch, ...], float32 or
   * uint8 values). Needed for models whose input shape cannot be read from
   * their first layer (custom forwards, a leading Flatten); a Sequential that
   * starts with a dense layer or batch norm is traced on zeros of its input
   * width when it is omitted.
   */
  example?: Tensor;
  /**
   * The first layer's inputs are integers in [0, 255] (e.g. raw pixels): a
   * binary first layer then runs on the uint8 x 1-bit kernel (exact, and
   * predict rejects other values), and its batch norm folds into thresholds.
   * Implies integerInputMax = 255.
   */
  uint8Inputs?: boolean;
  /**
   * Largest |input| of the first layer when its inputs are integers (e.g. 255
   * for raw pixels). Needed to fold batch norm into thresholds after a binary
   * layer with float inputs; without it that layer keeps float batch norm.
   */
  integerInputMax?: number;
}

/** Stages whose output binarizes like their input: a sign before them folds as a binarize when their readers binarize. */
const SIGN_TRANSPARENT = new Set(['maxpool2d', 'flatten']);

/** ste.sign / ste.binarize calls (any surrogate options: they only change gradients) become the stages fusion knows. */
const SIGN_OPS: Record<string, string> = { 'ste.sign': 'sign', 'ste.binarize': 'binarize' };

function checkOptions(options: unknown, op: string): { example?: Tensor; uint8Inputs: boolean; integerInputMax: number | null } {
  if (options === null || typeof options !== 'object') throw new Error(`${op}: options must be an object, got ${describe(options)}`);
  const o = options as FreezeOptions;
  const uint8Inputs = o.uint8Inputs ?? false;
  if (typeof uint8Inputs !== 'boolean') throw new Error(`${op}: options.uint8Inputs must be true or false, got ${describe(uint8Inputs)}`);
  const max = o.integerInputMax;
  // Folding needs exact float32 sums, so the bound must be a finite integer.
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 2 ** 24)) {
    throw new Error(`${op}: options.integerInputMax must be an integer in [1, 2^24], got ${describe(max)}`);
  }
  if (o.example !== undefined) {
    checkTensor(o.example, op, 'options.example');
    if (o.example.dtype !== 'float32' && o.example.dtype !== 'uint8') throw new Error(`${op}: options.example must be float32 or uint8, got ${o.example.dtype}`);
    if (o.example.rank < 1 || o.example.shape[0] < 1) throw new Error(`${op}: options.example must be a batch [batch >= 1, ...], got shape [${o.example.shape}]`);
  }
  return { example: o.example, uint8Inputs, integerInputMax: uint8Inputs ? 255 : max ?? null };
}

/**
 * The example to trace on: the given one (uint8 as float32 values), or zeros
 * [1, width] when the first layer on the model's path declares its input width.
 */
export function exampleFor(model: Module, given: Tensor | undefined, op: string): Tensor {
  if (given !== undefined) return given.dtype === 'float32' ? given : keep(tidy(() => cast(given, 'float32')));
  const declared = (model as { inputWidth?: () => number | null }).inputWidth;
  const width = typeof declared === 'function' ? declared.call(model) : null;
  if (width === null) {
    throw new Error(`${op}: options.example is required for this model: its input shape cannot be read from its first layer (${model.constructor.name}); pass an input batch, e.g. { example: x.slice([0, 0], [1, features]) } (images: x.slice([0, 0, 0, 0], [1, h, w, channels]))`);
  }
  return keep(zeros([1, width]));
}

interface Node {
  stage: FrozenStage;
  inputs: number[];
}

/**
 * Compiles a trained model into a FrozenModel. The model's forward runs once
 * on the example (eval mode, no tape; see trace.ts); layers that declare a
 * frozen form become their stages, other recorded ops become float stages
 * replaying the op, and a fusion pass turns binary matmul -> batch norm ->
 * sign/binarize chains into integer-threshold stages over packed bits. The
 * trained model is not changed (its training flags are restored).
 */
export function freeze(model: Module, options: FreezeOptions = {}): FrozenModel {
  const op = 'freeze';
  if (!(model instanceof Module)) throw new Error(`${op}: model must be an nn.Module, got ${describe(model)}`);
  const opts = checkOptions(options, op);
  const example = exampleFor(model, opts.example, op);
  let trace: Trace;
  try {
    trace = traceModel(model, example, op);
  } finally {
    if (example !== opts.example) example.dispose();
  }
  const nodes: Node[] = [];
  try {
    const output = noGrad(() => lower(trace, nodes, opts));
    const compiled = fuseAndPrune(nodes, output, opts.integerInputMax);
    return new FrozenModel(compiled.map((n) => n.stage), compiled.map((n) => n.inputs));
  } catch (err) {
    for (const n of nodes) for (const t of Object.values(n.stage.tensors)) if (!t.disposed) t.dispose();
    throw err;
  } finally {
    disposeTrace(trace);
  }
}

/**
 * One stage per traced node (layers that are the identity in eval mode give
 * none). Compiled node k's output is value k + 1, as in FrozenModel. Returns
 * the compiled value of the model's output.
 */
function lower(trace: Trace, nodes: Node[], opts: { uint8Inputs: boolean }): number {
  const value = new Map<number, number>([[0, 0]]);
  const raw = new Set<number>([0]);
  for (const n of trace.nodes) {
    const inputs = n.inputs.map((v) => value.get(v)!);
    const stage = n.kind === 'module' ? moduleStage(n, raw.has(inputs[0]), opts.uint8Inputs) : opStage(n);
    if (stage === null) {
      value.set(n.id, inputs[0]);
      continue;
    }
    nodes.push({ stage, inputs });
    value.set(n.id, nodes.length);
    // A flatten of the raw input is still the raw input (uint8 pixels stay exact).
    if (stage.type === 'flatten' && raw.has(inputs[0])) raw.add(nodes.length);
  }
  const out = value.get(trace.output)!;
  if (out === 0) throw new Error('freeze: the model returns its input unchanged in eval mode; there is nothing to freeze');
  return out;
}

function moduleStage(n: TraceNode, rawInput: boolean, uint8Inputs: boolean): FrozenStage | null {
  const m = n.module! as Module & DeclaredLayer;
  const where = `freeze: layer ${n.name} (${m.constructor.name})`;
  if (typeof m.freezeStage !== 'function') throw new Error(`${where} has no frozen form (it declares no freezeStage)`);
  const ctx: FreezeContext = {
    copy: storedCopy,
    store: (t) => keep(t),
    stage: (type, tensors, config) => createStage(type, tensors, config, where),
    rawInput,
    uint8Inputs,
    inputShape: n.inputShapes[0],
  };
  return tidy(() => m.freezeStage!(ctx));
}

function opStage(n: TraceNode): FrozenStage {
  const where = `freeze: op ${n.op}`;
  const sign = SIGN_OPS[n.op!];
  if (sign !== undefined && n.inputs.length === 1 && n.inputShapes[0].length === 2 && 'input' in n.args[0] && n.args.slice(1).every((a) => 'json' in a || 'undefined' in a)) {
    return createStage(sign, {}, {}, where);
  }
  const tensors: Record<string, Tensor> = {};
  const constants: Record<string, { dtype: string; shape: number[] }> = {};
  const convert = (a: TracedArg): OpArg => {
    if ('constant' in a) {
      const name = `c${Object.keys(tensors).length}`;
      tensors[name] = storedCopy(a.constant);
      constants[name] = { dtype: a.constant.dtype, shape: [...a.constant.shape] };
      return { tensor: name };
    }
    if ('list' in a) return { list: a.list.map(convert) };
    return a as OpArg;
  };
  const args = n.args.map(convert);
  return createStage('op', tensors, { op: n.op, inputs: n.inputs.length, args, constants }, where);
}

/**
 * Peephole fusion over single-reader edges, then dead-stage removal, then
 * renumbering (value 0 = input, value k + 1 = output of compiled stage k).
 * A value read by two stages (e.g. a batch norm output that also feeds a
 * residual add) is never fused past.
 */
function fuseAndPrune(nodes: Node[], output: number, inputMax: number | null): Node[] {
  const alive = nodes.map(() => true);
  /** Where each value now comes from, after fusions (value ids of the unfused graph). */
  const alias = new Map<number, number>();
  const resolve = (v: number): number => alias.get(v) ?? v;
  const readers = (v: number): number[] => nodes.flatMap((n, k) => (alive[k] && n.inputs.includes(v) ? [k] : []));
  // Whether every reader of value v binarizes it, also through a max-pool or flatten (sign then max-pool then
  // binarize equals binarize then max-pool: both give +1 where some value of the window is >= 0).
  const binarizedBy = (v: number): boolean => {
    const rs = readers(v);
    return v !== output && rs.length > 0 && rs.every((r) => nodes[r].stage.binarizesInput === true || (SIGN_TRANSPARENT.has(nodes[r].stage.type) && binarizedBy(r + 1)));
  };
  const intMax: (number | null)[] = [inputMax];
  nodes.forEach((n) => intMax.push(n.stage.outputIntegerMax?.(n.inputs.map((v) => intMax[v])) ?? null));
  for (let k = 0; k < nodes.length; k++) {
    if (!alive[k]) continue;
    for (;;) {
      const node = nodes[k];
      const value = k + 1;
      const rs = readers(value);
      if (rs.length !== 1 || value === output) break;
      const next = nodes[rs[0]];
      if (next.inputs.length !== 1 || node.stage.fuse === undefined) break;
      const nextValue = rs[0] + 1;
      const nextReaders = readers(nextValue);
      const readersBinarize = binarizedBy(nextValue);
      const fused = node.stage.fuse(next.stage, { inputIntegerMax: intMax[node.inputs[0]], readersBinarize });
      if (fused === null) break;
      const kept = new Set(Object.values(fused.tensors));
      for (const t of [...Object.values(node.stage.tensors), ...Object.values(next.stage.tensors)]) if (!kept.has(t)) t.dispose();
      node.stage = fused;
      alive[rs[0]] = false;
      // Readers of next's output now read this node's.
      for (const r of nextReaders) nodes[r].inputs = nodes[r].inputs.map((v) => (v === nextValue ? value : v));
      alias.set(nextValue, value);
    }
  }
  // Keep what the output depends on.
  const out = resolve(output);
  const needed = new Set<number>();
  const visit = (v: number): void => {
    if (v === 0 || needed.has(v)) return;
    needed.add(v);
    nodes[v - 1].inputs.forEach(visit);
  };
  visit(out);
  const order = nodes.map((_, k) => k).filter((k) => alive[k] && needed.has(k + 1));
  for (let k = 0; k < nodes.length; k++) {
    if (alive[k] && !needed.has(k + 1)) for (const t of Object.values(nodes[k].stage.tensors)) t.dispose();
  }
  const renumber = new Map<number, number>([[0, 0]]);
  order.forEach((k, i) => renumber.set(k + 1, i + 1));
  return order.map((k) => ({ stage: nodes[k].stage, inputs: nodes[k].inputs.map((v) => renumber.get(v)!) }));
}
