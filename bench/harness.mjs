// Timing helpers shared by every benchmark: warm up, then the median of
// repeated timed calls. Benchmarks print tables; tests never assert timings.
import { performance } from 'node:perf_hooks';

/**
 * Times fn (sync or async). Repeats until `minTimeMs` has passed and at least
 * `minRepeats` samples exist; returns the median and spread in milliseconds.
 */
export async function measure(fn, { warmup = 3, minRepeats = 7, maxRepeats = 200, minTimeMs = 400 } = {}) {
  for (let i = 0; i < warmup; i++) await fn();
  const samples = [];
  const start = performance.now();
  while (samples.length < maxRepeats && (samples.length < minRepeats || performance.now() - start < minTimeMs)) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return {
    medianMs: samples[samples.length >> 1],
    minMs: samples[0],
    maxMs: samples[samples.length - 1],
    repeats: samples.length,
  };
}

/** Giga-operations per second from an operation count and milliseconds. */
export function gops(ops, ms) {
  return ops / (ms * 1e6);
}

export function formatTable(rows, columns) {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c] ?? '').length)));
  const line = (cells) => '| ' + cells.map((s, i) => String(s).padEnd(widths[i])).join(' | ') + ' |';
  return [line(columns), '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|', ...rows.map((r) => line(columns.map((c) => r[c] ?? '')))].join('\n');
}

/** Deterministic pseudo-random floats in [-1, 1) for peer inputs (no Math.random). */
export function seededFloats(n, seed = 1) {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}

/** The median of a list of numbers (the upper one of an even count). */
export const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

/** The index of the largest value of each row of a row-major [rows, cols] array (the predicted class). */
export function argmaxRows(values, rows, cols) {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (values[r * cols + c] > values[r * cols + best]) best = c;
    out[r] = best;
  }
  return out;
}

/** The fraction of positions where two predictions agree. */
export const agreement = (a, b) => a.reduce((n, v, i) => n + (v === b[i] ? 1 : 0), 0) / a.length;
