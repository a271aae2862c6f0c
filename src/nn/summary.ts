import { exampleFor } from '../freeze/compile.js';
import { disposeTrace, traceModel, type Trace, type TracedArg, type TraceNode } from '../freeze/trace.js';
import { checkTensor, describe } from '../tensor/checks.js';
import { readOptions } from '../tensor/options.js';
import type { Tensor } from '../tensor/tensor.js';
import { Sequential } from './layers.js';
import { Module, infoOf } from './module.js';

export interface LayerSummary {
  name: string;
  type: string;
  /** Parameter counts by bit width once frozen (1, 8, 32, ...). */
  paramsByBits: Record<number, number>;
  /** Bytes as float32 (training) and as stored after freeze (packed bits / int8 / float32). */
  float32Bytes: number;
  packedBytes: number;
  /** Multiply-accumulates per sample by precision. */
  macs: { binary: number; binaryWeights: number; int8: number; float: number };
}

export interface ModelSummary {
  layers: LayerSummary[];
  totalParams: number;
  float32Bytes: number;
  packedBytes: number;
  compression: number;
  macs: LayerSummary['macs'];
  /** The table as text. */
  table: string;
}

/** MACs of a recorded op: the inner dimension times the output size for matmul; elementwise ops count none. */
function opMacs(node: TraceNode): number {
  const shapeOf = (a: TracedArg | undefined): readonly number[] | null => (a === undefined ? null : 'input' in a ? node.inputShapes[a.input] : 'constant' in a ? a.constant.shape : null);
  if (node.op === 'conv2d') {
    // each output element is a dot product over the window: kh·kw·Cin/groups (w is HWIO)
    const w = shapeOf(node.args[1]);
    return w === null || w.length !== 4 ? 0 : w[0] * w[1] * w[2] * node.shape.reduce((x, y) => x * y, 1);
  }
  if (node.op !== 'matmul') return 0;
  const a = shapeOf(node.args[0]);
  const options = node.args[2] !== undefined && 'json' in node.args[2] ? (node.args[2].json as { transposeA?: boolean } | null) : null;
  if (a === null || a.length < 2) return 0;
  const inner = options?.transposeA ? a[a.length - 2] : a[a.length - 1];
  return inner * node.shape.reduce((x, y) => x * y, 1);
}

export interface SummaryOptions {
  /**
   * An input batch to trace the forward on (see freeze). MACs are per sample
   * (divided by its batch size). Optional when the model's first layer fixes
   * its input width (a Sequential of library layers).
   */
  example?: Tensor;
}

/**
 * MACs per sample of every module, from one traced forward: declared layers
 * count themselves (summaryMacs, from the recorded shapes); the ops a custom
 * forward records count for the module whose forward called them.
 */
function tracedMacs(model: Module, example: Tensor | undefined): Map<string, LayerSummary['macs']> {
  // An empty Sequential is the identity: it computes nothing, whatever the input width.
  if (model instanceof Sequential && model.layers.length === 0) return new Map();
  const x = exampleFor(model, example, 'summary');
  let trace: Trace;
  try {
    trace = traceModel(model, x, 'summary');
  } finally {
    if (x !== example) x.dispose();
  }
  const batch = trace.inputShape[0];
  const out = new Map<string, LayerSummary['macs']>();
  const row = (name: string) => {
    let m = out.get(name);
    if (m === undefined) out.set(name, (m = { binary: 0, binaryWeights: 0, int8: 0, float: 0 }));
    return m;
  };
  try {
    for (const n of trace.nodes) {
      const m = row(n.name);
      if (n.kind === 'module') {
        const c = n.module!.summaryMacs(n.inputShapes[0], n.shape);
        m.binary += c.binary / batch;
        m.binaryWeights += c.binaryWeights / batch;
        m.int8 += c.int8 / batch;
        m.float += c.float / batch;
      } else m.float += opMacs(n) / batch;
    }
  } finally {
    disposeTrace(trace);
  }
  return out;
}

/**
 * Per-layer table of a model (Larq-style): parameters by bit width, memory as
 * float32 versus packed, MACs per sample by precision (from a traced forward
 * on options.example), totals and the compression ratio.
 */
