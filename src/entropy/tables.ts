import { describe } from '../tensor/checks.js';

/**
 * A frequency table for the range coder: integer frequencies that sum to
 * 2^precision, every symbol at least 1 (so every symbol stays codable), and
 * their cumulative starts.
 */
export interface FrequencyTable {
  readonly precision: number;
  readonly freqs: Uint32Array;
  /** starts[s] = freqs[0] + ... + freqs[s - 1]; starts[n] = 2^precision. */
  readonly starts: Uint32Array;
}

/** Largest precision: with a 32-bit state and byte renormalization the state needs 8 bits of headroom above it. */
export const MAX_PRECISION = 16;

/**
 * Quantizes probabilities (any non-negative weights; normalized here) to a
 * FrequencyTable. Each symbol gets at least 1; the remaining mass goes by
 * largest remainder, so the table is as close to the probabilities as integers
 * allow and the cost of coding with it is within a small fraction of a bit of
 * -log2 p per symbol.
 */
export function frequencyTable(probabilities: ArrayLike<number>, precision = MAX_PRECISION): FrequencyTable {
  const op = 'frequencyTable';
  if (!Number.isInteger(precision) || precision < 1 || precision > MAX_PRECISION) {
    throw new Error(`${op}: precision must be an integer in [1, ${MAX_PRECISION}] bits, got ${describe(precision)}`);
  }
  const n = probabilities?.length;
  const total = 2 ** precision;
  if (typeof n !== 'number' || n < 1 || n > total) {
    throw new Error(`${op}: probabilities must be an array of 1 to ${total} numbers (2^precision), got ${describe(probabilities)}`);
  }
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = probabilities[i];
    if (typeof p !== 'number' || !Number.isFinite(p) || p < 0) throw new Error(`${op}: probabilities[${i}] must be a finite number >= 0, got ${describe(p)}`);
    sum += p;
  }
  if (!(sum > 0)) throw new Error(`${op}: probabilities sum to 0; at least one must be positive`);
  const spare = total - n;
  const freqs = new Uint32Array(n);
  const remainders: [number, number][] = [];
  let used = 0;
  for (let i = 0; i < n; i++) {
    const share = (probabilities[i] / sum) * spare;
    const whole = Math.floor(share);
    freqs[i] = 1 + whole;
    used += whole;
    remainders.push([share - whole, i]);
  }
  remainders.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; used < spare; k++, used++) freqs[remainders[k % n][1]]++;
  const starts = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) starts[i + 1] = starts[i] + freqs[i];
  return { precision, freqs, starts };
}

/** Checks a table built elsewhere (e.g. deserialized) before the coder trusts it. */
export function checkTable(t: FrequencyTable, op: string, arg: string): void {
  if (t === null || typeof t !== 'object' || !(t.freqs instanceof Uint32Array) || !(t.starts instanceof Uint32Array)) {
    throw new Error(`${op}: ${arg} must be a FrequencyTable from frequencyTable(), got ${describe(t)}`);
  }
  const n = t.freqs.length;
  if (!Number.isInteger(t.precision) || t.precision < 1 || t.precision > MAX_PRECISION || n < 1 || t.starts.length !== n + 1 || t.starts[0] !== 0 || t.starts[n] !== 2 ** t.precision) {
    throw new Error(`${op}: ${arg} is not a valid FrequencyTable (its frequencies must sum to 2^precision); build it with frequencyTable()`);
  }
  for (let i = 0; i < n; i++) {
    if (t.freqs[i] < 1 || t.starts[i + 1] !== t.starts[i] + t.freqs[i]) throw new Error(`${op}: ${arg} is not a valid FrequencyTable (symbol ${i}); build it with frequencyTable()`);
  }
}
