import { describe } from '../tensor/checks.js';
import { checkTable, type FrequencyTable } from './tables.js';

/**
 * rANS (Duda's asymmetric numeral systems, range variant) with a 32-bit state
 * and byte-wise renormalization. Symbol i is coded with tables[tableOf[i]], so
 * every latent channel can have its own distribution. The encoder runs over
 * the symbols backwards so that the decoder reads them forwards.
 *
 * Stream layout: the 4-byte final state (big-endian), then the renormalization
 * bytes in decoding order. The cost is sum(-log2 freq/2^precision) bits plus at
 * most 32 bits for the state.
 */

const L = 2 ** 23; // lower bound of the normalized state interval [L, 256 L)

function checkInputs(op: string, tables: readonly FrequencyTable[], tableOf: ArrayLike<number>, count: number): void {
  if (!Array.isArray(tables) || tables.length === 0) throw new Error(`${op}: tables must be a non-empty array of FrequencyTable, got ${describe(tables)}`);
  tables.forEach((t, i) => checkTable(t, op, `tables[${i}]`));
  if (tableOf?.length !== count) throw new Error(`${op}: tableOf must have one table index per symbol (${count}), got ${describe(tableOf)}`);
  for (let i = 0; i < count; i++) {
    const k = tableOf[i];
    if (!Number.isInteger(k) || k < 0 || k >= tables.length) throw new Error(`${op}: tableOf[${i}] must be an index into tables (0..${tables.length - 1}), got ${describe(k)}`);
  }
}

/** Encodes symbols[i] (an index into tables[tableOf[i]]) into a byte stream. */
export function ransEncode(symbols: ArrayLike<number>, tableOf: ArrayLike<number>, tables: readonly FrequencyTable[]): Uint8Array {
  const op = 'ransEncode';
  const n = symbols?.length;
  if (typeof n !== 'number') throw new Error(`${op}: symbols must be an array of integers, got ${describe(symbols)}`);
  checkInputs(op, tables, tableOf, n);
  for (let i = 0; i < n; i++) {
    const s = symbols[i];
    const size = tables[tableOf[i]].freqs.length;
    if (!Number.isInteger(s) || s < 0 || s >= size) throw new Error(`${op}: symbols[${i}] must be an integer in [0, ${size - 1}] (the size of its table), got ${describe(s)}`);
  }
  // Bytes come out in reverse decoding order; grow a buffer and reverse at the end.
  let out = new Uint8Array(Math.max(64, n));
  let len = 0;
  const push = (b: number) => {
    if (len === out.length) {
      const bigger = new Uint8Array(out.length * 2);
      bigger.set(out);
      out = bigger;
    }
    out[len++] = b;
  };
  let x = L;
  for (let i = n - 1; i >= 0; i--) {
    const t = tables[tableOf[i]];
    const s = symbols[i];
    const freq = t.freqs[s];
    const xMax = (L / 2 ** t.precision) * 256 * freq;
    while (x >= xMax) {
      push(x & 0xff);
      x = Math.floor(x / 256);
    }
    x = Math.floor(x / freq) * 2 ** t.precision + (x % freq) + t.starts[s];
  }
  const stream = new Uint8Array(len + 4);
  stream[0] = (x >>> 24) & 0xff;
  stream[1] = (x >>> 16) & 0xff;
  stream[2] = (x >>> 8) & 0xff;
  stream[3] = x & 0xff;
  for (let i = 0; i < len; i++) stream[4 + i] = out[len - 1 - i];
  return stream;
}

/** Finds the symbol whose [start, start + freq) holds slot (binary search over the cumulative starts). */
function symbolAt(starts: Uint32Array, slot: number): number {
  let lo = 0;
  let hi = starts.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= slot) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Decodes `tableOf.length` symbols from a stream made by ransEncode with the
 * same tables. A stream that is truncated, has trailing bytes, or was made
 * with other tables throws instead of returning wrong symbols silently where
 * that can be detected (the final state must be the encoder's initial one).
 */
export function ransDecode(stream: Uint8Array, tableOf: ArrayLike<number>, tables: readonly FrequencyTable[]): Int32Array {
  const op = 'ransDecode';
  if (!(stream instanceof Uint8Array)) throw new Error(`${op}: stream must be a Uint8Array from ransEncode, got ${describe(stream)}`);
  const n = tableOf?.length;
  if (typeof n !== 'number') throw new Error(`${op}: tableOf must be an array of table indices, got ${describe(tableOf)}`);
  checkInputs(op, tables, tableOf, n);
  if (stream.length < 4) throw new Error(`${op}: stream has ${stream.length} bytes; a rANS stream has at least 4 (its state)`);
  let x = stream[0] * 2 ** 24 + (stream[1] << 16) + (stream[2] << 8) + stream[3];
  if (x < L || x >= L * 256) throw new Error(`${op}: stream does not start with a valid rANS state; it is corrupt or not from ransEncode`);
  let at = 4;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const t = tables[tableOf[i]];
    const m = 2 ** t.precision;
    const slot = x % m;
    const s = symbolAt(t.starts, slot);
    out[i] = s;
    x = t.freqs[s] * Math.floor(x / m) + slot - t.starts[s];
    while (x < L) {
      if (at >= stream.length) throw new Error(`${op}: stream ended after ${stream.length} bytes while decoding symbol ${i} of ${n}; it is truncated or was encoded with other tables`);
      x = x * 256 + stream[at++];
    }
  }
  if (at !== stream.length || x !== L) {
    throw new Error(`${op}: stream does not end where ${n} symbols end (${stream.length - at} bytes left); it holds a different number of symbols or was encoded with other tables`);
  }
  return out;
}
