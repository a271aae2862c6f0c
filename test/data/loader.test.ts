import { describe, expect, test } from 'vitest';
import type { Tensor } from '../../src/index.js';
import { disposeAfterEach, expectNoLeaks, seededArray, useSnapgrad } from '../support/setup.js';

const sg = useSnapgrad();
expectNoLeaks();
const own = disposeAfterEach();
const { DataLoader } = sg.data;

/** Rows 0..n-1 of width w where row r holds r*w .. r*w+w-1 (each row names itself). */
function rowsTensor(n: number, w: number): Tensor {
  return own(sg.tensor(Float32Array.from({ length: n * w }, (_, i) => i), [n, w]));
}

/** The first column of each batch row divided by the width: the sample indices a batch holds. */
function rowIds(x: Tensor, w: number): number[] {
  const d = x.dataSync();
  return Array.from({ length: x.shape[0] }, (_, i) => d[i * w] / w);
}

/** The sample ids of one epoch (read inside the loop: a batch is freed when the next is requested). */
function epochIds(loader: Iterable<Tensor>, w = 1): number[] {
  const ids: number[] = [];
  for (const b of loader) ids.push(...rowIds(b, w));
  return ids;
}

describe('DataLoader batches', () => {
  test('batch shapes, the short last batch, and dropLast (n = 10, batch 4; n = 7, batch 7; n = 0; n = 1)', () => {
    const x = rowsTensor(10, 3);
    const loader = new DataLoader(x, { batchSize: 4 });
    expect(loader.length).toBe(3);
    expect(loader.samples).toBe(10);
    const seen: number[][] = [];
    for (const b of loader) {
      expect(b.dtype).toBe('float32');
      expect(b.shape.slice(1)).toEqual([3]);
      seen.push(rowIds(b, 3));
    }
    expect(seen).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    const dropped = [...new DataLoader(x, { batchSize: 4, dropLast: true })].length;
    expect(dropped).toBe(2);
    expect(new DataLoader(x, { batchSize: 4, dropLast: true }).length).toBe(2);
    expect(new DataLoader(rowsTensor(7, 2), { batchSize: 7, dropLast: true }).length).toBe(1);
    expect(new DataLoader(rowsTensor(3, 2), { batchSize: 7, dropLast: true }).length).toBe(0);
    expect([...new DataLoader(rowsTensor(0, 2), { batchSize: 4 })].length).toBe(0);
    const one = new DataLoader(rowsTensor(1, 5), { batchSize: 4, shuffle: true, seed: 3 });
    const only = [...one];
    expect(only.length).toBe(1);
  });

  test('named sources stay aligned and keep their names; arrays give arrays', () => {
    const x = rowsTensor(9, 2);
    const labels = Int32Array.from({ length: 9 }, (_, i) => 100 + i);
    for (const b of new DataLoader({ x, y: labels }, { batchSize: 4, shuffle: true, seed: 11 })) {
      expect(Object.keys(b)).toEqual(['x', 'y']);
      expect(b.y.dtype).toBe('int32');
      expect([...b.y.dataSync()].map((v) => v - 100)).toEqual(rowIds(b.x, 2));
    }
    for (const [bx, by] of new DataLoader([x, labels], { batchSize: 5 })) {
      expect([...by.dataSync()].map((v) => v - 100)).toEqual(rowIds(bx, 2));
    }
  });

  test('typed-array sources: { data, shape } for samples with a shape, a bare array for one value per sample', () => {
    const images = Uint8Array.from({ length: 5 * 2 * 3 }, (_, i) => (i * 7) % 256);
    const weights = Float64Array.from({ length: 5 }, (_, i) => i + 0.25);
    const signs = Int8Array.from([-1, 1, -1, 1, 1]);
    const loader = new DataLoader({ img: { data: images, shape: [5, 2, 3] }, w: weights, s: signs }, { batchSize: 2, shuffle: true, seed: 5 });
    const order = loader.order(0);
    let at = 0;
    for (const b of loader) {
      expect(b.img.dtype).toBe('uint8');
      expect(b.img.shape.slice(1)).toEqual([2, 3]);
      expect(b.w.dtype).toBe('float32');
      expect(b.s.dtype).toBe('int8');
      const rows = Array.from(order.subarray(at, at + b.img.shape[0]));
      expect([...b.img.dataSync()]).toEqual(rows.flatMap((r) => [...images.subarray(r * 6, r * 6 + 6)]));
      expect([...b.w.dataSync()]).toEqual(rows.map((r) => weights[r]));
      expect([...b.s.dataSync()]).toEqual(rows.map((r) => signs[r]));
      at += b.img.shape[0];
    }
    expect(at).toBe(5);
  });

  test('dtypes convert each batch: uint8 -> float32 and int32 (MNIST labels for crossEntropy), float32 -> int32 truncates', () => {
    const pixels = own(sg.tensor(Uint8Array.from([0, 255, 17, 128, 3, 9]), [3, 2]));
    const labels = own(sg.tensor(Uint8Array.from([7, 0, 9])));
    const floats = own(sg.tensor([1.9, -2.7, 3.2]));
    const loader = new DataLoader({ x: pixels, y: labels, f: floats }, { batchSize: 3, dtypes: { x: 'float32', y: 'int32', f: 'int32' } });
    for (const b of loader) {
      expect(b.x.dtype).toBe('float32');
      expect(b.x.toArray()).toEqual([[0, 255], [17, 128], [3, 9]]);
      expect(b.y.dtype).toBe('int32');
      expect(b.y.toArray()).toEqual([7, 0, 9]);
      expect(b.f.toArray()).toEqual([1, -2, 3]);
      // The converted labels go straight into crossEntropy.
      const loss = sg.tidy(() => sg.crossEntropy(sg.zeros([3, 10]), b.y).item());
      expect(loss).toBeCloseTo(Math.log(10), 5);
    }
    const single = new DataLoader(labels, { dtypes: 'float32' });
    for (const b of single) expect(b.toArray()).toEqual([7, 0, 9]);
  });

  test('transform runs per batch; its intermediates are freed', () => {
    const x = own(sg.tensor(Uint8Array.from([0, 51, 102, 255]), [4, 1]));
    const before = sg.memoryStats().tensorsAlive;
    const values: number[] = [];
    const loader = new DataLoader({ x }, { batchSize: 2, dtypes: { x: 'float32' }, transform: ({ x: b }) => ({ x: sg.mul(sg.add(b, 0), 1 / 255) }) });
    for (const b of loader) {
      expect(sg.memoryStats().tensorsAlive).toBe(before + 1);
      values.push(...b.x.dataSync());
    }
    expect(values.map((v) => Math.round(v * 255))).toEqual([0, 51, 102, 255]);
  });

  test('tensors a transform passes through (a source, a tensor of the caller) are not freed with the batch', () => {
    const x = rowsTensor(4, 2);
    const scale = own(sg.tensor([2]));
    const loader = new DataLoader({ x }, { batchSize: 2, transform: (b) => ({ x: sg.mul(b.x, scale), scale, source: x }) });
    for (const b of loader) expect(b.scale).toBe(scale);
    expect(scale.disposed).toBe(false);
    expect(x.disposed).toBe(false);
  });

  test('batchOf(rows) picks given samples', () => {
    const x = rowsTensor(6, 2);
    const loader = new DataLoader(x);
    const b = own(loader.batchOf([5, 0, 5]));
    expect(rowIds(b, 2)).toEqual([5, 0, 5]);
    expect(() => loader.batchOf([6])).toThrow(/DataLoader: rows\[0\] = 6 is not a sample index in \[0, 6\)/);
    expect(() => loader.batchOf([1.5])).toThrow(/DataLoader: rows\[0\] = 1.5/);
  });
});

