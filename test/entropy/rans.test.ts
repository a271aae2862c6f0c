import { describe, expect, it } from 'vitest';
import { frequencyTable, RansDecoder, RansEncoder, type FrequencyTable } from '../../src/entropy/index.js';

function ransEncode(symbols: number[], tableOf: number[], tables: FrequencyTable[]): Uint8Array {
  const e = new RansEncoder();
  symbols.forEach((s, i) => e.put(s, tables[tableOf[i]]));
  return e.finish();
}

function ransDecode(stream: Uint8Array, tableOf: number[], tables: FrequencyTable[]): number[] {
  const d = new RansDecoder(stream);
  const out = tableOf.map((k) => d.get(tables[k]));
  d.finish();
  return out;
}

/** A small deterministic generator (mulberry32) so cases are reproducible without the library's RNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sample(probs: number[], u: number): number {
  const total = probs.reduce((a, b) => a + b, 0);
  let acc = 0;
  for (let i = 0; i < probs.length; i++) {
    acc += probs[i] / total;
    if (u < acc) return i;
  }
  return probs.length - 1;
}

describe('frequencyTable', () => {
  it('sums to 2^precision, gives every symbol at least 1, and follows the probabilities', () => {
    const t = frequencyTable([0.5, 0.25, 0.125, 0.125, 0], 8);
    // 251 spare slots after the floor of 1 each: shares 125.5, 62.75, 31.375, 31.375, 0 -> floors
    // 125, 62, 31, 31, 0 and the 2 left over go to the largest remainders (0.75, then 0.5).
    expect([...t.freqs]).toEqual([127, 64, 32, 32, 1]);
    expect([...t.starts]).toEqual([0, 127, 191, 223, 255, 256]);
  });

  it('handles one symbol, the maximum alphabet and rejects bad input', () => {
    expect([...frequencyTable([3]).freqs]).toEqual([65536]);
    const flat = frequencyTable(new Array(65536).fill(1));
    expect(flat.freqs.every((f) => f === 1)).toBe(true);
    expect(() => frequencyTable(new Array(65537).fill(1))).toThrow(/frequencyTable: probabilities must be an array of 1 to 65536/);
    expect(() => frequencyTable([])).toThrow(/frequencyTable: probabilities must be/);
    expect(() => frequencyTable([1, -1])).toThrow(/probabilities\[1\] must be a finite number >= 0/);
    expect(() => frequencyTable([0, 0])).toThrow(/sum to 0/);
    expect(() => frequencyTable([1], 17)).toThrow(/precision must be an integer in \[1, 16\]/);
  });
});

describe('rANS', () => {
  it('round-trips symbols from several tables and costs -log2 p plus at most 32 bits', () => {
    const r = rng(7);
    const dists = [[0.9, 0.05, 0.05], [1, 1, 1, 1, 1, 1, 1, 1], [0.001, 0.998, 0.001], [5, 4, 3, 2, 1, 0.5, 0.25, 0.01, 0.0001]];
    const tables = dists.map((d) => frequencyTable(d));
    for (const n of [0, 1, 2, 3, 17, 1000, 20000]) {
      const tableOf = Array.from({ length: n }, () => Math.floor(r() * tables.length));
      const symbols = tableOf.map((k) => sample(dists[k], r()));
      const stream = ransEncode(symbols, tableOf, tables);
      expect([...ransDecode(stream, tableOf, tables)]).toEqual(symbols);
      const ideal = symbols.reduce((bits, s, i) => bits - Math.log2(tables[tableOf[i]].freqs[s] / 65536), 0);
      expect(stream.length * 8).toBeGreaterThanOrEqual(ideal);
      expect(stream.length * 8).toBeLessThanOrEqual(ideal + 32 + 8);
    }
  });

  it('codes symbols of probability 1/65536 and near 1 (renormalization at both extremes)', () => {
    const t = frequencyTable([1e9, 1]);
    expect([...t.freqs]).toEqual([65535, 1]);
    const symbols = Array.from({ length: 5000 }, (_, i) => (i % 97 === 0 ? 1 : 0));
    const tableOf = new Array(symbols.length).fill(0);
    expect([...ransDecode(ransEncode(symbols, tableOf, [t]), tableOf, [t])]).toEqual(symbols);
    const rare = new Array(300).fill(1);
    const rareOf = new Array(300).fill(0);
    const stream = ransEncode(rare, rareOf, [t]);
    expect(stream.length).toBeGreaterThanOrEqual(600); // 16 bits each
    expect([...ransDecode(stream, rareOf, [t])]).toEqual(rare);
  });

  it('detects truncated, extended and mismatched streams, and names bad arguments', () => {
    const t = frequencyTable([1, 2, 3, 4]);
    const symbols = Array.from({ length: 400 }, (_, i) => (i * 7) % 4);
    const tableOf = new Array(400).fill(0);
    const stream = ransEncode(symbols, tableOf, [t]);
    expect(() => ransDecode(stream.subarray(0, stream.length - 1), tableOf, [t])).toThrow(/RansDecoder.(get: stream ended|finish: stream does not end)/);
    expect(() => ransDecode(new Uint8Array([...stream, 0]), tableOf, [t])).toThrow(/RansDecoder.finish: stream does not end after these 400 symbols \(1 bytes left\)/);
    expect(() => ransDecode(stream, tableOf.slice(1), [t])).toThrow(/RansDecoder.finish: stream does not end/);
    expect(() => new RansDecoder(new Uint8Array([0, 0, 0, 0]))).toThrow(/RansDecoder: stream does not start with a valid rANS state/);
    expect(() => new RansDecoder(new Uint8Array(3))).toThrow(/RansDecoder: stream has 3 bytes/);
    expect(() => new RansEncoder().put(4, t)).toThrow(/RansEncoder.put: symbol must be an integer in \[0, 3\]/);
    expect(() => new RansEncoder().put(0, { precision: 16, freqs: new Uint32Array([5]), starts: new Uint32Array([0, 5]) })).toThrow(/RansEncoder.put: table is not a valid FrequencyTable/);
    const e = new RansEncoder();
    e.finish();
    expect(() => e.put(0, t)).toThrow(/finish\(\) was already called/);
  });
});
