import { describe } from '../tensor/checks.js';
import { BatchNorm1d } from './batchnorm.js';
import { BinaryLinear, Linear, QuantLinear } from './linear.js';
import { Module, infoOf } from './module.js';
import { VectorQuantizer } from './vector-quantizer.js';

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

function layerMacs(m: Module): LayerSummary['macs'] {
  const macs = { binary: 0, binaryWeights: 0, int8: 0, float: 0 };
  if (m instanceof BinaryLinear) {
    const n = m.inFeatures * m.outFeatures;
    if (m.binarizeInputs) macs.binary = n;
    else macs.binaryWeights = n;
  } else if (m instanceof QuantLinear) {
    const n = m.inFeatures * m.outFeatures;
    if (m.activationBits !== null) macs.int8 = n;
    else macs.float = n;
  } else if (m instanceof Linear) {
    macs.float = m.inFeatures * m.outFeatures;
  } else if (m instanceof BatchNorm1d) {
    macs.float = m.numFeatures;
  } else if (m instanceof VectorQuantizer) {
    macs.float = m.numCodes * m.dim;
  }
  return macs;
}

/**
 * Per-layer table of a model (Larq-style): parameters by bit width, memory as
 * float32 versus packed, MACs per sample by precision, totals and the
 * compression ratio.
 */
export function summary(model: Module): ModelSummary {
  if (!(model instanceof Module)) throw new Error(`summary: model must be an nn.Module, got ${describe(model)}`);
  const layers: LayerSummary[] = [];
  for (const [name, m] of model.namedModules()) {
    const own = m.namedParameters().filter(([n]) => !n.includes('.'));
    const macs = layerMacs(m);
    if (own.length === 0 && Object.values(macs).every((v) => v === 0) && m !== model) {
      layers.push({ name, type: m.constructor.name, paramsByBits: {}, float32Bytes: 0, packedBytes: 0, macs });
      continue;
    }
    if (m === model && own.length === 0) continue;
    const paramsByBits: Record<number, number> = {};
    let packedBytes = 0;
    let float32Bytes = 0;
    for (const [, p] of own) {
      const bits = infoOf(p).bits;
      paramsByBits[bits] = (paramsByBits[bits] ?? 0) + p.size;
      float32Bytes += p.size * 4;
      // Packed rows are padded to 128 bits; sub-byte widths other than 1 are stored as int8.
      if (bits === 1) packedBytes += p.shape[0] * Math.ceil(p.size / p.shape[0] / 128) * 16;
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
