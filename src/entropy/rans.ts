import { describe } from '../tensor/checks.js';
import { checkTable, type FrequencyTable } from './tables.js';

/**
 * rANS (Duda's asymmetric numeral systems, range variant) with a 32-bit state
 * and byte-wise renormalization. Every symbol names its own FrequencyTable,
 * so each latent channel can have its own distribution, and the decoder may
 * choose the next table from what it decoded so far (escape codes).
 *
 * rANS is last-in first-out: RansEncoder keeps the symbols and codes them
 * backwards in finish(), so RansDecoder reads them in the order they were put.
 * Stream layout: the 4-byte final state (big-endian), then the renormalization
 * bytes in decoding order. It costs sum(-log2 freq / 2^precision) bits plus at
 * most 32 bits for the state.
 */

const L = 2 ** 23; // lower bound of the normalized state interval [L, 256 L)

function checkSymbol(op: string, symbol: number, table: FrequencyTable): void {
  checkTable(table, op, 'table');
  const size = table.freqs.length;
  if (!Number.isInteger(symbol) || symbol < 0 || symbol >= size) throw new Error(`${op}: symbol must be an integer in [0, ${size - 1}] (the size of its table), got ${describe(symbol)}`);
}

export class RansEncoder {
  private readonly symbols: number[] = [];
  private readonly tables: FrequencyTable[] = [];
  private done = false;

  /** Queues one symbol, coded with `table`. */
  put(symbol: number, table: FrequencyTable): void {
    if (this.done) throw new Error('RansEncoder.put: finish() was already called; start a new RansEncoder');
    checkSymbol('RansEncoder.put', symbol, table);
    this.symbols.push(symbol);
    this.tables.push(table);
  }

  /** Codes every queued symbol and returns the stream. */
  finish(): Uint8Array {
    if (this.done) throw new Error('RansEncoder.finish: finish() was already called; start a new RansEncoder');
    this.done = true;
    // Bytes come out in reverse decoding order; grow a buffer and reverse at the end.
    let out = new Uint8Array(Math.max(64, this.symbols.length));
    let len = 0;
    let x = L;
    for (let i = this.symbols.length - 1; i >= 0; i--) {
      const t = this.tables[i];
      const s = this.symbols[i];
      const freq = t.freqs[s];
      const xMax = (L / 2 ** t.precision) * 256 * freq;
      while (x >= xMax) {
        if (len === out.length) {
          const bigger = new Uint8Array(out.length * 2);
          bigger.set(out);
          out = bigger;
        }
        out[len++] = x & 0xff;
        x = Math.floor(x / 256);
      }
      x = Math.floor(x / freq) * 2 ** t.precision + (x % freq) + t.starts[s];
    }
    const stream = new Uint8Array(len + 4);
    new DataView(stream.buffer).setUint32(0, x);
    for (let i = 0; i < len; i++) stream[4 + i] = out[len - 1 - i];
    return stream;
  }
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

export class RansDecoder {
  private x: number;
  private at = 4;
  private count = 0;

  constructor(private readonly stream: Uint8Array) {
    const op = 'RansDecoder';
    if (!(stream instanceof Uint8Array)) throw new Error(`${op}: stream must be a Uint8Array from RansEncoder.finish(), got ${describe(stream)}`);
    if (stream.length < 4) throw new Error(`${op}: stream has ${stream.length} bytes; a rANS stream has at least 4 (its state)`);
    this.x = new DataView(stream.buffer, stream.byteOffset, stream.byteLength).getUint32(0);
    if (this.x < L || this.x >= L * 256) throw new Error(`${op}: stream does not start with a valid rANS state; it is corrupt or not from RansEncoder`);
  }

  /** Decodes the next symbol, which must have been put with the same table. */
  get(table: FrequencyTable): number {
    const op = 'RansDecoder.get';
    checkTable(table, op, 'table');
    const m = 2 ** table.precision;
    const slot = this.x % m;
    const s = symbolAt(table.starts, slot);
    this.x = table.freqs[s] * Math.floor(this.x / m) + slot - table.starts[s];
    while (this.x < L) {
      if (this.at >= this.stream.length) {
        throw new Error(`${op}: stream ended after ${this.stream.length} bytes while decoding symbol ${this.count}; it is truncated or was encoded with other tables`);
      }
      this.x = this.x * 256 + this.stream[this.at++];
    }
    this.count++;
    return s;
  }

  /**
   * Checks that the stream ends exactly here: every byte read and the state
   * back at the encoder's start. Catches streams with more or fewer symbols,
   * or coded with other tables, where the symbols alone could not.
   */
  finish(): void {
    if (this.at !== this.stream.length || this.x !== L) {
      throw new Error(`RansDecoder.finish: stream does not end after these ${this.count} symbols (${this.stream.length - this.at} bytes left); it holds a different number of symbols or was encoded with other tables`);
    }
  }
}
