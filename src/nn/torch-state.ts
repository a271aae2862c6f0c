// PyTorch state_dicts <-> snapgrad models: names and layouts.
//
// A snapgrad model built to mirror a torch module tree (Sequential indices,
// attribute names) has the same dotted names, except the batch-norm buffers:
//   runningMean <-> running_mean, runningVar <-> running_var;
//   num_batches_tracked is ignored on load and not written on save (PyTorch's
//   load_state_dict fills in 0 when a file has none).
// Layouts:
//   Linear (and BinaryLinear, QuantLinear) weight [out, in]: the same in both.
//   Every rank-4 weight is a conv weight (Conv2d, BinaryConv2d, QuantConv2d keep
//   their latent float weights in one layout): snapgrad HWIO [kh, kw, in/groups, out]
//   <-> PyTorch OIHW [out, in/groups, kh, kw].
//   Flatten order: PyTorch flattens NCHW activations as [C, H, W], snapgrad flattens
//   NHWC as [H, W, C]. The first dense layer after such a flatten has its input
//   columns permuted (and any per-feature layer in between, e.g. BatchNorm1d, its
//   vectors). The loader finds those layers by tracing the model once on zeros of
//   [1, ...inputShape] (the trace freeze() uses), following the flattened value
//   through element-wise steps to the dense layer that reads it.
import { traceModel, disposeTrace, type TraceNode } from '../freeze/trace.js';
import { checkShape, checkTensor } from '../tensor/checks.js';
import { zeros } from '../tensor/creation.js';
import { bytesPerElement } from '../tensor/dtypes.js';
import { empty, rawBytes, Tensor } from '../tensor/tensor.js';
import type { Module } from './module.js';

/** How the flatten before a dense layer is found (needed by models with convolutions). */
export interface TorchLayoutOptions {
  /**
   * One example's shape without the batch axis, NHWC for images (e.g. [28, 28, 1]):
   * the model is traced once on zeros of [1, ...inputShape] to find every
   * [batch, h, w, c] value that is flattened into a dense layer.
   */
  inputShape?: readonly number[];
  /** An example batch to trace on instead of inputShape (for models that take other dtypes, e.g. uint8 pixels). */
  example?: Tensor;
}

const BUFFER_NAMES: Record<string, string> = { runningMean: 'running_mean', runningVar: 'running_var' };
const NUM_BATCHES = 'num_batches_tracked';

/** Per-element ops that keep features where they are: a flattened value passes through them. */
const ELEMENTWISE_OPS = new Set([
  'add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow', 'neg', 'relu', 'exp', 'log', 'tanh', 'sigmoid', 'square',
  'sqrt', 'abs', 'clip', 'sign', 'round', 'floor', 'stopGradient', 'detach', 'softplus', 'logSigmoid', 'cast',
  'gt', 'ge', 'lt', 'le', 'eq', 'ne', 'where',
]);

/** [h, w, c] of a flattened NHWC value. */
type Geometry = readonly [number, number, number];

/** A state tensor's PyTorch counterpart: its name, and where each snapgrad element comes from. */
interface Mapping {
  name: string;
  torchName: string;
  own: Tensor;
  torchShape: number[];
  /** snapgrad element i is PyTorch element source[i]; null when the layouts agree. */
  source: Int32Array | null;
  /** What the layout is, for error messages. */
  layout: string;
}

function torchName(name: string): string {
  const dot = name.lastIndexOf('.');
  const last = name.slice(dot + 1);
  return Object.prototype.hasOwnProperty.call(BUFFER_NAMES, last) ? name.slice(0, dot + 1) + BUFFER_NAMES[last] : name;
}

/** For snapgrad feature j of a flattened [h, w, c] value, the PyTorch feature index in [c, h, w] order. */
function chwIndex(j: number, [h, w, c]: Geometry): number {
  const ch = j % c;
  const x = Math.floor(j / c) % w;
  const y = Math.floor(j / (c * w));
  return (ch * h + y) * w + x;
}

/** HWIO [kh, kw, i, o] element -> its index in OIHW [o, i, kh, kw]. */
function oihwSource([kh, kw, ci, co]: readonly number[]): Int32Array {
  const src = new Int32Array(kh * kw * ci * co);
  let k = 0;
  for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) src[k++] = ((o * ci + i) * kh + y) * kw + x;
  return src;
}