export function summary(model: Module, options: SummaryOptions | null = {}): ModelSummary {
  if (!(model instanceof Module)) throw new Error(`summary: model must be an nn.Module, got ${describe(model)}`);
  const o = readOptions<SummaryOptions>(options, 'summary');
  if (o.example !== undefined) checkTensor(o.example, 'summary', 'options.example');
  const traced = tracedMacs(model, o.example);
  const layers: LayerSummary[] = [];
  for (const [name, m] of model.namedModules()) {
    const own = m.namedParameters().filter(([n]) => !n.includes('.'));
    const macs = traced.get(m === model ? '(model)' : name) ?? { binary: 0, binaryWeights: 0, int8: 0, float: 0 };
    const noMacs = Object.values(macs).every((v) => v === 0);
    if (own.length === 0 && noMacs && m !== model) {
      layers.push({ name, type: m.constructor.name, paramsByBits: {}, float32Bytes: 0, packedBytes: 0, macs });
      continue;
    }
    if (m === model && own.length === 0 && noMacs) continue;
    const paramsByBits: Record<number, number> = {};
    let packedBytes = 0;
    let float32Bytes = 0;
    for (const [, p] of own) {
      const bits = infoOf(p).bits;
      paramsByBits[bits] = (paramsByBits[bits] ?? 0) + p.size;
      float32Bytes += p.size * 4;
      // Packed rows (one per output: the first axis, the last of an HWIO conv weight) are padded to 128 bits;
      // sub-byte widths other than 1 are stored as int8.
      const outputs = p.rank === 4 ? p.shape[3] : p.shape[0];
      const declared = infoOf(p).frozenBytes;
      if (declared !== undefined) packedBytes += declared;
      else if (bits === 1) packedBytes += outputs * Math.ceil(p.size / outputs / 128) * 16;
      else if (bits <= 8) packedBytes += p.size;
      else packedBytes += p.size * 4;
    }
    for (const [bname, b] of m.namedBuffers().filter(([n]) => !n.includes('.'))) {
      // Running statistics and codebooks ship with the model; observer state does not.
      if (bname === 'inputRange' || bname === 'initialized' || bname === 'clusterSize' || bname === 'embedSum') continue;
      float32Bytes += b.size * 4;
      packedBytes += b.size * 4;
      paramsByBits[32] = (paramsByBits[32] ?? 0) + b.size;
    }
    layers.push({ name, type: m.constructor.name, paramsByBits, float32Bytes, packedBytes, macs });
  }
  const sum = (f: (l: LayerSummary) => number) => layers.reduce((s, l) => s + f(l), 0);
  const totalParams = sum((l) => Object.values(l.paramsByBits).reduce((a, b) => a + b, 0));
  const float32Bytes = sum((l) => l.float32Bytes);
  const packedBytes = sum((l) => l.packedBytes);
  const macs = {
    binary: sum((l) => l.macs.binary),
    binaryWeights: sum((l) => l.macs.binaryWeights),
    int8: sum((l) => l.macs.int8),
    float: sum((l) => l.macs.float),
  };
  return { layers, totalParams, float32Bytes, packedBytes, compression: packedBytes === 0 ? 1 : float32Bytes / packedBytes, macs, table: formatTable(layers, { totalParams, float32Bytes, packedBytes, macs }) };
}

function kb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(2)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

function count(n: number): string {
  return n === 0 ? '·' : n.toLocaleString('en-US');
}

function formatTable(layers: LayerSummary[], total: { totalParams: number; float32Bytes: number; packedBytes: number; macs: LayerSummary['macs'] }): string {
  const header = ['layer', 'type', '1-bit', '8-bit', '32-bit', 'float32', 'packed', 'binary MACs', 'bin-weight MACs', 'int8 MACs', 'float MACs'];
  const rows = layers.map((l) => {
    const by = (b: number) => count(Object.entries(l.paramsByBits).filter(([k]) => (b === 8 ? Number(k) > 1 && Number(k) <= 8 : Number(k) === b)).reduce((s, [, v]) => s + v, 0));
    return [l.name, l.type, by(1), by(8), by(32), kb(l.float32Bytes), kb(l.packedBytes), count(l.macs.binary), count(l.macs.binaryWeights), count(l.macs.int8), count(l.macs.float)];
  });
  const ratio = total.packedBytes === 0 ? 1 : total.float32Bytes / total.packedBytes;
  rows.push(['total', '', '', '', count(total.totalParams) + ' params', kb(total.float32Bytes), kb(total.packedBytes), count(total.macs.binary), count(total.macs.binaryWeights), count(total.macs.int8), count(total.macs.float)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), `compression ${ratio.toFixed(1)}x (float32 -> packed)`].join('\n');
}