describe('DataLoader shuffling', () => {
  test('a seed gives the same orders in a new loader; epochs differ; every sample once per epoch', () => {
    const x = rowsTensor(50, 1);
    const epochsOf = (seed: number) => {
      const loader = new DataLoader(x, { batchSize: 8, shuffle: true, seed });
      return [0, 1, 2].map(() => epochIds(loader));
    };
    const a = epochsOf(42);
    const b = epochsOf(42);
    expect(a).toEqual(b);
    for (const order of a) expect([...order].sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(a[0]).not.toEqual(a[1]);
    expect(a[1]).not.toEqual(a[2]);
    expect(epochsOf(43)[0]).not.toEqual(a[0]);
    // order(e) is what epoch e iterates; setting epoch resumes a run.
    const loader = new DataLoader(x, { batchSize: 8, shuffle: true, seed: 42 });
    expect(Array.from(loader.order(2))).toEqual(a[2]);
    loader.epoch = 2;
    expect(epochIds(loader)).toEqual(a[2]);
    expect(loader.epoch).toBe(3);
  });

  test('the documented algorithm: Fisher-Yates with xorshift32 keyed by 7919 seed + epoch + 1 (a reimplementation from the doc)', () => {
    const reference = (n: number, key: number): number[] => {
      const order = Array.from({ length: n }, (_, i) => i);
      let s = Number((BigInt(key) * 2654435761n) % 2n ** 32n) || 1;
      for (let i = n - 1; i > 0; i--) {
        s = Number((BigInt(s) ^ (BigInt(s) << 13n)) % 2n ** 32n);
        s = s ^ Math.floor(s / 2 ** 17);
        s = Number((BigInt(s >>> 0) ^ (BigInt(s >>> 0) << 5n)) % 2n ** 32n);
        const j = s % (i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      return order;
    };
    for (const [n, seed, epoch] of [[2, 0, 0], [13, 1, 0], [97, 1, 4], [1000, 12345, 2], [31, 2 ** 32 - 1, 7]]) {
      const loader = new DataLoader(new Int32Array(n), { shuffle: true, seed });
      expect(Array.from(loader.order(epoch))).toEqual(reference(n, (7919 * seed + epoch + 1) % 2 ** 32));
    }
  });

  test('without a seed the orders come from the default generator: reproducible after sg.seed(n)', () => {
    const x = rowsTensor(20, 1);
    const run = () => {
      sg.seed(9);
      const loader = new DataLoader(x, { batchSize: 20, shuffle: true });
      return [epochIds(loader), epochIds(loader)];
    };
    const [e0, e1] = run();
    expect(run()).toEqual([e0, e1]);
    expect(e0).not.toEqual(e1);
  });

  test('the shuffle is uniform: each of 4 samples lands first about 1/4 of the time, each of the 24 orders appears', () => {
    const loader = new DataLoader(new Int32Array([0, 1, 2, 3]), { shuffle: true, seed: 7 });
    const first = [0, 0, 0, 0];
    const perms = new Map<string, number>();
    const E = 2400;
    for (let e = 0; e < E; e++) {
      const o = loader.order(e);
      first[o[0]]++;
      perms.set(o.join(), (perms.get(o.join()) ?? 0) + 1);
    }
    // Binomial(2400, 1/4): sd 21.2; 5 sd either side.
    for (const c of first) expect(Math.abs(c - E / 4)).toBeLessThan(106);
    expect(perms.size).toBe(24);
    for (const c of perms.values()) expect(Math.abs(c - E / 24)).toBeLessThan(5 * Math.sqrt((E * (1 / 24) * (23 / 24))));
  });
});

describe('DataLoader memory', () => {
  test('a loop without tidy keeps memoryStats flat; each batch is freed when the next is requested', () => {
    const x = own(sg.tensor(seededArray(64 * 16, 1), [64, 16]));
    const y = own(sg.tensor(Uint8Array.from({ length: 64 }, (_, i) => i % 10)));
    const loader = new DataLoader({ x, y }, { batchSize: 10, shuffle: true, seed: 1, dtypes: { y: 'int32' } });
    const before = sg.memoryStats();
    let previous: Tensor | null = null;
    for (let epoch = 0; epoch < 3; epoch++) {
      for (const b of loader) {
        if (previous !== null) expect(previous.disposed).toBe(true);
        previous = b.x;
        expect(sg.memoryStats().tensorsAlive).toBe(before.tensorsAlive + 2);
        sg.tidy(() => sg.sum(sg.mul(b.x, 2)).item());
      }
      expect(sg.memoryStats().bytesInUse).toBe(before.bytesInUse);
      expect(sg.memoryStats().tensorsAlive).toBe(before.tensorsAlive);
    }
  });

  test('break (iterator return) frees the current batch; an outer tidy frees nothing twice; a kept batch is the caller\'s', () => {
    const x = rowsTensor(30, 4);
    const loader = new DataLoader(x, { batchSize: 4 });
    const before = sg.memoryStats();
    for (const b of loader) {
      if (b.shape[0] > 0) break;
    }
    expect(sg.memoryStats()).toEqual(before);
    // Spreading runs the loop to its end: every batch it holds is already freed.
    expect([...loader].every((b) => b.disposed)).toBe(true);
    sg.tidy(() => {
      for (const b of loader) sg.sum(b);
    });
    expect(sg.memoryStats().tensorsAlive).toBe(before.tensorsAlive);
    let kept: Tensor | null = null;
    for (const b of loader) if (kept === null) kept = sg.keep(b);
    expect(kept!.disposed).toBe(false);
    expect(rowIds(kept!, 4)).toEqual([0, 1, 2, 3]);
    kept!.dispose();
    expect(sg.memoryStats().bytesInUse).toBe(before.bytesInUse);
  });
});

describe('DataLoader errors name DataLoader and the option', () => {
  test('bad options and sources', () => {
    const x = rowsTensor(4, 2);
    const cases: [() => unknown, RegExp][] = [
      [() => new DataLoader(x, { batchSize: 0 }), /DataLoader: batchSize must be >= 1, got 0/],
      [() => new DataLoader(x, { batchSize: 2.5 }), /DataLoader: batchSize must be an integer, got 2.5/],
      [() => new DataLoader(x, { shuffle: 'yes' as any }), /DataLoader: shuffle must be true or false, got "yes"/],
      [() => new DataLoader(x, { dropLast: 1 as any }), /DataLoader: dropLast must be true or false/],
      [() => new DataLoader(x, { shuffle: true, seed: -1 }), /DataLoader: seed must be >= 0, got -1/],
      [() => new DataLoader(x, { seed: 3 }), /DataLoader: seed is only used with shuffle: true/],
      [() => new DataLoader(x, { batchsize: 4 } as any), /DataLoader: unknown option "batchsize" \(known: batchSize/],
      [() => new DataLoader(x, { transform: 3 as any }), /DataLoader: transform must be a function/],
      [() => new DataLoader(x, { dtypes: 'float64' as any }), /DataLoader: dtypes must be one of float32, int32, int8, uint8, got "float64"/],
      [() => new DataLoader({ x }, { dtypes: { y: 'int32' } as any }), /DataLoader: dtypes.y names no source \(sources: x\)/],
      [() => new DataLoader({ x }, { dtypes: { x: 'uint8' } }), /DataLoader: cannot convert sources.x from float32 to uint8/],
      [() => new DataLoader({ x, y: new Int32Array(3) }), /DataLoader: sources.y has 3 samples but sources.x has 4/],
      [() => new DataLoader(null as any), /DataLoader: sources must be a tensor, a typed array/],
      [() => new DataLoader([] as any), /DataLoader: sources must hold at least one source/],
      [() => new DataLoader({ x: [1, 2, 3] } as any), /DataLoader: sources.x must be a tensor, a typed array or \{ data, shape \}, got \[1, 2, 3\]/],
      [() => new DataLoader({ x: { data: new Float32Array(5), shape: [2, 2] } }), /DataLoader: sources.x.shape \[2,2\] needs 4 values, but sources.x.data has 5/],
      [() => new DataLoader(own(sg.tensor(3))), /DataLoader: sources must have a sample axis/],
      [() => new DataLoader(x, 5 as any), /DataLoader: options must be an object \(or omitted\), got 5/],
    ];
    for (const [fn, re] of cases) expect(fn).toThrow(re);
    // The package's options rule: null means the default, for the bag and for each field.
    const defaults = new DataLoader(x, { batchSize: null, shuffle: null, seed: null, dtypes: null } as any);
    expect([defaults.batchSize, defaults.shuffle, defaults.dropLast]).toEqual([32, false, false]);
    expect(new DataLoader(x, null as any).length).toBe(1);
    const gone = sg.tensor([1, 2, 3]);
    gone.dispose();
    expect(() => new DataLoader(gone)).toThrow(/DataLoader: sources \(tensor #\d+\) was disposed/);
    const later = sg.tensor([1, 2, 3]);
    const loader = new DataLoader({ later });
    later.dispose();
    expect(() => [...loader]).toThrow(/DataLoader: sources.later \(tensor #\d+\) was disposed while the loader still uses it/);
  });
});