/** [rows, features] with the feature axis permuted from [c, h, w] order (rows = 1 for a vector). */
function columnSource(rows: number, g: Geometry): Int32Array {
  const f = g[0] * g[1] * g[2];
  const src = new Int32Array(rows * f);
  for (let j = 0; j < f; j++) {
    const from = chwIndex(j, g);
    for (let r = 0; r < rows; r++) src[r * f + j] = r * f + from;
  }
  return src;
}

/** Names for an error message: the first ten, and how many more. */
function list(names: string[]): string {
  return names.length > 10 ? `${names.slice(0, 10).join(', ')} and ${names.length - 10} more` : names.join(', ');
}

/** A parameter named weight (the dotted name's last part). */
function isWeight(name: string): boolean {
  return name === 'weight' || name.endsWith('.weight');
}

function same(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function readLayout(options: TorchLayoutOptions, op: string): Tensor | null {
  const { inputShape, example } = options;
  if (example !== undefined) {
    if (inputShape !== undefined) throw new Error(`${op}: pass inputShape or example, not both`);
    checkTensor(example, op, 'options.example');
    if (example.rank < 1 || example.shape[0] < 1) throw new Error(`${op}: options.example must be a batch [batch >= 1, ...], got shape [${example.shape}]`);
    return example;
  }
  if (inputShape === undefined) return null;
  const shape = checkShape(inputShape, op, 'options.inputShape');
  if (shape.length < 1 || shape.length > 7 || shape.some((d) => d < 1)) {
    throw new Error(`${op}: options.inputShape must be one example's shape without the batch axis, 1 to 7 positive sizes (e.g. [28, 28, 1] for NHWC images), got [${shape}]`);
  }
  return zeros([1, ...shape]);
}

/**
 * The state tensors whose features follow a flatten of an NHWC value, with that
 * value's [h, w, c] and whether the tensor is a dense weight (permute its
 * columns) or a per-feature vector (permute its elements).
 */
function flattenOrders(model: Module, example: Tensor, op: string): Map<string, { g: Geometry; rows: number }> {
  let trace;
  try {
    trace = traceModel(model, example, op);
  } catch (err) {
    throw new Error(`${op}: PyTorch layout needs one traced run of the model on an example of shape [${example.shape}] to find the flatten before its first dense layer, and that failed: ${(err as Error)?.message ?? err}`);
  }
  try {
    const out = new Map<string, { g: Geometry; rows: number }>();
    const flattened = new Map<number, Geometry>();
    const owned = (n: TraceNode): [string, Tensor][] => {
      const m = n.module!;
      const prefix = m === model ? '' : n.name;
      return [...m.namedParameters(prefix), ...m.namedBuffers(prefix)];
    };
    const assign = (name: string, g: Geometry, rows: number): void => {
      const prev = out.get(name);
      if (prev && !same(prev.g, g)) throw new Error(`${op}: "${name}" reads flattened values of two different shapes ([${prev.g}] and [${g}]); its PyTorch column order is ambiguous`);
      out.set(name, { g, rows });
    };
    for (const n of trace.nodes) {
      const geos = n.inputs.map((id) => flattened.get(id)).filter((g): g is Geometry => g !== undefined);
      const what = n.kind === 'module' ? `layer "${n.name}" (${n.module!.constructor.name})` : `the op ${n.op}${n.name ? ` in "${n.name}"` : ''}`;
      if (geos.length === 0) {
        const [inShape] = n.inputShapes;
        const reshapes = n.kind === 'op' ? n.op === 'reshape' : owned(n).length === 0;
        if (reshapes && n.inputs.length === 1 && inShape.length === 4 && n.shape.length === 2 && n.shape[0] === inShape[0] && n.shape[1] === inShape[1] * inShape[2] * inShape[3]) {
          const g: Geometry = [inShape[1], inShape[2], inShape[3]];
          // With one channel, or one pixel, both orders agree.
          if (g[2] > 1 && g[0] * g[1] > 1) flattened.set(n.id, g);
        }
        continue;
      }
      const g = geos[0];
      const features = g[0] * g[1] * g[2];
      if (geos.some((o) => !same(o, g))) throw new Error(`${op}: ${what} combines values flattened from different shapes; their PyTorch order is ambiguous`);
      if (n.kind === 'op') {
        const keeps = ELEMENTWISE_OPS.has(n.op!) || ((n.op === 'softmax' || n.op === 'logSoftmax') && n.shape.length === 2);
        // Scalars may join a flattened value; a tensor of features in the other order may not.
        const constantsOk = n.args.every((a) => !('constant' in a) || a.constant.size === 1);
        const k = n.inputs.findIndex((id) => flattened.has(id));
        if (!keeps || !constantsOk || geos.length !== n.inputs.length || !same(n.shape, n.inputShapes[k])) {
          throw new Error(`${op}: ${what} reads features flattened from NHWC [${g}] before any dense layer; the loader can only follow them through element-wise steps to a layer with a weight [out, ${features}]. Put the flatten right before the dense layer`);
        }
        flattened.set(n.id, g);
        continue;
      }
      const tensors = owned(n);
      const dense = tensors.find(([name, t]) => isWeight(name) && t.rank === 2 && t.shape[1] === features);
      if (dense && n.shape[n.shape.length - 1] === dense[1].shape[0]) {
        assign(dense[0], g, dense[1].shape[0]);
        continue;
      }
      const perFeature = same(n.shape, n.inputShapes[0]) && tensors.every(([, t]) => t.size === 1 || (t.rank === 1 && t.shape[0] === features));
      if (!perFeature) {
        throw new Error(`${op}: ${what} reads features flattened from NHWC [${g}] but is neither a dense layer (weight [out, ${features}]) nor per-feature; the loader cannot map PyTorch's [C, H, W] flatten order through it`);
      }
      for (const [name, t] of tensors) if (t.rank === 1) assign(name, g, 1);
      flattened.set(n.id, g);
    }
    return out;
  } finally {
    disposeTrace(trace);
  }
}

/** Every state tensor of the model with its PyTorch name, shape and element order. */
function mappings(model: Module, options: TorchLayoutOptions, op: string): Mapping[] {
  const own = Object.entries(model.stateDict());
  for (const [name, t] of own) {
    if (t.disposed) throw new Error(`${op}: the model's own tensor "${name}" was disposed (the model was disposed?); make a new model`);
  }
  const example = readLayout(options, op);
  const hasConv = own.some(([name, t]) => t.rank === 4 && isWeight(name));
  if (example === null && hasConv) {
    throw new Error(`${op}: this model has convolutions, so PyTorch layout needs options.inputShape (one example's NHWC shape without the batch axis, e.g. [28, 28, 1]) or options.example: the loader traces the model once to find the flatten before the first dense layer and reorder its columns from PyTorch's [C, H, W] order`);
  }
  let orders = new Map<string, { g: Geometry; rows: number }>();
  if (example !== null) {
    try {
      orders = flattenOrders(model, example, op);
    } finally {
      if (example !== options.example) example.dispose();
    }
  }
  return own.map(([name, t]) => {
    const order = orders.get(name);
    if (t.rank === 4 && isWeight(name)) {
      const [kh, kw, ci, co] = t.shape;
      return { name, torchName: torchName(name), own: t, torchShape: [co, ci, kh, kw], source: oihwSource(t.shape), layout: `a conv weight: PyTorch OIHW [${co}, ${ci}, ${kh}, ${kw}] for snapgrad's HWIO [${t.shape}]` };
    }
    if (order) {
      const layout = `${t.rank === 2 ? 'a dense weight' : 'a per-feature vector'} after a flatten of NHWC [${order.g}] (PyTorch columns in [C, H, W] order)`;
      return { name, torchName: torchName(name), own: t, torchShape: [...t.shape], source: columnSource(order.rows, order.g), layout };
    }
    return { name, torchName: torchName(name), own: t, torchShape: [...t.shape], source: null, layout: `[${t.shape}] in both` };
  });
}

/** A new tensor of `shape` whose element i is src's element from[i] (load), or whose element from[i] is src's element i (save); bits copied exactly. */
function reorder(src: Tensor, shape: number[], from: Int32Array | null, direction: 'load' | 'save'): Tensor {
  const out = empty(shape, src.dtype);
  const bytes = rawBytes(out);
  const data = rawBytes(src);
  if (from === null) {
    bytes.set(data);
    return out;
  }
  const width = bytesPerElement(src.dtype);
  // Whole elements as integers (NaN payloads survive), with the views made after the allocation.
  const words = (b: Uint8Array) => (width === 4 ? new Uint32Array(b.buffer, b.byteOffset, b.length / 4) : b);
  const s = words(data);
  const d = words(bytes);
  if (direction === 'load') for (let i = 0; i < from.length; i++) d[i] = s[from[i]];
  else for (let i = 0; i < from.length; i++) d[from[i]] = s[i];
  return out;
}

/**
 * A PyTorch state_dict (tensors by PyTorch name, as loadSafetensors returns
 * them) converted to the model's names and layouts: new tensors, owned by
 * the caller. Names, dtypes and shapes are checked first; nothing is
 * allocated for a state that fails.
 */
export function fromTorchState(model: Module, state: Record<string, Tensor>, options: TorchLayoutOptions & { strict: boolean }, op = 'loadStateDict'): Record<string, Tensor> {
  const maps = mappings(model, options, op);
  const byTorch = new Map(maps.map((m) => [m.torchName, m]));
  // num_batches_tracked belongs to a batch norm exactly where the model has running statistics.
  const isCounter = (k: string): boolean => (k === NUM_BATCHES || k.endsWith(`.${NUM_BATCHES}`)) && byTorch.has(`${k.slice(0, k.length - NUM_BATCHES.length)}running_mean`);
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(state, k);
  if (options.strict) {
    const missing = maps.filter((m) => !has(m.torchName)).map((m) => m.torchName + (m.torchName !== m.name ? ` (snapgrad "${m.name}")` : ''));
    const unexpected = Object.keys(state).filter((k) => !byTorch.has(k) && !isCounter(k));
    if (missing.length || unexpected.length) {
      // nn.DataParallel and DistributedDataParallel save every name under "module.".
      const wrapped = unexpected.length > 0 && unexpected.every((k) => k.startsWith('module.') && (byTorch.has(k.slice(7)) || isCounter(k.slice(7))));
      const fix = wrapped
        ? 'the names carry the "module." prefix of nn.DataParallel: drop it from every key (or save net.module.state_dict() in PyTorch)'
        : "build the snapgrad model with the torch module tree's structure (Sequential indices, attribute names), or pass { strict: false } to load a partial state";
      throw new Error(`${op}: the PyTorch state does not match the model: ${[missing.length ? `missing ${list(missing)}` : '', unexpected.length ? `unexpected ${list(unexpected)}` : ''].filter(Boolean).join('; ')}; ${fix}`);
    }
  }
  const present = maps.filter((m) => has(m.torchName));
  for (const m of present) {
    const src = checkTensor(state[m.torchName], op, `state["${m.torchName}"]`);
    if (src.dtype !== m.own.dtype) {
      throw new Error(`${op}: state["${m.torchName}"] is ${src.dtype}, expected ${m.own.dtype} for "${m.name}"${m.own.dtype === 'float32' ? "; convert it with .cast('float32')" : ''}`);
    }
    if (!same(src.shape, m.torchShape)) {
      let hint = '';
      if (src.rank === 4 && same(src.shape, m.own.shape) && !same(m.own.shape, m.torchShape)) {
        hint = `: that is snapgrad's own HWIO layout, not PyTorch's; a state saved by snapgrad loads without { from: 'torch' }`;
      } else if (src.rank === 4 && m.own.rank === 4) {
        hint = `: PyTorch's Conv2d weight is [out, in/groups, kh, kw]; check in/out channels, groups and kernel size`;
      } else if (src.rank === 2 && same([...src.shape].reverse(), m.torchShape)) {
        hint = `: it looks transposed; PyTorch's Linear weight is [out, in]`;
      }
      throw new Error(`${op}: state["${m.torchName}"] has shape [${src.shape}], expected [${m.torchShape}] (${m.layout}; snapgrad "${m.name}")${hint}`);
    }
  }
  const out: Record<string, Tensor> = {};
  try {
    for (const m of present) out[m.name] = reorder(state[m.torchName], [...m.own.shape], m.source, 'load');
  } catch (err) {
    for (const t of Object.values(out)) t.dispose();
    throw err;
  }
  return out;
}

/** The model's parameters and buffers in PyTorch names and layouts: new tensors, owned by the caller. */
export function toTorchState(model: Module, options: TorchLayoutOptions, op = 'stateDict'): Record<string, Tensor> {
  const maps = mappings(model, options, op);
  const out: Record<string, Tensor> = {};
  try {
    for (const m of maps) out[m.torchName] = reorder(m.own, m.torchShape, m.source, 'save');
  } catch (err) {
    for (const t of Object.values(out)) t.dispose();
    throw err;
  }
  return out;
}
