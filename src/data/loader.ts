import { noGrad } from '../autograd/tape.js';
import { cast, gather } from '../ops/shape.js';
import { checkNumber, describe } from '../tensor/checks.js';
import { randint, tensor } from '../tensor/creation.js';
import { isDType, type DType } from '../tensor/dtypes.js';
import { boolOption, readOptions } from '../tensor/options.js';
import { tidy } from '../tensor/scope.js';
import { sizeOf, Tensor } from '../tensor/tensor.js';

/** Typed arrays a DataLoader reads directly (Float64Array values are rounded to float32). */
export type SourceArray = Float32Array | Float64Array | Int32Array | Int8Array | Uint8Array | Uint8ClampedArray;

/**
 * One aligned source of samples: a tensor whose axis 0 is the sample axis, a
 * typed array of one value per sample, or `{ data, shape }` with shape
 * [samples, ...sampleShape].
 */
export type Source = Tensor | SourceArray | { data: SourceArray; shape: number[] };

/** One source, an array of sources, or named sources; batches have the same structure. */
export type Sources = Source | readonly Source[] | { readonly [name: string]: Source };

/** The batch a DataLoader over `S` yields before any transform: tensors in the structure of the sources. */
export type BatchOf<S> = S extends Source ? Tensor : { -readonly [K in keyof S]: Tensor };

/** Target dtypes, in the structure of the sources (a dtype for a single source). */
export type DTypesFor<S> = S extends Source ? DType : { readonly [K in keyof S]?: DType };

export interface DataLoaderOptions<S, B> {
  /** Samples per batch (default 32). */
  batchSize?: number;
  /** Visit the samples in a new random order every epoch (default false: in order). */
  shuffle?: boolean;
  /**
   * Seed of the shuffle, an integer in [0, 2^32 - 1]: epoch e's order depends on (seed, e) only,
   * the same in every runtime (see order()). Without it, each epoch's order is keyed by one draw
   * of the default generator (reproducible after `sg.seed(n)`).
   */
  seed?: number;
  /** Skip the last batch when it has fewer than batchSize samples (default false). */
  dropLast?: boolean;
  /** Convert each batch to these dtypes, e.g. `{ x: 'float32', y: 'int32' }` (sources keep their own dtype where unset). */
  dtypes?: DTypesFor<S>;
  /**
   * Runs on each batch after the dtype conversion, inside the loader's tidy (its intermediates are
   * freed); what it returns is the batch. E.g. `({ x, y }) => ({ x: sg.mul(x, 1 / 255), y })`.
   */
  transform?: (batch: BatchOf<S>) => B;
}

interface Column {
  name: string;
  source: Tensor | { data: SourceArray; shape: number[] };
  native: DType;
  target: DType;
}

const OPTION_NAMES = ['batchSize', 'shuffle', 'seed', 'dropLast', 'dtypes', 'transform'];

/**
 * Batches over aligned sources (e.g. images and labels), with seeded
 * shuffling, drop-last and per-batch dtype conversion.
 *
 * Memory: a batch's tensors belong to the loader and are freed when the next
 * batch is requested, when the loop ends, or when it is left by break/throw
 * (iterators' return()). So `for (const batch of loader) { ... }` keeps
 * memoryStats() flat with or without tidy. To hold a batch tensor longer,
 * `sg.keep()` it (then it is yours to dispose). The sources are never freed by the loader.
 */
export class DataLoader<S extends Sources = Sources, B = BatchOf<S>> implements Iterable<B> {
  /** Number of samples in every source. */
  readonly samples: number;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  private readonly seed: number | undefined;
  private readonly columns: Column[];
  private readonly shape: 'single' | 'array' | 'record';
  private readonly transform: ((batch: BatchOf<S>) => B) | undefined;
  private nextEpoch = 0;

  constructor(sources: S, options: DataLoaderOptions<S, B> = {}) {
    const o = readOptions<DataLoaderOptions<S, B>>(options, 'DataLoader');
    for (const k of Object.keys(o)) {
      if (!OPTION_NAMES.includes(k)) throw new Error(`DataLoader: unknown option "${k}" (known: ${OPTION_NAMES.join(', ')})`);
    }
    this.batchSize = checkNumber(o.batchSize ?? 32, 'DataLoader', 'batchSize', { integer: true, min: 1 });
    this.shuffle = boolOption(o.shuffle, 'DataLoader', 'shuffle');
    this.dropLast = boolOption(o.dropLast, 'DataLoader', 'dropLast');
    if (o.seed !== undefined) checkNumber(o.seed, 'DataLoader', 'seed', { integer: true, min: 0, max: 2 ** 32 - 1 });
    if (o.seed !== undefined && !this.shuffle) throw new Error('DataLoader: seed is only used with shuffle: true (add shuffle: true, or drop the seed)');
    this.seed = o.seed;
    if (o.transform !== undefined && typeof o.transform !== 'function') {
      throw new Error(`DataLoader: transform must be a function (batch) => batch, got ${describe(o.transform)}`);
    }
    this.transform = o.transform;

    let named: [string, unknown][];
    if (isSource(sources)) {
      this.shape = 'single';
      named = [['sources', sources]];
    } else if (Array.isArray(sources)) {
      this.shape = 'array';
      named = sources.map((s, i) => [`sources[${i}]`, s]);
    } else if (sources !== null && typeof sources === 'object' && Object.getPrototypeOf(sources) === Object.prototype) {
      this.shape = 'record';
      named = Object.entries(sources).map(([k, s]) => [`sources.${k}`, s]);
    } else {
      throw new Error(`DataLoader: sources must be a tensor, a typed array, { data, shape }, or an array or object of those, got ${describe(sources)}`);
    }
    if (named.length === 0) throw new Error('DataLoader: sources must hold at least one source');
    const dtypes = this.dtypeList(o.dtypes, named.length, sources);
    this.columns = named.map(([name, s], i) => column(name, s, dtypes[i]));
    const counts = this.columns.map((c) => c.source.shape[0]);
    counts.forEach((n, i) => {
      if (n !== counts[0]) throw new Error(`DataLoader: ${this.columns[i].name} has ${n} samples but ${this.columns[0].name} has ${counts[0]} (sources must be aligned along axis 0)`);
    });
    this.samples = counts[0];
  }

  /** Batches per epoch. */
  get length(): number {
    return this.dropLast ? Math.floor(this.samples / this.batchSize) : Math.ceil(this.samples / this.batchSize);
  }

  /** The epoch the next iteration will run (0-based; each iteration advances it). Set it to resume a run. */
  get epoch(): number {
    return this.nextEpoch;
  }

  set epoch(value: number) {
    this.nextEpoch = checkNumber(value, 'DataLoader', 'epoch', { integer: true, min: 0 });
  }

  /**
   * Sample order of an epoch: 0..n-1 without shuffle. With shuffle, a Fisher-Yates shuffle in
   * 32-bit integer arithmetic (the same in every runtime): xorshift32 started from
   * k · 2654435761 mod 2^32 (1 if that is 0), swapping i with j = r mod (i + 1) for i = n-1 .. 1
   * (bias below n / 2^32), where k = 7919 · seed + epoch + 1. Without a seed, k is one draw of
   * the default generator per call, so calling it advances that generator.
   */
  order(epoch: number = this.nextEpoch): Int32Array {
    checkNumber(epoch, 'DataLoader', 'epoch', { integer: true, min: 0 });
    const n = this.samples;
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    if (!this.shuffle) return order;
    const k = this.seed === undefined ? tidy(() => randint([1], 0, 2 ** 31 - 1).item()) : 7919 * this.seed + epoch + 1;
    shuffleInPlace(order, k);
    return order;
  }

  [Symbol.iterator](): Iterator<B> {
    const epoch = this.nextEpoch++;
    const order = this.order(epoch);
    const count = this.length;
    let index = 0;
    let live: Tensor[] = [];
    const release = (): void => {
      for (const t of live) if (!t.kept) t.dispose();
      live = [];
    };
    return {
      next: (): IteratorResult<B> => {
        release();
        if (index >= count) return { done: true, value: undefined };
        const start = index * this.batchSize;
        const rows = order.subarray(start, Math.min(start + this.batchSize, this.samples));
        index++;
        const { batch, made } = this.makeBatch(rows);
        live = made;
        return { done: false, value: batch };
      },
      return: (): IteratorResult<B> => {
        release();
        index = count;
        return { done: true, value: undefined };
      },
    };
  }

  /** The batch of samples `rows` (indices into the sources), converted and transformed. Its tensors are the caller's. */
  batchOf(rows: ArrayLike<number>): B {
    const idx = Int32Array.from(rows as ArrayLike<number>);
    idx.forEach((r, i) => {
      if (!(r >= 0 && r < this.samples) || rows[i] !== r) throw new Error(`DataLoader: rows[${i}] = ${rows[i]} is not a sample index in [0, ${this.samples})`);
    });
    return this.makeBatch(idx).batch;
  }

  /** The batch, and the tensors in it made for it (not sources or other tensors a transform passes through). */
  private makeBatch(rows: Int32Array): { batch: B; made: Tensor[] } {
    // Tensor ids only grow: everything made for this batch has an id >= the first column's.
    let firstId = Infinity;
    const batch = tidy(() => noGrad(() => {
      const cols = this.columns.map((c) => take(c, rows));
      for (const t of cols) firstId = Math.min(firstId, t.id);
      let batch: unknown;
      if (this.shape === 'single') batch = cols[0];
      else if (this.shape === 'array') batch = cols;
      else batch = Object.fromEntries(this.columns.map((c, i) => [c.name.slice('sources.'.length), cols[i]]));
      return this.transform ? this.transform(batch as BatchOf<S>) : (batch as B);
    }));
    return { batch, made: collectTensors(batch).filter((t) => t.id >= firstId) };
  }

  private dtypeList(dtypes: unknown, count: number, sources: unknown): (DType | undefined)[] {
    if (dtypes === undefined) return new Array(count).fill(undefined);
    const check = (d: unknown, where: string): DType | undefined => {
      if (d === undefined) return undefined;
      if (!isDType(d)) throw new Error(`DataLoader: ${where} must be one of float32, int32, int8, uint8, got ${describe(d)}`);
      return d;
    };
    if (this.shape === 'single') {
      if (typeof dtypes !== 'string') throw new Error(`DataLoader: dtypes must be a dtype string for a single source (e.g. 'float32'), got ${describe(dtypes)}`);
      return [check(dtypes, 'dtypes')];
    }
    if (this.shape === 'array') {
      if (!Array.isArray(dtypes) || dtypes.length > count) throw new Error(`DataLoader: dtypes must be an array of at most ${count} dtypes (one per source), got ${describe(dtypes)}`);
      return Array.from({ length: count }, (_, i) => check(dtypes[i], `dtypes[${i}]`));
    }
    if (typeof dtypes !== 'object' || dtypes === null || Array.isArray(dtypes)) {
      throw new Error(`DataLoader: dtypes must be an object keyed like the sources (e.g. { x: 'float32', y: 'int32' }), got ${describe(dtypes)}`);
    }
    const names = Object.keys(sources as object);
    for (const k of Object.keys(dtypes)) {
      if (!names.includes(k)) throw new Error(`DataLoader: dtypes.${k} names no source (sources: ${names.join(', ')})`);
    }
    return names.map((k) => check((dtypes as Record<string, unknown>)[k], `dtypes.${k}`));
  }
}

function isTypedSource(x: unknown): x is SourceArray {
  return x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array || x instanceof Int8Array || x instanceof Uint8Array || x instanceof Uint8ClampedArray;
}

function isSource(x: unknown): x is Source {
  if (x instanceof Tensor || isTypedSource(x)) return true;
  return x !== null && typeof x === 'object' && !Array.isArray(x) && isTypedSource((x as { data?: unknown }).data) && Array.isArray((x as { shape?: unknown }).shape);
}

function nativeDType(a: SourceArray): DType {
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array || a instanceof Uint8ClampedArray) return 'uint8';
  return 'float32';
}

/** Conversions `cast` offers: anything to float32; float32, uint8 and int8 to int32. */
function canConvert(from: DType, to: DType): boolean {
  return from === to || to === 'float32' || (to === 'int32' && from !== 'int32');
}

function column(name: string, s: unknown, target: DType | undefined): Column {
  let source: Column['source'];
  let native: DType;
  if (s instanceof Tensor) {
    if (s.disposed) throw new Error(`DataLoader: ${name} (tensor #${s.id}) was disposed and cannot be used`);
    if (s.rank === 0) throw new Error(`DataLoader: ${name} must have a sample axis (axis 0), got a scalar tensor`);
    source = s;
    native = s.dtype;
  } else if (isTypedSource(s)) {
    source = { data: s, shape: [s.length] };
    native = nativeDType(s);
  } else if (s !== null && typeof s === 'object' && 'data' in s && 'shape' in s) {
    const { data, shape } = s as { data: unknown; shape: unknown };
    if (!isTypedSource(data)) throw new Error(`DataLoader: ${name}.data must be a typed array (Float32Array, Float64Array, Int32Array, Int8Array, Uint8Array), got ${describe(data)}`);
    if (!Array.isArray(shape) || shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`DataLoader: ${name}.shape must be a non-empty array of non-negative integers [samples, ...], got ${describe(shape)}`);
    }
    if (sizeOf(shape) !== data.length) throw new Error(`DataLoader: ${name}.shape [${shape}] needs ${sizeOf(shape)} values, but ${name}.data has ${data.length}`);
    source = { data, shape: shape.slice() };
    native = nativeDType(data);
  } else {
    throw new Error(`DataLoader: ${name} must be a tensor, a typed array or { data, shape }, got ${describe(s)}`);
  }
  const to = target ?? native;
  if (!canConvert(native, to)) {
    throw new Error(`DataLoader: cannot convert ${name} from ${native} to ${to} (supported: any dtype to float32; float32, uint8 and int8 to int32)`);
  }
  return { name, source, native, target: to };
}

/** Rows `rows` of one source as a tensor of the column's target dtype. */
function take(c: Column, rows: Int32Array): Tensor {
  let t: Tensor;
  if (c.source instanceof Tensor) {
    if (c.source.disposed) throw new Error(`DataLoader: ${c.name} (tensor #${c.source.id}) was disposed while the loader still uses it`);
    t = gather(c.source, tensor(rows, [rows.length], { dtype: 'int32' }));
  } else {
    const { data, shape } = c.source;
    const rowLen = sizeOf(shape.slice(1));
    const Ctor = data.constructor as new (n: number) => SourceArray;
    const out = new Ctor(rows.length * rowLen);
    for (let i = 0; i < rows.length; i++) out.set(data.subarray(rows[i] * rowLen, (rows[i] + 1) * rowLen), i * rowLen);
    t = tensor(out, [rows.length, ...shape.slice(1)], { dtype: c.native });
  }
  return c.target === t.dtype ? t : cast(t, c.target);
}

/** Fisher-Yates driven by xorshift32 (13, 17, 5), in exact integer arithmetic. */
function shuffleInPlace(order: Int32Array, key: number): void {
  let s = Math.imul(key >>> 0, 2654435761) >>> 0 || 1;
  for (let i = order.length - 1; i > 0; i--) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const j = s % (i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

/** The tensors in a batch (a tensor, or arrays/plain objects of them, as tidy() sees them). */
function collectTensors(value: unknown, out: Tensor[] = [], depth = 0): Tensor[] {
  if (value instanceof Tensor) out.push(value);
  else if (depth < 5 && Array.isArray(value)) for (const v of value) collectTensors(v, out, depth + 1);
  else if (depth < 5 && value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, out, depth + 1);
  }
  return out;
}
